"""Detection metrics against independent references: pycocotools' COCOeval (a fixture regenerated
by tests/fixtures/make_coco_fixture.py), scikit-learn's step AP, and the VOC formulas evaluated
independently in float64."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from lossbook._lazy import lazy

import lossbook
from lossbook import (
    box_iou,
    detection_average_precision,
    interpolated_average_precision,
    match_detections,
)

skm = lazy("sklearn.metrics")

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "coco_ap.json").read_text())
COCO_THRESHOLDS = np.linspace(0.5, 0.95, 10).tolist()  # pycocotools' iouThrs


def _case(case):
    boxes = lambda k: torch.tensor(case[k], dtype=torch.float32).reshape(-1, 4)  # noqa: E731
    ids = lambda k: torch.tensor(case[k], dtype=torch.long)  # noqa: E731
    args = (boxes("pred_boxes"), torch.tensor(case["scores"], dtype=torch.float32), boxes("gt_boxes"))
    kwargs = dict(pred_images=ids("pred_images"), gt_images=ids("gt_images"),
                  pred_labels=ids("pred_labels"), gt_labels=ids("gt_labels"))
    return args, kwargs


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_equals_pycocotools(name):
    case = FIXTURE["cases"][name]
    args, kwargs = _case(case)
    ours = [
        detection_average_precision(*args, **kwargs, iou_thresholds=COCO_THRESHOLDS).item(),
        detection_average_precision(*args, **kwargs, iou_thresholds=0.5).item(),
        detection_average_precision(*args, **kwargs, iou_thresholds=0.75).item(),
    ]
    np.testing.assert_allclose(ours, case["coco_stats"], rtol=0, atol=1e-12)


def test_fixture_exercises_the_detection_cap():
    """The crowded case has more than 100 detections in one image: keeping all of them changes
    AP, so the fixture checks COCO's per-image cap."""
    case = FIXTURE["cases"]["crowded image (over 100 detections)"]
    assert len(case["scores"]) > 100
    args, kwargs = _case(case)
    capped = detection_average_precision(*args, **kwargs, iou_thresholds=COCO_THRESHOLDS)
    uncapped = detection_average_precision(*args, **kwargs, iou_thresholds=COCO_THRESHOLDS,
                                           max_detections=None)
    assert capped.item() == pytest.approx(case["coco_stats"][0], abs=1e-12)
    assert uncapped.item() != pytest.approx(capped.item(), abs=1e-6)


def _iou_reference(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a.tolist()):
        for j, q in enumerate(b.tolist()):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - iw * ih
            out[i, j] = iw * ih / union if union > 0 else 0.0
    return out


def _random_boxes(g, n):
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 10
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 5
    return torch.cat([xy, xy + wh], dim=1)


def test_box_iou_equals_formula():
    g = torch.Generator().manual_seed(0)
    a, b = _random_boxes(g, 7), _random_boxes(g, 5)
    np.testing.assert_allclose(box_iou(a, b).numpy(), _iou_reference(a, b), rtol=1e-12, atol=0)
    np.testing.assert_allclose(box_iou(a, a).diagonal().numpy(), 1.0)
    assert torch.equal(box_iou(a, b), box_iou(b, a).T)


def test_box_iou_degenerate():
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert box_iou(point, point).item() == 0.0  # empty union: 0, not NaN
    assert box_iou(torch.zeros(0, 4), point).shape == (0, 1)


def test_matching_duplicates_and_order():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    dets = torch.tensor([[0.0, 0.0, 10.0, 9.0],  # IoU 0.9 with gt 0
                         [0.0, 0.0, 10.0, 10.0],  # IoU 1 with gt 0, higher score
                         [21.0, 0.0, 30.0, 10.0],  # IoU 0.9 with gt 1
                         [40.0, 0.0, 50.0, 10.0]])  # background
    match = match_detections(dets, torch.tensor([0.8, 0.9, 0.3, 0.95]), gt)
    assert match.tolist() == [-1, 0, 1, -1]
    # a detection takes the free ground truth of highest IoU, not the first one above threshold
    both = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    assert match_detections(torch.tensor([[1.0, 0.0, 11.0, 10.0]]), torch.tensor([1.0]), both).tolist() == [1]
    # the threshold is inclusive (pycocotools: IoU >= t)
    half = torch.tensor([[0.0, 0.0, 10.0, 5.0]])
    assert match_detections(half, torch.tensor([1.0]), gt[:1], iou_threshold=0.5).tolist() == [0]
    assert match_detections(half, torch.tensor([1.0]), gt[:1], iou_threshold=0.51).tolist() == [-1]


def _voc_all_point(precision, recall):
    """VOC 2010+: sentinels (0, 0) and (1, 0), envelope from the right, sum where recall moves."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    moves = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[moves + 1] - r[moves]) * p[moves + 1]))


def _voc_11_point(precision, recall):
    total = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        reached = recall >= t
        total += precision[reached].max() if reached.any() else 0.0
    return total / 11


def _ranked(g, n, n_gt):
    hits = torch.rand(n, generator=g) < 0.6
    tp = torch.cumsum(hits, 0).double()
    tp = tp.clamp_max(n_gt)
    return tp / torch.arange(1, n + 1), tp / n_gt


@pytest.mark.parametrize("seed", range(5))
def test_interpolations_equal_the_voc_formulas(seed):
    g = torch.Generator().manual_seed(seed)
    precision, recall = _ranked(g, 30, 25)
    p, r = precision.numpy(), recall.numpy()
    ours = lambda m: interpolated_average_precision(precision, recall, method=m).item()  # noqa: E731
    assert ours("all_point") == pytest.approx(_voc_all_point(p, r), abs=1e-12)
    assert ours("voc2007") == pytest.approx(_voc_11_point(p, r), abs=1e-12)
    step = float(np.sum(np.diff(np.concatenate([[0.0], r])) * p))
    assert ours("step") == pytest.approx(step, abs=1e-12)
    assert ours("all_point") >= ours("step") - 1e-12  # the envelope only raises precision


def test_step_equals_sklearn():
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(200, generator=g)
    target = (torch.rand(200, generator=g) < torch.sigmoid(2 * scores)).long()
    scores = torch.round(scores * 4) / 4  # ties: one threshold each, as scikit-learn groups them
    precision, recall, _ = lossbook.precision_recall_curve(scores, target)
    ours = interpolated_average_precision(precision, recall, method="step").item()
    assert ours == pytest.approx(skm.average_precision_score(target.numpy(), scores.numpy()), abs=1e-12)


def test_coco_levels_are_numpy_linspace_values():
    """35 of 100 objects found gives recall 0.35, short of COCO's level 35 * 0.01 =
    0.35000000000000003: that level reads the next point, as pycocotools' searchsorted does."""
    recall = torch.tensor([0.35, 0.36], dtype=torch.float64)
    precision = torch.tensor([1.0, 0.5], dtype=torch.float64)
    levels = np.linspace(0, 1, 101)
    expected = np.mean([1.0 if t <= 0.35 else (0.5 if t <= 0.36 else 0.0) for t in levels])
    assert interpolated_average_precision(precision, recall, method="coco").item() == pytest.approx(expected, abs=1e-15)
    assert 0.35 < levels[35]
    assert expected != np.mean([1.0 if t <= 0.36 else 0.0 for t in np.arange(101) / 100])


def test_nothing_detected_is_zero():
    gt = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    empty = torch.zeros(0, 4)
    for method in ("coco", "all_point", "voc2007", "step"):
        assert detection_average_precision(empty, torch.zeros(0), gt, method=method).item() == 0.0


def test_perfect_detections_score_one_at_every_threshold():
    g = torch.Generator().manual_seed(1)
    gt = _random_boxes(g, 6).float()
    scores = torch.rand(6, generator=g)
    ap = detection_average_precision(gt, scores, gt, iou_thresholds=COCO_THRESHOLDS)
    assert ap.item() == 1.0


def test_classes_without_ground_truth_are_skipped():
    gt = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    dets = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    ap = detection_average_precision(dets, torch.tensor([0.9, 0.8]), gt,
                                     pred_labels=torch.tensor([0, 1]), gt_labels=torch.tensor([0]))
    assert ap.item() == 1.0  # class 1 has detections but no object: not part of the mean


def test_a_duplicate_costs_precision_not_recall():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    dets = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 12.0]])
    ap = detection_average_precision(dets, torch.tensor([0.9, 0.8, 0.7]), gt, method="all_point")
    assert ap.item() == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3, abs=1e-12)
    # ranked below the second hit, the duplicate costs nothing
    ap = detection_average_precision(dets, torch.tensor([0.9, 0.6, 0.7]), gt, method="all_point")
    assert ap.item() == 1.0
    assert math.isfinite(ap.item())


# ------------------------------------------------------------------------------ Waymo (motion) mAP


def _waymo_map(scores, matched, types, soft):
    """waymo-open-dataset's motion_metrics.cc (commit 99a4cb3), re-expressed in plain Python:
    ComputeMeanAveragePrecision (per object), SortSamples, ComputePrCurve, the backward area loop,
    and ComputeMapMetric (mean over non-empty buckets)."""
    buckets = {}
    for conf_row, match_row, t in zip(scores.tolist(), matched.tolist(), types.tolist()):
        t = 7 if t == 6 else t  # right U-turns binned with right turns
        samples, count = buckets.setdefault(t, ([], [0]))
        found = False
        for k in sorted(range(len(conf_row)), key=lambda i: -conf_row[i]):
            is_match = match_row[k]
            if not soft:
                samples.append((conf_row[k], False if found else is_match))
            elif not (is_match and found):
                samples.append((conf_row[k], is_match))
            found = found or is_match
        count[0] += 1
    total, n = 0.0, 0
    for samples, count in buckets.values():
        if not samples:
            continue
        samples.sort(key=lambda x: (-x[0], x[1]))
        tp, curve = 0, []
        for i, (_, positive) in enumerate(samples):
            tp += positive
            curve.append((tp / (i + 1), tp / count[0]))
        highest = curve[-1]
        area = 0.0
        for p, r in reversed(curve):
            if p > highest[0]:
                area += highest[0] * (highest[1] - r)
                highest = (p, r)
        total += area + highest[1] * highest[0]
        n += 1
    return total / n


def test_soft_map_skips_a_second_matching_mode():
    scores = torch.tensor([[0.6, 0.5, 0.1], [0.4, 0.3, 0.2]])
    matched = torch.tensor([[True, True, False], [True, False, False]])
    types = torch.tensor([1, 1])
    hard = lossbook.motion_average_precision(scores, matched, types)
    soft = lossbook.motion_average_precision(scores, matched, types, soft=True)
    # mAP ranks: hit 0.6, duplicate 0.5 (false positive), hit 0.4: 1/2 * 1 + 1/2 * 2/3
    assert hard.item() == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-12)
    assert soft.item() == pytest.approx(1.0, abs=1e-12)


def test_buckets_are_averaged_and_right_u_turns_join_right_turns():
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    matched = torch.tensor([[True, False], [False, False], [False, True]])
    # stationary alone: AP 1; right U-turn (6) and right turn (7) share a bucket of two objects
    types = torch.tensor([0, 6, 7])
    ap = lossbook.motion_average_precision(scores, matched, types).item()
    assert ap == pytest.approx(_waymo_map(scores, matched, types, soft=False), abs=1e-12)
    separate = lossbook.motion_average_precision(scores, matched, torch.tensor([0, 5, 7])).item()
    assert ap != pytest.approx(separate, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("soft", [False, True])
def test_motion_map_equals_waymo_loop(seed, soft):
    g = torch.Generator().manual_seed(seed)
    scores = torch.softmax(torch.randn(40, 6, generator=g, dtype=torch.float64), dim=1)
    scores = torch.round(scores * 20) / 20  # ties, false positives first
    matched = torch.rand(40, 6, generator=g) < 0.25
    types = torch.randint(0, 8, (40,), generator=g)
    ours = lossbook.motion_average_precision(scores, matched, types, soft=soft).item()
    assert ours == pytest.approx(_waymo_map(scores, matched, types, soft), abs=1e-12)
    if soft:  # skipping duplicates can only raise AP
        assert ours >= lossbook.motion_average_precision(scores, matched, types).item() - 1e-12


# ------------------------------------------------------------------------------ Waymo overlap rate


def _corners(x, y, length, width, heading):
    """A box's corners counter-clockwise (front-left first), written out with math."""
    c, s = math.cos(heading), math.sin(heading)
    half = ((length / 2, width / 2), (-length / 2, width / 2), (-length / 2, -width / 2),
            (length / 2, -width / 2))
    return [(x + c * u - s * v, y + s * u + c * v) for u, v in half]


def _intersection_area(subject, clipper):
    """Area of two convex polygons' intersection: the subject cut by each half-plane on the left
    of the clipper's (counter-clockwise) edges, then the shoelace formula."""
    poly = list(subject)
    for (ax, ay), (bx, by) in zip(clipper, clipper[1:] + clipper[:1]):
        side = [(bx - ax) * (py - ay) - (by - ay) * (px - ax) for px, py in poly]
        cut = []
        for i, (p, q) in enumerate(zip(poly, poly[1:] + poly[:1])):
            j = (i + 1) % len(poly)
            if side[i] >= 0:
                cut.append(p)
            if (side[i] >= 0) != (side[j] >= 0):  # the edge crosses the line
                t = side[i] / (side[i] - side[j])
                cut.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        poly = cut
        if not poly:
            return 0.0
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1])))


def _waymo_overlap_rate(pred, scores, object_index, boxes, valid, measurement_step):
    """waymo-open-dataset's ComputeOverlapRate and PredictionToPolygon (motion_metrics.cc,
    motion_metrics_utils.cc, commit 99a4cb3) re-expressed as plain loops, per object: 1.0 if the
    most confident trajectory's box has positive intersection area with another object's logged
    box at any step up to the measurement step (that object valid then and at the prediction
    time), else 0.0. Prediction step t is boxes' step t + 1 (index 0: the prediction time)."""
    pred, scores, boxes, valid = pred.tolist(), scores.tolist(), boxes.tolist(), valid.tolist()
    result = []
    for b, own in enumerate(object_index.tolist()):
        path = pred[b][scores[b].index(max(scores[b]))]  # std::max_element: the first maximum
        angle = lambda i, j: math.atan2(path[j][1] - path[i][1], path[j][0] - path[i][0])  # noqa: E731
        overlap = 0.0
        for t in range(measurement_step + 1):
            if t == 0:
                heading = angle(0, 1)
            elif t == len(path) - 1:
                heading = angle(t - 1, t)
            else:  # AverageAngle(next - current, current - previous)
                a1, a2 = angle(t, t + 1), angle(t - 1, t)
                heading = math.atan2(math.sin(a1) + math.sin(a2), math.cos(a1) + math.cos(a2))
            length, width = boxes[own][t + 1][2:4]
            mine = _corners(*path[t], length, width, heading)
            for a in range(len(boxes)):
                if a == own or not valid[a][0] or not valid[a][t + 1]:
                    continue
                if _intersection_area(mine, _corners(*boxes[a][t + 1])) > 1e-9:
                    overlap = 1.0
        result.append(overlap)
    return result


def _overlap_scene(seed, n_objects=5, n_steps=4, n_modes=3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    u = lambda *shape: torch.rand(*shape, generator=g, dtype=dtype)  # noqa: E731
    start = 14 * u(n_objects, 1, 2)
    velocity = 2 * u(n_objects, 1, 2) - 1
    centres = start + velocity * torch.arange(n_steps + 1, dtype=dtype)[:, None]
    size = torch.stack([2 + 3 * u(n_objects), 1 + u(n_objects)], -1)[:, None] + u(n_objects, n_steps + 1, 2)
    heading = 6.3 * u(n_objects, n_steps + 1, 1)
    boxes = torch.cat([centres, size, heading], -1)
    valid = torch.rand(n_objects, n_steps + 1, generator=g) < 0.8
    object_index = torch.randperm(n_objects, generator=g)[:3]
    pred = centres[object_index, None, 1:] + 2.5 * torch.randn(3, n_modes, n_steps, 2, generator=g, dtype=dtype)
    return pred, u(3, n_modes), object_index, boxes, valid


def test_overlap_rate_equals_waymo_loop():
    seen = set()
    for seed in range(8):
        scene = _overlap_scene(seed)
        for m in (1, 3):  # m = 1: the heading at the measurement step still looks one step ahead
            ours = lossbook.overlap_rate(*scene, measurement_step=m, reduction="none")
            expected = _waymo_overlap_rate(*scene, measurement_step=m)
            assert ours.tolist() == expected, (seed, m)
            seen.update(expected)
    assert seen == {0.0, 1.0}  # the scenes exercise both outcomes
    pred, scores, index, boxes, valid = _overlap_scene(3, dtype=torch.float32)
    rate = lossbook.overlap_rate(pred, scores, index, boxes, valid)
    expected = _waymo_overlap_rate(pred, scores, index, boxes, valid, 3)
    assert rate.dtype == torch.float32 and rate.item() == pytest.approx(sum(expected) / 3, abs=1e-7)


def _two_objects(path, other, *, own_size=(4.0, 2.0), valid=None):
    """Object 0 predicted along ``path`` (one mode), object 1 logged at ``other`` every step."""
    path = torch.tensor(path, dtype=torch.float64)[None, None]  # [1, 1, T, 2]
    n = path.shape[2] + 1
    own = torch.tensor([0.0, 0.0, *own_size, 0.0], dtype=torch.float64).expand(n, 5)
    boxes = torch.stack([own, torch.tensor(other, dtype=torch.float64).expand(n, 5)])
    valid = torch.ones(2, n, dtype=torch.bool) if valid is None else torch.tensor(valid)
    return path, torch.ones(1, 1), torch.tensor([0]), boxes, valid


def _rate(scene, **kwargs):
    ours = lossbook.overlap_rate(*scene, **kwargs).item()
    step = kwargs.get("measurement_step", scene[0].shape[2] - 1)
    assert ours == _waymo_overlap_rate(*scene, step)[0]
    return ours


def test_overlap_rate_hand_made_cases():
    parked = [10.0, 0.0, 4.0, 2.0, 0.0]  # x in [8, 12], y in [-1, 1]
    # touching end to end is no overlap (zero area); 5 cm further is one
    assert _rate(_two_objects([[5.0, 0.0], [6.0, 0.0]], parked)) == 0.0
    assert _rate(_two_objects([[5.0, 0.0], [6.05, 0.0]], parked)) == 1.0
    # rotated near miss: a 2 x 2 box heading 45 degrees (from its path) off the corner (12, 1):
    # the bounding rectangles overlap, the boxes miss by (2d - sqrt 2) / sqrt 2; closer, they overlap
    for d, expected in ((0.8, 0.0), (0.6, 1.0)):
        path = [[12.0 + d, 1.0 + d], [13.0 + d, 2.0 + d]]
        assert _rate(_two_objects(path, parked, own_size=(2.0, 2.0))) == expected
    # the heading comes from the path, not from the logged heading (0): driving along y, a
    # 4 x 2 box reaches x = +-1 only, and misses a box 1.5 m to its side
    beside = [2.5, 0.0, 2.0, 2.0, 0.0]  # x in [1.5, 3.5]
    assert _rate(_two_objects([[0.0, 0.0], [0.0, 1.0]], beside)) == 0.0
    assert _rate(_two_objects([[0.0, 0.0], [1.0, 0.0]], beside)) == 1.0
    # an overlap at a step where the other object is invalid does not count; nor does one with an
    # object that was invalid at the prediction time (index 0), even if it is valid later
    crash = [[5.0, 0.0], [9.0, 0.0]]  # overlaps at the second step only
    assert _rate(_two_objects(crash, parked, valid=[[True] * 3, [True, True, False]])) == 0.0
    assert _rate(_two_objects(crash, parked, valid=[[True] * 3, [False, True, True]])) == 0.0
    assert _rate(_two_objects(crash, parked, valid=[[False] * 3, [True] * 3])) == 1.0  # own validity
    # an overlap after the measurement step does not count
    assert _rate(_two_objects(crash, parked), measurement_step=0) == 0.0
    assert _rate(_two_objects(crash, parked), measurement_step=1) == 1.0
    # a box of zero length or width has zero area, so zero intersection area (Waymo's `> 0`),
    # even lying inside the other box: the object's own (say an invalid step logged as 0 x 0) or
    # the other's (a zero-width segment across the predicted box)
    inside = [[9.0, 0.0], [10.0, 0.0]]
    assert _rate(_two_objects(inside, parked, own_size=(0.0, 0.0))) == 0.0
    assert _rate(_two_objects(inside, parked, own_size=(3.0, 0.0))) == 0.0
    assert _rate(_two_objects(inside, [10.0, 0.0, 6.0, 0.0, 0.5])) == 0.0
    assert _rate(_two_objects(inside, [10.0, 0.0, 6.0, 0.1, 0.5])) == 1.0


def test_overlap_rate_uses_the_most_confident_mode_and_not_itself():
    parked = torch.tensor([10.0, 0.0, 4.0, 2.0, 0.0], dtype=torch.float64)
    boxes = torch.stack([torch.zeros(3, 5, dtype=torch.float64) + torch.tensor([0, 0, 4.0, 2.0, 0]),
                         parked.expand(3, 5)])
    valid = torch.ones(2, 3, dtype=torch.bool)
    modes = torch.tensor([[[[0.0, 0.0], [1.0, 0.0]], [[8.0, 0.0], [9.0, 0.0]]]], dtype=torch.float64)
    rate = lambda s: lossbook.overlap_rate(modes, torch.tensor([s]), torch.tensor([0]), boxes, valid)  # noqa: E731
    assert rate([0.6, 0.4]).item() == 0.0  # mode 0 stays on its own logged box: not an overlap
    assert rate([0.4, 0.6]).item() == 1.0
    assert rate([0.5, 0.5]).item() == 0.0  # a tie: the first mode, as std::max_element
    # both objects predicted with the same two modes: object 1's favourite, mode 1, lies on its
    # own logged box (not counted) and far from object 0's
    args = (modes.expand(2, -1, -1, -1), torch.tensor([[0.4, 0.6], [0.4, 0.6]]), torch.tensor([0, 1]),
            boxes, valid)
    assert lossbook.overlap_rate(*args, reduction="none").tolist() == [1.0, 0.0]
    assert lossbook.overlap_rate(*args, reduction="sum").item() == 1.0
    assert lossbook.overlap_rate(*args).item() == 0.5

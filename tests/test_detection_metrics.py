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
from sklearn.metrics import average_precision_score

import lossbook
from lossbook import (
    box_iou,
    detection_average_precision,
    interpolated_average_precision,
    match_detections,
)

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
    assert ours == pytest.approx(average_precision_score(target.numpy(), scores.numpy()), abs=1e-12)


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

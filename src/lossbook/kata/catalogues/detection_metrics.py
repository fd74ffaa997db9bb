"""The katas of the lesson `detection-metrics.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _detection_ap_reference(boxes, scores, gt_boxes, iou_threshold):
    from ... import metrics

    return metrics.detection_average_precision(
        boxes, scores, gt_boxes, iou_thresholds=iou_threshold, method="all_point"
    )


def _all_point_ap(tp: torch.Tensor, n_gt: int) -> torch.Tensor:
    """All-point AP of true-positive flags already in rank order (no validation: a buggy
    matching can push recall past 1, and this is what such code then returns)."""
    hits = tp.to(torch.float64).cumsum(0)
    precision = hits / torch.arange(1, tp.numel() + 1, dtype=torch.float64)
    recall = hits / n_gt
    envelope = precision.flip(0).cummax(0).values.flip(0)
    return (torch.diff(recall, prepend=recall.new_zeros(1)) * envelope).sum()


def _unsorted(boxes, scores, gt_boxes, iou_threshold):
    """Detections matched and ranked in the order they came in."""
    rank = torch.arange(len(scores), 0, -1, dtype=torch.float32)
    return _detection_ap_reference(boxes, rank, gt_boxes, iou_threshold)


def _reused(boxes, scores, gt_boxes, iou_threshold):
    """Every detection above the threshold with any object counts as a hit."""
    from ...metrics import box_iou

    order = torch.argsort(scores, descending=True, stable=True)
    tp = box_iou(boxes[order], gt_boxes).amax(1) >= iou_threshold
    return _all_point_ap(tp, len(gt_boxes))


def _no_envelope(boxes, scores, gt_boxes, iou_threshold):
    from ... import metrics

    return metrics.detection_average_precision(
        boxes, scores, gt_boxes, iou_thresholds=iou_threshold, method="step"
    )


def _scene(g, n_gt, n_det, *, jitter=0.6, far=2):
    xy = torch.rand(n_gt, 2, generator=g) * 40
    gt = torch.cat([xy, xy + 4 + 8 * torch.rand(n_gt, 2, generator=g)], 1)
    pick = torch.randint(0, n_gt, (n_det,), generator=g)
    dets = gt[pick] + jitter * torch.randn(n_det, 4, generator=g)
    dets[:, 2:] = torch.maximum(dets[:, 2:], dets[:, :2] + 0.5)
    if far:
        dets[-far:] += 30.0
    return dets, torch.rand(n_det, generator=g), gt


def _detection_ap_cases() -> list[Case]:
    g = gen(71)
    two = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    return [
        Case("one object, one perfect detection", (two[:1], torch.tensor([0.9]), two[:1], 0.5)),
        Case(
            "a duplicate ranked above the second hit",
            (torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 12.0]]),
             torch.tensor([0.9, 0.8, 0.7]), two, 0.5),
            hint="once an object is matched it is taken: a second detection of it is a false"
            " positive, even with a high IoU.",
        ),
        Case(
            "detections not given in score order",
            (torch.tensor([[40.0, 0.0, 50.0, 10.0], [20.0, 0.0, 30.0, 10.0], [0.0, 0.0, 10.0, 10.0]]),
             torch.tensor([0.2, 0.6, 0.9]), two, 0.5),
            hint="rank the detections by score (highest first) before matching and before"
            " accumulating precision and recall.",
        ),
        Case("random scene: 6 objects, 12 detections (IoU 0.5)", (*_scene(g, 6, 12), 0.5)),
        Case("random scene: 8 objects, 15 detections (IoU 0.75)", (*_scene(g, 8, 15, jitter=0.4), 0.75)),
        Case(
            "a missed object caps the recall",
            (two[:1] + 0.2, torch.tensor([0.5]), two, 0.5),
            hint="recall divides by the number of ground-truth objects, found or not.",
        ),
    ]


register(
    Kata(
        name="detection_ap",
        title="Detection AP of one class in one image",
        signature="detection_ap(boxes, scores, gt_boxes, iou_threshold=0.5)",
        returns="a scalar tensor: the all-point interpolated AP (VOC 2010+)",
        task=(
            "Given one image's detections of one class (boxes x1, y1, x2, y2 and scores) and its"
            " ground-truth boxes, return the average precision at the IoU threshold. Rank the"
            " detections by score; each takes the still-unmatched ground truth of highest IoU if"
            " that IoU is >= the threshold (a true positive), otherwise it is a false positive."
            " Precision after each detection, recall = hits / #objects; AP is the area under the"
            " precision envelope (the max precision at any higher recall)."
        ),
        shapes=("boxes:    [D, 4] float (x1, y1, x2, y2)", "scores:   [D] float",
                "gt_boxes: [G, 4] float, G >= 1", "iou_threshold: float",
                "output:   scalar"),
        hint="Three steps: sort, greedy match with a 'taken' mask over the ground truth, then"
        " precision/recall cumulative sums and a reversed running max.",
        library="lossbook.metrics.detection_average_precision",
        reference=_detection_ap_reference,
        cases=_detection_ap_cases,
        lesson="detection-metrics.md#detection-average-precision",
        imports="import torch",
        mistakes=(
            Mistake("the detections were not sorted by score: match and accumulate them from the"
                    " highest score down (torch.argsort(scores, descending=True)).", _unsorted),
            Mistake("an object was matched more than once: keep a 'taken' mask over the ground"
                    " truth, so a duplicate detection is a false positive.", _reused),
            Mistake("no precision envelope: interpolate, replacing each precision by the maximum"
                    " precision at any later rank (a reversed cummax), as VOC and COCO do.",
                    _no_envelope),
        ),
        rtol=1e-5,
    )
)

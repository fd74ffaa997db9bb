"""Object-detection metrics: box IoU, greedy matching by score, interpolated AP, COCO-style mAP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._checks import check_choice, check_finite, check_number, check_shapes, check_tensor
from ._validation import _check_positive_int

__all__ = [
    "box_iou",
    "detection_average_precision",
    "interpolated_average_precision",
    "match_detections",
]

_METHODS = ("coco", "all_point", "voc2007", "step")


def _check_boxes(name: str, boxes: torch.Tensor) -> None:
    check_tensor(name, boxes, kind="float")
    check_shapes(**{name: (boxes, "N 4")})
    check_finite(name, boxes)
    if boxes.numel() and boxes.device.type != "meta":
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"{name}: expected boxes (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1, box {i} is "
                f"{[round(v, 6) for v in boxes[i].tolist()]}"
            )


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    r"""Intersection over union of every pair of axis-aligned boxes `(x1, y1, x2, y2)`.

    $$\operatorname{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}$$

    The intersection's width is $\max(0, \min(x_2, x_2') - \max(x_1, x_1'))$ (the same for its
    height): disjoint boxes get 0, not a negative area. Coordinates are continuous (no "+1" pixel
    convention, as in pycocotools and torchvision). Computed in float64. Two boxes of zero area
    that do not overlap get IoU 0 (their union is empty).

    Args:
        boxes1: boxes `(x1, y1, x2, y2)` with `x2 >= x1` and `y2 >= y1`.
        boxes2: boxes in the same format.

    Shape:
        - boxes1: `[N, 4]`, float
        - boxes2: `[M, 4]`, float
        - output: `[N, M]`, float64

    Example:
        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        >>> b = torch.tensor([[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
        >>> box_iou(a, b)  # overlap 2 / union 6; disjoint
        tensor([[0.3333, 0.0000]], dtype=torch.float64)
    """
    _check_boxes("boxes1", boxes1)
    _check_boxes("boxes2", boxes2)
    check_shapes(boxes1=(boxes1, "N 4"), boxes2=(boxes2, "M 4"))
    return _iou(boxes1, boxes2)


def _iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    a = boxes1.to(torch.float64)[:, None, :]
    b = boxes2.to(torch.float64)[None, :, :]
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_min(0)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return torch.where(union > 0, inter / union.clamp_min(torch.finfo(torch.float64).tiny), 0.0)


def _check_threshold(name: str, value: object) -> float:
    check_number(name, value)
    value = float(value)  # type: ignore[arg-type]
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name}: expected an IoU threshold in (0, 1], got {value!r}")
    return value


def _greedy_match(iou: np.ndarray, order: np.ndarray, threshold: float) -> np.ndarray:
    """COCO's rule: detections in `order` each take the free ground truth of highest IoU >=
    threshold (a tie goes to the later ground truth, as in pycocotools' loop)."""
    n_det, n_gt = iou.shape
    match = np.full(n_det, -1, dtype=np.int64)
    if n_gt == 0:
        return match
    taken = np.zeros(n_gt, dtype=bool)
    limit = min(threshold, 1 - 1e-10)
    for d in order:
        row = np.where(taken, -np.inf, iou[d])
        best = row.max()
        if best >= limit:
            g = n_gt - 1 - int(np.argmax(row[::-1]))  # the last index reaching the maximum
            match[d] = g
            taken[g] = True
    return match


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Highest score first; equal scores keep their input order (a stable sort)."""
    return np.argsort(-scores, kind="mergesort")


def match_detections(
    pred_boxes: torch.Tensor,
    scores: torch.Tensor,
    gt_boxes: torch.Tensor,
    *,
    iou_threshold: float = 0.5,
) -> torch.Tensor:
    r"""Greedy matching of one image's detections to its ground truth, highest score first.

    Detections are visited by decreasing score (ties in input order); each takes the
    **still unmatched** ground-truth box of highest IoU, if that IoU is at least the threshold:

    $$m(d) = \arg\max_{g \notin \text{taken}} \operatorname{IoU}(d, g) \quad\text{if}\quad
    \max_{g \notin \text{taken}} \operatorname{IoU}(d, g) \ge \tau$$

    A matched detection is a true positive; an unmatched one (including a duplicate of an
    already matched object) is a false positive; an unmatched ground truth is a miss. This is
    pycocotools' `COCOeval.evaluateImg` rule for boxes that are not crowd regions (checked against
    pycocotools 2.0.11), one class at a time.

    Args:
        pred_boxes: detected boxes `(x1, y1, x2, y2)`.
        scores: a confidence per detection.
        gt_boxes: ground-truth boxes `(x1, y1, x2, y2)`.
        iou_threshold: $\tau$ in $(0, 1]$.

    Shape:
        - pred_boxes: `[D, 4]`, float; scores: `[D]`, float
        - gt_boxes: `[G, 4]`, float
        - output: `[D]`, int64: the index of the matched ground truth, or -1

    Example:
        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> dets = torch.tensor([[0.0, 0.0, 10.0, 9.0], [0.0, 0.0, 10.0, 10.0]])
        >>> match_detections(dets, torch.tensor([0.6, 0.9]), gt)  # the higher score wins
        tensor([-1,  0])
    """
    _check_boxes("pred_boxes", pred_boxes)
    _check_boxes("gt_boxes", gt_boxes)
    check_tensor("scores", scores, kind="float")
    check_shapes(pred_boxes=(pred_boxes, "D 4"), scores=(scores, "D"), gt_boxes=(gt_boxes, "G 4"))
    check_finite("scores", scores)
    threshold = _check_threshold("iou_threshold", iou_threshold)
    iou = _iou(pred_boxes, gt_boxes).cpu().numpy()
    order = _score_order(scores.detach().to(torch.float64).cpu().numpy())
    return torch.from_numpy(_greedy_match(iou, order, threshold)).to(pred_boxes.device)


def interpolated_average_precision(
    precision: torch.Tensor, recall: torch.Tensor, *, method: str = "all_point"
) -> torch.Tensor:
    r"""Average precision from the precision-recall points of a ranked list, four conventions.

    The points are taken in rank order (recall non-decreasing). The **precision envelope**
    $p_{\text{interp}}(r) = \max_{r' \ge r} p(r')$ makes the curve monotone; the methods differ
    in where they read it:

    - `"step"`: no envelope, $\sum_n (R_n - R_{n-1}) P_n$ from $R_0 = 0$, scikit-learn's
      `average_precision_score` when the points are its thresholds;
    - `"all_point"` (PASCAL VOC 2010 and later): the area under the envelope,
      $\sum_n (R_n - R_{n-1})\, p_{\text{interp}}(R_n)$;
    - `"voc2007"`: the mean of $p_{\text{interp}}(r)$ at the 11 recalls $0, 0.1, \dots, 1$;
    - `"coco"`: at the 101 recalls $0, 0.01, \dots, 1$, each read at the first point whose
      recall reaches it (pycocotools' `COCOeval.accumulate`).

    A recall level never reached contributes 0, so missed objects lower every variant.

    Args:
        precision: precision after each ranked prediction (or at each threshold).
        recall: recall at the same points, in $[0, 1]$, non-decreasing.
        method: `"all_point"`, `"voc2007"`, `"coco"` or `"step"`.

    Shape:
        - precision, recall: `[N]`, float (`N = 0` gives AP 0: nothing was found)
        - output: scalar, float64

    Example:
        >>> precision = torch.tensor([1.0, 0.5, 2 / 3])  # hit, miss, hit; 2 objects
        >>> recall = torch.tensor([0.5, 0.5, 1.0])
        >>> [round(interpolated_average_precision(precision, recall, method=m).item(), 4)
        ...  for m in ("step", "all_point", "voc2007", "coco")]
        [0.8333, 0.8333, 0.8485, 0.835]
    """
    check_tensor("precision", precision, kind="float")
    check_tensor("recall", recall, kind="float")
    check_shapes(precision=(precision, "N"), recall=(recall, "N"))
    check_choice("method", method, _METHODS)
    check_finite("precision", precision)
    check_finite("recall", recall)
    p = precision.detach().to(torch.float64)
    r = recall.detach().to(torch.float64)
    if p.numel() == 0:
        return torch.zeros((), dtype=torch.float64, device=p.device)
    if p.device.type != "meta":
        for name, x in (("precision", p), ("recall", r)):
            if bool(((x < 0) | (x > 1)).any()):
                raise ValueError(f"{name}: expected values in [0, 1], got {x[(x < 0) | (x > 1)][0].item():.6g}")
        if bool((r[1:] < r[:-1]).any()):
            raise ValueError("recall: expected non-decreasing values (points in rank order), got a"
                             " decrease")
    r_prev = torch.cat([r.new_zeros(1), r[:-1]])
    if method == "step":
        return ((r - r_prev) * p).sum()
    envelope = p.flip(0).cummax(0).values.flip(0)
    if method == "all_point":
        return ((r - r_prev) * envelope).sum()
    levels = 11 if method == "voc2007" else 101
    # i * step in float64, as numpy's linspace (pycocotools) and arange (the VOC 2007 code) make
    # them: the level 0.35 is 35 * 0.01 = 0.35000000000000003, which a recall of 35/100 misses
    grid = torch.arange(levels, dtype=torch.float64, device=p.device) * (1.0 / (levels - 1))
    grid[-1] = 1.0
    # the first point whose recall reaches each level; the envelope there is the max to the right
    index = torch.searchsorted(r.contiguous(), grid, side="left")
    reached = index < r.numel()
    values = torch.where(reached, envelope[index.clamp_max(r.numel() - 1)], 0.0)
    return values.mean()


def _thresholds(value: float | Sequence[float] | torch.Tensor) -> list[float]:
    if isinstance(value, torch.Tensor):
        if value.ndim > 1:
            raise ValueError(f"iou_thresholds: expected a number or a 1-D sequence, got shape "
                             f"{list(value.shape)}")
        value = value.reshape(-1).tolist()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"iou_thresholds: expected a number or a sequence of numbers, got "
                        f"{type(value).__name__}")
    if len(value) == 0:
        raise ValueError("iou_thresholds: expected at least one threshold, got an empty sequence")
    return [_check_threshold("iou_thresholds", t) for t in value]


def _check_ids(name: str, ids: torch.Tensor | None, ref_name: str, ref: torch.Tensor,
               what: str) -> np.ndarray:
    if ids is None:
        return np.zeros(ref.shape[0], dtype=np.int64)
    check_tensor(name, ids, kind="int")
    check_shapes(**{ref_name: (ref, "N *"), name: (ids, "N")})
    values = ids.cpu().numpy().astype(np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"{name}: expected {what} >= 0, got {int(values.min())}")
    return values


def detection_average_precision(
    pred_boxes: torch.Tensor,
    scores: torch.Tensor,
    gt_boxes: torch.Tensor,
    *,
    pred_images: torch.Tensor | None = None,
    gt_images: torch.Tensor | None = None,
    pred_labels: torch.Tensor | None = None,
    gt_labels: torch.Tensor | None = None,
    iou_thresholds: float | Sequence[float] | torch.Tensor = 0.5,
    method: str = "coco",
    max_detections: int | None = 100,
) -> torch.Tensor:
    r"""Detection mean average precision over classes and IoU thresholds (COCO's AP by default).

    For each class $k$ with at least one ground-truth box and each threshold $\tau$: in every
    image, keep the `max_detections` highest-scoring detections of class $k$ and match them
    greedily ([match_detections][lossbook.metrics.match_detections]); pool the
    detections of all images, rank them by score, and turn the true/false-positive flags into
    precision $P_n = TP_n / n$ and recall $R_n = TP_n / G_k$ ($G_k$ ground-truth boxes, so
    objects never detected cap the recall). The AP of the ranked list is read by `method`
    ([interpolated_average_precision][lossbook.metrics.interpolated_average_precision]),
    and

    $$\mathrm{mAP} = \frac{1}{|K|\,|\mathcal T|} \sum_{k \in K} \sum_{\tau \in \mathcal T}
    \mathrm{AP}_k(\tau).$$

    With `iou_thresholds` $= 0.5, 0.55, \dots, 0.95$ and `method="coco"` this is COCO's
    AP@[.5:.95] (pycocotools' `COCOeval` `stats[0]`, area range "all", 100 detections per image
    and class, no crowd regions); with 0.5 it is AP50. Equal scores are ranked by image index
    and then input order, as pycocotools' stable sorts do.

    Args:
        pred_boxes: detected boxes `(x1, y1, x2, y2)`.
        scores: a confidence per detection.
        gt_boxes: ground-truth boxes `(x1, y1, x2, y2)`.
        pred_images: the image index of each detection (default: all in one image).
        gt_images: the image index of each ground-truth box.
        pred_labels: the class of each detection (default: one class).
        gt_labels: the class of each ground-truth box; classes without ground truth are skipped.
        iou_thresholds: one threshold or a sequence; the result averages over them.
        method: `"coco"` (101 recall points), `"all_point"` (VOC 2010+), `"voc2007"` (11
            points) or `"step"` (no interpolation).
        max_detections: detections kept per image and class (`None`: all).

    Shape:
        - pred_boxes: `[D, 4]`; scores, pred_images, pred_labels: `[D]`
        - gt_boxes: `[G, 4]`; gt_images, gt_labels: `[G]`
        - output: scalar, float64

    Example:
        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
        >>> dets = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 12.0]])
        >>> scores = torch.tensor([0.9, 0.8, 0.7])  # hit, duplicate (a false positive), hit
        >>> round(detection_average_precision(dets, scores, gt, method="all_point").item(), 4)
        0.8333
    """
    _check_boxes("pred_boxes", pred_boxes)
    _check_boxes("gt_boxes", gt_boxes)
    check_tensor("scores", scores, kind="float")
    check_shapes(pred_boxes=(pred_boxes, "D 4"), scores=(scores, "D"), gt_boxes=(gt_boxes, "G 4"))
    check_finite("scores", scores)
    for name, ids in (("pred_images", pred_images), ("gt_images", gt_images),
                      ("pred_labels", pred_labels), ("gt_labels", gt_labels)):
        if ids is not None:
            check_tensor(name, ids, kind="int")
            check_shapes(pred_boxes=(pred_boxes, "* 4"), **{name: (ids, "*")})
    if (pred_images is None) != (gt_images is None):
        raise ValueError("pred_images: expected pred_images and gt_images given together, got "
                         f"pred_images={'None' if pred_images is None else 'a tensor'} and "
                         f"gt_images={'None' if gt_images is None else 'a tensor'}")
    if (pred_labels is None) != (gt_labels is None):
        raise ValueError("pred_labels: expected pred_labels and gt_labels given together, got "
                         f"pred_labels={'None' if pred_labels is None else 'a tensor'} and "
                         f"gt_labels={'None' if gt_labels is None else 'a tensor'}")
    thresholds = _thresholds(iou_thresholds)
    check_choice("method", method, _METHODS)
    if max_detections is not None:
        _check_positive_int("max_detections", max_detections)
    p_img = _check_ids("pred_images", pred_images, "pred_boxes", pred_boxes, "image indices")
    g_img = _check_ids("gt_images", gt_images, "gt_boxes", gt_boxes, "image indices")
    p_cls = _check_ids("pred_labels", pred_labels, "pred_boxes", pred_boxes, "class indices")
    g_cls = _check_ids("gt_labels", gt_labels, "gt_boxes", gt_boxes, "class indices")
    if g_cls.size == 0:
        raise ValueError("gt_boxes: expected at least one ground-truth box (AP is undefined "
                         "without objects to find), got shape [0, 4]")
    p_box = pred_boxes.detach().to(torch.float64).cpu()
    g_box = gt_boxes.detach().to(torch.float64).cpu()
    p_score = scores.detach().to(torch.float64).cpu().numpy()
    aps: list[float] = []
    for k in np.unique(g_cls):
        n_gt = int((g_cls == k).sum())
        per_threshold: list[list[tuple[float, bool]]] = [[] for _ in thresholds]
        for image in np.unique(np.concatenate([p_img[p_cls == k], g_img[g_cls == k]])):
            dets = np.flatnonzero((p_cls == k) & (p_img == image))
            dets = dets[_score_order(p_score[dets])][:max_detections]
            if dets.size == 0:
                continue
            gts = np.flatnonzero((g_cls == k) & (g_img == image))
            iou = _iou(p_box[dets], g_box[gts]).numpy()
            order = np.arange(dets.size)  # already by score
            for t, threshold in enumerate(thresholds):
                match = _greedy_match(iou, order, threshold)
                per_threshold[t].extend(zip(p_score[dets].tolist(), (match >= 0).tolist()))
        for ranked in per_threshold:
            s = np.array([x[0] for x in ranked], dtype=np.float64)
            tp = np.array([x[1] for x in ranked], dtype=bool)[_score_order(s)]
            tps = np.cumsum(tp)
            precision = torch.from_numpy(tps / np.arange(1, tp.size + 1))
            recall = torch.from_numpy(tps / n_gt)
            aps.append(float(interpolated_average_precision(precision, recall, method=method)))
    return torch.tensor(float(np.mean(aps)), dtype=torch.float64, device=pred_boxes.device)

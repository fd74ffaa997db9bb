"""Motion-forecasting mAP, Soft mAP and overlap rate, as the Waymo Open Motion Dataset's metrics
compute them."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_finite, check_reduction, check_shapes, check_tensor, has_values, reduce
from ..simulation import box_overlap
from ._validation import _check_nonempty

__all__ = [
    "motion_average_precision",
    "overlap_rate",
]

_N_TYPES = 8  # Waymo's TrajectoryType: STATIONARY .. RIGHT_TURN
_RIGHT_U_TURN, _RIGHT_TURN = 6, 7


def motion_average_precision(
    scores: torch.Tensor,
    matched: torch.Tensor,
    trajectory_type: torch.Tensor,
    *,
    soft: bool = False,
) -> torch.Tensor:
    r"""Waymo's motion-forecasting mAP (or Soft mAP): AP per trajectory-type bucket, averaged.

    Each object has $K$ predicted trajectories with confidences, and each prediction either
    matches the ground truth at the measurement step or not (Waymo's miss-rate thresholds;
    `matched` is that decision). Per object, predictions are visited by decreasing confidence:

    - the **first** matching prediction is a true positive, every non-matching one a false
      positive;
    - a **later** matching prediction (a second mode that also fits) is a false positive for
      mAP, and is **skipped** (neither true nor false positive) for Soft mAP.

    Each object adds 1 to its bucket's count of ground truths. Within a bucket all samples are
    ranked by confidence (false positives first among equal confidences), and AP is the area
    under the precision envelope over all points (VOC 2010+):

    $$\mathrm{mAP} = \frac{1}{|\mathcal B|} \sum_{b \in \mathcal B} \mathrm{AP}_b,$$

    over the buckets $\mathcal B$ that hold samples. Buckets are the trajectory types of the
    ground truth, numbered as Waymo's `TrajectoryType` (0 stationary, 1 straight, 2 straight-left,
    3 straight-right, 4 left U-turn, 5 left turn, 6 right U-turn, 7 right turn); right U-turns are
    counted with right turns. This follows waymo-open-dataset's `ComputeMeanAveragePrecision`
    and `ComputeMapMetric` (motion_metrics.cc, commit 99a4cb3) for single-object predictions.

    Args:
        scores: the confidence of each predicted trajectory (the top $K$ kept).
        matched: whether each prediction matches the ground truth (bool).
        trajectory_type: the bucket of each object, integers in $[0, 7]$.
        soft: Soft mAP (later matches skipped) instead of mAP (later matches false positives).

    Shape:
        - scores, matched: `[B, K]`
        - trajectory_type: `[B]`
        - output: scalar, float64

    Example:
        >>> scores = torch.tensor([[0.6, 0.5, 0.1], [0.4, 0.3, 0.2]])
        >>> matched = torch.tensor([[True, True, False], [True, False, False]])
        >>> types = torch.tensor([1, 1])  # both straight; object 0 has two matching modes
        >>> [round(motion_average_precision(scores, matched, types, soft=s).item(), 4)
        ...  for s in (False, True)]
        [0.8333, 1.0]
    """
    check_tensor("scores", scores, kind="float")
    check_tensor("matched", matched, kind="bool")
    check_tensor("trajectory_type", trajectory_type, kind="int")
    check_shapes(scores=(scores, "B K"), matched=(matched, "B K"), trajectory_type=(trajectory_type, "B"))
    _check_nonempty("scores", scores, "prediction")
    check_finite("scores", scores)
    if not isinstance(soft, bool):
        raise TypeError(f"soft: expected a bool, got {type(soft).__name__}")
    types = trajectory_type.cpu().numpy().astype(np.int64)
    if types.min() < 0 or types.max() >= _N_TYPES:
        bad = types[(types < 0) | (types >= _N_TYPES)][0]
        raise ValueError(f"trajectory_type: expected Waymo TrajectoryType values in [0, 7], got {bad}")
    types = np.where(types == _RIGHT_U_TURN, _RIGHT_TURN, types)
    s = scores.detach().to(torch.float64).cpu().numpy()
    m = matched.cpu().numpy()
    order = np.argsort(-s, axis=1, kind="stable")
    s, m = np.take_along_axis(s, order, 1), np.take_along_axis(m, order, 1)
    first = m & (np.cumsum(m, axis=1) == 1)
    keep = ~(m & ~first) if soft else np.ones_like(m)
    bucket = np.broadcast_to(types[:, None], s.shape)
    aps = []
    for b in np.unique(types):
        sel = keep & (bucket == b)
        conf, tp = s[sel], first[sel]
        rank = np.lexsort((tp, -conf))  # by confidence, false positives first on ties
        hits = np.cumsum(tp[rank])
        precision = hits / np.arange(1, hits.size + 1)
        recall = hits / int((types == b).sum())
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        aps.append(float(np.sum(np.diff(recall, prepend=0.0) * envelope)))
    return torch.tensor(float(np.mean(aps)), dtype=torch.float64, device=scores.device)


def overlap_rate(
    pred: torch.Tensor,
    scores: torch.Tensor,
    object_index: torch.Tensor,
    boxes: torch.Tensor,
    valid: torch.Tensor,
    *,
    measurement_step: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Waymo's overlap rate: how often the most likely predicted future runs into another object.

    For each predicted object $b$, take its highest-scoring trajectory $k^\ast$ (the first one
    among equal scores). At each prediction step $t \le m$ (the measurement step) it is a box:
    centre from the trajectory, heading from the trajectory itself (the direction to the next
    point at the first step, from the previous point at the last, the mean of the two directions
    in between), length and width from the object's logged box at that step. The object
    overlaps when that box intersects with positive area the logged box of another object $a$
    that is valid at the prediction time and at that step:

    $$o_b = \bigvee_{t \le m}\ \bigvee_{a \ne b,\ v_{a,0} \wedge v_{a,t}}
      \mathrm{area}\big(\text{box}_{b,k^\ast,t} \cap \text{box}_{a,t}\big) > 0, \qquad
      \text{overlap rate} = \frac1B \sum_b o_b.$$

    One overlap counts once per object however many steps or objects it hits, and touching
    boxes (zero area) do not overlap ([box_overlap][lossbook.simulation.box_overlap] decides);
    nor does a box of zero length or width (zero area, so zero intersection area, as in Waymo's
    area test), which `box_overlap` alone would count when it lies inside another box.
    This follows waymo-open-dataset's `ComputeOverlapRate` and `PredictionToPolygon`
    (motion_metrics.cc and motion_metrics_utils.cc, commit 99a4cb3) for single-object
    predictions of one scene. Waymo reports the rate per object type and measurement step
    (steps 5, 9, 15 at 2 Hz: 3, 5, 8 s); select the objects, or concatenate scenes with
    `reduction="none"`, to do the same.

    Args:
        pred: predicted centres at the $T$ prediction steps (the first is one step after the
            prediction time, as in Waymo's submissions).
        scores: the confidence of each predicted trajectory; only the arg max is used. Waymo
            keeps the first `max_predictions` (6) trajectories and divides their confidences
            by the sum of all of them, which leaves the arg max of non-negative confidences
            unchanged: pass at most 6 non-negative scores to match it.
        object_index: which object of the scene (the row of `boxes`) each prediction is for.
        boxes: the logged `(x, y, length, width, heading)` of every object in the scene at the
            prediction time (index 0) and at the $T$ prediction steps after it.
        valid: whether each object's box is observed at each of those steps.
        measurement_step: the last prediction step checked, in $[0, T-1]$; default $T-1$. The
            heading at step $m$ still looks at step $m+1$ when there is one, as Waymo's does.
        reduction: `"mean"` (the rate), `"sum"` (the number of objects that overlap) or
            `"none"` (1.0 where an object overlaps).

    Shape:
        - pred: `[B, K, T, 2]`, $T \ge 2$
        - scores: `[B, K]`
        - object_index: `[B]`, integers in $[0, A-1]$
        - boxes: `[A, 1 + T, 5]`, non-negative length and width
        - valid: `[A, 1 + T]` bool
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> boxes = torch.tensor([[[0.0, 0.0, 4.0, 2.0, 0.0]] * 3,    # object 0 drives along x
        ...                       [[9.0, 0.0, 4.0, 2.0, 0.0]] * 3])   # object 1 is parked ahead
        >>> valid = torch.ones(2, 3, dtype=torch.bool)
        >>> pred = torch.tensor([[[[2.0, 0.0], [4.0, 0.0]],             # mode 0 stops short
        ...                       [[4.0, 0.0], [8.0, 0.0]]]])           # mode 1 runs into it
        >>> [overlap_rate(pred, torch.tensor([[s, 1 - s]]), torch.tensor([0]), boxes, valid).item()
        ...  for s in (0.7, 0.3)]
        [0.0, 1.0]
    """
    check_reduction(reduction)
    check_tensor("pred", pred, kind="float")
    check_tensor("scores", scores, kind="float")
    check_tensor("object_index", object_index, kind="int")
    check_tensor("boxes", boxes, kind="float")
    check_tensor("valid", valid, kind="bool")
    sizes = check_shapes(
        pred=(pred, "B K T 2"),
        scores=(scores, "B K"),
        object_index=(object_index, "B"),
        boxes=(boxes, "A S 5"),
        valid=(valid, "A S"),
        nonempty="B" if reduction == "mean" else "",
    )
    n_objects, n_steps = sizes["A"], sizes["T"]
    if n_steps < 2 or sizes["K"] < 1:
        raise ValueError(
            "pred: expected at least 1 trajectory and 2 steps (the heading comes from the"
            f" positions), got shape [{', '.join(str(s) for s in pred.shape)}]"
        )
    if sizes["S"] != n_steps + 1:
        raise ValueError(
            f"boxes: expected 1 + T = {n_steps + 1} steps (the prediction time, then pred's"
            f" {n_steps}), got shape [{', '.join(str(s) for s in boxes.shape)}]"
        )
    if measurement_step is None:
        measurement_step = n_steps - 1
    if isinstance(measurement_step, bool) or not isinstance(measurement_step, int):
        raise TypeError(f"measurement_step: expected an int, got {type(measurement_step).__name__}")
    if not 0 <= measurement_step < n_steps:
        raise ValueError(
            f"measurement_step: expected a prediction step in [0, {n_steps - 1}], got"
            f" {measurement_step}"
        )
    check_finite("scores", scores)
    check_finite("boxes", boxes)
    check_finite("pred", pred, always=False)
    if has_values(boxes) and bool((boxes[..., 2:4] < 0).any()):
        raise ValueError("boxes: expected non-negative length and width (columns 2, 3)")
    if has_values(object_index):
        low, high = int(object_index.min()), int(object_index.max())
        if low < 0 or high >= n_objects:
            bad = low if low < 0 else high
            raise ValueError(
                f"object_index: expected rows of boxes in [0, {n_objects - 1}], got {bad}"
            )

    dtype = torch.promote_types(pred.dtype, boxes.dtype)
    best = scores.argmax(dim=1)  # the first of equal maxima, as std::max_element
    rows = torch.arange(pred.shape[0], device=pred.device)
    path = pred[rows, best].to(dtype)  # [B, T, 2]
    step = path.diff(dim=1)
    angle = torch.atan2(step[..., 1], step[..., 0])  # [B, T - 1]
    ahead = torch.cat([angle, angle[:, -1:]], dim=1)  # to the next point (the last repeated)
    behind = torch.cat([angle[:, :1], angle], dim=1)  # from the previous point (the first repeated)
    heading = torch.atan2(ahead.sin() + behind.sin(), ahead.cos() + behind.cos())  # [B, T]
    upto = slice(1, measurement_step + 2)  # the prediction steps 0..m in the boxes' time axis
    size = boxes[object_index, upto, 2:4].to(dtype)  # the object's own logged size
    own = torch.cat([path[:, : measurement_step + 1], size, heading[:, : measurement_step + 1, None]],
                    dim=-1)  # [B, m + 1, 5]
    hit = box_overlap(own.unsqueeze(1), boxes[None, :, upto].to(dtype))  # [B, A, m + 1]
    # zero area, zero intersection area: box_overlap would count a flat box lying inside another
    hit = hit & (size > 0).all(-1)[:, None] & (boxes[None, :, upto, 2:4] > 0).all(-1)
    present = valid[:, upto] & valid[:, :1]  # valid at the step and at the prediction time
    other = object_index[:, None] != torch.arange(n_objects, device=object_index.device)
    overlapped = (hit & present & other[..., None]).flatten(1).any(dim=1)
    return reduce(overlapped.to(dtype), reduction)

"""Motion-forecasting mAP and Soft mAP, as the Waymo Open Motion Dataset's metrics compute them."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_finite, check_shapes, check_tensor
from ._validation import _check_nonempty

__all__ = [
    "motion_average_precision",
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

"""Classification metrics: confusion matrix, precision / recall / F1, PR and ROC curves, AP, AUC."""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_choice, check_number
from ._validation import _AVERAGES, _NUMPY_FLOATS, _check_labels, _check_scores_target

__all__ = [
    "average_precision",
    "confusion_matrix",
    "precision_recall_curve",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
]


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, *, num_classes: int | None = None
) -> torch.Tensor:
    r"""Count matrix $M_{ij}$ = number of samples of true class $i$ predicted as class $j$.

    $$M_{ij} = \sum_n [\,y_n = i\,]\,[\,\hat y_n = j\,]$$

    Rows are the truth, columns the prediction (scikit-learn's convention), so the diagonal holds
    the true positives of each class, a row sums to that class's support and a column to how often
    the class was predicted.

    Args:
        pred: predicted class indices (take `argmax` of the scores or threshold them first).
        target: true class indices.
        num_classes: $C$; by default one more than the largest index in `pred` or `target`.

    Shape:
        - pred: `[N]`, integer
        - target: `[N]`, integer
        - output: `[C, C]`, int64

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1]))
        tensor([[1, 1],
                [0, 2]])
    """
    c = _check_labels(pred, target, num_classes)
    flat = target.long() * c + pred.long()
    return torch.bincount(flat, minlength=c * c).reshape(c, c)


def precision_recall_f1(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    num_classes: int | None = None,
    average: str = "none",
    zero_division: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Precision, recall and F1 per class, or averaged (macro, micro, weighted).

    $$P_c = \frac{TP_c}{TP_c + FP_c},\qquad R_c = \frac{TP_c}{TP_c + FN_c},\qquad
    F1_c = \frac{2\,TP_c}{2\,TP_c + FP_c + FN_c} = \frac{2 P_c R_c}{P_c + R_c}$$

    - `"macro"`: the unweighted mean of the per-class values (every class counts the same, so
      rare classes weigh as much as common ones). Macro F1 is the mean of the per-class F1, **not**
      the F1 of macro precision and macro recall.
    - `"micro"`: pool the counts first. In single-label multi-class problems every false positive
      of one class is a false negative of another, so micro P = micro R = micro F1 = accuracy.
    - `"weighted"`: the mean weighted by support (true count per class).

    A ratio with a zero denominator (a class never predicted, or never present) is set to
    `zero_division`. All of it equals `sklearn.metrics.precision_recall_fscore_support` with
    `labels=range(C)` and the same `zero_division`.

    Args:
        pred: predicted class indices.
        target: true class indices.
        num_classes: $C$; by default one more than the largest index seen.
        average: `"none"` (per class), `"macro"`, `"micro"` or `"weighted"`.
        zero_division: value of a 0/0 ratio, in $[0, 1]$.

    Shape:
        - pred, target: `[N]`, integer
        - output: three tensors `[C]` (`average="none"`) or three scalars, float64

    Example:
        >>> p, r, f1 = precision_recall_f1(torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1]))
        >>> p, r
        (tensor([1.0000, 0.6667], dtype=torch.float64), tensor([0.5000, 1.0000], dtype=torch.float64))
        >>> f1
        tensor([0.6667, 0.8000], dtype=torch.float64)
    """
    check_choice("average", average, _AVERAGES)
    check_number("zero_division", zero_division, low=0.0, high=1.0)
    cm = confusion_matrix(pred, target, num_classes=num_classes).to(torch.float64)
    tp = cm.diagonal()
    predicted = cm.sum(dim=0)  # TP + FP
    support = cm.sum(dim=1)  # TP + FN
    if average == "micro":
        tp, predicted, support = tp.sum(), predicted.sum(), support.sum()

    def ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        return torch.where(den > 0, num / den.clamp_min(1), torch.full_like(num, zero_division))

    precision = ratio(tp, predicted)
    recall = ratio(tp, support)
    f1 = ratio(2 * tp, predicted + support)  # 2TP + FP + FN
    if average == "macro":
        return precision.mean(), recall.mean(), f1.mean()
    if average == "weighted":
        w = support / support.sum()
        return (w * precision).sum(), (w * recall).sum(), (w * f1).sum()
    return precision, recall, f1


# ---------------------------------------------------------------------------------------------
# Threshold curves: PR, ROC, average precision, ROC-AUC
# ---------------------------------------------------------------------------------------------


def _binary_counts(
    scores: torch.Tensor, positive: torch.Tensor
) -> tuple:
    """True and false positive counts at each distinct threshold, highest threshold first.

    The threshold ``t`` predicts positive for ``score >= t``; tied scores are one threshold, so
    the counts are read at the last index of each run of equal sorted scores (the order inside a
    run does not matter, and neither does the sort's stability). Counts are float64 NumPy
    arrays for CPU input (callers use only operators common to NumPy and torch), tensors otherwise.
    """
    n = scores.numel()
    if scores.device.type == "cpu" and scores.dtype in _NUMPY_FLOATS:
        # NumPy's sort is vectorised (x86-simd-sort / highway): several times faster than
        # torch.sort on CPU for 1-D floats, and `take` beats advanced indexing. Zero-copy views.
        values = scores.detach().numpy()
        order = np.argsort(-values)
        sorted_values = values.take(order)
        ends = np.append(np.flatnonzero(sorted_values[1:] != sorted_values[:-1]), n - 1)
        tps = np.cumsum(positive.numpy().take(order), dtype=np.int64)[ends]
        fps = ends + 1 - tps
        return tps.astype(np.float64), fps.astype(np.float64), sorted_values.take(ends)
    sorted_scores, order = torch.sort(scores.detach(), descending=True)
    run_end = torch.nonzero(sorted_scores[1:] != sorted_scores[:-1]).squeeze(1)
    ends = torch.cat([run_end, run_end.new_tensor([n - 1])])
    tps = positive[order].cumsum(0, dtype=torch.int64)[ends]
    fps = ends + 1 - tps
    return tps.to(torch.float64), fps.to(torch.float64), sorted_scores[ends]


def precision_recall_curve(
    scores: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Precision and recall at every distinct threshold, from the highest threshold down.

    $$P(t) = \frac{TP(t)}{TP(t) + FP(t)},\qquad R(t) = \frac{TP(t)}{\#\text{positives}},
    \qquad \hat y = [\,s \ge t\,]$$

    Tied scores form one threshold (all of them switch to positive together). The points are
    those of `sklearn.metrics.precision_recall_curve` in reverse order and without its extra
    $(R, P) = (0, 1)$ end point.

    Args:
        scores: a score per sample, higher meaning more likely positive (probabilities or logits).
        target: 0/1 or bool labels; at least one positive.

    Shape:
        - scores: `[N]`, float
        - target: `[N]`, int or bool
        - output: `precision`, `recall`, `thresholds`, each `[M]` with $M$ the number of
          distinct scores; `precision` and `recall` are float64

    Example:
        >>> p, r, t = precision_recall_curve(torch.tensor([0.9, 0.8, 0.8, 0.1]), torch.tensor([1, 0, 1, 0]))
        >>> p, r
        (tensor([1.0000, 0.6667, 0.5000], dtype=torch.float64), tensor([0.5000, 1.0000, 1.0000], dtype=torch.float64))
    """
    precision, recall, thresholds = _pr_points(scores, target)
    return torch.as_tensor(precision), torch.as_tensor(recall), torch.as_tensor(thresholds)


def _pr_points(scores: torch.Tensor, target: torch.Tensor) -> tuple:
    tps, fps, thresholds = _binary_counts(scores, _check_scores_target(scores, target))
    if tps[-1] == 0:
        raise ValueError("target: expected at least one positive label (recall is undefined)")
    return tps / (tps + fps), tps / tps[-1], thresholds


def roc_curve(
    scores: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""False and true positive rates at every distinct threshold, starting from $(0, 0)$.

    $$\mathrm{FPR}(t) = \frac{FP(t)}{\#\text{negatives}},\qquad
    \mathrm{TPR}(t) = \frac{TP(t)}{\#\text{positives}}$$

    The first point has threshold $+\infty$ (nothing predicted positive). Equal to
    `sklearn.metrics.roc_curve(..., drop_intermediate=False)`.

    Args:
        scores: a score per sample, higher meaning more likely positive.
        target: 0/1 or bool labels with both classes present.

    Shape:
        - scores: `[N]`, float
        - target: `[N]`, int or bool
        - output: `fpr`, `tpr` (float64) and `thresholds`, each `[M + 1]`

    Example:
        >>> fpr, tpr, _ = roc_curve(torch.tensor([0.9, 0.8, 0.8, 0.1]), torch.tensor([1, 0, 1, 0]))
        >>> fpr, tpr
        (tensor([0.0000, 0.0000, 0.5000, 1.0000], dtype=torch.float64), tensor([0.0000, 0.5000, 1.0000, 1.0000], dtype=torch.float64))
    """
    fpr, tpr, thresholds = (torch.as_tensor(x) for x in _roc_points(scores, target))
    zero = fpr.new_zeros(1)
    return (torch.cat([zero, fpr]), torch.cat([zero, tpr]),
            torch.cat([thresholds.new_tensor([math.inf]), thresholds]))


def _roc_points(scores: torch.Tensor, target: torch.Tensor) -> tuple:
    tps, fps, thresholds = _binary_counts(scores, _check_scores_target(scores, target))
    n_pos, n_neg = float(tps[-1]), float(fps[-1])
    if n_pos == 0 or n_neg == 0:
        which = "positive" if n_pos == 0 else "negative"
        raise ValueError(f"target: expected both classes, got no {which} label (ROC is undefined)")
    return fps / n_neg, tps / n_pos, thresholds


def average_precision(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Average precision: the step-wise area under the precision-recall curve.

    $$\mathrm{AP} = \sum_n (R_n - R_{n-1})\, P_n$$

    over the distinct thresholds from the highest down ($R_0 = 0$): each gain in recall is paid at
    the precision reached there. This is scikit-learn's `average_precision_score` (ties included:
    tied scores are one threshold; checked against scikit-learn 1.9.1). It is **not** the
    trapezoidal area under the PR curve, which interpolates linearly between points, an
    interpolation no classifier achieves in general (Davis & Goadrich 2006), and can be optimistic.
    A random classifier scores about the positive rate (prevalence), not 0.5.

    Computed with one sort; benchmarked against scikit-learn on $10^6$ scores in
    `bench/bench_metrics.py` (the measured ratio is on the Benchmarks page).

    Args:
        scores: a score per sample, higher meaning more likely positive.
        target: 0/1 or bool labels; at least one positive.

    Shape:
        - scores: `[N]`, float
        - target: `[N]`, int or bool
        - output: scalar, float64

    Example:
        >>> s = torch.tensor([0.1, 0.4, 0.35, 0.8])
        >>> round(average_precision(s, torch.tensor([0, 0, 1, 1])).item(), 4)
        0.8333
    """
    precision, recall, _ = _pr_points(scores, target)
    ap = recall[0] * precision[0] + ((recall[1:] - recall[:-1]) * precision[1:]).sum()
    return torch.as_tensor(ap, dtype=torch.float64)


def roc_auc(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Area under the ROC curve: the probability that a random positive outscores a random negative.

    $$\mathrm{AUC} = \Pr(s^+ > s^-) + \tfrac12 \Pr(s^+ = s^-)$$

    computed as the trapezoidal area under [roc_curve][lossbook.metrics.roc_curve] (a tie gives a
    diagonal segment, which is the half credit above). Equal to
    `sklearn.metrics.roc_auc_score`. It is invariant to the class balance: a random classifier
    scores 0.5 at any prevalence, which is exactly why it looks flattering on rare events.

    Args:
        scores: a score per sample, higher meaning more likely positive.
        target: 0/1 or bool labels with both classes present.

    Shape:
        - scores: `[N]`, float
        - target: `[N]`, int or bool
        - output: scalar, float64

    Example:
        >>> s = torch.tensor([0.1, 0.4, 0.35, 0.8])
        >>> roc_auc(s, torch.tensor([0, 0, 1, 1])).item()
        0.75
    """
    fpr, tpr, _ = _roc_points(scores, target)  # the first segment starts at (0, 0)
    area = fpr[0] * tpr[0] + ((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])).sum()
    return torch.as_tensor(area / 2, dtype=torch.float64)

"""Evaluation metrics: classification, ranking curves, calibration, multi-modal trajectories, ranking.

Every function takes tensors, validates them, and returns tensors. Classification and ranking
metrics are computed in float64 and equal scikit-learn's definitions (ties included); trajectory
metrics follow the Waymo Open Motion and Argoverse 2 conventions, named in each docstring.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import (
    check_choice,
    check_finite,
    check_number,
    check_range,
    check_reduction,
    check_shapes,
    check_tensor,
    masked_reduce,
    reduce,
)

__all__ = [
    "average_precision",
    "brier_min_fde",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_temperature",
    "min_ade",
    "min_fde",
    "miss_rate",
    "ndcg",
    "precision_at_k",
    "precision_recall_curve",
    "precision_recall_f1",
    "reliability_bins",
    "roc_auc",
    "roc_curve",
    "waymo_miss_rate",
    "waymo_miss_thresholds",
]

_AVERAGES = ("none", "macro", "micro", "weighted")
_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


# ---------------------------------------------------------------------------------------------
# Shared validation
# ---------------------------------------------------------------------------------------------


def _check_nonempty(name: str, x: torch.Tensor, what: str = "element") -> None:
    if x.numel() == 0:
        raise ValueError(f"{name}: expected at least one {what}, got an empty tensor of shape "
                         f"[{', '.join(str(s) for s in x.shape)}]")


def _check_binary(name: str, x: torch.Tensor) -> torch.Tensor:
    """0/1 or bool labels -> bool."""
    check_tensor(name, x, kind="int_or_bool")
    if x.dtype != torch.bool and x.numel() and bool(((x != 0) & (x != 1)).any()):
        bad = x[(x != 0) & (x != 1)][0].item()
        raise ValueError(f"{name}: expected binary labels 0/1 or bool, got the value {bad}")
    return x.bool()


def _check_scores_target(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    check_tensor("scores", scores, kind="float")
    check_tensor("target", target, kind="int_or_bool")
    check_shapes(scores=(scores, "N"), target=(target, "N"))
    _check_nonempty("scores", scores, "score")
    if target.device != scores.device:
        raise ValueError(f"target: expected device {scores.device} (as scores), got {target.device}")
    if scores.device.type == "cpu" and scores.dtype in _NUMPY_FLOATS:
        # Same checks through NumPy: on a busy CPU, torch's threaded element-wise kernels on
        # 10^6 values cost tens of milliseconds, NumPy's single-threaded ones a fraction of one.
        values = scores.detach().numpy()
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"scores: contains {bad} NaN or Inf value(s)")
        if target.dtype == torch.bool:
            return target
        labels = target.numpy()
        if not ((labels == 0) | (labels == 1)).all():
            bad = labels[(labels != 0) & (labels != 1)][0]
            raise ValueError(f"target: expected binary labels 0/1 or bool, got the value {bad}")
        return torch.from_numpy(labels == 1)
    check_finite("scores", scores)
    return _check_binary("target", target)


def _check_labels(pred: torch.Tensor, target: torch.Tensor, num_classes: int | None) -> int:
    check_tensor("pred", pred, kind="int")
    check_tensor("target", target, kind="int")
    check_shapes(pred=(pred, "N"), target=(target, "N"))
    _check_nonempty("target", target, "label")
    for name, x in (("pred", pred), ("target", target)):
        if int(x.min()) < 0:
            raise ValueError(f"{name}: expected class indices >= 0, got {int(x.min())}")
    if num_classes is None:
        return max(int(pred.max()), int(target.max())) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    for name, x in (("pred", pred), ("target", target)):
        if int(x.max()) >= num_classes:
            raise ValueError(
                f"{name}: expected class indices in [0, {num_classes - 1}] "
                f"(num_classes={num_classes}), got {int(x.max())}"
            )
    return num_classes


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Confusion matrix, precision / recall / F1
# ---------------------------------------------------------------------------------------------


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
    tied scores are one threshold). It is **not** the trapezoidal area under the PR curve, which
    interpolates linearly between points and is optimistic. A random classifier scores about the
    positive rate (prevalence), not 0.5.

    Computed with one sort; on CPU about 4x faster than scikit-learn on $10^6$ scores.

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


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------


def _confidence_correct(
    probs: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor("probs", probs, kind="float")
    check_tensor("target", target, kind="int_or_bool")
    if probs.ndim == 1:
        check_shapes(probs=(probs, "N"), target=(target, "N"))
        _check_nonempty("probs", probs, "sample")
        check_range("probs", probs, 0.0, 1.0, what="probabilities")
        positive = _check_binary("target", target)
        probs = torch.stack([1 - probs, probs], dim=1)
        target = positive.long()
    else:
        sizes = check_shapes(probs=(probs, "N C"), target=(target, "N"))
        _check_nonempty("probs", probs, "sample")
        check_range("probs", probs, 0.0, 1.0, what="probabilities")
        tol = max(1e-4, 10 * torch.finfo(probs.dtype).eps)
        row_sums = probs.sum(dim=1, dtype=torch.float64)
        off = (row_sums - 1).abs() > tol
        if bool(off.any()):
            i = int(off.nonzero()[0, 0])
            raise ValueError(
                f"probs: expected each row to sum to 1 (softmax probabilities), row {i} sums to "
                f"{row_sums[i].item():.6g}"
            )
        check_tensor("target", target, kind="int")
        if int(target.min()) < 0 or int(target.max()) >= sizes["C"]:
            raise ValueError(
                f"target: expected class indices in [0, {sizes['C'] - 1}], got "
                f"{int(target.min()) if int(target.min()) < 0 else int(target.max())}"
            )
    confidence, predicted = probs.max(dim=1)
    return confidence.to(torch.float64), (predicted == target).to(torch.float64)


def reliability_bins(
    probs: torch.Tensor, target: torch.Tensor, *, n_bins: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Per-bin mean confidence, accuracy and count: the data of a reliability diagram.

    The confidence of a sample is its largest class probability; bin $m$ holds the samples with
    confidence in $\big(\frac{m-1}{M}, \frac{m}{M}\big]$ (Guo et al. 2017). Empty bins report
    confidence and accuracy 0 with count 0.

    Args:
        probs: class probabilities (rows sum to 1), or the probability of the positive class.
        target: class indices, or 0/1 labels when `probs` is 1-D.
        n_bins: $M$, the number of equal-width bins.

    Shape:
        - probs: `[N, C]` or `[N]`, float in $[0, 1]$
        - target: `[N]`
        - output: `confidence`, `accuracy` (float64) and `count` (int64), each `[M]`

    Example:
        >>> probs = torch.tensor([0.95, 0.95, 0.75, 0.55])  # P(class 1)
        >>> conf, acc, count = reliability_bins(probs, torch.tensor([1, 0, 1, 1]), n_bins=5)
        >>> acc, count
        (tensor([0.0000, 0.0000, 1.0000, 1.0000, 0.5000], dtype=torch.float64), tensor([0, 0, 1, 1, 2]))
    """
    _check_positive_int("n_bins", n_bins)
    confidence, correct = _confidence_correct(probs, target)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64, device=confidence.device)
    # bucketize(right=False): edges[i-1] < x <= edges[i]  ->  bins (lo, hi]
    index = (torch.bucketize(confidence, edges) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64, device=confidence.device)
    acc_sum = torch.zeros_like(conf_sum)
    conf_sum.index_add_(0, index, confidence)
    acc_sum.index_add_(0, index, correct)
    denom = count.clamp_min(1).to(torch.float64)
    return conf_sum / denom, acc_sum / denom, count


def expected_calibration_error(
    probs: torch.Tensor, target: torch.Tensor, *, n_bins: int = 15
) -> torch.Tensor:
    r"""Expected calibration error (Guo et al. 2017): the bin-weighted gap between accuracy and confidence.

    $$\mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}\,\big|\operatorname{acc}(B_m) -
    \operatorname{conf}(B_m)\big|$$

    Confidence is the **maximum** class probability and "correct" means the argmax is the true
    class; $M$ equal-width bins $(\frac{m-1}{M}, \frac{m}{M}]$, 15 as in the paper. A perfectly
    calibrated model that says 80% is right 80% of the time. ECE depends on the binning (and is
    biased upward on small sets); it measures calibration, not accuracy: a classifier that always
    predicts the majority class with confidence equal to its frequency has ECE 0.

    Args:
        probs: class probabilities (rows sum to 1), or the probability of the positive class.
        target: class indices, or 0/1 labels when `probs` is 1-D.
        n_bins: $M$, the number of equal-width bins.

    Shape:
        - probs: `[N, C]` or `[N]`, float in $[0, 1]$
        - target: `[N]`
        - output: scalar, float64

    Example:
        >>> probs = torch.tensor([[0.05, 0.95], [0.95, 0.05], [0.25, 0.75], [0.45, 0.55]])
        >>> round(expected_calibration_error(probs, torch.tensor([1, 1, 1, 1])).item(), 6)
        0.4
    """
    conf, acc, count = reliability_bins(probs, target, n_bins=n_bins)
    return (count * (acc - conf).abs()).sum() / count.sum()


def fit_temperature(logits: torch.Tensor, target: torch.Tensor, *, max_iter: int = 100) -> float:
    r"""The temperature $T > 0$ that minimises the cross entropy of `softmax(logits / T)`.

    $$T^\star = \arg\min_{T>0}\; \frac1N \sum_n -\log \operatorname{softmax}(z_n / T)_{y_n}$$

    Temperature scaling (Guo et al. 2017) is one parameter fitted on **held-out** logits after
    training: dividing every logit by the same $T$ keeps the argmax, so accuracy is unchanged,
    while $T > 1$ softens an over-confident model. The NLL is convex in $\beta = 1/T$ (a
    log-sum-exp of functions linear in $\beta$), so a safeguarded Newton iteration on $\beta$
    with exact first and second derivatives finds the optimum to machine precision in a few steps.

    Args:
        logits: unnormalised class scores of a held-out set.
        target: class indices.
        max_iter: at most this many Newton / bisection steps.

    Returns:
        $T^\star$ as a Python float.

    Raises:
        ValueError: when no finite positive temperature is optimal: every sample is already
            classified correctly (the NLL keeps falling as $T \to 0$), or the logits are no better
            than uniform ($T \to \infty$).

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`

    Example:
        >>> logits = torch.tensor([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
        >>> T = fit_temperature(logits, torch.tensor([0, 0, 1, 1]))  # 75% right, 98% confident
        >>> round(T, 4), round(4 / T, 4)  # softmax(logits / T) says 75%: 4 / T = log 3
        (3.641, 1.0986)
    """
    check_tensor("logits", logits, kind="float")
    check_tensor("target", target, kind="int")
    sizes = check_shapes(logits=(logits, "N C"), target=(target, "N"))
    _check_nonempty("logits", logits, "sample")
    check_finite("logits", logits)
    if int(target.min()) < 0 or int(target.max()) >= sizes["C"]:
        raise ValueError(f"target: expected class indices in [0, {sizes['C'] - 1}], got "
                         f"{target[(target < 0) | (target >= sizes['C'])][0].item()}")
    _check_positive_int("max_iter", max_iter)
    z = logits.detach().to(torch.float64)
    z_true = z.gather(1, target.long()[:, None]).squeeze(1)

    def derivatives(beta: float) -> tuple[float, float]:
        p = torch.softmax(beta * z, dim=1)
        mean_z = (p * z).sum(1)
        var_z = (p * z.square()).sum(1) - mean_z.square()
        return float((mean_z - z_true).mean()), float(var_z.clamp_min(0).mean())

    if bool((z.amax(dim=1) == z_true).all()):
        raise ValueError("logits: every sample already ranks its true class first; the NLL "
                         "keeps falling as T -> 0, so fit the temperature on held-out data")
    d0, _ = derivatives(0.0)
    if d0 >= 0:
        raise ValueError("logits: the true class scores no higher than average; the NLL falls as "
                         "T grows without bound, so there is no finite temperature to fit")
    lo, hi = 0.0, 1.0
    while derivatives(hi)[0] < 0:  # bracket the root of the (increasing) derivative
        lo, hi = hi, 2 * hi
        if hi > 2.0**60:
            raise ValueError("logits: every sample is classified correctly with a margin; the "
                             "NLL falls as T -> 0, so fit the temperature on held-out data")
    beta = hi
    for _ in range(max_iter):
        d1, d2 = derivatives(beta)
        if d1 < 0:
            lo = beta
        else:
            hi = beta
        if abs(d1) <= 1e-13 * max(1.0, abs(d0)) or hi - lo <= 1e-15 * hi:
            break
        step = beta - d1 / d2 if d2 > 0 else math.nan
        beta = step if lo < step < hi else 0.5 * (lo + hi)  # Newton, else bisect
    return 1.0 / beta


# ---------------------------------------------------------------------------------------------
# Multi-modal trajectories
# ---------------------------------------------------------------------------------------------


def _check_modes(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Validate [B, K, T, 2] vs [B, T, 2]; return the per-mode, per-step distances [B, K, T]."""
    check_tensor("pred", pred, kind="float")
    check_tensor("target", target, kind="float")
    check_shapes(pred=(pred, "B K T 2"), target=(target, "B T 2"), mask=(mask, "B T"))
    _check_nonempty("pred", pred, "sample, mode and step")
    check_finite("target", target)
    check_finite("pred", pred)
    return torch.linalg.vector_norm(pred - target[:, None], dim=-1)


def _check_mask(mask: torch.Tensor | None, dist: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones(dist.shape[0], dist.shape[2], dtype=torch.bool, device=dist.device)
    check_tensor("mask", mask, kind="int_or_bool")
    if mask.dtype != torch.bool and bool(((mask != 0) & (mask != 1)).any()):
        raise ValueError(f"mask: expected 0/1 or bool values, got {mask.unique().tolist()}")
    return mask.bool()


def _final_errors(dist: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """FDE of every mode at each sample's last valid step: [B, K]."""
    steps = torch.arange(valid.shape[1], device=valid.device)
    last = torch.where(valid, steps, -1).amax(dim=1).clamp_min(0)  # [B]
    index = last[:, None, None].expand(dist.shape[0], dist.shape[1], 1)
    return dist.gather(2, index).squeeze(2)


def min_ade(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    mode: str = "waymo",
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Minimum average displacement error over K predicted trajectories.

    $$\mathrm{ADE}_k = \frac{1}{|V|}\sum_{t\in V} \lVert \hat y^{(k)}_t - y_t \rVert_2,\qquad
    \text{waymo: } \min_k \mathrm{ADE}_k,\qquad
    \text{argoverse: } \mathrm{ADE}_{k^*},\ k^* = \arg\min_k \mathrm{FDE}_k$$

    The two benchmarks disagree: Waymo Open Motion takes each minimum independently, so minADE and
    minFDE may come from different modes; Argoverse 2 picks one winner by final displacement and
    reports that mode's ADE (never smaller than the Waymo value). Both are then averaged over the
    samples. Note the L2 norm is **not squared**: these are metres, not a training loss.

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        mask: 1 / `True` on valid target steps; ADE averages over them, and the Argoverse winner
            is chosen at each sample's last valid step. Samples with no valid step are left out.
        mode: `"waymo"` (independent minimum) or `"argoverse"` (ADE of the best-FDE mode).
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - mask: `[B, T]`, bool or 0/1
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(1, 3, 2)
        >>> steady = [[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]]  # ADE 2, FDE 2
        >>> late = [[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]]  # ADE 1, FDE 3
        >>> pred = torch.tensor([[steady, late]])
        >>> min_ade(pred, target), min_ade(pred, target, mode="argoverse"), min_fde(pred, target)
        (tensor(1.), tensor(2.), tensor(2.))
    """
    check_reduction(reduction)
    check_choice("mode", mode, ("waymo", "argoverse"))
    dist = _check_modes(pred, target, mask)
    valid = _check_mask(mask, dist)
    count = valid.sum(dim=1)  # [B]
    ade = (dist * valid[:, None]).sum(-1) / count.clamp_min(1)[:, None]  # [B, K]
    if mode == "waymo":
        per_sample = ade.min(dim=1).values
    else:
        winner = _final_errors(dist, valid).argmin(dim=1)
        per_sample = ade.gather(1, winner[:, None]).squeeze(1)
    return masked_reduce(per_sample, count > 0, reduction)


def min_fde(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Minimum final displacement error: the distance at the last step of the closest mode.

    $$\mathrm{minFDE} = \min_k \lVert \hat y^{(k)}_T - y_T \rVert_2$$

    The same under the Waymo and Argoverse conventions (Argoverse's winner *is* the best-FDE mode).
    It ignores everything but the endpoint and, like every min-over-K metric, rewards spreading
    more modes regardless of their probabilities: pair it with a probability-aware metric
    ([brier_min_fde][lossbook.metrics.brier_min_fde], mAP or NLL).

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(1, 10, 2)
        >>> pred = torch.arange(10.0).repeat_interleave(2).reshape(1, 1, 10, 2)  # (i, i)
        >>> round(min_fde(pred, target).item(), 5), round(162 ** 0.5, 5)
        (12.72792, 12.72792)
    """
    check_reduction(reduction)
    dist = _check_modes(pred, target)
    return reduce(dist[..., -1].min(dim=1).values, reduction)


def miss_rate(pred: torch.Tensor, target: torch.Tensor, *, threshold: float = 2.0) -> torch.Tensor:
    r"""Share of samples whose best endpoint is farther than `threshold` metres (Argoverse).

    $$\mathrm{MR} = \frac1B \sum_b \big[\min_k \mathrm{FDE}_{b,k} > \tau\big],\qquad \tau = 2\,\mathrm{m}$$

    The comparison is strict, as in Argoverse 2: an endpoint exactly 2 m away is a hit. One
    distance threshold treats a 2 m lateral error (the wrong lane) like a 2 m longitudinal one
    (slightly early); see [waymo_miss_rate][lossbook.metrics.waymo_miss_rate] for the
    heading-aware version.

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        threshold: $\tau \ge 0$ in metres.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - output: scalar in $[0, 1]$

    Example:
        >>> target = torch.zeros(2, 1, 2)
        >>> pred = torch.tensor([[[[2.0, 0.0]]], [[[2.5, 0.0]]]])  # FDE 2.0 and 2.5
        >>> miss_rate(pred, target)
        tensor(0.5000)
    """
    threshold = check_number("threshold", threshold, low=0.0)
    fde = min_fde(pred, target, reduction="none")
    return (fde > threshold).to(fde.dtype).mean()


def brier_min_fde(
    pred: torch.Tensor, probs: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Brier-minFDE (Argoverse 2): minFDE plus the squared miss of the winner's probability.

    $$k^* = \arg\min_k \mathrm{FDE}_k,\qquad \text{brier-minFDE} = \mathrm{FDE}_{k^*} + (1 - p_{k^*})^2$$

    The winner is chosen by FDE **first**; taking $\min_k [\mathrm{FDE}_k + (1-p_k)^2]$ instead
    would let a confident but worse mode win and under-report the error. The penalty ranges from
    0 (all mass on the best mode) to 1 (none), so a model must put probability on the mode that
    turns out right, not just cover the futures.

    Args:
        pred: K candidate futures per sample.
        probs: probability of each mode; each row must sum to 1 (apply `softmax` to logits).
        target: the logged future.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - probs: `[B, K]`, in $[0, 1]$, rows summing to 1
        - target: `[B, T, 2]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> fde = torch.tensor([0.5, 1.0, 2.5, 3.0, 4.0, 5.0])
        >>> pred = torch.zeros(1, 6, 1, 2)
        >>> pred[0, :, 0, 0] = fde  # endpoints at these distances from the origin
        >>> probs = torch.tensor([[0.1, 0.5, 0.1, 0.1, 0.1, 0.1]])
        >>> round(brier_min_fde(pred, probs, torch.zeros(1, 1, 2)).item(), 6)
        1.31
    """
    check_reduction(reduction)
    check_tensor("probs", probs, kind="float")
    dist = _check_modes(pred, target)
    check_shapes(pred=(pred, "B K T 2"), probs=(probs, "B K"))
    check_range("probs", probs, 0.0, 1.0, what="probabilities")
    tol = max(1e-4, 10 * torch.finfo(probs.dtype).eps)
    sums = probs.sum(dim=1, dtype=torch.float64)
    off = (sums - 1).abs() > tol
    if bool(off.any()):
        i = int(off.nonzero()[0, 0])
        raise ValueError(
            f"probs: expected the K mode probabilities of each sample to sum to 1, sample {i} "
            f"sums to {sums[i].item():.6g} (normalise, e.g. softmax over the mode logits)"
        )
    fde = dist[..., -1]  # [B, K]
    winner = fde.argmin(dim=1, keepdim=True)
    p = probs.to(fde.dtype).gather(1, winner).squeeze(1)
    return reduce(fde.gather(1, winner).squeeze(1) + (1 - p).square(), reduction)


_WAYMO_THRESHOLDS = {3: (1.0, 2.0), 5: (1.8, 3.6), 8: (3.0, 6.0)}  # seconds: (lateral, longitudinal)


def waymo_miss_thresholds(
    speed: torch.Tensor, *, seconds: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Waymo Open Motion's lateral and longitudinal miss thresholds, scaled by speed.

    $$s(v) = \begin{cases} 0.5 & v < 1.4 \\ 0.5 + 0.5\,\frac{v - 1.4}{11 - 1.4} & 1.4 \le v \le 11
    \\ 1 & v > 11 \end{cases}\qquad (\tau_{\text{lat}}, \tau_{\text{lon}}) = s(v)\,(\tau^0_{\text{lat}}, \tau^0_{\text{lon}})$$

    Base thresholds (lateral, longitudinal) in metres: 3 s: (1.0, 2.0), 5 s: (1.8, 3.6),
    8 s: (3.0, 6.0). A slow object gets half the tolerance: 3 m is a lot of error for a
    pedestrian, little for a car at highway speed.

    Args:
        speed: the object's speed in m/s at the time of prediction (non-negative).
        seconds: the horizon, 3, 5 or 8.

    Shape:
        - speed: `[B]`
        - output: `lateral`, `longitudinal`, each `[B]`

    Example:
        >>> waymo_miss_thresholds(torch.tensor([0.0, 6.2, 20.0]), seconds=8)
        (tensor([1.5000, 2.2500, 3.0000]), tensor([3.0000, 4.5000, 6.0000]))
    """
    check_choice("seconds", seconds, tuple(_WAYMO_THRESHOLDS))
    check_tensor("speed", speed, kind="float")
    check_shapes(speed=(speed, "B"))
    check_finite("speed", speed)
    if speed.numel() and bool((speed < 0).any()):
        raise ValueError(f"speed: expected non-negative speeds (m/s), got {speed.min().item()!r}")
    scale = 0.5 + 0.5 * ((speed - 1.4) / (11.0 - 1.4)).clamp(0.0, 1.0)
    lateral, longitudinal = _WAYMO_THRESHOLDS[seconds]
    return lateral * scale, longitudinal * scale


def waymo_miss_rate(
    pred: torch.Tensor,
    target: torch.Tensor,
    heading: torch.Tensor,
    speed: torch.Tensor,
    *,
    seconds: int = 8,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Waymo-style miss rate at one horizon: errors split along and across the true heading.

    $$e = R(-\theta)\,(\hat y^{(k)} - y) = (e_{\text{lon}}, e_{\text{lat}}),\qquad
    \text{hit}_k = |e_{\text{lat}}| \le \tau_{\text{lat}} \,\wedge\, |e_{\text{lon}}| \le \tau_{\text{lon}},
    \qquad \text{miss} = \neg \textstyle\bigvee_k \text{hit}_k$$

    $\theta$ is the ground-truth heading at the evaluated step and the thresholds come from
    [waymo_miss_thresholds][lossbook.metrics.waymo_miss_thresholds] (base values scaled by the
    object's speed). The longitudinal tolerance is twice the lateral one: being a little early or
    late along the lane is cheaper than drifting into the next lane. An object is missed when no
    mode matches.

    Args:
        pred: each mode's predicted position at the evaluated step
            (`pred_traj[:, :, t]` for trajectories `[B, K, T, 2]`).
        target: the true position at that step.
        heading: the true heading (radians) at that step.
        speed: the object's speed (m/s) at the time of prediction.
        seconds: the horizon, 3, 5 or 8, which picks the base thresholds.
        reduction: `"mean"` (miss rate), `"sum"` (number missed) or `"none"` (1.0 per missed
            object).

    Shape:
        - pred: `[B, K, 2]`
        - target: `[B, 2]`
        - heading, speed: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(2, 2)
        >>> heading = torch.zeros(2)  # both objects move along +x
        >>> pred = torch.tensor([[[5.0, 0.0]], [[0.0, 2.0]]])  # 5 m too far ahead; 2 m to the side
        >>> waymo_miss_rate(pred, target, heading, torch.tensor([20.0, 20.0]), reduction="none")
        tensor([0., 0.])
        >>> waymo_miss_rate(pred, target, heading, torch.tensor([1.0, 1.0]), reduction="none")
        tensor([1., 1.])
    """
    check_reduction(reduction)
    for name, x in (("pred", pred), ("target", target), ("heading", heading)):
        check_tensor(name, x, kind="float")
    check_shapes(pred=(pred, "B K 2"), target=(target, "B 2"), heading=(heading, "B"),
                 speed=(speed, "B"))
    _check_nonempty("pred", pred, "sample and mode")
    for name, x in (("pred", pred), ("target", target), ("heading", heading)):
        check_finite(name, x)
    lateral_tau, longitudinal_tau = waymo_miss_thresholds(speed, seconds=seconds)
    err = pred - target[:, None]  # [B, K, 2], world frame
    cos, sin = torch.cos(heading)[:, None], torch.sin(heading)[:, None]
    longitudinal = err[..., 0] * cos + err[..., 1] * sin
    lateral = -err[..., 0] * sin + err[..., 1] * cos
    hit = (lateral.abs() <= lateral_tau[:, None].to(lateral.dtype)) & (
        longitudinal.abs() <= longitudinal_tau[:, None].to(lateral.dtype)
    )
    return reduce((~hit.any(dim=1)).to(pred.dtype), reduction)


# ---------------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------------


def _check_ranking(
    scores: torch.Tensor, relevance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    check_tensor("scores", scores, kind="float")
    if relevance.dtype == torch.bool:
        relevance = relevance.to(torch.float64)
    check_tensor("relevance", relevance)
    single = scores.ndim == 1
    if single:
        check_shapes(scores=(scores, "N"), relevance=(relevance, "N"))
        scores, relevance = scores[None], relevance[None]
    else:
        check_shapes(scores=(scores, "Q N"), relevance=(relevance, "Q N"))
    _check_nonempty("scores", scores, "item")
    check_finite("scores", scores)
    relevance = relevance.to(torch.float64)
    check_finite("relevance", relevance)
    if bool((relevance < 0).any()):
        raise ValueError(f"relevance: expected non-negative relevance, got {relevance.min().item()!r}")
    return scores, relevance, single


def _tie_averaged_dcg(scores: torch.Tensor, gains: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum_i gain_i * weight(rank_i), averaged over every order of the tied scores: [Q].

    Items with equal scores share their block of ranks: each gets the group's mean position weight.
    """
    q, n = scores.shape
    sorted_scores, order = torch.sort(scores, dim=1, descending=True)
    g = gains.gather(1, order)
    pos = torch.arange(n, device=scores.device).expand(q, n)
    starts = torch.ones(q, n, dtype=torch.bool, device=scores.device)
    starts[:, 1:] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, pos, 0).cummax(dim=1).values
    last = torch.where(ends, pos, n).flip(1).cummin(dim=1).values.flip(1)
    cum = torch.cat([weight.new_zeros(1), weight.cumsum(0)])  # cum[j] = sum of weight[:j]
    group_weight = (cum[last + 1] - cum[first]) / (last - first + 1)
    return (g * group_weight).sum(dim=1)


def precision_at_k(
    scores: torch.Tensor, relevance: torch.Tensor, *, k: int, reduction: str = "mean"
) -> torch.Tensor:
    r"""Fraction of the k highest-scored items that are relevant.

    $$\mathrm{P@}k = \frac1k \sum_{i=1}^{k} \mathrm{rel}_{(i)}$$

    where $(i)$ is the item ranked $i$-th by score. Tied scores are broken in expectation: tied
    items share the positions they occupy, so the result does not depend on the input order
    (a plain `argsort` would silently prefer whichever came first). It ignores the order
    *within* the top k; use [ndcg][lossbook.metrics.ndcg] when that matters.

    Args:
        scores: model scores, one row per query.
        relevance: 0/1 (or bool) relevance of each item.
        k: the cut-off, $1 \le k \le N$.
        reduction: `"mean"` over queries, `"sum"` or `"none"`.

    Shape:
        - scores: `[N]` or `[Q, N]`
        - relevance: same shape
        - output: scalar, or `[Q]` with `reduction="none"` (scalar for 1-D input)

    Example:
        >>> scores = torch.tensor([0.9, 0.8, 0.7, 0.1])
        >>> precision_at_k(scores, torch.tensor([1, 0, 1, 1]), k=2).item()
        0.5
    """
    check_reduction(reduction)
    scores, relevance, single = _check_ranking(scores, relevance)
    if bool(((relevance != 0) & (relevance != 1)).any()):
        raise ValueError("relevance: expected binary 0/1 relevance for precision@k, got "
                         f"{relevance[(relevance != 0) & (relevance != 1)][0].item()!r}")
    n = scores.shape[1]
    _check_positive_int("k", k)
    if k > n:
        raise ValueError(f"k: expected 1 <= k <= N = {n} items, got {k}")
    weight = (torch.arange(n, device=scores.device) < k).to(torch.float64) / k
    per_query = _tie_averaged_dcg(scores, relevance, weight)
    return per_query[0] if single else reduce(per_query, reduction)


def ndcg(
    scores: torch.Tensor,
    relevance: torch.Tensor,
    *,
    k: int | None = None,
    gain: str = "linear",
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Normalised discounted cumulative gain at k: position-discounted relevance over its ideal.

    $$\mathrm{DCG@}k = \sum_{i=1}^{k} \frac{g(\mathrm{rel}_{(i)})}{\log_2(i + 1)},\qquad
    \mathrm{NDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k}$$

    IDCG is the DCG of the ideal order (by true relevance). The gain $g$ is `"linear"` ($g(r) = r$,
    scikit-learn's `ndcg_score`) or `"exponential"` ($2^r - 1$, Burges et al., which stresses
    the very relevant items); the two give different numbers, so say which one you report.
    Ties in `scores` are averaged as in scikit-learn (`ignore_ties=False`). A query with no
    relevant item has IDCG 0 and scores 0, as in scikit-learn. With the defaults this equals
    `sklearn.metrics.ndcg_score`.

    Args:
        scores: model scores, one row per query.
        relevance: graded non-negative relevance of each item.
        k: the cut-off, or `None` for all $N$ items.
        gain: `"linear"` or `"exponential"`.
        reduction: `"mean"` over queries, `"sum"` or `"none"`.

    Shape:
        - scores: `[N]` or `[Q, N]`
        - relevance: same shape
        - output: scalar, or `[Q]` with `reduction="none"` (scalar for 1-D input), float64

    Example:
        >>> scores = torch.tensor([0.9, 0.8, 0.1])
        >>> round(ndcg(scores, torch.tensor([0, 1, 1])).item(), 4)  # (1/log2 3 + 1/2) / (1 + 1/log2 3)
        0.6934
    """
    check_reduction(reduction)
    check_choice("gain", gain, ("linear", "exponential"))
    scores, relevance, single = _check_ranking(scores, relevance)
    n = scores.shape[1]
    if k is not None:
        _check_positive_int("k", k)
    cutoff = n if k is None else min(k, n)
    positions = torch.arange(n, device=scores.device, dtype=torch.float64)
    weight = torch.where(positions < cutoff, 1.0 / torch.log2(positions + 2), 0.0)
    gains = relevance if gain == "linear" else torch.expm1(relevance * math.log(2.0))
    dcg = _tie_averaged_dcg(scores, gains, weight)
    ideal = (gains.sort(dim=1, descending=True).values * weight).sum(dim=1)
    per_query = torch.where(ideal > 0, dcg / ideal.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
    return per_query[0] if single else reduce(per_query, reduction)

"""Calibration: reliability bins, expected calibration error, temperature scaling."""

from __future__ import annotations

import math

import torch

from .._checks import check_finite, check_range, check_shapes, check_tensor
from ._validation import _check_binary, _check_nonempty, _check_positive_int

__all__ = [
    "expected_calibration_error",
    "fit_temperature",
    "reliability_bins",
]


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

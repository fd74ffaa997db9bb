"""Classification losses for imbalanced data: weighted cross entropy, class weights, focal loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_class_targets,
    check_finite,
    check_nonempty,
    check_number,
    check_range,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
    masked_reduce,
    reduce,
)

__all__ = [
    "balanced_softmax_cross_entropy",
    "class_weights",
    "focal_loss",
    "label_smoothing_cross_entropy",
    "logit_adjusted_cross_entropy",
    "multiclass_hinge_loss",
    "ohem_cross_entropy",
    "posthoc_logit_adjustment",
    "sigmoid_focal_loss",
    "weighted_cross_entropy",
]


def _check_logits_target(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None, reduction: str
) -> int:
    check_tensor("logits", logits, kind="float")
    check_tensor("target", target, kind="int")
    sizes = check_shapes(logits=(logits, "N C"), target=(target, "N"),
                         nonempty="C" + ("N" if reduction == "mean" else ""))
    check_class_targets("target", target, sizes["C"], ignore_index=ignore_index)
    check_finite("logits", logits, always=False)
    return sizes["C"]


def _check_class_weight(name: str, weight: torch.Tensor, num_classes: int, logits: torch.Tensor):
    check_tensor(name, weight, kind="float")
    check_shapes(logits=(logits, "N C"), **{name: (weight, str(num_classes))})
    check_finite(name, weight)
    if has_values(weight) and bool((weight < 0).any()):
        raise ValueError(f"{name}: expected non-negative class weights, got {weight.tolist()}")
    return weight.to(logits.dtype)


def weighted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross entropy with a weight per class, PyTorch's convention.

    $$\ell_i = -w_{y_i} \log \operatorname{softmax}(z_i)_{y_i}, \qquad
    \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_{y_i}}$$

    The mean divides by the **sum of the target weights**, not by $N$: that keeps the loss on the
    scale of plain cross entropy whatever the weights are, and is what
    `F.cross_entropy(logits, target, weight=weight)` returns.

    Args:
        logits: unnormalised class scores.
        target: class indices; entries equal to `ignore_index` contribute nothing.
        weight: non-negative weight per class, or `None` for plain cross entropy.
        ignore_index: target value to skip.
        reduction: `"mean"` (weighted mean as above), `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - weight: `[C]`
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> w = torch.tensor([1.0, 2.0, 0.5])
        >>> round(weighted_cross_entropy(logits, torch.tensor([0, 1]), w).item(), 6)
        2.020171
    """
    check_reduction(reduction)
    num_classes = _check_logits_target(logits, target, ignore_index, reduction)
    if weight is not None:
        weight = _check_class_weight("weight", weight, num_classes, logits)
    return F.cross_entropy(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax (multi-class) focal loss of Lin et al. (2017).

    $$\ell_i = -\alpha_{y_i}\,(1 - p_{t,i})^{\gamma}\,\log p_{t,i},
    \qquad p_{t,i} = \operatorname{softmax}(z_i)_{y_i}$$

    With `gamma=0` it equals [weighted cross entropy][lossbook.classification.weighted_cross_entropy]
    exactly, including the mean: like `F.cross_entropy`, `"mean"` divides by
    $\sum_i \alpha_{y_i}$ (by $N$ when `alpha` is `None`).

    Computed from one fused `log_softmax` gather ($\log p_t$) and $1 - p_t =
    -\operatorname{expm1}(\log p_t)$; the full probability matrix is never built. The modulating
    factor's base is clamped away from 0, so the gradient stays finite at $p_t = 1$ even for
    $\gamma < 1$, where $\frac{d}{dp}(1-p)^\gamma$ is infinite.

    Args:
        logits: unnormalised class scores.
        target: class indices; entries equal to `ignore_index` contribute nothing.
        gamma: focusing parameter, $\gamma \ge 0$; 2 in the paper.
        alpha: optional non-negative weight per class.
        ignore_index: target value to skip.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - alpha: `[C]`
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> logits = torch.tensor([[3.0, 0.0, -1.0], [0.2, 0.1, 0.0]])
        >>> focal_loss(logits, torch.tensor([0, 2]), gamma=2.0, reduction="none")
        tensor([2.6784e-04, 5.8793e-01])
    """
    check_reduction(reduction)
    check_number("gamma", gamma, low=0.0)
    num_classes = _check_logits_target(logits, target, ignore_index, reduction)
    # log p_t for every row through the fused cross-entropy kernel (ignored rows give 0).
    log_pt = -F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    if gamma == 0:
        modulating = torch.ones_like(log_pt)
    else:
        one_minus_pt = (-torch.expm1(log_pt)).clamp_min(torch.finfo(log_pt.dtype).tiny)
        modulating = one_minus_pt.pow(gamma)
    loss = -modulating * log_pt

    valid = target != ignore_index
    if alpha is not None:
        alpha = _check_class_weight("alpha", alpha, num_classes, logits)
        alpha_t = alpha[target.clamp(0, num_classes - 1)] * valid
        loss = alpha_t * loss
        denominator = alpha_t.sum()
    else:
        denominator = valid.sum().to(loss.dtype)
    if reduction == "mean":
        return loss.sum() / denominator
    return reduce(loss, reduction)


def sigmoid_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary / multi-label focal loss on independent sigmoids (RetinaNet, torchvision's formula).

    $$p = \sigma(x),\quad p_t = p\,y + (1-p)(1-y),\quad
    \ell = \alpha_t\,(1-p_t)^{\gamma}\,\operatorname{BCE}(x, y),\quad
    \alpha_t = \alpha y + (1-\alpha)(1-y)$$

    A negative `alpha` disables the $\alpha_t$ weighting. `"mean"` averages over **all elements**
    as `torchvision.ops.sigmoid_focal_loss` does (checked at pytorch/vision commit 148ddaa); the
    paper instead divides the sum by the number of anchors assigned to a ground-truth box, the
    positives (use `reduction="sum"` and divide yourself).

    Args:
        logits: one logit per element (class and anchor).
        target: same shape as `logits`, values in $[0, 1]$ (soft labels allowed).
        alpha: weight of the positives in $[0, 1]$, or negative to disable.
        gamma: focusing parameter, $\gamma \ge 0$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: any shape `[*]`, float
        - target: `[*]`, the same shape (no broadcasting)
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> x = torch.log(torch.tensor([9.0]))  # p = 0.9
        >>> f"{sigmoid_focal_loss(x, torch.tensor([1.0])).item():.6e}"
        '2.634013e-04'
    """
    check_reduction(reduction)
    check_number("gamma", gamma, low=0.0)
    check_number("alpha", alpha, high=1.0)
    check_tensor("logits", logits, kind="float")
    check_tensor("target", target, kind="float")
    check_same_shape("target", target, "logits", logits)
    check_nonempty("logits", logits, reduction)
    check_range("target", target, 0.0, 1.0)
    check_finite("logits", logits, always=False)

    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    # 1 - p_t from logits without cancellation: p_t = sigmoid(x) on positives, sigmoid(-x) on
    # negatives, so 1 - p_t = sigmoid(-x) y + sigmoid(x) (1 - y).
    one_minus_pt = torch.sigmoid(-logits) * target + torch.sigmoid(logits) * (1 - target)
    if gamma != 0:
        ce = ce * one_minus_pt.clamp_min(torch.finfo(logits.dtype).tiny).pow(gamma)
    if alpha >= 0:
        ce = ce * (alpha * target + (1 - alpha) * (1 - target))
    return reduce(ce, reduction)


def class_weights(
    counts: torch.Tensor,
    *,
    scheme: str = "inverse",
    max_weight: float | None = None,
    beta: float = 0.999,
) -> torch.Tensor:
    r"""Per-class weights from class counts, normalised to average 1 over the samples.

    | scheme | raw weight $\tilde w_c$ |
    |---|---|
    | `"inverse"` | $1 / n_c$ |
    | `"sqrt_inverse"` | $1 / \sqrt{n_c}$ |
    | `"effective_number"` | $(1 - \beta) / (1 - \beta^{n_c})$ (Cui et al. 2019) |

    Then $w_c = \tilde w_c \cdot N / \sum_k n_k \tilde w_k$, so that
    $\frac{1}{N}\sum_i w_{y_i} = 1$. That scale matters for a summed loss or a mean taken by hand
    over $N$, where it keeps the expected loss on the scale of plain cross entropy; PyTorch's
    default weighted mean divides by $\sum_i w_{y_i}$ and ignores any common factor.
    `max_weight` caps the normalised weights last (after the cap they average to at most 1).

    Args:
        counts: number of training samples per class, all positive.
        scheme: `"inverse"`, `"sqrt_inverse"` or `"effective_number"`.
        max_weight: optional cap on any weight, > 0.
        beta: for `"effective_number"`, in $[0, 1)$; $\beta \to 1$ tends to `"inverse"`,
            $\beta = 0$ gives equal weights.

    Shape:
        - counts: `[C]`, integer or float
        - output: `[C]`, float (float64 if `counts` is float64, else the default dtype)

    Example:
        >>> class_weights(torch.tensor([990, 10]))
        tensor([ 0.5051, 50.0000])
        >>> class_weights(torch.tensor([990, 10]), scheme="sqrt_inverse")
        tensor([0.9179, 9.1325])
    """
    check_choice("scheme", scheme, ("inverse", "sqrt_inverse", "effective_number"))
    check_number("beta", beta, low=0.0, high=1.0, high_inclusive=False)
    if max_weight is not None:
        check_number("max_weight", max_weight, low=0.0, low_inclusive=False)
    check_tensor("counts", counts)
    check_shapes(counts=(counts, "C"), nonempty="C")
    dtype = counts.dtype if counts.is_floating_point() else torch.get_default_dtype()
    n = counts.to(torch.float64)  # computed in float64: beta near 1 needs the digits
    check_finite("counts", n)
    if has_values(n) and bool((n <= 0).any()):
        missing = torch.nonzero(n <= 0).flatten().tolist()
        raise ValueError(
            f"counts: expected a positive count for every class, got {counts.tolist()}"
            f" (classes {missing}); drop unseen classes or give them a weight by hand"
        )
    if scheme == "inverse":
        raw = 1.0 / n
    elif scheme == "sqrt_inverse":
        raw = n.rsqrt()
    else:  # (1 - beta) / (1 - beta^n), with beta^n = exp(n log beta) and no cancellation
        raw = (1.0 - beta) / -torch.expm1(n * math.log(beta)) if beta > 0 else torch.ones_like(n)
    weights = raw * n.sum() / (n * raw).sum()
    if max_weight is not None:
        weights = weights.clamp_max(max_weight)
    weights = weights.to(dtype)
    return weights


def label_smoothing_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smoothing: float = 0.1,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross entropy against a smoothed target: $1-\varepsilon$ on the label plus $\varepsilon$
    spread uniformly over all $C$ classes.

    $$q_c = (1-\varepsilon)\,[c = y] + \frac{\varepsilon}{C},\qquad
    \ell = -\sum_c q_c \log p_c
    = (1-\varepsilon)\,(-\log p_y) + \varepsilon\,\frac{1}{C}\sum_c (-\log p_c)$$

    The uniform part includes the true class (PyTorch's and Szegedy et al.'s convention), so the
    label gets $1 - \varepsilon + \varepsilon/C$. The second term is the cross entropy to the
    uniform distribution: it is minimised by equal logits, so it caps how far the logits drift
    apart (the optimal gap between the label and the others is
    $\log\frac{(1-\varepsilon)C + \varepsilon}{\varepsilon}$, finite), where plain cross entropy
    keeps pushing it to infinity. With $\varepsilon = 0$ it is plain cross entropy.

    Equal to `F.cross_entropy(logits, target, label_smoothing=smoothing)`, computed here from
    one `log_softmax`. `"mean"` averages over the non-ignored samples.

    Args:
        logits: unnormalised class scores.
        target: class indices; entries equal to `ignore_index` contribute nothing.
        smoothing: $\varepsilon \in [0, 1]$; 0.1 is the usual choice.
        ignore_index: target value to skip.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
        >>> label_smoothing_cross_entropy(logits, torch.tensor([0]), smoothing=0.0)
        tensor(0.2395)
        >>> label_smoothing_cross_entropy(logits, torch.tensor([0]), smoothing=0.3)
        tensor(0.6395)
    """
    check_reduction(reduction)
    check_number("smoothing", smoothing, low=0.0, high=1.0)
    _check_logits_target(logits, target, ignore_index, reduction)
    log_p = F.log_softmax(logits, dim=-1)
    valid = target != ignore_index
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    nll = -log_p.gather(1, safe_target[:, None]).squeeze(1)
    uniform = -log_p.mean(dim=-1)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    loss = torch.where(valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "mean":
        return loss.sum() / valid.sum()  # 0/0 = NaN when all are ignored, as F.cross_entropy
    return reduce(loss, reduction)


def multiclass_hinge_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 1.0,
    p: int = 1,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class hinge (margin) loss, Weston-Watkins form, PyTorch's normalisation.

    $$\ell_i = \frac{1}{C}\sum_{c \ne y_i} \max\big(0,\ m - (z_{i,y_i} - z_{i,c})\big)^p$$

    Zero once the true class beats every other class by at least the margin $m$: correctly
    classified points with room to spare give no gradient at all (cross entropy never reaches 0).
    Note the division by $C$, not $C - 1$, as in `F.multi_margin_loss`, which this equals.
    For two classes with scores $(0, f)$ and labels $y \in \{-1, +1\}$ it is half the SVM hinge
    $\max(0, 1 - y f)$.

    Args:
        logits: class scores.
        target: class indices.
        margin: $m > 0$.
        p: 1 (hinge) or 2 (squared hinge, differentiable at the kink).
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> logits = torch.tensor([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]])
        >>> multiclass_hinge_loss(logits, torch.tensor([0, 1]), reduction="none")
        tensor([0.1667, 0.6667])
    """
    check_reduction(reduction)
    check_number("margin", margin, low=0.0, low_inclusive=False)
    check_choice("p", p, (1, 2))
    _check_logits_target(logits, target, None, reduction)
    true_score = logits.gather(1, target[:, None])  # [N, 1]
    violation = (margin - true_score + logits).clamp_min(0)  # [N, C]; the c = y term is `margin`
    if p == 2:
        violation = violation.square()
    others = torch.ones_like(violation).scatter_(1, target[:, None], 0.0)
    loss = (violation * others).sum(dim=1) / logits.shape[1]
    return reduce(loss, reduction)


def _check_prior(name: str, prior: torch.Tensor, num_classes: int, logits: torch.Tensor, *,
                 counts: bool) -> torch.Tensor:
    check_tensor(name, prior, kind="float")
    check_shapes(logits=(logits, "N C"), **{name: (prior, str(num_classes))})
    check_finite(name, prior)
    if has_values(prior) and not bool((prior > 0).all()):
        what = "positive class counts" if counts else "positive class probabilities"
        raise ValueError(f"{name}: expected {what}, got {prior.tolist()}")
    return prior.to(logits.dtype)


def logit_adjusted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_prior: torch.Tensor,
    tau: float = 1.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The logit-adjusted loss for long-tailed classes: cross entropy on logits shifted by
    $\tau \log \pi$ during training only.

    $$\ell_i = -\log \frac{e^{z_{i,y_i} + \tau\log\pi_{y_i}}}{\sum_{c} e^{z_{i,c} +
    \tau \log \pi_c}}$$

    Adding $\tau\log\pi_c$ makes a rare class pay a larger margin: for its loss to become small,
    its logit must beat a frequent class's logit by
    $\tau\log(\pi_{\text{frequent}}/\pi_{\text{rare}})$. At test time
    the plain logits $z$ are used, and their argmax estimates the class that is most likely under
    a **balanced** label distribution. With $\tau = 1$ this is the balanced softmax loss
    ([balanced_softmax_cross_entropy][lossbook.classification.balanced_softmax_cross_entropy]).

    Args:
        logits: unnormalised class scores.
        target: class indices; `ignore_index` entries contribute nothing.
        class_prior: the training label distribution $\pi$ (positive; normalised here).
        tau: $\tau \ge 0$, the strength of the adjustment (0: plain cross entropy).
        ignore_index: target value to skip.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - class_prior: `[C]`, float
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> prior = torch.tensor([0.9, 0.1])
        >>> logit_adjusted_cross_entropy(torch.zeros(1, 2), torch.tensor([1]), class_prior=prior)
        tensor(2.3026)
    """
    check_reduction(reduction)
    tau = check_number("tau", tau, low=0.0)
    num_classes = _check_logits_target(logits, target, ignore_index, reduction)
    prior = _check_prior("class_prior", class_prior, num_classes, logits, counts=False)
    log_prior = torch.log(prior / prior.sum())
    return F.cross_entropy(logits + tau * log_prior, target, ignore_index=ignore_index,
                           reduction=reduction)


def balanced_softmax_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_counts: torch.Tensor,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Balanced softmax: the softmax re-weighted by each class's training count.

    $$\ell_i = -\log \frac{n_{y_i}\, e^{z_{i,y_i}}}{\sum_c n_c\, e^{z_{i,c}}}$$

    The training labels follow the long-tailed counts $n_c$ while the test labels are balanced;
    multiplying the model's (balanced) class probabilities by $n_c$ turns them into the
    training distribution, so the likelihood is taken under the right prior. It equals
    [logit_adjusted_cross_entropy][lossbook.classification.logit_adjusted_cross_entropy] with
    $\tau = 1$ and $\pi \propto n$.

    Args:
        logits: unnormalised class scores.
        target: class indices; `ignore_index` entries contribute nothing.
        class_counts: positive number of training examples per class (float).
        ignore_index: target value to skip.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - class_counts: `[C]`, float
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> counts = torch.tensor([900.0, 100.0])
        >>> balanced_softmax_cross_entropy(torch.zeros(1, 2), torch.tensor([1]), class_counts=counts)
        tensor(2.3026)
    """
    check_reduction(reduction)
    num_classes = _check_logits_target(logits, target, ignore_index, reduction)
    counts = _check_prior("class_counts", class_counts, num_classes, logits, counts=True)
    return F.cross_entropy(logits + torch.log(counts), target, ignore_index=ignore_index,
                           reduction=reduction)


def posthoc_logit_adjustment(
    logits: torch.Tensor, *, class_prior: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    r"""Post-hoc logit adjustment: subtract $\tau\log\pi$ from a trained model's logits.

    $$\tilde z_{c} = z_c - \tau \log \pi_c$$

    A model trained with plain cross entropy on long-tailed labels estimates
    $p(y \mid x) \propto p(x \mid y)\,\pi_y$; dividing out the prior ($\tau = 1$) leaves the
    class most likely under balanced labels. It changes predictions only (no retraining): the
    argmax moves toward rare classes.

    Args:
        logits: a trained model's class scores.
        class_prior: the training label distribution $\pi$ (positive; normalised here).
        tau: $\tau \ge 0$ (tune it on a balanced validation set).

    Shape:
        - logits: `[N, C]`, float
        - class_prior: `[C]`, float
        - output: `[N, C]`

    Example:
        >>> prior = torch.tensor([0.9, 0.1])
        >>> posthoc_logit_adjustment(torch.tensor([[1.0, 0.0]]), class_prior=prior).argmax(-1)
        tensor([1])
    """
    tau = check_number("tau", tau, low=0.0)
    check_tensor("logits", logits, kind="float")
    sizes = check_shapes(logits=(logits, "N C"), nonempty="C")
    prior = _check_prior("class_prior", class_prior, sizes["C"], logits, counts=False)
    check_finite("logits", logits, always=False)
    return logits - tau * torch.log(prior / prior.sum())


def ohem_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    num_hard: int,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Online hard example mining: cross entropy on the `num_hard` examples with the highest
    loss in the batch; the others get zero weight.

    $$H = \operatorname{top}_k\{\ell_i\},\qquad \mathcal{L} = \frac{1}{|H|}\sum_{i \in H}\ell_i$$

    A hard 0/1 weight on the loss ranking: the predecessor of focal loss, which replaces the cut
    by a smooth weight $(1 - p_t)^\gamma$ on every example. The selection is not
    differentiated (the top-$k$ indices are constants).

    Args:
        logits: unnormalised class scores.
        target: class indices; `ignore_index` entries are never selected.
        num_hard: $k \ge 1$, how many examples to keep (all valid ones if fewer).
        ignore_index: target value to skip.
        reduction: `"mean"` over the kept examples, `"sum"`, or `"none"` (`[N]`, 0 where not
            kept).

    Shape:
        - logits: `[N, C]`, float
        - target: `[N]`, integer in `[0, C)`
        - output: scalar, or `[N]` with `reduction="none"`

    Example:
        >>> logits = torch.tensor([[3.0, 0.0], [0.0, 0.0], [0.0, 3.0]])
        >>> ohem_cross_entropy(logits, torch.tensor([0, 0, 0]), num_hard=1)  # only the wrong one
        tensor(3.0486)
    """
    check_reduction(reduction)
    check_number("num_hard", num_hard, low=1)
    if isinstance(num_hard, float):
        raise TypeError(f"num_hard: expected an int, got {num_hard!r}")
    _check_logits_target(logits, target, ignore_index, reduction)
    loss = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    ranked = torch.where(valid, loss.detach(), torch.full_like(loss.detach(), -float("inf")))
    k = min(int(num_hard), loss.shape[0])
    chosen = torch.zeros_like(valid).scatter_(0, ranked.topk(k).indices, True) & valid
    return masked_reduce(loss, chosen, reduction)

"""Multi-modal trajectory losses: winner-takes-all and mixture negative log-likelihood."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_finite,
    check_number,
    check_reduction,
    check_shapes,
    check_tensor,
    has_values,
    masked_reduce,
    reduce,
)

__all__ = ["mixture_nll", "wta_trajectory_loss"]


def _check_trajectories(
    pred: torch.Tensor,
    mode_logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    reduction: str,
    **extra: tuple[torch.Tensor, str],
) -> torch.Tensor | None:
    """Validate the common arguments; return the valid-step mask as the dtype of ``pred``
    (``None`` when every step is valid)."""
    check_tensor("pred", pred, kind="float")
    check_tensor("mode_logits", mode_logits, kind="float")
    check_tensor("target", target, kind="float")
    for name, (x, _) in extra.items():
        check_tensor(name, x, kind="float")
    check_shapes(
        pred=(pred, "B K T 2"),
        **extra,
        mode_logits=(mode_logits, "B K"),
        target=(target, "B T 2"),
        mask=(mask, "B T"),
        nonempty="KT" + ("B" if reduction == "mean" else ""),
    )
    check_finite("target", target)
    check_finite("pred", pred, always=False)
    if mask is None:
        return None
    check_tensor("mask", mask, kind="int_or_bool")
    if mask.dtype != torch.bool and has_values(mask) and bool(((mask != 0) & (mask != 1)).any()):
        raise ValueError(f"mask: expected 0/1 or bool values, got {mask.unique().tolist()}")
    return mask.to(pred.dtype)


def wta_trajectory_loss(
    pred: torch.Tensor,
    mode_logits: torch.Tensor,
    target: torch.Tensor,
    *,
    cls_weight: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Winner-takes-all loss for K predicted trajectories plus a mode classifier.

    $$e_k = \frac{1}{|V|}\sum_{t \in V} \lVert \hat y^{(k)}_t - y_t \rVert_2^2,\qquad
    k^* = \arg\min_k e_k,\qquad
    \ell = e_{k^*} - \lambda \log \operatorname{softmax}(\pi)_{k^*}$$

    $V$ is the set of valid steps. Only the winning mode receives a regression gradient; the mode
    classifier learns to put probability on the winner. The regression term is a **mean** over
    valid steps (squared metres per step), so its scale does not grow with the horizon the way a
    sum over time would, and `cls_weight` ($\lambda$) means the same thing at any $T$.

    The winner is chosen without building a graph through all K modes, so the backward pass only
    touches the winning trajectory.

    Args:
        pred: K candidate futures per sample, (x, y) per step.
        mode_logits: unnormalised scores of the K modes.
        target: the logged future.
        cls_weight: $\lambda \ge 0$, weight of the mode cross entropy.
        mask: 1 / `True` on valid target steps. Samples with no valid step contribute 0 and are
            left out of the mean.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - mode_logits: `[B, K]`
        - target: `[B, T, 2]`
        - mask: `[B, T]`, bool or 0/1
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(1, 3, 2)
        >>> pred = torch.stack([torch.ones(3, 2), torch.zeros(3, 2)])[None]  # mode 1 is exact
        >>> wta_trajectory_loss(pred, torch.zeros(1, 2), target)  # 0 + log 2
        tensor(0.6931)
    """
    check_reduction(reduction)
    check_number("cls_weight", cls_weight, low=0.0)
    valid_steps = _check_trajectories(pred, mode_logits, target, mask, reduction)

    B, _, T, _ = pred.shape
    # Reductions run over the trailing (T, 2) block at once: summing a size-2 last dimension on
    # its own is a slow, poorly vectorised kernel on CPU.
    with torch.no_grad():  # choose the winner without a graph through all K modes
        sq = (pred.detach() - target.detach()[:, None]).square()  # [B, K, T, 2]
        if valid_steps is not None:
            sq = sq * valid_steps[:, None, :, None]
        winner = sq.sum(dim=(2, 3)).argmin(dim=1)  # [B]
    best = pred.gather(1, winner.view(B, 1, 1, 1).expand(B, 1, T, 2)).squeeze(1)  # [B, T, 2]
    sq_best = (best - target).square()  # gradient reaches the winner only
    cls = F.cross_entropy(mode_logits, winner, reduction="none")
    if valid_steps is None:
        return reduce(sq_best.sum(dim=(1, 2)) / T + cls_weight * cls, reduction)
    count = valid_steps.sum(dim=1)
    reg = (sq_best * valid_steps[:, :, None]).sum(dim=(1, 2)) / count.clamp_min(1)
    return masked_reduce(reg + cls_weight * cls, count > 0, reduction)


class _ModeLogLikelihood(torch.autograd.Function):
    r"""$\sum_{t,d} w_t \big(-\tfrac12 z_{t,d}^2 - \log s_{t,d}\big)$ per sample and mode (the Laplace
    form: $-|z| - \log s$), $z = (y - \mu)/s$, with a hand-written backward:
    $\partial/\partial\mu = w z / s$ (Laplace: $w\,\mathrm{sign}(z)/s$) and
    $\partial/\partial\log s = w (z^2 - 1)$ (Laplace: $w(|z| - 1)$).

    Autograd through the same expression saves several $[B, K, T, 2]$ intermediates and walks
    each one back; this saves two ($z$ and $1/s$) and makes fewer passes over memory (the
    ``mixture_nll`` case of ``bench/``). Once differentiable: asking for a second derivative
    raises an error instead of returning a wrong one.
    """

    @staticmethod
    def forward(ctx, pred, log_scale, target, weight, gaussian):
        inv_scale = torch.neg(log_scale).exp_()
        z = torch.sub(target[:, None], pred).mul_(inv_scale)  # [B, K, T, 2]
        distance = z.square() if gaussian else z.abs()
        factor = 0.5 if gaussian else 1.0
        if weight is None:
            terms = torch.add(log_scale, distance, alpha=factor)
        else:
            terms = torch.addcmul(log_scale * weight, distance, weight, value=factor)
        ctx.save_for_backward(z, inv_scale, weight)
        ctx.gaussian = gaussian
        # One reduction over the trailing (T, 2) block: a size-2 last dim alone is a slow CPU kernel.
        return terms.sum(dim=(2, 3)).neg_()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        z, inv_scale, weight = ctx.saved_tensors
        g = grad[:, :, None, None]
        if weight is not None:
            g = g * weight
        grad_pred = grad_log_scale = grad_target = None
        if ctx.needs_input_grad[1]:
            grad_log_scale = (z.square() if ctx.gaussian else z.abs()).sub_(1).mul_(g)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[2]:
            slope = (z if ctx.gaussian else z.sign()).mul(inv_scale).mul_(g)  # d log_lik / d mu
            if ctx.needs_input_grad[2]:
                grad_target = slope.sum(dim=1).neg()
            if ctx.needs_input_grad[0]:
                grad_pred = slope
        return grad_pred, grad_log_scale, grad_target, None, None


def mixture_nll(
    pred: torch.Tensor,
    log_scale: torch.Tensor,
    mode_logits: torch.Tensor,
    target: torch.Tensor,
    *,
    distribution: str = "gaussian",
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of the logged future under a mixture of K trajectory modes.

    Each mode is a product of independent Gaussians (or Laplaces) over steps and coordinates:

    $$-\log p(y) = -\operatorname{logsumexp}_k\Big(\log \pi_k
      + \sum_{t \in V}\sum_{d} \log f\big(y_{t,d};\, \mu^{(k)}_{t,d},\, s^{(k)}_{t,d}\big)\Big)$$

    with $\log f = -\tfrac12 z^2 - \log s - \tfrac12\log 2\pi$, $z = (y-\mu)/s$ for the Gaussian and
    $\log f = -|y-\mu|/s - \log 2s$ for the Laplace. Everything stays in log space
    (`log_softmax` + `logsumexp`), so a mode far from the target cannot underflow to
    $\log 0$. Equal to `torch.distributions.MixtureSameFamily` with `Independent(Normal)` or
    `Independent(Laplace)` components on the same parameters.

    Args:
        pred: mode means $\mu$.
        log_scale: log of the standard deviation (Gaussian) or of the scale $b$ (Laplace);
            predicting the log keeps the scale positive without a constraint.
        mode_logits: unnormalised mixture weights.
        target: the logged future.
        distribution: `"gaussian"` or `"laplace"`.
        mask: 1 / `True` on valid target steps; invalid steps are left out of every mode's
            likelihood. Samples with no valid step contribute 0 and are left out of the mean.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred, log_scale: `[B, K, T, 2]`
        - mode_logits: `[B, K]`
        - target: `[B, T, 2]`
        - mask: `[B, T]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> pred = torch.zeros(1, 2, 1, 2)
        >>> nll = mixture_nll(pred, torch.zeros_like(pred), torch.zeros(1, 2), torch.zeros(1, 1, 2))
        >>> round(nll.item(), 6)  # two standard normals at their mean: log(2 pi)
        1.837877
    """
    check_reduction(reduction)
    check_choice("distribution", distribution, ("gaussian", "laplace"))
    valid_steps = _check_trajectories(
        pred, mode_logits, target, mask, reduction, log_scale=(log_scale, "B K T 2")
    )
    check_finite("log_scale", log_scale, always=False)
    if torch.float16 in (pred.dtype, log_scale.dtype, mode_logits.dtype, target.dtype):
        # z^2 of a far mode overflows float16 (max 65504) and turns its zero weight in the
        # gradient into NaN: compute in float32 (bfloat16 has float32's range).
        return mixture_nll(pred.float(), log_scale.float(), mode_logits.float(), target.float(),
                           distribution=distribution, mask=mask, reduction=reduction).half()

    # Per-mode log-likelihood without its constant; forward and backward in a few fused passes.
    gaussian = distribution == "gaussian"
    constant = 0.5 * math.log(2 * math.pi) if gaussian else math.log(2.0)
    weight = None if valid_steps is None else valid_steps[:, None, :, None]
    log_lik = _ModeLogLikelihood.apply(pred, log_scale, target, weight, gaussian)  # [B, K]
    if valid_steps is None:
        count = None
        log_lik = log_lik - constant * 2 * pred.shape[2]
    else:
        count = valid_steps.sum(dim=1)
        log_lik = log_lik - constant * 2 * count[:, None]
    nll = -torch.logsumexp(F.log_softmax(mode_logits, dim=-1) + log_lik, dim=-1)
    if count is None:
        return reduce(nll, reduction)
    return masked_reduce(nll, count > 0, reduction)

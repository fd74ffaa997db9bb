"""Regression losses: Huber (smooth L1 with a threshold) and quantile (pinball) loss."""

from __future__ import annotations

import torch

from ._checks import (
    check_device,
    check_finite,
    check_nonempty,
    check_number,
    check_range,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
    reduce,
)

__all__ = ["huber_loss", "quantile_loss"]


def _check_pred_target(pred: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
    check_tensor("pred", pred, kind="float")
    check_tensor("target", target, kind="float")
    check_nonempty("pred", pred, reduction)
    check_finite("target", target)
    check_finite("pred", pred, always=False)


def huber_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Huber loss: quadratic for residuals up to `delta`, linear beyond.

    $$r = \hat y - y,\qquad
    \ell_\delta(r) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
    \delta\,\big(|r| - \tfrac12\delta\big) & |r| > \delta \end{cases}$$

    The switch point $\delta$ is a **parameter** in the units of the target, not a constant 1:
    choose it near the residual size above which you stop trusting a point. The two pieces meet
    with equal value and slope at $|r| = \delta$, so the gradient $\operatorname{clip}(r,
    -\delta, \delta)$ is continuous and bounded by $\delta$. Limits: $\delta \to \infty$ gives
    $\tfrac12 r^2$ (half the squared error); $\ell_\delta / \delta \to |r|$ as $\delta \to 0$.

    Equal to `F.huber_loss(pred, target, delta=delta)`. PyTorch's `F.smooth_l1_loss(beta=b)` is
    the same curve divided by $b$ (slope 1 in the linear part), so the two agree only at
    $\delta = b = 1$.

    Args:
        pred: predictions.
        target: targets, the same shape as `pred` (no broadcasting).
        delta: switch point $\delta > 0$ between the quadratic and the linear part.
        reduction: `"mean"` over elements, `"sum"` or `"none"`.

    Shape:
        - pred: any shape `[*]`, float
        - target: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
        >>> huber_loss(pred, target, delta=1.0, reduction="none")  # 0.5*0.25, 1*(3-0.5)
        tensor([0.1250, 2.5000])
    """
    check_reduction(reduction)
    check_number("delta", delta, low=0.0, low_inclusive=False)
    _check_pred_target(pred, target, reduction)
    check_same_shape("target", target, "pred", pred)
    abs_r = (pred - target).abs()
    # min(|r|, delta) is the quadratic part's reach; the rest of |r| is paid linearly.
    quad = abs_r.clamp_max(delta)
    loss = 0.5 * quad.square() + delta * (abs_r - quad)
    return reduce(loss, reduction)


def quantile_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    quantile: float | torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Quantile (pinball) loss: an asymmetric L1 whose minimiser is the $\tau$-quantile.

    $$r = y - \hat y,\qquad \rho_\tau(r) = \max(\tau r,\ (\tau - 1) r)
    = \begin{cases} \tau\,r & r \ge 0 \ \text{(under-prediction)} \\
    (1-\tau)\,(-r) & r < 0 \ \text{(over-prediction)} \end{cases}$$

    Under-predicting costs $\tau$ per unit, over-predicting $1-\tau$, so the expected loss is
    minimised where $P(y \le \hat y) = \tau$. At $\tau = 0.5$ it is half the absolute error.

    Pass a float `quantile` for one quantile (then `target` has the shape of `pred`), or a 1-D
    tensor of $Q$ quantiles to train $Q$ heads at once: `pred` has a last dimension of size $Q$
    and `target` lacks it (a prediction interval from e.g. $\tau = 0.1, 0.9$).

    Args:
        pred: predicted quantile(s).
        target: observed values.
        quantile: $\tau \in (0, 1)$, or a tensor of shape `[Q]` of such values.
        reduction: `"mean"` over elements (and quantiles), `"sum"` or `"none"`.

    Shape:
        - pred: `[*]` for a float quantile, `[*, Q]` for a tensor of `Q` quantiles
        - target: `[*]`
        - quantile: a float, or `[Q]`
        - output: scalar, or the shape of `pred` with `reduction="none"`

    Example:
        >>> pred, target = torch.tensor([0.0, 0.0]), torch.tensor([2.0, -2.0])
        >>> quantile_loss(pred, target, quantile=0.9, reduction="none")  # under vs over
        tensor([1.8000, 0.2000])
    """
    check_reduction(reduction)
    _check_pred_target(pred, target, reduction)
    if isinstance(quantile, torch.Tensor):
        check_tensor("quantile", quantile, kind="float")
        check_shapes(quantile=(quantile, "Q"))
        if pred.ndim == 0 or pred.shape[-1] != quantile.shape[0] or pred.shape[:-1] != target.shape:
            raise ValueError(
                f"pred: expected shape [*target.shape, Q] = "
                f"[{', '.join(str(s) for s in (*target.shape, quantile.shape[0]))}] (target "
                f"{list(target.shape)}, quantile {list(quantile.shape)}), got {list(pred.shape)}"
            )
        check_device("target", target, "pred", pred)
        check_finite("quantile", quantile)
        check_range("quantile", quantile, 0.0, 1.0)
        if has_values(quantile) and bool(((quantile <= 0) | (quantile >= 1)).any()):
            raise ValueError(f"quantile: expected values in (0, 1), got {quantile.tolist()}")
        tau = quantile.to(device=pred.device, dtype=pred.dtype)
        r = target.unsqueeze(-1) - pred
    else:
        tau = check_number("quantile", quantile, low=0.0, high=1.0, low_inclusive=False,
                           high_inclusive=False)
        check_same_shape("target", target, "pred", pred)
        r = target - pred
    loss = torch.maximum(tau * r, (tau - 1) * r)
    return reduce(loss, reduction)

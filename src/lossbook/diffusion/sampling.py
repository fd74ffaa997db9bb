r"""Sampling: the DDPM reverse step and sampler with guidance, flow-matching Euler sampling."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import (
    check_choice,
    check_number,
    check_same_shape,
    check_tensor,
)
from ._common import (
    Denoiser,
    _call,
    _check_alphas_cumprod,
    _check_data,
    _check_step,
    _checked_once,
    _sample_device,
)
from .parameterisation import x0_from_eps


def cfg_combine(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    r"""Classifier-free guidance: extrapolate from the unconditional towards the conditional
    prediction.

    $$\tilde\varepsilon = \varepsilon_\theta(x_t, \varnothing)
      + s\,\big(\varepsilon_\theta(x_t, c) - \varepsilon_\theta(x_t, \varnothing)\big)$$

    $s = 0$ is the unconditional model, $s = 1$ the plain conditional one, $s > 1$ pushes
    samples further towards what distinguishes the condition (less diverse, more typical of
    it). Ho & Salimans (2022) write the same rule as $(1+w)\varepsilon_c - w\varepsilon_u$, i.e.
    $w = s - 1$.

    Args:
        eps_cond: prediction with the condition.
        eps_uncond: prediction with the null condition, same shape.
        scale: guidance scale $s \ge 0$.

    Shape:
        - eps_cond, eps_uncond, output: `[B, ...]`

    Example:
        >>> cfg_combine(torch.tensor([1.0]), torch.tensor([0.0]), 3.0)
        tensor([3.])
    """
    check_tensor("eps_cond", eps_cond, kind="float")
    check_tensor("eps_uncond", eps_uncond, kind="float")
    check_same_shape("eps_uncond", eps_uncond, "eps_cond", eps_cond)
    check_number("scale", scale, low=0.0)
    return eps_uncond + scale * (eps_cond - eps_uncond)


def ddpm_step(
    eps: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    alphas_cumprod: torch.Tensor,
    *,
    noise: torch.Tensor | None = None,
    variance: str = "beta",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One ancestral DDPM step $x_t \to x_{t-1}$ from a noise prediction.

    $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
    \hat\varepsilon\Big) + \sigma_t z,\qquad z \sim \mathcal N(0, I)$$

    with $\alpha_t = 1 - \beta_t = \bar\alpha_t / \bar\alpha_{t-1}$ and no noise at the last step
    ($t = 0$ returns the mean). The mean equals the mean of the true posterior
    $q(x_{t-1} \mid x_t, \hat x_0)$ with $\hat x_0$ from `x0_from_eps`.
    `variance="beta"` uses $\sigma_t^2 = \beta_t$, `"posterior"` uses
    $\tilde\beta_t = \beta_t (1-\bar\alpha_{t-1})/(1-\bar\alpha_t)$; Ho et al. report similar
    sample quality for both.

    Args:
        eps: predicted noise $\hat\varepsilon$ at step `t`.
        x_t: current sample.
        t: the current 0-indexed step, an int in `[0, T)` shared by the batch.
        alphas_cumprod: $\bar\alpha$.
        noise: the $z$ to add, shaped like `x_t`; drawn with `generator` when `None`.
        variance: `"beta"` or `"posterior"`.
        generator: random generator for `noise`.

    Shape:
        - eps, x_t, noise, output: `[B, ...]`
        - alphas_cumprod: `[T]`

    Example:
        >>> ab = alphas_cumprod(torch.tensor([0.36, 0.5], dtype=torch.float64))  # [0.64, 0.32]
        >>> x_t, eps = torch.tensor([[1.4]]), torch.tensor([[1.0]])
        >>> round(ddpm_step(eps, x_t, 0, ab).item(), 6)  # t = 0: the mean, which is x0_from_eps
        1.0
    """
    _check_data("x_t", x_t)
    check_tensor("eps", eps, kind="float")
    check_same_shape("eps", eps, "x_t", x_t)
    T = _check_alphas_cumprod(alphas_cumprod)
    t = _check_step(t, T)
    check_choice("variance", variance, ("beta", "posterior"))
    ab = alphas_cumprod.to(torch.float64)
    ab_t = float(ab[t])
    ab_prev = float(ab[t - 1]) if t > 0 else 1.0
    alpha_t = ab_t / ab_prev
    beta_t = 1.0 - alpha_t
    mean = (x_t - (beta_t / math.sqrt(1.0 - ab_t)) * eps) / math.sqrt(alpha_t)
    if t == 0:
        return mean
    if noise is None:
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype, device="cpu").to(
            x_t.device
        )
    else:
        check_tensor("noise", noise, kind="float")
        check_same_shape("noise", noise, "x_t", x_t)
    var = beta_t if variance == "beta" else beta_t * (1.0 - ab_prev) / (1.0 - ab_t)
    return mean + math.sqrt(var) * noise


def ddpm_sample(
    model: Denoiser,
    shape: tuple[int, ...] | torch.Size,
    alphas_cumprod: torch.Tensor,
    *,
    cond: torch.Tensor | None = None,
    uncond: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    cost: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cost_scale: float = 0.0,
    variance: str = "beta",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    return_path: bool = False,
) -> torch.Tensor:
    r"""Ancestral DDPM sampling from pure noise, with optional classifier-free and cost guidance.

    Starting from pure noise $\mathcal N(0, I)$ at array index $T-1$, apply `ddpm_step` for the
    array indices $t = T-1, \dots, 0$. At each step the noise prediction is

    $$\tilde\varepsilon = \underbrace{\varepsilon_u + s\,(\varepsilon_c - \varepsilon_u)}_{
      \text{classifier-free guidance}}
      \;+\; \lambda\sqrt{1-\bar\alpha_t}\;\nabla_{x_t}\, C\big(\hat x_0(x_t)\big)$$

    The second term is guidance by a differentiable cost $C$ (lower is better), evaluated on the
    model's current estimate of the clean sample: it is classifier guidance with
    $\log p(y \mid x_t) = -\lambda C$, except that $C$ sees $\hat x_0$ rather than $x_t$. It is
    the idea behind MotionDiffuser's and CTG's sampling-time guidance by differentiable costs
    and rules (each implements it in its own way): no retraining per scenario.

    Args:
        model: the noise predictor, `model(x, t)` or `model(x, t, cond)`, `t` a `[B]` long tensor.
        shape: shape of the batch to generate, `(B, ...)`.
        alphas_cumprod: $\bar\alpha$, `[T]`.
        cond: condition, first dimension `B`; `None` for an unconditional model.
        uncond: the null condition (same shape as `cond`), required when `guidance_scale != 1`.
        guidance_scale: $s \ge 0$; 1 is plain conditional sampling (one model call per step).
        cost: differentiable $C$: maps $\hat x_0$ `[B, ...]` to a per-sample cost `[B]`.
        cost_scale: $\lambda \ge 0$.
        variance: `"beta"` or `"posterior"` (see `ddpm_step`).
        generator: random generator for the initial noise and every step.
        dtype: floating dtype of the samples.
        device: device of the samples; by default the device of `cond`, else the CPU. The
            noise is drawn on the CPU (with `generator`) and moved, so a seed gives the same
            samples on every device.
        return_path: also return every intermediate sample.

    Shape:
        - output: `shape`; with `return_path=True` a tuple `(samples, path)`, path `[T+1, *shape]`
          from pure noise to the final sample.

    Example:
        >>> ab = alphas_cumprod(linear_beta_schedule(1000))
        >>> def exact(x, t):  # E[eps | x_t] when the data is N(0, 2^2)
        ...     a = ab[t].float()[:, None]
        ...     return (1 - a).sqrt() * x / (4 * a + 1 - a)
        >>> gen = torch.Generator().manual_seed(0)
        >>> round(ddpm_sample(exact, (4000, 1), ab, generator=gen).std().item(), 1)
        2.0
    """
    T = _check_alphas_cumprod(alphas_cumprod)
    shape = tuple(int(s) for s in shape)
    if not shape or shape[0] < 1:
        raise ValueError(f"shape: expected (B, ...) with B >= 1, got {shape}")
    check_number("guidance_scale", guidance_scale, low=0.0)
    check_number("cost_scale", cost_scale, low=0.0)
    check_choice("variance", variance, ("beta", "posterior"))
    B = shape[0]
    guided = guidance_scale != 1.0
    if cond is not None:
        check_tensor("cond", cond)
        if cond.ndim < 1 or cond.shape[0] != B:
            raise ValueError(
                f"cond: expected first dimension B = {B}, got shape {list(cond.shape)}"
            )
    if guided:
        if cond is None or uncond is None:
            raise ValueError(
                "uncond: guidance_scale != 1 needs both cond and uncond (the null condition),"
                f" got cond={'None' if cond is None else 'a tensor'},"
                f" uncond={'None' if uncond is None else 'a tensor'}"
            )
        check_tensor("uncond", uncond)
        check_same_shape("uncond", uncond, "cond", cond)
    if cost is not None and cost_scale == 0.0:
        raise ValueError("cost_scale: a cost was given but cost_scale is 0; pass cost_scale > 0")

    def predict(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        if not guided:
            return _call(model, x, tt, cond)
        both = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, uncond]))
        eps_c, eps_u = both[:B], both[B:]
        return cfg_combine(eps_c, eps_u, guidance_scale)

    device = _sample_device(device, cond)
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    path = [x] if return_path else None
    sqrt_one_minus = (1 - alphas_cumprod.to(torch.float64)).sqrt()
    with _checked_once(alphas_cumprod):  # the schedule's values, once, not at every step
        for step in range(T - 1, -1, -1):
            tt = torch.full((B,), step, dtype=torch.long, device=device)
            if cost is None:
                with torch.no_grad():
                    eps = predict(x, tt)
            else:
                with torch.enable_grad():
                    xg = x.detach().requires_grad_(True)
                    eps = predict(xg, tt)
                    x0_hat = x0_from_eps(xg, tt, eps, alphas_cumprod)
                    c = cost(x0_hat)
                    if not isinstance(c, torch.Tensor) or c.shape != (B,):
                        got = list(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__
                        raise ValueError(
                            f"cost: expected a per-sample cost of shape [{B}], got {got}"
                        )
                    (grad,) = torch.autograd.grad(c.sum(), xg)
                eps = eps.detach() + cost_scale * float(sqrt_one_minus[step]) * grad
            with torch.no_grad():
                x = ddpm_step(eps, x, step, alphas_cumprod, variance=variance, generator=generator)
            if path is not None:
                path.append(x)
    if path is not None:
        return x, torch.stack(path)
    return x


def flow_matching_sample(
    model: Denoiser,
    shape: tuple[int, ...] | torch.Size,
    *,
    steps: int = 20,
    cond: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Integrate a learned velocity field from noise ($t=0$) to data ($t=1$) with Euler steps.

    $$x_{k+1} = x_k + \Delta t\; v_\theta(x_k, t_k),\qquad t_k = k\,\Delta t,\quad
    \Delta t = 1/\text{steps}$$

    Args:
        model: velocity field trained with `flow_matching_loss`, `model(x, t)` or
            `model(x, t, cond)` with `t` a `[B]` float tensor.
        shape: `(B, ...)`.
        steps: number of Euler steps, at least 1.
        cond: optional condition, first dimension `B`.
        generator: random generator for the starting noise.
        dtype: floating dtype of the samples.
        device: device of the samples; by default the device of `cond`, else the CPU (the
            noise is drawn on the CPU and moved).

    Shape:
        - output: `shape`

    Example:
        >>> shift = lambda x, t: torch.full_like(x, 3.0)  # constant field: every path moves by +3
        >>> gen = torch.Generator().manual_seed(0)
        >>> x = flow_matching_sample(shift, (5000, 1), steps=4, generator=gen)
        >>> round(x.mean().item(), 1)
        3.0
    """
    shape = tuple(int(s) for s in shape)
    if not shape or shape[0] < 1:
        raise ValueError(f"shape: expected (B, ...) with B >= 1, got {shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    if cond is not None:
        check_tensor("cond", cond)
        if cond.ndim < 1 or cond.shape[0] != shape[0]:
            raise ValueError(
                f"cond: expected first dimension B = {shape[0]}, got shape {list(cond.shape)}"
            )
    device = _sample_device(device, cond)
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    dt = 1.0 / steps
    with torch.no_grad():
        for k in range(steps):
            t = torch.full((shape[0],), k * dt, dtype=dtype, device=device)
            x = x + dt * _call(model, x, t, cond)
    return x

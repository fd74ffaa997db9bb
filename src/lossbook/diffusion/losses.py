r"""Training losses: DDPM's denoising loss (three parameterisations) and flow matching."""

from __future__ import annotations

import torch

from .._checks import (
    check_choice,
    check_device,
    check_reduction,
    check_same_shape,
    check_tensor,
    has_values,
    reduce,
)
from ._common import (
    Denoiser,
    _call,
    _check_alphas_cumprod,
    _check_cond,
    _check_data,
    _check_timesteps,
)
from .parameterisation import q_sample, v_from_x0_eps


def diffusion_loss(
    model: Denoiser,
    x0: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    *,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    cond: torch.Tensor | None = None,
    parameterization: str = "eps",
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The DDPM training loss $L_{\text{simple}}$: noise the batch, ask the model for the noise.

    $$t \sim \mathcal U\{0, \dots, T-1\},\quad \varepsilon \sim \mathcal N(0, I),\quad
    x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\quad
    \ell = \frac{1}{D}\big\lVert \varepsilon - \varepsilon_\theta(x_t, t) \big\rVert_2^2$$

    with $D$ the number of elements per sample. `parameterization` switches the regression target:
    `"eps"` (the default, Ho et al. 2020), `"x0"` (predict the clean sample) or `"v"`
    ($v = \sqrt{\bar\alpha_t}\varepsilon - \sqrt{1-\bar\alpha_t}x_0$). The three are
    interchangeable at sampling time (`x0_from_eps`, `x0_from_v`, ...) but weight the timesteps
    differently during training.

    Pass `t` and `noise` to make the loss deterministic (tests, debugging); otherwise they are
    drawn with `generator`.

    Args:
        model: the denoiser, called as `model(x_t, t)` or `model(x_t, t, cond)`; `t` is a `[B]`
            long tensor; the output must have the shape of `x_t`.
        x0: a batch of clean data.
        alphas_cumprod: $\bar\alpha$, `[T]`.
        t: timesteps to use, `[B]` integers in `[0, T)`; uniform random when `None`.
        noise: noise to use, shaped like `x0`; standard normal when `None`.
        cond: optional condition passed to the model as its third argument.
        parameterization: `"eps"`, `"x0"` or `"v"`: what the model predicts.
        generator: random generator for `t` and `noise`.
        reduction: `"mean"` over samples, `"sum"` or `"none"` (per-sample loss).

    Shape:
        - x0: `[B, ...]`
        - alphas_cumprod: `[T]`
        - t: `[B]`; noise: like `x0`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> ab = alphas_cumprod(linear_beta_schedule(1000))
        >>> x0, eps = torch.zeros(2, 3), torch.ones(2, 3)
        >>> zero = lambda x_t, t: torch.zeros_like(x_t)  # predicts no noise at all
        >>> diffusion_loss(zero, x0, ab, t=torch.tensor([0, 999]), noise=eps)
        tensor(1.)
    """
    check_reduction(reduction)
    check_choice("parameterization", parameterization, ("eps", "x0", "v"))
    _check_data("x0", x0)
    T = _check_alphas_cumprod(alphas_cumprod)
    B = x0.shape[0]
    if t is None:
        t = torch.randint(0, T, (B,), generator=generator, device="cpu").to(x0.device)
    else:
        _check_timesteps(t, T, B)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device="cpu").to(
            x0.device
        )
    else:
        check_tensor("noise", noise, kind="float")
        check_same_shape("noise", noise, "x0", x0)
    if cond is not None:
        _check_cond(cond, "x0", x0)
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    pred = _call(model, x_t, t, cond)
    if parameterization == "eps":
        target = noise
    elif parameterization == "x0":
        target = x0
    else:
        target = v_from_x0_eps(x0, noise, t, alphas_cumprod)
    per_sample = (pred - target).square().reshape(B, -1).mean(dim=1)
    return reduce(per_sample, reduction)


def flow_matching_loss(
    model: Denoiser,
    x1: torch.Tensor,
    *,
    x0: torch.Tensor | None = None,
    t: torch.Tensor | None = None,
    cond: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Conditional flow matching with straight paths (rectified flow).

    $$x_0 \sim \mathcal N(0, I),\quad t \sim \mathcal U[0, 1],\quad
    x_t = (1-t)\,x_0 + t\,x_1,\quad
    \ell = \frac{1}{D}\big\lVert v_\theta(x_t, t) - (x_1 - x_0) \big\rVert_2^2$$

    Here $x_0$ is **noise** and $x_1$ the **data** (the flow-matching convention, the reverse of
    DDPM's $x_0$). Each pair is joined by a straight line travelled at constant velocity
    $x_1 - x_0$; the model regresses that velocity. The *marginal* field it learns, the average
    over all pairs through a point, is generally not straight, which is why sampling still takes
    several Euler steps (`flow_matching_sample`).

    Args:
        model: velocity field, called as `model(x_t, t)` or `model(x_t, t, cond)` with `t` a `[B]`
            float tensor in [0, 1] (dtype of `x1`); output shaped like `x_t`.
        x1: a batch of data.
        x0: the noise end of each path, shaped like `x1`; standard normal when `None`.
        t: times in [0, 1], `[B]` floats; uniform random when `None`.
        cond: optional condition passed to the model as its third argument.
        generator: random generator for `x0` and `t`.
        reduction: `"mean"` over samples, `"sum"` or `"none"` (per-sample loss).

    Shape:
        - x1, x0: `[B, ...]`
        - t: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> x1, x0 = torch.ones(2, 3), torch.zeros(2, 3)
        >>> exact = lambda x_t, t: torch.ones_like(x_t)  # the true velocity x1 - x0
        >>> flow_matching_loss(exact, x1, x0=x0, t=torch.tensor([0.2, 0.9]))
        tensor(0.)
    """
    check_reduction(reduction)
    _check_data("x1", x1)
    B = x1.shape[0]
    if x0 is None:
        x0 = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device="cpu").to(x1.device)
    else:
        check_tensor("x0", x0, kind="float")
        check_same_shape("x0", x0, "x1", x1)
    if t is None:
        t = torch.rand((B,), generator=generator, dtype=x1.dtype, device="cpu").to(x1.device)
    else:
        check_tensor("t", t, kind="float")
        if t.shape != (B,):
            raise ValueError(f"t: expected one time per sample, shape [{B}], got {list(t.shape)}")
        check_device("t", t, "x1", x1)
        if has_values(t) and not bool(((t >= 0) & (t <= 1)).all()):
            bad = t[~((t >= 0) & (t <= 1))][0].item()
            raise ValueError(f"t: expected times in [0, 1], got {bad!r}")
        t = t.to(x1.dtype)
    if cond is not None:
        _check_cond(cond, "x1", x1)
    tb = t.reshape((-1,) + (1,) * (x1.ndim - 1))
    x_t = (1 - tb) * x0 + tb * x1
    pred = _call(model, x_t, t, cond)
    per_sample = (pred - (x1 - x0)).square().reshape(B, -1).mean(dim=1)
    return reduce(per_sample, reduction)

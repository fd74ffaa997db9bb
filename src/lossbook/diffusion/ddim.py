r"""DDIM (Song et al. 2021): the deterministic-to-ancestral family of reverse steps that shares
DDPM's marginals, timestep respacing for sampling with fewer steps, and the sampler."""

from __future__ import annotations

import math

import torch

from .._checks import check_choice, check_number, check_same_shape, check_tensor
from ._common import (
    Denoiser,
    _call,
    _check_alphas_cumprod,
    _check_data,
    _check_steps,
)

SPACINGS = ("leading", "trailing", "linspace")
PARAMETERIZATIONS = ("eps", "x0", "v")


def respaced_timesteps(
    T: int, steps: int, *, spacing: str = "leading", offset: int = 0
) -> torch.Tensor:
    r"""The `steps` training timesteps (0-indexed, descending) a sampler visits out of `T`.

    $$\text{leading: } t_i = i\,\lfloor T/S \rfloor + \text{offset},\qquad
    \text{trailing: } t_i = \operatorname{round}\big(T - i\,T/S\big) - 1,\qquad
    \text{linspace: } t_i = \operatorname{round}\Big(\frac{i\,(T-1)}{S-1}\Big)$$

    for $i = 0, \dots, S-1$ with $S$ = `steps`, returned from the noisiest down. The three are
    the `timestep_spacing` options of diffusers' schedulers. "leading" (offset 0) never visits
    the last training step $T-1$ unless $S = T$, so the sampler gives pure noise to the network
    at a timestep where it was trained on a less noisy input; "trailing" always starts at $T-1$
    and ends near 0.

    Args:
        T: number of training timesteps, at least 1.
        steps: number of sampling steps, in `[1, T]`.
        spacing: `"leading"`, `"trailing"` or `"linspace"`.
        offset: added to every timestep with `"leading"` (diffusers' `steps_offset`); must keep
            the timesteps below `T`. Only `"leading"` accepts a non-zero offset.

    Shape:
        - output: `[steps]`, int64, descending, on the CPU

    Example:
        >>> respaced_timesteps(1000, 4, spacing="leading")
        tensor([750, 500, 250,   0])
        >>> respaced_timesteps(1000, 4, spacing="trailing")
        tensor([999, 749, 499, 249])
        >>> respaced_timesteps(1000, 4, spacing="linspace")
        tensor([999, 666, 333,   0])
    """
    _check_steps(T)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(
            f"steps: expected an int number of sampling steps, got {type(steps).__name__}"
        )
    if not 1 <= steps <= T:
        raise ValueError(
            f"steps: expected a number of sampling steps in [1, {T}] (T = {T}), got {steps}"
        )
    check_choice("spacing", spacing, SPACINGS)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset: expected a non-negative int, got {offset!r}")
    if offset and spacing != "leading":
        raise ValueError(
            f"offset: only spacing='leading' takes an offset, got offset={offset} with {spacing!r}"
        )
    i = torch.arange(steps, dtype=torch.float64)
    if spacing == "leading":
        t = i * (T // steps) + offset
    elif spacing == "trailing":
        t = torch.round(T - i * (T / steps)) - 1
    else:
        t = (
            torch.round(i * ((T - 1) / (steps - 1)))
            if steps > 1
            else torch.zeros(1, dtype=torch.float64)
        )
    t = t.to(torch.long)
    if int(t.max()) >= T:
        raise ValueError(
            f"offset: expected timesteps below T = {T}, got {int(t.max())} (offset {offset})"
        )
    return t.sort(descending=True).values


def _check_prev(t: object, t_prev: object, T: int) -> tuple[int, int]:
    for name, v in (("t", t), ("t_prev", t_prev)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name}: expected an int timestep, got {type(v).__name__}")
    if not 0 <= t < T:
        raise ValueError(f"t: expected a timestep in [0, {T - 1}] (0-indexed, T = {T}), got {t}")
    if not -1 <= t_prev < t:
        raise ValueError(
            f"t_prev: expected a timestep in [-1, t) = [-1, {t}) (-1 is the clean data), got {t_prev}"
        )
    return t, t_prev


def ddim_step(
    pred: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    t_prev: int,
    alphas_cumprod: torch.Tensor,
    *,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    parameterization: str = "eps",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One DDIM step from timestep `t` to an earlier `t_prev` (any jump, not only one step).

    $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}},\qquad
    \sigma = \eta\,\sqrt{\frac{1-\bar\alpha_{\text{prev}}}{1-\bar\alpha_t}}\,
      \sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{\text{prev}}}}$$
    $$x_{\text{prev}} = \sqrt{\bar\alpha_{\text{prev}}}\,\hat x_0
      + \sqrt{1-\bar\alpha_{\text{prev}}-\sigma^2}\;\hat\varepsilon + \sigma z,
      \qquad z \sim \mathcal N(0, I)$$

    $\eta = 0$ is deterministic (DDIM proper); $\eta = 1$ gives the variance of DDPM's posterior
    over the jump. `t_prev = -1` is the clean end, where $\bar\alpha_{\text{prev}} = 1$ (not
    `alphas_cumprod[-1]`, which is the noisiest step). With `parameterization="x0"` or `"v"`,
    `pred` is converted to $\hat x_0$ and $\hat\varepsilon$ first.

    Args:
        pred: the model's prediction at step `t` (noise, clean sample or v).
        x_t: current sample.
        t: the current 0-indexed timestep, an int shared by the batch.
        t_prev: the timestep to jump to, in `[-1, t)`.
        alphas_cumprod: $\bar\alpha$, `[T]`.
        eta: $\eta \ge 0$; 0 is deterministic.
        noise: the $z$ to add, shaped like `x_t`; drawn with `generator` when `None` and
            $\sigma > 0$.
        parameterization: `"eps"`, `"x0"` or `"v"`: what `pred` is.
        generator: random generator for `noise`.

    Shape:
        - pred, x_t, noise, output: `[B, ...]`
        - alphas_cumprod: `[T]`

    Example:
        >>> ab = torch.tensor([0.9, 0.64], dtype=torch.float64)
        >>> x_t, eps = torch.tensor([[1.4]]), torch.tensor([[1.0]])  # x0 = (1.4 - 0.6) / 0.8 = 1
        >>> round(ddim_step(eps, x_t, 1, -1, ab).item(), 6)  # to the clean end: x0 itself
        1.0
        >>> round(ddim_step(eps, x_t, 1, 0, ab).item(), 6)  # sqrt(0.9) * 1 + sqrt(0.1) * 1
        1.264911
    """
    _check_data("x_t", x_t)
    check_tensor("pred", pred, kind="float")
    check_same_shape("pred", pred, "x_t", x_t)
    T = _check_alphas_cumprod(alphas_cumprod)
    t, t_prev = _check_prev(t, t_prev, T)
    check_number("eta", eta, low=0.0)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    ab = alphas_cumprod.to(torch.float64)
    a_t = float(ab[t])
    a_p = float(ab[t_prev]) if t_prev >= 0 else 1.0
    sa, ss = math.sqrt(a_t), math.sqrt(1.0 - a_t)
    if parameterization == "eps":
        eps, x0 = pred, (x_t - ss * pred) / sa
    elif parameterization == "x0":
        eps, x0 = (x_t - sa * pred) / ss, pred
    else:
        eps, x0 = ss * x_t + sa * pred, sa * x_t - ss * pred
    var = eta**2 * (1.0 - a_p) / (1.0 - a_t) * (1.0 - a_t / a_p)
    out = math.sqrt(a_p) * x0 + math.sqrt(max(1.0 - a_p - var, 0.0)) * eps
    if var == 0.0:
        return out
    if noise is None:
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype, device="cpu").to(
            x_t.device
        )
    else:
        check_tensor("noise", noise, kind="float")
        check_same_shape("noise", noise, "x_t", x_t)
    return out + math.sqrt(var) * noise


def ddim_sample(
    model: Denoiser,
    shape: tuple[int, ...] | torch.Size,
    alphas_cumprod: torch.Tensor,
    *,
    steps: int = 50,
    spacing: str = "trailing",
    eta: float = 0.0,
    parameterization: str = "eps",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    return_path: bool = False,
) -> torch.Tensor:
    r"""DDIM sampling with `steps` model calls: `ddim_step` along `respaced_timesteps`.

    From $x \sim \mathcal N(0, I)$, for the respaced timesteps $t_0 > t_1 > \dots > t_{S-1}$,
    jump $t_i \to t_{i+1}$ (and $t_{S-1} \to -1$, the clean end) with the model's prediction at
    $t_i$. The model is trained once on all $T$ steps; only sampling skips.

    Args:
        model: the denoiser, `model(x, t)` with `t` a `[B]` long tensor; output shaped like `x`.
        shape: shape of the batch to generate, `(B, ...)`.
        alphas_cumprod: $\bar\alpha$ of the training schedule, `[T]`.
        steps: number of sampling steps (model calls), in `[1, T]`.
        spacing: `"leading"`, `"trailing"` or `"linspace"` (see `respaced_timesteps`).
        eta: $\eta \ge 0$ (see `ddim_step`).
        parameterization: `"eps"`, `"x0"` or `"v"`: what the model predicts.
        generator: random generator for the initial noise and, when $\eta > 0$, every step.
        dtype: floating dtype of the samples.
        device: device of the samples (the CPU by default); the noise is drawn on the CPU with
            `generator` and moved, so a seed gives the same samples on every device.
        return_path: also return every intermediate sample.

    Shape:
        - output: `shape`; with `return_path=True` a tuple `(samples, path)`, path
          `[steps + 1, *shape]` from pure noise to the final sample.

    Example:
        >>> ab = alphas_cumprod(linear_beta_schedule(1000))
        >>> def exact(x, t):  # E[eps | x_t] when the data is N(0, 2^2)
        ...     a = ab[t].float()[:, None]
        ...     return (1 - a).sqrt() * x / (4 * a + 1 - a)
        >>> gen = torch.Generator().manual_seed(0)
        >>> round(ddim_sample(exact, (4000, 1), ab, steps=100, generator=gen).std().item(), 1)
        2.0
    """
    T = _check_alphas_cumprod(alphas_cumprod)
    shape = tuple(int(s) for s in shape)
    if not shape or shape[0] < 1:
        raise ValueError(f"shape: expected (B, ...) with B >= 1, got {shape}")
    timesteps = respaced_timesteps(T, steps, spacing=spacing).tolist()
    check_number("eta", eta, low=0.0)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    device = torch.device("cpu") if device is None else torch.device(device)
    B = shape[0]
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    path = [x] if return_path else None
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        tt = torch.full((B,), t, dtype=torch.long, device=device)
        with torch.no_grad():
            pred = _call(model, x, tt, None)
            x = ddim_step(
                pred,
                x,
                t,
                t_prev,
                alphas_cumprod,
                eta=eta,
                parameterization=parameterization,
                generator=generator,
            )
        if path is not None:
            path.append(x)
    if path is not None:
        return x, torch.stack(path)
    return x

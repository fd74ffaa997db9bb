r"""Denoising diffusion (DDPM) and flow matching: schedules, forward noising, training losses,
parameterisation conversions, the reverse step, sampling and classifier-free guidance.

Conventions used throughout (0-indexed, as arrays are):

- `betas[t]`, `t = 0 .. T-1`; `alphas_cumprod[t]` $= \bar\alpha_t = \prod_{s \le t}(1 - \beta_s)$.
  Array index `t` is step `t + 1` of the DDPM paper, which counts $1 \dots T$ with $x_0$ the clean
  data: `q_sample` at `t = 0` has already noised the data once (so does DDPM's reference code).
- $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ (`q_sample`).
- A denoiser is called `model(x_t, t)`, or `model(x_t, t, cond)` when a condition is given, where
  `t` is a `[B]` integer (long) tensor of timesteps, and returns a tensor shaped like `x_t`.
- Schedules are float64 by default; per-sample coefficients are gathered and cast to the dtype of
  the data, so a float32 model still gets coefficients computed in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._checks import (
    check_choice,
    check_device,
    check_finite,
    check_number,
    check_reduction,
    check_same_shape,
    check_tensor,
    has_values,
    reduce,
)

__all__ = [
    "alphas_cumprod",
    "cfg_combine",
    "cosine_beta_schedule",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_loss",
    "eps_from_v",
    "eps_from_x0",
    "flow_matching_loss",
    "flow_matching_sample",
    "linear_beta_schedule",
    "q_sample",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
]

Denoiser = Callable[..., torch.Tensor]


# --------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------


def _check_steps(T: object) -> int:
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"T: expected an int number of diffusion steps, got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T: expected at least 1 diffusion step, got {T}")
    return T


def _check_betas(betas: torch.Tensor) -> None:
    check_tensor("betas", betas, kind="float")
    if betas.ndim != 1 or betas.numel() == 0:
        raise ValueError(
            f"betas: expected a non-empty 1-D tensor [T], got shape {list(betas.shape)}"
        )
    bad = ~((betas > 0) & (betas < 1))
    if has_values(betas) and bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"betas: expected every beta in the open interval (0, 1), got betas[{i}] ="
            f" {betas[i].item()!r} ({int(bad.sum())} out of range)"
        )


def linear_beta_schedule(
    T: int, *, beta_start: float = 1e-4, beta_end: float = 0.02, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    r"""The linear noise schedule of DDPM (Ho et al. 2020): $T$ betas evenly spaced.

    $$\beta_t = \beta_{\text{start}} + \frac{t}{T-1}\,(\beta_{\text{end}} - \beta_{\text{start}}),
    \qquad t = 0, \dots, T-1$$

    With the defaults and $T = 1000$, $\bar\alpha_{999} \approx 4.04 \times 10^{-5}$: the last
    step is almost pure noise.

    Args:
        T: number of diffusion steps, at least 1.
        beta_start: first beta, in (0, 1).
        beta_end: last beta, in (0, 1).
        dtype: floating dtype of the result (float64 by default: see `alphas_cumprod`).

    Shape:
        - output: `[T]`

    Example:
        >>> betas = linear_beta_schedule(1000)
        >>> round(alphas_cumprod(betas)[499].item(), 10)
        0.0785872429
    """
    _check_steps(T)
    check_number(
        "beta_start", beta_start, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    check_number("beta_end", beta_end, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if T == 1:
        return torch.tensor([beta_start], dtype=dtype)
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64).to(dtype)


def cosine_beta_schedule(
    T: int, *, s: float = 0.008, max_beta: float = 0.999, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    r"""The cosine schedule of improved DDPM (Nichol & Dhariwal 2021).

    $$f(u) = \cos^2\!\Big(\frac{u + s}{1 + s}\cdot\frac{\pi}{2}\Big),\qquad
    \beta_t = \min\Big(1 - \frac{f\big((t+1)/T\big)}{f(t/T)},\ \beta_{\max}\Big)$$

    $\bar\alpha$ follows $f(u)/f(0)$, which falls slowly at both ends and linearly in the middle,
    so fewer steps are wasted on nearly clean or nearly pure-noise inputs than with the linear
    schedule. The offset $s$ keeps $\beta_0$ from being vanishingly small; the clip at
    $\beta_{\max}$ avoids $\beta = 1$ at the last step, where $f(1) = 0$.

    Args:
        T: number of diffusion steps, at least 1.
        s: small offset, $\ge 0$.
        max_beta: clip for the last betas, in (0, 1).
        dtype: floating dtype of the result (computed in float64 first).

    Shape:
        - output: `[T]`

    Example:
        >>> betas = cosine_beta_schedule(1000)
        >>> f"{betas[0].item():.6e}", betas[999].item()
        ('4.128422e-05', 0.999)
    """
    _check_steps(T)
    check_number("s", s, low=0.0)
    check_number("max_beta", max_beta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return betas.to(dtype)


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    r"""$\bar\alpha_t = \prod_{s=0}^{t} (1 - \beta_s)$, accumulated in float64.

    The product is formed as $\exp\sum_s \log(1-\beta_s)$ with `log1p`, in float64 whatever the
    dtype of `betas`, and returned in that dtype. Store schedules in float64: a float32
    $\bar\alpha_t$ close to 1 keeps few correct digits of $1 - \bar\alpha_t$, the noise variance
    at small $t$.

    Args:
        betas: the schedule, every entry in (0, 1).

    Shape:
        - betas: `[T]`
        - output: `[T]`, dtype of `betas`

    Example:
        >>> alphas_cumprod(torch.tensor([0.5, 0.5, 0.2], dtype=torch.float64))
        tensor([0.5000, 0.2500, 0.2000], dtype=torch.float64)
    """
    _check_betas(betas)
    out = torch.exp(torch.cumsum(torch.log1p(-betas.to(torch.float64)), dim=0))
    return out.to(betas.dtype)


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_alphas_cumprod(ab: torch.Tensor, name: str = "alphas_cumprod") -> int:
    check_tensor(name, ab, kind="float")
    if ab.ndim != 1 or ab.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D tensor [T], got shape {list(ab.shape)}")
    if not has_values(ab):
        return ab.numel()
    bad = ~((ab > 0) & (ab < 1))
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{name}: expected values in the open interval (0, 1), got {name}[{i}] ="
            f" {ab[i].item()!r}; pass alphas_cumprod(betas), not the betas or alphas"
        )
    if ab.numel() > 1 and bool((ab[1:] > ab[:-1]).any()):
        raise ValueError(f"{name}: expected a non-increasing sequence (a cumulative product)")
    return ab.numel()


def _check_timesteps(t: object, T: int, batch: int) -> torch.Tensor:
    check_tensor("t", t, kind="int")
    if t.ndim != 1 or t.shape[0] != batch:
        raise ValueError(
            f"t: expected one integer timestep per sample, shape [{batch}], got {list(t.shape)}"
        )
    if has_values(t) and (int(t.min()) < 0 or int(t.max()) >= T):
        bad = t[(t < 0) | (t >= T)][0].item()
        raise ValueError(f"t: expected timesteps in [0, {T - 1}] (0-indexed, T = {T}), got {bad}")
    return t


def _check_step(t: object, T: int) -> int:
    if isinstance(t, torch.Tensor) and t.ndim == 0 and not t.is_floating_point():
        t = int(t)
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"t: expected an int timestep, got {type(t).__name__}")
    if not 0 <= t < T:
        raise ValueError(f"t: expected a timestep in [0, {T - 1}] (0-indexed, T = {T}), got {t}")
    return t


def _check_data(name: str, x: object) -> torch.Tensor:
    check_tensor(name, x, kind="float")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(
            f"{name}: expected a batch [B, ...] with B >= 1, got shape {list(x.shape)}"
        )
    return x


def _coef(ab: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``ab[t]`` shaped ``[B, 1, ..., 1]`` to broadcast against ``like`` (never across the batch)."""
    return (
        ab.to(like.device)[t.to(like.device)].to(like.dtype).reshape((-1,) + (1,) * (like.ndim - 1))
    )


def _sqrt_pair(ab: torch.Tensor, t: torch.Tensor, like: torch.Tensor):
    """``sqrt(ab[t])`` and ``sqrt(1 - ab[t])`` computed in float64, broadcastable to ``like``."""
    a = ab.to(torch.float64)
    return _coef(a.sqrt(), t, like), _coef((1 - a).sqrt(), t, like)


def _triple(x_t, t, other, ab, other_name):
    _data = _check_data("x_t", x_t)
    check_tensor(other_name, other, kind="float")
    check_same_shape(other_name, other, "x_t", _data)
    T = _check_alphas_cumprod(ab)
    _check_timesteps(t, T, x_t.shape[0])


# --------------------------------------------------------------------------------------------
# Forward process and parameterisations
# --------------------------------------------------------------------------------------------


def q_sample(
    x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""Noise clean data to step $t$ in one shot (the closed form of the forward process).

    $$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\varepsilon,
    \qquad \varepsilon \sim \mathcal N(0, I)$$

    Each sample gets its own $t$; the coefficients are gathered per sample and broadcast over the
    remaining dimensions only (a `[B]` coefficient never broadcasts against a feature axis).

    Args:
        x0: clean data.
        t: 0-indexed timestep per sample, in `[0, T)`.
        noise: standard normal noise, same shape as `x0`.
        alphas_cumprod: $\bar\alpha$, e.g. `alphas_cumprod(linear_beta_schedule(1000))`.

    Shape:
        - x0, noise: `[B, ...]`
        - t: `[B]`, integer
        - alphas_cumprod: `[T]`
        - output: `[B, ...]`, dtype of `x0`

    Example:
        >>> ab = torch.tensor([0.64, 0.36], dtype=torch.float64)
        >>> q_sample(torch.ones(2, 1), torch.tensor([0, 1]), torch.ones(2, 1), ab)
        tensor([[1.4000],
                [1.4000]])
    """
    _check_data("x0", x0)
    check_tensor("noise", noise, kind="float")
    check_same_shape("noise", noise, "x0", x0)
    T = _check_alphas_cumprod(alphas_cumprod)
    _check_timesteps(t, T, x0.shape[0])
    check_finite("x0", x0, always=False)
    a, s = _sqrt_pair(alphas_cumprod, t, x0)
    return a * x0 + s * noise


def x0_from_eps(
    x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The clean sample implied by a noise prediction: invert `q_sample`.

    $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}}$$

    At large $t$ the division by $\sqrt{\bar\alpha_t}$ amplifies any error in
    $\hat\varepsilon$ (by about 157 at the last step of the linear schedule).

    Args:
        x_t: noisy sample.
        t: 0-indexed timestep per sample.
        eps: predicted noise, same shape as `x_t`.
        alphas_cumprod: $\bar\alpha$.

    Shape:
        - x_t, eps: `[B, ...]`; t: `[B]`; alphas_cumprod: `[T]`; output: `[B, ...]`

    Example:
        >>> ab = torch.tensor([0.64], dtype=torch.float64)
        >>> x0 = x0_from_eps(torch.tensor([[1.4]]), torch.tensor([0]), torch.tensor([[1.0]]), ab)
        >>> round(x0.item(), 6)  # (1.4 - 0.6 * 1) / 0.8
        1.0
    """
    _triple(x_t, t, eps, alphas_cumprod, "eps")
    a, s = _sqrt_pair(alphas_cumprod, t, x_t)
    return (x_t - s * eps) / a


def eps_from_x0(
    x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The noise implied by a clean-sample prediction.

    $$\hat\varepsilon = \frac{x_t - \sqrt{\bar\alpha_t}\,\hat x_0}{\sqrt{1-\bar\alpha_t}}$$

    Args:
        x_t: noisy sample.
        t: 0-indexed timestep per sample.
        x0: predicted clean sample, same shape as `x_t`.
        alphas_cumprod: $\bar\alpha$.

    Shape:
        - x_t, x0: `[B, ...]`; t: `[B]`; alphas_cumprod: `[T]`; output: `[B, ...]`

    Example:
        >>> ab = torch.tensor([0.64], dtype=torch.float64)
        >>> eps = eps_from_x0(torch.tensor([[1.4]]), torch.tensor([0]), torch.tensor([[1.0]]), ab)
        >>> round(eps.item(), 6)  # (1.4 - 0.8 * 1) / 0.6
        1.0
    """
    _triple(x_t, t, x0, alphas_cumprod, "x0")
    a, s = _sqrt_pair(alphas_cumprod, t, x_t)
    return (x_t - a * x0) / s


def v_from_x0_eps(
    x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The v-prediction target (Salimans & Ho 2022).

    $$v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1-\bar\alpha_t}\,x_0$$

    With $x_t = \cos\phi\,x_0 + \sin\phi\,\varepsilon$, $v = \frac{d x_t}{d\phi}$: a rotation
    of $(x_0, \varepsilon)$ by the angle $\phi$, so its scale stays the same at every $t$.

    Args:
        x0: clean sample.
        eps: the noise used to make $x_t$, same shape as `x0`.
        t: 0-indexed timestep per sample.
        alphas_cumprod: $\bar\alpha$.

    Shape:
        - x0, eps: `[B, ...]`; t: `[B]`; alphas_cumprod: `[T]`; output: `[B, ...]`

    Example:
        >>> ab = torch.tensor([0.64], dtype=torch.float64)
        >>> v = v_from_x0_eps(torch.tensor([[1.0]]), torch.tensor([[1.0]]), torch.tensor([0]), ab)
        >>> round(v.item(), 6)  # 0.8 * 1 - 0.6 * 1
        0.2
    """
    _check_data("x0", x0)
    check_tensor("eps", eps, kind="float")
    check_same_shape("eps", eps, "x0", x0)
    T = _check_alphas_cumprod(alphas_cumprod)
    _check_timesteps(t, T, x0.shape[0])
    a, s = _sqrt_pair(alphas_cumprod, t, x0)
    return a * eps - s * x0


def x0_from_v(
    x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The clean sample implied by a v prediction.

    $$\hat x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1-\bar\alpha_t}\,\hat v$$

    Args:
        x_t: noisy sample.
        t: 0-indexed timestep per sample.
        v: predicted v, same shape as `x_t`.
        alphas_cumprod: $\bar\alpha$.

    Shape:
        - x_t, v: `[B, ...]`; t: `[B]`; alphas_cumprod: `[T]`; output: `[B, ...]`

    Example:
        >>> ab = torch.tensor([0.64], dtype=torch.float64)
        >>> round(x0_from_v(torch.tensor([[1.4]]), torch.tensor([0]), torch.tensor([[0.2]]), ab).item(), 6)
        1.0
    """
    _triple(x_t, t, v, alphas_cumprod, "v")
    a, s = _sqrt_pair(alphas_cumprod, t, x_t)
    return a * x_t - s * v


def eps_from_v(
    x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The noise implied by a v prediction.

    $$\hat\varepsilon = \sqrt{1-\bar\alpha_t}\,x_t + \sqrt{\bar\alpha_t}\,\hat v$$

    Args:
        x_t: noisy sample.
        t: 0-indexed timestep per sample.
        v: predicted v, same shape as `x_t`.
        alphas_cumprod: $\bar\alpha$.

    Shape:
        - x_t, v: `[B, ...]`; t: `[B]`; alphas_cumprod: `[T]`; output: `[B, ...]`

    Example:
        >>> ab = torch.tensor([0.64], dtype=torch.float64)
        >>> round(eps_from_v(torch.tensor([[1.4]]), torch.tensor([0]), torch.tensor([[0.2]]), ab).item(), 6)
        1.0
    """
    _triple(x_t, t, v, alphas_cumprod, "v")
    a, s = _sqrt_pair(alphas_cumprod, t, x_t)
    return s * x_t + a * v


# --------------------------------------------------------------------------------------------
# Training losses
# --------------------------------------------------------------------------------------------


def _sample_device(device: torch.device | str | None, cond: torch.Tensor | None) -> torch.device:
    """The samplers' device: ``device``, else the condition's, else the CPU."""
    if device is None:
        return cond.device if cond is not None else torch.device("cpu")
    device = torch.device(device)
    if cond is not None and cond.device != device:
        raise ValueError(f"cond: expected device {device} (as device), got {cond.device}")
    return device


def _check_cond(cond: object, name: str, x: torch.Tensor) -> None:
    """A condition: one row per sample of ``x``, on its device (the rest is the model's)."""
    check_tensor("cond", cond)
    if cond.ndim < 1 or cond.shape[0] != x.shape[0]:
        raise ValueError(
            f"cond: expected first dimension B = {x.shape[0]} (as {name}), got shape"
            f" {list(cond.shape)}"
        )
    check_device("cond", cond, name, x)


def _call(model: Denoiser, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None):
    out = model(x, t) if cond is None else model(x, t, cond)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model: expected an output shaped like x_t {list(x.shape)}, got {got}")
    return out


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


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


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
                    raise ValueError(f"cost: expected a per-sample cost of shape [{B}], got {got}")
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

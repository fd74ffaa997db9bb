r"""Noise schedules: the betas and their cumulative product $\bar\alpha_t$."""

from __future__ import annotations

import math

import torch

from .._checks import (
    check_number,
)
from ._common import (
    _check_betas,
    _check_steps,
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

r"""The closed-form forward process and the conversions between the $\varepsilon$, $x_0$ and $v$
parameterisations."""

from __future__ import annotations

import torch

from .._checks import (
    check_finite,
    check_same_shape,
    check_tensor,
)
from ._common import (
    _check_alphas_cumprod,
    _check_data,
    _check_timesteps,
    _sqrt_pair,
    _triple,
)


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

r"""Loss weighting across noise levels: the signal-to-noise ratio, min-SNR-$\gamma$ weights for the
three parameterisations, and EDM's preconditioning and loss weight."""

from __future__ import annotations

import torch

from .._checks import check_choice, check_number, check_tensor, has_values
from ._common import _check_alphas_cumprod

PARAMETERIZATIONS = ("eps", "x0", "v")


def snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    r"""The signal-to-noise ratio of every timestep of a schedule.

    $$\text{SNR}_t = \frac{\bar\alpha_t}{1 - \bar\alpha_t}$$

    $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ carries signal power
    $\bar\alpha_t$ and noise power $1 - \bar\alpha_t$. Computed in float64 and returned in the
    dtype of `alphas_cumprod`.

    Args:
        alphas_cumprod: $\bar\alpha$, every value in (0, 1), non-increasing.

    Shape:
        - alphas_cumprod, output: `[T]`

    Example:
        >>> snr(torch.tensor([0.8, 0.5, 0.2], dtype=torch.float64))
        tensor([4.0000, 1.0000, 0.2500], dtype=torch.float64)
    """
    _check_alphas_cumprod(alphas_cumprod)
    a = alphas_cumprod.to(torch.float64)
    return (a / (1 - a)).to(alphas_cumprod.dtype)


def min_snr_weight(
    snr: torch.Tensor, *, gamma: float = 5.0, parameterization: str = "eps"
) -> torch.Tensor:
    r"""Min-SNR-$\gamma$ weights (Hang et al. 2023) for the per-sample MSE of each parameterisation.

    The weight is $\min(\text{SNR}, \gamma)$ on the error of $\hat x_0$. Because
    $\lVert\varepsilon - \hat\varepsilon\rVert^2 = \text{SNR}\,\lVert x_0 - \hat x_0\rVert^2$ and
    $\lVert v - \hat v\rVert^2 = (\text{SNR} + 1)\,\lVert x_0 - \hat x_0\rVert^2$, the same
    weighting applied to the loss a model is trained with is

    $$w_{x_0} = \min(\text{SNR}, \gamma),\qquad
      w_\varepsilon = \frac{\min(\text{SNR}, \gamma)}{\text{SNR}},\qquad
      w_v = \frac{\min(\text{SNR}, \gamma)}{\text{SNR} + 1}$$

    Args:
        snr: signal-to-noise ratio per sample (e.g. `snr(ab)[t]`), every value $> 0$.
        gamma: the clamp $\gamma > 0$.
        parameterization: `"eps"`, `"x0"` or `"v"`: the MSE the weight multiplies.

    Shape:
        - snr, output: any shape (usually `[B]`)

    Example:
        >>> s = torch.tensor([20.0, 5.0, 0.25])
        >>> min_snr_weight(s)  # eps: min(1, gamma / SNR)
        tensor([0.2500, 1.0000, 1.0000])
        >>> min_snr_weight(s, parameterization="v")
        tensor([0.2381, 0.8333, 0.2000])
    """
    check_tensor("snr", snr, kind="float")
    check_number("gamma", gamma, low=0.0, low_inclusive=False)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    if has_values(snr) and not bool((snr > 0).all()):
        bad = snr[~(snr > 0)].flatten()[0].item()
        raise ValueError(f"snr: expected every signal-to-noise ratio > 0, got {bad!r}")
    clamped = snr.clamp(max=gamma)
    if parameterization == "x0":
        return clamped
    if parameterization == "eps":
        return clamped / snr
    return clamped / (snr + 1)


def _check_sigma(sigma: object, sigma_data: object) -> None:
    check_tensor("sigma", sigma, kind="float")
    check_number("sigma_data", sigma_data, low=0.0, low_inclusive=False)
    if has_values(sigma) and not bool((sigma > 0).all()):
        bad = sigma[~(sigma > 0)].flatten()[0].item()
        raise ValueError(f"sigma: expected every noise level > 0, got {bad!r}")


def edm_precondition(
    sigma: torch.Tensor, *, sigma_data: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""EDM's preconditioning (Karras et al. 2022): the denoiser is
    $D(x; \sigma) = c_{\text{skip}}\,x + c_{\text{out}}\,F\big(c_{\text{in}}\,x;\ c_{\text{noise}}\big)$.

    $$c_{\text{skip}} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\quad
      c_{\text{out}} = \frac{\sigma\,\sigma_d}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
      c_{\text{in}} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
      c_{\text{noise}} = \tfrac14 \ln \sigma$$

    Here $x = y + \sigma n$ with $y$ the data (standard deviation $\sigma_d$) and no scaling:
    $c_{\text{in}}$ gives the network a unit-variance input, and $c_{\text{skip}}, c_{\text{out}}$
    make its regression target $(y - c_{\text{skip}} x)/c_{\text{out}}$ unit-variance too.

    Args:
        sigma: noise levels, every value $> 0$.
        sigma_data: standard deviation of the data, $> 0$.

    Shape:
        - sigma and each output: the same shape (usually `[B]`)

    Example:
        >>> c_skip, c_out, c_in, c_noise = edm_precondition(torch.tensor([0.5]))
        >>> c_skip, c_out, c_in  # sigma = sigma_data: half skip, and 1/sqrt(2) scales
        (tensor([0.5000]), tensor([0.3536]), tensor([1.4142]))
    """
    _check_sigma(sigma, sigma_data)
    s2 = sigma.square() + sigma_data**2
    return (
        sigma_data**2 / s2,
        sigma * sigma_data / s2.sqrt(),
        s2.rsqrt(),
        sigma.log() / 4,
    )


def edm_loss_weight(sigma: torch.Tensor, *, sigma_data: float = 0.5) -> torch.Tensor:
    r"""EDM's loss weight $\lambda(\sigma)$ on $\lVert D(x;\sigma) - y\rVert^2$.

    $$\lambda(\sigma) = \frac{\sigma^2 + \sigma_d^2}{(\sigma\,\sigma_d)^2} = \frac{1}{c_{\text{out}}^2}$$

    With this weight the loss on the denoiser $D$ equals the unweighted MSE of the network $F$
    against its unit-variance target: every noise level starts with the same loss scale.

    Args:
        sigma: noise levels, every value $> 0$.
        sigma_data: standard deviation of the data, $> 0$.

    Shape:
        - sigma, output: the same shape

    Example:
        >>> edm_loss_weight(torch.tensor([0.5, 1.0]))
        tensor([8., 5.])
    """
    _check_sigma(sigma, sigma_data)
    return (sigma.square() + sigma_data**2) / (sigma * sigma_data).square()

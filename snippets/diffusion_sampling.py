"""Interview snippets for the lesson diffusion-sampling.md: a DDIM step and min-SNR weights."""

# --8<-- [start:ddim_step]
import torch


def ddim_step(eps, x_t, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones_like(a_t)  # not ab[-1]!
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
    out = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).sqrt() * eps
    if eta > 0:
        noise = torch.randn_like(x_t) if noise is None else noise
        out = out + sigma * noise
    return out
# --8<-- [end:ddim_step]


# --8<-- [start:min_snr_weight]
import torch


def min_snr_weight(snr, gamma=5.0, parameterization="eps"):
    w = snr.clamp(max=gamma)  # min(SNR, gamma): the weight on the x0 error
    if parameterization == "eps":
        return w / snr  # ||eps error||^2 = SNR * ||x0 error||^2
    if parameterization == "v":
        return w / (snr + 1)  # ||v error||^2 = (SNR + 1) * ||x0 error||^2
    return w
# --8<-- [end:min_snr_weight]

"""DDPM in interview-sized pieces: schedules, q_sample, the training loss, a reverse step, CFG."""

# --8<-- [start:linear_beta_schedule]
import torch


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    # float64: the 1000-step product and 1 - alpha_bar keep their digits
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
# --8<-- [end:linear_beta_schedule]


# --8<-- [start:cosine_beta_schedule]
import math

import torch


def cosine_beta_schedule(T, s=0.008):
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # alpha_bar(u) up to f(0)
    return (1 - f[1:] / f[:-1]).clamp(max=0.999)  # beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}
# --8<-- [end:cosine_beta_schedule]


# --8<-- [start:cosine_beta_schedule_numpy]
import numpy as np


def cosine_beta_schedule_np(T, s=0.008):
    u = np.arange(T + 1) / T  # float64 by default in NumPy
    f = np.cos((u + s) / (1 + s) * np.pi / 2) ** 2
    return np.minimum(1 - f[1:] / f[:-1], 0.999)
# --8<-- [end:cosine_beta_schedule_numpy]


# --8<-- [start:q_sample]
import torch


def q_sample(x0, t, noise, alphas_cumprod):
    # x0, noise [B, ...]; t [B] int in [0, T); alphas_cumprod [T]
    a = alphas_cumprod[t].to(x0.dtype)
    a = a.view(-1, *([1] * (x0.dim() - 1)))  # [B, 1, ...]: never broadcast across features
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
# --8<-- [end:q_sample]


# --8<-- [start:q_sample_numpy]
import numpy as np


def q_sample_np(x0, t, noise, alphas_cumprod):
    # x0, noise [B, ...]; t [B] int; alphas_cumprod [T]
    a = alphas_cumprod[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
# --8<-- [end:q_sample_numpy]


# --8<-- [start:diffusion_loss]
import torch
import torch.nn.functional as F


def diffusion_loss(model, x0, alphas_cumprod):
    # model(x_t, t) predicts the noise; x0 [B, ...]; alphas_cumprod [T]
    B, T = x0.shape[0], alphas_cumprod.shape[0]
    t = torch.randint(0, T, (B,), device=x0.device)  # 0-indexed: 0 .. T-1
    noise = torch.randn_like(x0)
    a = alphas_cumprod[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return F.mse_loss(model(x_t, t), noise)
# --8<-- [end:diffusion_loss]


# --8<-- [start:ddpm_step]
import torch


def ddpm_step(eps, x_t, t, alphas_cumprod):
    # one reverse step x_t -> x_{t-1}; t is a python int shared by the batch
    a_bar = alphas_cumprod[t].item()
    a_bar_prev = alphas_cumprod[t - 1].item() if t > 0 else 1.0
    alpha = a_bar / a_bar_prev  # 1 - beta_t
    mean = (x_t - (1 - alpha) / (1 - a_bar) ** 0.5 * eps) / alpha**0.5
    if t == 0:
        return mean  # no noise on the last step
    return mean + (1 - alpha) ** 0.5 * torch.randn_like(x_t)  # sigma_t^2 = beta_t
# --8<-- [end:ddpm_step]


# --8<-- [start:cfg]
def cfg(eps_cond, eps_uncond, scale):
    # scale 0: unconditional, 1: conditional, > 1: pushed further towards the condition
    return eps_uncond + scale * (eps_cond - eps_uncond)
# --8<-- [end:cfg]


# --8<-- [start:flow_matching_loss]
import torch
import torch.nn.functional as F


def flow_matching_loss(model, x1):
    # x1: data [B, ...]; x0: noise; straight path x_t = (1 - t) x0 + t x1, velocity x1 - x0
    x0 = torch.randn_like(x1)
    t = torch.rand(x1.shape[0], device=x1.device, dtype=x1.dtype)
    tb = t.view(-1, *([1] * (x1.dim() - 1)))
    x_t = (1 - tb) * x0 + tb * x1
    return F.mse_loss(model(x_t, t), x1 - x0)
# --8<-- [end:flow_matching_loss]


# --8<-- [start:mixture_denoiser]
import torch


def mixture_denoiser(weights, means, stds, alphas_cumprod):
    # The exact eps-predictor E[eps | x_t] for 1-D data from a Gaussian mixture: what a perfectly
    # trained network would output. weights, means, stds: [K]; returns model(x_t [B, 1], t [B]).
    def model(x_t, t):
        a = alphas_cumprod[t].to(x_t.dtype)[:, None]  # [B, 1]
        var = a * stds**2 + 1 - a  # [B, K]: x_t | k ~ N(sqrt(a) m_k, a s_k^2 + 1 - a)
        resid = x_t - a.sqrt() * means
        log_r = torch.log(weights) - 0.5 * resid**2 / var - 0.5 * torch.log(var)
        r = torch.softmax(log_r, dim=1)  # posterior over components given x_t
        return ((1 - a).sqrt() * resid / var * r).sum(dim=1, keepdim=True)
    return model
# --8<-- [end:mixture_denoiser]

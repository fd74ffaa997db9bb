"""Diffusion lessons: q_sample and the DDPM training loss against plain formulas (forward +
backward), and the DDPM and DDIM reverse steps against the textbook one-liners. Validation is the only extra work
the library does; these cases keep it small."""

from __future__ import annotations

import torch

import lossbook
from bench.common import Case, forward_backward

B, D = 256, 3 * 32 * 32  # a batch of small images, flattened
AB = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))


def _inputs():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(B, D, generator=g).requires_grad_()
    return x0, torch.randint(0, 1000, (B,), generator=g), torch.randn(B, D, generator=g)


def _plain_q_sample(x0, t, noise):
    a = AB[t].to(x0.dtype)[:, None]
    return (a.sqrt() * x0 + (1 - a).sqrt() * noise).square().mean()


def q_sample():
    return forward_backward(
        lambda x0, t, n: lossbook.q_sample(x0, t, n, AB).square().mean(), _inputs
    )


def plain_q_sample():
    return forward_backward(_plain_q_sample, _inputs)


_MODEL = torch.nn.Linear(D, D)


def _model(x_t, t):
    return _MODEL(x_t)


def diffusion_loss():
    return forward_backward(
        lambda x0, t, n: lossbook.diffusion_loss(_model, x0, AB, t=t, noise=n), _inputs
    )


def _plain_loss(x0, t, noise):
    a = AB[t].to(x0.dtype)[:, None]
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return (_model(x_t, t) - noise).square().mean()


def plain_diffusion_loss():
    return forward_backward(_plain_loss, _inputs)


def ddpm_step():
    x0, _, noise = _inputs()
    x, eps = x0.detach(), noise

    def step():
        for t in (999, 500, 1):
            lossbook.ddpm_step(eps, x, t, AB, noise=noise)

    return step


def plain_ddpm_step():
    x0, _, noise = _inputs()
    x, eps = x0.detach(), noise

    def step():
        for t in (999, 500, 1):
            a_bar, a_prev = AB[t].item(), AB[t - 1].item()
            alpha = a_bar / a_prev
            mean = (x - (1 - alpha) / (1 - a_bar) ** 0.5 * eps) / alpha**0.5
            _ = mean + (1 - alpha) ** 0.5 * noise

    return step


# DDIM jumps of a respaced sampler: deterministic (eta = 0), DDPM-like with noise (eta = 1),
# and the last jump to the clean end (t_prev = -1, alpha_bar_prev = 1)
DDIM_JUMPS = ((999, 949, 0.0), (500, 450, 1.0), (49, -1, 0.0))


def ddim_step():
    x0, _, noise = _inputs()
    x, eps = x0.detach(), noise

    def step():
        for t, t_prev, eta in DDIM_JUMPS:
            lossbook.ddim_step(eps, x, t, t_prev, AB, eta=eta, noise=noise)

    return step


def plain_ddim_step():
    x0, _, noise = _inputs()
    x, eps = x0.detach(), noise

    def step():
        for t, t_prev, eta in DDIM_JUMPS:
            a_t = AB[t].item()
            a_prev = AB[t_prev].item() if t_prev >= 0 else 1.0
            x0_hat = (x - (1 - a_t) ** 0.5 * eps) / a_t**0.5
            sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
            out = a_prev**0.5 * x0_hat + (1 - a_prev - sigma**2) ** 0.5 * eps
            if sigma > 0:
                out = out + sigma * noise

    return step


CASES = [
    Case(
        "q_sample B=256 D=3072", "lossbook.q_sample", "plain formula", q_sample, plain_q_sample, 1.3
    ),
    Case(
        "diffusion_loss B=256 D=3072, linear model",
        "lossbook.diffusion_loss",
        "plain formula",
        diffusion_loss,
        plain_diffusion_loss,
        1.2,
    ),
    Case(
        "ddpm_step B=256 D=3072 (3 steps)",
        "lossbook.ddpm_step",
        "plain formula",
        ddpm_step,
        plain_ddpm_step,
        1.3,
        memory=False,
    ),
    Case(
        "ddim_step B=256 D=3072 (3 jumps, eta 0 and 1)",
        "lossbook.ddim_step",
        "plain formula",
        ddim_step,
        plain_ddim_step,
        1.1,
        memory=False,
    ),
]

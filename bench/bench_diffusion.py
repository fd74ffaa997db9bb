"""Diffusion lessons: q_sample and the DDPM training loss against plain formulas (forward +
backward), and the reverse step against the textbook one-liner. Validation is the only extra work
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
]

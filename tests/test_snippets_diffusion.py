"""The interview snippets in snippets/diffusion.py equal their lossbook twins (values, gradients)."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import lossbook

S = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "diffusion.py"))
AB = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))


@pytest.mark.parametrize("T", [1, 10, 1000])
def test_schedules(T):
    torch.testing.assert_close(
        S["linear_beta_schedule"](T), lossbook.linear_beta_schedule(T), rtol=0, atol=0
    ) if T > 1 else None
    torch.testing.assert_close(S["cosine_beta_schedule"](T), lossbook.cosine_beta_schedule(T))
    np.testing.assert_allclose(
        S["cosine_beta_schedule_np"](T), lossbook.cosine_beta_schedule(T).numpy(), rtol=1e-12
    )


def test_schedule_check_values_from_the_snippets():
    ab = torch.cumprod(1 - S["linear_beta_schedule"](1000), 0)
    assert ab[499].item() == pytest.approx(0.0785872429, abs=5e-11)
    cos = S["cosine_beta_schedule"](1000)
    assert cos[0].item() == pytest.approx(4.128422e-05, rel=1e-6)
    assert torch.cumprod(1 - cos, 0)[499].item() == pytest.approx(0.4938435904, abs=5e-11)


@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 4, 2)])
def test_q_sample(shape):
    gen = torch.Generator().manual_seed(len(shape))
    x0 = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 1, 499, 998, 999])
    ours, ref = S["q_sample"](x0, t, noise, AB), lossbook.q_sample(x0, t, noise, AB)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.square().sum(), x0)
    (g2,) = torch.autograd.grad(ref.square().sum(), x0)
    torch.testing.assert_close(g1, g2)
    np.testing.assert_allclose(
        S["q_sample_np"](x0.detach().numpy(), t.numpy(), noise.numpy(), AB.numpy()),
        ref.detach().numpy(),
        rtol=1e-12,
    )


def test_q_sample_square_batch_does_not_broadcast_across_features():
    # B == D is where a [B] coefficient would silently broadcast along the feature axis
    x0, noise = torch.ones(3, 3), torch.zeros(3, 3)
    out = S["q_sample"](x0, torch.tensor([0, 500, 999]), noise, AB)
    torch.testing.assert_close(out, lossbook.q_sample(x0, torch.tensor([0, 500, 999]), noise, AB))
    assert out[0, 0] > 0.99 and out[2, 0] < 0.01


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3, dtype=torch.float64)

    def forward(self, x, t):
        return self.lin(torch.cat([x, t[:, None].to(x.dtype) / 1000], dim=1))


def test_diffusion_loss_draws_like_the_library():
    # same seed, same draws: t first, then the noise
    model = Tiny()
    x0 = torch.randn(16, 3, dtype=torch.float64)
    torch.manual_seed(7)
    ours = S["diffusion_loss"](model, x0, AB)
    torch.manual_seed(7)
    t = torch.randint(0, 1000, (16,))
    noise = torch.randn_like(x0)
    ref = lossbook.diffusion_loss(model, x0, AB, t=t, noise=noise)
    torch.testing.assert_close(ours, ref)
    torch.manual_seed(7)
    g1 = torch.autograd.grad(S["diffusion_loss"](model, x0, AB), model.lin.weight)[0]
    g2 = torch.autograd.grad(
        lossbook.diffusion_loss(model, x0, AB, t=t, noise=noise), model.lin.weight
    )[0]
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("t", [0, 1, 500, 999])
def test_ddpm_step(t):
    gen = torch.Generator().manual_seed(t)
    x_t = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    eps = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    ours = S["ddpm_step"](eps, x_t, t, AB)
    torch.manual_seed(0)
    z = torch.randn_like(x_t)
    torch.testing.assert_close(ours, lossbook.ddpm_step(eps, x_t, t, AB, noise=z))


def test_cfg():
    c, u = torch.randn(5, 2), torch.randn(5, 2)
    for s in (0.0, 1.0, 3.5):
        torch.testing.assert_close(S["cfg"](c, u, s), lossbook.cfg_combine(c, u, s))


def test_flow_matching_loss_draws_like_the_library():
    def model(x, t):
        return 2 * x + t[:, None]

    x1 = torch.randn(8, 3, dtype=torch.float64)
    torch.manual_seed(3)
    ours = S["flow_matching_loss"](model, x1)
    torch.manual_seed(3)
    x0 = torch.randn_like(x1)
    t = torch.rand(8, dtype=torch.float64)
    torch.testing.assert_close(ours, lossbook.flow_matching_loss(model, x1, x0=x0, t=t))


def test_mixture_denoiser_is_the_posterior_mean_of_the_noise():
    # E[eps | x_t] by quadrature over x0: eps = (x_t - sqrt(a) x0) / sqrt(1 - a)
    w = torch.tensor([0.7, 0.3], dtype=torch.float64)
    m = torch.tensor([-2.0, 2.0], dtype=torch.float64)
    s = torch.tensor([0.5, 0.8], dtype=torch.float64)
    model = S["mixture_denoiser"](w, m, s, AB)
    grid = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    prior = (w / s * torch.exp(-0.5 * ((grid[:, None] - m) / s) ** 2)).sum(1)
    x_t = torch.tensor([[-1.5], [0.0], [0.7], [3.0]], dtype=torch.float64)
    for step in (5, 200, 600, 999):
        a = AB[step].item()
        t = torch.full((4,), step)
        lik = torch.exp(-0.5 * (x_t - a**0.5 * grid) ** 2 / (1 - a))  # [4, G]
        post = prior * lik
        eps = (x_t - a**0.5 * grid) / (1 - a) ** 0.5
        expected = (post * eps).sum(1, keepdim=True) / post.sum(1, keepdim=True)
        torch.testing.assert_close(model(x_t, t), expected, rtol=1e-6, atol=1e-6)

"""GAN and WGAN losses, gradient penalty: references, gradients, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from lossbook import (
    gan_discriminator_loss,
    gan_generator_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)


def _scores(seed, n=8, m=5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(n, generator=g, dtype=dtype), 3 * torch.randn(m, generator=g, dtype=dtype)


def test_discriminator_loss_is_bce_with_logits():
    real, fake = _scores(0)
    ref = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(gan_discriminator_loss(real, fake), ref)
    # chance-level discriminator: log 4
    assert abs(gan_discriminator_loss(torch.zeros(3), torch.zeros(2)).item() - math.log(4)) < 1e-6


def test_generator_losses_by_formula_and_gradients():
    _, fake = _scores(1, dtype=torch.float64)
    d = torch.sigmoid(fake)
    torch.testing.assert_close(gan_generator_loss(fake), -torch.log(d).mean())
    torch.testing.assert_close(gan_generator_loss(fake, saturating=True), torch.log1p(-d).mean())
    # gradient w.r.t. the logit: -sigmoid(t) (saturating) vs -(1 - sigmoid(t)) (non-saturating)
    t = torch.tensor([-8.0, 0.0, 8.0], dtype=torch.float64, requires_grad=True)
    (g_sat,) = torch.autograd.grad(gan_generator_loss(t, saturating=True), t)
    (g_ns,) = torch.autograd.grad(gan_generator_loss(t), t)
    torch.testing.assert_close(g_sat, -torch.sigmoid(t.detach()) / 3)
    torch.testing.assert_close(g_ns, -(1 - torch.sigmoid(t.detach())) / 3)
    assert g_sat[0].abs() < 1e-3 < g_ns[0].abs()  # the fake is rejected: only one keeps learning


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gan_losses_extreme_logits_finite(dtype):
    t = torch.tensor([1e4, -1e4], dtype=dtype, requires_grad=True)
    for loss in (gan_discriminator_loss(t, t), gan_generator_loss(t), gan_generator_loss(t, saturating=True)):
        (g,) = torch.autograd.grad(loss, t)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_wgan_losses_by_formula():
    real, fake = _scores(2)
    torch.testing.assert_close(wgan_critic_loss(real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(wgan_generator_loss(fake), -fake.mean())
    torch.testing.assert_close(wgan_critic_loss(real[:, None], fake[:, None]), fake.mean() - real.mean())


def test_wgan_critic_with_optimal_linear_critic_estimates_w1():
    # two 1-D Gaussians with the same spread: W1 = |mean difference|; f(x) = x is an optimal critic
    g = torch.Generator().manual_seed(3)
    real, fake = 2.0 + torch.randn(100_000, generator=g), -1.0 + torch.randn(100_000, generator=g)
    assert abs(-wgan_critic_loss(real, fake).item() - 3.0) < 0.02


def test_gradient_penalty_linear_critic_exact():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = gradient_penalty(lambda x: x @ w, real, fake, weight=10.0)
    torch.testing.assert_close(gp, torch.tensor(160.0))
    # the penalty trains the critic: d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w|
    gp.backward()
    torch.testing.assert_close(w.grad, 20 * 4 * w.detach() / 5)


def test_gradient_penalty_matches_manual_on_a_network():
    torch.manual_seed(4)
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(5, 2, 3), torch.randn(5, 2, 3)
    alpha = torch.rand(5)
    got = gradient_penalty(critic, real, fake, alpha=alpha, reduction="none")
    for i in range(5):
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i])[None].requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        torch.testing.assert_close(got[i], 10 * (grad.norm() - 1) ** 2)
    # seeded draws are reproducible
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert a.item() == b.item()


def test_gradient_penalty_gradcheck_double_backward():
    torch.manual_seed(5)
    lin = torch.nn.Linear(3, 1).double()
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    alpha = torch.rand(4, dtype=torch.float64)

    def penalty(weight):
        return gradient_penalty(lambda x: torch.tanh(x @ weight.T), real, fake, alpha=alpha)

    assert torch.autograd.gradcheck(penalty, (lin.weight.detach().clone().requires_grad_(True),))

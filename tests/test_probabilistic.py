"""kl_divergence, gaussian_kl, elbo_loss: references (torch.distributions, an exact linear-Gaussian
model), properties, gradients, extreme inputs, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Categorical, MultivariateNormal, Normal
from torch.distributions import kl_divergence as torch_kl

from lossbook import elbo_loss, gaussian_kl, kl_divergence


def _logits(seed, shape=(5, 6), dtype=torch.float32, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=dtype),
            scale * torch.randn(shape, generator=g, dtype=dtype))


# ---------------------------------------------------------------- categorical KL


@pytest.mark.parametrize("shape", [(6,), (5, 6), (2, 3, 4)])
def test_kl_equals_torch_distributions(shape):
    p, q = _logits(0, shape)
    ref = torch_kl(Categorical(logits=p), Categorical(logits=q))
    torch.testing.assert_close(kl_divergence(p, q, reduction="none"), ref)
    torch.testing.assert_close(kl_divergence(p, q), ref.mean())
    torch.testing.assert_close(kl_divergence(p, q, reduction="sum"), ref.sum())


def test_kl_argument_order_versus_f_kl_div():
    p, q = _logits(1)
    # F.kl_div(input=log q, target=log p) is KL(P || Q): the order is reversed
    ref = F.kl_div(F.log_softmax(q, -1), F.log_softmax(p, -1), log_target=True, reduction="batchmean")
    torch.testing.assert_close(kl_divergence(p, q), ref)
    assert not torch.allclose(kl_divergence(q, p), ref)


def test_kl_by_hand():
    p = torch.log(torch.tensor([0.5, 0.5]))
    q = torch.log(torch.tensor([0.9, 0.1]))
    want = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert abs(kl_divergence(p, q).item() - want) < 1e-6


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.floats(-50, 50))
def test_kl_nonnegative_zero_iff_equal_shift_invariant(seed, shift):
    p, q = _logits(seed, dtype=torch.float64)
    kl = kl_divergence(p, q, reduction="none")
    assert (kl >= 0).all() and (kl > 0).all()
    torch.testing.assert_close(kl_divergence(p + shift, q - shift, reduction="none"), kl)
    assert kl_divergence(p, p + shift).abs().item() < 1e-12


def test_kl_masked_classes_contribute_zero():
    p = torch.tensor([[0.0, -float("inf"), 1.0]], requires_grad=True)
    q = torch.tensor([[0.5, -float("inf"), -0.5]])
    got = kl_divergence(p, q)
    ref = kl_divergence(p.detach()[:, [0, 2]], q[:, [0, 2]])
    torch.testing.assert_close(got.detach(), ref)
    got.backward()
    assert torch.isfinite(p.grad).all()
    # Q puts no mass where P does: the divergence is infinite, as it should be
    assert kl_divergence(torch.zeros(1, 2), torch.tensor([[0.0, -float("inf")]])).item() == math.inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_kl_extreme_logits_finite(dtype):
    p = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4]], dtype=dtype, requires_grad=True)
    q = torch.tensor([[-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], dtype=dtype, requires_grad=True)
    loss = kl_divergence(p, q)
    loss.float().backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()
    if dtype == torch.float32:  # row 1: p = e_0, log q_0 = -2e4; row 2: p = e_1, q uniform
        torch.testing.assert_close(loss, torch.tensor((2e4 + math.log(3.0)) / 2))


def test_kl_gradcheck():
    p, q = _logits(2, (3, 4), dtype=torch.float64)
    p.requires_grad_(True)
    q.requires_grad_(True)
    assert torch.autograd.gradcheck(kl_divergence, (p, q))


# ---------------------------------------------------------------- Gaussian KL


def test_gaussian_kl_equals_torch_distributions():
    mu, logvar = _logits(4, (7, 3), dtype=torch.float64)
    ref = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar, reduction="none"), ref)
    torch.testing.assert_close(gaussian_kl(mu, logvar), ref.mean())
    torch.testing.assert_close(gaussian_kl(mu, logvar, reduction="sum"), ref.sum())


@settings(max_examples=15)
@given(st.integers(0, 10_000))
def test_gaussian_kl_nonnegative_and_zero_at_prior(seed):
    mu, logvar = _logits(seed, (4, 3), dtype=torch.float64)
    assert (gaussian_kl(mu, logvar, reduction="none") > 0).all()
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0


def test_gaussian_kl_accurate_near_the_prior():
    logvar = torch.full((1, 4), 1e-4)
    exact = 0.5 * 4 * (math.expm1(1e-4) - 1e-4)  # 2e-8: exp(x) - 1 - x in float32 gives 0 or noise
    got = gaussian_kl(torch.zeros(1, 4), logvar).item()
    assert abs(got - exact) / exact < 1e-3


def test_gaussian_kl_gradcheck_and_extremes():
    mu, logvar = _logits(5, (3, 2), dtype=torch.float64)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    assert torch.autograd.gradcheck(gaussian_kl, (mu, logvar))
    big = torch.tensor([[30.0, -30.0]], requires_grad=True)
    loss = gaussian_kl(torch.tensor([[1e4, -1e4]]), big)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(big.grad).all()
    half = gaussian_kl(torch.zeros(2, 3, dtype=torch.bfloat16), torch.ones(2, 3, dtype=torch.bfloat16))
    assert abs(half.item() - 1.5 * (math.e - 2)) < 2e-2


# ---------------------------------------------------------------- ELBO


def test_elbo_terms_by_hand():
    g = torch.Generator().manual_seed(6)
    recon, x = torch.randn(4, 2, 3, generator=g), torch.rand(4, 2, 3, generator=g)
    mu, logvar = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    kl = gaussian_kl(mu, logvar, reduction="none")
    bce = F.binary_cross_entropy_with_logits(recon, x, reduction="none").sum((1, 2))
    torch.testing.assert_close(elbo_loss(recon, x, mu, logvar, reduction="none"), bce + kl)
    gauss = 0.5 * F.mse_loss(recon, x, reduction="none").sum((1, 2)) + 3 * math.log(2 * math.pi)
    torch.testing.assert_close(
        elbo_loss(recon, x, mu, logvar, likelihood="gaussian", beta=0.3), (gauss + 0.3 * kl).mean()
    )


def test_elbo_is_a_bound_tight_at_the_true_posterior():
    """Linear-Gaussian model z ~ N(0, I), x | z ~ N(Wz + b, I): log p(x) is exact."""
    torch.manual_seed(0)
    W = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)  # W^T W diagonal
    b = torch.tensor([0.5, -1.0, 0.2], dtype=torch.float64)
    x = torch.tensor([1.5, 0.3, -0.4], dtype=torch.float64)
    log_px = MultivariateNormal(b, W @ W.T + torch.eye(3, dtype=torch.float64)).log_prob(x)
    cov = torch.linalg.inv(torch.eye(2, dtype=torch.float64) + W.T @ W)  # diagonal: the VAE family
    mu, logvar = cov @ W.T @ (x - b), torch.log(torch.diagonal(cov))

    def neg_elbo(mu, logvar, samples=40_000):
        z = mu + torch.exp(0.5 * logvar) * torch.randn(samples, 2, dtype=torch.float64)
        return elbo_loss(z @ W.T + b, x.expand(samples, 3), mu.expand(samples, 2),
                         logvar.expand(samples, 2), likelihood="gaussian").item()

    assert abs(neg_elbo(mu, logvar) + log_px.item()) < 0.02
    assert neg_elbo(mu + 0.5, logvar) > -log_px.item() + 0.1
    assert neg_elbo(mu, logvar + 1.0) > -log_px.item() + 0.1


def test_elbo_gradcheck_and_extreme_logits():
    g = torch.Generator().manual_seed(7)
    recon = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.rand(2, 3, generator=g, dtype=torch.float64)
    mu = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, m, v: elbo_loss(r, x, m, v, beta=0.5), (recon, mu, logvar))
    r = torch.tensor([[1e4, -1e4]], requires_grad=True)
    loss = elbo_loss(r, torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2), torch.zeros(1, 2))
    loss.backward()
    assert loss.item() == 2e4 and torch.isfinite(r.grad).all()


def test_free_bits_floor_the_batch_averaged_kl_of_each_dimension():
    """free_bits = lambda: the KL term becomes sum_j max(lambda, mean over the batch of KL_j)
    (the IAF paper's free bits, one group per latent dimension); a dimension under the floor
    gets no gradient from the KL."""
    g = torch.Generator().manual_seed(3)
    recon, x = torch.randn(4, 6, generator=g, dtype=torch.float64), torch.rand(4, 6, generator=g, dtype=torch.float64)
    mu = torch.stack([2.0 * torch.ones(4), 0.01 * torch.randn(4, generator=g)], 1).double()
    logvar = torch.zeros(4, 2, dtype=torch.float64)
    mu.requires_grad_(True)
    per_dim = 0.5 * (mu.detach().square() + logvar.exp() - 1 - logvar)  # [B, D]
    nll = F.binary_cross_entropy_with_logits(recon, x, reduction="none").sum(1)
    lam = 0.5  # above dimension 1's KL (~5e-5), below dimension 0's (2.0)
    loss = elbo_loss(recon, x, mu, logvar, free_bits=lam, beta=2.0, reduction="none")
    expected = nll + 2.0 * per_dim.mean(0).clamp_min(lam).sum()
    torch.testing.assert_close(loss, expected)
    loss.sum().backward()
    assert bool((mu.grad[:, 1] == 0).all()) and bool((mu.grad[:, 0] != 0).all())
    torch.testing.assert_close(elbo_loss(recon, x, mu, logvar, free_bits=0.0), elbo_loss(recon, x, mu, logvar))


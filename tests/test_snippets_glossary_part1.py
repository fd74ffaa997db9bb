"""The glossary's interview snippets (regression, classification extras, contrastive,
regularization, probabilistic, GANs) equal their library twins: values and gradients, random and
adversarial inputs."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
REG = runpy.run_path(str(SNIPPETS / "regression.py"))
CLS = runpy.run_path(str(SNIPPETS / "classification_extras.py"))
CON = runpy.run_path(str(SNIPPETS / "contrastive.py"))
RGL = runpy.run_path(str(SNIPPETS / "regularization.py"))
PRB = runpy.run_path(str(SNIPPETS / "probabilistic.py"))
GAN = runpy.run_path(str(SNIPPETS / "gans.py"))


def _same_value_and_grad(snippet, library, *inputs, atol=1e-6, rtol=1e-6):
    """Evaluate both on float64 copies of `inputs` (those that are float) and compare."""
    a = [x.detach().double().requires_grad_(True) if x.is_floating_point() else x for x in inputs]
    b = [x.detach().double().requires_grad_(True) if x.is_floating_point() else x for x in inputs]
    va, vb = snippet(*a), library(*b)
    torch.testing.assert_close(va, vb, atol=atol, rtol=rtol)
    va.backward()
    vb.backward()
    for x, y in zip(a, b):
        if x.is_floating_point():
            torch.testing.assert_close(x.grad, y.grad, atol=atol, rtol=rtol)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- regression


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("delta", [0.3, 1.0, 4.0])
def test_huber_snippets(seed, delta):
    pred, target = 3 * torch.randn(20, generator=_gen(seed)), 3 * torch.randn(20, generator=_gen(seed + 9))
    pred[0] = target[0] + delta  # exactly on the switch point
    pred[1] = target[1]  # zero residual
    _same_value_and_grad(lambda p, t: REG["huber_loss"](p, t, delta),
                         lambda p, t: lossbook.huber_loss(p, t, delta=delta), pred, target)
    got = REG["huber_loss_np"](pred.double().numpy(), target.double().numpy(), delta)
    assert np.isclose(got, lossbook.huber_loss(pred.double(), target.double(), delta=delta).item())


@pytest.mark.parametrize("q", [0.1, 0.5, 0.97])
def test_quantile_snippets(q):
    pred, target = torch.randn(30, generator=_gen(1)), torch.randn(30, generator=_gen(2))
    pred[:3] = target[:3] + torch.tensor([1e4, -1e4, 0.5])
    _same_value_and_grad(lambda p, t: REG["quantile_loss"](p, t, q),
                         lambda p, t: lossbook.quantile_loss(p, t, quantile=q), pred, target)
    got = REG["quantile_loss_np"](pred.double().numpy(), target.double().numpy(), q)
    assert np.isclose(got, lossbook.quantile_loss(pred.double(), target.double(), quantile=q).item())


# ---------------------------------------------------------------- classification


def _logits(seed, n=7, c=5):
    logits = 3 * torch.randn(n, c, generator=_gen(seed))
    logits[0] = torch.tensor([1e4, -1e4, 0.0, 5.0, -5.0])[:c]  # extreme but valid
    return logits, torch.randint(0, c, (n,), generator=_gen(seed + 1))


@pytest.mark.parametrize("seed", range(3))
def test_cross_entropy_snippets(seed):
    logits, target = _logits(seed)
    _same_value_and_grad(CLS["cross_entropy"], lambda x, y: lossbook.weighted_cross_entropy(x, y),
                         logits, target)
    got = CLS["cross_entropy_np"](logits.double().numpy(), target.numpy())
    assert np.isclose(got, F.cross_entropy(logits.double(), target).item())
    y = torch.rand(7, generator=_gen(seed))
    _same_value_and_grad(CLS["binary_cross_entropy"], F.binary_cross_entropy_with_logits,
                         logits[:, 0], y)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_label_smoothing_snippets(eps):
    logits, target = _logits(3)
    _same_value_and_grad(
        lambda x, y: CLS["label_smoothing_ce"](x, y, eps),
        lambda x, y: lossbook.label_smoothing_cross_entropy(x, y, smoothing=eps), logits, target,
    )
    got = CLS["label_smoothing_ce_np"](logits.double().numpy(), target.numpy(), eps)
    assert np.isclose(got, F.cross_entropy(logits.double(), target, label_smoothing=eps).item())


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_hinge_snippet(margin):
    logits, target = _logits(4)
    _same_value_and_grad(
        lambda x, y: CLS["multiclass_hinge"](x, y, margin),
        lambda x, y: lossbook.multiclass_hinge_loss(x, y, margin=margin), logits, target,
    )


# ---------------------------------------------------------------- contrastive


@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
def test_info_nce_snippets(tau):
    q, k = torch.randn(9, 6, generator=_gen(5)), torch.randn(9, 6, generator=_gen(6))
    k[0] = q[0] * 1e3  # a perfect, long positive
    _same_value_and_grad(lambda a, b: CON["info_nce"](a, b, tau),
                         lambda a, b: lossbook.info_nce(a, b, temperature=tau), q, k)
    got = CON["info_nce_np"](q.double().numpy(), k.double().numpy(), tau)
    assert np.isclose(got, lossbook.info_nce(q.double(), k.double(), temperature=tau).item())


def test_triplet_and_pairwise_snippets():
    a, p, n = (torch.randn(10, 4, generator=_gen(s)) for s in (7, 8, 9))
    n[0] = a[0] + 5.0  # an easy triplet: zero loss
    _same_value_and_grad(lambda *t: CON["triplet_loss"](*t, 1.5),
                         lambda *t: lossbook.triplet_loss(*t, margin=1.5, eps=0.0), a, p, n)
    y = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0, 0, 1])
    x2 = p.clone()
    x2[1] = a[1] + 0.01  # a dissimilar pair inside the margin
    _same_value_and_grad(lambda u, v, s: CON["contrastive_loss"](u, v, s.double(), 2.0),
                         lambda u, v, s: lossbook.pairwise_contrastive_loss(u, v, s, margin=2.0),
                         a, x2, y)


@pytest.mark.parametrize("seed", range(3))
def test_vicreg_snippet(seed):
    za, zb = torch.randn(16, 5, generator=_gen(seed)), torch.randn(16, 5, generator=_gen(seed + 3))
    za[:, 0] = 0.0  # a collapsed feature
    _same_value_and_grad(CON["vicreg"], lossbook.vicreg_loss, za, zb)


# ---------------------------------------------------------------- regularization


def test_penalty_snippets():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    for name, lib in (("l1_penalty", lossbook.l1_penalty), ("l2_penalty", lossbook.l2_penalty)):
        value = RGL[name](model)
        torch.testing.assert_close(value, lib(model))
        grads = torch.autograd.grad(value, list(model.parameters()))
        ref = torch.autograd.grad(lib(model), list(model.parameters()))
        for g, r in zip(grads, ref):
            torch.testing.assert_close(g, r)


def test_lasso_ista_matches_scikit_learn():
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 12))
    w_true = np.zeros(12)
    w_true[[1, 4, 7]] = [2.0, -3.0, 1.5]
    y = X @ w_true + 0.1 * rng.normal(size=80)
    w = RGL["lasso_ista"](X, y, lam=0.1, steps=3000)
    ref = Lasso(alpha=0.1, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y).coef_
    np.testing.assert_allclose(w, ref, atol=1e-6)
    assert ((w == 0) == (ref == 0)).all() and (w == 0).sum() >= 6


# ---------------------------------------------------------------- probabilistic


@pytest.mark.parametrize("seed", range(3))
def test_kl_snippets(seed):
    p, q = 2 * torch.randn(4, 6, generator=_gen(seed)), 2 * torch.randn(4, 6, generator=_gen(seed + 5))
    p[0, :3] = torch.tensor([1e4, -1e4, 0.0])  # near one-hot P
    _same_value_and_grad(PRB["kl_categorical"], lossbook.kl_divergence, p, q)
    got = PRB["kl_categorical_np"](p.double().numpy(), q.double().numpy())
    assert np.isclose(got, lossbook.kl_divergence(p.double(), q.double()).item())


def test_vae_snippets():
    g = _gen(11)
    recon, x = 3 * torch.randn(5, 2, 4, generator=g), torch.rand(5, 2, 4, generator=g)
    mu, logvar = torch.randn(5, 3, generator=g), 2 * torch.randn(5, 3, generator=g)
    recon[0, 0, 0] = -1e4
    _same_value_and_grad(lambda m, v: PRB["gaussian_kl"](m, v).mean(), lossbook.gaussian_kl, mu, logvar)
    _same_value_and_grad(lambda r, t, m, v: PRB["vae_loss"](r, t, m, v, 0.5),
                         lambda r, t, m, v: lossbook.elbo_loss(r, t, m, v, beta=0.5), recon, x, mu, logvar)


# ---------------------------------------------------------------- GANs


def test_gan_snippets():
    real, fake = 3 * torch.randn(8, generator=_gen(12)), 3 * torch.randn(6, generator=_gen(13))
    real[0], fake[0] = 1e4, -1e4
    _same_value_and_grad(GAN["d_loss"], lossbook.gan_discriminator_loss, real, fake)
    _same_value_and_grad(GAN["g_loss"], lossbook.gan_generator_loss, fake)
    _same_value_and_grad(GAN["critic_loss"], lossbook.wgan_critic_loss, real, fake)
    _same_value_and_grad(GAN["generator_loss"], lossbook.wgan_generator_loss, fake)


def test_gradient_penalty_snippet():
    torch.manual_seed(14)
    critic = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    real, fake = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    torch.manual_seed(0)
    ours = GAN["gradient_penalty"](critic, real, fake)
    torch.manual_seed(0)
    alpha = torch.rand(6, 1).squeeze(1).double()  # the snippet's draw, replayed
    ref = lossbook.gradient_penalty(critic, real, fake, alpha=alpha)
    torch.testing.assert_close(ours, ref)
    params = list(critic.parameters())[:-1]  # the last bias does not change d critic / dx
    g1 = torch.autograd.grad(ours, params)
    g2 = torch.autograd.grad(ref, params)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)

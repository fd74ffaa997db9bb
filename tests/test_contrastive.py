"""info_nce, triplet_loss, pairwise_contrastive_loss, vicreg_loss: references, properties, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook import info_nce, pairwise_contrastive_loss, triplet_loss, vicreg_loss


def _emb(seed, b=8, d=4, dtype=torch.float32, n=2):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, d, generator=g, dtype=dtype) for _ in range(n)]


# ---------------------------------------------------------------- InfoNCE


def _info_nce_reference(q, k, tau, normalize=True, negatives=None):
    """-log softmax of the positive, written out in float64 with explicit sums."""
    q, k = q.double(), k.double()
    if normalize:
        q = q / q.norm(dim=1, keepdim=True)
        k = k / k.norm(dim=1, keepdim=True)
    keys = k
    if negatives is not None:
        n = negatives.double()
        keys = torch.cat([k, n / n.norm(dim=1, keepdim=True) if normalize else n])
    out = []
    for i in range(len(q)):
        s = torch.stack([(q[i] * keys[j]).sum() for j in range(len(keys))]) / tau
        out.append(-(s[i] - torch.log(torch.exp(s - s.max()).sum()) - s.max()))
    return torch.stack(out)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_info_nce_equals_reference(normalize, tau):
    q, k = _emb(0)
    got = info_nce(q, k, temperature=tau, normalize=normalize, reduction="none")
    torch.testing.assert_close(got.double(), _info_nce_reference(q, k, tau, normalize), rtol=1e-5, atol=1e-5)


def test_info_nce_is_cross_entropy_on_similarity_matrix():
    q, k = _emb(1)
    sim = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.1
    torch.testing.assert_close(info_nce(q, k), F.cross_entropy(sim, torch.arange(8)))
    torch.testing.assert_close(info_nce(q, k, reduction="sum"), F.cross_entropy(sim, torch.arange(8), reduction="sum"))


def test_info_nce_extra_negatives_and_symmetric():
    q, k, n = _emb(2, n=3)
    got = info_nce(q, k, temperature=0.2, negatives=n[:5], reduction="none")
    torch.testing.assert_close(got.double(), _info_nce_reference(q, k, 0.2, negatives=n[:5]), rtol=1e-5, atol=1e-5)
    sim = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.2
    labels = torch.arange(8)
    both = 0.5 * (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels))
    torch.testing.assert_close(info_nce(q, k, temperature=0.2, symmetric=True), both)


def test_info_nce_n_way_chance_level():
    # all keys identical: the positive is indistinguishable from the N - 1 negatives -> log N
    q = torch.randn(16, 4, generator=torch.Generator().manual_seed(3))
    k = torch.ones(16, 4)
    torch.testing.assert_close(info_nce(q, k), torch.tensor(math.log(16)))


@settings(max_examples=10)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_info_nce_invariances(seed, scale):
    q, k = _emb(seed, dtype=torch.float64)
    base = info_nce(q, k, reduction="none")
    # per-vector positive scaling (normalised cosine similarity)
    torch.testing.assert_close(info_nce(scale * q, k / scale, reduction="none"), base)
    # a common rotation of all embeddings
    rot, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    torch.testing.assert_close(info_nce(q @ rot, k @ rot, reduction="none"), base)
    # re-ordering the pairs re-orders the per-query losses
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(info_nce(q[perm], k[perm], reduction="none"), base[perm])


def test_info_nce_learnable_temperature_gets_gradient():
    q, k = _emb(4)
    log_tau = torch.tensor(math.log(0.1), requires_grad=True)
    info_nce(q, k, temperature=log_tau.exp()).backward()
    assert log_tau.grad is not None and log_tau.grad.abs() > 0


def test_info_nce_gradcheck():
    q, k = _emb(5, b=4, d=3, dtype=torch.float64)
    q.requires_grad_(True)
    k.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: info_nce(a, b, symmetric=True), (q, k))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_info_nce_extreme_temperature_finite(dtype):
    q, k = _emb(6, dtype=dtype)
    q.requires_grad_(True)
    loss = info_nce(q, k, temperature=1e-4)  # logits up to 1e4
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(q.grad).all()


# ---------------------------------------------------------------- triplet


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_triplet_equals_torch(p, swap, reduction):
    a, pos, neg = _emb(8, n=3)
    torch.testing.assert_close(
        triplet_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction),
        F.triplet_margin_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction),
    )


@given(st.integers(0, 10_000))
def test_triplet_zero_when_separated_by_margin(seed):
    a, pos = _emb(seed, n=2)
    neg = a + 10.0  # d(a, n) = 20 >> d(a, p) + 1 for these scales
    pos = a + 0.01 * pos
    assert triplet_loss(a, pos, neg).item() == 0.0
    # and equals the margin when positive and negative coincide
    torch.testing.assert_close(triplet_loss(a, pos, pos, margin=0.3), torch.tensor(0.3))


def test_triplet_gradcheck():
    a, pos, neg = _emb(9, b=4, d=3, dtype=torch.float64, n=3)
    for x in (a, pos, neg):
        x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda *t: triplet_loss(*t, margin=5.0), (a, pos, neg))


def test_triplet_identical_points_finite_gradient():
    a = torch.zeros(2, 3, requires_grad=True)
    loss = triplet_loss(a, a.detach().clone(), a.detach().clone(), eps=0.0)
    loss.backward()
    assert torch.isfinite(a.grad).all()


# ---------------------------------------------------------------- pairwise contrastive


def test_pairwise_contrastive_by_formula():
    x1, x2 = _emb(11, dtype=torch.float64)
    y = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0])
    d = ((x1 - x2) ** 2).sum(1).sqrt()
    ref = torch.where(y == 1, 0.5 * d**2, 0.5 * torch.clamp(2.0 - d, min=0) ** 2)
    got = pairwise_contrastive_loss(x1, x2, y.bool(), margin=2.0, reduction="none")
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(pairwise_contrastive_loss(x1, x2, y, margin=2.0), ref.mean())


def test_pairwise_contrastive_far_negatives_cost_nothing():
    x1 = torch.zeros(2, 2, requires_grad=True)
    x2 = torch.tensor([[3.0, 4.0], [0.3, 0.4]])  # d = 5 (beyond margin 1), 0.5
    loss = pairwise_contrastive_loss(x1, x2, torch.tensor([0, 0]), reduction="sum")
    loss.backward()
    assert x1.grad[0].abs().sum() == 0 and x1.grad[1].abs().sum() > 0


def test_pairwise_contrastive_coincident_points_finite_gradient():
    x = torch.ones(2, 3, requires_grad=True)
    loss = pairwise_contrastive_loss(x, torch.ones(2, 3), torch.tensor([1, 0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_pairwise_contrastive_gradcheck():
    x1, x2 = _emb(12, b=6, d=3, dtype=torch.float64)
    x1.requires_grad_(True)
    y = torch.tensor([1, 0, 1, 0, 1, 0])
    assert torch.autograd.gradcheck(lambda a: pairwise_contrastive_loss(a, x2, y, margin=3.0), (x1,))


# ---------------------------------------------------------------- VICReg


def _vicreg_authors(x, y, sim=25.0, std=25.0, cov=1.0):
    """Transcribed from facebookresearch/vicreg main_vicreg.py (VICReg.forward)."""
    batch_size, num_features = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)

    def off_diagonal(m):
        n = m.shape[0]
        return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    cov_loss = off_diagonal(cov_x).pow(2).sum() / num_features + off_diagonal(cov_y).pow(2).sum() / num_features
    return sim * repr_loss + std * std_loss + cov * cov_loss


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.floats(0.1, 3.0))
def test_vicreg_equals_authors_code(seed, scale):
    za, zb = _emb(seed, b=16, d=6, dtype=torch.float64)
    torch.testing.assert_close(vicreg_loss(scale * za, zb), _vicreg_authors(scale * za, zb))
    torch.testing.assert_close(
        vicreg_loss(za, zb, sim_weight=2.0, var_weight=3.0, cov_weight=0.5),
        _vicreg_authors(za, zb, 2.0, 3.0, 0.5),
    )


def test_vicreg_terms_by_hand():
    za, zb = _emb(14, b=32, d=5)
    # invariance alone is the MSE
    torch.testing.assert_close(
        vicreg_loss(za, zb, sim_weight=1.0, var_weight=0, cov_weight=0), F.mse_loss(za, zb)
    )
    # full collapse: every feature constant -> variance term 2 * (1 - sqrt(eps)) / 2, no covariance
    c = torch.ones(32, 5)
    torch.testing.assert_close(vicreg_loss(c, c), torch.tensor(25.0 * (1 - math.sqrt(1e-4))))
    # a dimensional collapse onto a line: variance is fine but covariance is large
    t = torch.linspace(-3, 3, 32)[:, None]
    line = t * torch.ones(1, 5)
    assert vicreg_loss(line, line, sim_weight=0, var_weight=0) > 10


def test_vicreg_batch_order_invariant_and_gradcheck():
    za, zb = _emb(15, b=6, d=3, dtype=torch.float64)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(vicreg_loss(za[perm], zb[perm]), vicreg_loss(za, zb))
    za.requires_grad_(True)
    zb.requires_grad_(True)
    assert torch.autograd.gradcheck(vicreg_loss, (za, zb))


def test_vicreg_collapsed_gradient_finite():
    z = torch.zeros(4, 3, requires_grad=True)
    vicreg_loss(z, z.detach()).backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_finite(dtype):
    a, p, n = (x.to(dtype).requires_grad_(True) for x in _emb(17, n=3))
    losses = [
        triplet_loss(a, p, n),
        pairwise_contrastive_loss(a, p, torch.tensor([1, 0, 1, 0, 1, 0, 1, 0])),
        vicreg_loss(a, p),
        info_nce(a, p, symmetric=True),
    ]
    for loss in losses:
        grads = torch.autograd.grad(loss.float(), (a, p))
        assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
    # and close to the float32 value
    a32, p32 = a.detach().float(), p.detach().float()
    torch.testing.assert_close(losses[2].float(), vicreg_loss(a32, p32), rtol=0.05, atol=0.05)

"""lossbook.language (and the SigLIP / CLIP losses of lossbook.contrastive) against independent
references: explicit float64 loops over positions, PyTorch's kl_div, and the formulas of the
papers' and reference code (transformers' ForCausalLMLoss, open_clip's SigLipLoss)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import lossbook


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _log_softmax_loop(row):
    m = max(row)
    return [x - m - math.log(sum(math.exp(y - m) for y in row)) for x in row]


def _lm_batch(seed, b=3, length=6, v=5):
    g = _gen(seed)
    logits = torch.randn(b, length, v, generator=g, dtype=torch.float64)
    labels = torch.randint(0, v, (b, length), generator=g)
    labels[0, :3] = -100  # a prompt
    if b > 1:
        labels[1, 4:] = -100  # padding
    return logits, labels


def _nll_table(logits, labels):
    """nll[b][t] of position t predicting labels[b][t+1], None where ignored."""
    out = []
    for b in range(logits.shape[0]):
        row = []
        for t in range(logits.shape[1] - 1):
            y = int(labels[b, t + 1])
            row.append(None if y == -100 else -_log_softmax_loop(logits[b, t].tolist())[y])
        out.append(row)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_next_token_token_and_sequence_means(seed):
    logits, labels = _lm_batch(seed)
    table = _nll_table(logits, labels)
    flat = [x for row in table for x in row if x is not None]
    token = lossbook.next_token_cross_entropy(logits, labels)
    assert token.item() == pytest.approx(sum(flat) / len(flat), rel=1e-12)
    per_seq = [sum(x for x in row if x is not None) / sum(x is not None for x in row)
               for row in table]
    seq = lossbook.next_token_cross_entropy(logits, labels, average="sequence")
    assert seq.item() == pytest.approx(sum(per_seq) / len(per_seq), rel=1e-12)
    assert seq.item() != pytest.approx(token.item(), rel=1e-6)  # the two averages differ here
    none = lossbook.next_token_cross_entropy(logits, labels, reduction="none")
    assert none.shape == (3, 5) and none[0, :2].eq(0).all()
    total = lossbook.next_token_cross_entropy(logits, labels, reduction="sum")
    assert total.item() == pytest.approx(sum(flat), rel=1e-12)


def test_next_token_equals_transformers_formula():
    """transformers' ForCausalLMLoss: pad the labels with ignore_index, shift, flatten, CE."""
    logits, labels = _lm_batch(7)
    shifted = F.pad(labels, (0, 1), value=-100)[:, 1:]
    ref = F.cross_entropy(logits.reshape(-1, 5), shifted.reshape(-1), ignore_index=-100)
    lib = lossbook.next_token_cross_entropy(logits, labels)
    torch.testing.assert_close(lib, ref)
    unshifted = lossbook.next_token_cross_entropy(logits[:, :-1], labels[:, 1:], shift=False)
    torch.testing.assert_close(unshifted, ref)


def test_next_token_document_boundaries():
    logits, _ = _lm_batch(3, b=1, length=6)
    labels = torch.tensor([[1, 2, 3, 4, 0, 1]])
    docs = torch.tensor([[0, 0, 0, 1, 1, 1]])
    table = _nll_table(logits, labels)[0]
    kept = [table[t] for t in range(5) if t != 2]  # position 2 (doc 0) cannot predict doc 1
    lib = lossbook.next_token_cross_entropy(logits, labels, document_ids=docs)
    assert lib.item() == pytest.approx(sum(kept) / len(kept), rel=1e-12)


def test_perplexity_is_exp_of_token_mean_and_uniform_gives_vocab():
    logits, labels = _lm_batch(4)
    torch.testing.assert_close(lossbook.perplexity(logits, labels),
                               lossbook.next_token_cross_entropy(logits, labels).exp())
    assert lossbook.perplexity(torch.zeros(2, 4, 11), torch.randint(0, 11, (2, 4))).item() == \
        pytest.approx(11.0)


def test_next_token_half_precision_is_computed_in_float32():
    logits, labels = _lm_batch(5)
    out = lossbook.next_token_cross_entropy(logits.half(), labels)
    assert out.dtype == torch.float32
    ref = lossbook.next_token_cross_entropy(logits.half().double(), labels)
    assert out.item() == pytest.approx(ref.item(), rel=1e-5)


def test_document_causal_mask_matches_loop():
    docs = torch.tensor([[0, 0, 1, 1, 1, 2], [5, 5, 5, 5, 7, 7]])
    mask = lossbook.document_causal_mask(docs)
    for b in range(2):
        for i in range(6):
            for j in range(6):
                assert bool(mask[b, i, j]) == (j <= i and int(docs[b, i]) == int(docs[b, j]))


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_distillation_forward_equals_kl_div(temperature):
    g = _gen(1)
    s = torch.randn(4, 7, generator=g, dtype=torch.float64)
    t = torch.randn(4, 7, generator=g, dtype=torch.float64) * 3
    ref = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                   log_target=True, reduction="batchmean") * temperature**2
    torch.testing.assert_close(lossbook.distillation_loss(s, t, temperature=temperature), ref)
    # reverse KL: KL(q || p), the roles swapped
    rev = F.kl_div(F.log_softmax(t / temperature, -1), F.log_softmax(s / temperature, -1),
                   log_target=True, reduction="batchmean") * temperature**2
    torch.testing.assert_close(
        lossbook.distillation_loss(s, t, temperature=temperature, direction="reverse"), rev)


def test_distillation_mask_and_teacher_gets_no_gradient():
    g = _gen(2)
    s = torch.randn(2, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, False, True]])
    lib = lossbook.distillation_loss(s, t, temperature=2.0, mask=mask)
    ref = lossbook.distillation_loss(s[mask], t[mask], temperature=2.0)
    torch.testing.assert_close(lib, ref)
    lib.backward()
    assert t.grad is None and s.grad[~mask].eq(0).all()


def test_distillation_t_squared_keeps_gradient_scale():
    """Hinton et al. §2: the soft-target gradients scale as 1/T^2; times T^2 they do not."""
    g = _gen(3)
    s = torch.randn(1, 6, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(1, 6, generator=g, dtype=torch.float64)
    grads = []
    for temperature in (20.0, 40.0, 80.0):
        (grad,) = torch.autograd.grad(lossbook.distillation_loss(s, t, temperature=temperature), s)
        grads.append(grad.norm().item())
    # the large-T limit: gradient = (centred (z_s - z_t)) / V, independent of T
    d = (s - t).detach()
    limit = ((d - d.mean()) / 6).norm().item()
    assert grads[-1] == pytest.approx(limit, rel=1e-2)
    assert grads[0] == pytest.approx(grads[-1], rel=0.05)


def _switch_reference(router_logits, top_k=1, hf_mixtral=False):
    """f and P by explicit loops over tokens (Switch Transformer Eq. 4-6)."""
    t_count, n = router_logits.shape
    probs = [[math.exp(x) for x in _log_softmax_loop(row)] for row in router_logits.tolist()]
    f = [0.0] * n
    p = [0.0] * n
    for row in probs:
        for i in sorted(range(n), key=lambda i: -row[i])[:top_k]:
            f[i] += 1.0 / (t_count * (1 if hf_mixtral else top_k))
        for i in range(n):
            p[i] += row[i] / t_count
    return n * sum(a * b for a, b in zip(f, p))


@pytest.mark.parametrize("top_k", [1, 2])
def test_load_balancing_equals_switch_formula(top_k):
    g = _gen(4)
    z = torch.randn(10, 4, generator=g, dtype=torch.float64) * 2
    lib = lossbook.load_balancing_loss(z, top_k=top_k)
    assert lib.item() == pytest.approx(_switch_reference(z, top_k), rel=1e-12)
    # transformers' Mixtral-style loss does not divide by k: k times ours
    assert top_k * lib.item() == pytest.approx(_switch_reference(z, top_k, hf_mixtral=True))


def test_load_balancing_balanced_is_one_and_collapse_is_n():
    assert lossbook.load_balancing_loss(torch.zeros(8, 4)).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[20.0, 0.0, 0.0, 0.0]]).repeat(8, 1)
    assert lossbook.load_balancing_loss(collapsed).item() == pytest.approx(4.0, rel=1e-6)


def test_load_balancing_mask_drops_padding():
    g = _gen(5)
    z = torch.randn(6, 3, generator=g, dtype=torch.float64)
    mask = torch.tensor([True, True, False, True, False, True])
    torch.testing.assert_close(lossbook.load_balancing_loss(z, mask=mask),
                               lossbook.load_balancing_loss(z[mask]))


def test_load_balancing_gradient_flows_through_p_only():
    z = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.5, 0.0]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(lossbook.load_balancing_loss(z), z)
    f = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # both tokens went to expert 0
    probs = z.detach().softmax(-1)
    expected = 3 * torch.stack([(probs[t] * (f - (probs[t] * f).sum())) / 2 for t in range(2)])
    torch.testing.assert_close(grad, expected)


def test_router_z_loss_equals_formula():
    g = _gen(6)
    z = torch.randn(5, 4, generator=g, dtype=torch.float64) * 4
    ref = sum(math.log(sum(math.exp(x) for x in row)) ** 2 for row in z.tolist()) / 5
    assert lossbook.router_z_loss(z).item() == pytest.approx(ref, rel=1e-12)
    mask = torch.tensor([True, False, True, True, False])
    torch.testing.assert_close(lossbook.router_z_loss(z, mask=mask), lossbook.router_z_loss(z[mask]))


def _siglip_loop(x, y, t, b):
    x = F.normalize(x, dim=-1).tolist()
    y = F.normalize(y, dim=-1).tolist()
    n = len(x)
    total = 0.0
    for i in range(n):
        for j in range(n):
            logit = t * sum(a * c for a, c in zip(x[i], y[j])) + b
            z = 1.0 if i == j else -1.0
            total += math.log1p(math.exp(-z * logit))  # -log sigmoid(z * logit)
    return total / n


@pytest.mark.parametrize("seed", range(2))
def test_siglip_equals_pairwise_loop(seed):
    g = _gen(seed)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64)
    for t, b in ((10.0, -10.0), (3.0, 0.5)):
        lib = lossbook.siglip_loss(x, y, logit_scale=t, logit_bias=b)
        assert lib.item() == pytest.approx(_siglip_loop(x, y, t, b), rel=1e-12)
    pairs = lossbook.siglip_loss(x, y, reduction="none")
    assert pairs.shape == (5, 5)
    torch.testing.assert_close(pairs.sum() / 5, lossbook.siglip_loss(x, y))


def test_siglip_learnable_scale_and_bias_get_gradients():
    g = _gen(8)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    t_prime = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda tp, bb: lossbook.siglip_loss(x, x.flip(0), logit_scale=tp.exp(), logit_bias=bb),
        (t_prime, b))


def test_clip_equals_symmetric_info_nce_and_explicit_formula():
    g = _gen(9)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    y = torch.randn(6, 4, generator=g, dtype=torch.float64)
    lib = lossbook.clip_loss(x, y, logit_scale=20.0)
    torch.testing.assert_close(lib, lossbook.info_nce(x, y, temperature=1 / 20.0, symmetric=True))
    s = 20.0 * F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T
    rows = -(s.diagonal() - s.logsumexp(1))
    cols = -(s.diagonal() - s.logsumexp(0))
    torch.testing.assert_close(lib, ((rows + cols) / 2).mean())

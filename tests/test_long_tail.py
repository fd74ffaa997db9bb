"""The long-tail losses of lossbook.classification against independent references: the
formulas of Menon et al. (logit adjustment), Ren et al. (balanced softmax) evaluated in float64,
and OHEM as an explicit sort of the per-example losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import lossbook


def _data(seed, n=7, c=4):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64)
    target = torch.randint(0, c, (n,), generator=g)
    counts = torch.tensor([500.0, 120.0, 30.0, 6.0], dtype=torch.float64)[:c]
    return logits, target, counts


def _ce_loop(logits, target, shift):
    total = 0.0
    for row, y in zip(logits.tolist(), target.tolist()):
        adj = [z + s for z, s in zip(row, shift)]
        total += -(adj[y] - math.log(sum(math.exp(a) for a in adj)))
    return total / len(target)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_equals_formula(tau):
    logits, target, counts = _data(0)
    prior = counts / counts.sum()
    ref = _ce_loop(logits, target, [tau * math.log(p) for p in prior.tolist()])
    lib = lossbook.logit_adjusted_cross_entropy(logits, target, class_prior=counts, tau=tau)
    assert lib.item() == pytest.approx(ref, rel=1e-12)  # the prior is normalised inside


def test_balanced_softmax_equals_formula_and_tau_one():
    logits, target, counts = _data(1)
    ref = 0.0
    for row, y in zip(logits.tolist(), target.tolist()):
        w = [n * math.exp(z) for n, z in zip(counts.tolist(), row)]
        ref += -math.log(w[y] / sum(w))
    lib = lossbook.balanced_softmax_cross_entropy(logits, target, class_counts=counts)
    assert lib.item() == pytest.approx(ref / len(target), rel=1e-12)
    torch.testing.assert_close(
        lib, lossbook.logit_adjusted_cross_entropy(logits, target, class_prior=counts, tau=1.0))


def test_posthoc_adjustment_subtracts_log_prior():
    logits, _, counts = _data(2)
    prior = counts / counts.sum()
    out = lossbook.posthoc_logit_adjustment(logits, class_prior=prior, tau=0.7)
    torch.testing.assert_close(out, logits - 0.7 * prior.log())
    # Bayes: softmax(z - log pi) is the posterior under balanced labels, and predicts rare classes
    assert (out.argmax(-1) >= logits.argmax(-1)).all()


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_ohem_keeps_the_k_largest_losses(k):
    logits, target, _ = _data(3)
    target[0] = -100
    losses = F.cross_entropy(logits, target, reduction="none", ignore_index=-100).tolist()
    valid = sorted((loss for loss, t in zip(losses, target.tolist()) if t != -100), reverse=True)
    kept = valid[:k]
    lib = lossbook.ohem_cross_entropy(logits, target, num_hard=k)
    assert lib.item() == pytest.approx(sum(kept) / len(kept), rel=1e-12)
    none = lossbook.ohem_cross_entropy(logits, target, num_hard=k, reduction="none")
    assert int((none > 0).sum()) == len(kept) and none[0] == 0


def test_ohem_gradient_only_on_kept_examples():
    logits, target, _ = _data(4)
    logits.requires_grad_()
    lossbook.ohem_cross_entropy(logits, target, num_hard=2).backward()
    assert int((logits.grad.abs().sum(-1) > 0).sum()) == 2


def test_logit_adjustment_fixes_balanced_error_on_a_skewed_toy():
    """Menon et al.'s claim in miniature: a prior-matched classifier argmaxes the frequent class;
    subtracting log pi recovers the balanced (Bayes) decision."""
    prior = torch.tensor([0.95, 0.05], dtype=torch.float64)
    likelihood_ratio = torch.tensor([[1.0, 3.0]], dtype=torch.float64).log()  # x favours class 1
    trained = likelihood_ratio + prior.log()  # what plain cross entropy learns: p(y|x)
    assert trained.argmax(-1).item() == 0
    assert lossbook.posthoc_logit_adjustment(trained, class_prior=prior).argmax(-1).item() == 1

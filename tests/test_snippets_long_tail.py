"""The long-tail snippets equal their library twins (values and gradients, random and
adversarial inputs), and the NumPy logit-adjusted loss equals the PyTorch one. The meta-device
run of each torch snippet is in tests/opinfo/snippets.py (test_opinfo)."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
lt = runpy.run_path(str(SNIPPETS / "long_tail.py"))


def _same(f, g, x):
    a, b = f(), g()
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(torch.autograd.grad(a, x)[0], torch.autograd.grad(b, x)[0])


def _data(seed, n, c, scale):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, c, generator=g, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, c, (n,), generator=g)
    counts = torch.randint(1, 1000, (c,), generator=g).to(torch.float64)
    return logits, target, counts


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), c=st.integers(2, 6),
       tau=st.sampled_from([0.0, 0.5, 1.0, 2.0]), scale=st.sampled_from([1.0, 40.0]))
def test_logit_adjustment_snippets(seed, n, c, tau, scale):
    logits, target, counts = _data(seed, n, c, scale)
    _same(lambda: lt["logit_adjusted_loss"](logits, target, counts, tau),
          lambda: lossbook.logit_adjusted_cross_entropy(logits, target, class_prior=counts, tau=tau),
          logits)
    np.testing.assert_allclose(
        lt["logit_adjusted_loss_np"](logits.detach().numpy(), target.numpy(), counts.numpy(), tau),
        lossbook.logit_adjusted_cross_entropy(logits.detach(), target, class_prior=counts,
                                              tau=tau).item(), rtol=1e-10)
    torch.testing.assert_close(
        lt["posthoc_adjust"](logits.detach(), counts, tau),
        lossbook.posthoc_logit_adjustment(logits.detach(), class_prior=counts, tau=tau))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), c=st.integers(2, 6),
       scale=st.sampled_from([1.0, 40.0]))
def test_balanced_softmax_snippet(seed, n, c, scale):
    logits, target, counts = _data(seed, n, c, scale)
    _same(lambda: lt["balanced_softmax_loss"](logits, target, counts),
          lambda: lossbook.balanced_softmax_cross_entropy(logits, target, class_counts=counts),
          logits)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), k=st.integers(1, 10))
def test_ohem_snippet(seed, n, k):
    logits, target, _ = _data(seed, n, 3, 3.0)
    _same(lambda: lt["ohem_loss"](logits, target, k),
          lambda: lossbook.ohem_cross_entropy(logits, target, num_hard=k), logits)


def test_adversarial_saturated_logits_and_a_one_example_class():
    logits = torch.tensor([[90.0, -90.0, 0.0], [-90.0, 90.0, 0.0], [0.0, 0.0, 0.0]],
                          dtype=torch.float64, requires_grad=True)
    target = torch.tensor([1, 0, 2])
    counts = torch.tensor([1e6, 1e3, 1.0], dtype=torch.float64)  # one example of class 2
    _same(lambda: lt["logit_adjusted_loss"](logits, target, counts),
          lambda: lossbook.logit_adjusted_cross_entropy(logits, target, class_prior=counts), logits)
    _same(lambda: lt["balanced_softmax_loss"](logits, target, counts),
          lambda: lossbook.balanced_softmax_cross_entropy(logits, target, class_counts=counts), logits)
    _same(lambda: lt["ohem_loss"](logits, target, 2),
          lambda: lossbook.ohem_cross_entropy(logits, target, num_hard=2), logits)
    assert torch.isfinite(lt["logit_adjusted_loss"](logits, target, counts))


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_balanced_softmax_is_the_logit_adjusted_snippet_at_tau_one(tau):
    logits, target, counts = _data(3, 5, 4, 2.0)
    la = lt["logit_adjusted_loss"](logits, target, counts, tau)
    bs = lt["balanced_softmax_loss"](logits, target, counts)
    assert torch.allclose(la, bs) == (tau == 1.0)

"""The Custom losses snippets equal their library twins: values and gradients, random and
adversarial inputs; the NumPy versions equal the PyTorch ones."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lossbook

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
focal = runpy.run_path(str(SNIPPETS / "focal_loss.py"))
wce = runpy.run_path(str(SNIPPETS / "weighted_cross_entropy.py"))
traj = runpy.run_path(str(SNIPPETS / "trajectory_losses.py"))


def classification(seed, n, c, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, c, generator=g, dtype=torch.float64)).requires_grad_()
    return logits, torch.randint(0, c, (n,), generator=g), torch.rand(c, generator=g, dtype=torch.float64) + 0.05


def assert_same_value_and_grad(f, g, inputs):
    a, b = f(), g()
    torch.testing.assert_close(a, b)
    for x, ga, gb in zip(inputs, torch.autograd.grad(a, inputs), torch.autograd.grad(b, inputs)):
        torch.testing.assert_close(ga, gb)


@given(seed=st.integers(0, 10_000), n=st.integers(1, 16), c=st.integers(2, 6),
       gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), use_alpha=st.booleans())
def test_focal_snippet_equals_library(seed, n, c, gamma, use_alpha):
    logits, target, alpha = classification(seed, n, c)
    alpha = alpha if use_alpha else None
    assert_same_value_and_grad(
        lambda: focal["focal_loss"](logits, target, gamma, alpha),
        lambda: lossbook.focal_loss(logits, target, gamma=gamma, alpha=alpha),
        (logits,),
    )
    np.testing.assert_allclose(
        focal["focal_loss_np"](logits.detach().numpy(), target.numpy(), gamma, None if alpha is None else alpha.numpy()),
        lossbook.focal_loss(logits, target, gamma=gamma, alpha=alpha).item(), rtol=1e-10,
    )


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_snippets_at_extreme_logits(gamma):
    logits = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [30.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 0, 0])
    assert_same_value_and_grad(
        lambda: focal["focal_loss"](logits, target, gamma),
        lambda: lossbook.focal_loss(logits, target, gamma=gamma),
        (logits,),
    )
    assert np.isfinite(focal["focal_loss_np"](logits.detach().numpy(), target.numpy(), gamma))


@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.25, -1.0, 0.6]), gamma=st.sampled_from([0.0, 2.0]))
def test_sigmoid_focal_snippet_equals_library(seed, alpha, gamma):
    g = torch.Generator().manual_seed(seed)
    x = (4 * torch.randn(8, 5, generator=g, dtype=torch.float64)).requires_grad_()
    y = (torch.rand(8, 5, generator=g) < 0.3).double()
    assert_same_value_and_grad(
        lambda: focal["sigmoid_focal_loss"](x, y, alpha, gamma),
        lambda: lossbook.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma),
        (x,),
    )


@given(seed=st.integers(0, 10_000), n=st.integers(1, 16), c=st.integers(2, 6))
def test_weighted_ce_snippet_equals_library(seed, n, c):
    logits, target, weight = classification(seed, n, c)
    assert_same_value_and_grad(
        lambda: wce["weighted_cross_entropy"](logits, target, weight),
        lambda: lossbook.weighted_cross_entropy(logits, target, weight),
        (logits,),
    )


@pytest.mark.parametrize("scheme", ["inverse", "sqrt_inverse", "effective_number"])
def test_class_weights_snippet_equals_library(scheme):
    counts = torch.tensor([120_000, 5_000, 40, 3])
    torch.testing.assert_close(wce["class_weights"](counts, scheme), lossbook.class_weights(counts, scheme=scheme))


def trajectories(seed, b=5, k=4, t=7, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    pred = (scale * torch.randn(b, k, t, 2, generator=g, dtype=torch.float64)).requires_grad_()
    logits = torch.randn(b, k, generator=g, dtype=torch.float64).requires_grad_()
    target = scale * torch.randn(b, t, 2, generator=g, dtype=torch.float64)
    log_sigma = (0.5 * torch.randn(b, k, t, 2, generator=g, dtype=torch.float64)).requires_grad_()
    return pred, logits, target, log_sigma


@given(seed=st.integers(0, 10_000), cls_weight=st.sampled_from([0.0, 1.0, 2.5]), scale=st.sampled_from([1e-3, 1.0, 100.0]))
def test_wta_snippets_equal_library(seed, cls_weight, scale):
    pred, logits, target, _ = trajectories(seed, scale=scale)
    assert_same_value_and_grad(
        lambda: traj["wta_loss"](pred, logits, target, cls_weight),
        lambda: lossbook.wta_trajectory_loss(pred, logits, target, cls_weight=cls_weight),
        (pred, logits),
    )
    np.testing.assert_allclose(
        traj["wta_loss_np"](pred.detach().numpy(), logits.detach().numpy(), target.numpy(), cls_weight),
        lossbook.wta_trajectory_loss(pred, logits, target, cls_weight=cls_weight).item(), rtol=1e-10,
    )


@given(seed=st.integers(0, 10_000))
def test_mixture_snippet_equals_library(seed):
    pred, logits, target, log_sigma = trajectories(seed)
    assert_same_value_and_grad(
        lambda: traj["mixture_nll"](pred, log_sigma, logits, target),
        lambda: lossbook.mixture_nll(pred, log_sigma, logits, target),
        (pred, log_sigma, logits),
    )


def test_mixture_snippet_far_from_modes_stays_finite():
    pred, logits, target, log_sigma = trajectories(0)
    far = (pred.detach() + 1e3).requires_grad_()
    assert_same_value_and_grad(
        lambda: traj["mixture_nll"](far, log_sigma, logits, target),
        lambda: lossbook.mixture_nll(far, log_sigma, logits, target),
        (far, log_sigma, logits),
    )

"""lossbook.trajectory against independent loops and torch.distributions."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lossbook

D = torch.distributions


def problem(seed, b=6, k=4, t=9, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(b, k, t, 2, generator=g, dtype=dtype).requires_grad_()
    logits = torch.randn(b, k, generator=g, dtype=dtype).requires_grad_()
    target = torch.randn(b, t, 2, generator=g, dtype=dtype)
    log_scale = (0.4 * torch.randn(b, k, t, 2, generator=g, dtype=dtype)).requires_grad_()
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[:, 0] = True
    return pred, logits, target, log_scale, mask


def wta_by_loop(pred, logits, target, mask, cls_weight):
    """Sample by sample, mode by mode: the definition, with no vectorisation."""
    losses = []
    for b in range(pred.shape[0]):
        valid = mask[b]
        errors = [((pred[b, k][valid] - target[b][valid]) ** 2).sum(-1).mean() for k in range(pred.shape[1])]
        best = min(range(len(errors)), key=lambda k: errors[k].item())
        log_pi = logits[b] - torch.logsumexp(logits[b], 0)
        losses.append(errors[best] - cls_weight * log_pi[best])
    return torch.stack(losses)


@pytest.mark.parametrize("cls_weight", [0.0, 0.5, 1.0])
def test_wta_equals_loop_values_and_gradients(cls_weight):
    pred, logits, target, _, mask = problem(0)
    ours = lossbook.wta_trajectory_loss(pred, logits, target, mask=mask, cls_weight=cls_weight, reduction="none")
    ref = wta_by_loop(pred, logits, target, mask, cls_weight)
    torch.testing.assert_close(ours, ref)
    g_ours = torch.autograd.grad(ours.mean(), (pred, logits))
    g_ref = torch.autograd.grad(ref.mean(), (pred, logits))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b)


def test_wta_only_the_winner_gets_regression_gradient():
    pred, logits, target, _, _ = problem(1)
    lossbook.wta_trajectory_loss(pred, logits, target, cls_weight=0.0).backward()
    touched = pred.grad.abs().sum(dim=(2, 3)) > 0  # [B, K]
    assert touched.sum(1).tolist() == [1] * pred.shape[0]


@given(seed=st.integers(0, 10_000))
def test_wta_is_invariant_to_mode_order(seed):
    pred, logits, target, _, mask = problem(seed)
    perm = torch.randperm(pred.shape[1], generator=torch.Generator().manual_seed(seed))
    a = lossbook.wta_trajectory_loss(pred, logits, target, mask=mask, reduction="none")
    b = lossbook.wta_trajectory_loss(pred[:, perm], logits[:, perm], target, mask=mask, reduction="none")
    torch.testing.assert_close(a, b)


def test_wta_reductions_and_fully_masked_samples():
    pred, logits, target, _, mask = problem(2)
    mask[1] = False  # no valid step: contributes 0, left out of the mean
    none = lossbook.wta_trajectory_loss(pred, logits, target, mask=mask, reduction="none")
    assert none[1].item() == 0.0
    keep = torch.arange(len(none)) != 1
    torch.testing.assert_close(lossbook.wta_trajectory_loss(pred, logits, target, mask=mask), none[keep].mean())
    torch.testing.assert_close(lossbook.wta_trajectory_loss(pred, logits, target, mask=mask, reduction="sum"), none.sum())
    empty = lossbook.wta_trajectory_loss(pred, logits, target, mask=torch.zeros_like(mask))
    assert empty.item() == 0.0 and not torch.isnan(empty)


def test_wta_gradcheck():
    pred, logits, target, _, mask = problem(3, b=3, k=3, t=4)
    assert torch.autograd.gradcheck(
        lambda p, l: lossbook.wta_trajectory_loss(p, l, target, mask=mask, cls_weight=0.7), (pred, logits)
    )


def mixture_reference(pred, log_scale, logits, target, mask, distribution):
    """torch.distributions on the valid steps of each sample, one sample at a time."""
    family = D.Normal if distribution == "gaussian" else D.Laplace
    out = []
    for b in range(pred.shape[0]):
        valid = mask[b]
        comp = D.Independent(family(pred[b][:, valid].flatten(1), log_scale[b][:, valid].exp().flatten(1)), 1)
        mix = D.MixtureSameFamily(D.Categorical(logits=logits[b]), comp)
        out.append(-mix.log_prob(target[b][valid].flatten()))
    return torch.stack(out)


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_mixture_nll_equals_torch_distributions(distribution):
    pred, logits, target, log_scale, mask = problem(4)
    ours = lossbook.mixture_nll(pred, log_scale, logits, target, distribution=distribution, mask=mask, reduction="none")
    ref = mixture_reference(pred, log_scale, logits, target, mask, distribution)
    torch.testing.assert_close(ours, ref)
    g1 = torch.autograd.grad(ours.sum(), (pred, log_scale, logits))
    g2 = torch.autograd.grad(ref.sum(), (pred, log_scale, logits))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


def test_mixture_nll_without_mask_equals_mixture_same_family():
    pred, logits, target, log_scale, _ = problem(5)
    comp = D.Independent(D.Normal(pred.flatten(2), log_scale.exp().flatten(2)), 1)
    mix = D.MixtureSameFamily(D.Categorical(logits=logits), comp)
    torch.testing.assert_close(lossbook.mixture_nll(pred, log_scale, logits, target), -mix.log_prob(target.flatten(1)).mean())


def test_mixture_nll_single_mode_is_gaussian_nll():
    pred, _, target, log_scale, _ = problem(6, k=1)
    nll = lossbook.mixture_nll(pred, log_scale, torch.zeros(6, 1, dtype=torch.float64), target, reduction="none")
    var = (2 * log_scale[:, 0]).exp()
    ref = F.gaussian_nll_loss(pred[:, 0], target, var, full=True, reduction="none").sum(dim=(1, 2))
    torch.testing.assert_close(nll, ref)


def test_mixture_nll_is_finite_far_from_every_mode():
    pred = torch.full((1, 3, 80, 2), 50.0, requires_grad=True)  # 50 sigma away, 160 terms
    nll = lossbook.mixture_nll(pred, torch.zeros_like(pred), torch.zeros(1, 3), torch.zeros(1, 80, 2))
    nll.backward()
    expected = 160 * (0.5 * 50**2 + 0.5 * math.log(2 * math.pi))
    assert nll.item() == pytest.approx(expected, rel=1e-5)
    assert bool(torch.isfinite(pred.grad).all())


def test_mixture_nll_gradcheck():
    pred, logits, target, log_scale, mask = problem(7, b=2, k=2, t=3)
    for distribution in ("gaussian", "laplace"):
        assert torch.autograd.gradcheck(
            lambda p, s, l: lossbook.mixture_nll(p, s, l, target, distribution=distribution, mask=mask),
            (pred, log_scale, logits),
        )

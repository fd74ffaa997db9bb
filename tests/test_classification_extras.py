"""label_smoothing_cross_entropy and multiclass_hinge_loss: references, properties, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook import label_smoothing_cross_entropy, multiclass_hinge_loss


def _logits(seed, n=6, c=5, dtype=torch.float32, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, c, generator=g, dtype=dtype), torch.randint(0, c, (n,), generator=g)


# ---------------------------------------------------------------- label smoothing


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_equals_torch(eps, reduction):
    logits, target = _logits(0)
    torch.testing.assert_close(
        label_smoothing_cross_entropy(logits, target, smoothing=eps, reduction=reduction),
        F.cross_entropy(logits, target, label_smoothing=eps, reduction=reduction),
    )


def test_label_smoothing_ignore_index_equals_torch():
    logits, target = _logits(1)
    target[[1, 4]] = -100
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            label_smoothing_cross_entropy(logits, target, smoothing=0.2, reduction=reduction),
            F.cross_entropy(logits, target, label_smoothing=0.2, reduction=reduction),
        )


def test_label_smoothing_is_cross_entropy_to_soft_target():
    logits, target = _logits(2, dtype=torch.float64)
    eps, c = 0.3, logits.shape[1]
    soft = torch.full_like(logits, eps / c)
    soft[torch.arange(len(target)), target] += 1 - eps
    by_hand = -(soft * torch.log(torch.softmax(logits, -1))).sum(-1)
    torch.testing.assert_close(
        label_smoothing_cross_entropy(logits, target, smoothing=eps, reduction="none"), by_hand
    )


@settings(max_examples=20)
@given(st.integers(0, 10_000))
def test_label_smoothing_zero_is_cross_entropy(seed):
    logits, target = _logits(seed)
    torch.testing.assert_close(
        label_smoothing_cross_entropy(logits, target, smoothing=0.0), F.cross_entropy(logits, target)
    )


@settings(max_examples=20)
@given(st.floats(0.01, 0.9), st.integers(2, 10))
def test_label_smoothing_optimal_logit_gap_is_finite(eps, c):
    # Minimiser: p_y = 1 - eps + eps/C, so the gap z_y - z_other = log(((1-eps)C + eps)/eps)
    gap = math.log(((1 - eps) * c + eps) / eps)
    gaps = torch.tensor([gap - 0.05, gap, gap + 0.05], dtype=torch.float64)
    logits = torch.zeros(3, c, dtype=torch.float64)
    logits[:, 0] = gaps
    loss = label_smoothing_cross_entropy(logits, torch.zeros(3, dtype=torch.long), smoothing=eps,
                                         reduction="none")
    assert loss[1] < loss[0] and loss[1] < loss[2]


def test_label_smoothing_gradcheck():
    logits, target = _logits(3, dtype=torch.float64)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: label_smoothing_cross_entropy(x, target, smoothing=0.1), (logits,)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_label_smoothing_extreme_logits_finite(dtype):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4]], dtype=dtype, requires_grad=True)
    loss = label_smoothing_cross_entropy(logits, torch.tensor([1, 1]), smoothing=0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    if dtype == torch.float32:
        ref = F.cross_entropy(logits.detach(), torch.tensor([1, 1]), label_smoothing=0.1)
        torch.testing.assert_close(loss.detach(), ref)


# ---------------------------------------------------------------- hinge


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hinge_equals_torch(p, margin, reduction):
    logits, target = _logits(5)
    torch.testing.assert_close(
        multiclass_hinge_loss(logits, target, margin=margin, p=p, reduction=reduction),
        F.multi_margin_loss(logits, target, margin=margin, p=p, reduction=reduction),
    )


def test_hinge_by_hand():
    logits = torch.tensor([[3.0, 1.0, 2.5]])
    # class 1: max(0, 1 - 3 + 1) = 0; class 2: max(0, 1 - 3 + 2.5) = 0.5; / C = 3
    torch.testing.assert_close(multiclass_hinge_loss(logits, torch.tensor([0])), torch.tensor(0.5 / 3))


@settings(max_examples=20)
@given(st.integers(0, 10_000))
def test_hinge_zero_beyond_margin_and_binary_case(seed):
    logits, target = _logits(seed)
    logits[torch.arange(len(target)), target] = logits.max() + 1.5  # every margin satisfied
    assert multiclass_hinge_loss(logits, target).item() == 0.0
    f = torch.randn(6, generator=torch.Generator().manual_seed(seed))
    y = torch.randint(0, 2, (6,), generator=torch.Generator().manual_seed(seed + 1))
    two = torch.stack([torch.zeros(6), f], dim=1)
    svm = (1 - (2 * y - 1) * f).clamp_min(0)
    torch.testing.assert_close(multiclass_hinge_loss(two, y, reduction="none"), svm / 2)


def test_hinge_gradcheck():
    logits, target = _logits(6, dtype=torch.float64)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: multiclass_hinge_loss(x, target, p=2), (logits,))


def test_hinge_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=torch.bfloat16, requires_grad=True)
    loss = multiclass_hinge_loss(logits, torch.tensor([0, 0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()

"""lossbook.classification against torch built-ins, the paper's formulas and references.md."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lossbook

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
TARGET = torch.tensor([0, 1])
WEIGHT = torch.tensor([1.0, 2.0, 0.5])


def random_problem(seed, n=32, c=5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(n, c, generator=g, dtype=dtype)).requires_grad_()
    target = torch.randint(0, c, (n,), generator=g)
    weight = torch.rand(c, generator=g, dtype=dtype) + 0.1
    return logits, target, weight


# --- weighted cross entropy -------------------------------------------------------------------


def test_weighted_ce_check_value_from_references():
    assert lossbook.weighted_cross_entropy(LOGITS, TARGET, WEIGHT).item() == pytest.approx(2.020171, abs=1e-6)
    per_example = lossbook.weighted_cross_entropy(LOGITS, TARGET, WEIGHT, reduction="none")
    assert per_example.mean().item() == pytest.approx(3.030257, abs=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_ce_equals_torch(reduction):
    logits, target, weight = random_problem(0)
    target[3] = -100
    ours = lossbook.weighted_cross_entropy(logits, target, weight, reduction=reduction)
    ref = F.cross_entropy(logits, target, weight=weight, reduction=reduction)
    torch.testing.assert_close(ours, ref)


def test_weighted_ce_gradient_is_weight_times_softmax_minus_onehot():
    logits, target, weight = random_problem(1)
    lossbook.weighted_cross_entropy(logits, target, weight, reduction="sum").backward()
    expected = weight[target, None] * (torch.softmax(logits.detach(), 1) - F.one_hot(target, 5))
    torch.testing.assert_close(logits.grad, expected)


# --- focal loss -------------------------------------------------------------------------------


def focal_by_formula(logits, target, gamma, alpha=None):
    """The paper's definition, written independently (probabilities, no log tricks)."""
    p = torch.softmax(logits.double(), dim=1)
    p_t = p[torch.arange(len(target)), target]
    a = torch.ones_like(p_t) if alpha is None else alpha.double()[target]
    return -a * (1 - p_t) ** gamma * torch.log(p_t), a


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_focal_equals_formula(gamma, with_alpha):
    logits, target, weight = random_problem(2)
    alpha = weight if with_alpha else None
    expected, a = focal_by_formula(logits.detach(), target, gamma, alpha)
    got = lossbook.focal_loss(logits, target, gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(got, expected)
    mean = lossbook.focal_loss(logits, target, gamma=gamma, alpha=alpha)
    torch.testing.assert_close(mean, expected.sum() / a.sum())


@given(seed=st.integers(0, 10_000), n=st.integers(1, 20), c=st.integers(2, 8))
def test_focal_gamma_zero_is_weighted_cross_entropy(seed, n, c):
    logits, target, weight = random_problem(seed, n, c)
    torch.testing.assert_close(
        lossbook.focal_loss(logits, target, gamma=0.0, alpha=weight),
        F.cross_entropy(logits, target, weight=weight),
    )
    torch.testing.assert_close(lossbook.focal_loss(logits, target, gamma=0.0), F.cross_entropy(logits, target))


@given(seed=st.integers(0, 10_000), gamma=st.floats(0.1, 5.0))
def test_focal_is_at_most_cross_entropy_and_decreases_in_gamma(seed, gamma):
    logits, target, _ = random_problem(seed)
    ce = F.cross_entropy(logits, target, reduction="none")
    low = lossbook.focal_loss(logits, target, gamma=gamma, reduction="none")
    high = lossbook.focal_loss(logits, target, gamma=gamma + 1, reduction="none")
    assert bool((low <= ce + 1e-12).all()) and bool((high <= low + 1e-12).all())


def test_focal_ignore_index_matches_dropping_rows():
    logits, target, weight = random_problem(3)
    target = target.clone()
    target[::4] = -100
    keep = target != -100
    torch.testing.assert_close(
        lossbook.focal_loss(logits, target, alpha=weight),
        lossbook.focal_loss(logits[keep], target[keep], alpha=weight),
    )
    assert lossbook.focal_loss(logits, target, reduction="none")[~keep].abs().sum() == 0


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradcheck(gamma):
    logits, target, weight = random_problem(4, n=6, c=4)
    assert torch.autograd.gradcheck(
        lambda x: lossbook.focal_loss(x, target, gamma=gamma, alpha=weight[:4]), (logits,)
    )


@pytest.mark.parametrize("gamma", [0.25, 0.5, 2.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_focal_finite_at_extreme_logits(gamma, dtype):
    """p_t = 1 exactly (gamma < 1 makes the naive gradient NaN) and p_t ~ 0."""
    logits = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], dtype=dtype, requires_grad=True)
    target = torch.tensor([0, 0, 2])
    loss = lossbook.focal_loss(logits, target, gamma=gamma)
    loss.backward()
    assert torch.isfinite(loss) and bool(torch.isfinite(logits.grad).all())
    assert loss.item() > 1e3  # the second row is confidently wrong


# --- sigmoid focal loss ----------------------------------------------------------------------


def torchvision_formula(inputs, targets, alpha, gamma):
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def test_sigmoid_focal_check_value_from_references():
    x = torch.log(torch.tensor([9.0], dtype=torch.float64))
    assert lossbook.sigmoid_focal_loss(x, torch.ones(1, dtype=torch.float64)).item() == pytest.approx(2.634013e-4, rel=1e-6)


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (-1.0, 2.0), (0.5, 0.0), (0.9, 1.5)])
def test_sigmoid_focal_equals_torchvision_formula(alpha, gamma):
    g = torch.Generator().manual_seed(5)
    x = 4 * torch.randn(64, 7, generator=g, dtype=torch.float64)
    y = torch.rand(64, 7, generator=g, dtype=torch.float64)  # soft labels too
    y[:32] = (y[:32] > 0.7).double()
    expected = torchvision_formula(x, y, alpha, gamma)
    torch.testing.assert_close(lossbook.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none"), expected)
    torch.testing.assert_close(lossbook.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma), expected.mean())
    torch.testing.assert_close(lossbook.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="sum"), expected.sum())


def test_sigmoid_focal_gradcheck_and_extremes():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(5, 3, generator=g) > 0.5).double()
    assert torch.autograd.gradcheck(lambda v: lossbook.sigmoid_focal_loss(v, y, gamma=0.5), (x,))
    big = torch.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = lossbook.sigmoid_focal_loss(big, torch.tensor([1.0, 0.0, 0.0, 1.0]), gamma=0.5)
    loss.backward()
    assert torch.isfinite(loss) and bool(torch.isfinite(big.grad).all())


# --- class weights ----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["inverse", "sqrt_inverse", "effective_number"])
def test_class_weights_average_one_over_samples(scheme):
    counts = torch.tensor([5000, 300, 20, 1])
    w = lossbook.class_weights(counts, scheme=scheme)
    assert (w * counts).sum().item() / counts.sum().item() == pytest.approx(1.0)
    assert bool((w[:-1] <= w[1:]).all()), "rarer classes must not get smaller weights"


def test_class_weights_values():
    counts = torch.tensor([990.0, 10.0], dtype=torch.float64)
    torch.testing.assert_close(lossbook.class_weights(counts), torch.tensor([1000 / 1980, 50.0], dtype=torch.float64))
    sq = lossbook.class_weights(counts, scheme="sqrt_inverse")
    assert (sq[1] / sq[0]).item() == pytest.approx(math.sqrt(99))
    eff = lossbook.class_weights(counts, scheme="effective_number", beta=0.9)
    raw = torch.tensor([(1 - 0.9) / (1 - 0.9**990), (1 - 0.9) / (1 - 0.9**10)], dtype=torch.float64)
    torch.testing.assert_close(eff, raw * 1000 / (counts * raw).sum())


def test_class_weights_limits_and_cap():
    counts = torch.tensor([800, 150, 50])
    torch.testing.assert_close(lossbook.class_weights(counts, scheme="effective_number", beta=0.0), torch.ones(3))
    near_one = lossbook.class_weights(counts, scheme="effective_number", beta=1 - 1e-9)
    torch.testing.assert_close(near_one, lossbook.class_weights(counts), rtol=1e-4, atol=1e-4)
    capped = lossbook.class_weights(counts, max_weight=3.0)
    assert capped.max().item() == 3.0


# --- debug mode (bad input in general: tests/opinfo/classification.py) ----------------------


def test_nan_logits_are_caught_only_in_debug_mode():
    logits = LOGITS.clone()
    logits[0, 0] = float("nan")
    assert torch.isnan(lossbook.focal_loss(logits, TARGET))  # hot path: no scan of the logits
    with lossbook.debug_mode(), pytest.raises(ValueError, match="logits: contains 1 NaN"):
        lossbook.focal_loss(logits, TARGET)
    assert not lossbook.is_debug()

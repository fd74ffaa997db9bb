"""huber_loss and quantile_loss: references, properties, gradients, bad input."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook import huber_loss, quantile_loss


def _data(seed, shape=(6, 5), dtype=torch.float32, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=dtype),
            scale * torch.randn(shape, generator=g, dtype=dtype))


# ---------------------------------------------------------------- huber


@pytest.mark.parametrize("delta", [0.1, 1.0, 2.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_huber_equals_torch(delta, reduction):
    pred, target = _data(0)
    ours = huber_loss(pred, target, delta=delta, reduction=reduction)
    torch.testing.assert_close(ours, F.huber_loss(pred, target, delta=delta, reduction=reduction))


def test_huber_piecewise_formula_by_hand():
    pred = torch.tensor([0.0, 0.5, 1.0, 1.5, -4.0])
    got = huber_loss(pred, torch.zeros(5), delta=1.0, reduction="none")
    # 0.5 r^2 for |r| <= 1; 1 * (|r| - 0.5) beyond
    torch.testing.assert_close(got, torch.tensor([0.0, 0.125, 0.5, 1.0, 3.5]))


def test_smooth_l1_is_huber_over_delta():
    pred, target = _data(1)
    for beta in (0.5, 2.0):
        torch.testing.assert_close(
            huber_loss(pred, target, delta=beta) / beta, F.smooth_l1_loss(pred, target, beta=beta)
        )


def test_huber_gradient_is_clipped_residual():
    pred, target = _data(2)
    pred.requires_grad_(True)
    huber_loss(pred, target, delta=0.7, reduction="sum").backward()
    torch.testing.assert_close(pred.grad, (pred - target).detach().clamp(-0.7, 0.7))


@settings(max_examples=30)
@given(st.floats(1e-4, 1e-2), st.integers(0, 1000))
def test_huber_small_delta_tends_to_delta_times_mae(delta, seed):
    pred, target = _data(seed, dtype=torch.float64)
    # |huber/delta - |r|| = delta/2 exactly where |r| > delta, and <= delta/2 elsewhere
    diff = huber_loss(pred, target, delta=delta, reduction="none") / delta - (pred - target).abs()
    assert diff.abs().max() <= delta / 2 + 1e-12


def test_huber_large_delta_is_half_mse():
    pred, target = _data(3)
    torch.testing.assert_close(huber_loss(pred, target, delta=1e6), 0.5 * F.mse_loss(pred, target))


def test_huber_gradcheck():
    pred, target = _data(4, shape=(7,), dtype=torch.float64)
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: huber_loss(p, target, delta=1.3), (pred,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_huber_low_precision_finite(dtype):
    # a residual of 1e4 squares to 1e8, past fp16's 65504; Huber's linear tail stays finite
    pred = torch.tensor([1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    loss = huber_loss(pred, torch.zeros(3, dtype=dtype), delta=1.0, reduction="sum")
    loss.float().backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert abs(loss.item() - 2 * (1e4 - 0.5)) <= 2e4 * 1e-2
    if dtype == torch.float16:
        assert not torch.isfinite(F.mse_loss(pred.detach(), torch.zeros(3, dtype=dtype)))


# ---------------------------------------------------------------- quantile


def _pinball_reference(pred, target, tau):
    r = target - pred
    return torch.where(r >= 0, tau * r, (tau - 1) * r)


@pytest.mark.parametrize("tau", [0.05, 0.5, 0.9])
def test_quantile_matches_formula(tau):
    pred, target = _data(5)
    torch.testing.assert_close(
        quantile_loss(pred, target, quantile=tau, reduction="none"),
        _pinball_reference(pred, target, tau),
    )


def test_quantile_asymmetry_by_hand():
    got = quantile_loss(torch.zeros(2), torch.tensor([2.0, -2.0]), quantile=0.9, reduction="none")
    torch.testing.assert_close(got, torch.tensor([1.8, 0.2]))


@settings(max_examples=20)
@given(st.integers(0, 10_000))
def test_median_quantile_is_half_mae(seed):
    pred, target = _data(seed)
    torch.testing.assert_close(quantile_loss(pred, target, quantile=0.5), 0.5 * F.l1_loss(pred, target))


@settings(max_examples=10)
@given(st.floats(0.05, 0.95), st.integers(0, 1000))
def test_quantile_minimiser_is_empirical_quantile(tau, seed):
    g = torch.Generator().manual_seed(seed)
    n = 201
    y = torch.randn(n, generator=g, dtype=torch.float64)
    # candidate constants: the samples themselves (the risk is piecewise linear with kinks there)
    risk = quantile_loss(y[:, None].expand(-1, n), y.expand(n, -1), quantile=tau,
                         reduction="none").mean(1)
    best = y[risk.argmin()]
    # the minimiser is the empirical tau-quantile: order statistic ceil(tau * n) (1-based)
    k = int(torch.ceil(torch.tensor(tau * n)).item())
    s = y.sort().values
    assert s[k - 1] == best or (abs(tau * n - round(tau * n)) < 1e-9 and s[k] == best)


def test_quantile_vector_of_quantiles_matches_loop():
    pred, target = _data(6, shape=(8, 3))
    target = target[:, 0]
    taus = torch.tensor([0.1, 0.5, 0.9])
    got = quantile_loss(pred, target, quantile=taus, reduction="none")
    for j, tau in enumerate(taus.tolist()):
        torch.testing.assert_close(got[:, j], _pinball_reference(pred[:, j], target, tau))
    torch.testing.assert_close(quantile_loss(pred, target, quantile=taus), got.mean())


def test_quantile_gradcheck():
    pred, target = _data(7, shape=(9,), dtype=torch.float64)
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: quantile_loss(p, target, quantile=0.3), (pred,))


def test_quantile_low_precision_finite():
    pred = torch.tensor([6e4, -6e4], dtype=torch.float16, requires_grad=True)
    loss = quantile_loss(pred, torch.zeros(2, dtype=torch.float16), quantile=0.9)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()

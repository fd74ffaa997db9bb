"""lossbook.sim_agents against independent float64 NumPy references."""

import numpy as np
import pytest
import torch

import lossbook
from lossbook import delta_vocab, detokenize, rollout_drift, tokenize_deltas


def _walk(seed, B=3, T=12, scale=0.7):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(scale=scale, size=(B, T + 1, 2)), axis=1)


def _np_vocab(m, n):
    axis = np.linspace(-m, m, n)
    return np.array([[a, b] for a in axis for b in axis])


def _np_tokenize(xy, vocab, rolling):
    B, T1, _ = xy.shape
    out = np.zeros((B, T1 - 1), dtype=np.int64)
    for b in range(B):
        cur = xy[b, 0].copy()
        for t in range(1, T1):
            d = xy[b, t] - (cur if rolling else xy[b, t - 1])
            k = int(np.argmin(((vocab - d) ** 2).sum(1)))
            out[b, t - 1] = k
            cur = cur + vocab[k]
    return out


def test_delta_vocab_is_the_grid():
    np.testing.assert_allclose(delta_vocab(2.0, 5, dtype=torch.float64).numpy(), _np_vocab(2.0, 5))


@pytest.mark.parametrize("rolling", [True, False])
def test_tokenize_equals_the_loop(rolling):
    xy, vocab = _walk(0), _np_vocab(1.5, 7)
    got = tokenize_deltas(torch.tensor(xy), torch.tensor(vocab), rolling=rolling)
    np.testing.assert_array_equal(got.numpy(), _np_tokenize(xy, vocab, rolling))


def test_detokenize_equals_the_running_sum():
    rng = np.random.default_rng(1)
    vocab = rng.normal(size=(9, 2))
    tokens = rng.integers(0, 9, size=(4, 6))
    start = rng.normal(size=(4, 2))
    want = np.concatenate([start[:, None], start[:, None] + np.cumsum(vocab[tokens], 1)], 1)
    got = detokenize(torch.tensor(tokens), torch.tensor(vocab), torch.tensor(start))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_rolling_matching_bounds_the_error_and_plain_matching_does_not():
    m, n = 1.5, 7
    half = m / (n - 1)  # half the grid spacing 2m / (n - 1)
    xy = torch.tensor(_walk(2, B=16, T=60, scale=0.3))
    # the premise of the bound: every displacement to match stays inside the grid
    assert (xy[:, 1:] - xy[:, :-1]).abs().max() + half <= m
    vocab = delta_vocab(m, n, dtype=torch.float64)
    start = xy[:, 0]
    rolled = detokenize(tokenize_deltas(xy, vocab), vocab, start)
    plain = detokenize(tokenize_deltas(xy, vocab, rolling=False), vocab, start)
    assert (rolled - xy).abs().max() <= half + 1e-12
    assert (plain - xy).abs().max() > 3 * half  # the per-step errors add up


def test_rollout_drift_equals_the_masked_mean():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 4, 2)), rng.normal(size=(5, 4, 2))
    mask = rng.random((5, 4)) < 0.6
    mask[:, 2] = False  # no valid agent at step 2: 0 by definition
    d = np.sqrt(((a - b) ** 2).sum(-1))
    want = np.array([d[mask[:, t], t].mean() if mask[:, t].any() else 0.0 for t in range(4)])
    got = rollout_drift(torch.tensor(a), torch.tensor(b), mask=torch.tensor(mask))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(rollout_drift(torch.tensor(a), torch.tensor(b)).numpy(),
                               d.mean(0), rtol=1e-12)


def test_rollout_drift_gradient_is_zero_not_nan_where_rollout_equals_log():
    log = torch.zeros(2, 3, 2)
    rollout = torch.zeros(2, 3, 2, requires_grad=True)
    rollout_drift(rollout, log).sum().backward()
    assert torch.equal(rollout.grad, torch.zeros_like(rollout))


def test_exported():
    assert {"delta_vocab", "tokenize_deltas", "detokenize", "rollout_drift"} <= set(lossbook.__all__)

"""The interview snippets in snippets/metrics.py equal their lossbook twins."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import lossbook

SNIPPETS = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "metrics.py"))


def classification_case(seed, n=80, c=5):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, c - 1, (n,), generator=g)  # the last class never appears as truth
    noise = torch.randint(0, c - 1, (n,), generator=g)  # ...and is never predicted
    pred = torch.where(torch.rand(n, generator=g) < 0.6, target, noise)
    return pred, target, c


@pytest.mark.parametrize("seed", range(4))
def test_precision_recall_f1_snippets(seed):
    pred, target, c = classification_case(seed)
    want = lossbook.precision_recall_f1(pred, target, num_classes=c)
    got_torch = SNIPPETS["precision_recall_f1"](pred, target, c)
    got_np = SNIPPETS["precision_recall_f1_np"](pred.numpy(), target.numpy(), c)
    for w, gt, gn in zip(want, got_torch, got_np):
        torch.testing.assert_close(gt, w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gn, w.numpy(), rtol=0, atol=1e-12)


def binary_cases():
    rng = np.random.default_rng(0)
    for levels in (2, 5, 50, None):  # heavy ties ... no ties
        y = rng.random(400) < 0.15
        s = rng.random(400) if levels is None else rng.integers(0, levels, 400) / levels
        yield s + 0.2 * y, y.astype(np.int64)
    yield np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])  # references.md check
    yield np.full(6, 0.5), np.array([0, 1, 0, 0, 1, 0])  # every score tied
    yield np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])  # perfect ranking


@pytest.mark.parametrize("scores, target", list(binary_cases()))
def test_average_precision_and_roc_auc_snippets(scores, target):
    s, y = torch.from_numpy(scores), torch.from_numpy(target)
    want_ap = lossbook.average_precision(s, y).item()
    assert SNIPPETS["average_precision"](s, y).item() == pytest.approx(want_ap, abs=1e-12)
    assert SNIPPETS["average_precision_np"](scores, target) == pytest.approx(want_ap, abs=1e-12)
    want_auc = lossbook.roc_auc(s, y).item()
    assert SNIPPETS["roc_auc_np"](scores, target) == pytest.approx(want_auc, abs=1e-12)


def calibration_cases():
    g = torch.Generator().manual_seed(1)
    for scale in (0.5, 3.0):
        probs = torch.softmax(scale * torch.randn(500, 4, generator=g, dtype=torch.float64), 1)
        yield probs, torch.randint(0, 4, (500,), generator=g), 15
    conf = torch.tensor([0.95, 0.95, 0.75, 0.55], dtype=torch.float64)
    yield torch.stack([conf, 1 - conf], 1), torch.tensor([0, 1, 0, 0]), 15  # check value 0.4
    yield torch.tensor([[0.25, 0.75], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64), \
        torch.tensor([1, 1, 0]), 4  # confidences on bin edges


@pytest.mark.parametrize("probs, target, n_bins", list(calibration_cases()))
def test_ece_snippets(probs, target, n_bins):
    want = lossbook.expected_calibration_error(probs, target, n_bins=n_bins).item()
    assert SNIPPETS["ece"](probs, target, n_bins).item() == pytest.approx(want, abs=1e-12)
    assert SNIPPETS["ece_np"](probs.numpy(), target.numpy(), n_bins) == pytest.approx(
        want, abs=1e-12)


@pytest.mark.parametrize("sharpen", [0.5, 2.5])
def test_fit_temperature_snippet(sharpen):
    g = torch.Generator().manual_seed(2)
    true = torch.randn(1000, 5, generator=g, dtype=torch.float64)
    target = torch.multinomial(torch.softmax(true, 1), 1, generator=g).squeeze(1)
    logits = sharpen * true
    want = lossbook.fit_temperature(logits, target)
    assert SNIPPETS["fit_temperature"](logits, target) == pytest.approx(want, rel=1e-4)


def trajectory_case(seed, b=20, k=6, t=12):
    g = torch.Generator().manual_seed(seed)
    target = torch.cumsum(torch.randn(b, t, 2, generator=g, dtype=torch.float64), 1)
    pred = target[:, None] + 3.0 * torch.randn(b, k, t, 2, generator=g, dtype=torch.float64)
    probs = torch.softmax(torch.randn(b, k, generator=g, dtype=torch.float64), 1)
    return pred, probs, target


@pytest.mark.parametrize("seed", range(3))
def test_trajectory_snippets(seed):
    pred, probs, target = trajectory_case(seed)
    got = SNIPPETS["trajectory_metrics"](pred, probs, target)
    want = (
        lossbook.min_ade(pred, target),
        lossbook.min_ade(pred, target, mode="argoverse"),
        lossbook.min_fde(pred, target),
        lossbook.miss_rate(pred, target),
        lossbook.brier_min_fde(pred, probs, target),
    )
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w.to(g.dtype), rtol=0, atol=1e-12)
    assert 0 < want[3].item() < 1  # the case exercises both hits and misses
    ade_np, fde_np = SNIPPETS["min_ade_fde_np"](pred.numpy(), target.numpy())
    assert ade_np == pytest.approx(want[0].item(), abs=1e-12)
    assert fde_np == pytest.approx(want[2].item(), abs=1e-12)


def test_trajectory_snippet_check_values():
    pred = torch.arange(10.0, dtype=torch.float64).repeat_interleave(2).reshape(1, 1, 10, 2)
    target = torch.zeros(1, 10, 2, dtype=torch.float64)
    ade_w, ade_a, fde, _, _ = SNIPPETS["trajectory_metrics"](pred, torch.ones(1, 1), target)
    assert ade_w.item() == pytest.approx(6.36396103, abs=1e-8) == ade_a.item()
    assert fde.item() == pytest.approx(162**0.5, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ranking_snippets_without_ties(seed, k):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(10, generator=g)  # continuous: no ties, where the snippets are exact
    relevance = torch.randint(0, 4, (10,), generator=g)
    relevance[0] = 1  # at least one relevant item
    binary = relevance > 1
    want_p = lossbook.precision_at_k(scores, binary, k=k).item()
    assert SNIPPETS["precision_at_k"](scores, binary, k).item() == pytest.approx(want_p, abs=1e-12)
    want_n = lossbook.ndcg(scores, relevance, k=k).item()
    assert SNIPPETS["ndcg_at_k"](scores, relevance, k).item() == pytest.approx(want_n, abs=1e-12)

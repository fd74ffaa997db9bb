"""Uncertainty metrics against independent references: the percentile bootstrap recomputed in
NumPy float64 over the same resamples, scipy's bootstrap, scikit-learn's Brier score, and the
calibration errors evaluated with explicit loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lossbook._lazy import lazy

from lossbook import bootstrap_recall_ci, brier_score, calibration_error, expected_calibration_error

stats = lazy("scipy.stats")
skm = lazy("sklearn.metrics")


def _scenes(seed, n_scenes=12, frames=10):
    g = torch.Generator().manual_seed(seed)
    scene = torch.arange(n_scenes).repeat_interleave(frames)
    p = 0.3 + 0.7 * torch.rand(n_scenes, generator=g)
    target = (torch.rand(n_scenes * frames, generator=g) < 0.4).long()
    target[0] = 1
    pred = (torch.rand(n_scenes * frames, generator=g) < p[scene]).long()
    return pred, target, scene


def _reference(pred, target, groups, n_resamples, confidence, seed):
    """The percentile bootstrap written out: the same draws, counts per group in a Python loop."""
    ids = sorted(set(groups.tolist()))
    tp = np.zeros(len(ids))
    pos = np.zeros(len(ids))
    for p, t, s in zip(pred.tolist(), target.tolist(), groups.tolist()):
        tp[ids.index(s)] += p * t
        pos[ids.index(s)] += t
    draws = torch.randint(0, len(ids), (n_resamples, len(ids)),
                          generator=torch.Generator().manual_seed(seed)).numpy()
    recalls = []
    for row in draws:
        if pos[row].sum() > 0:
            recalls.append(tp[row].sum() / pos[row].sum())
    alpha = (1 - confidence) / 2
    return np.percentile(recalls, [100 * alpha, 100 * (1 - alpha)])


@pytest.mark.parametrize("seed", range(3))
def test_bootstrap_equals_the_written_out_percentile_bootstrap(seed):
    pred, target, scene = _scenes(seed)
    scene = scene * 7 + 3  # arbitrary ids: groups are numbered in sorted order
    low, high = bootstrap_recall_ci(pred, target, groups=scene, n_resamples=400, confidence=0.9,
                                    seed=seed)
    ref = _reference(pred, target, scene, 400, 0.9, seed)
    np.testing.assert_allclose([low.item(), high.item()], ref, rtol=0, atol=1e-12)


def test_without_groups_every_sample_is_a_group():
    pred, target, _ = _scenes(4)
    a = bootstrap_recall_ci(pred, target, n_resamples=300, seed=1)
    b = bootstrap_recall_ci(pred, target, groups=torch.arange(len(pred)), n_resamples=300, seed=1)
    assert torch.equal(torch.stack(a), torch.stack(b))


def test_iid_interval_agrees_with_scipy():
    g = torch.Generator().manual_seed(0)
    target = torch.ones(400, dtype=torch.long)
    pred = (torch.rand(400, generator=g) < 0.8).long()
    low, high = bootstrap_recall_ci(pred, target, n_resamples=4000, seed=0)
    ci = stats.bootstrap((pred.numpy(),), np.mean, n_resamples=4000, method="percentile",
                         confidence_level=0.95, rng=np.random.default_rng(0)).confidence_interval
    assert low.item() == pytest.approx(ci.low, abs=0.01)
    assert high.item() == pytest.approx(ci.high, abs=0.01)


def test_scene_interval_is_wider_on_correlated_frames():
    g = torch.Generator().manual_seed(2)
    scene = torch.arange(15).repeat_interleave(30)
    p = 0.4 + 0.6 * torch.rand(15, generator=g)
    pred = torch.rand(450, generator=g) < p[scene]
    target = torch.ones(450, dtype=torch.bool)
    frame = bootstrap_recall_ci(pred, target, n_resamples=500)
    by_scene = bootstrap_recall_ci(pred, target, groups=scene, n_resamples=500)
    assert (by_scene[1] - by_scene[0]) > 1.5 * (frame[1] - frame[0])


def test_bootstrap_refuses_positives_in_one_group():
    target = torch.zeros(20, dtype=torch.long)
    target[0] = 1
    with pytest.raises(ValueError, match="groups: expected positives in at least two groups"):
        bootstrap_recall_ci(torch.ones(20, dtype=torch.long), target, groups=torch.arange(20) // 2,
                            n_resamples=200)


def _probs(seed, n=60, c=4):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(2 * torch.randn(n, c, generator=g, dtype=torch.float64), dim=1)
    target = torch.multinomial(probs ** 0.5, 1, generator=g).squeeze(1)
    return probs, target


def _binned_reference(conf, correct, n_bins, binning):
    conf, correct = np.asarray(conf), np.asarray(correct, dtype=float)
    if binning == "width":
        bins = [np.flatnonzero((conf > m / n_bins) & (conf <= (m + 1) / n_bins)) for m in range(n_bins)]
        bins[0] = np.concatenate([np.flatnonzero(conf == 0), bins[0]])
    else:
        bins = np.array_split(np.argsort(conf, kind="stable"), min(n_bins, len(conf)))
    return sum(len(b) / len(conf) * abs(correct[b].mean() - conf[b].mean()) for b in bins if len(b))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("binning", ["width", "mass"])
def test_calibration_error_top_label(seed, binning):
    probs, target = _probs(seed)
    ours = calibration_error(probs, target, n_bins=7, binning=binning).item()
    conf, pred = probs.max(1)
    ref = _binned_reference(conf.numpy(), (pred == target).numpy(), 7, binning)
    assert ours == pytest.approx(ref, abs=1e-12)
    if binning == "width":
        assert ours == pytest.approx(expected_calibration_error(probs, target, n_bins=7).item(), abs=1e-12)


@pytest.mark.parametrize("binning", ["width", "mass"])
def test_calibration_error_classwise(binning):
    probs, target = _probs(5, c=3)
    ours = calibration_error(probs, target, n_bins=5, binning=binning, classwise=True).item()
    ref = np.mean([_binned_reference(probs[:, k].numpy(), (target == k).numpy(), 5, binning)
                   for k in range(3)])
    assert ours == pytest.approx(ref, abs=1e-12)


def test_equal_mass_bins_split_like_numpy_array_split():
    probs = torch.tensor([[0.9, 0.1]] * 5 + [[0.6, 0.4]] * 2, dtype=torch.float64)
    target = torch.tensor([0, 0, 0, 1, 1, 0, 0])
    # 7 samples in 3 bins: sizes 3, 2, 2 from the lowest confidence up
    ours = calibration_error(probs, target, n_bins=3, binning="mass").item()
    ref = _binned_reference(probs.max(1).values.numpy(), np.array([1, 1, 1, 0, 0, 1, 1]), 3, "mass")
    assert ours == pytest.approx(ref, abs=1e-12)
    assert calibration_error(probs, target, n_bins=50, binning="mass").item() == pytest.approx(
        _binned_reference(probs.max(1).values.numpy(), np.array([1, 1, 1, 0, 0, 1, 1]), 7, "mass"))


def test_constant_predictor_has_zero_ece():
    """A predictor that always says the base rate is calibrated, and useless."""
    target = torch.tensor([0] * 70 + [1] * 30)
    probs = torch.tensor([[0.7, 0.3]] * 100, dtype=torch.float64)
    assert calibration_error(probs, target).item() == pytest.approx(0.0, abs=1e-12)
    assert calibration_error(probs, target, classwise=True).item() == pytest.approx(0.0, abs=1e-12)
    assert brier_score(probs, target).item() > 0.4


def test_brier_equals_sklearn():
    probs, target = _probs(7, c=4)
    ours = brier_score(probs, target).item()
    assert ours == pytest.approx(skm.brier_score_loss(target.numpy(), probs.numpy(), labels=[0, 1, 2, 3],
                                                  scale_by_half=False), abs=1e-12)
    binary = probs[:, :2] / probs[:, :2].sum(1, keepdim=True)
    y = (target % 2)
    assert brier_score(binary, y).item() == pytest.approx(
        2 * skm.brier_score_loss(y.numpy(), binary[:, 1].numpy()), abs=1e-12)


def test_brier_is_proper_log_loss_too():
    """The expected score under the true distribution is smallest at the truth."""
    true = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    def expected(q):
        return sum(true[k] * brier_score(q[None], torch.tensor([k])) for k in range(3))
    best = expected(true)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        q = torch.softmax(torch.randn(3, generator=g, dtype=torch.float64), 0)
        assert expected(q) >= best - 1e-12

"""lossbook.metrics against scikit-learn, independent loop implementations and the check values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lossbook._lazy import lazy

from lossbook import (
    average_precision,
    brier_min_fde,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    min_ade,
    min_fde,
    miss_rate,
    ndcg,
    precision_at_k,
    precision_recall_curve,
    precision_recall_f1,
    reliability_bins,
    roc_auc,
    roc_curve,
    waymo_miss_rate,
    waymo_miss_thresholds,
)

skm = lazy("sklearn.metrics")
optimize = lazy("scipy.optimize")


def tied_scores(rng, n, levels):
    """Scores with many ties: `levels` distinct values."""
    return torch.from_numpy(rng.integers(0, levels, n) / levels)


# ---------------------------------------------------------------------------------------------
# Confusion matrix, precision / recall / F1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_confusion_matrix_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    c = 5
    y, p = rng.integers(0, c - 1, 200), rng.integers(0, c, 200)  # class 4 never true
    got = confusion_matrix(torch.from_numpy(p), torch.from_numpy(y), num_classes=c + 1)
    want = skm.confusion_matrix(y, p, labels=list(range(c + 1)))
    np.testing.assert_array_equal(got.numpy(), want)
    inferred = confusion_matrix(torch.from_numpy(p), torch.from_numpy(y))
    assert inferred.shape == (c, c)


@pytest.mark.parametrize("average", ["none", "macro", "micro", "weighted"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_precision_recall_f1_equals_sklearn(average, zero_division, seed):
    rng = np.random.default_rng(seed)
    c = 6
    y = rng.integers(0, 4, 60)  # classes 4, 5 absent from the truth
    p = np.where(rng.random(60) < 0.6, y, rng.integers(0, 5, 60))  # class 5 never predicted
    got = precision_recall_f1(
        torch.from_numpy(p), torch.from_numpy(y), num_classes=c, average=average,
        zero_division=zero_division,
    )
    want = skm.precision_recall_fscore_support(
        y, p, labels=list(range(c)), average=None if average == "none" else average,
        zero_division=zero_division,
    )[:3]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=1e-12)


@settings(max_examples=25)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_micro_average_is_accuracy(pairs):
    p, y = (torch.tensor(col) for col in zip(*pairs))
    accuracy = (p == y).double().mean()
    for value in precision_recall_f1(p, y, num_classes=4, average="micro"):
        assert torch.isclose(value, accuracy, rtol=0, atol=1e-12)


def test_macro_f1_is_not_f1_of_macro_precision_and_recall():
    p = torch.tensor([0, 0, 0, 0, 1, 2])
    y = torch.tensor([0, 0, 1, 2, 1, 1])
    prec, rec, f1 = precision_recall_f1(p, y, average="macro")
    assert abs(f1.item() - 2 * prec.item() * rec.item() / (prec.item() + rec.item())) > 0.05


# ---------------------------------------------------------------------------------------------
# Curves, AP, ROC-AUC
# ---------------------------------------------------------------------------------------------


def test_check_values_ap_and_roc_auc():
    s = torch.tensor([0.1, 0.4, 0.35, 0.8])
    y = torch.tensor([0, 0, 1, 1])
    assert average_precision(s, y).item() == pytest.approx(5 / 6, abs=1e-15)
    assert roc_auc(s, y).item() == pytest.approx(0.75, abs=1e-15)
    precision, recall, _ = precision_recall_curve(s, y)
    recall0 = torch.cat([recall.new_zeros(1), recall])
    precision0 = torch.cat([precision.new_ones(1), precision])
    trapezoid = (torch.diff(recall0) * (precision0[1:] + precision0[:-1]) / 2).sum()
    assert trapezoid.item() == pytest.approx(0.7917, abs=1e-4)  # not what AP reports


@pytest.mark.parametrize("levels", [3, 10, 1000, None])
@pytest.mark.parametrize("seed", range(3))
def test_average_precision_and_roc_auc_equal_sklearn_with_ties(levels, seed):
    rng = np.random.default_rng(seed)
    n = 500
    y = (rng.random(n) < 0.2).astype(np.int64)
    s = torch.from_numpy(rng.random(n)) if levels is None else tied_scores(rng, n, levels)
    s = s + 0.3 * torch.from_numpy(y)  # informative but overlapping
    yt = torch.from_numpy(y)
    assert average_precision(s, yt).item() == pytest.approx(
        skm.average_precision_score(y, s.numpy()), abs=1e-12)
    assert roc_auc(s, yt).item() == pytest.approx(skm.roc_auc_score(y, s.numpy()), abs=1e-12)


def test_float32_scores_and_bool_target_equal_sklearn():
    rng = np.random.default_rng(7)
    s = rng.random(300).astype(np.float32).round(2)
    y = rng.random(300) < 0.3
    assert average_precision(torch.from_numpy(s), torch.from_numpy(y)).item() == pytest.approx(
        skm.average_precision_score(y, s), abs=1e-12)
    assert roc_auc(torch.from_numpy(s), torch.from_numpy(y)).item() == pytest.approx(
        skm.roc_auc_score(y, s), abs=1e-12)


def test_curves_equal_sklearn():
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.4).astype(int)
    s = tied_scores(rng, 200, 12) + 0.2 * torch.from_numpy(y)
    p, r, t = precision_recall_curve(s, torch.from_numpy(y))
    sp, sr, st_ = skm.precision_recall_curve(y, s.numpy())
    np.testing.assert_allclose(p.numpy(), sp[:-1][::-1], atol=1e-15)
    np.testing.assert_allclose(r.numpy(), sr[:-1][::-1], atol=1e-15)
    np.testing.assert_array_equal(t.numpy(), st_[::-1])
    fpr, tpr, thr = roc_curve(s, torch.from_numpy(y))
    sf, stp, sth = skm.roc_curve(y, s.numpy(), drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sf, atol=1e-15)
    np.testing.assert_allclose(tpr.numpy(), stp, atol=1e-15)
    np.testing.assert_array_equal(thr.numpy(), sth)


def _pairwise_auc(s, y):
    pos, neg = s[y == 1], s[y == 0]
    diff = pos.double()[:, None] - neg.double()[None, :]
    return ((diff > 0).double().sum() + 0.5 * (diff == 0).double().sum()) / diff.numel()


@settings(max_examples=25)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=2, max_size=30),
    st.randoms(use_true_random=False),
)
def test_roc_auc_is_the_pairwise_probability_and_order_free(rows, rnd):
    s = torch.tensor([float(a) for a, _ in rows])
    y = torch.tensor([b for _, b in rows])
    if y.all() or not y.any():
        return
    auc = roc_auc(s, y)
    assert auc.item() == pytest.approx(_pairwise_auc(s, y.long()).item(), abs=1e-12)
    perm = list(range(len(rows)))
    rnd.shuffle(perm)
    perm = torch.tensor(perm)
    assert roc_auc(s[perm], y[perm]).item() == pytest.approx(auc.item(), abs=1e-12)
    assert average_precision(s[perm], y[perm]).item() == pytest.approx(
        average_precision(s, y).item(), abs=1e-12)
    # a strictly increasing transform of the scores changes neither
    assert average_precision(torch.exp(s), y).item() == pytest.approx(
        average_precision(s, y).item(), abs=1e-12)


def test_random_classifier_ap_is_prevalence_roc_auc_is_half():
    g = torch.Generator().manual_seed(0)
    n, prevalence = 200_000, 0.01
    y = torch.rand(n, generator=g) < prevalence
    s = torch.rand(n, generator=g)
    assert abs(average_precision(s, y).item() - prevalence) < 0.003
    assert abs(roc_auc(s, y).item() - 0.5) < 0.01


def test_average_precision_equals_sklearn_on_a_large_tied_input():
    rng = np.random.default_rng(11)
    n = 100_000
    y = rng.random(n) < 0.05
    s = np.round(rng.normal(size=n) + y, 2)  # ~1000 distinct values: many ties
    assert average_precision(torch.from_numpy(s), torch.from_numpy(y)).item() == pytest.approx(
        skm.average_precision_score(y, s), abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------


def _guo_ece(probs: np.ndarray, target: np.ndarray, n_bins: int) -> float:
    """Guo et al.'s loop: bins (lo, hi] on the max probability."""
    conf, pred = probs.max(1), probs.argmax(1)
    correct = pred == target
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return ece


def test_ece_check_value():
    conf = torch.tensor([0.95, 0.95, 0.75, 0.55], dtype=torch.float64)
    correct = torch.tensor([1, 0, 1, 1])
    # binary form: P(class 1) with targets such that the argmax is right where `correct` says so
    assert expected_calibration_error(conf, correct).item() == pytest.approx(0.4, abs=1e-12)
    probs = torch.stack([conf, 1 - conf], dim=1)  # argmax is class 0
    target = torch.where(correct.bool(), 0, 1)
    assert expected_calibration_error(probs, target).item() == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
@pytest.mark.parametrize("seed", range(3))
def test_ece_equals_guo_loop(n_bins, seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(2 * torch.randn(300, 4, generator=g, dtype=torch.float64), dim=1)
    target = torch.randint(0, 4, (300,), generator=g)
    want = _guo_ece(probs.numpy(), target.numpy(), n_bins)
    assert expected_calibration_error(probs, target, n_bins=n_bins).item() == pytest.approx(
        want, abs=1e-12)


def test_bins_are_left_open_right_closed():
    probs = torch.tensor([[0.25, 0.75], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    _, _, count = reliability_bins(probs, torch.tensor([1, 0, 1]), n_bins=4)
    # 0.75 -> (0.5, 0.75]; 0.5 -> (0.25, 0.5]; 1.0 -> (0.75, 1]
    assert count.tolist() == [0, 1, 1, 1]


def test_reliability_bins_are_consistent():
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(500, 3, generator=g), dim=1)
    target = torch.randint(0, 3, (500,), generator=g)
    conf, acc, count = reliability_bins(probs, target)
    assert count.sum().item() == 500
    accuracy = (probs.argmax(1) == target).double().mean()
    assert (acc * count).sum().item() / 500 == pytest.approx(accuracy.item(), abs=1e-12)
    assert (conf * count).sum().item() / 500 == pytest.approx(
        probs.max(1).values.double().mean().item(), abs=1e-6)


def _overconfident(seed, n=4000, c=5, sharpen=3.0):
    g = torch.Generator().manual_seed(seed)
    true_logits = 1.5 * torch.randn(n, c, generator=g, dtype=torch.float64)
    target = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=g).squeeze(1)
    return sharpen * true_logits, target


def _nll(logits, target, t):
    return torch.nn.functional.cross_entropy(logits / t, target).item()


@pytest.mark.parametrize("sharpen", [0.5, 3.0])
def test_fit_temperature_equals_scipy_and_keeps_accuracy(sharpen):
    logits, target = _overconfident(0, sharpen=sharpen)
    t = fit_temperature(logits, target)
    ref = optimize.minimize_scalar(lambda x: _nll(logits, target, x), bounds=(0.05, 20), method="bounded",
                          options={"xatol": 1e-9})
    assert t == pytest.approx(ref.x, rel=1e-5)
    assert t == pytest.approx(sharpen, rel=0.1)  # recovers the sharpening factor
    assert _nll(logits, target, t) <= _nll(logits, target, 1.0)
    # the gradient of the NLL in T vanishes at the optimum
    tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(logits / tt, target).backward()
    assert abs(tt.grad.item()) < 1e-8
    assert torch.equal((logits / t).argmax(1), logits.argmax(1))


def test_temperature_scaling_reduces_ece_on_held_out_data():
    logits, target = _overconfident(1, n=6000)
    fit, test = slice(0, 3000), slice(3000, None)
    t = fit_temperature(logits[fit], target[fit])
    before = expected_calibration_error(torch.softmax(logits[test], 1), target[test])
    after = expected_calibration_error(torch.softmax(logits[test] / t, 1), target[test])
    assert before.item() > 0.1 and after.item() < 0.03


# ---------------------------------------------------------------------------------------------
# Trajectories
# ---------------------------------------------------------------------------------------------


def _diag_example():
    pred = torch.arange(10.0, dtype=torch.float64).repeat_interleave(2).reshape(1, 1, 10, 2)
    return pred, torch.zeros(1, 10, 2, dtype=torch.float64)


def test_trajectory_check_values():
    pred, target = _diag_example()
    for mode in ("waymo", "argoverse"):
        assert min_ade(pred, target, mode=mode).item() == pytest.approx(6.36396103, abs=1e-8)
    assert min_fde(pred, target).item() == pytest.approx(math.sqrt(162), abs=1e-12)


def test_brier_min_fde_check_value_and_winner_by_fde():
    fde = torch.tensor([0.5, 1.0, 2.5, 3.0, 4.0, 5.0], dtype=torch.float64)
    pred = torch.zeros(1, 6, 1, 2, dtype=torch.float64)
    pred[0, :, 0, 1] = fde
    probs = torch.tensor([[0.1, 0.5, 0.1, 0.1, 0.1, 0.1]], dtype=torch.float64)
    target = torch.zeros(1, 1, 2, dtype=torch.float64)
    assert brier_min_fde(pred, probs, target).item() == pytest.approx(1.31, abs=1e-12)
    # the tempting alternative, min over modes of FDE + (1 - p)^2, is 1.25: a different metric
    assert (fde + (1 - probs[0]) ** 2).min().item() == pytest.approx(1.25, abs=1e-12)


def _loop_reference(pred, target, mask, mode):
    """Per-sample ADE / FDE with explicit loops over samples and modes."""
    out = []
    for b in range(pred.shape[0]):
        steps = [t for t in range(pred.shape[2]) if mask[b, t]]
        if not steps:
            out.append(None)
            continue
        ades, fdes = [], []
        for k in range(pred.shape[1]):
            d = [math.dist(pred[b, k, t].tolist(), target[b, t].tolist()) for t in steps]
            ades.append(sum(d) / len(d))
            fdes.append(d[-1])
        if mode == "waymo":
            out.append(min(ades))
        else:
            out.append(ades[min(range(len(fdes)), key=fdes.__getitem__)])
    return out


@pytest.mark.parametrize("mode", ["waymo", "argoverse"])
def test_min_ade_equals_loop_reference_with_mask(mode):
    g = torch.Generator().manual_seed(5)
    pred = torch.randn(6, 4, 7, 2, generator=g, dtype=torch.float64)
    target = torch.randn(6, 7, 2, generator=g, dtype=torch.float64)
    mask = torch.rand(6, 7, generator=g) < 0.7
    mask[2] = False  # a sample with no valid step is left out
    want = _loop_reference(pred, target, mask, mode)
    got = min_ade(pred, target, mask=mask, mode=mode, reduction="none")
    for b, w in enumerate(want):
        assert got[b].item() == pytest.approx(0.0 if w is None else w, abs=1e-12)
    valid = [w for w in want if w is not None]
    assert min_ade(pred, target, mask=mask, mode=mode).item() == pytest.approx(
        sum(valid) / len(valid), abs=1e-12)


@settings(max_examples=15)
@given(st.integers(0, 10_000))
def test_argoverse_ade_is_never_below_waymo(seed):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(3, 5, 4, 2, generator=g)
    target = torch.randn(3, 4, 2, generator=g)
    waymo = min_ade(pred, target, reduction="none")
    argo = min_ade(pred, target, mode="argoverse", reduction="none")
    assert bool((argo >= waymo).all())
    fde = torch.linalg.vector_norm(pred[:, :, -1] - target[:, None, -1], dim=-1)
    assert torch.allclose(min_fde(pred, target, reduction="none"), fde.min(1).values)


def test_min_ade_gradcheck():
    g = torch.Generator().manual_seed(2)
    pred = torch.randn(1, 2, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(1, 3, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: min_ade(p, target), (pred,))
    assert torch.autograd.gradcheck(lambda p: min_ade(p, target, mode="argoverse"), (pred,))


def test_miss_rate_is_strict():
    target = torch.zeros(3, 2, 2)
    pred = torch.zeros(3, 2, 2, 2)
    pred[0, :, -1, 0] = 2.0  # exactly 2 m: a hit
    pred[1, 0, -1, 0], pred[1, 1, -1, 0] = 2.01, 5.0  # best 2.01 m: a miss
    pred[2, 1, -1, 1] = 1.0  # one mode at 0 m, one at 1 m
    pred[2, 0, -1, 1] = 9.0
    assert miss_rate(pred, target).item() == pytest.approx(1 / 3)
    assert miss_rate(pred, target, threshold=2.005).item() == pytest.approx(1 / 3)
    assert miss_rate(pred, target, threshold=1.0).item() == pytest.approx(2 / 3)


def test_waymo_thresholds_speed_scaling():
    speed = torch.tensor([0.0, 1.39, 1.4, 6.2, 11.0, 30.0], dtype=torch.float64)
    scale = [0.5, 0.5, 0.5, 0.75, 1.0, 1.0]
    for seconds, (lat0, lon0) in {3: (1.0, 2.0), 5: (1.8, 3.6), 8: (3.0, 6.0)}.items():
        lat, lon = waymo_miss_thresholds(speed, seconds=seconds)
        np.testing.assert_allclose(lat.numpy(), [lat0 * s for s in scale], atol=1e-12)
        np.testing.assert_allclose(lon.numpy(), [lon0 * s for s in scale], atol=1e-12)


def _waymo_loop(pred, target, heading, speed, seconds):
    lat0, lon0 = {3: (1.0, 2.0), 5: (1.8, 3.6), 8: (3.0, 6.0)}[seconds]
    missed = []
    for b in range(pred.shape[0]):
        v = speed[b].item()
        scale = 0.5 if v < 1.4 else 1.0 if v > 11 else 0.5 + 0.5 * (v - 1.4) / 9.6
        hit = False
        for k in range(pred.shape[1]):
            # rotate the world-frame error by -heading with complex numbers: (lon, lat)
            e = complex(*(pred[b, k] - target[b]).tolist()) * complex(
                math.cos(-heading[b].item()), math.sin(-heading[b].item()))
            hit |= abs(e.imag) <= lat0 * scale and abs(e.real) <= lon0 * scale
        missed.append(0.0 if hit else 1.0)
    return missed


@pytest.mark.parametrize("seconds", [3, 5, 8])
def test_waymo_miss_rate_equals_loop_reference(seconds):
    g = torch.Generator().manual_seed(seconds)
    pred = 3 * torch.randn(40, 6, 2, generator=g, dtype=torch.float64)
    target = torch.randn(40, 2, generator=g, dtype=torch.float64)
    heading = torch.rand(40, generator=g, dtype=torch.float64) * 2 * math.pi
    speed = torch.rand(40, generator=g, dtype=torch.float64) * 15
    want = _waymo_loop(pred, target, heading, speed, seconds)
    got = waymo_miss_rate(pred, target, heading, speed, seconds=seconds, reduction="none")
    assert got.tolist() == want
    assert 0 < sum(want) < 40  # the draw exercises both outcomes


def test_waymo_miss_rate_is_rotation_invariant():
    g = torch.Generator().manual_seed(9)
    pred = 2 * torch.randn(50, 3, 2, generator=g, dtype=torch.float64)
    target = torch.randn(50, 2, generator=g, dtype=torch.float64)
    heading = torch.rand(50, generator=g, dtype=torch.float64) * 6
    speed = torch.full((50,), 8.0, dtype=torch.float64)
    phi = 0.7
    rot = torch.tensor([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]],
                       dtype=torch.float64)
    a = waymo_miss_rate(pred, target, heading, speed, reduction="none")
    b = waymo_miss_rate(pred @ rot.T, target @ rot.T, heading + phi, speed, reduction="none")
    assert torch.equal(a, b)


def test_lateral_error_costs_more_than_longitudinal():
    target, heading, speed = torch.zeros(1, 2), torch.tensor([math.pi / 2]), torch.tensor([20.0])
    along = torch.tensor([[[0.0, 2.5]]])  # 2.5 m ahead, on the heading (+y)
    across = torch.tensor([[[2.5, 0.0]]])  # 2.5 m to the side
    assert waymo_miss_rate(along, target, heading, speed, seconds=3).item() == 1.0  # lon 2.0
    assert waymo_miss_rate(along, target, heading, speed, seconds=5).item() == 0.0  # lon 3.6
    assert waymo_miss_rate(across, target, heading, speed, seconds=5).item() == 1.0  # lat 1.8


# ---------------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 1, 3, 12])
@pytest.mark.parametrize("seed", range(3))
def test_ndcg_equals_sklearn_with_ties(k, seed):
    rng = np.random.default_rng(seed)
    rel = rng.integers(0, 4, (8, 10))
    rel[3] = 0  # a query with nothing relevant scores 0 in both
    scores = rng.integers(0, 4, (8, 10)).astype(np.float64)  # heavy ties
    got = ndcg(torch.from_numpy(scores), torch.from_numpy(rel), k=k)
    assert got.item() == pytest.approx(skm.ndcg_score(rel, scores, k=k), abs=1e-12)
    cont = rng.random((8, 10))
    got = ndcg(torch.from_numpy(cont), torch.from_numpy(rel), k=k, reduction="none")
    want = [skm.ndcg_score(rel[i : i + 1], cont[i : i + 1], k=k) if rel[i].any() else 0.0
            for i in range(8)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_ndcg_exponential_gain_by_hand():
    scores = torch.tensor([0.9, 0.5, 0.7])
    rel = torch.tensor([1, 3, 0])  # ranked order: rel 1, 0, 3
    dcg = 1 / math.log2(2) + 0 + 7 / math.log2(4)
    ideal = 7 / math.log2(2) + 1 / math.log2(3)
    assert ndcg(scores, rel, gain="exponential").item() == pytest.approx(dcg / ideal, abs=1e-12)
    assert ndcg(scores, rel).item() != pytest.approx(dcg / ideal, abs=1e-3)


def _expected_precision_at_k_by_permutations(scores, rel, k):
    """Average P@k over every tie-breaking order (brute force)."""
    values = []
    for perm in itertools.permutations(range(len(scores))):
        order = sorted(perm, key=lambda i: -scores[i])  # stable: perm breaks the ties
        values.append(sum(rel[i] for i in order[:k]) / k)
    return sum(values) / len(values)


@settings(max_examples=25)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), min_size=1, max_size=6),
    st.integers(1, 6),
)
def test_precision_at_k_averages_over_ties(rows, k):
    scores = [float(s) for s, _ in rows]
    rel = [r for _, r in rows]
    k = min(k, len(rows))
    got = precision_at_k(torch.tensor(scores), torch.tensor(rel), k=k).item()
    assert got == pytest.approx(_expected_precision_at_k_by_permutations(scores, rel, k), abs=1e-12)


def test_precision_at_k_without_ties_is_top_k_count():
    g = torch.Generator().manual_seed(4)
    scores = torch.rand(5, 20, generator=g)
    rel = torch.rand(5, 20, generator=g) < 0.3
    top = scores.topk(4, dim=1).indices
    want = rel.gather(1, top).double().mean(1)
    assert torch.allclose(precision_at_k(scores, rel, k=4, reduction="none"), want)


# ---------------------------------------------------------------------------------------------
# Bad input: a clear error naming the argument
# ---------------------------------------------------------------------------------------------

S = torch.tensor([0.2, 0.7, 0.4])
Y = torch.tensor([0, 1, 1])
TRAJ = torch.zeros(2, 3, 4, 2)
GT = torch.zeros(2, 4, 2)


def test_torch_sort_path_equals_sklearn():
    """bfloat16 scores take the torch.sort path (the one used on GPU tensors)."""
    rng = np.random.default_rng(12)
    y = rng.random(400) < 0.3
    s = torch.from_numpy(rng.random(400) + 0.3 * y).to(torch.bfloat16)  # bf16: many ties
    s64 = s.double().numpy()
    yt = torch.from_numpy(y)
    assert average_precision(s, yt).item() == pytest.approx(
        skm.average_precision_score(y, s64), abs=1e-12)
    assert roc_auc(s, yt).item() == pytest.approx(skm.roc_auc_score(y, s64), abs=1e-12)
    with pytest.raises(ValueError, match="scores"):
        average_precision(torch.tensor([float("nan"), 0.5], dtype=torch.bfloat16), yt[:2])

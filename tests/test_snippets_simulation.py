"""snippets/simulation.py equals lossbook.simulation (PyTorch and NumPy twins)."""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbook import simulation as lib

SNIPPETS = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "simulation.py"))


def random_boxes(rng, n):
    return np.column_stack([rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(0.5, 5, n),
                            rng.uniform(0.5, 3, n), rng.uniform(-4, 4, n)])


def test_box_corners_equal():
    b = random_boxes(np.random.default_rng(0), 50)
    want = lib.box_corners(torch.tensor(b))
    torch.testing.assert_close(SNIPPETS["box_corners"](torch.tensor(b)), want)
    np.testing.assert_allclose(SNIPPETS["box_corners_np"](b), want.numpy(), atol=1e-12)


def test_box_overlap_equal_away_from_ties():
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 2000), random_boxes(rng, 2000)
    want = lib.box_overlap(torch.tensor(a), torch.tensor(b)).numpy()
    # a tiny nudge must not change the answer: keeps exact touching cases out of the comparison
    nudged = b.copy()
    nudged[:, 2:4] += 1e-7
    stable = want == lib.box_overlap(torch.tensor(a), torch.tensor(nudged)).numpy()
    assert stable.sum() > 1990
    got = SNIPPETS["box_overlap"](torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_array_equal(got[stable], want[stable])
    np.testing.assert_array_equal(SNIPPETS["box_overlap_np"](a, b)[stable], want[stable])


@pytest.mark.parametrize("name", ["box_overlap", "box_overlap_np"])
def test_box_overlap_hand_cases(name):
    f = SNIPPETS[name]
    conv = (lambda x: torch.tensor(x)) if name == "box_overlap" else np.array
    base = [0.0, 0.0, 4.0, 2.0, 0.0]
    others = [[4.0, 0.0, 4.0, 2.0, 0.0], [3.9, 0.0, 4.0, 2.0, 0.0], [0.0, 2.0, 4.0, 2.0, 0.0],
              [2.0 + math.sqrt(2) - 0.01, 0.0, 2.0, 2.0, math.pi / 4],
              [3.0, -3.0, 10.0, 0.5, math.pi / 4]]
    got = f(conv(base), conv(others))
    assert [bool(v) for v in got] == [False, True, False, True, False]
    thin = f(conv([0.0, 0.0, 10.0, 0.5, math.pi / 4]), conv([3.0, -3.0, 10.0, 0.5, math.pi / 4]))
    assert not bool(thin)


def test_point_in_polygon_equal():
    rng = np.random.default_rng(2)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 11))
    radii = rng.uniform(1.0, 4.0, 11)
    poly = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    poly = np.vstack([poly, [[5.0, 0.0], [5.0, 0.5]]])  # a horizontal edge
    points = np.vstack([rng.uniform(-5, 6, (500, 2)), [[4.0, 0.0], [4.0, 0.5]]])
    want = lib.point_in_polygon(torch.tensor(points), torch.tensor(poly)).numpy()
    np.testing.assert_array_equal(
        SNIPPETS["point_in_polygon"](torch.tensor(points), torch.tensor(poly)).numpy(), want
    )
    np.testing.assert_array_equal(SNIPPETS["point_in_polygon_np"](points, poly), want)


def test_inverse_bicycle_equal_including_slow_and_wrap():
    rng = np.random.default_rng(3)
    speed = rng.uniform(0.0, 15.0, (6, 40))
    speed[0, 5:9] = 0.3  # crawling: curvature forced to 0
    heading = rng.uniform(-math.pi, math.pi, (6, 40))  # large jumps: wrap matters
    want_a, want_k = lib.inverse_bicycle(torch.tensor(speed), torch.tensor(heading))
    got_a, got_k = SNIPPETS["inverse_bicycle"](torch.tensor(speed), torch.tensor(heading))
    torch.testing.assert_close(got_a, want_a)
    torch.testing.assert_close(got_k, want_k)
    np_a, np_k = SNIPPETS["inverse_bicycle_np"](speed, heading)
    np.testing.assert_allclose(np_a, want_a.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np_k, want_k.numpy(), rtol=1e-9, atol=1e-12)


def test_inverse_bicycle_gradients_equal():
    g = torch.Generator().manual_seed(4)
    speed = (torch.rand(3, 10, generator=g, dtype=torch.float64) * 10 + 1).requires_grad_()
    heading = (torch.rand(3, 10, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    weights = torch.randn(3, 9, generator=g, dtype=torch.float64)
    grads = []
    for f in (lib.inverse_bicycle, SNIPPETS["inverse_bicycle"]):
        a, k = f(speed, heading)
        grads.append(torch.autograd.grad(((a + 5 * k) * weights).sum(), (speed, heading)))
    for mine, ref in zip(*grads):
        torch.testing.assert_close(mine, ref)


def test_histogram_log_likelihood_equal():
    rng = np.random.default_rng(5)
    sim = rng.normal(5, 3, (32, 4, 12))
    log = rng.normal(5, 5, (4, 12))  # out-of-range values clip into the end bins
    want = lib.histogram_log_likelihood(torch.tensor(sim), torch.tensor(log), low=0, high=10,
                                        n_bins=15, smoothing=0.1)
    got = SNIPPETS["histogram_log_likelihood"](torch.tensor(sim), torch.tensor(log), 0, 10, 15, 0.1)
    torch.testing.assert_close(got, want)
    np.testing.assert_allclose(
        SNIPPETS["histogram_log_likelihood_np"](sim, log, 0, 10, 15, 0.1), want.numpy(), rtol=1e-12
    )

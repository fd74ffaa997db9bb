"""snippets/debugging.py equals lossbook.debugging."""

import copy
import runpy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lossbook import debugging as lib

SNIPPETS = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "debugging.py"))


def test_overfit_one_batch_equal():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 5, generator=g), torch.randint(0, 4, (16,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4)).eval()
    twin = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)  # dropout draws the same masks in both runs
        want = lib.overfit_one_batch(model, (x, y), F.cross_entropy, steps=40, lr=0.02)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        got = SNIPPETS["overfit_one_batch"](twin, x, y, F.cross_entropy, steps=40, lr=0.02)
    assert got == want
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_grad_norm_equal():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2), nn.Linear(2, 2))
    model[3].requires_grad_(True)
    out = model[:3](torch.randn(8, 5))  # the last layer is unused: no gradient
    F.mse_loss(out, torch.randn(8, 2)).backward()
    want_layers, want_total = lib.grad_norm(model)
    got_layers, got_total = SNIPPETS["grad_norm"](model)
    assert got_layers.keys() == {k for k, v in want_layers.items() if v is not None}
    for name, value in got_layers.items():
        assert abs(value - want_layers[name]) <= 1e-6 * want_layers[name]
    assert abs(got_total - want_total) <= 1e-6 * want_total
    assert abs(got_total - torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item()) < 1e-5


def test_leaked_rows_equal():
    rng = np.random.default_rng(0)
    train = rng.integers(-4, 5, (40, 2)).astype(float)
    test = rng.integers(-4, 5, (150, 2)).astype(float)
    test[test == 0] = -0.0  # signed zeros must still match
    want = lib.leaked_rows(torch.tensor(train), torch.tensor(test)).numpy()
    assert 0 < want.sum() < len(want)
    got = SNIPPETS["leaked_rows"](torch.tensor(train), torch.tensor(test)).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(SNIPPETS["leaked_rows_np"](train, test), want)

"""lossbook.debugging: behaviour on small seeded models, and independent references."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lossbook.debugging import grad_norm, leaked_rows, lr_sweep, overfit_one_batch


def small_mlp(seed=0, out=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, out))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)


# ------------------------------------------------------------------ overfit_one_batch


def test_overfit_drives_loss_near_zero(batch):
    history = overfit_one_batch(small_mlp(), batch, F.cross_entropy, steps=150, lr=1e-2)
    assert len(history) == 150
    assert history[0] > 0.5  # started from a real loss
    assert history[-1] < 0.01
    model = small_mlp()
    overfit_one_batch(model, batch, F.cross_entropy, steps=150, lr=1e-2)
    assert bool((model(batch[0]).argmax(1) == batch[1]).all())  # memorised


def test_overfit_matches_a_hand_written_loop(batch):
    """Same seed, same optimiser: the history equals an explicit Adam / SGD loop."""
    for name, make_opt in [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)]:
        model = small_mlp()
        got = overfit_one_batch(model, batch, F.cross_entropy, steps=20, lr=0.05, optimizer=name)
        ref_model = small_mlp()
        opt = make_opt(ref_model.parameters(), lr=0.05)
        want = []
        for _ in range(20):
            opt.zero_grad()
            loss = F.cross_entropy(ref_model(batch[0]), batch[1])
            want.append(loss.item())
            loss.backward()
            opt.step()
        assert got == want
        for p, q in zip(model.parameters(), ref_model.parameters()):
            torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_overfit_double_softmax_has_a_floor(batch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=-1))
    history = overfit_one_batch(model, batch, F.cross_entropy, steps=300, lr=1e-2)
    floor = math.log(1 + 2 / math.e)  # 3 classes, inputs to log_softmax in [0, 1]
    assert min(history) > floor - 1e-6
    assert min(history) < floor + 0.05


def test_overfit_stops_when_the_loss_diverges():
    x = 100.0 * torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    history = overfit_one_batch(nn.Linear(4, 1), (x, x.sum(1, keepdim=True) * 3), F.mse_loss,
                                steps=500, lr=1.0, optimizer="sgd")
    assert len(history) < 500
    assert not math.isfinite(history[-1])
    assert all(math.isfinite(h) for h in history[:-1])


def test_overfit_switches_to_train_mode(batch):
    model = nn.Sequential(nn.Linear(6, 32), nn.Dropout(0.5), nn.Linear(32, 3)).eval()
    overfit_one_batch(model, batch, F.cross_entropy, steps=1)
    assert model.training


# ------------------------------------------------------------------ grad_norm


def test_grad_norm_equals_torch_total_and_manual_per_layer(batch):
    model = small_mlp()
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    per_layer, total = grad_norm(model)
    assert list(per_layer) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert per_layer[name] == pytest.approx(math.sqrt(float((p.grad.double() ** 2).sum())))
    reference = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=float("inf"))
    assert total == pytest.approx(reference.item(), rel=1e-6)
    _, total_inf = grad_norm(model, norm_type=math.inf)
    assert total_inf == pytest.approx(max(p.grad.abs().max().item() for p in model.parameters()))
    _, total_1 = grad_norm(model, norm_type=1.0)
    assert total_1 == pytest.approx(sum(p.grad.abs().sum().item() for p in model.parameters()),
                                    rel=1e-6)


def test_grad_norm_hand_computed_and_missing():
    model = nn.Sequential(nn.Linear(2, 1), nn.Linear(1, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
        model[0].bias.zero_()
    model[1].weight.requires_grad_(False)
    model[0](torch.tensor([[3.0, 4.0]])).sum().backward()  # second layer unused
    per_layer, total = grad_norm(model)
    assert per_layer == {"0.weight": 5.0, "0.bias": 1.0, "1.bias": None}  # frozen weight left out
    assert total == pytest.approx(math.sqrt(26.0))


def test_grad_norm_before_backward_is_all_none():
    per_layer, total = grad_norm(nn.Linear(3, 2))
    assert per_layer == {"weight": None, "bias": None} and total == 0.0


# ------------------------------------------------------------------ lr_sweep


def test_lr_sweep_orders_rates_and_is_reproducible():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g)
    make = lambda: nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    state = torch.random.get_rng_state()
    curves = lr_sweep(make, (x, y), F.mse_loss, lrs=[1e-3, 1e-1, 5.0], steps=60)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert list(curves) == [1e-3, 1e-1, 5.0]
    assert len({round(c[0], 6) for c in curves.values()}) == 1  # same initialisation
    assert curves[1e-1][-1] < 0.1 * curves[1e-3][-1]
    assert curves[1e-3][-1] > 0.5 * curves[1e-3][0]  # too low: barely moved
    assert not math.isfinite(curves[5.0][-1])  # too high: diverged
    again = lr_sweep(make, (x, y), F.mse_loss, lrs=[1e-1], steps=60)
    assert again[1e-1] == curves[1e-1]


# ------------------------------------------------------------------ leaked_rows


def test_leaked_rows_matches_python_set_reference():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 4, (300, 3)).astype(float)
    test = rng.integers(0, 4, (200, 3)).astype(float)
    seen = {tuple(r) for r in train}
    want = np.array([tuple(r) in seen for r in test])
    assert 0 < want.sum() < len(want)
    got = leaked_rows(torch.tensor(train), torch.tensor(test)).numpy()
    np.testing.assert_array_equal(got, want)
    got_int = leaked_rows(torch.tensor(train).long(), torch.tensor(test).long()).numpy()
    np.testing.assert_array_equal(got_int, want)


def test_leaked_rows_special_values():
    train = torch.tensor([[0.0, 1.0], [float("nan"), 2.0], [1.0, 2.0]])
    test = torch.tensor([[-0.0, 1.0], [float("nan"), 2.0], [1.0, 2.004], [9.0, 9.0]])
    assert leaked_rows(train, test).tolist() == [True, False, False, False]
    assert leaked_rows(train, test, decimals=2).tolist() == [True, False, True, False]
    nan_rows = torch.tensor([[float("nan"), 0.0]] * 5 + [[1.0, 2.0], [0.5, 0.5]])
    assert leaked_rows(nan_rows, test[[2, 3, 0]], decimals=2).tolist() == [True, False, False]
    ids = leaked_rows(torch.tensor([3, 1, 4]), torch.tensor([1, 5, 9, 3]))
    assert ids.tolist() == [True, False, False, True]
    assert leaked_rows(torch.zeros(0, 2), torch.ones(3, 2)).tolist() == [False] * 3
    assert leaked_rows(torch.ones(3, 2), torch.zeros(0, 2)).shape == (0,)


# ------------------------------------------------------------------ bad input

"""lossbook.diffusion_toy: the generated intersection, and the trained models land where the
Diffusion for simulation lesson says they do (mode proportions within stated tolerances)."""

import pytest
import torch

from lossbook import (
    toy_condition,
    toy_intersection,
    toy_modes,
    train_toy_baselines,
    train_toy_trajectory_model,
)
from lossbook.diffusion_toy import MODES, ToyTrajectoryModel, _trained_baselines

# Same worker as the lesson's blocks: the toy model is trained once per process and reused.
pytestmark = pytest.mark.xdist_group("docs/diffusion-for-simulation.md")

STRAIGHT, LEFT, STOP, OTHER = range(4)


def freq(futures):
    return (torch.bincount(toy_modes(futures), minlength=4).float() / len(futures)).tolist()


def test_data_frequencies_and_labels():
    data = toy_intersection(40_000, seed=3)
    red = data["cond"][:, 1] == 1
    assert red.float().mean().item() == pytest.approx(0.2, abs=0.01)
    green_modes = toy_modes(data["future"][~red])
    torch.testing.assert_close(
        green_modes, data["mode"][~red]
    )  # the labeller agrees with the generator
    assert (green_modes == LEFT).float().mean().item() == pytest.approx(0.3, abs=0.01)
    red_modes = toy_modes(data["future"][red])
    assert (red_modes == STOP).float().mean().item() == pytest.approx(0.95, abs=0.01)
    assert (red_modes == OTHER).sum() == 0
    # stops end before the line; the route flags are one-hot
    stops = data["future"][data["mode"] == STOP]
    assert stops[:, -1, 1].max() < 8.0
    assert torch.all(data["cond"][:, 2] + data["cond"][:, 3] == 1)


def test_data_is_seeded():
    a, b = toy_intersection(50, seed=1), toy_intersection(50, seed=1)
    torch.testing.assert_close(a["future"], b["future"])
    assert not torch.equal(a["future"], toy_intersection(50, seed=2)["future"])


def test_condition_rows_and_sample_errors():
    """Bad inputs of the public functions: tests/opinfo/diffusion.py."""
    assert (
        toy_condition(2, speed=5.0, red=True, route="straight").tolist()
        == [[-1.0, 1.0, 0.0, 1.0]] * 2
    )
    model = train_toy_trajectory_model(seed=0)
    with pytest.raises(ValueError, match=r"cond: expected shape \[B, 4\]"):
        model.sample(torch.zeros(3, 3))


@pytest.fixture(scope="module")
def model():
    return train_toy_trajectory_model(seed=0)


def test_diffusion_samples_both_modes_in_the_logged_proportions(model):
    # The lesson states: route unknown, green light -> about a quarter to a third turn left
    # (data 0.30), asserted here as 0.20-0.40, and almost nothing between the modes.
    for seed in (1, 7):
        f = freq(model.sample(toy_condition(2000), seed=seed))
        assert 0.20 <= f[LEFT] <= 0.40, f
        assert 0.57 <= f[STRAIGHT] <= 0.80, f
        assert f[OTHER] <= 0.03 and f[STOP] <= 0.01, f


def test_diffusion_conditioning(model):
    assert freq(model.sample(toy_condition(500, route="left"), seed=2))[LEFT] >= 0.95
    assert freq(model.sample(toy_condition(500, route="straight"), seed=2))[STRAIGHT] >= 0.95
    red = freq(model.sample(toy_condition(1000, red=True), seed=2))
    assert 0.85 <= red[STOP] and 0.01 <= red[STRAIGHT] <= 0.12, red  # rare runners survive
    # history (speed): the same route travels further when faster
    slow = model.sample(toy_condition(300, speed=5.0, route="straight"), seed=2)[:, -1, 1].mean()
    fast = model.sample(toy_condition(300, speed=8.0, route="straight"), seed=2)[:, -1, 1].mean()
    assert slow.item() == pytest.approx(21.0, abs=2.0) and fast.item() == pytest.approx(
        33.0, abs=2.0
    )


def test_guidance_effects(model):
    unguided = freq(model.sample(toy_condition(500, route="left"), guidance_scale=0.0, seed=3))
    assert unguided[LEFT] < 0.45  # s = 0 ignores the route

    def cost(future):
        return torch.relu(20.0 - future[:, -1, 1])

    runs = freq(model.sample(toy_condition(500, red=True), cost=cost, cost_scale=0.3, seed=4))
    assert runs[STRAIGHT] >= 0.5, runs  # a rare event made common


def test_baselines_average_vs_modes():
    base = train_toy_baselines(seed=0)
    cond = toy_condition(1)
    assert MODES[int(toy_modes(base.mse(cond))[0])] == "other"  # the impossible average
    futures, probs = base.wta(cond)
    labels = sorted(MODES[int(m)] for m in toy_modes(futures[0]))
    assert labels == ["left", "straight"]
    p_left = probs[0, toy_modes(futures[0]) == LEFT].item()
    assert p_left == pytest.approx(0.3, abs=0.1)


def test_training_is_memoised_and_frozen(model):
    assert train_toy_trajectory_model(seed=0) is model
    assert not any(p.requires_grad for p in model.parameters())
    assert isinstance(model, ToyTrajectoryModel)


def test_processes_share_the_trained_weights_through_the_cache_folder(tmp_path, monkeypatch):
    """With LOSSBOOK_CACHE_DIR set, the first call trains and saves the weights; a later one (a
    new process: the memo bypassed) loads that file instead of training (the file's weights,
    zeroed here, come back), and leaves torch's generator as training does. Other arguments
    name other files: they train."""
    monkeypatch.setenv("LOSSBOOK_CACHE_DIR", str(tmp_path / "models"))
    def train(*, seed, steps, n_data):  # without the per-process memo
        return _trained_baselines.__wrapped__(seed, steps, n_data)

    trained = train(seed=3, steps=2, n_data=64)
    after_training = torch.rand(3)
    saved = list((tmp_path / "models").glob("toy-baselines-*.pt"))
    assert [p.name.rsplit("-", 1)[0] for p in saved] == ["toy-baselines-3-2-64"]
    assert not any(p.requires_grad for p in trained.parameters())
    torch.save({k: torch.zeros_like(v) for k, v in trained.state_dict().items()}, saved[0])
    loaded = train(seed=3, steps=2, n_data=64)
    assert torch.equal(torch.rand(3), after_training)
    assert all(v.eq(0).all() for v in loaded.state_dict().values())
    assert not any(p.requires_grad for p in loaded.parameters())
    for other in ({"seed": 4, "steps": 2, "n_data": 64}, {"seed": 3, "steps": 1, "n_data": 64},
                  {"seed": 3, "steps": 2, "n_data": 65}):
        assert train(**other).mse_net[0].weight.ne(0).any(), other  # trained, not the zeroed file
    assert len(list((tmp_path / "models").glob("*.pt"))) == 4
    assert not list((tmp_path / "models").glob("*.tmp"))


def test_a_bad_seed_is_refused_even_after_its_value_was_trained():
    """The memo is keyed after the checks: seed=True (equal to 1, and hashed as 1) must not find
    the model trained for seed=1."""
    train_toy_baselines(seed=1, steps=1, n_data=8)
    for bad in (True, 1.0):
        with pytest.raises(TypeError, match="seed: expected an int"):
            train_toy_baselines(seed=bad, steps=1, n_data=8)
        with pytest.raises(TypeError, match="seed: expected an int"):
            train_toy_trajectory_model(seed=bad, steps=1, n_data=8)


def test_parameterization_option():
    with pytest.raises(ValueError, match="parameterization"):
        train_toy_trajectory_model(seed=0, parameterization="score")
    # an untrained eps-model's eps() is its raw output; an x0-model's goes through eps_from_x0
    x, t, c = torch.randn(3, 16), torch.tensor([0, 50, 99]), toy_condition(3)
    eps_model = ToyTrajectoryModel(parameterization="eps")
    torch.testing.assert_close(eps_model.eps(x, t, c), eps_model(x, t, c))
    x0_model = ToyTrajectoryModel(parameterization="x0")
    ab = x0_model.alphas_cumprod
    a = ab[t][:, None]  # float64, as the library computes its coefficients
    expected = (x.double() - a.sqrt() * x0_model(x, t, c).double()) / (1 - a).sqrt()
    torch.testing.assert_close(x0_model.eps(x, t, c).double(), expected, rtol=1e-5, atol=1e-5)

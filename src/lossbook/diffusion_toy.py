r"""A toy intersection for the diffusion-for-simulation lesson: data, models that train in seconds.

An ego car approaches an intersection heading north ($+y$) at 5 to 8 m/s. Its logged 4-second
future (8 points, 0.5 s apart, relative to its current position) is one of:

- **straight**: keeps its speed and lane;
- **left**: slows to 3.5 to 5 m/s and turns left on an arc of radius 9 to 11 m that starts at
  the stop line ($y = 8$ m);
- **stop**: the light is red: brakes to a stop 6 to 7.5 m ahead, before the line;
- a red-light **runner** (rare): the light is red and the car goes straight through anyway.

With a green light 30% of logged drivers turn left; with a red light 95% stop. The condition a
model sees is `[speed, red, route_left, route_straight]` (speed standardised; the route is the
driver's intended route, as from a navigation system, and `[0, 0]` when unknown).

`train_toy_trajectory_model` trains a conditional DDPM (a small MLP denoiser, eps prediction,
100-step cosine schedule, classifier-free guidance on the route) with
[diffusion_loss][lossbook.diffusion.diffusion_loss]; `train_toy_baselines` trains an MSE regressor
and a 2-mode winner-takes-all model
([wta_trajectory_loss][lossbook.trajectory.wta_trajectory_loss]) on the same data with the route
unknown. Training is seeded and runs on one thread, so a seed gives the same model on every run
of a given machine; each function memoises its result per seed within the process (the models
are returned frozen: treat them as read-only). With the environment variable `LOSSBOOK_CACHE_DIR`
naming a folder, processes also share them: the first to need a model trains it and saves its
weights there, the others wait for it and load them (the test suite sets it, so that the site
build's figures and the tests train the lesson's models once; a file's name holds the arguments
and a hash of the torch version and the library's source, so a changed library trains again).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from ._checks import check_choice, check_number, check_tensor
from .diffusion import (
    alphas_cumprod,
    cosine_beta_schedule,
    ddpm_sample,
    diffusion_loss,
    eps_from_v,
    eps_from_x0,
)
from .diffusion._common import _checked_once
from .trajectory import wta_trajectory_loss

__all__ = [
    "MODES",
    "ToyBaselines",
    "ToyTrajectoryModel",
    "toy_condition",
    "toy_intersection",
    "toy_modes",
    "train_toy_baselines",
    "train_toy_trajectory_model",
]

DT = 0.5  # seconds between future points
STEPS = 8  # future points: 4 s
STOP_LINE = 8.0  # y of the stop line, where the left-turn arc starts (m)
MODES = ("straight", "left", "stop", "other")
_COND = 4
CACHE_DIR_ENV = "LOSSBOOK_CACHE_DIR"


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@functools.cache
def _source_hash() -> str:
    """A hash of the torch version and every module of the library: a model that other code
    trained and saved is not reused."""
    digest = hashlib.sha256(torch.__version__.encode())
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _shared(train: Callable[[], nn.Module], empty: Callable[[], nn.Module], name: str, seed: int) -> nn.Module:
    """``train()``, frozen. With ``LOSSBOOK_CACHE_DIR`` set, the weights saved there for the same
    ``name`` by an earlier call (any process), loaded into ``empty()``, or else ``train()``'s,
    saved there for the next. A lock makes a second process wait for the first one's training
    instead of training too. Either way torch's global generator ends as training leaves it
    (seeded with ``seed``, then the layers' initialisation)."""
    folder = os.environ.get(CACHE_DIR_ENV)
    if not folder:
        return _frozen(train())
    import fcntl  # POSIX; read only when sharing is asked for

    path = Path(folder) / f"{name}-{_source_hash()}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            torch.manual_seed(seed)
            model = empty()
            model.load_state_dict(torch.load(path, weights_only=True))
            return _frozen(model)
        model = train()
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            torch.save(model.state_dict(), partial)
            partial.replace(path)  # whole or absent, for a reader that does not lock
        finally:
            partial.unlink(missing_ok=True)
        return _frozen(model)


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")


def _check_count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {n!r}")
    return n


def toy_intersection(
    n: int,
    *,
    seed: int = 0,
    p_left: float = 0.3,
    p_red: float = 0.2,
    p_run: float = 0.05,
) -> dict[str, torch.Tensor]:
    r"""Generate `n` logged futures at the toy intersection.

    Args:
        n: number of samples.
        seed: seed of the generator.
        p_left: probability that a driver intends to turn left.
        p_red: probability that the light is red.
        p_run: probability that a driver runs a red light (goes straight through).

    Shape:
        - `future`: `[n, 8, 2]` positions in metres (x east, y north) at 0.5 s, 1.0 s, ..., 4.0 s
        - `cond`: `[n, 4]` = `[(v0 - 6.5) / 1.5, red, route_left, route_straight]`
        - `mode`: `[n]` index into `MODES` (0 straight, 1 left, 2 stop; runners are 0)
        - `speed`: `[n]` current speed v0 (m/s)

    Example:
        >>> data = toy_intersection(10_000, seed=0)
        >>> cond, mode = data["cond"], data["mode"]
        >>> green = cond[:, 1] == 0
        >>> left = (mode == 1) & green
        >>> round(left.sum().item() / green.sum().item(), 2)  # left turns on green
        0.3
    """
    _check_count("n", n)
    _check_seed(seed)
    for name, p in (("p_left", p_left), ("p_red", p_red), ("p_run", p_run)):
        check_number(name, p, low=0.0, high=1.0)
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=g, dtype=f64)

    t = torch.arange(1, STEPS + 1, dtype=f64) * DT  # [T]
    v0 = uniform(5.0, 8.0)
    x_offset = 0.1 * torch.randn(n, generator=g, dtype=f64)
    red = torch.rand(n, generator=g, dtype=f64) < p_red
    left = torch.rand(n, generator=g, dtype=f64) < p_left
    runs = red & (torch.rand(n, generator=g, dtype=f64) < p_run)
    stops = red & ~runs

    accel = uniform(-0.3, 0.5)  # straight: gentle speed changes
    s_straight = v0[:, None] * t + 0.5 * accel[:, None] * t**2

    v_turn, tau, radius = uniform(3.5, 5.0), 1.2, uniform(9.0, 11.0)  # left: slow, then arc
    s_left = v_turn[:, None] * t + (v0 - v_turn)[:, None] * tau * (1 - torch.exp(-t / tau))
    angle = (s_left - STOP_LINE).clamp(min=0) / radius[:, None]
    on_arc = s_left > STOP_LINE
    left_x = torch.where(
        on_arc, -radius[:, None] * (1 - torch.cos(angle)), torch.zeros_like(s_left)
    )
    left_y = torch.where(on_arc, STOP_LINE + radius[:, None] * torch.sin(angle), s_left)

    gap = uniform(6.0, 7.5)  # red: constant deceleration to a stop `gap` metres ahead
    decel = v0**2 / (2 * gap)
    t_stop = torch.minimum(t[None], (v0 / decel)[:, None])
    s_stop = v0[:, None] * t_stop - 0.5 * decel[:, None] * t_stop**2

    turning = left & ~red
    x = torch.where(turning[:, None], left_x, torch.zeros_like(left_x)) + x_offset[:, None]
    y = torch.where(turning[:, None], left_y, s_straight)
    y = torch.where(stops[:, None], s_stop, y)
    future = torch.stack([x, y], dim=-1).float()
    mode = torch.where(stops, 2, turning.long())
    cond = torch.stack([(v0 - 6.5) / 1.5, red.to(f64), left.to(f64), (~left).to(f64)], dim=-1)
    return {"future": future, "cond": cond.float(), "mode": mode, "speed": v0.float()}


def toy_condition(
    n: int, *, speed: float = 6.5, red: bool = False, route: str | None = None
) -> torch.Tensor:
    """The condition vector for `n` identical situations.

    Args:
        n: batch size.
        speed: current speed in m/s.
        red: whether the light is red.
        route: `"left"`, `"straight"` or `None` (unknown: the null condition of guidance).

    Shape:
        - output: `[n, 4]`

    Example:
        >>> toy_condition(1, speed=8.0, route="left")
        tensor([[1., 0., 1., 0.]])
    """
    _check_count("n", n)
    if route not in (None, "left", "straight"):
        raise ValueError(f"route: expected 'left', 'straight' or None, got {route!r}")
    if not isinstance(red, bool):
        raise TypeError(f"red: expected a bool, got {type(red).__name__}")
    check_number("speed", speed, low=0.0)
    row = [(speed - 6.5) / 1.5, float(red), float(route == "left"), float(route == "straight")]
    return torch.tensor([row]).repeat(n, 1)


def toy_modes(future: torch.Tensor) -> torch.Tensor:
    """Label each trajectory by where it is after 4 s: an index into `MODES`.

    `left`: more than 2.5 m west; `stop`: still before $y = 9$ m (at or just past the line);
    `straight`: within 1 m of the lane centre and past $y = 9$ m; `other`: anything else
    (between the modes).

    Shape:
        - future: `[..., 8, 2]` metres
        - output: `[...]` long

    Example:
        >>> end = torch.tensor([[0.1, 27.0], [-6.0, 17.0], [0.0, 6.5], [-1.8, 24.0]])
        >>> toy_modes(torch.zeros(4, 8, 2) + end[:, None])
        tensor([0, 1, 2, 3])
    """
    check_tensor("future", future, kind="float")
    if future.ndim < 2 or future.shape[-2:] != (STEPS, 2):
        raise ValueError(f"future: expected shape [..., {STEPS}, 2], got {list(future.shape)}")
    x, y = future[..., -1, 0], future[..., -1, 1]
    mode = torch.full(x.shape, 3, dtype=torch.long, device=future.device)
    mode = torch.where((x.abs() < 1.0) & (y >= 9.0), 0, mode)
    mode = torch.where(x < -2.5, 1, mode)
    mode = torch.where((y < 9.0) & (x.abs() < 1.0), 2, mode)
    return mode


def _mlp(d_in: int, d_out: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Linear(d_in, hidden), nn.SiLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.SiLU()]
    return nn.Sequential(*mods, nn.Linear(hidden, d_out))


class ToyTrajectoryModel(nn.Module):
    r"""Conditional trajectory DDPM: an MLP predicts $v$ (by default) from
    $(x_t, t, \text{cond})$.

    Trajectories are flattened to 16 numbers and standardised per coordinate (`mean`, `std`)
    before diffusion; `sample` returns metres. The timestep enters as sin / cos features of
    $t/T$ at four frequencies, concatenated with the noisy trajectory and the condition.
    `forward` returns the prediction it was trained on (`parameterization`: `"v"`, `"eps"` or
    `"x0"`); `eps` converts it to the noise prediction the DDPM step uses
    ([eps_from_v][lossbook.diffusion.eps_from_v], [eps_from_x0][lossbook.diffusion.eps_from_x0]).
    """

    def __init__(self, *, hidden: int = 128, T: int = 100, parameterization: str = "v") -> None:
        super().__init__()
        check_choice("parameterization", parameterization, ("eps", "x0", "v"))
        d = STEPS * 2
        self.T = T
        self.parameterization = parameterization
        self.net = _mlp(d + 8 + _COND, d, hidden, 2)
        self.register_buffer("freq", torch.exp(torch.linspace(0.0, math.log(50.0), 4)))
        self.register_buffer("alphas_cumprod", alphas_cumprod(cosine_beta_schedule(T)))
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The raw prediction for noisy standardised futures `x` `[B, 16]`, steps `t` `[B]`."""
        phase = t.to(x.dtype)[:, None] / self.T * self.freq
        return self.net(torch.cat([x, torch.sin(phase), torch.cos(phase), cond], dim=-1))

    def eps(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The noise prediction implied by the model's prediction."""
        out = self(x, t, cond)
        if self.parameterization == "eps":
            return out
        if self.parameterization == "x0":
            return eps_from_x0(x, t, out, self.alphas_cumprod)
        return eps_from_v(x, t, out, self.alphas_cumprod)

    def normalize(self, future: torch.Tensor) -> torch.Tensor:
        """Futures in metres `[B, 8, 2]` to the standardised `[B, 16]` the model diffuses."""
        return (future.reshape(future.shape[0], -1) - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised `[B, 16]` back to futures in metres `[B, 8, 2]`."""
        return (x * self.std + self.mean).reshape(x.shape[0], STEPS, 2)

    def sample(
        self,
        cond: torch.Tensor,
        *,
        guidance_scale: float = 1.0,
        cost: Callable[[torch.Tensor], torch.Tensor] | None = None,
        cost_scale: float = 0.0,
        seed: int = 0,
    ) -> torch.Tensor:
        """Draw one future per row of `cond` (metres, `[B, 8, 2]`).

        `guidance_scale` applies classifier-free guidance on the route (the null condition is
        `cond` with the route zeroed); `cost` maps futures in metres `[B, 8, 2]` to a per-sample
        cost `[B]` that guidance lowers, weighted by `cost_scale`.
        """
        check_tensor("cond", cond, kind="float")
        if cond.ndim != 2 or cond.shape[1] != _COND:
            raise ValueError(f"cond: expected shape [B, {_COND}], got {list(cond.shape)}")
        uncond = cond.clone()
        uncond[:, 2:] = 0
        wrapped = None if cost is None else (lambda x0: cost(self.denormalize(x0)))
        with _one_thread():
            x = ddpm_sample(
                self.eps,
                (cond.shape[0], STEPS * 2),
                self.alphas_cumprod,
                cond=cond,
                uncond=uncond,
                guidance_scale=guidance_scale,
                cost=wrapped,
                cost_scale=cost_scale,
                variance="posterior",
                generator=torch.Generator().manual_seed(seed),
            )
        return self.denormalize(x).detach()


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    model.requires_grad_(False)
    return model


def train_toy_trajectory_model(
    *, seed: int = 0, steps: int = 2000, n_data: int = 20_000, parameterization: str = "v"
) -> ToyTrajectoryModel:
    """Train the conditional trajectory DDPM on `toy_intersection` data (a few seconds on CPU).

    Each step draws a batch of 256 logged futures, hides the route of half of them (so the same
    network learns the route-unknown model used by classifier-free guidance) and takes an Adam
    step on [diffusion_loss][lossbook.diffusion.diffusion_loss] (one-cycle learning rate,
    peak 3e-3). Memoised per argument set within the process.

    Args:
        seed: seeds the data, the initial weights and the training randomness.
        steps: optimiser steps.
        n_data: size of the generated training set.
        parameterization: what the network predicts, `"v"` (the default, used by the lesson),
            `"eps"` or `"x0"`.

    Example:
        >>> model = train_toy_trajectory_model(seed=0)
        >>> futures = model.sample(toy_condition(1000), seed=1)  # green light, route unknown
        >>> futures.shape
        torch.Size([1000, 8, 2])
    """
    check_choice("parameterization", parameterization, ("eps", "x0", "v"))
    _check_count("steps", steps)
    _check_count("n_data", n_data)
    _check_seed(seed)
    return _trained_trajectory_model(seed, steps, n_data, parameterization)


@functools.lru_cache(maxsize=4)  # after the checks: seed=True must not find seed=1's model
def _trained_trajectory_model(seed: int, steps: int, n_data: int, parameterization: str) -> ToyTrajectoryModel:
    return _shared(
        lambda: _train_trajectory_model(seed, steps, n_data, parameterization),
        lambda: ToyTrajectoryModel(parameterization=parameterization),
        f"toy-trajectory-model-{seed}-{steps}-{n_data}-{parameterization}",
        seed,
    )


def _train_trajectory_model(seed: int, steps: int, n_data: int, parameterization: str) -> ToyTrajectoryModel:
    data = toy_intersection(n_data, seed=seed)
    with _one_thread():
        torch.manual_seed(seed)
        model = ToyTrajectoryModel(parameterization=parameterization)
        flat = data["future"].reshape(n_data, -1)
        model.mean.copy_(flat.mean(0))
        model.std.copy_(flat.std(0).clamp_min(0.05))
        x_all = model.normalize(data["future"])
        cond_all = data["cond"]
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        gen = torch.Generator().manual_seed(seed)
        with _checked_once(model.alphas_cumprod):  # the schedule's values, once, not every step
            for _ in range(steps):
                idx = torch.randint(0, n_data, (256,), generator=gen)
                cond = cond_all[idx].clone()
                # route unknown: the null condition
                cond[torch.rand(256, generator=gen) < 0.5, 2:] = 0
                loss = diffusion_loss(
                    model,
                    x_all[idx],
                    model.alphas_cumprod,
                    cond=cond,
                    parameterization=parameterization,
                    generator=gen,
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model


class ToyBaselines(nn.Module):
    """The two deterministic baselines, trained with the route unknown.

    `mse(cond)` returns one future `[B, 8, 2]`; `wta(cond)` returns `(futures [B, 2, 8, 2],
    mode probabilities [B, 2])`. Both in metres.
    """

    def __init__(self, *, hidden: int = 64) -> None:
        super().__init__()
        d = STEPS * 2
        self.mse_net = _mlp(_COND, d, hidden, 2)
        self.wta_net = _mlp(_COND, 2 * d + 2, hidden, 2)
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))

    def _metres(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.std + self.mean).reshape(*x.shape[:-1], STEPS, 2)

    def mse(self, cond: torch.Tensor) -> torch.Tensor:
        """The MSE model's single future per condition, `[B, 8, 2]` metres."""
        return self._metres(self.mse_net(cond))

    def _wta_raw(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.wta_net(cond)
        d = STEPS * 2
        return out[:, : 2 * d].reshape(-1, 2, d), out[:, 2 * d :]

    def wta(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The WTA model's two futures `[B, 2, 8, 2]` (metres) and their probabilities `[B, 2]`."""
        futures, logits = self._wta_raw(cond)
        return self._metres(futures), torch.softmax(logits, dim=-1)


def train_toy_baselines(*, seed: int = 0, steps: int = 400, n_data: int = 20_000) -> ToyBaselines:
    """Train the MSE regressor and the 2-mode winner-takes-all model on the toy data.

    Both see `[speed, red, 0, 0]`: the route is unknown, so the future is multi-modal. The MSE
    model minimises the mean squared error of one trajectory; the WTA model predicts two
    trajectories and their probabilities and trains with
    [wta_trajectory_loss][lossbook.trajectory.wta_trajectory_loss]. Memoised per argument set.

    Example:
        >>> base = train_toy_baselines(seed=0)
        >>> futures, probs = base.wta(toy_condition(1))
        >>> futures.shape, probs.shape
        (torch.Size([1, 2, 8, 2]), torch.Size([1, 2]))
    """
    _check_count("steps", steps)
    _check_count("n_data", n_data)
    _check_seed(seed)
    return _trained_baselines(seed, steps, n_data)


@functools.lru_cache(maxsize=4)  # after the checks, as _trained_trajectory_model
def _trained_baselines(seed: int, steps: int, n_data: int) -> ToyBaselines:
    return _shared(
        lambda: _train_baselines(seed, steps, n_data), ToyBaselines, f"toy-baselines-{seed}-{steps}-{n_data}", seed
    )


def _train_baselines(seed: int, steps: int, n_data: int) -> ToyBaselines:
    data = toy_intersection(n_data, seed=seed)
    with _one_thread():
        torch.manual_seed(seed)
        model = ToyBaselines()
        flat = data["future"].reshape(n_data, -1)
        model.mean.copy_(flat.mean(0))
        model.std.copy_(flat.std(0).clamp_min(0.05))
        x_all = (flat - model.mean) / model.std
        cond_all = data["cond"].clone()
        cond_all[:, 2:] = 0
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randint(0, n_data, (256,), generator=gen)
            x, cond = x_all[idx], cond_all[idx]
            mse = (model.mse_net(cond) - x).square().mean()
            futures, logits = model._wta_raw(cond)
            wta = wta_trajectory_loss(
                futures.reshape(-1, 2, STEPS, 2), logits, x.reshape(-1, STEPS, 2)
            )
            opt.zero_grad(set_to_none=True)
            (mse + wta).backward()
            opt.step()
            sched.step()
    return model

"""Validation helpers and small shared pieces of the diffusion package (private)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import torch

from .._checks import (
    check_device,
    check_same_shape,
    check_tensor,
    has_values,
)

Denoiser = Callable[..., torch.Tensor]


def _check_steps(T: object) -> int:
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"T: expected an int number of diffusion steps, got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T: expected at least 1 diffusion step, got {T}")
    return T


def _check_betas(betas: torch.Tensor) -> None:
    check_tensor("betas", betas, kind="float")
    if betas.ndim != 1 or betas.numel() == 0:
        raise ValueError(
            f"betas: expected a non-empty 1-D tensor [T], got shape {list(betas.shape)}"
        )
    bad = ~((betas > 0) & (betas < 1))
    if has_values(betas) and bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"betas: expected every beta in the open interval (0, 1), got betas[{i}] ="
            f" {betas[i].item()!r} ({int(bad.sum())} out of range)"
        )


# Schedules whose values were checked on entering a loop (``_checked_once``): the tensor object,
# its version counter (any in-place change bumps it) and its data pointer at the time.
_CHECKED: contextvars.ContextVar[tuple] = contextvars.ContextVar("lossbook_checked_schedules",
                                                                 default=())


def _state(ab: torch.Tensor) -> tuple | None:
    try:
        return ab._version, ab.data_ptr()
    except RuntimeError:  # an inference tensor has no version counter: always checked
        return None


@contextlib.contextmanager
def _checked_once(ab: torch.Tensor, name: str = "alphas_cumprod") -> Iterator[int]:
    """Check ``ab`` now; inside the block, calls checking the same, unchanged tensor skip the
    value checks (a loop of thousands of steps otherwise checks the schedule at every step, in
    every function it calls). Yields ``T``."""
    T = _check_alphas_cumprod(ab, name)
    state = _state(ab)
    token = _CHECKED.set(_CHECKED.get() + ((ab, state),)) if state is not None else None
    try:
        yield T
    finally:
        if token is not None:
            _CHECKED.reset(token)


def _check_alphas_cumprod(ab: torch.Tensor, name: str = "alphas_cumprod") -> int:
    check_tensor(name, ab, kind="float")
    if ab.ndim != 1 or ab.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D tensor [T], got shape {list(ab.shape)}")
    if not has_values(ab):
        return ab.numel()
    checked = _CHECKED.get()
    if checked and any(ab is seen and _state(ab) == state for seen, state in checked):
        return ab.numel()  # checked on entering the loop, unchanged since
    bad = ~((ab > 0) & (ab < 1))
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{name}: expected values in the open interval (0, 1), got {name}[{i}] ="
            f" {ab[i].item()!r}; pass alphas_cumprod(betas), not the betas or alphas"
        )
    if ab.numel() > 1 and bool((ab[1:] > ab[:-1]).any()):
        raise ValueError(f"{name}: expected a non-increasing sequence (a cumulative product)")
    return ab.numel()


def _check_timesteps(t: object, T: int, batch: int) -> torch.Tensor:
    check_tensor("t", t, kind="int")
    if t.ndim != 1 or t.shape[0] != batch:
        raise ValueError(
            f"t: expected one integer timestep per sample, shape [{batch}], got {list(t.shape)}"
        )
    if has_values(t) and (int(t.min()) < 0 or int(t.max()) >= T):
        bad = t[(t < 0) | (t >= T)][0].item()
        raise ValueError(f"t: expected timesteps in [0, {T - 1}] (0-indexed, T = {T}), got {bad}")
    return t


def _check_step(t: object, T: int) -> int:
    if isinstance(t, torch.Tensor) and t.ndim == 0 and not t.is_floating_point():
        t = int(t)
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"t: expected an int timestep, got {type(t).__name__}")
    if not 0 <= t < T:
        raise ValueError(f"t: expected a timestep in [0, {T - 1}] (0-indexed, T = {T}), got {t}")
    return t


def _check_data(name: str, x: object) -> torch.Tensor:
    check_tensor(name, x, kind="float")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(
            f"{name}: expected a batch [B, ...] with B >= 1, got shape {list(x.shape)}"
        )
    return x


def _coef(ab: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``ab[t]`` shaped ``[B, 1, ..., 1]`` to broadcast against ``like`` (never across the batch)."""
    return (
        ab.to(like.device)[t.to(like.device)].to(like.dtype).reshape((-1,) + (1,) * (like.ndim - 1))
    )


def _sqrt_pair(ab: torch.Tensor, t: torch.Tensor, like: torch.Tensor):
    """``sqrt(ab[t])`` and ``sqrt(1 - ab[t])`` computed in float64, broadcastable to ``like``."""
    a = ab.to(torch.float64)
    return _coef(a.sqrt(), t, like), _coef((1 - a).sqrt(), t, like)


def _triple(x_t, t, other, ab, other_name):
    _data = _check_data("x_t", x_t)
    check_tensor(other_name, other, kind="float")
    check_same_shape(other_name, other, "x_t", _data)
    T = _check_alphas_cumprod(ab)
    _check_timesteps(t, T, x_t.shape[0])


def _sample_device(device: torch.device | str | None, cond: torch.Tensor | None) -> torch.device:
    """The samplers' device: ``device``, else the condition's, else the CPU."""
    if device is None:
        return cond.device if cond is not None else torch.device("cpu")
    device = torch.device(device)
    if cond is not None and cond.device != device:
        raise ValueError(f"cond: expected device {device} (as device), got {cond.device}")
    return device


def _check_cond(cond: object, name: str, x: torch.Tensor) -> None:
    """A condition: one row per sample of ``x``, on its device (the rest is the model's)."""
    check_tensor("cond", cond)
    if cond.ndim < 1 or cond.shape[0] != x.shape[0]:
        raise ValueError(
            f"cond: expected first dimension B = {x.shape[0]} (as {name}), got shape"
            f" {list(cond.shape)}"
        )
    check_device("cond", cond, name, x)


def _call(model: Denoiser, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None):
    out = model(x, t) if cond is None else model(x, t, cond)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model: expected an output shaped like x_t {list(x.shape)}, got {got}")
    return out

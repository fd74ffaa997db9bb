"""Debugging and monitoring: finite losses, per-component gradient norms, a stability monitor."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from .._checks import _shape, check_number, check_tensor
from .normalisation import _count

__all__ = [
    "Alert",
    "StabilityMonitor",
    "check_finite_losses",
    "component_grad_norms",
]


def check_finite_losses(
    losses: Mapping[str, torch.Tensor | float], *, step: int | None = None
) -> None:
    """Raise `FloatingPointError` naming every loss component that is NaN or Inf.

    Example:
        >>> losses = {"nll": torch.tensor(1.2), "kl": torch.tensor(float("nan"))}
        >>> check_finite_losses(losses, step=7)
        Traceback (most recent call last):
        ...
        FloatingPointError: non-finite loss at step 7: 'kl' = nan
    """
    if not isinstance(losses, Mapping):
        raise TypeError(f"losses: expected a dict of name -> loss, got {type(losses).__name__}")
    bad = []
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            if not bool(torch.isfinite(value).all()):
                shown = value.item() if value.numel() == 1 else "tensor with NaN/Inf"
                bad.append(f"{name!r} = {shown}")
        elif not math.isfinite(float(value)):
            bad.append(f"{name!r} = {float(value)}")
    if bad:
        where = "" if step is None else f" at step {step}"
        raise FloatingPointError(f"non-finite loss{where}: " + ", ".join(bad))


def component_grad_norms(
    losses: Mapping[str, torch.Tensor], params: Iterable[torch.Tensor]
) -> dict[str, float]:
    r"""The gradient norm $\lVert\nabla_\theta L_k\rVert_2$ each loss component alone puts on
    `params`, without touching `.grad`.

    The first thing to look at when a composite loss misbehaves: a component 100x larger than
    the others in gradient (not in value) dominates the update; a component with norm 0 does
    nothing (for instance a term computed from `loss.item()`).

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
        >>> component_grad_norms({"l2": (w ** 2).sum() / 2, "const": torch.tensor(1.0)}, [w])
        {'l2': 5.0, 'const': 0.0}
    """
    params = [p for p in params if isinstance(p, torch.Tensor) and p.requires_grad]
    if not params:
        raise ValueError("params: expected at least one tensor that requires grad")
    norms = {}
    for name, loss in losses.items():
        check_tensor(f"losses[{name!r}]", loss, kind="float")
        if loss.ndim != 0:
            raise ValueError(f"losses[{name!r}]: expected a scalar loss, got shape {_shape(loss)}")
        if not loss.requires_grad:
            norms[name] = 0.0
            continue
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        sq = sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None)
        norms[name] = math.sqrt(sq)
    return norms


@dataclass(frozen=True)
class Alert:
    """One finding of a [StabilityMonitor][lossbook.patterns.StabilityMonitor]."""

    step: int
    name: str
    kind: str  # "nonfinite" or "spike"
    value: float
    message: str


class StabilityMonitor:
    r"""Watch loss curves for NaN / Inf and for spikes, with statistics that do not care about
    the sign or the offset of the loss.

    A value is a spike when its robust z-score against the last `window` values exceeds
    `threshold`:

    $$z = \frac{|x - \operatorname{median}(h)|}{1.4826\,\operatorname{MAD}(h)}$$

    (when more than half the history ties and the MAD is 0, the mean absolute deviation from the
    median, times 1.2533, replaces it). Median and MAD (median absolute deviation) are unchanged by
    adding a constant to the loss or
    flipping its sign, so the monitor works for losses that are negative or hover around zero
    (policy-gradient, DPO margins, ELBOs), where the coefficient of variation
    $\sigma/\mu$ is meaningless: it is negative for a negative mean and explodes near zero.
    They also ignore the spikes themselves, unlike a mean and a standard deviation.

    Args:
        window: how many past values form the reference.
        threshold: robust z-score above which a value is a spike.
        min_history: values needed before spikes are flagged.

    Example:
        >>> monitor = StabilityMonitor(window=20, threshold=6.0, min_history=5)
        >>> for step in range(10):
        ...     _ = monitor.update({"pg": -2.0 + 0.01 * (step % 3)})
        >>> monitor.update({"pg": 5.0})[0].kind
        'spike'
        >>> monitor.update({"pg": float("nan")})[0].message
        "step 12: 'pg' is nan"
    """

    def __init__(self, *, window: int = 100, threshold: float = 6.0, min_history: int = 10) -> None:
        self.window = _count("window", window)
        self.threshold = check_number("threshold", threshold, low=0.0, low_inclusive=False)
        self.min_history = _count("min_history", min_history)
        if self.min_history > self.window:
            raise ValueError(
                f"min_history: expected at most window={self.window}, got {self.min_history}"
            )
        self.step = 0
        self.history: dict[str, deque[float]] = {}
        self.alerts: list[Alert] = []

    def update(
        self, values: Mapping[str, torch.Tensor | float] | torch.Tensor | float
    ) -> list[Alert]:
        """Record one step (a dict of named values, or one value named `"loss"`); return the new
        alerts."""
        if not isinstance(values, Mapping):
            values = {"loss": values}
        self.step += 1
        new = []
        for name, value in values.items():
            x = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            history = self.history.setdefault(name, deque(maxlen=self.window))
            if not math.isfinite(x):
                message = f"step {self.step}: {name!r} is {x}"
                new.append(Alert(self.step, name, "nonfinite", x, message))
                continue
            if len(history) >= self.min_history:
                median = statistics.median(history)
                deviations = [abs(h - median) for h in history]
                # MAD is 0 when over half the values tie (a loss that repeats exactly); fall back
                # to the mean absolute deviation, then to a tiny floor for a constant history.
                scale = 1.4826 * statistics.median(deviations) or 1.2533 * statistics.fmean(
                    deviations) or 1e-12 * max(1.0, abs(median))
                z = abs(x - median) / scale
                if z > self.threshold:
                    new.append(Alert(
                        self.step, name, "spike", x,
                        f"step {self.step}: {name!r} = {x:.4g}, robust z = {z:.1f} against the"
                        f" median {median:.4g} of the last {len(history)} values",
                    ))
            history.append(x)
        self.alerts.extend(new)
        return new

    def is_stable(self, name: str | None = None) -> bool:
        """No alert (for `name`, or any name) within the last `window` steps."""
        recent = self.step - self.window
        return not any(a.step > recent and (name is None or a.name == name) for a in self.alerts)

"""Input validation shared by every loss and metric.

Every check raises a ``ValueError`` or ``TypeError`` whose message names the argument, what was
expected and what was passed. Nothing broadcasts silently: shapes are matched dimension by
dimension against a written spec such as ``"B K T 2"``.

Expensive checks on large float tensors (NaN / Inf in logits) run only in debug mode, switched on
with :func:`lossbook.set_debug` or the environment variable ``LOSSBOOK_DEBUG=1``, so the hot path
keeps its speed. Cheap checks (targets, weights, masks) always run.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence

import torch

REDUCTIONS = ("mean", "sum", "none")

_debug = os.environ.get("LOSSBOOK_DEBUG", "") not in ("", "0")


def set_debug(enabled: bool) -> None:
    """Turn the opt-in NaN / Inf checks on large float inputs on or off (default: off)."""
    global _debug
    _debug = bool(enabled)


def is_debug() -> bool:
    """Whether the opt-in NaN / Inf checks are on."""
    return _debug


@contextlib.contextmanager
def debug_mode(enabled: bool = True) -> Iterator[None]:
    """Context manager form of :func:`set_debug`: ``with lossbook.debug_mode(): ...``."""
    previous = _debug
    set_debug(enabled)
    try:
        yield
    finally:
        set_debug(previous)


def _shape(x: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in x.shape) + "]"


def has_values(x: torch.Tensor) -> bool:
    """Whether ``x`` holds values a check can read: not empty and not on the ``meta`` device.

    A ``meta`` tensor has a shape, a dtype and a device but no data, so value checks (ranges,
    NaN, class indices) skip it; shape, dtype and device checks still run.
    """
    return x.numel() > 0 and not x.is_meta


def check_nonempty(name: str, x: torch.Tensor, reduction: str = "mean") -> None:
    """``x`` must have at least one element when the result is a mean (a mean over nothing is
    NaN); with ``reduction="sum"`` or ``"none"`` an empty batch is fine (0, or an empty
    result)."""
    if x.numel() == 0 and reduction == "mean":
        raise ValueError(f"{name}: expected at least one element, got shape {_shape(x)}")


def check_device(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """``x`` must live on the device of ``ref``."""
    if x.device != ref.device:
        raise ValueError(f"{name}: expected device {ref.device} (as {ref_name}), got {x.device}")


def check_tensor(name: str, x: object, *, kind: str = "any") -> torch.Tensor:
    """``x`` must be a tensor; ``kind`` is ``"float"``, ``"int"``, ``"bool"``, ``"int_or_bool"``
    or ``"any"``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    ok = {
        "any": True,
        "float": x.is_floating_point(),
        "int": not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool,
        "bool": x.dtype == torch.bool,
        "int_or_bool": not x.is_floating_point() and not x.is_complex(),
    }[kind]
    if not ok:
        expected = {"int": "an integer", "int_or_bool": "an integer or bool"}.get(kind, f"a {kind}")
        raise TypeError(f"{name}: expected {expected} tensor, got dtype {x.dtype}")
    return x


def check_shapes(
    *, nonempty: str = "", **specs: tuple[torch.Tensor | None, str]
) -> dict[str, int]:
    """Match tensors against shape specs and return the bound sizes.

    Each keyword is ``argument_name=(tensor, "B K T 2")``. Letters bind a size on first use and
    must agree afterwards; digits are fixed sizes; ``*`` matches any single size. ``None`` tensors
    are skipped. The letters in ``nonempty`` (e.g. ``"B"``) must bind a size of at least 1
    (pass the batch letter only when ``reduction == "mean"``: a sum, or no reduction, of nothing
    is fine). All the tensors must share one device. Raises ``ValueError`` naming the argument, the expected
    and the actual shape (or device).
    """
    sizes: dict[str, int] = {}
    bound_by: dict[str, str] = {}
    first: tuple[str, torch.Tensor] | None = None
    for name, (x, spec) in specs.items():
        if x is None:
            continue
        if first is None:
            first = (name, x)
        else:
            check_device(name, x, *first)
        dims = spec.split()
        pretty = "[" + ", ".join(dims) + "]"
        if x.ndim != len(dims):
            raise ValueError(
                f"{name}: expected {len(dims)} dimensions {pretty}, got shape {_shape(x)}"
            )
        for dim, size in zip(dims, x.shape):
            if dim == "*":
                continue
            if dim.isdigit():
                if size != int(dim):
                    raise ValueError(f"{name}: expected shape {pretty}, got {_shape(x)}")
            elif dim in sizes and sizes[dim] != size:
                raise ValueError(
                    f"{name}: expected shape {pretty} with {dim}={sizes[dim]} "
                    f"(from {bound_by[dim]}), got {_shape(x)}"
                )
            else:
                sizes[dim] = size
                bound_by.setdefault(dim, name)
                if size == 0 and dim in nonempty:
                    raise ValueError(
                        f"{name}: expected a non-empty batch ({dim} >= 1) {pretty}, got shape"
                        f" {_shape(x)}"
                    )
    return sizes


def check_same_shape(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """``x`` must have exactly the shape of ``ref`` (no broadcasting, e.g. ``[B, 1]`` vs ``[B]``)."""
    if x.shape != ref.shape:
        raise ValueError(
            f"{name}: expected the same shape as {ref_name} {_shape(ref)}, got {_shape(x)}"
            " (no broadcasting)"
        )
    check_device(name, x, ref_name, ref)


def check_reduction(reduction: str) -> str:
    """``reduction`` must be ``"mean"``, ``"sum"`` or ``"none"``."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """A finite Python number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    ok = math.isfinite(value)
    if low is not None:
        ok = ok and (value >= low if low_inclusive else value > low)
    if high is not None:
        ok = ok and (value <= high if high_inclusive else value < high)
    if not ok:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{name}: expected a finite number in {lo}, {hi}, got {value!r}")
    return value


def check_finite(name: str, x: torch.Tensor, *, always: bool = True) -> None:
    """No NaN / Inf in ``x``. With ``always=False`` the check runs only in debug mode."""
    if (always or _debug) and has_values(x) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: contains {bad} NaN or Inf value(s)")


def check_range(
    name: str, x: torch.Tensor, low: float, high: float, *, what: str = "values"
) -> None:
    """All entries in the closed interval [low, high] (NaN fails)."""
    if has_values(x) and not bool(((x >= low) & (x <= high)).all()):
        bad = x[~((x >= low) & (x <= high))]
        raise ValueError(
            f"{name}: expected {what} in [{low:g}, {high:g}], got {bad[0].item()!r}"
            f" ({bad.numel()} out of range)"
        )


def check_class_targets(
    name: str, target: torch.Tensor, num_classes: int, *, ignore_index: int | None = None
) -> None:
    """Integer class indices in [0, num_classes), ``ignore_index`` allowed."""
    check_tensor(name, target, kind="int")
    if not has_values(target):
        return
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        bad = valid[(valid < 0) | (valid >= num_classes)][0].item()
        extra = "" if ignore_index is None else f" or ignore_index={ignore_index}"
        raise ValueError(
            f"{name}: expected class indices in [0, {num_classes - 1}]{extra}, got {bad}"
        )


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` ("mean" | "sum" | "none") to a per-element loss; any other value is
    an error here too, so a caller that forgot :func:`check_reduction` cannot return the
    unreduced loss by mistake."""
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def masked_reduce(loss: torch.Tensor, valid: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce a per-sample loss over the samples where ``valid`` is true.

    Invalid samples contribute 0 (also under ``"none"``); ``"mean"`` divides by the number of
    valid samples and is exactly 0, not NaN, when there is none.
    """
    check_reduction(reduction)
    loss = torch.where(valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "mean":
        return loss.sum() / valid.sum().clamp_min(1)
    return reduce(loss, reduction)

"""Validation shared by the metrics: labels, scores, non-empty inputs."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_finite, check_shapes, check_tensor, has_values

__all__ = [
]


_AVERAGES = ("none", "macro", "micro", "weighted")
_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)
def _check_nonempty(name: str, x: torch.Tensor, what: str = "element") -> None:
    if x.numel() == 0:
        raise ValueError(f"{name}: expected at least one {what}, got an empty tensor of shape "
                         f"[{', '.join(str(s) for s in x.shape)}]")


def _check_binary(name: str, x: torch.Tensor) -> torch.Tensor:
    """0/1 or bool labels -> bool."""
    check_tensor(name, x, kind="int_or_bool")
    if x.dtype != torch.bool and has_values(x) and bool(((x != 0) & (x != 1)).any()):
        bad = x[(x != 0) & (x != 1)][0].item()
        raise ValueError(f"{name}: expected binary labels 0/1 or bool, got the value {bad}")
    return x.bool()


def _check_scores_target(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    check_tensor("scores", scores, kind="float")
    check_tensor("target", target, kind="int_or_bool")
    check_shapes(scores=(scores, "N"), target=(target, "N"))
    _check_nonempty("scores", scores, "score")
    if scores.device.type == "cpu" and scores.dtype in _NUMPY_FLOATS:
        # Same checks through NumPy: on a busy CPU, torch's threaded element-wise kernels on
        # 10^6 values cost tens of milliseconds, NumPy's single-threaded ones a fraction of one.
        values = scores.detach().numpy()
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"scores: contains {bad} NaN or Inf value(s)")
        if target.dtype == torch.bool:
            return target
        labels = target.numpy()
        if not ((labels == 0) | (labels == 1)).all():
            bad = labels[(labels != 0) & (labels != 1)][0]
            raise ValueError(f"target: expected binary labels 0/1 or bool, got the value {bad}")
        return torch.from_numpy(labels == 1)
    check_finite("scores", scores)
    return _check_binary("target", target)


def _check_labels(pred: torch.Tensor, target: torch.Tensor, num_classes: int | None) -> int:
    check_tensor("pred", pred, kind="int")
    check_tensor("target", target, kind="int")
    check_shapes(pred=(pred, "N"), target=(target, "N"))
    _check_nonempty("target", target, "label")
    for name, x in (("pred", pred), ("target", target)):
        if int(x.min()) < 0:
            raise ValueError(f"{name}: expected class indices >= 0, got {int(x.min())}")
    if num_classes is None:
        return max(int(pred.max()), int(target.max())) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    for name, x in (("pred", pred), ("target", target)):
        if int(x.max()) >= num_classes:
            raise ValueError(
                f"{name}: expected class indices in [0, {num_classes - 1}] "
                f"(num_classes={num_classes}), got {int(x.max())}"
            )
    return num_classes


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value

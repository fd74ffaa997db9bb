"""Helpers for case generators: seeded generators and random tensors."""

from __future__ import annotations

from .._lazy import lazy

torch = lazy("torch")


__all__ = [
    "gen",
    "randint",
    "randn",
]


def gen(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: one per case list, so every run sees the same inputs."""
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Standard normal values of ``shape`` drawn from ``g``, times ``scale``."""
    return torch.randn(*shape, generator=g) * scale


def randint(g: torch.Generator, high: int, *shape: int) -> torch.Tensor:
    """Integers in ``[0, high)`` of ``shape`` (int64) drawn from ``g``: class labels, indices."""
    return torch.randint(0, high, shape, generator=g)

"""Helpers for case generators: seeded generators and random tensors."""

from __future__ import annotations

import torch

__all__ = [
    "gen",
    "randint",
    "randn",
]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


def randint(g: torch.Generator, high: int, *shape: int) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=g)

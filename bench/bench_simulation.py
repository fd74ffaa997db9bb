"""Simulation metrics lesson: the vectorised all-pairs collision check against slower formulations."""

from __future__ import annotations

import runpy
from pathlib import Path

import torch

import lossbook
from bench.common import Case

A, T = 64, 80  # agents, steps (8 s at 10 Hz)
_SNIPPETS = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "simulation.py"))


def _scene():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(A, T, 2, generator=g) * 60.0
    size = torch.tensor([4.5, 2.0]).expand(A, T, 2)
    heading = (torch.rand(A, T, 1, generator=g) - 0.5) * 6.3
    return torch.cat([xy, size, heading], dim=-1)


def collision():
    boxes = _scene()
    return lambda: lossbook.collision(boxes)


def corner_projection_all_pairs():
    """The interview snippet's corner-projection SAT, broadcast over all pairs, diagonal masked."""
    boxes = _scene()
    overlap = _SNIPPETS["box_overlap"]
    eye = torch.eye(A, dtype=torch.bool)[..., None]

    def step():
        return (overlap(boxes[:, None], boxes[None, :]) & ~eye).any(dim=1)

    return step


def pair_loop():
    """One box_overlap call per pair of agents (vectorised over time only)."""
    boxes = _scene()

    def step():
        hit = torch.zeros(A, T, dtype=torch.bool)
        for a in range(A):
            for b in range(a + 1, A):
                both = lossbook.box_overlap(boxes[a], boxes[b])
                hit[a] |= both
                hit[b] |= both
        return hit

    return step


CASES = [
    Case(f"collision A={A} T={T} vs pair loop", "lossbook.collision", "per-pair Python loop", collision,
         pair_loop, 0.1, memory=False),
    Case(f"collision A={A} T={T} vs corner SAT", "lossbook.collision (closed-form SAT)",
         "corner-projection SAT, all pairs", collision, corner_projection_all_pairs, 0.5,
         memory=False),
]

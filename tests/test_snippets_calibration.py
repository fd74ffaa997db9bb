"""The calibration lesson's interview snippets equal the library."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

import lossbook

SNIPPET = runpy.run_path(str(Path(__file__).parents[1] / "snippets" / "calibration.py"))


@pytest.mark.parametrize("seed", range(3))
def test_scene_bootstrap_equals_library(seed):
    g = torch.Generator().manual_seed(seed)
    n_scenes = 9
    scene = torch.arange(n_scenes).repeat_interleave(7)
    target = (torch.rand(len(scene), generator=g) < 0.3).long()
    target[::7] = 1  # a positive in every scene
    pred = (torch.rand(len(scene), generator=g) < 0.7).long()
    ours = SNIPPET["scene_bootstrap_ci"](pred, target, scene, n_scenes, n_resamples=300,
                                          confidence=0.9, generator=torch.Generator().manual_seed(seed))
    lib = lossbook.bootstrap_recall_ci(pred, target, groups=scene, n_resamples=300, confidence=0.9,
                                       seed=seed)
    assert torch.allclose(torch.stack(ours), torch.stack(lib), rtol=0, atol=1e-12)


def test_scene_bootstrap_drops_resamples_without_positives():
    scene = torch.arange(6).repeat_interleave(2)
    target = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    pred = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    ours = SNIPPET["scene_bootstrap_ci"](pred, target, scene, 6, n_resamples=200,
                                          generator=torch.Generator().manual_seed(0))
    lib = lossbook.bootstrap_recall_ci(pred, target, groups=scene, n_resamples=200)
    assert torch.allclose(torch.stack(ours), torch.stack(lib), rtol=0, atol=1e-12)


def test_brier_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(8, 4, generator=g, dtype=torch.float64), 1).requires_grad_(True)
    target = torch.randint(0, 4, (8,), generator=g)
    ours = SNIPPET["brier_score"](probs, target)
    lib = lossbook.brier_score(probs, target)
    assert torch.allclose(ours, lib, rtol=1e-12, atol=1e-12)
    assert torch.allclose(torch.autograd.grad(ours, probs)[0], torch.autograd.grad(lib, probs)[0],
                          rtol=1e-12, atol=1e-12)

"""The detection lesson's interview snippet equals the library (values, and IoU gradients)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

import lossbook

SNIPPET = runpy.run_path(str(Path(__file__).parents[1] / "snippets" / "detection.py"))


def _scene(seed, n_gt=5, n_det=9):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n_gt, 2, generator=g, dtype=torch.float64) * 40
    gt = torch.cat([xy, xy + 4 + 8 * torch.rand(n_gt, 2, generator=g, dtype=torch.float64)], 1)
    pick = torch.randint(0, n_gt, (n_det,), generator=g)
    dets = gt[pick] + torch.randn(n_det, 4, generator=g, dtype=torch.float64)  # hits and duplicates
    dets[:, 2:] = torch.maximum(dets[:, 2:], dets[:, :2] + 0.5)
    dets[-2:] = dets[-2:] + 30  # two far-off false positives
    return dets, torch.rand(n_det, generator=g, dtype=torch.float64), gt


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.75])
def test_detection_ap_equals_library(seed, threshold):
    dets, scores, gt = _scene(seed)
    ours = SNIPPET["detection_ap"](dets, scores, gt, iou_threshold=threshold)
    lib = lossbook.detection_average_precision(dets, scores, gt, iou_thresholds=threshold,
                                               method="all_point")
    assert ours.item() == pytest.approx(lib.item(), abs=1e-12)


def test_detection_ap_float32_and_edge_cases():
    dets, scores, gt = _scene(7)
    ours = SNIPPET["detection_ap"](dets.float(), scores.float(), gt.float())
    lib = lossbook.detection_average_precision(dets.float(), scores.float(), gt.float(),
                                               method="all_point")
    assert ours.item() == pytest.approx(lib.item(), abs=1e-6)
    # everything found once: 1; nothing found: 0
    assert SNIPPET["detection_ap"](gt, torch.rand(len(gt), dtype=torch.float64), gt).item() == 1.0
    assert SNIPPET["detection_ap"](gt + 100, torch.rand(len(gt), dtype=torch.float64), gt).item() == 0.0


def test_box_iou_values_and_gradients():
    dets, _, gt = _scene(3)
    a = dets.clone().requires_grad_(True)
    b = gt.clone().requires_grad_(True)
    ours = SNIPPET["box_iou"](a, b)
    lib = lossbook.box_iou(a, b)
    assert torch.allclose(ours, lib, rtol=1e-12, atol=1e-12)
    w = torch.randn(ours.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g_ours = torch.autograd.grad((ours * w).sum(), (a, b))
    g_lib = torch.autograd.grad((lib * w).sum(), (a, b))
    for x, y in zip(g_ours, g_lib):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("soft", [False, True])
def test_motion_map_equals_library(soft):
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        scores = torch.round(torch.rand(30, 6, generator=g, dtype=torch.float64) * 10) / 10  # ties
        matched = torch.rand(30, 6, generator=g) < 0.3
        types = torch.randint(0, 8, (30,), generator=g)
        ours = SNIPPET["motion_map"](scores, matched, types, soft=soft)
        lib = lossbook.motion_average_precision(scores, matched, types, soft=soft)
        assert ours.item() == pytest.approx(lib.item(), abs=1e-12), seed


def _overlap_scene(seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    u = lambda *shape: torch.rand(*shape, generator=g, dtype=dtype)  # noqa: E731
    centres = 12 * u(6, 1, 2) + (2 * u(6, 1, 2) - 1) * torch.arange(5, dtype=dtype)[:, None]
    boxes = torch.cat([centres, 1 + 3 * u(6, 5, 2), 6.3 * u(6, 5, 1)], -1)
    valid = torch.rand(6, 5, generator=g) < 0.8
    index = torch.randperm(6, generator=g)[:4]
    pred = centres[index, None, 1:] + 2 * torch.randn(4, 3, 4, 2, generator=g, dtype=dtype)
    return pred, u(4, 3), index, boxes, valid


def test_overlap_rate_equals_library():
    rates = set()
    for seed in range(6):
        scene = _overlap_scene(seed)
        ours, lib = SNIPPET["overlap_rate"](*scene), lossbook.overlap_rate(*scene)
        assert ours.item() == lib.item(), seed
        rates.add(lib.item())
    assert len(rates) >= 3  # the scenes give different rates, 0 < rate < 1 among them
    scene = _overlap_scene(1, dtype=torch.float32)
    assert SNIPPET["overlap_rate"](*scene).item() == lossbook.overlap_rate(*scene).item()
    # touching end to end is not an overlap, in both
    a, b = torch.tensor([0.0, 0.0, 4.0, 2.0, 0.0]), torch.tensor([[4.0, 0.0, 4.0, 2.0, 0.0],
                                                                  [3.9, 0.0, 4.0, 2.0, 0.0]])
    assert SNIPPET["boxes_overlap"](a, b).tolist() == lossbook.box_overlap(a, b).tolist() == [False, True]
    # a flat box (zero width) inside another has zero intersection area: no overlap, in both
    boxes = torch.tensor([[[0.0, 0.0, 4.0, 2.0, 0.0]] * 3, [[10.0, 0.0, 4.0, 2.0, 0.0]] * 3])
    boxes[0, 1:, 3] = 0.0
    scene = (torch.tensor([[[[9.0, 0.0], [10.0, 0.0]]]]), torch.ones(1, 1), torch.tensor([0]), boxes,
             torch.ones(2, 3, dtype=torch.bool))
    assert SNIPPET["overlap_rate"](*scene).item() == lossbook.overlap_rate(*scene).item() == 0.0

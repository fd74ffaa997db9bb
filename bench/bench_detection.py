"""Detection and calibration lessons: box IoU and the Brier score against plain PyTorch versions
(forward and backward), and the detection mAP's matching on a crowded image set."""

from __future__ import annotations

import torch

import lossbook
from bench.common import Case, forward_backward


def _boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = 100 * torch.rand(n, 2, generator=g)
    return torch.cat([xy, xy + 5 + 20 * torch.rand(n, 2, generator=g)], dim=1)


def _iou_inputs():
    return (_boxes(1000, 0).requires_grad_(True), _boxes(1000, 1).requires_grad_(True))


def plain_box_iou(a, b):
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def ours_iou():
    return forward_backward(lambda a, b: lossbook.box_iou(a, b).sum(), _iou_inputs)


def plain_iou():
    # the same float64 arithmetic as the library, without validation
    return forward_backward(lambda a, b: plain_box_iou(a.double(), b.double()).sum(), _iou_inputs)


def _brier_inputs():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(100_000, 10, generator=g), dim=1).requires_grad_(True)
    return probs, torch.randint(0, 10, (100_000,), generator=g)


def ours_brier():
    return forward_backward(lossbook.brier_score, _brier_inputs)


def plain_brier():
    def brier(probs, target):
        onehot = torch.nn.functional.one_hot(target, probs.shape[1]).to(probs.dtype)
        return (probs - onehot).square().sum(1).mean()

    return forward_backward(brier, _brier_inputs)


CASES = [
    Case("box_iou 1000x1000 (fwd+bwd)", "lossbook.box_iou", "plain float64 box IoU", ours_iou,
         plain_iou, 1.1),
    Case("brier_score N=10^5, C=10 (fwd+bwd)", "lossbook.brier_score", "plain one-hot Brier",
         ours_brier, plain_brier, 1.1),
]

"""Detection and calibration lessons: box IoU and the Brier score against plain PyTorch versions
(forward and backward), and Waymo's overlap rate against the plain corner-projection version."""

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


def _scene():
    """64 predicted objects (6 modes, 16 steps at 2 Hz) in a scene of 128 logged objects."""
    g = torch.Generator().manual_seed(0)
    n_objects, n_steps = 128, 16
    start = 200 * torch.rand(n_objects, 1, 2, generator=g)
    velocity = 4 * torch.rand(n_objects, 1, 2, generator=g) - 2
    centres = start + velocity * torch.arange(n_steps + 1)[:, None]
    size = torch.tensor([4.5, 2.0]) + torch.rand(n_objects, 1, 2, generator=g)
    heading = torch.atan2(velocity[..., 1:], velocity[..., :1]).expand(-1, n_steps + 1, -1)
    boxes = torch.cat([centres, size.expand(-1, n_steps + 1, -1), heading], -1)
    valid = torch.rand(n_objects, n_steps + 1, generator=g) < 0.9
    index = torch.randperm(n_objects, generator=g)[:64]
    pred = centres[index, None, 1:] + 3 * torch.randn(64, 6, n_steps, 2, generator=g)
    return pred, torch.rand(64, 6, generator=g), index, boxes, valid


def plain_overlap_rate(pred, scores, index, boxes, valid):
    """The interview version: corners projected on the four edge directions."""

    def corners(b):
        c, s = torch.cos(b[..., 4:]), torch.sin(b[..., 4:])
        along = b.new_tensor([1.0, -1.0, -1.0, 1.0]) * b[..., 2:3] / 2
        across = b.new_tensor([1.0, 1.0, -1.0, -1.0]) * b[..., 3:4] / 2
        return torch.stack([b[..., :1] + along * c - across * s, b[..., 1:2] + along * s + across * c], -1)

    path = pred[torch.arange(len(pred)), scores.argmax(1)]
    step = path.diff(dim=1)
    angle = torch.atan2(step[..., 1], step[..., 0])
    ahead, behind = torch.cat([angle, angle[:, -1:]], 1), torch.cat([angle[:, :1], angle], 1)
    heading = torch.atan2(ahead.sin() + behind.sin(), ahead.cos() + behind.cos())
    own = torch.cat([path, boxes[index, 1:, 2:4], heading[..., None]], -1)
    ca, cb = torch.broadcast_tensors(corners(own[:, None]), corners(boxes[None, :, 1:]))
    axes = torch.stack([ca[..., 0, :] - ca[..., 1, :], ca[..., 1, :] - ca[..., 2, :],
                        cb[..., 0, :] - cb[..., 1, :], cb[..., 1, :] - cb[..., 2, :]], -1)
    pa, pb = ca @ axes, cb @ axes
    hit = ~((pa.amax(-2) <= pb.amin(-2)) | (pb.amax(-2) <= pa.amin(-2))).any(-1)
    present = valid[:, 1:] & valid[:, :1]
    others = index[:, None] != torch.arange(len(boxes))
    return (hit & present & others[..., None]).flatten(1).any(1).float().mean()


def ours_overlap():
    scene = _scene()
    return lambda: lossbook.overlap_rate(*scene)


def plain_overlap():
    scene = _scene()
    return lambda: plain_overlap_rate(*scene)


CASES = [
    Case("box_iou 1000x1000 (fwd+bwd)", "lossbook.box_iou", "plain float64 box IoU", ours_iou,
         plain_iou, 1.1),
    Case("brier_score N=10^5, C=10 (fwd+bwd)", "lossbook.brier_score", "plain one-hot Brier",
         ours_brier, plain_brier, 1.1),
    Case("overlap_rate B=64 K=6 T=16, 128 objects", "lossbook.overlap_rate",
         "plain corner-projection version", ours_overlap, plain_overlap, 1.1),
]

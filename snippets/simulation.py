"""Simulation metrics: box overlap (SAT), point in polygon, inverse bicycle, histogram likelihood."""

# --8<-- [start:box_overlap]
import torch


def box_corners(b):
    # b [..., 5] = (x, y, length, width, heading) -> corners [..., 4, 2]
    c, s = torch.cos(b[..., 4:5]), torch.sin(b[..., 4:5])
    along = b.new_tensor([1.0, -1.0, -1.0, 1.0]) * b[..., 2:3] / 2
    across = b.new_tensor([1.0, 1.0, -1.0, -1.0]) * b[..., 3:4] / 2
    x = b[..., 0:1] + along * c - across * s
    y = b[..., 1:2] + along * s + across * c
    return torch.stack([x, y], dim=-1)


def box_overlap(a, b):
    # Separating axis theorem: rectangles are disjoint iff one of their 4 edge
    # directions separates the projected corners. Touching is not an overlap.
    a, b = torch.broadcast_tensors(a, b)
    ca, cb = box_corners(a), box_corners(b)  # [..., 4, 2]
    axes = torch.stack([ca[..., 0, :] - ca[..., 1, :], ca[..., 1, :] - ca[..., 2, :],
                        cb[..., 0, :] - cb[..., 1, :], cb[..., 1, :] - cb[..., 2, :]], dim=-1)
    pa, pb = ca @ axes, cb @ axes  # [..., 4 corners, 4 axes]
    apart = (pa.amax(-2) <= pb.amin(-2)) | (pb.amax(-2) <= pa.amin(-2))
    return ~apart.any(dim=-1)
# --8<-- [end:box_overlap]


# --8<-- [start:box_overlap_numpy]
import numpy as np


def box_corners_np(b):
    # b [..., 5] = (x, y, length, width, heading) -> corners [..., 4, 2]
    c, s = np.cos(b[..., 4:5]), np.sin(b[..., 4:5])
    along = np.array([1.0, -1.0, -1.0, 1.0]) * b[..., 2:3] / 2
    across = np.array([1.0, 1.0, -1.0, -1.0]) * b[..., 3:4] / 2
    x = b[..., 0:1] + along * c - across * s
    y = b[..., 1:2] + along * s + across * c
    return np.stack([x, y], axis=-1)


def box_overlap_np(a, b):
    a, b = np.broadcast_arrays(a, b)
    ca, cb = box_corners_np(a), box_corners_np(b)
    axes = np.stack([ca[..., 0, :] - ca[..., 1, :], ca[..., 1, :] - ca[..., 2, :],
                     cb[..., 0, :] - cb[..., 1, :], cb[..., 1, :] - cb[..., 2, :]], axis=-1)
    pa, pb = ca @ axes, cb @ axes
    apart = (pa.max(-2) <= pb.min(-2)) | (pb.max(-2) <= pa.min(-2))
    return ~apart.any(axis=-1)
# --8<-- [end:box_overlap_numpy]


# --8<-- [start:point_in_polygon]
import torch


def point_in_polygon(points, polygon):
    # points [..., 2], polygon [P, 2]: even-odd rule, cast a ray towards +x
    px, py = points[..., 0:1], points[..., 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = polygon.roll(-1, 0)[:, 0], polygon.roll(-1, 0)[:, 1]
    straddles = (y0 > py) != (y1 > py)
    x_cross = x0 + (py - y0) * (x1 - x0) / torch.where(y1 == y0, 1.0, y1 - y0)
    return (straddles & (px < x_cross)).sum(-1) % 2 == 1
# --8<-- [end:point_in_polygon]


# --8<-- [start:point_in_polygon_numpy]
import numpy as np


def point_in_polygon_np(points, polygon):
    px, py = points[..., 0:1], points[..., 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(polygon, -1, axis=0)[:, 0], np.roll(polygon, -1, axis=0)[:, 1]
    straddles = (y0 > py) != (y1 > py)
    x_cross = x0 + (py - y0) * (x1 - x0) / np.where(y1 == y0, 1.0, y1 - y0)
    return (straddles & (px < x_cross)).sum(-1) % 2 == 1
# --8<-- [end:point_in_polygon_numpy]


# --8<-- [start:inverse_bicycle]
import math

import torch


def inverse_bicycle(speed, heading, dt=0.1, min_speed=0.6):
    # speed, heading [..., T] -> acceleration and curvature [..., T-1]
    accel = speed.diff(dim=-1) / dt
    turn = torch.remainder(heading.diff(dim=-1) + math.pi, 2 * math.pi) - math.pi
    travelled = (speed[..., :-1] + speed[..., 1:]) / 2 * dt
    slow = (speed[..., :-1].abs() < min_speed) | (speed[..., 1:].abs() < min_speed)
    curvature = torch.where(slow, 0.0, turn / torch.where(slow, 1.0, travelled))
    return accel, curvature
# --8<-- [end:inverse_bicycle]


# --8<-- [start:inverse_bicycle_numpy]
import numpy as np


def inverse_bicycle_np(speed, heading, dt=0.1, min_speed=0.6):
    accel = np.diff(speed, axis=-1) / dt
    turn = np.remainder(np.diff(heading, axis=-1) + np.pi, 2 * np.pi) - np.pi
    travelled = (speed[..., :-1] + speed[..., 1:]) / 2 * dt
    slow = (np.abs(speed[..., :-1]) < min_speed) | (np.abs(speed[..., 1:]) < min_speed)
    curvature = np.where(slow, 0.0, turn / np.where(slow, 1.0, travelled))
    return accel, curvature
# --8<-- [end:inverse_bicycle_numpy]


# --8<-- [start:histogram_log_likelihood]
import torch
import torch.nn.functional as F


def histogram_log_likelihood(sim, log, low, high, n_bins=20, smoothing=0.1):
    # sim [R, A, T] rollouts, log [A, T]: one histogram per agent over rollouts and steps
    def bin_of(x):
        return ((x - low) / (high - low) * n_bins).floor().clamp(0, n_bins - 1).long()

    counts = F.one_hot(bin_of(sim), n_bins).sum(dim=(0, 2)).to(sim.dtype)  # [A, n_bins]
    probs = (counts + smoothing) / (counts + smoothing).sum(-1, keepdim=True)
    return probs.gather(1, bin_of(log)).log()  # [A, T]
# --8<-- [end:histogram_log_likelihood]


# --8<-- [start:histogram_log_likelihood_numpy]
import numpy as np


def histogram_log_likelihood_np(sim, log, low, high, n_bins=20, smoothing=0.1):
    def bin_of(x):
        return np.clip(np.floor((x - low) / (high - low) * n_bins), 0, n_bins - 1).astype(int)

    counts = (bin_of(sim)[..., None] == np.arange(n_bins)).sum(axis=(0, 2))  # [A, n_bins]
    probs = (counts + smoothing) / (counts + smoothing).sum(-1, keepdims=True)
    return np.log(np.take_along_axis(probs, bin_of(log), axis=1))  # [A, T]
# --8<-- [end:histogram_log_likelihood_numpy]

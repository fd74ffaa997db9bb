"""Regression losses: Huber and quantile (pinball), in PyTorch and NumPy."""

# --8<-- [start:huber_loss]
import torch


def huber_loss(pred, target, delta=1.0):
    # quadratic up to |r| = delta, linear beyond; delta is in the target's units
    r = (pred - target).abs()
    quad = torch.clamp(r, max=delta)  # the part of |r| paid quadratically
    return (0.5 * quad**2 + delta * (r - quad)).mean()
# --8<-- [end:huber_loss]


# --8<-- [start:huber_loss_numpy]
import numpy as np


def huber_loss_np(pred, target, delta=1.0):
    r = np.abs(pred - target)
    return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)).mean()
# --8<-- [end:huber_loss_numpy]


# --8<-- [start:quantile_loss]
import torch


def quantile_loss(pred, target, q):
    # pinball loss: under-prediction costs q per unit, over-prediction 1 - q
    r = target - pred
    return torch.maximum(q * r, (q - 1) * r).mean()
# --8<-- [end:quantile_loss]


# --8<-- [start:quantile_loss_numpy]
import numpy as np


def quantile_loss_np(pred, target, q):
    r = target - pred
    return np.maximum(q * r, (q - 1) * r).mean()
# --8<-- [end:quantile_loss_numpy]

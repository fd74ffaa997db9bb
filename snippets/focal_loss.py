"""Focal loss: softmax (multi-class) and sigmoid (multi-label); PyTorch and NumPy."""

# --8<-- [start:focal_loss]
import torch
import torch.nn.functional as F


def focal_loss(logits, target, gamma=2.0, alpha=None):
    # logits [N, C], target [N]; alpha: optional per-class weights [C].
    # log p_t from the fused, stable kernel; never build the probability matrix.
    log_pt = -F.cross_entropy(logits, target, reduction="none")
    # 1 - p_t = -expm1(log p_t): accurate as p_t -> 1, where 1 - exp() cancels.
    # The clamp keeps the gradient finite at p_t = 1.
    one_minus_pt = (-torch.expm1(log_pt)).clamp_min(1e-12)
    loss = -one_minus_pt**gamma * log_pt
    if alpha is None:
        return loss.mean()
    alpha_t = alpha[target]
    return (alpha_t * loss).sum() / alpha_t.sum()  # as F.cross_entropy(weight=)
# --8<-- [end:focal_loss]


# --8<-- [start:focal_loss_numpy]
import numpy as np


def focal_loss_np(logits, target, gamma=2.0, alpha=None):
    # logits [N, C], target [N] int; stable log-softmax (subtract the max).
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    log_pt = log_p[np.arange(len(target)), target]
    loss = -((1.0 - np.exp(log_pt)) ** gamma) * log_pt
    if alpha is None:
        return loss.mean()
    alpha_t = alpha[target]
    return (alpha_t * loss).sum() / alpha_t.sum()
# --8<-- [end:focal_loss_numpy]


# --8<-- [start:sigmoid_focal_loss]
import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0):
    # logits and target: same shape [N, C]; target 0/1 per class (multi-label).
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return loss.mean()
# --8<-- [end:sigmoid_focal_loss]

"""Multi-modal trajectory losses: winner-takes-all and mixture NLL."""

# --8<-- [start:wta_loss]
import torch
import torch.nn.functional as F


def wta_loss(pred, mode_logits, target, cls_weight=1.0):
    # pred [B, K, T, 2], mode_logits [B, K], target [B, T, 2]
    # [B, K]: squared L2 per step, averaged over time
    err = (pred - target[:, None]).pow(2).sum(-1).mean(-1)
    winner = err.argmin(dim=1)  # [B], no gradient through argmin
    reg = err[torch.arange(len(winner)), winner]  # [B]
    cls = F.cross_entropy(mode_logits, winner, reduction="none")  # [B]
    return (reg + cls_weight * cls).mean()
# --8<-- [end:wta_loss]


# --8<-- [start:wta_loss_numpy]
import numpy as np


def wta_loss_np(pred, mode_logits, target, cls_weight=1.0):
    # pred [B, K, T, 2], mode_logits [B, K], target [B, T, 2]
    err = ((pred - target[:, None]) ** 2).sum(-1).mean(-1)  # [B, K]
    winner = err.argmin(axis=1)
    rows = np.arange(len(winner))
    z = mode_logits - mode_logits.max(axis=1, keepdims=True)
    log_pi = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return (err[rows, winner] - cls_weight * log_pi[rows, winner]).mean()
# --8<-- [end:wta_loss_numpy]


# --8<-- [start:mixture_nll]
import math

import torch
import torch.nn.functional as F


def mixture_nll(pred, log_sigma, mode_logits, target):
    # Gaussian mixture over K trajectories with diagonal std exp(log_sigma).
    # pred, log_sigma [B, K, T, 2]; mode_logits [B, K]; target [B, T, 2]
    z = (target[:, None] - pred) * torch.exp(-log_sigma)
    log_f = -0.5 * z**2 - log_sigma - 0.5 * math.log(2 * math.pi)
    log_lik = log_f.sum(dim=(-1, -2))  # [B, K]: joint over steps and x, y
    log_mix = torch.logsumexp(F.log_softmax(mode_logits, -1) + log_lik, dim=-1)
    return -log_mix.mean()
# --8<-- [end:mixture_nll]

"""Cross entropy from scratch, label smoothing, multi-class hinge, in PyTorch and NumPy."""

# --8<-- [start:cross_entropy]
import torch


def cross_entropy(logits, target):
    # logits [N, C], target [N] class indices; log-softmax via log-sum-exp, never log(softmax)
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_p[torch.arange(len(target)), target].mean()
# --8<-- [end:cross_entropy]


# --8<-- [start:cross_entropy_numpy]
import numpy as np


def cross_entropy_np(logits, target):
    z = logits - logits.max(axis=1, keepdims=True)  # shift: exp cannot overflow
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(target)), target].mean()
# --8<-- [end:cross_entropy_numpy]


# --8<-- [start:binary_cross_entropy]
import torch


def binary_cross_entropy(logits, y):
    # -[y log s(x) + (1-y) log(1-s(x))] = max(x, 0) - x y + log(1 + e^-|x|), stable for any x
    return (logits.clamp(min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))).mean()
# --8<-- [end:binary_cross_entropy]


# --8<-- [start:label_smoothing]
import torch
import torch.nn.functional as F


def label_smoothing_ce(logits, target, eps=0.1):
    # target distribution: (1 - eps) on the label + eps / C on every class (label included)
    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, target[:, None]).squeeze(1)
    uniform = -log_p.mean(dim=1)  # cross entropy to the uniform distribution
    return ((1 - eps) * nll + eps * uniform).mean()
# --8<-- [end:label_smoothing]


# --8<-- [start:label_smoothing_numpy]
import numpy as np


def label_smoothing_ce_np(logits, target, eps=0.1):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(len(target)), target]
    return ((1 - eps) * nll - eps * log_p.mean(axis=1)).mean()
# --8<-- [end:label_smoothing_numpy]


# --8<-- [start:multiclass_hinge]
import torch


def multiclass_hinge(logits, target, margin=1.0):
    # sum over wrong classes of max(0, margin - (z_y - z_c)), divided by C like PyTorch
    n, c = logits.shape
    z_y = logits[torch.arange(n), target][:, None]
    viol = torch.clamp(margin - z_y + logits, min=0)
    viol[torch.arange(n), target] = 0  # the true class is not a competitor
    return (viol.sum(dim=1) / c).mean()
# --8<-- [end:multiclass_hinge]

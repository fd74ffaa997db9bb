"""Weighted cross entropy and class weights, as written in an interview."""

# --8<-- [start:weighted_cross_entropy]
import torch
import torch.nn.functional as F


def weighted_cross_entropy(logits, target, class_weights):
    # logits [N, C], target [N] (int64), class_weights [C] on the same device.
    # "mean" divides by the sum of the target weights, not by N.
    return F.cross_entropy(logits, target, weight=class_weights)
# --8<-- [end:weighted_cross_entropy]


# --8<-- [start:class_weights]
import torch


def class_weights(counts, scheme="inverse", beta=0.999):
    # counts [C]: samples per class -> weights [C] averaging 1 over samples.
    n = counts.double()
    if scheme == "inverse":
        raw = 1.0 / n
    elif scheme == "sqrt_inverse":
        raw = 1.0 / n.sqrt()
    else:  # "effective_number" (Cui et al. 2019)
        raw = (1.0 - beta) / (1.0 - beta**n)
    return (raw * n.sum() / (n * raw).sum()).float()
# --8<-- [end:class_weights]

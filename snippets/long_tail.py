"""Long-tailed classes: logit adjustment (loss and post-hoc), balanced softmax, OHEM."""

# --8<-- [start:logit_adjusted_loss]
import torch
import torch.nn.functional as F


def logit_adjusted_loss(logits, target, prior, tau=1.0):
    # logits [N, C], target [N], prior [C]: the training label frequencies.
    # Train on z + tau * log(prior); predict with argmax of the plain z.
    log_prior = torch.log(prior / prior.sum())
    return F.cross_entropy(logits + tau * log_prior, target)
# --8<-- [end:logit_adjusted_loss]


# --8<-- [start:logit_adjusted_loss_numpy]
import numpy as np


def logit_adjusted_loss_np(logits, target, prior, tau=1.0):
    # logits [N, C], target [N] int, prior [C]; a stable log-softmax.
    z = logits + tau * np.log(prior / prior.sum())
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(target)), target].mean()
# --8<-- [end:logit_adjusted_loss_numpy]


# --8<-- [start:posthoc_adjust]
import torch


def posthoc_adjust(logits, prior, tau=1.0):
    # A model trained with plain cross entropy: subtract tau * log(prior) at test time.
    return logits - tau * torch.log(prior / prior.sum())
# --8<-- [end:posthoc_adjust]


# --8<-- [start:balanced_softmax_loss]
import torch
import torch.nn.functional as F


def balanced_softmax_loss(logits, target, counts):
    # counts [C]: training examples per class. n_y e^{z_y} / sum_c n_c e^{z_c},
    # written as a shift of the logits so that the fused, stable kernel does the rest.
    return F.cross_entropy(logits + torch.log(counts), target)
# --8<-- [end:balanced_softmax_loss]


# --8<-- [start:ohem_loss]
import torch
import torch.nn.functional as F


def ohem_loss(logits, target, num_hard):
    # Per-example losses, keep the num_hard largest, average those.
    loss = F.cross_entropy(logits, target, reduction="none")
    k = min(num_hard, loss.shape[0])
    hard = loss.detach().topk(k).indices  # the selection is not differentiated
    return loss[hard].mean()
# --8<-- [end:ohem_loss]

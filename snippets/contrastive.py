"""Contrastive and metric learning: InfoNCE, triplet, pairwise contrastive, VICReg."""

# --8<-- [start:info_nce]
import torch
import torch.nn.functional as F


def info_nce(query, key, temperature=0.1):
    # query, key [B, D]: key i is query i's positive, the other B - 1 keys its negatives
    q = F.normalize(query, dim=1)
    k = F.normalize(key, dim=1)
    logits = q @ k.T / temperature  # [B, B] cosine similarities / tau
    labels = torch.arange(len(q), device=q.device)  # the positive sits on the diagonal
    return F.cross_entropy(logits, labels)  # a B-way classification per query
# --8<-- [end:info_nce]


# --8<-- [start:info_nce_numpy]
import numpy as np


def info_nce_np(query, key, temperature=0.1):
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    k = key / np.linalg.norm(key, axis=1, keepdims=True)
    s = q @ k.T / temperature
    s = s - s.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -np.diag(log_p).mean()
# --8<-- [end:info_nce_numpy]


# --8<-- [start:triplet_loss]
import torch


def triplet_loss(anchor, positive, negative, margin=1.0):
    d_pos = (anchor - positive).norm(dim=1)
    d_neg = (anchor - negative).norm(dim=1)
    return torch.clamp(d_pos - d_neg + margin, min=0).mean()
# --8<-- [end:triplet_loss]


# --8<-- [start:pairwise_contrastive]
import torch


def contrastive_loss(x1, x2, similar, margin=1.0):
    # similar: 1 for a matching pair, 0 otherwise (Hadsell et al. 2006)
    d = (x1 - x2).norm(dim=1)
    pull = similar * d**2  # similar pairs: a spring towards distance 0
    push = (1 - similar) * torch.clamp(margin - d, min=0) ** 2  # only inside the margin
    return 0.5 * (pull + push).mean()
# --8<-- [end:pairwise_contrastive]


# --8<-- [start:vicreg]
import torch
import torch.nn.functional as F


def vicreg(za, zb, lam=25.0, mu=25.0, nu=1.0, eps=1e-4):
    n, d = za.shape
    invariance = F.mse_loss(za, zb)
    variance, covariance = 0.0, 0.0
    for z in (za, zb):
        z = z - z.mean(dim=0)
        std = torch.sqrt(z.var(dim=0) + eps)
        variance = variance + torch.relu(1 - std).mean() / 2  # keep every feature's std >= 1
        cov = z.T @ z / (n - 1)
        off_diag = cov - torch.diag(torch.diag(cov))
        covariance = covariance + off_diag.pow(2).sum() / d  # decorrelate the features
    return lam * invariance + mu * variance + nu * covariance
# --8<-- [end:vicreg]

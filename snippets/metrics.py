"""Evaluation metrics as you would write them in an interview, in PyTorch and NumPy."""

# --8<-- [start:precision_recall_f1]
import torch


def precision_recall_f1(pred, target, num_classes):
    # pred, target [N] class indices -> per-class precision, recall, F1 [C]
    cm = torch.bincount(target * num_classes + pred, minlength=num_classes**2)
    cm = cm.reshape(num_classes, num_classes).double()  # rows: truth, columns: prediction
    tp = cm.diag()
    precision = tp / cm.sum(0).clamp_min(1)  # column sums: TP + FP (0/0 -> 0)
    recall = tp / cm.sum(1).clamp_min(1)  # row sums: TP + FN
    f1 = 2 * tp / (cm.sum(0) + cm.sum(1)).clamp_min(1)  # 2TP / (2TP + FP + FN)
    return precision, recall, f1
# --8<-- [end:precision_recall_f1]


# --8<-- [start:precision_recall_f1_numpy]
import numpy as np


def precision_recall_f1_np(pred, target, num_classes):
    cm = np.bincount(target * num_classes + pred, minlength=num_classes**2)
    cm = cm.reshape(num_classes, num_classes).astype(float)  # rows: truth, columns: prediction
    tp = np.diag(cm)
    precision = tp / np.maximum(cm.sum(0), 1)
    recall = tp / np.maximum(cm.sum(1), 1)
    f1 = 2 * tp / np.maximum(cm.sum(0) + cm.sum(1), 1)
    return precision, recall, f1
# --8<-- [end:precision_recall_f1_numpy]


# --8<-- [start:average_precision]
import torch


def average_precision(scores, target):
    # scores [N] float, target [N] 0/1. AP = sum over thresholds of (R_n - R_{n-1}) * P_n.
    s, order = torch.sort(scores, descending=True)
    tp = torch.cumsum(target[order].double(), 0)
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # tied scores are one threshold: keep the end of each run
    tp = tp[last]
    n_predicted = torch.arange(1, len(s) + 1, dtype=torch.float64, device=s.device)[last]
    precision, recall = tp / n_predicted, tp / tp[-1]
    return (torch.diff(recall, prepend=recall.new_zeros(1)) * precision).sum()
# --8<-- [end:average_precision]


# --8<-- [start:average_precision_numpy]
import numpy as np


def average_precision_np(scores, target):
    order = np.argsort(-scores)
    s, tp = scores[order], np.cumsum(target[order])
    last = np.append(s[1:] != s[:-1], True)  # end of each run of tied scores
    tp, n_predicted = tp[last], np.arange(1, len(s) + 1)[last]
    precision, recall = tp / n_predicted, tp / tp[-1]
    return np.sum(np.diff(recall, prepend=0.0) * precision)
# --8<-- [end:average_precision_numpy]


# --8<-- [start:roc_auc_numpy]
import numpy as np


def roc_auc_np(scores, target):
    # P(random positive outscores random negative), ties counting 1/2: the Mann-Whitney U.
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank where each distinct value starts
    ranks = (first_rank + (counts - 1) / 2)[inverse]  # tied scores share their average rank
    pos = target == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
# --8<-- [end:roc_auc_numpy]


# --8<-- [start:ece]
import torch


def ece(probs, target, n_bins=15):
    # probs [N, C] softmax output, target [N]. Bins (lo, hi] on the max probability.
    conf, pred = probs.max(dim=1)
    correct = (pred == target).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64, device=probs.device)
    bins = torch.bucketize(conf.double(), edges) - 1  # edges[b] < conf <= edges[b + 1]
    total = torch.zeros((), dtype=torch.float64, device=probs.device)
    for b in range(n_bins):
        inside = bins == b
        if inside.any():  # weight |accuracy - confidence| by the bin's share of samples
            gap = (correct[inside].mean() - conf[inside].double().mean()).abs()
            total = total + inside.double().mean() * gap
    return total
# --8<-- [end:ece]


# --8<-- [start:ece_numpy]
import numpy as np


def ece_np(probs, target, n_bins=15):
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == target
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total
# --8<-- [end:ece_numpy]


# --8<-- [start:fit_temperature]
import torch
import torch.nn.functional as F


def fit_temperature(logits, target, steps=50):
    # One scalar T fitted on held-out logits; optimise log T so that T stays positive.
    log_t = torch.zeros((), dtype=logits.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item()
# --8<-- [end:fit_temperature]


# --8<-- [start:trajectory_metrics]
import torch


def trajectory_metrics(pred, probs, target, miss_threshold=2.0):
    # pred [B, K, T, 2], probs [B, K] (rows sum to 1), target [B, T, 2]
    dist = (pred - target[:, None]).norm(dim=-1)  # [B, K, T], metres
    ade, fde = dist.mean(-1), dist[..., -1]  # [B, K]
    rows = torch.arange(len(pred))
    best = fde.argmin(dim=1)  # Argoverse: one winner per sample, chosen by FDE
    min_ade_waymo = ade.min(1).values.mean()  # Waymo: each minimum on its own
    min_ade_argoverse = ade[rows, best].mean()  # Argoverse: ADE of the best-FDE mode
    min_fde = fde[rows, best].mean()  # the same under both conventions
    miss_rate = (fde[rows, best] > miss_threshold).double().mean()  # strict >
    brier_min_fde = (fde[rows, best] + (1 - probs[rows, best]) ** 2).mean()
    return min_ade_waymo, min_ade_argoverse, min_fde, miss_rate, brier_min_fde
# --8<-- [end:trajectory_metrics]


# --8<-- [start:min_ade_fde_numpy]
import numpy as np


def min_ade_fde_np(pred, target):
    # pred [B, K, T, 2], target [B, T, 2]; Waymo-style independent minima over the K modes.
    dist = np.linalg.norm(pred - target[:, None], axis=-1)  # [B, K, T]
    return dist.mean(-1).min(1).mean(), dist[..., -1].min(1).mean()
# --8<-- [end:min_ade_fde_numpy]


# --8<-- [start:ranking]
import torch


def precision_at_k(scores, relevant, k):
    # scores, relevant [N]: the share of the k best-scored items that are relevant
    top = torch.topk(scores, k).indices
    return relevant[top].double().mean()


def ndcg_at_k(scores, relevance, k):
    # linear gain rel / log2(rank + 1), normalised by the best possible order (no ties assumed)
    discount = 1 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64, device=scores.device))
    dcg = (relevance[torch.topk(scores, k).indices] * discount).sum()
    ideal = (torch.topk(relevance.double(), k).values * discount).sum()
    return dcg / ideal
# --8<-- [end:ranking]

"""Custom losses lesson: focal, WTA and mixture NLL against their references (forward + backward)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import lossbook
from bench.common import Case, forward_backward

B, C = 8192, 1000
TB, K, T = 1024, 6, 80


def _classification_inputs():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(B, C, generator=g).requires_grad_()
    return logits, torch.randint(0, C, (B,), generator=g)


def _textbook_focal(logits, target, gamma=2.0):
    probs = F.softmax(logits, dim=-1)  # the full probability matrix, twice
    log_probs = F.log_softmax(logits, dim=-1)
    rows = torch.arange(len(target))
    pt, log_pt = probs[rows, target], log_probs[rows, target]
    return (-(1 - pt) ** gamma * log_pt).mean()


def focal():
    return forward_backward(lambda x, y: lossbook.focal_loss(x, y, gamma=2.0), _classification_inputs)


def cross_entropy():
    return forward_backward(F.cross_entropy, _classification_inputs)


def textbook_focal():
    return forward_backward(_textbook_focal, _classification_inputs)


def _trajectory_inputs():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(TB, K, T, 2, generator=g).requires_grad_()
    logits = torch.randn(TB, K, generator=g).requires_grad_()
    target = torch.randn(TB, T, 2, generator=g)
    log_scale = (0.1 * torch.randn(TB, K, T, 2, generator=g)).requires_grad_()
    return pred, logits, target, log_scale


def _plain_wta(pred, logits, target, _):
    err = (pred - target[:, None]).pow(2).sum(-1).mean(-1)
    winner = err.argmin(1)
    return (err[torch.arange(len(winner)), winner] + F.cross_entropy(logits, winner, reduction="none")).mean()


def wta():
    return forward_backward(lambda p, m, t, _: lossbook.wta_trajectory_loss(p, m, t), _trajectory_inputs)


def plain_wta():
    return forward_backward(_plain_wta, _trajectory_inputs)


def _distributions_nll(pred, logits, target, log_scale):
    D = torch.distributions
    components = D.Independent(D.Normal(pred.flatten(2), log_scale.exp().flatten(2)), 1)
    mixture = D.MixtureSameFamily(D.Categorical(logits=logits), components)
    return -mixture.log_prob(target.flatten(1)).mean()


def mixture():
    return forward_backward(lambda p, m, t, s: lossbook.mixture_nll(p, s, m, t), _trajectory_inputs)


def distributions_mixture():
    return forward_backward(_distributions_nll, _trajectory_inputs)


CASES = [
    Case("focal_loss B=8192 C=1000", "lossbook.focal_loss", "F.cross_entropy", focal, cross_entropy, 1.10),
    Case("textbook focal B=8192 C=1000", "softmax + log_softmax focal", "F.cross_entropy",
         textbook_focal, cross_entropy, float("inf"), memory=False),
    Case("wta_trajectory_loss B=1024 K=6 T=80", "lossbook.wta_trajectory_loss", "plain WTA",
         wta, plain_wta, 1.0),
    Case("mixture_nll B=1024 K=6 T=80", "lossbook.mixture_nll", "MixtureSameFamily",
         mixture, distributions_mixture, 0.5),
]

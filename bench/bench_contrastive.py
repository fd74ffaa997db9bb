"""Contrastive losses: info_nce against its reference formulation (forward + backward)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import lossbook
from bench.common import Case, forward_backward

B, D = 4096, 256  # SimCLR-scale batch, a typical projection size


def _inputs():
    g = torch.Generator().manual_seed(0)
    query = torch.randn(B, D, generator=g).requires_grad_()
    key = torch.randn(B, D, generator=g).requires_grad_()
    return query, key


def _reference(query, key, temperature=0.1):
    """InfoNCE as the papers write it: cross entropy on the cosine-similarity matrix."""
    logits = F.normalize(query, dim=1) @ F.normalize(key, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(query)))


def info_nce():
    return forward_backward(lambda q, k: lossbook.info_nce(q, k, temperature=0.1), _inputs)


def reference():
    return forward_backward(_reference, _inputs)


def info_nce_symmetric():
    return forward_backward(lambda q, k: lossbook.info_nce(q, k, symmetric=True), _inputs)


def _reference_symmetric(query, key, temperature=0.1):
    logits = F.normalize(query, dim=1) @ F.normalize(key, dim=1).T / temperature
    labels = torch.arange(len(query))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def reference_symmetric():
    return forward_backward(_reference_symmetric, _inputs)


CASES = [
    Case(f"info_nce B={B} D={D}", "lossbook.info_nce", "normalize + matmul + F.cross_entropy",
         info_nce, reference, 1.2),
    Case(f"info_nce symmetric B={B} D={D}", "lossbook.info_nce(symmetric=True)",
         "CLIP-style two-way cross entropy", info_nce_symmetric, reference_symmetric, 1.2),
]

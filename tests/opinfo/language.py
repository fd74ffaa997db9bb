"""lossbook.language."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, classes, randn, set_first

V = 5


def _lm(g, b, dt, **kwargs):
    labels = classes(g, b, 4, n=V)
    if b:
        labels[0, 0] = -100  # a prompt token
    return S(randn(g, b, 4, V, dt=dt, scale=2.0), labels, **kwargs)


def _lm_mean_over(a):
    labels = a["labels"][:, 1:]
    valid = labels != -100
    if a.get("document_ids") is not None:
        docs = a["document_ids"]
        valid = valid & (docs[:, 1:] == docs[:, :-1])
    return valid.sum()


def _docs(g, b):
    return torch.tensor([0, 0, 1, 1]).repeat(b, 1)


LABELS_RANGE = E("labels", r"got 5", {"labels": lambda a: set_first(V)(a["labels"])})
LABELS_FLOAT = E("labels", r"torch\.float32", {"labels": lambda a: a["labels"].float()}, TypeError)

ENTRIES = [
    OpInfo(
        lossbook.next_token_cross_entropy,
        sample=lambda g, b, dt: _lm(g, b, dt, document_ids=_docs(g, b)),
        grad=("logits",),
        errors=[
            LABELS_RANGE,
            LABELS_FLOAT,
            E("average", "'tokens'", {"average": "tokens"}),
            E("labels", r"at least 2.*got 1", {"logits": lambda a: a["logits"][:, :1],
                                                "labels": lambda a: a["labels"][:, :1],
                                                "document_ids": None}),
            E("document_ids", "shift=False", {"shift": False}),
            E("document_ids", r"torch\.float32",
              {"document_ids": lambda a: a["document_ids"].float()}, TypeError),
            E("ignore_index", "float", {"ignore_index": -100.0}, TypeError),
        ],
        int_ok=("document_ids",),
        extreme=lambda g, b, dt: S(randn(g, 3, 4, V, dt=dt, scale=1e4), classes(g, 3, 4, n=V)),
        mean_over=_lm_mean_over,
    ),
    OpInfo(
        lossbook.perplexity,
        sample=lambda g, b, dt: _lm(g, b, dt),
        grad=("logits",),
        errors=[LABELS_RANGE, LABELS_FLOAT],
    ),
    OpInfo(
        lossbook.document_causal_mask,
        sample=lambda g, b, dt: S(_docs(g, b)),
        empty=OK,
        errors=[E("document_ids", r"torch\.float32",
                  {"document_ids": lambda a: a["document_ids"].float()}, TypeError)],
    ),
    OpInfo(
        lossbook.distillation_loss,
        sample=lambda g, b, dt: S(randn(g, b, 3, V, dt=dt), randn(g, b, 3, V, dt=dt, scale=2.0),
                                  temperature=2.0, mask=bools(g, b, 3)),
        grad=("student_logits",),
        errors=[
            E("temperature", r"0\.0", {"temperature": 0.0}),
            E("direction", "'backward'", {"direction": "backward"}),
            E("mask", r"torch\.int64", {"mask": lambda a: a["mask"].long()}, TypeError),
        ],
        extreme=lambda g, b, dt: S(randn(g, 3, 2, V, dt=dt, scale=1e4),
                                   randn(g, 3, 2, V, dt=dt, scale=1e4), temperature=0.5),
        mean_over=lambda a: a["mask"].sum(),
    ),
    OpInfo(
        lossbook.load_balancing_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), top_k=2, mask=bools(g, b)),
        grad=("router_logits",),
        errors=[
            E("top_k", r"got 5", {"top_k": 5}),
            E("top_k", r"0", {"top_k": 0}),
            E("top_k", r"1\.5", {"top_k": 1.5}),
            E("mask", r"torch\.int64", {"mask": lambda a: a["mask"].long()}, TypeError),
        ],
        empty=OK,
        extreme=lambda g, b, dt: S(randn(g, 3, 4, dt=dt, scale=1e4)),
    ),
    OpInfo(
        lossbook.router_z_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), mask=bools(g, b)),
        grad=("router_logits",),
        errors=[E("mask", r"torch\.int64", {"mask": lambda a: a["mask"].long()}, TypeError)],
        empty=OK,
        extreme=lambda g, b, dt: S(randn(g, 3, 4, dt=dt, scale=50.0)),
    ),
]

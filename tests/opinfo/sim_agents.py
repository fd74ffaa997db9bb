"""lossbook.sim_agents: motion tokens and rollout drift."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, classes, randn

VOCAB = lossbook.delta_vocab(1.0, 5)  # 25 displacements


def _xy(g, b, dt, T=4):
    """Random-walk positions [b, T + 1, 2] with steps of about the vocabulary's size."""
    return randn(g, b, T + 1, 2, dt=torch.float64, scale=0.6).cumsum(1).to(dt)


ENTRIES = [
    OpInfo(
        lossbook.delta_vocab,
        sample=lambda g, b, dt: S(1.5, b + 2, dtype=dt),
        errors=[
            E("max_delta", r"0\.0", {"max_delta": 0.0}),
            E("bins", "got 1", {"bins": 1}),
            E("bins", "float", {"bins": 3.0}, TypeError),
            E("dtype", "int64", {"dtype": torch.int64}, TypeError),
        ],
        empty=None,
        meta="takes no tensor: builds the vocabulary on the device it is given (default CPU)",
    ),
    OpInfo(
        lossbook.tokenize_deltas,
        sample=lambda g, b, dt: S(_xy(g, b, dt), VOCAB.to(dt)),
        errors=[
            E("xy", r"\[3, 1, 2\]", {"xy": lambda a: a["xy"][:, :1]}),  # a start, no step
            E("vocab", r"\[0, 2\]", {"vocab": lambda a: a["vocab"][:0]}),
            E("vocab", r"(?i)nan", {"vocab": lambda a: a["vocab"].clone().fill_(float("nan"))}),
            E("rolling", "str", {"rolling": "yes"}, TypeError),
        ],
        free_size=("vocab",),  # V tokens, independent of the batch
        empty=OK,  # no agent, no token
    ),
    OpInfo(
        lossbook.detokenize,
        sample=lambda g, b, dt: S(classes(g, b, 4, n=25), VOCAB.to(dt), randn(g, b, 2, dt=dt)),
        grad=("vocab", "start"),
        errors=[
            E("tokens", r"\[0, 24\].*got 25", {"tokens": lambda a: torch.full_like(a["tokens"], 25)}),
            E("tokens", "got -1", {"tokens": lambda a: torch.full_like(a["tokens"], -1)}),
            E("tokens", r"torch\.float32", {"tokens": lambda a: a["tokens"].float()}, TypeError),
            E("vocab", r"\[0, 2\]", {"vocab": lambda a: a["vocab"][:0]}),
        ],
        free_size=("vocab",),  # V tokens, independent of the batch
        empty=OK,  # no agent: an empty [0, T + 1, 2]
    ),
    OpInfo(
        lossbook.rollout_drift,
        sample=lambda g, b, dt: S(randn(g, b, 5, 2, dt=dt), randn(g, b, 5, 2, dt=dt),
                                  mask=bools(g, b, 5)),
        grad=("rollout", "log"),
        errors=[
            E("mask", r"torch\.float32", {"mask": lambda a: a["mask"].float()}, TypeError),
            E("log", r"\[3, 5, 3\]", {"log": lambda a: torch.zeros(3, 5, 3)}),
        ],
        empty="rollout",  # a mean over no agent
    ),
]

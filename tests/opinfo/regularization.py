"""lossbook.regularization."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, randn

_PARAMS_ERRORS = [
    E("params", "none", {"params": []}),
    E("params", r"torch\.int64 at position 1", {"params": lambda a: [a["params"], torch.ones(2, dtype=torch.long)]}, TypeError),
    E("params", r"meta at position 1", {"params": lambda a: [a["params"], torch.ones(2, device="meta")]}),
    E("params", "str", {"params": "weights"}, TypeError),
    E("params", "float", {"params": 3.0}, TypeError),
]

ENTRIES = [
    OpInfo(
        fn,
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt)),
        grad=("params",),
        errors=_PARAMS_ERRORS,
        any_shape=("params",),  # any parameter tensor
        empty=OK,  # the penalty of no weights is 0
        extreme=lambda g, b, dt: S(torch.full((4, 3), 300.0, dtype=dt)),  # 300^2 > float16 max
    )
    for fn in (lossbook.l1_penalty, lossbook.l2_penalty)
]

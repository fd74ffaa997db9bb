"""lossbook.regression."""

import torch

import lossbook
from opinfo import E, OpInfo, S, randn

ENTRIES = [
    OpInfo(
        lossbook.huber_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt, scale=2.0), randn(g, b, 4, dt=dt)),
        grad=("pred",),
        nan=("target",),
        errors=[E("delta", r"0\.0", {"delta": 0.0})],
        # residuals of 1e4: the linear part keeps even float16 finite
        extreme=lambda g, b, dt: S(torch.tensor([[1e4, -1e4, 0.5]], dtype=dt),
                                   torch.zeros(1, 3, dtype=dt), delta=2.0),
    ),
    OpInfo(
        lossbook.quantile_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), randn(g, b, 4, dt=dt), quantile=0.8),
        grad=("pred",),
        nan=("target",),
        errors=[
            E("quantile", r"1\.0", {"quantile": 1.0}),
            E("quantile", "str", {"quantile": "0.5"}, TypeError),
            E("quantile", r"\(0, 1\).*1\.0",
              {"quantile": torch.tensor([0.1, 1.0]),
               "pred": lambda a: torch.stack([a["pred"]] * 2, dim=-1)}),
            E("pred", r"\[3, 4, 2\].*got \[3, 4\]", {"quantile": torch.tensor([0.1, 0.9])}),
        ],
    ),
    OpInfo(  # the multi-quantile form: pred [*, Q], target [*]
        lossbook.quantile_loss,
        name="quantile_loss",
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt), randn(g, b, dt=dt),
                                  quantile=torch.tensor([0.1, 0.5, 0.9], dtype=dt)),
        grad=("pred",),
        nan=("target", "quantile"),
        any_device=("quantile",),  # a constant table of levels, moved to pred's device
    ),
]

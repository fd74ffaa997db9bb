"""lossbook.trajectory."""

import torch

import lossbook
from opinfo import E, OpInfo, S, bools, randn, set_first

K, T = 3, 4
MASK_VALUES = E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())})
MASK_FLOAT = E("mask", r"torch\.float32", {"mask": lambda a: a["mask"].float()}, TypeError)


def _valid_samples(a):
    """The mean is over samples with at least one valid step."""
    return (a["mask"].sum(dim=1) > 0).sum()


ENTRIES = [
    OpInfo(
        lossbook.wta_trajectory_loss,
        sample=lambda g, b, dt: S(randn(g, b, K, T, 2, dt=dt), randn(g, b, K, dt=dt),
                                  randn(g, b, T, 2, dt=dt), cls_weight=0.5, mask=bools(g, b, T)),
        grad=("pred", "mode_logits"),
        nan=("target",),
        errors=[E("cls_weight", r"-1\.0", {"cls_weight": -1.0}), MASK_VALUES, MASK_FLOAT],
        mean_over=_valid_samples,
    ),
    OpInfo(
        lossbook.mixture_nll,
        sample=lambda g, b, dt: S(randn(g, b, K, T, 2, dt=dt), randn(g, b, K, T, 2, dt=dt, scale=0.3),
                                  randn(g, b, K, dt=dt), randn(g, b, T, 2, dt=dt),
                                  distribution="laplace", mask=bools(g, b, T)),
        grad=("pred", "log_scale", "mode_logits"),
        nan=("target",),
        errors=[E("distribution", "'cauchy'", {"distribution": "cauchy"}), MASK_VALUES, MASK_FLOAT],
        mean_over=_valid_samples,
        # a mode 1e3 away with a tiny scale: its likelihood underflows, the mixture's must not
        extreme=lambda g, b, dt: S(torch.cat([torch.zeros(1, 1, T, 2), torch.full((1, 1, T, 2), 1e3)], 1).to(dt),
                                   torch.full((1, 2, T, 2), -3.0, dtype=dt), torch.zeros(1, 2, dtype=dt),
                                   torch.zeros(1, T, 2, dtype=dt)),
    ),
    OpInfo(  # Gaussian, every step valid
        lossbook.mixture_nll,
        name="mixture_nll",
        sample=lambda g, b, dt: S(randn(g, b, K, T, 2, dt=dt), randn(g, b, K, T, 2, dt=dt, scale=0.3),
                                  randn(g, b, K, dt=dt), randn(g, b, T, 2, dt=dt)),
        grad=("pred", "log_scale", "mode_logits"),
    ),
]

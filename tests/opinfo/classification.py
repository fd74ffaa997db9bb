"""lossbook.classification."""

import torch

import lossbook
from opinfo import E, OpInfo, S, classes, rand, randn, set_first

C = 3


def _logits_target(g, b, dt, **kwargs):
    return S(randn(g, b, C, dt=dt, scale=2.0), classes(g, b, n=C), **kwargs)


def _extreme(g, b, dt, **kwargs):
    """Saturated logits: p_t = 1 exactly on some rows, ~0 on others."""
    logits = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]] * b, dtype=dt)
    return S(logits, torch.tensor([0, 0, 2] * b), **kwargs)


TARGET_RANGE = E("target", r"\[0, 2\].*got 3", {"target": lambda a: set_first(3)(a["target"])})
TARGET_FLOAT = E("target", r"torch\.float32", {"target": lambda a: a["target"].float()}, TypeError)

ENTRIES = [
    OpInfo(
        lossbook.weighted_cross_entropy,
        sample=lambda g, b, dt: _logits_target(
            g, b, dt, weight=rand(g, C, dt=dt, low=0.2, high=2.0)),
        grad=("logits",),
        nan=("weight",),
        errors=[
            TARGET_RANGE,
            TARGET_FLOAT,
            E("weight", r"non-negative.*-1\.0", {"weight": lambda a: set_first(-1.0)(a["weight"])}),
        ],
        extreme=lambda g, b, dt: _extreme(g, b, dt, weight=torch.ones(C, dtype=dt)),
        mean_over=lambda a: a["weight"][a["target"]].sum(),
    ),
    OpInfo(
        lossbook.focal_loss,
        sample=lambda g, b, dt: _logits_target(g, b, dt, gamma=2.0,
                                               alpha=rand(g, C, dt=dt, low=0.2, high=2.0)),
        grad=("logits",),
        nan=("alpha",),
        errors=[
            TARGET_RANGE,
            TARGET_FLOAT,
            E("gamma", r"-1\.0", {"gamma": -1.0}),
            E("alpha", r"non-negative.*-1\.0", {"alpha": lambda a: set_first(-1.0)(a["alpha"])}),
        ],
        extreme=lambda g, b, dt: _extreme(g, b, dt, gamma=0.5),
        mean_over=lambda a: a["alpha"][a["target"]].sum(),
    ),
    OpInfo(
        lossbook.sigmoid_focal_loss,
        sample=lambda g, b, dt: S(randn(g, b, C, dt=dt, scale=2.0), rand(g, b, C, dt=dt)),
        grad=("logits",),
        nan=("target",),
        errors=[
            E("target", r"\[0, 1\].*got 2\.0", {"target": lambda a: set_first(2.0)(a["target"])}),
            E("alpha", r"1\.5", {"alpha": 1.5}),
            E("gamma", r"-1\.0", {"gamma": -1.0}),
        ],
        extreme=lambda g, b, dt: S(torch.tensor([[1e4, -1e4, 1e4, -1e4]] * b, dtype=dt),
                                   torch.tensor([[1.0, 0.0, 0.0, 1.0]] * b, dtype=dt), gamma=0.5),
    ),
    OpInfo(
        lossbook.class_weights,
        sample=lambda g, b, dt: S(torch.randint(1, 100, (b,), generator=g).to(dt)),
        nan=("counts",),
        int_ok=("counts",),  # counts may be integers
        errors=[
            E("counts", r"positive count.*classes \[0\]", {"counts": lambda a: set_first(0)(a["counts"])}),
            E("scheme", r"'log'", {"scheme": "log"}),
            E("beta", r"1\.0", {"beta": 1.0, "scheme": "effective_number"}),
            E("max_weight", r"0\.0", {"max_weight": 0.0}),
        ],
        empty="counts",
    ),
    OpInfo(
        lossbook.label_smoothing_cross_entropy,
        sample=lambda g, b, dt: _logits_target(g, b, dt, smoothing=0.1),
        grad=("logits",),
        errors=[TARGET_RANGE, TARGET_FLOAT, E("smoothing", r"1\.5", {"smoothing": 1.5})],
        extreme=lambda g, b, dt: _extreme(g, b, dt),
    ),
    OpInfo(
        lossbook.multiclass_hinge_loss,
        sample=lambda g, b, dt: _logits_target(g, b, dt),
        grad=("logits",),
        errors=[
            TARGET_RANGE,
            TARGET_FLOAT,
            E("margin", r"0\.0", {"margin": 0.0}),
            E("p", r"got 3", {"p": 3}),
        ],
        extreme=lambda g, b, dt: _extreme(g, b, dt),
    ),
]

# Long-tailed classes (docs/long-tail.md)
from opinfo import OK  # noqa: E402
_COUNTS = torch.tensor([50.0, 10.0, 2.0])
PRIOR_BAD = E("class_prior", r"positive.*-1\.0",
              {"class_prior": lambda a: set_first(-1.0)(a["class_prior"])})

ENTRIES += [
    OpInfo(
        lossbook.logit_adjusted_cross_entropy,
        sample=lambda g, b, dt: _logits_target(g, b, dt, class_prior=_COUNTS.to(dt), tau=1.5),
        grad=("logits",),
        nan=("class_prior",),
        errors=[TARGET_RANGE, TARGET_FLOAT, PRIOR_BAD, E("tau", r"-1\.0", {"tau": -1.0})],
        extreme=lambda g, b, dt: _extreme(g, b, dt, class_prior=_COUNTS.to(dt)),
    ),
    OpInfo(
        lossbook.balanced_softmax_cross_entropy,
        sample=lambda g, b, dt: _logits_target(g, b, dt, class_counts=_COUNTS.to(dt)),
        grad=("logits",),
        nan=("class_counts",),
        errors=[TARGET_RANGE, TARGET_FLOAT,
                E("class_counts", r"positive.*0\.0",
                  {"class_counts": lambda a: set_first(0.0)(a["class_counts"])})],
        extreme=lambda g, b, dt: _extreme(g, b, dt, class_counts=_COUNTS.to(dt)),
    ),
    OpInfo(
        lossbook.posthoc_logit_adjustment,
        sample=lambda g, b, dt: S(randn(g, b, C, dt=dt), class_prior=_COUNTS.to(dt), tau=0.5),
        grad=("logits",),
        nan=("class_prior",),
        empty=OK,
        errors=[PRIOR_BAD, E("tau", r"-1\.0", {"tau": -1.0})],
    ),
    OpInfo(
        lossbook.ohem_cross_entropy,
        sample=lambda g, b, dt: _logits_target(g, b, dt, num_hard=2),
        grad=("logits",),
        errors=[TARGET_RANGE, TARGET_FLOAT, E("num_hard", r"0", {"num_hard": 0}),
                E("num_hard", r"1\.5", {"num_hard": 1.5}, TypeError)],
        extreme=lambda g, b, dt: _extreme(g, b, dt, num_hard=2),
        mean_over=lambda a: min(a["num_hard"], a["target"].numel()),
    ),
]

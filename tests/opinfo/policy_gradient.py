"""lossbook.policy_gradient."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, randn, set_first

MASK_VALUES = E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())})


def _logp(g, *shape, dt):
    """Log-probabilities: negative."""
    return -randn(g, *shape, dt=dt).abs() - 0.1


def _near(g, x, dt, scale=0.1):
    """Log-probabilities close to ``x`` (a ratio near 1, on both sides of the clip)."""
    return (x.double() + scale * torch.randn(*x.shape, generator=g, dtype=torch.float64)).to(dt)


def _gspo_sample(g, b, dt):
    logp = _logp(g, b, 4, dt=dt)
    return S(logp, _near(g, logp, dt, 0.01), randn(g, b, dt=dt), mask=bools(g, b, 4, p=0.8),
             clip_eps=0.003, clip_eps_high=0.004)


def _cispo_sample(g, b, dt):
    logp = _logp(g, b, 3, dt=dt)
    return S(logp, _near(g, logp, dt, 0.3), randn(g, b, 3, dt=dt), clip_eps_high=0.28,
             mask=bools(g, b, 3))


ENTRIES = [
    OpInfo(
        lossbook.rloo_advantages,
        sample=lambda g, b, dt: S(randn(g, 2 * b, dt=dt), group_size=2),
        nan=("rewards",),
        errors=[
            E("group_size", r"1", {"group_size": 1}),
            E("rewards", r"got 5", {"rewards": lambda a: a["rewards"][:5]}),
        ],
        any_shape=("rewards",),  # [B] only; a trailing [B, 1] is refused below
        empty=OK,  # no completion, no advantage
    ),
    OpInfo(
        lossbook.reinforce_pp_advantages,
        sample=lambda g, b, dt: S(randn(g, 2 * b, dt=dt), group_size=2),
        nan=("rewards",),
        errors=[
            E("eps", r"0\.0", {"eps": 0.0}),
            E("group_size", r"1", {"group_size": 1}),
            E("rewards", r"got 1", {"rewards": lambda a: a["rewards"][:1], "group_size": None}),
        ],
        any_shape=("rewards",),
    ),
    OpInfo(
        lossbook.ppo_value_loss,
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt), randn(g, b, 3, dt=dt),
                                  randn(g, b, 3, dt=dt), clip_range=0.2, mask=bools(g, b, 3)),
        grad=("values",),
        nan=("old_values", "returns"),
        errors=[E("clip_range", r"0\.0", {"clip_range": 0.0}), MASK_VALUES],
        mean_over=lambda a: a["mask"].sum(),
    ),
    OpInfo(
        lossbook.gspo_loss,
        sample=_gspo_sample,
        grad=("logprobs",),
        nan=("advantages",),
        errors=[
            E("clip_eps", r"1\.0", {"clip_eps": 1.0}),
            E("clip_eps_high", r"0\.0", {"clip_eps_high": 0.0}),
            E("mask", r"empty row", {"mask": lambda a: a["mask"].index_fill(0, torch.tensor([1]), False)}),
            MASK_VALUES,
        ],
        extreme=lambda g, b, dt: S(torch.tensor([[-0.1, -60.0]], dtype=dt),
                                   torch.tensor([[-50.1, -10.0]], dtype=dt),
                                   torch.tensor([1.0], dtype=dt)),
    ),
    OpInfo(
        lossbook.cispo_loss,
        sample=_cispo_sample,
        # No gradcheck: CISPO's gradient is by design not the derivative of its value (the
        # weight is stop-gradient); tests/test_policy_gradient.py checks the gradient exactly.
        nan=("advantages",),
        errors=[
            E("clip_eps", r"0\.0", {"clip_eps": 0.0}),
            E("clip_eps_high", r"-0\.1", {"clip_eps_high": -0.1}),
            MASK_VALUES,
        ],
        mean_over=lambda a: a["mask"].sum(),
        extreme=lambda g, b, dt: S(torch.tensor([[-0.1, -60.0, -0.1]], dtype=dt),
                                   torch.tensor([[-50.1, -10.0, -0.1]], dtype=dt),
                                   torch.tensor([[1.0, -1.0, 2.0]], dtype=dt)),
    ),
    OpInfo(
        lossbook.truncated_is_weights,
        sample=lambda g, b, dt: S(_logp(g, b, 3, dt=dt), _logp(g, b, 3, dt=dt), cap=2.0,
                                  floor=0.1, mask=bools(g, b, 3)),
        errors=[
            E("mode", "'clip'", {"mode": "clip"}),
            E("cap", r"0\.0", {"cap": 0.0}),
            E("floor", r"3\.0", {"floor": 3.0}),
            E("floor", "None", {"floor": None, "mode": "icepop"}),
            MASK_VALUES,
        ],
        empty=OK,  # no token, no weight
    ),
]

"""lossbook.rl."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, classes, randn, set_first

MASK_VALUES = E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())})
DONES_VALUES = E("dones", r"2", {"dones": lambda a: set_first(2)(a["dones"].long())})


def _logp(g, *shape, dt):
    """Log-probabilities: negative."""
    return -randn(g, *shape, dt=dt).abs() - 0.1


ENTRIES = [
    OpInfo(
        lossbook.reinforce_loss,
        sample=lambda g, b, dt: S(_logp(g, b, 3, dt=dt), randn(g, b, 3, dt=dt),
                                  baseline=randn(g, b, 3, dt=dt), mask=bools(g, b, 3)),
        grad=("logprobs",),
        nan=("returns", "baseline"),
        errors=[MASK_VALUES],
        mean_over=lambda a: a["mask"].sum(),
    ),
    OpInfo(
        lossbook.ppo_clip_loss,
        sample=lambda g, b, dt: S(_logp(g, b, 3, dt=dt), _logp(g, b, 3, dt=dt),
                                  randn(g, b, 3, dt=dt), dual_clip=3.0, clip_eps_high=0.28,
                                  mask=bools(g, b, 3)),
        grad=("logprobs",),
        nan=("advantages",),
        errors=[
            MASK_VALUES,
            E("clip_eps", r"1\.0", {"clip_eps": 1.0}),
            E("clip_eps_high", r"0\.0", {"clip_eps_high": 0.0}),
            E("dual_clip", r"1\.0", {"dual_clip": 1.0}),
        ],
        mean_over=lambda a: a["mask"].sum(),
        # ratios of e^{+-50}: the clipped log-ratio keeps exp finite even in float16
        extreme=lambda g, b, dt: S(torch.tensor([[-0.1, -60.0, -0.1]], dtype=dt),
                                   torch.tensor([[-50.1, -10.0, -0.1]], dtype=dt),
                                   torch.tensor([[1.0, -1.0, 2.0]], dtype=dt), dual_clip=3.0),
    ),
    OpInfo(
        lossbook.generalized_advantage_estimate,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), randn(g, b, 5, dt=dt),
                                  dones=bools(g, b, 4, p=0.3)),
        nan=("rewards", "values"),
        errors=[
            E("gamma", r"1\.5", {"gamma": 1.5}),
            E("lam", r"-0\.1", {"lam": -0.1}),
            E("rewards", r"\[3, 4, 1\]", {"rewards": lambda a: a["rewards"][..., None],
                                          "values": lambda a: a["values"][..., None]}),
            E("values", r"\[3, 4\]", {"values": lambda a: a["values"][:, :4]}),
            DONES_VALUES,
        ],
        empty=OK,  # no episode: no advantage
    ),
    OpInfo(
        lossbook.td_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b, dt=dt), randn(g, b, dt=dt),
                                  dones=bools(g, b, p=0.3), kind="huber", delta=0.5),
        grad=("values",),
        nan=("rewards",),
        errors=[
            E("gamma", r"1\.5", {"gamma": 1.5}),
            E("kind", "'l1'", {"kind": "l1"}),
            E("delta", r"0\.0", {"delta": 0.0}),
            DONES_VALUES,
        ],
    ),
    OpInfo(
        lossbook.quantile_huber_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), randn(g, b, 3, dt=dt),
                                  taus=torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=dt)),
        grad=("quantiles",),
        nan=("target",),
        any_device=("taus",),  # a constant table of levels, moved to the quantiles' device
        errors=[
            E("kappa", r"-1\.0", {"kappa": -1.0}),
            E("taus", r"1\.0", {"taus": lambda a: set_first(1.0)(a["taus"])}),
        ],
    ),
    OpInfo(
        lossbook.sac_actor_loss,
        sample=lambda g, b, dt: S(_logp(g, b, dt=dt), randn(g, b, dt=dt),
                                  alpha=torch.tensor(0.3, dtype=dt)),
        grad=("log_probs", "q_values"),
        errors=[
            E("alpha", r"-0\.5", {"alpha": -0.5}),
            E("alpha", r"-0\.5", {"alpha": torch.tensor(-0.5)}),
            E("alpha", r"\[2\]", {"alpha": torch.tensor([0.1, 0.2])}),
        ],
        any_shape=("alpha",),  # a 0-dim or one-element temperature
    ),
    OpInfo(
        lossbook.sac_critic_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b, dt=dt), randn(g, b, dt=dt),
                                  _logp(g, b, dt=dt), dones=bools(g, b, p=0.3)),
        grad=("q_values",),
        nan=("rewards",),
        errors=[E("gamma", r"1\.5", {"gamma": 1.5}), E("alpha", r"-0\.5", {"alpha": -0.5}),
                DONES_VALUES],
    ),
    OpInfo(
        lossbook.sac_temperature_loss,
        sample=lambda g, b, dt: S(randn(g, 1, dt=dt), _logp(g, b, dt=dt), target_entropy=-2.0),
        grad=("log_alpha",),
        nan=("log_alpha",),
        errors=[
            E("log_alpha", r"\[2\]", {"log_alpha": torch.zeros(2)}),
            E("target_entropy", "str", {"target_entropy": "-2"}, TypeError),
        ],
        any_shape=("log_alpha", "log_probs"),  # one temperature; log-probabilities of any shape
        free_size=("log_probs",),
        empty="log_probs",
    ),
    OpInfo(
        lossbook.kl_penalty,
        sample=lambda g, b, dt: S(_logp(g, b, 3, dt=dt), _logp(g, b, 3, dt=dt),
                                  mask=classes(g, b, 3, n=2), clamp=10.0),
        grad=("logp",),
        errors=[
            E("estimator", "'k4'", {"estimator": "k4"}),
            E("clamp", r"0\.0", {"clamp": 0.0}),
            MASK_VALUES,
        ],
        mean_over=lambda a: a["mask"].sum(),
        extreme=lambda g, b, dt: S(torch.tensor([-0.1, -80.0], dtype=dt),
                                   torch.tensor([-80.0, -0.1], dtype=dt), clamp=10.0),
    ),
    OpInfo(
        lossbook.iql_expectile_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b, dt=dt), tau=0.7),
        grad=("values",),
        nan=("q_values",),
        errors=[E("tau", r"1\.0", {"tau": 1.0})],
    ),
    OpInfo(
        lossbook.cql_regularizer,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), classes(g, b, n=4), alpha=2.0),
        grad=("q_values",),
        errors=[
            E("actions", r"got 4", {"actions": lambda a: set_first(4)(a["actions"])}),
            E("alpha", r"-1\.0", {"alpha": -1.0}),
        ],
        extreme=lambda g, b, dt: S(torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=dt),
                                   torch.tensor([1, 1]), alpha=1.0),
    ),
]

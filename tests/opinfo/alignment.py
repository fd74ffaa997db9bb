"""lossbook.alignment."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, randn, set_first


def _logp(g, *shape, dt):
    """(Mean token) log-probabilities: negative."""
    return -randn(g, *shape, dt=dt).abs() - 0.1


ENTRIES = [
    OpInfo(
        lossbook.bradley_terry_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b, dt=dt), margin=randn(g, b, dt=dt)),
        grad=("chosen_rewards", "rejected_rewards"),
        nan=("margin",),
        extreme=lambda g, b, dt: S(torch.tensor([1e4, -1e4], dtype=dt),
                                   torch.tensor([-1e4, 1e4], dtype=dt)),
    ),
    OpInfo(
        lossbook.dpo_loss,
        sample=lambda g, b, dt: S(*(_logp(g, b, dt=dt) for _ in range(4)), label_smoothing=0.1),
        grad=("policy_chosen_logps", "policy_rejected_logps"),
        errors=[
            E("beta", r"0\.0", {"beta": 0.0}),
            E("loss_type", "'kto'", {"loss_type": "kto"}),
            E("label_smoothing", r"0\.5", {"label_smoothing": 0.5}),
            E("label_smoothing", "'ipo'", {"loss_type": "ipo"}),
        ],
        extreme=lambda g, b, dt: S(torch.tensor([-1e3, -1.0], dtype=dt),
                                   torch.tensor([-1.0, -1e3], dtype=dt),
                                   torch.tensor([-1.0, -1.0], dtype=dt),
                                   torch.tensor([-1.0, -1.0], dtype=dt), beta=1.0),
    ),
    OpInfo(
        lossbook.kto_loss,
        sample=lambda g, b, dt: S(_logp(g, b, dt=dt), _logp(g, b, dt=dt), bools(g, b, p=0.5),
                                  kl_policy_logps=_logp(g, 3, dt=dt),
                                  kl_ref_logps=_logp(g, 3, dt=dt), desirable_weight=1.5),
        grad=("policy_logps",),
        errors=[
            E("kl_policy_logps", "kl_ref_logps", {"kl_ref_logps": None}),
            E("beta", r"0\.0", {"beta": 0.0}),
            E("desirable_weight", r"-1\.0", {"desirable_weight": -1.0}),
            E("undesirable_weight", r"-1\.0", {"undesirable_weight": -1.0}),
            E("desirable", r"2", {"desirable": lambda a: set_first(2)(a["desirable"].long())}),
        ],
        free_size=("kl_policy_logps",),  # the KL batch is a separate (mismatched) batch
    ),
    OpInfo(
        lossbook.orpo_loss,
        sample=lambda g, b, dt: S(_logp(g, b, dt=dt), _logp(g, b, dt=dt),
                                  chosen_nll=randn(g, b, dt=dt).abs()),
        grad=("chosen_logps", "rejected_logps", "chosen_nll"),
        nan=("chosen_logps", "rejected_logps"),
        errors=[
            E("chosen_logps", r"< 0.*0\.5", {"chosen_logps": lambda a: set_first(0.5)(a["chosen_logps"])}),
            E("beta", r"-1\.0", {"beta": -1.0}),
        ],
        # P -> 1 and P -> 0: log(1 - P) must stay finite
        extreme=lambda g, b, dt: S(torch.tensor([-1e-4, -50.0], dtype=dt),
                                   torch.tensor([-50.0, -1e-4], dtype=dt)),
    ),
    OpInfo(
        lossbook.grpo_advantages,
        sample=lambda g, b, dt: S(randn(g, 2 * b, dt=dt), group_size=2),
        nan=("rewards",),
        errors=[
            E("group_size", "got 1", {"group_size": 1}),
            E("rewards", "got 6", {"group_size": 4}),
            E("eps", r"0\.0", {"eps": 0.0}),
        ],
        empty=OK,  # no completion, no advantage
    ),
    OpInfo(
        lossbook.grpo_loss,
        sample=lambda g, b, dt: S(_logp(g, 2 * b, 3, dt=dt), _logp(g, 2 * b, 3, dt=dt),
                                  randn(g, 2 * b, dt=dt), group_size=2, mask=bools(g, 2 * b, 3),
                                  ref_logprobs=_logp(g, 2 * b, 3, dt=dt), beta=0.04),
        grad=("logprobs",),
        nan=("rewards",),
        errors=[
            E("loss_type", "'ppo'", {"loss_type": "ppo"}),
            E("beta", r"-1\.0", {"beta": -1.0}),
            E("ref_logprobs", "None", {"ref_logprobs": None}),
            E("clip_eps", r"1\.0", {"clip_eps": 1.0}),
            E("clip_eps_high", r"0\.0", {"clip_eps_high": 0.0}),
            E("group_size", "got 1", {"group_size": 1}),
            E("max_completion_length", "got 2", {"loss_type": "dr_grpo", "max_completion_length": 2}),
            E("num_items_in_batch", "got 0", {"loss_type": "dapo", "num_items_in_batch": 0}),
            E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())}),
        ],
    ),
    OpInfo(
        lossbook.simpo_loss,
        sample=lambda g, b, dt: S(_logp(g, b, dt=dt), _logp(g, b, dt=dt),
                                  torch.randint(1, 30, (b,), generator=g),
                                  torch.randint(1, 30, (b,), generator=g), beta=2.0, gamma=1.0),
        grad=("policy_chosen_logps", "policy_rejected_logps"),
        int_ok=("chosen_lengths", "rejected_lengths"),  # token counts
        errors=[
            E("beta", r"0\.0", {"beta": 0.0}),
            E("gamma", r"-1\.0", {"gamma": -1.0}),
            E("chosen_lengths", r"0", {"chosen_lengths": lambda a: set_first(0)(a["chosen_lengths"])}),
            E("rejected_lengths", "bool", {"rejected_lengths": lambda a: a["rejected_lengths"] > 0},
              TypeError),
        ],
        extreme=lambda g, b, dt: S(torch.tensor([-1e4, -1.0], dtype=dt),
                                   torch.tensor([-1.0, -1e4], dtype=dt), torch.tensor([1, 1]),
                                   torch.tensor([1, 1]), beta=2.0),
    ),
]

"""The katas of the lesson `rl-for-llms.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")

# ----------------------------------------------------------------------------- k3


def _k3_reference(logp, logp_ref, mask):
    from ... import rl

    return rl.kl_penalty(logp, logp_ref, estimator="k3", mask=mask)


def _k3_cases() -> list[Case]:
    g = gen(151)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1, 3:] = False
    return [
        Case("check value: pi = 0.5, ref = 0.25 and pi = 0.2, ref = 0.4",
             (torch.log(torch.tensor([0.5, 0.2])), torch.log(torch.tensor([0.25, 0.4])),
              torch.ones(2, dtype=torch.bool)),
             hint="log r = logp_ref - logp; k3 = (r - 1) - log r with r = exp(log r)."),
        Case("random tokens B=4, T=6, all valid",
             (-1.5 + 0.5 * randn(g, 4, 6), -1.5 + 0.5 * randn(g, 4, 6),
              torch.ones(4, 6, dtype=torch.bool))),
        Case("padding is left out of the mean",
             (-1.0 + 0.3 * randn(g, 3, 5), -1.0 + 0.3 * randn(g, 3, 5), mask),
             hint="the mean is over valid tokens: sum(k3 * mask) / mask.sum()."),
        Case("gradient with respect to logp (the reference is frozen)",
             (-1.0 + 0.4 * randn(g, 2, 4), -1.0 + 0.4 * randn(g, 2, 4),
              torch.ones(2, 4, dtype=torch.bool)),
             grad=("logp",),
             hint="detach logp_ref; d k3 / d logp = 1 - r."),
    ]


def _k3_flipped(logp, logp_ref, mask):
    x = (logp - logp_ref)
    return ((torch.expm1(x) - x) * mask).sum() / mask.sum()


def _k1(logp, logp_ref, mask):
    return ((logp - logp_ref) * mask).sum() / mask.sum()


register(
    Kata(
        name="kl_k3",
        title="The k3 KL estimator (per token, masked)",
        signature="kl_k3(logp, logp_ref, mask)",
        returns="the masked mean of k3 over the tokens, a scalar tensor",
        task=(
            "Tokens were sampled from the policy. Estimate KL(pi || pi_ref) per token with"
            " Schulman's k3 estimator, r = pi_ref / pi, k3 = (r - 1) - log r, and average it"
            " over the tokens where mask is True."
        ),
        shapes=("logp, logp_ref: [B, T] float (log-probabilities of the sampled tokens)",
                "mask: same shape, bool", "output: [] scalar"),
        hint="Work with log r = logp_ref - logp; expm1 is accurate when r is close to 1.",
        library="lossbook.rl.kl_penalty",
        reference=_k3_reference,
        cases=_k3_cases,
        lesson="rl-for-llms.md#kl-estimators-k1-k2-k3",
        mistakes=(
            Mistake("the ratio is the wrong way round: r = pi / pi_ref is not an unbiased KL"
                    " estimate from samples of pi; use log r = logp_ref - logp.", _k3_flipped),
            Mistake("that is k1 (logp - logp_ref): unbiased, but negative on many tokens, and as"
                    " a loss its expected gradient is zero; add r - 1 to get k3.", _k1),
        ),
    )
)


# ----------------------------------------------------------------------------- RLOO


def _rloo_reference(rewards, group_size):
    from ... import policy_gradient

    return policy_gradient.rloo_advantages(rewards, group_size=group_size)


def _rloo_cases() -> list[Case]:
    g = gen(152)
    return [
        Case("0/1 rewards, one prompt, G = 4", (torch.tensor([1.0, 0.0, 0.0, 0.0]), 4),
             hint="the baseline of sample i is the mean of the OTHER G - 1 rewards."),
        Case("three prompts, G = 3, real-valued rewards", (randn(g, 9), 3)),
        Case("G = 2: each sample's baseline is the other one",
             (torch.tensor([2.0, -1.0, 0.5, 0.5]), 2)),
        Case("an all-equal group gets zero advantages", (torch.tensor([1.0] * 5 + [0.0, 1.0, 2.0, 3.0, 4.0]), 5),
             hint="(sum - r_i) / (G - 1) equals r_i when all rewards are equal."),
    ]


register(
    Kata(
        name="rloo_advantages",
        title="RLOO: leave-one-out advantages",
        signature="rloo_advantages(rewards, group_size)",
        returns="one advantage per completion, [B]",
        task=(
            "rewards holds one scalar reward per completion, group_size consecutive completions"
            " per prompt. Return each reward minus the mean reward of the other completions of"
            " the same prompt."
        ),
        shapes=("rewards: [B] float, B a multiple of group_size", "output: [B]"),
        hint="view(-1, G); the sum of the others is the group sum minus the sample.",
        library="lossbook.policy_gradient.rloo_advantages",
        reference=_rloo_reference,
        cases=_rloo_cases,
        lesson="rl-for-llms.md#rloo-the-leave-one-out-baseline",
        mistakes=(
            Mistake("the baseline includes the sample itself (the group mean, GRPO's centring);"
                    " leave it out: (sum - r_i) / (G - 1).",
                    lambda r, G: (r.view(-1, G) - r.view(-1, G).mean(1, keepdim=True)).reshape(-1)),
            Mistake("the sum of the other rewards is divided by G; there are G - 1 others.",
                    lambda r, G: (r.view(-1, G) - (r.view(-1, G).sum(1, keepdim=True)
                                                   - r.view(-1, G)) / G).reshape(-1)),
        ),
        numpy=True,
    )
)


# ----------------------------------------------------------------------------- value clipping


def _value_reference(values, old_values, returns, clip_range):
    from ... import policy_gradient

    return policy_gradient.ppo_value_loss(values, old_values, returns, clip_range=clip_range)


def _value_cases() -> list[Case]:
    g = gen(153)
    return [
        Case("check values: V = [1.5, 0.5], V_old = 1, R = 3, eps 0.2",
             (torch.tensor([1.5, 0.5]), torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0]), 0.2),
             hint="clip the prediction around the old value, then take the max of both errors."),
        Case("random B=16", (randn(g, 16), randn(g, 16), 2 * randn(g, 16), 0.3)),
        Case("prediction moved past the band towards the target",
             (torch.tensor([0.5, 6.0, -0.5]), torch.zeros(3), torch.full((3,), 5.0), 0.2)),
        Case("gradient: zero where the clipped error is larger",
             (torch.tensor([0.1, 0.5, 6.0, -0.5, 2.0]), torch.zeros(5), torch.full((5,), 5.0), 0.2),
             grad=("values",),
             hint="old_values and returns are constants (detach them)."),
    ]


register(
    Kata(
        name="ppo_value_loss",
        title="PPO's clipped value loss",
        signature="ppo_value_loss(values, old_values, returns, clip_range=0.2)",
        returns="the mean over the batch, a scalar tensor",
        task=(
            "Clip the value prediction to within clip_range of old_values, and return the mean"
            " of the larger of the two squared errors against returns (clipped and unclipped)."
        ),
        shapes=("values, old_values, returns: [B] float", "output: [] scalar"),
        hint="Like the policy loss, the value loss is pessimistic: a max of the two errors.",
        library="lossbook.policy_gradient.ppo_value_loss",
        reference=_value_reference,
        cases=_value_cases,
        lesson="rl-for-llms.md#ppos-value-function-clipping",
        mistakes=(
            Mistake("min of the two errors instead of max: that is the optimistic bound.",
                    lambda v, old, ret, eps: torch.minimum(
                        (v - ret) ** 2, (old + (v - old).clamp(-eps, eps) - ret) ** 2).mean()),
            Mistake("the target (returns) is clipped instead of the prediction; clip"
                    " values around old_values.",
                    lambda v, old, ret, eps: torch.maximum(
                        (v - ret) ** 2, (v - (old + (ret - old).clamp(-eps, eps))) ** 2).mean()),
        ),
    )
)

"""The katas of the lesson `glossary/rl.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _ppo_reference(logprobs, old_logprobs, advantages, mask, clip_eps):
    from ... import rl

    return rl.ppo_clip_loss(logprobs, old_logprobs, advantages, mask=mask, clip_eps=clip_eps)


def _ppo_cases() -> list[Case]:
    g = gen(71)
    ratio = torch.tensor([0.5, 1.0, 1.5])
    old = -2.0 - torch.rand(4, 6, generator=g)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    padded_new = old + 0.3 * randn(g, 4, 6)
    padded_new[~mask] = 0.0  # padding holds whatever the model produced there
    return [
        Case("ratios [0.5, 1, 1.5], advantages [1, -1, 2], eps 0.2 (check value -0.6333)",
             (ratio.log(), torch.zeros(3), torch.tensor([1.0, -1.0, 2.0]), torch.ones(3, dtype=torch.bool), 0.2),
             hint="per token: max(-A r, -A clip(r, 1 - eps, 1 + eps)), the negated pessimistic"
             " (min) surrogate."),
        Case("random tokens B=4, T=6, all valid",
             (-2.0 + 0.4 * randn(g, 4, 6), -2.0 + 0.4 * randn(g, 4, 6), randn(g, 4, 6),
              torch.ones(4, 6, dtype=torch.bool), 0.2)),
        Case(
            "padded tokens (mask) are left out of the mean",
            (padded_new, old, randn(g, 4, 6), mask, 0.2),
            hint="the mean is over valid tokens only: sum(loss * mask) / mask.sum().",
        ),
        Case(
            "gradient: zero wherever the clipped branch is active",
            (-1.0 + 0.5 * randn(g, 3, 5), torch.full((3, 5), -1.0), randn(g, 3, 5),
             torch.ones(3, 5, dtype=torch.bool), 0.1),
            grad=("logprobs",),
            hint="compute the ratio as exp(logprobs - old_logprobs) with old_logprobs detached;"
            " the clipped branch has no gradient.",
        ),
    ]


register(
    Kata(
        name="ppo_clip_loss",
        title="PPO clipped surrogate loss (per token, masked)",
        signature="ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_eps=0.2)",
        returns="the masked mean of the per-token loss, a scalar tensor",
        task=(
            "With the probability ratio r = exp(logprobs - old_logprobs) per token, the PPO loss"
            " is max(-A r, -A clip(r, 1 - eps, 1 + eps)), the negative of the clipped surrogate"
            " objective. Average it over the tokens where mask is True."
        ),
        shapes=("logprobs, old_logprobs, advantages: [B, T] float (any shape)",
                "mask: same shape, bool", "output: [] scalar"),
        hint="Write the surrogate as a loss to minimise: the pessimistic minimum of the"
        " objectives becomes a maximum of the negated terms.",
        library="lossbook.rl.ppo_clip_loss",
        reference=_ppo_reference,
        cases=_ppo_cases,
        lesson="glossary/rl.md#how-does-ppo-work",
        mistakes=(
            Mistake(
                "the clipped term is taken with min (the optimistic bound); the loss is the max of"
                " -A r and -A clip(r).",
                lambda lp, old, adv, mask, eps: (
                    torch.minimum(-adv * (lp - old).exp(),
                                  -adv * (lp - old).exp().clamp(1 - eps, 1 + eps))[mask].mean()
                ),
            ),
            Mistake(
                "the mean is over every token, padding included.",
                lambda lp, old, adv, mask, eps: __import__("lossbook.rl", fromlist=["x"])
                .ppo_clip_loss(lp, old, adv, clip_eps=eps),
            ),
        ),
    )
)

"""The katas of the lesson `glossary/alignment.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _dpo_reference(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    from ... import alignment

    return alignment.dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=beta)


def _dpo_cases() -> list[Case]:
    g = gen(61)

    def logps(*shape):
        return -10.0 - 20.0 * torch.rand(*shape, generator=g)

    z = torch.zeros(3)
    return [
        Case("policy equal to the reference: log 2", (z - 5, z - 7, z - 5, z - 7, 0.1),
             hint="with no change from the reference the margin is 0 and the loss is"
             " -log sigmoid(0) = log 2."),
        Case("random B=8, beta=0.1", (logps(8), logps(8), logps(8), logps(8), 0.1)),
        Case("random B=5, beta=0.5", (logps(5), logps(5), logps(5), logps(5), 0.5)),
        Case(
            "huge margins (beta * margin = +-1000)",
            (torch.tensor([-10.0, -2010.0]), torch.tensor([-2010.0, -10.0]), torch.tensor([-10.0, -10.0]),
             torch.tensor([-10.0, -10.0]), 0.5),
            hint="-log(sigmoid(x)) is log(0) = inf for x = -1000 in floating point; use"
            " F.logsigmoid, which stays finite.",
        ),
        Case(
            "gradient with respect to the policy log-probabilities",
            (logps(4), logps(4), logps(4), logps(4), 0.1),
            grad=("policy_chosen_logps", "policy_rejected_logps"),
        ),
    ]


register(
    Kata(
        name="dpo_loss",
        title="Direct preference optimisation (DPO) loss",
        signature=(
            "dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,"
            " ref_rejected_logps, beta=0.1)"
        ),
        returns="the mean DPO loss over the preference pairs, a scalar tensor",
        task=(
            "Each argument holds one summed log-probability per preference pair, under the"
            " policy and under the frozen reference model. The margin is (policy_chosen -"
            " ref_chosen) - (policy_rejected - ref_rejected); the loss is -log sigmoid(beta *"
            " margin), averaged over pairs. It must stay finite for huge margins."
        ),
        shapes=("each *_logps: [B] float", "beta: float > 0", "output: [] scalar"),
        hint="The chosen and rejected log-ratios against the reference are implicit rewards;"
        " the loss is a logistic loss on their difference.",
        library="lossbook.alignment.dpo_loss",
        reference=_dpo_reference,
        cases=_dpo_cases,
        lesson="glossary/alignment.md#dpo-how-does-it-remove-the-reward-model-and-the-rl-loop",
        mistakes=(
            Mistake(
                "chosen and rejected are swapped: the margin is chosen minus rejected.",
                lambda pc, pr, rc, rr, beta: _dpo_reference(pr, pc, rr, rc, beta),
            ),
            Mistake(
                "beta is missing (or applied as a divisor).",
                lambda pc, pr, rc, rr, beta: _dpo_reference(pc, pr, rc, rr, 1.0),
            ),
        ),
    )
)

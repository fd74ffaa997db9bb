"""The katas of the lesson `llm-losses.md`."""

from __future__ import annotations

import math

from ..._lazy import lazy
from ..cases import gen, randint, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")
F = lazy("torch.nn.functional")


def _lib():
    from ... import contrastive, language

    return language, contrastive


# ------------------------------------------------------------------ next-token cross entropy


def _next_token_reference(logits, labels):
    return _lib()[0].next_token_cross_entropy(logits, labels)


def _prompted(g, b, length, v, prompt):
    labels = randint(g, v, b, length)
    labels[:, :prompt] = -100
    return labels


def _next_token_cases() -> list[Case]:
    g = gen(101)
    labels_pad = _prompted(g, 3, 7, 11, 2)
    labels_pad[1, 5:] = -100  # padding at the end of row 1
    return [
        Case("B=2, L=6, V=10, prompt of 3", (randn(g, 2, 6, 10), _prompted(g, 2, 6, 10, 3)),
             hint="position t predicts token t+1: logits[:, :-1] against labels[:, 1:]."),
        Case("prompt and padding of different lengths", (randn(g, 3, 7, 11), labels_pad),
             hint="labels equal to -100 count neither in the sum nor in the number of tokens."),
        Case("one sequence, no prompt", (randn(g, 1, 5, 4), randint(g, 4, 1, 5))),
        Case("confident logits (float32 overflow if exponentiated by hand)",
             (randn(g, 2, 5, 6) * 60.0, _prompted(g, 2, 5, 6, 1)),
             hint="use F.cross_entropy (log-softmax inside), never log(softmax)."),
        Case("gradient", (randn(g, 2, 5, 7), _prompted(g, 2, 5, 7, 2)), grad=("logits",)),
    ]


def _no_shift(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


def _mean_over_all_positions(logits, labels):
    per = _lib()[0].next_token_cross_entropy(logits, labels, reduction="none")
    return per.sum() / per.numel()


def _prompt_not_masked(logits, labels):
    shifted = labels[:, 1:].clamp_min(0)  # -100 replaced by token 0: the prompt is scored
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), shifted.reshape(-1))


register(
    Kata(
        name="next_token_loss",
        title="Next-token cross entropy with prompt masking",
        signature="next_token_loss(logits, labels)",
        returns="the mean cross entropy over the scored tokens, a scalar tensor",
        task=(
            "logits[b, t] are a causal language model's scores for the token after position t;"
            " labels are the input token ids, with -100 on the prompt and padding. Return the"
            " mean next-token cross entropy over the positions whose target is not -100."
        ),
        shapes=("logits: [B, L, V] float", "labels: [B, L] int64 (-100 = ignore)",
                "output: [] scalar"),
        hint="Shift, flatten, and let cross entropy's ignore_index skip the -100 targets.",
        library="lossbook.language.next_token_cross_entropy",
        reference=_next_token_reference,
        cases=_next_token_cases,
        lesson="llm-losses.md#next-token-cross-entropy",
        mistakes=(
            Mistake("no shift: position t is scored on its own token. Compare logits[:, :-1]"
                    " with labels[:, 1:].", _no_shift),
            Mistake("the masked sum is divided by all positions, prompt and padding included;"
                    " divide by the number of scored tokens.", _mean_over_all_positions),
            Mistake("the prompt is scored (the -100 labels were replaced, not ignored); pass"
                    " ignore_index=-100.", _prompt_not_masked),
        ),
    )
)


# ------------------------------------------------------------------------------ distillation


def _kd_reference(student_logits, teacher_logits, T):
    return _lib()[0].distillation_loss(student_logits, teacher_logits, temperature=T)


def _kd_cases() -> list[Case]:
    g = gen(103)
    return [
        Case("N=4, V=10, T=2", (randn(g, 4, 10), randn(g, 4, 10) * 3, 2.0),
             hint="soften both distributions with the same T, teacher first in the KL."),
        Case("T=1 (no softening)", (randn(g, 3, 5), randn(g, 3, 5), 1.0)),
        Case("T=4", (randn(g, 2, 6), randn(g, 2, 6) * 4, 4.0),
             hint="the soft-target gradient scales as 1/T^2: multiply the KL by T^2."),
        Case("one row, V=2", (randn(g, 1, 2), randn(g, 1, 2), 3.0)),
        Case("gradient", (randn(g, 3, 7), randn(g, 3, 7), 2.0), grad=("student_logits",)),
    ]


def _kd_no_t2(s, t, T):
    return _kd_reference(s, t, T) / T**2


def _kd_reverse(s, t, T):
    return _lib()[0].distillation_loss(s, t, temperature=T, direction="reverse")


def _kd_teacher_not_softened(s, t, T):
    log_q = F.log_softmax(s / T, dim=-1)
    log_p = F.log_softmax(t, dim=-1)
    return T**2 * (log_p.exp() * (log_p - log_q)).sum(-1).mean()


register(
    Kata(
        name="kd_loss",
        title="Knowledge distillation with temperature",
        signature="kd_loss(student_logits, teacher_logits, T)",
        returns="T^2 times the mean forward KL between the softened distributions",
        task=(
            "Hinton's distillation term: soften the teacher's and the student's logits with"
            " temperature T, take KL(teacher || student) per row, average over rows, and scale"
            " by T^2."
        ),
        shapes=("student_logits, teacher_logits: [N, V] float", "T: float > 0",
                "output: [] scalar"),
        hint="log_softmax of both logits divided by T; KL(p || q) = sum p (log p - log q).",
        library="lossbook.language.distillation_loss",
        reference=_kd_reference,
        cases=_kd_cases,
        lesson="llm-losses.md#knowledge-distillation",
        mistakes=(
            Mistake("the T^2 factor is missing: the soft-target gradient then shrinks as 1/T^2.",
                    _kd_no_t2),
            Mistake("the KL is reversed (student first): Hinton's loss is KL(teacher ||"
                    " student); check the argument order of F.kl_div(input, target).",
                    _kd_reverse),
            Mistake("the teacher's logits are not divided by T: soften both distributions.",
                    _kd_teacher_not_softened),
        ),
    )
)


# ------------------------------------------------------------------------ MoE load balancing


def _lb_reference(router_logits):
    return _lib()[0].load_balancing_loss(router_logits)


def _lb_cases() -> list[Case]:
    g = gen(107)
    return [
        Case("T=16 tokens, N=4 experts", (randn(g, 16, 4),),
             hint="f is the fraction of tokens whose argmax is expert i; P the mean probability."),
        Case("uniform router (balanced: 1)", (torch.zeros(8, 4),)),
        Case("collapsed router, N=8", (torch.eye(8)[0].repeat(10, 1) * 5.0 + randn(g, 10, 8) * 0.1,),
             hint="multiply by N so that a balanced router scores 1 whatever N is."),
        Case("one token, N=3", (randn(g, 1, 3),)),
        Case("gradient", (randn(g, 12, 5) * 2,), grad=("router_logits",)),
    ]


def _lb_p_twice(z):
    p = F.softmax(z, dim=-1).mean(0)
    return z.shape[-1] * (p * p).sum()


def _lb_no_n(z):
    return _lb_reference(z) / z.shape[-1]


register(
    Kata(
        name="load_balancing_loss",
        title="Switch Transformer load-balancing loss",
        signature="load_balancing_loss(router_logits)",
        returns="N * sum_i f_i * P_i, a scalar tensor (no alpha)",
        task=(
            "router_logits[t] are the router's scores of token t over N experts (top-1"
            " routing). f_i is the fraction of tokens whose argmax is expert i, P_i the mean"
            " router probability of expert i. Return N * sum_i f_i * P_i."
        ),
        shapes=("router_logits: [T, N] float", "output: [] scalar"),
        hint="f comes from one_hot(argmax) averaged over tokens (no gradient); P from softmax.",
        library="lossbook.language.load_balancing_loss",
        reference=_lb_reference,
        cases=_lb_cases,
        lesson="llm-losses.md#mixture-of-experts-router-losses",
        mistakes=(
            Mistake("P is used for both terms (N * sum P_i^2): f must be the hard dispatch"
                    " fraction from the argmax.", _lb_p_twice),
            Mistake("the factor N is missing: a balanced router must score 1 for any N.",
                    _lb_no_n),
        ),
    )
)


# ---------------------------------------------------------------------------------- SigLIP


def _siglip_reference(img, txt, t_prime, b):
    return _lib()[1].siglip_loss(img, txt, logit_scale=t_prime.exp(), logit_bias=b)


def _siglip_cases() -> list[Case]:
    g = gen(109)
    init = (torch.tensor(math.log(10.0)), torch.tensor(-10.0))
    return [
        Case("B=6, D=8 at SigLIP's initialisation", (randn(g, 6, 8), randn(g, 6, 8), *init),
             hint="every pair is a binary classification: +1 on the diagonal, -1 elsewhere."),
        Case("matched pairs, t' = 1, b = 0", (torch.eye(3), torch.eye(3), torch.tensor(1.0),
                                               torch.tensor(0.0))),
        Case("embeddings of different norms", (randn(g, 4, 5) * 10.0, randn(g, 4, 5),
                                                torch.tensor(2.0), torch.tensor(-2.0)),
             hint="L2-normalise both embeddings first."),
        Case("one pair", (randn(g, 1, 4), randn(g, 1, 4), torch.tensor(2.0),
                          torch.tensor(-5.0))),
        Case("gradient", (randn(g, 4, 6), randn(g, 4, 6), torch.tensor(1.5),
                          torch.tensor(-3.0)), grad=("img", "txt", "t_prime", "b")),
    ]


def _siglip_softmax(img, txt, t_prime, b):
    return _lib()[1].clip_loss(img, txt, logit_scale=t_prime.exp())


def _siglip_zero_labels(img, txt, t_prime, b):
    img, txt = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    logits = img @ txt.T * t_prime.exp() + b
    labels = torch.eye(logits.shape[0])  # 0 off the diagonal instead of -1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]


register(
    Kata(
        name="siglip_loss",
        title="SigLIP's pairwise sigmoid loss",
        signature="siglip_loss(img, txt, t_prime, b)",
        returns="the sum over all B^2 pairs of -log sigmoid(z_ij * logit_ij), divided by B",
        task=(
            "img[i] and txt[i] are a matched pair; every other pair is negative. L2-normalise"
            " both, logits = exp(t_prime) * img @ txt.T + b, labels z = +1 on the diagonal and"
            " -1 elsewhere; return -sum(log sigmoid(z * logits)) / B."
        ),
        shapes=("img, txt: [B, D] float", "t_prime, b: [] float (learnable)",
                "output: [] scalar"),
        hint="labels = 2 * eye(B) - 1 on the logits' device; F.logsigmoid is stable.",
        library="lossbook.contrastive.siglip_loss",
        reference=_siglip_reference,
        cases=_siglip_cases,
        lesson="llm-losses.md#siglip-vs-clip",
        mistakes=(
            Mistake("a softmax over the batch (that is CLIP's loss): SigLIP scores every pair"
                    " independently with a sigmoid.", _siglip_softmax),
            Mistake("the off-diagonal labels are 0 instead of -1: negatives then contribute a"
                    " constant log 2 and no gradient.", _siglip_zero_labels),
        ),
    )
)

"""Language-model, contrastive and long-tail losses of lossbook against plain PyTorch
formulations, forward + backward, one torch thread.

- next-token cross entropy: `lossbook.next_token_cross_entropy` against `F.cross_entropy` on the
  shifted, flattened logits with `ignore_index=-100` (a quarter of the labels masked, as a
  prompt is), B=4 sequences of L=128 tokens, V=8192.
- distillation: `lossbook.distillation_loss` against `F.kl_div(log_q, log_p, log_target=True)`
  summed over the vocabulary, averaged over positions, times T^2 (T=2), 512 positions, V=8192.
- MoE router losses: `lossbook.load_balancing_loss` + `lossbook.router_z_loss` against the
  Switch Transformer / ST-MoE formulas written plainly (top-1 dispatch fraction times mean router
  probability, N times their dot product; mean squared logsumexp), 16384 tokens, 64 experts.
- CLIP and SigLIP: `lossbook.clip_loss` and `lossbook.siglip_loss` against plain formulas
  (normalise, scaled similarity matrix; symmetric cross entropy, or -logsigmoid of the signed
  logits summed over pairs and divided by B), B=512, D=256.
- long tail: `lossbook.logit_adjusted_cross_entropy` and
  `lossbook.balanced_softmax_cross_entropy` against `F.cross_entropy` on the logits shifted by
  tau log(prior) or log(counts), B=4096, C=1000.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import lossbook
from bench.common import Case, forward_backward

# ----------------------------------------------------------------------------- next token

B, L, V = 4, 128, 8192


def _lm_inputs():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(B, L, V, generator=g).requires_grad_()
    labels = torch.randint(0, V, (B, L), generator=g)
    labels[:, : L // 4] = -100  # the prompt
    return logits, labels


def _plain_next_token(logits, labels):
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def build_next_token_ours():
    return forward_backward(lossbook.next_token_cross_entropy, _lm_inputs)


def build_next_token_reference():
    return forward_backward(_plain_next_token, _lm_inputs)


# ----------------------------------------------------------------------------- distillation

N_KD, TEMP = 512, 2.0


def _kd_inputs():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(N_KD, V, generator=g).requires_grad_(),
            2 * torch.randn(N_KD, V, generator=g))


def _plain_kd(student, teacher):
    log_q = F.log_softmax(student / TEMP, dim=-1)
    log_p = F.log_softmax(teacher / TEMP, dim=-1)
    kl = F.kl_div(log_q, log_p, log_target=True, reduction="sum") / student.shape[0]
    return TEMP**2 * kl


def build_kd_ours():
    return forward_backward(lambda s, t: lossbook.distillation_loss(s, t, temperature=TEMP),
                            _kd_inputs)


def build_kd_reference():
    return forward_backward(_plain_kd, _kd_inputs)


# ----------------------------------------------------------------------------- MoE router

TOKENS, EXPERTS = 16384, 64


def _router_inputs():
    g = torch.Generator().manual_seed(2)
    return (torch.randn(TOKENS, EXPERTS, generator=g).requires_grad_(),)


def _ours_router(logits):
    return lossbook.load_balancing_loss(logits) + 1e-3 * lossbook.router_z_loss(logits)


def _plain_router(logits):
    probs = F.softmax(logits, dim=-1)
    f = F.one_hot(probs.argmax(-1), EXPERTS).float().mean(0)
    balance = EXPERTS * (f * probs.mean(0)).sum()
    return balance + 1e-3 * torch.logsumexp(logits, dim=-1).square().mean()


def build_router_ours():
    return forward_backward(_ours_router, _router_inputs)


def build_router_reference():
    return forward_backward(_plain_router, _router_inputs)


# ----------------------------------------------------------------------------- CLIP, SigLIP

PAIRS, DIM = 512, 256


def _pair_inputs():
    g = torch.Generator().manual_seed(3)
    return (torch.randn(PAIRS, DIM, generator=g).requires_grad_(),
            torch.randn(PAIRS, DIM, generator=g).requires_grad_())


def _similarity(image, text, scale):
    return scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T


def _plain_clip(image, text):
    logits = _similarity(image, text, 1 / 0.07)
    labels = torch.arange(image.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def _plain_siglip(image, text):
    logits = _similarity(image, text, 10.0) - 10.0
    sign = 2 * torch.eye(image.shape[0]) - 1
    return -F.logsigmoid(sign * logits).sum() / image.shape[0]


def build_clip_ours():
    return forward_backward(lossbook.clip_loss, _pair_inputs)


def build_clip_reference():
    return forward_backward(_plain_clip, _pair_inputs)


def build_siglip_ours():
    return forward_backward(lossbook.siglip_loss, _pair_inputs)


def build_siglip_reference():
    return forward_backward(_plain_siglip, _pair_inputs)


# ----------------------------------------------------------------------------- long tail

N_LT, C = 4096, 1000


def _long_tail_inputs():
    g = torch.Generator().manual_seed(4)
    counts = torch.floor(1000 * torch.arange(1, C + 1, dtype=torch.float32) ** -1.2) + 1
    return (torch.randn(N_LT, C, generator=g).requires_grad_(),
            torch.randint(0, C, (N_LT,), generator=g), counts)


def _ours_logit_adjusted(logits, target, counts):
    return lossbook.logit_adjusted_cross_entropy(logits, target, class_prior=counts / counts.sum())


def _plain_logit_adjusted(logits, target, counts):
    return F.cross_entropy(logits + torch.log(counts / counts.sum()), target)


def _ours_balanced(logits, target, counts):
    return lossbook.balanced_softmax_cross_entropy(logits, target, class_counts=counts)


def _plain_balanced(logits, target, counts):
    return F.cross_entropy(logits + torch.log(counts), target)


def build_logit_adjusted_ours():
    return forward_backward(_ours_logit_adjusted, _long_tail_inputs)


def build_logit_adjusted_reference():
    return forward_backward(_plain_logit_adjusted, _long_tail_inputs)


def build_balanced_ours():
    return forward_backward(_ours_balanced, _long_tail_inputs)


def build_balanced_reference():
    return forward_backward(_plain_balanced, _long_tail_inputs)


CASES = [
    Case(f"next_token_cross_entropy B={B} L={L} V={V}", "lossbook.next_token_cross_entropy",
         "F.cross_entropy, shifted, ignore_index", build_next_token_ours,
         build_next_token_reference, 1.1),
    Case(f"distillation_loss N={N_KD} V={V} T=2", "lossbook.distillation_loss",
         "F.kl_div(log_target=True) * T^2", build_kd_ours, build_kd_reference, 1.1),
    Case(f"load_balancing_loss + router_z_loss T={TOKENS} N={EXPERTS}",
         "lossbook.load_balancing_loss + router_z_loss", "plain Switch / ST-MoE formulas",
         build_router_ours, build_router_reference, 1.1),
    Case(f"clip_loss B={PAIRS} D={DIM}", "lossbook.clip_loss", "plain symmetric InfoNCE",
         build_clip_ours, build_clip_reference, 1.1),
    Case(f"siglip_loss B={PAIRS} D={DIM}", "lossbook.siglip_loss", "plain pairwise sigmoid",
         build_siglip_ours, build_siglip_reference, 1.1),
    Case(f"logit_adjusted_cross_entropy B={N_LT} C={C}", "lossbook.logit_adjusted_cross_entropy",
         "F.cross_entropy on logits + log prior", build_logit_adjusted_ours,
         build_logit_adjusted_reference, 1.1),
    Case(f"balanced_softmax_cross_entropy B={N_LT} C={C}",
         "lossbook.balanced_softmax_cross_entropy", "F.cross_entropy on logits + log counts",
         build_balanced_ours, build_balanced_reference, 1.1),
]

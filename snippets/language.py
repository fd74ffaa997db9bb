# Interview snippets for the lesson "Losses for language models" (docs/llm-losses.md).
# Each named section is self-contained; tests/test_snippets_language.py proves each one equals
# its lossbook twin (values and gradients) and runs on meta tensors (no CPU tensor inside).

# --8<-- [start:next_token_loss]
import torch
import torch.nn.functional as F


def next_token_loss(logits, labels, ignore_index=-100):
    """logits [B, L, V], labels [B, L] (prompt and padding = ignore_index)."""
    logits = logits[:, :-1]  # position t predicts token t+1
    labels = labels[:, 1:]
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        labels.reshape(-1),
        ignore_index=ignore_index,  # mean over the tokens that are not ignored
    )
# --8<-- [end:next_token_loss]


# --8<-- [start:next_token_loss_numpy]
import numpy as np


def next_token_loss_np(logits, labels, ignore_index=-100):
    logits, labels = logits[:, :-1], labels[:, 1:]
    m = logits.max(-1, keepdims=True)
    log_probs = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    valid = labels != ignore_index
    picked = np.take_along_axis(log_probs, np.where(valid, labels, 0)[..., None], -1)[..., 0]
    return -(picked * valid).sum() / valid.sum()
# --8<-- [end:next_token_loss_numpy]


# --8<-- [start:kd_loss]
import torch
import torch.nn.functional as F


def kd_loss(student_logits, teacher_logits, T=2.0):
    """Hinton's distillation term: T^2 * KL(teacher_T || student_T), mean over rows."""
    log_q = F.log_softmax(student_logits / T, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # forward KL per row
    return T**2 * kl.mean()
# --8<-- [end:kd_loss]


# --8<-- [start:moe_aux_losses]
import torch
import torch.nn.functional as F


def load_balancing_loss(router_logits):
    """Switch Transformer aux loss (top-1), without alpha. router_logits [T, N]."""
    num_experts = router_logits.shape[-1]
    probs = F.softmax(router_logits.float(), dim=-1)
    chosen = probs.argmax(-1)  # top-1 dispatch
    f = F.one_hot(chosen, num_experts).float().mean(0)  # fraction of tokens per expert
    p = probs.mean(0)  # mean router probability per expert (carries the gradient)
    return num_experts * (f * p).sum()


def router_z_loss(router_logits):
    """ST-MoE: mean over tokens of (log sum_j exp z_j)^2."""
    return torch.logsumexp(router_logits.float(), dim=-1).square().mean()
# --8<-- [end:moe_aux_losses]


# --8<-- [start:siglip_loss]
import torch
import torch.nn.functional as F


def siglip_loss(img, txt, t_prime, b):
    """img, txt [B, D]; t_prime and b are learnable scalars (init log 10 and -10)."""
    img, txt = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    logits = img @ txt.T * t_prime.exp() + b  # [B, B]
    n = logits.shape[0]
    labels = 2 * torch.eye(n, device=logits.device) - 1  # +1 diagonal, -1 elsewhere
    return -F.logsigmoid(labels * logits).sum() / n
# --8<-- [end:siglip_loss]


# --8<-- [start:clip_loss]
import torch
import torch.nn.functional as F


def clip_loss(img, txt, logit_scale):
    """Symmetric InfoNCE: images classify texts and texts classify images."""
    img, txt = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    logits = logit_scale * img @ txt.T  # [B, B]
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
# --8<-- [end:clip_loss]

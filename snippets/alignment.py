"""LLM alignment losses as you would write them in an interview: reward model, DPO, KTO, ORPO,
GRPO."""

# --8<-- [start:bradley_terry_loss]
import torch.nn.functional as F


def bradley_terry_loss(chosen_rewards, rejected_rewards):
    # [B] scalar rewards of the preferred and the rejected completion of each pair.
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()
# --8<-- [end:bradley_terry_loss]


# --8<-- [start:sequence_logps]
import torch


def sequence_logps(logits, labels, mask):
    # logits [B, T, V] predict labels [B, T] (already shifted); mask [B, T] = 1 on completion tokens.
    logp = torch.log_softmax(logits, dim=-1).gather(-1, labels[..., None]).squeeze(-1)
    return (logp * mask).sum(dim=-1)  # sum over the completion: log pi(y | x)
# --8<-- [end:sequence_logps]


# --8<-- [start:dpo_loss]
import torch.nn.functional as F


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta=0.1, loss_type="sigmoid"):
    # Sequence log-probs [B]; the reference model's are constants.
    h = (pi_chosen - ref_chosen.detach()) - (pi_rejected - ref_rejected.detach())
    if loss_type == "ipo":
        return ((h - 1 / (2 * beta)) ** 2).mean()
    if loss_type == "hinge":
        return F.relu(1 - beta * h).mean()
    return -F.logsigmoid(beta * h).mean()
# --8<-- [end:dpo_loss]


# --8<-- [start:dpo_loss_numpy]
import numpy as np


def dpo_loss_np(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta=0.1):
    h = (pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)
    return np.logaddexp(0.0, -beta * h).mean()  # -log sigmoid(x) = log(1 + e^-x), stable
# --8<-- [end:dpo_loss_numpy]


# --8<-- [start:kto_loss]
import torch


def kto_loss(logps, ref_logps, desirable, kl_logps, kl_ref_logps, beta=0.1):
    # desirable [B] bool; kl_*: log-probs of mismatched (prompt, completion) pairs.
    z = (kl_logps - kl_ref_logps).mean().clamp(min=0).detach()  # reference point
    r = logps - ref_logps.detach()
    loss = torch.where(desirable, 1 - torch.sigmoid(beta * (r - z)),
                       1 - torch.sigmoid(beta * (z - r)))
    return loss.mean()
# --8<-- [end:kto_loss]


# --8<-- [start:orpo_loss]
import torch
import torch.nn.functional as F


def orpo_loss(chosen_logps, rejected_logps, beta=0.1):
    # Mean per-token log-probs [B] (< 0). log odds = log p - log(1 - p).
    def log_odds(lp):
        return lp - torch.log(-torch.expm1(lp))

    ratio = F.logsigmoid(log_odds(chosen_logps) - log_odds(rejected_logps))
    return (-chosen_logps - beta * ratio).mean()  # SFT NLL + odds-ratio term
# --8<-- [end:orpo_loss]


# --8<-- [start:grpo_loss]
import torch


def grpo_loss(logprobs, old_logprobs, rewards, mask, group_size, clip_eps=0.2):
    # logprobs, old_logprobs, mask [B, T]; rewards [B], groups of group_size consecutive rows.
    g = rewards.view(-1, group_size)
    adv = ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-4)).view(-1, 1)
    ratio = torch.exp(logprobs - old_logprobs.detach())
    per_token = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip_eps, 1 + clip_eps))
    per_seq = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)  # "grpo": mean per sequence
    return per_seq.mean()
# --8<-- [end:grpo_loss]

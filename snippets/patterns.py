"""Post-training loss patterns: global normalisation, clipped PG, stable contrastive, weighting."""

# --8<-- [start:masked_mean]
import torch


def masked_mean(values, mask, global_normalization_factor=None):
    # values, mask: same shape; mask 1 = valid. Under gradient accumulation or data
    # parallelism pass the valid count of the WHOLE global batch as the factor.
    kept = torch.where(mask.bool(), values, torch.zeros_like(values))  # padding may be inf
    n = mask.sum() if global_normalization_factor is None else global_normalization_factor
    return kept.sum() / max(float(n), 1.0)  # exactly 0, not NaN, when nothing is valid
# --8<-- [end:masked_mean]


# --8<-- [start:masked_mean_numpy]
import numpy as np


def masked_mean_np(values, mask, global_normalization_factor=None):
    kept = np.where(mask.astype(bool), values, 0.0)
    n = mask.sum() if global_normalization_factor is None else global_normalization_factor
    return kept.sum() / max(float(n), 1.0)
# --8<-- [end:masked_mean_numpy]


# --8<-- [start:accumulate_nll]
import torch
import torch.nn.functional as F


def accumulate_nll(model, batch, num_microbatches):
    # batch: input_ids, target_ids, token_mask, all [B, T]. Backward per microbatch;
    # returns the loss of the whole batch (the sum of the microbatch losses).
    total_tokens = batch["token_mask"].sum()  # the global count, taken BEFORE splitting
    total = 0.0
    for rows in torch.arange(len(batch["input_ids"])).tensor_split(num_microbatches):
        logits = model(batch["input_ids"][rows])  # [b, T, V]
        nll = F.cross_entropy(logits.transpose(1, 2), batch["target_ids"][rows], reduction="none")
        loss = (nll * batch["token_mask"][rows]).sum() / total_tokens
        loss.backward()  # gradients add up in .grad
        total += loss.item()
    return total
# --8<-- [end:accumulate_nll]


# --8<-- [start:clipped_pg_loss]
import torch


def clipped_pg_loss(logprobs, old_logprobs, advantages, mask, eps_low=0.2, eps_high=0.2,
                    dual_clip=None, global_valid_toks=None):
    # All [B, T]. PPO / GRPO per-token loss, token-level mean over the global batch.
    ratio = torch.exp(logprobs - old_logprobs)
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high)
    loss = torch.maximum(-advantages * ratio, -advantages * clipped)  # pessimistic bound
    if dual_clip is not None:  # cap the loss of A < 0 tokens at -c * A
        loss = torch.where(advantages < 0, torch.minimum(loss, -dual_clip * advantages), loss)
    n = mask.sum() if global_valid_toks is None else global_valid_toks
    return (loss * mask).sum() / max(float(n), 1.0)
# --8<-- [end:clipped_pg_loss]


# --8<-- [start:clipped_pg_loss_numpy]
import numpy as np


def clipped_pg_loss_np(logprobs, old_logprobs, advantages, mask, eps_low=0.2, eps_high=0.2,
                       dual_clip=None, global_valid_toks=None):
    ratio = np.exp(logprobs - old_logprobs)
    clipped = np.clip(ratio, 1 - eps_low, 1 + eps_high)
    loss = np.maximum(-advantages * ratio, -advantages * clipped)
    if dual_clip is not None:
        loss = np.where(advantages < 0, np.minimum(loss, -dual_clip * advantages), loss)
    n = mask.sum() if global_valid_toks is None else global_valid_toks
    return (loss * mask).sum() / max(float(n), 1.0)
# --8<-- [end:clipped_pg_loss_numpy]


# --8<-- [start:stable_contrastive_loss]
import torch


def stable_contrastive_loss(pos_sim, neg_sim, temperature=0.1):
    # pos_sim [B], neg_sim [B, N]: an (N+1)-way classification with the positive at index 0.
    logits = torch.cat([pos_sim[:, None], neg_sim], dim=1) / temperature
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()  # never exp() directly
# --8<-- [end:stable_contrastive_loss]


# --8<-- [start:stable_contrastive_loss_numpy]
import numpy as np


def stable_contrastive_loss_np(pos_sim, neg_sim, temperature=0.1):
    logits = np.concatenate([pos_sim[:, None], neg_sim], axis=1) / temperature
    top = logits.max(axis=1, keepdims=True)  # subtract the max before exp: no overflow
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return (lse - logits[:, 0]).mean()
# --8<-- [end:stable_contrastive_loss_numpy]


# --8<-- [start:uncertainty_weighting]
import torch


def uncertainty_weighted_sum(losses, log_vars):
    # Kendall et al. 2018: sum_k exp(-s_k) L_k + s_k with learned s_k = log sigma_k^2.
    # log_vars is an nn.Parameter in the optimizer; the weights exp(-s_k) stay positive.
    return (torch.exp(-log_vars) * torch.stack(losses) + log_vars).sum()
# --8<-- [end:uncertainty_weighting]

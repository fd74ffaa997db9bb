# Interview snippets for the lesson "RL and preference losses for LLMs" (docs/rl-for-llms.md).
# Each named section is self-contained: copy it into an editor and it runs.

# --8<-- [start:kl_estimators]
import torch


def kl_estimators(logp, logp_ref):
    # Per-sample estimates of KL(pi || ref) from tokens sampled from pi.
    log_r = logp_ref.detach() - logp  # log(ref / pi): the ratio goes ref over pi
    k1 = -log_r
    k2 = 0.5 * log_r**2
    k3 = torch.expm1(log_r) - log_r  # (r - 1) - log r >= 0
    return k1, k2, k3
# --8<-- [end:kl_estimators]


# --8<-- [start:rloo_advantages]
import torch


def rloo_advantages(rewards, group_size):
    # rewards: [B], G consecutive completions per prompt. Baseline: mean of the OTHER G - 1.
    r = rewards.detach().view(-1, group_size)
    baseline = (r.sum(dim=1, keepdim=True) - r) / (group_size - 1)
    return (r - baseline).reshape(-1)
# --8<-- [end:rloo_advantages]


# --8<-- [start:rloo_advantages_numpy]
import numpy as np


def rloo_advantages_np(rewards, group_size):
    r = np.asarray(rewards, dtype=float).reshape(-1, group_size)
    baseline = (r.sum(axis=1, keepdims=True) - r) / (group_size - 1)
    return (r - baseline).reshape(-1)
# --8<-- [end:rloo_advantages_numpy]


# --8<-- [start:ppo_value_loss]
import torch


def ppo_value_loss(values, old_values, returns, clip_range=0.2):
    # PPO2's clipped value loss: the prediction (not the target) is clipped around the old one.
    old, target = old_values.detach(), returns.detach()
    clipped = old + (values - old).clamp(-clip_range, clip_range)
    return torch.maximum((values - target) ** 2, (clipped - target) ** 2).mean()
# --8<-- [end:ppo_value_loss]


# --8<-- [start:simpo_loss]
import torch
import torch.nn.functional as F


def simpo_loss(chosen_logps, rejected_logps, chosen_len, rejected_len, beta=2.0, gamma=1.0):
    # Summed log-probabilities in, length-normalised reward, target margin gamma, no reference.
    margin = chosen_logps / chosen_len - rejected_logps / rejected_len
    return -F.logsigmoid(beta * margin - gamma).mean()
# --8<-- [end:simpo_loss]


# --8<-- [start:iql_expectile_loss]
import torch


def iql_expectile_loss(values, q_values, tau=0.7):
    u = q_values.detach() - values
    weight = torch.where(u < 0, 1 - tau, tau)  # |tau - 1[u < 0]|
    return (weight * u**2).mean()
# --8<-- [end:iql_expectile_loss]

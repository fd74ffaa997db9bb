"""RL losses as you would write them in an interview: REINFORCE, PPO, GAE, TD, QR-DQN, SAC, KL."""

# --8<-- [start:reinforce_loss]
import torch


def reinforce_loss(logprobs, returns, baseline=None):
    # logprobs: log pi(a_t|s_t) [T]; returns: reward-to-go G_t [T]. The weight is a constant.
    weight = returns if baseline is None else returns - baseline
    return -(weight.detach() * logprobs).mean()
# --8<-- [end:reinforce_loss]


# --8<-- [start:ppo_clip_loss]
import torch


def ppo_clip_loss(logprobs, old_logprobs, advantages, clip_eps=0.2):
    # All [B, T] (or [N]); old_logprobs and advantages are constants of the update.
    ratio = torch.exp(logprobs - old_logprobs.detach())
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    adv = advantages.detach()
    return torch.max(-adv * ratio, -adv * clipped).mean()  # = -min(r A, clip(r) A)
# --8<-- [end:ppo_clip_loss]


# --8<-- [start:ppo_clip_loss_numpy]
import numpy as np


def ppo_clip_loss_np(logprobs, old_logprobs, advantages, clip_eps=0.2):
    ratio = np.exp(logprobs - old_logprobs)
    clipped = np.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    return np.maximum(-advantages * ratio, -advantages * clipped).mean()
# --8<-- [end:ppo_clip_loss_numpy]


# --8<-- [start:gae]
import torch


def gae(rewards, values, gamma=0.99, lam=0.95, dones=None):
    # rewards [T]; values [T + 1] (the last one bootstraps); dones[t] = 1 if the episode ended at t.
    T = len(rewards)
    not_done = torch.ones_like(rewards) if dones is None else 1.0 - dones.to(rewards.dtype)
    adv, running = torch.zeros_like(rewards), 0.0
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * not_done[t] * values[t + 1] - values[t]
        running = delta + gamma * lam * not_done[t] * running
        adv[t] = running
    return adv  # critic targets: adv + values[:-1]
# --8<-- [end:gae]


# --8<-- [start:gae_numpy]
import numpy as np


def gae_np(rewards, values, gamma=0.99, lam=0.95):
    T = len(rewards)
    deltas = rewards + gamma * values[1:] - values[:-1]
    adv, running = np.zeros(T), 0.0
    for t in reversed(range(T)):
        running = deltas[t] + gamma * lam * running
        adv[t] = running
    return adv
# --8<-- [end:gae_numpy]


# --8<-- [start:td_loss]
import torch
import torch.nn.functional as F


def td_loss(q_sa, rewards, next_q, dones, gamma=0.99):
    # DQN: q_sa = Q(s, a); next_q = max_a' Q_target(s', a'). The target is a constant.
    target = rewards + gamma * next_q.detach() * (1.0 - dones.float())
    return F.smooth_l1_loss(q_sa, target)  # Huber, delta = 1
# --8<-- [end:td_loss]


# --8<-- [start:quantile_huber_loss]
import torch


def quantile_huber_loss(quantiles, target, kappa=1.0):
    # quantiles [B, N] at taus (2i + 1) / 2N; target [B, M] samples of r + gamma * Z(s', a*).
    N = quantiles.shape[1]
    taus = (torch.arange(N, dtype=quantiles.dtype, device=quantiles.device) + 0.5) / N
    u = target.detach()[:, None, :] - quantiles[:, :, None]  # [B, N, M]
    huber = torch.where(u.abs() <= kappa, 0.5 * u**2, kappa * (u.abs() - 0.5 * kappa))
    weight = (taus[None, :, None] - (u.detach() < 0).float()).abs()
    return (weight * huber / kappa).mean(dim=2).sum(dim=1).mean()
# --8<-- [end:quantile_huber_loss]


# --8<-- [start:sac_losses]
import torch


def sac_actor_loss(log_probs, q_min, alpha=0.2):
    # Actions reparameterised (a = mu + sigma * eps): the gradient flows through Q and log pi.
    return (alpha * log_probs - q_min).mean()


def sac_critic_loss(q, rewards, next_q_min, next_log_probs, dones, gamma=0.99, alpha=0.2):
    soft_next = next_q_min - alpha * next_log_probs  # soft value of s'
    target = (rewards + gamma * soft_next * (1.0 - dones.float())).detach()
    return ((q - target) ** 2).mean()
# --8<-- [end:sac_losses]


# --8<-- [start:kl_penalty]
import torch


def kl_penalty(logp, logp_ref, estimator="k3"):
    # Tokens sampled from pi; estimates KL(pi || pi_ref) per token.
    log_r = logp_ref.detach() - logp
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    return torch.exp(log_r) - 1 - log_r  # k3: unbiased and >= 0
# --8<-- [end:kl_penalty]

"""Figures of the loss glossary's diffusion, RL, multi-agent and alignment pages, computed with
lossbook (and, for the population toys, the page's own snippets) at build time."""

from __future__ import annotations

import runpy
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import lossbook

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "0.55"


# ----------------------------------------------------------------------------- RL


def figure_ppo_clipped_objective():
    """PPO's surrogate objective (the negated loss) against the ratio, for A > 0 and A < 0."""
    ratio = torch.linspace(0.01, 4.5, 900, dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
    for ax, adv in zip(axes, (1.0, -1.0)):
        a = torch.full_like(ratio, adv)
        logp = ratio.log().requires_grad_()
        loss = lossbook.ppo_clip_loss(logp, torch.zeros_like(ratio), a, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), logp)
        flat = (grad == 0).numpy()
        ax.plot(ratio, a * ratio, color=GREY, ls="--", lw=1.2, label="unclipped  $rA$")
        ax.plot(ratio, -loss.detach(), color=BLUE, lw=2.2, label="PPO objective  $\\min(rA, \\mathrm{clip}(r)A)$")
        if adv < 0:
            dual = lossbook.ppo_clip_loss(logp.detach(), torch.zeros_like(ratio), a, dual_clip=3.0,
                                          reduction="none")
            ax.plot(ratio, -dual, color=ORANGE, lw=1.6, ls="-.", label="with dual clip $c = 3$")
        ax.fill_between(ratio, -4.7, 4.7, where=flat, color="0.92", zorder=0, label="zero gradient")
        for edge in (0.8, 1.2):
            ax.axvline(edge, color=GREY, lw=0.7)
        ax.set(xlabel="probability ratio  $r = \\pi_\\theta / \\pi_{old}$", ylim=(-4.7, 0.5) if adv < 0 else (-0.2, 4.7),
               title=f"advantage $A = {adv:+g}$", ylabel="objective (higher is better)")
        ax.legend(frameon=False, fontsize=8.5, loc="upper left" if adv > 0 else "lower left")
    fig.tight_layout()
    return fig


def figure_gae_bias_variance():
    """Bias squared and variance of GAE value targets against lambda, with a wrong critic."""
    g = torch.Generator().manual_seed(0)
    n, T, gamma = 4000, 30, 0.97
    rewards = 1.0 + 1.5 * torch.randn(n, T, generator=g, dtype=torch.float64)
    steps_left = torch.arange(T, -1, -1, dtype=torch.float64)
    true_v = (1 - gamma**steps_left) / (1 - gamma)  # expected discounted return from step t
    values = (0.6 * true_v).expand(n, T + 1)  # a critic that under-estimates by 40%
    lambdas = np.linspace(0, 1, 21)
    bias2, var = [], []
    for lam in lambdas:
        adv = lossbook.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=float(lam))
        target = adv[:, 0] + values[:, 0]  # TD(lambda) return for the first state
        bias2.append(float((target.mean() - true_v[0]) ** 2))
        var.append(float(target.var()))
    bias2, var = np.array(bias2), np.array(var)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(lambdas, bias2, color=RED, lw=2, label="bias²")
    ax.plot(lambdas, var, color=BLUE, lw=2, label="variance")
    ax.plot(lambdas, bias2 + var, color="k", lw=1.2, ls="--", label="mean squared error")
    ax.set(xlabel="λ   (0: TD(0),  1: Monte Carlo)", ylabel="value-target error", yscale="log",
           title="GAE: bias from the critic vs variance from the rewards")
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_qr_dqn_quantiles():
    """Four quantiles learned with the quantile-Huber loss on a bimodal return."""
    g = torch.Generator().manual_seed(0)
    returns = torch.cat([torch.randn(1000, generator=g) * 0.5 - 5, torch.randn(1000, generator=g) * 0.5 + 5])
    learned = {}
    for kappa, lr in [(1.0, 2.0), (0.01, 0.5)]:
        theta = torch.zeros(1, 4, requires_grad=True)
        for _ in range(300):
            loss = lossbook.quantile_huber_loss(theta, returns[None], kappa=kappa)
            (grad,) = torch.autograd.grad(loss, theta)
            with torch.no_grad():
                theta -= lr * grad
        learned[kappa] = theta.detach()[0].numpy()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.hist(returns.numpy(), bins=80, color="0.8", density=True)
    for i, x in enumerate(learned[0.01]):
        ax.axvline(x, color=BLUE, lw=2, label="quantiles, κ = 0.01" if i == 0 else None)
    for i, x in enumerate(learned[1.0]):
        ax.axvline(x, color=ORANGE, lw=1.5, ls="--", label="Huber-quantiles, κ = 1" if i == 0 else None)
    ax.axvline(float(returns.mean()), color=RED, lw=2, ls=":", label="mean (what MSE learns)")
    ax.set(xlabel="return", ylabel="density", title="QR-DQN: τ = 1/8, 3/8, 5/8, 7/8 of a bimodal return")
    ax.legend(frameon=False, fontsize=8.5, loc="upper center")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- alignment


def figure_kl_estimators():
    """k1, k2, k3 per sample against the log-ratio, and their spread on Gaussian pairs."""
    log_r = torch.linspace(-2.5, 2.5, 400, dtype=torch.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for est, color in (("k1", RED), ("k2", GREEN), ("k3", BLUE)):
        value = lossbook.kl_penalty(torch.zeros_like(log_r), log_r, estimator=est, reduction="none")
        left.plot(log_r, value, color=color, lw=2, label=est)
    left.axhline(0, color=GREY, lw=0.7)
    left.set(xlabel="$\\log r = \\log\\pi_{ref} - \\log\\pi_\\theta$ of one sampled token",
             ylabel="per-sample estimate", ylim=(-2.6, 5), title="KL estimators, one sample")
    left.legend(frameon=False)
    g = torch.Generator().manual_seed(0)
    shifts = [0.1, 0.5, 1.0]
    width = 0.25
    for k, (est, color) in enumerate((("k1", RED), ("k2", GREEN), ("k3", BLUE))):
        rel_std = []
        for mu in shifts:
            x = torch.randn(50_000, generator=g, dtype=torch.float64)  # samples from pi = N(0, 1)
            logp = -0.5 * x**2
            logp_ref = -0.5 * (x - mu) ** 2  # pi_ref = N(mu, 1); constants cancel
            values = lossbook.kl_penalty(logp, logp_ref, estimator=est, reduction="none")
            rel_std.append(float(values.std()) / (mu**2 / 2))
        pos = np.arange(len(shifts)) + (k - 1) * width
        right.bar(pos, rel_std, width, color=color, label=est)
    right.set(xticks=range(len(shifts)), xticklabels=[f"KL = {m * m / 2:g}" for m in shifts],
              yscale="log", ylabel="std of one sample / true KL", ylim=(0.5, 40),
              title="Spread of the estimate, $\\pi=N(0,1)$ vs $\\pi_{ref}=N(\\mu,1)$")
    right.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_dpo_losses():
    """DPO (sigmoid), IPO and hinge losses and their gradients against the log-ratio margin."""
    h = torch.linspace(-8, 12, 500, dtype=torch.float64).requires_grad_()
    zero = torch.zeros_like(h)
    beta = 0.5
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for kind, color, label in (("sigmoid", BLUE, "DPO  $-\\log\\sigma(\\beta h)$"),
                               ("ipo", ORANGE, "IPO  $(h - 1/2\\beta)^2$"),
                               ("hinge", GREEN, "hinge  $\\max(0, 1 - \\beta h)$")):
        loss = lossbook.dpo_loss(h, zero, zero, zero, beta=beta, loss_type=kind, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), h)
        left.plot(h.detach(), loss.detach(), color=color, lw=2, label=label)
        right.plot(h.detach(), -grad, color=color, lw=2, label=label)
    left.set(xlabel="margin $h$ = chosen log-ratio − rejected log-ratio", ylabel="loss", ylim=(0, 6),
             title=f"Preference losses, β = {beta:g}")
    right.axhline(0, color=GREY, lw=0.7)
    right.set(xlabel="margin $h$", ylabel="push on $h$  ($-\\partial\\ell/\\partial h$)", ylim=(-1.2, 1.2),
              title="DPO never stops pushing; IPO pulls back past $1/2\\beta$")
    left.legend(frameon=False, fontsize=8.5)
    fig.tight_layout()
    return fig


def figure_grpo_token_weights():
    """The weight each token receives under GRPO's normalisations, by completion length."""
    lengths = [4, 8, 16, 32, 4, 8, 16, 32]
    T = max(lengths)
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]
    rewards = torch.tensor([1.0, 0.0] * 4)  # groups of 2: one right, one wrong
    logp = torch.full((len(lengths), T), -1.0, dtype=torch.float64)
    adv = lossbook.grpo_advantages(rewards.double(), group_size=2)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for kind, color, marker in (("grpo", BLUE, "o"), ("bnpo", ORANGE, "s"), ("dr_grpo", GREEN, "^")):
        x = logp.clone().requires_grad_()
        loss = lossbook.grpo_loss(x, x.detach(), rewards.double(), group_size=2, mask=mask, loss_type=kind)
        (grad,) = torch.autograd.grad(loss, x)
        per_token = (grad[:, 0] / -adv).numpy()  # weight of one token, advantage divided out
        ax.plot(lengths[:4], per_token[:4], marker=marker, color=color, lw=2, label=kind)
    ax.set(xscale="log", yscale="log", xticks=lengths[:4], xticklabels=[str(n) for n in lengths[:4]],
           xlabel="completion length (tokens)", ylabel="gradient weight of one token",
           title="GRPO normalisations: 'grpo' gives long answers' tokens less weight")
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- multi-agent


def _multi_agent():
    return runpy.run_path(str(SNIPPETS / "multi_agent.py"))


def transitive_cyclic_game(n=40, seed=0):
    rng = np.random.default_rng(seed)
    skill, angle = rng.uniform(0, 1, n), rng.uniform(0, 2 * np.pi, n)
    return skill[:, None] - skill[None, :] + np.sin(angle[:, None] - angle[None, :])


def figure_psro_exploitability():
    """Exploitability of the population's meta-strategy for three meta-solvers."""
    ma = _multi_agent()
    game = transitive_cyclic_game()

    def last(sub):
        sigma = np.zeros(len(sub))
        sigma[-1] = 1.0
        return sigma

    def uniform(sub):
        return np.full(len(sub), 1.0 / len(sub))

    solvers = [("Nash (PSRO)", lambda sub: ma["meta_nash"](sub, iters=2000), BLUE),
               ("uniform (fictitious self-play)", uniform, ORANGE),
               ("latest only (self-play)", last, RED)]
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    for label, solver, color in solvers:
        exploitability, _ = ma["psro"](game, solver, 12)
        ax.plot(range(1, 13), np.maximum(exploitability, 1e-6), marker="o", color=color, lw=2, label=label)
    ax.set(yscale="log", xlabel="PSRO iteration (population size grows by at most 1)",
           ylabel="exploitability", title="40-strategy game: skill plus a cycle")
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_map_elites_archive():
    """MAP-Elites on a 6-joint planar arm: the archive and a few of its elites."""
    ma = _multi_agent()
    best, elites = ma["map_elites"](ma["arm_fitness"], ma["arm_descriptor"], 6, bins=12, iterations=3000)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    shown = np.where(np.isfinite(best), best, np.nan)
    image = left.imshow(shown.T, origin="lower", extent=(-1, 1, -1, 1), cmap="viridis")
    fig.colorbar(image, ax=left, label="fitness  (−std of joint angles)")
    left.set(xlabel="end effector x", ylabel="end effector y",
             title=f"Archive: {np.isfinite(best).sum()} of {best.size} niches filled")
    cells = [(i, j) for i in range(1, 12, 3) for j in range(1, 12, 3) if np.isfinite(best[i, j])]
    for i, j in cells:
        angles = np.cumsum(elites[i, j])
        xy = np.concatenate([[0.0], np.cos(angles).cumsum() / 6]), np.concatenate([[0.0], np.sin(angles).cumsum() / 6])
        right.plot(*xy, "-o", ms=2.5, lw=1.2)
    right.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", xlabel="x", ylabel="y",
              title="Elites of 16 niches: one arm per reachable target")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- diffusion


def figure_diffusion_paths():
    """Signal and noise coefficients of x_t: DDPM linear and cosine schedules vs flow matching."""
    T = 1000
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    u = np.arange(T) / (T - 1)
    for name, betas, style in (("DDPM linear", lossbook.linear_beta_schedule(T), "-"),
                               ("cosine", lossbook.cosine_beta_schedule(T), "--")):
        ab = lossbook.alphas_cumprod(betas).numpy()
        left.plot(u, np.sqrt(ab), color=BLUE, ls=style, lw=2, label=f"{name}: signal $\\sqrt{{\\bar\\alpha_t}}$")
        left.plot(u, np.sqrt(1 - ab), color=RED, ls=style, lw=2, label=f"{name}: noise $\\sqrt{{1-\\bar\\alpha_t}}$")
        right.plot(u, 10 * np.log10(ab / (1 - ab)), color=BLUE if style == "-" else ORANGE, lw=2, label=name)
    t = 1 - u  # flow matching's data weight, plotted on the same noise-increasing axis
    left.plot(u, t, color="k", lw=1.4, ls=":", label="flow matching: data $t$, noise $1-t$")
    left.plot(u, 1 - t, color="k", lw=1.4, ls=":")
    inner = t[1:-1]
    right.plot(u[1:-1], 20 * np.log10(inner / (1 - inner)), color="k", lw=1.4, ls=":", label="flow matching")
    left.set(xlabel="noise level  ($t/T$ for DDPM, $1-t$ for flow matching)", ylabel="coefficient",
             title="$x_t$ = signal · data + noise · ε")
    right.set(xlabel="noise level", ylabel="SNR (dB)", ylim=(-60, 50), title="Signal-to-noise ratio")
    left.legend(frameon=False, fontsize=7.5)
    right.legend(frameon=False, fontsize=8.5)
    fig.tight_layout()
    return fig

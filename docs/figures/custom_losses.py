"""Figures of the Custom losses lesson, computed with lossbook at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

import lossbook

COLORS = {"left": "#1f77b4", "straight": "#2ca02c", "mean": "#d62728", "mode": "#ff7f0e", "mode2": "#6a3d9a"}
# The two WTA modes differ in colour, line style and marker, and are labelled at their ends:
# told apart without relying on colour.
MODE_STYLES = ({"color": COLORS["mode"], "linestyle": "-", "marker": "o"},
               {"color": COLORS["mode2"], "linestyle": "--", "marker": "s"})


def figure_focal_modulating_factor():
    """Focal loss against p_t for several gamma: easy examples (p_t near 1) are switched off."""
    p_t = torch.linspace(0.01, 0.999, 400, dtype=torch.float64)
    # logits whose softmax gives p_t on the target class (two classes)
    logits = torch.stack([torch.log(p_t), torch.log1p(-p_t)], dim=1)
    target = torch.zeros(len(p_t), dtype=torch.long)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for gamma, style in [(0.0, "-"), (0.5, "--"), (1.0, "-."), (2.0, "-"), (5.0, ":")]:
        loss = lossbook.focal_loss(logits, target, gamma=gamma, reduction="none")
        label = "cross entropy (γ = 0)" if gamma == 0 else f"γ = {gamma:g}"
        left.plot(p_t, loss, style, lw=2 if gamma in (0, 2) else 1.4, label=label)
        right.plot(p_t, (1 - p_t) ** gamma, style, lw=2 if gamma in (0, 2) else 1.4, label=label)
    left.set(xlabel="probability of the true class  $p_t$", ylabel="loss", ylim=(0, 4),
             title="Focal loss  $-(1-p_t)^\\gamma \\log p_t$")
    right.set(xlabel="probability of the true class  $p_t$", ylabel="factor",
              title="Modulating factor  $(1-p_t)^\\gamma$")
    left.axvspan(0.6, 1.0, color="0.9", zorder=0)
    left.text(0.8, 3.6, "well-classified\n(easy)", ha="center", va="top", fontsize=9)
    right.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_class_weight_schemes():
    """Weight of each class as a function of its count, for the weighting schemes."""
    counts = torch.tensor([99_000, 9_000, 1_000, 100, 10], dtype=torch.float64)
    schemes = [
        ("inverse", {}),
        ("sqrt_inverse", {}),
        ("effective_number", {"beta": 0.999}),
        ("inverse", {"max_weight": 10.0}),
    ]
    labels = ["inverse  1/n", "sqrt-inverse  1/√n", "effective number, β = 0.999",
              "inverse, capped at 10"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for (scheme, kwargs), label, marker in zip(schemes, labels, "osD^"):
        w = lossbook.class_weights(counts, scheme=scheme, **kwargs)
        ax.plot(counts, w, marker=marker, label=label)
    ax.set(xscale="log", yscale="log", xlabel="samples in the class", ylabel="class weight",
           title="Class weights (normalised to average 1 over the samples)")
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def intersection_futures(n_per_mode: int = 40, steps: int = 30, seed: int = 0):
    """Logged futures at an intersection, from (0, -10) heading north at 10 m/s for 3 s:
    half turn left (a quarter circle of radius 10 m, then west), half go straight."""
    g = torch.Generator().manual_seed(seed)
    s = torch.linspace(0, 1, steps, dtype=torch.float64)
    d = 30 * s  # distance travelled (m)
    straight = torch.stack([torch.zeros_like(d), -10 + d], dim=1)
    arc = torch.pi / 2 * 10  # length of the quarter circle
    theta = (d / 10).clamp(max=torch.pi / 2)
    left = torch.stack([-10 + 10 * torch.cos(theta) - (d - arc).clamp(min=0), -10 + 10 * torch.sin(theta)], 1)
    futures = []
    for base in (left, straight):
        noise = 0.35 * torch.randn(n_per_mode, 1, 2, generator=g, dtype=torch.float64)
        futures.append(base + noise * s[None, :, None])
    return futures[0], futures[1]


def figure_mse_vs_modes():
    """MSE's prediction is the average of the futures; WTA's two modes land on the real ones."""
    left, straight = intersection_futures()
    futures = torch.cat([left, straight])  # [N, T, 2]
    mse_prediction = futures.mean(0)  # the minimiser of the mean squared error

    # Fit K = 2 free trajectories with the winner-takes-all loss (no network: the futures share
    # one context, so the best constant predictions are what a network would output).
    torch.manual_seed(0)
    modes = (mse_prediction[None] + torch.randn(2, *mse_prediction.shape, dtype=torch.float64)).requires_grad_()
    logits = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([modes, logits], lr=0.2)
    for _ in range(300):
        optimizer.zero_grad()
        n = len(futures)
        loss = lossbook.wta_trajectory_loss(modes.expand(n, -1, -1, -1), logits.expand(n, -1), futures)
        loss.backward()
        optimizer.step()
    probs = torch.softmax(logits, 0).detach()

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    for ax, title in zip(axes, ["One trajectory trained with MSE", "Two modes trained with WTA"]):
        ax.add_patch(plt.Rectangle((-3, -12), 6, 34, color="0.88", zorder=0))  # north-south road
        ax.add_patch(plt.Rectangle((-22, -3), 44, 6, color="0.88", zorder=0))  # east-west road
        for future in left[:15]:  # a sample of the logs keeps the SVG small
            ax.plot(*future.T, color=COLORS["left"], alpha=0.35, lw=1)
        for future in straight[:15]:
            ax.plot(*future.T, color=COLORS["straight"], alpha=0.35, lw=1)
        ax.set(title=title, xlim=(-22, 10), ylim=(-12, 22), aspect="equal", xlabel="x (m)")
    axes[0].plot(*mse_prediction.T, color=COLORS["mean"], lw=3, label="MSE prediction (the mean)")
    for k in range(2):
        path = modes[k].detach()
        axes[1].plot(*path.T, lw=2.5, markersize=6, markevery=3, label=f"WTA mode {k}, p = {probs[k]:.2f}",
                     **MODE_STYLES[k])
        at = path[2 * len(path) // 3]  # the label sits by the line, two thirds along it
        axes[1].annotate(f"mode {k}", at.tolist(), xytext=(8, 8), textcoords="offset points",
                         color=MODE_STYLES[k]["color"], fontsize=10, fontweight="bold")
    axes[0].plot([], [], color=COLORS["left"], label="logged: turn left")
    axes[0].plot([], [], color=COLORS["straight"], label="logged: straight")
    axes[0].set_ylabel("y (m)")
    for ax in axes:
        ax.legend(frameon=False, fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig

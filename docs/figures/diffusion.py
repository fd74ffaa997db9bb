"""Figures of the two diffusion lessons, computed with lossbook at build time.

The toy-intersection figures share one trained model per process (`train_toy_trajectory_model`
memoises per seed), the same code and seed the lesson's code blocks use.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

import lossbook
from lossbook.diffusion_toy import (
    MODES,
    toy_condition,
    toy_intersection,
    toy_modes,
    train_toy_baselines,
    train_toy_trajectory_model,
)

# Drawn by one process (docs/hooks/figures.py): they share the memoised trained toy model.
DRAW_TOGETHER = [("toy_mse_wta_diffusion", "toy_guidance_scale", "toy_cost_guidance")]

MODE_COLORS = {"straight": "#2ca02c", "left": "#1f77b4", "stop": "#9467bd", "other": "#d62728"}


# ------------------------------------------------------------------ diffusion basics


def figure_diffusion_schedules():
    """alpha_bar_t and the signal-to-noise ratio for the linear and the cosine schedule."""
    T = 1000
    t = np.arange(T)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, betas, style in [
        ("linear (DDPM)", lossbook.linear_beta_schedule(T), "-"),
        ("cosine (improved DDPM)", lossbook.cosine_beta_schedule(T), "--"),
    ]:
        ab = lossbook.alphas_cumprod(betas).numpy()
        left.plot(t, ab, style, lw=2, label=name)
        right.plot(t, np.log10(ab / (1 - ab)), style, lw=2, label=name)
    left.set(
        xlabel="timestep t (0-indexed)",
        ylabel=r"$\bar\alpha_t$",
        title=r"Signal kept: $\bar\alpha_t$",
    )
    right.set(
        xlabel="timestep t (0-indexed)",
        ylabel=r"$\log_{10}\,\bar\alpha_t/(1-\bar\alpha_t)$",
        title="Signal-to-noise ratio (log scale)",
    )
    right.axhline(0, color="0.6", lw=0.8)
    left.legend(frameon=False)
    fig.tight_layout()
    return fig


def two_moons(n: int, seed: int = 0) -> torch.Tensor:
    """A 2-D point cloud with two curved clusters, standardised (float64)."""
    g = torch.Generator().manual_seed(seed)
    angle = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack([x, y], dim=1) + 0.06 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return (pts - pts.mean(0)) / pts.std(0)


def figure_diffusion_point_cloud():
    """A 2-D point cloud noised in closed form (q_sample) at several timesteps."""
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))
    x0 = two_moons(800)  # enough to see the two moons; each point costs the page bytes (a bitmap)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    steps = [0, 50, 150, 300, 999]
    fig, axes = plt.subplots(1, len(steps), figsize=(12, 2.8), sharex=True, sharey=True)
    for ax, step in zip(axes, steps):
        xt = lossbook.q_sample(x0, torch.full((len(x0),), step), noise, ab)
        ax.scatter(xt[:, 0], xt[:, 1], s=2, alpha=0.5, color="#1f77b4")
        ax.set_title(f"t = {step}\n" + rf"$\bar\alpha_t$ = {ab[step].item():.4g}", fontsize=10)
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def _mixture_eps(ab, weights, means, stds):
    """The exact E[eps | x_t] for 1-D data from a Gaussian mixture (a perfectly trained model)."""

    def model(x, t):
        a = ab[t].to(x.dtype)[:, None]
        var = a * stds**2 + 1 - a
        resid = x - a.sqrt() * means
        r = torch.softmax(torch.log(weights) - 0.5 * resid**2 / var - 0.5 * torch.log(var), dim=1)
        return ((1 - a).sqrt() * resid / var * r).sum(dim=1, keepdim=True)

    return model


def figure_diffusion_reverse_paths():
    """Reverse-process paths of 1-D samples under the exact denoiser of a 70/30 mixture."""
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))
    f64 = {"dtype": torch.float64}
    model = _mixture_eps(
        ab,
        torch.tensor([0.7, 0.3], **f64),
        torch.tensor([-2.0, 2.0], **f64),
        torch.tensor([0.5, 0.5], **f64),
    )
    final, path = lossbook.ddpm_sample(
        model,
        (300, 1),
        ab,
        generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
        return_path=True,
    )
    path = path[:, :, 0].numpy()  # [T + 1, N], from pure noise to the sample
    steps = np.arange(999, -2, -1)  # the timestep each row was produced at (-1: final)
    keep = np.r_[0 : len(steps) : 10, len(steps) - 1]  # every 10th step: the SVG stays light
    path, steps = path[keep], steps[keep]
    right = final[:, 0].numpy() > 0
    fig, (ax, hist) = plt.subplots(
        1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 1]}, sharey=True
    )
    for i in range(40):
        ax.plot(steps, path[:, i], lw=0.6, alpha=0.6, color="#ff7f0e" if right[i] else "#1f77b4")
    ax.invert_xaxis()
    ax.set(
        xlabel="timestep t (sampling runs left to right, from t = 999 to 0)",
        ylabel="x",
        title="Reverse process: each sample commits to a mode",
    )
    hist.hist(final[:, 0].numpy(), bins=40, orientation="horizontal", color="0.5")
    hist.set(xlabel="count", title=f"final samples: {right.mean():.0%} right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ diffusion for simulation


def _draw_map(ax, *, red: bool = False):
    """The toy intersection: a north-south road, an east-west road, the stop line at y = 8 m."""
    road = {"color": "0.92", "zorder": 0, "lw": 0}
    ax.add_patch(Rectangle((-5.25, -3), 7.0, 36, **road))  # north-south road
    ax.add_patch(Rectangle((-16, 12.75), 30, 7.0, **road))  # east-west road
    ax.plot([-1.75, -1.75], [-3, 12.75], color="0.7", lw=1, ls="--", zorder=1)
    ax.plot([-1.75, -1.75], [19.75, 33], color="0.7", lw=1, ls="--", zorder=1)
    ax.plot([-16, -5.25], [16.25, 16.25], color="0.7", lw=1, ls="--", zorder=1)
    ax.plot([-1.75, 1.75], [8, 8], color="0.3", lw=2, zorder=1)  # stop line
    ax.plot([2.6], [8], "o", ms=7, color="#d62728" if red else "#2ca02c", zorder=3)
    ax.plot([0], [0], marker="^", ms=9, color="k", zorder=4)
    ax.set(xlim=(-14, 6), ylim=(-2, 31), aspect="equal", xlabel="x (m)", ylabel="y (m)")


def _plot_futures(ax, futures: torch.Tensor, *, alpha: float = 0.25, lw: float = 1.0):
    modes = toy_modes(futures)
    for k, name in enumerate(MODES):
        sel = futures[modes == k]
        for f in sel:
            ax.plot(
                np.r_[0, f[:, 0]], np.r_[0, f[:, 1]], color=MODE_COLORS[name], alpha=alpha, lw=lw
            )


def figure_toy_intersection_data():
    """Logged futures at the toy intersection: green light (left or straight) and red light."""
    data = toy_intersection(600, seed=1)
    red = data["cond"][:, 1] == 1
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 5.2), sharey=True)
    for ax, sel, title, is_red in [
        (axes[0], ~red, "green light", False),
        (axes[1], red, "red light", True),
    ]:
        _draw_map(ax, red=is_red)
        _plot_futures(ax, data["future"][sel][:150], alpha=0.3)
        ax.set_title(f"Logged futures, {title}")
    axes[1].set_ylabel("")
    handles = [plt.Line2D([], [], color=MODE_COLORS[m], lw=2, label=m) for m in MODES[:3]]
    axes[0].legend(handles=handles, frameon=False, loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


def figure_toy_mse_wta_diffusion():
    """Green light, route unknown: the MSE prediction, the two WTA modes, diffusion samples."""
    cond = toy_condition(1)
    base = train_toy_baselines(seed=0)
    model = train_toy_trajectory_model(seed=0)
    mse = base.mse(cond)[0]
    wta, probs = base.wta(cond)
    samples = model.sample(toy_condition(200), seed=3)
    fig, axes = plt.subplots(1, 3, figsize=(12, 5.2), sharey=True)
    for ax in axes:
        _draw_map(ax)
    axes[0].plot(np.r_[0, mse[:, 0]], np.r_[0, mse[:, 1]], "-o", ms=3, color="#d62728", lw=2.5)
    axes[0].set_title("MSE regression: one average path")
    for k in range(2):
        f = wta[0, k]
        name = MODES[int(toy_modes(f[None])[0])]
        axes[1].plot(
            np.r_[0, f[:, 0]], np.r_[0, f[:, 1]], "-o", ms=3, lw=2.5, color=MODE_COLORS[name]
        )
        axes[1].annotate(
            f"p = {probs[0, k].item():.2f}",
            (f[-1, 0].item(), f[-1, 1].item()),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=10,
        )
    axes[1].set_title("Winner-takes-all, K = 2")
    _plot_futures(axes[2], samples, alpha=0.25)
    axes[2].set_title("Diffusion: 200 samples")
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def figure_toy_guidance_scale():
    """Route 'left' with classifier-free guidance scale 0, 1 and 4."""
    model = train_toy_trajectory_model(seed=0)
    scales = [0.0, 1.0, 4.0]
    fig, axes = plt.subplots(1, len(scales), figsize=(12, 5.2), sharey=True)
    for ax, s in zip(axes, scales):
        futures = model.sample(toy_condition(150, route="left"), guidance_scale=s, seed=4)
        _draw_map(ax)
        _plot_futures(ax, futures, alpha=0.3)
        ax.set_title(f"route = left, guidance scale s = {s:g}")
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def figure_toy_cost_guidance():
    """Red light: samples without and with a cost that rewards crossing the stop line."""
    model = train_toy_trajectory_model(seed=0)
    cond = toy_condition(150, red=True)

    def cost(future):  # lower when the car is far past the stop line after 4 s
        return torch.relu(20.0 - future[:, -1, 1])

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 5.2), sharey=True)
    for ax, scale in zip(axes, [0.0, 0.3]):
        futures = model.sample(cond, cost=cost if scale else None, cost_scale=scale, seed=5)
        _draw_map(ax, red=True)
        _plot_futures(ax, futures, alpha=0.3)
        ax.set_title(
            "red light, no guidance" if not scale else f"red light, cost guidance λ = {scale:g}"
        )
    axes[1].set_ylabel("")
    fig.tight_layout()
    return fig

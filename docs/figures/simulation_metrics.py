"""Figures of the Simulation metrics lesson, computed with lossbook.simulation at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Polygon

from lossbook.simulation import (
    box_corners,
    collision,
    histogram_log_likelihood,
    kinematic_infeasibility,
    offroad,
    toy_rollouts,
    toy_scene,
    wrong_way,
)

VIOLATION_COLORS = {
    "collision": "#d62728",
    "offroad": "#ff7f0e",
    "wrong-way": "#9467bd",
    "infeasible": "#8c564b",
    "clean": "#1f77b4",
}


def figure_simulation_scene():
    """The toy scene from above, each agent coloured by the violation the metrics find."""
    scene = toy_scene()
    boxes = scene["boxes"]
    flags = {
        "collision": collision(boxes),
        "offroad": offroad(boxes, drivable_area=scene["drivable_area"]),
        "wrong-way": wrong_way(scene["xy"], scene["heading"], scene["lanes"]),
        "infeasible": kinematic_infeasibility(scene["speed"], scene["heading"]),
    }
    labels = []
    for agent in range(boxes.shape[0]):
        found = [name for name, value in flags.items() if bool(value[agent].any())]
        labels.append(found[0] if found else "clean")

    fig, ax = plt.subplots(figsize=(11, 3.4))
    road = scene["drivable_area"].numpy()
    ax.add_patch(Polygon(road, closed=True, facecolor="0.92", edgecolor="0.35", lw=1.2))
    ax.axhline(0.0, color="0.6", lw=1, ls=(0, (6, 6)))  # centre line
    for lane in scene["lanes"]:
        start, end = lane.numpy()
        ax.annotate("", xy=(start[0] + 0.1 * (end[0] - start[0]), start[1]), xytext=start,
                    arrowprops={"arrowstyle": "->", "color": "0.55", "lw": 1})
    steps = (0, 15, 30)
    for agent, label in enumerate(labels):
        color = VIOLATION_COLORS[label]
        xy = scene["xy"][agent].numpy()
        ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1, alpha=0.6)
        for step, alpha in zip(steps, (0.25, 0.5, 0.9)):
            corners = box_corners(boxes[agent, step]).numpy()
            hit = label != "clean" and bool(flags[label][agent, min(step, flags[label].shape[1] - 1)])
            ax.add_patch(Polygon(corners, closed=True, facecolor=color, alpha=alpha,
                                 edgecolor="black" if hit else color, lw=1.4 if hit else 0.5))
        ax.text(xy[0, 0], xy[0, 1] + (1.6 if xy[0, 1] > 0 else -2.2), f"{agent}", ha="center",
                fontsize=9, color=color, weight="bold")
    first_hit = int(flags["collision"].any(0).nonzero()[0])
    ax.plot(*scene["xy"][:2, first_hit].mean(0).numpy(), marker="*", ms=14, color="black")
    handles = [Patch(facecolor=c, label=n) for n, c in VIOLATION_COLORS.items()]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
              fontsize=9)
    ax.set(xlim=(-12, 112), ylim=(-7, 8), aspect="equal", xlabel="x (m)", ylabel="y (m)",
           title="Generated scene: boxes at t = 0, 1.5, 3 s (outlined when flagged); ★ first contact")
    fig.tight_layout()
    return fig


def figure_realism_histogram():
    """Agent 0's simulated speeds under two policies against its logged speed."""
    log = toy_scene(violations=False)
    logged = float(log["speed"][0, 0])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    edges = np.linspace(0, 25, 21)
    for ax, (name, scale, color) in zip(axes, [("good policy", 1.0, "#2ca02c"),
                                               ("30 % too fast", 1.3, "#d62728")]):
        sims = toy_rollouts(32, seed=0, speed_scale=scale)
        ll = histogram_log_likelihood(sims["speed"], log["speed"], low=0, high=25, n_bins=20)
        ax.hist(sims["speed"][:, 0].flatten().numpy(), bins=edges, color=color, alpha=0.75,
                density=True, label="32 rollouts × 31 steps")
        ax.axvline(logged, color="black", lw=2, ls="--", label=f"logged speed {logged:g} m/s")
        ax.set(xlabel="speed of agent 0 (m/s)",
               title=f"{name}: likelihood of the log {ll[0].mean().exp().item():.3f}")
        ax.legend(frameon=False, fontsize=9, loc="upper left")
    axes[0].set_ylabel("density")
    fig.tight_layout()
    return fig

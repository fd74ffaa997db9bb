"""Figures of the Metrics lesson, computed with lossbook.metrics at build time."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Circle, Rectangle

import lossbook

BLUE, ORANGE, GREEN, GREY, RED = "#3f51b5", "#ff7043", "#2e7d32", "#9e9e9e", "#c62828"


def _detector_scores(n: int, prevalence: float, seed: int = 0):
    """A fixed detector (same score distribution per class) at a given positive rate."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, generator=g) < prevalence
    logit = torch.where(target, 1.5, -1.5) + 1.3 * torch.randn(n, generator=g, dtype=torch.float64)
    scores = torch.sigmoid(logit).mul(200).round().div(200)  # 201 levels: light SVG, ties kept
    return scores, target


def figure_threshold_tradeoff():
    scores, target = _detector_scores(20_000, 0.05, seed=1)
    precision, recall, thresholds = lossbook.precision_recall_curve(scores, target)
    f1 = 2 * precision * recall / (precision + recall)
    # the highest threshold that still finds 95% of crossing pedestrians
    safe = int(torch.nonzero(recall >= 0.95)[0])
    best = int(f1.argmax())

    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    ax.plot(thresholds, precision, color=BLUE, label="precision")
    ax.plot(thresholds, recall, color=ORANGE, label="recall")
    ax.plot(thresholds, f1, color=GREEN, linestyle="--", label="F1")
    for i, text, color in ((best, "max F1", GREEN), (safe, "recall 0.95", RED)):
        t = thresholds[i].item()
        ax.axvline(t, color=color, linewidth=1, alpha=0.7)
        ax.annotate(
            f"{text}\nt = {t:.2f}\nP = {precision[i]:.2f}, R = {recall[i]:.2f}",
            xy=(t, 0.6 if color == RED else 0.1), xytext=(6 if color == RED else -6, 0),
            textcoords="offset points", ha="left" if color == RED else "right", fontsize=9,
            color=color,
        )
    ax.set_xlabel("threshold t (predict 'crossing' when score >= t)")
    ax.set_ylabel("value")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Pedestrian crossing, 5% positives: one model, many operating points")
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.55), frameon=False)
    return fig


def figure_pr_roc_imbalance():
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 3.9))
    for prevalence, color in ((0.5, BLUE), (0.01, ORANGE)):
        scores, target = _detector_scores(20_000, prevalence, seed=2)
        fpr, tpr, _ = lossbook.roc_curve(scores, target)
        precision, recall, _ = lossbook.precision_recall_curve(scores, target)
        auc = lossbook.roc_auc(scores, target).item()
        ap = lossbook.average_precision(scores, target).item()
        label = f"{prevalence:.0%} positives"
        roc_ax.plot(fpr, tpr, color=color, label=f"{label}: ROC-AUC {auc:.3f}")
        pr_ax.step(recall, precision, where="pre", color=color, label=f"{label}: AP {ap:.3f}")
        random_scores = torch.rand(20_000, generator=torch.Generator().manual_seed(3),
                                   dtype=torch.float64)
        ap_random = lossbook.average_precision(random_scores, target).item()
        pr_ax.axhline(prevalence, color=color, linestyle=":", linewidth=1.2)
        pr_ax.annotate(f"random: AP {ap_random:.3f}", xy=(1.0, prevalence), xytext=(-4, 4),
                       textcoords="offset points", ha="right", fontsize=9, color=color)
    roc_ax.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1.2, label="random: 0.5")
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate (recall)")
    roc_ax.set_title("ROC: the same curve at any prevalence")
    pr_ax.set_xlabel("recall")
    pr_ax.set_ylabel("precision")
    pr_ax.set_title("PR: precision collapses when positives are rare")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left" if ax is pr_ax else "lower right", fontsize=8.5, frameon=False)
    fig.tight_layout()
    return fig


def _overconfident_logits(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    true_logits = 1.5 * torch.randn(n, 5, generator=g, dtype=torch.float64)
    target = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=g).squeeze(1)
    return 3.0 * true_logits, target  # the model is three times too sure of itself


def figure_reliability_diagram():
    logits, target = _overconfident_logits(6000, seed=4)
    held_out, test = slice(0, 3000), slice(3000, None)
    temperature = lossbook.fit_temperature(logits[held_out], target[held_out])
    panels = (("before: softmax(z)", 1.0), (f"after: softmax(z / {temperature:.2f})", temperature))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    n_bins = 15
    width = 1 / n_bins
    for ax, (title, t) in zip(axes, panels):
        probs = torch.softmax(logits[test] / t, dim=1)
        conf, acc, count = lossbook.reliability_bins(probs, target[test], n_bins=n_bins)
        ece = lossbook.expected_calibration_error(probs, target[test], n_bins=n_bins).item()
        centers = (torch.arange(n_bins, dtype=torch.float64) + 0.5) * width
        used = count > 0  # matplotlib is handed NumPy arrays: tensors trip a NumPy 2 deprecation
        centers, conf, acc, used = centers.numpy(), conf.numpy(), acc.numpy(), used.numpy()
        ax.bar(centers[used], acc[used], width=width, color=BLUE, alpha=0.8, edgecolor="white",
               label="accuracy in bin")
        ax.bar(centers[used], (conf - acc)[used], bottom=acc[used], width=width, color=RED,
               alpha=0.25, edgecolor=RED, linewidth=0.6, label="gap to confidence")
        ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="perfect calibration")
        ax.set_title(f"{title}\nECE = {ece:.3f}", fontsize=11)
        ax.set_xlabel("confidence (max probability), 15 bins (lo, hi]")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8.5, frameon=False)
    fig.tight_layout()
    return fig


def figure_trajectory_metrics():
    t = torch.linspace(0.1, 1.0, 10, dtype=torch.float64)
    target = torch.stack([30 * t, 0.0 * t], dim=1)  # straight ahead along +x, 30 m
    modes = torch.stack([
        torch.stack([30 * t, 4.0 * t**2], dim=1),  # drifts left: good early, off at the end
        torch.stack([26.5 * t, 0.0 * t], dim=1),  # right lane, 3.5 m short at the end
        torch.stack([22 * t, 10 * t**2], dim=1),  # a left turn
    ])
    pred, gt = modes[None], target[None]
    ade = torch.linalg.vector_norm(modes - target, dim=-1).mean(-1)
    fde = torch.linalg.vector_norm(modes[:, -1] - target[-1], dim=-1)
    waymo_k, argo_k = int(ade.argmin()), int(fde.argmin())
    speed = torch.tensor([30 / 8.0], dtype=torch.float64)  # 30 m in 8 s
    lateral, longitudinal = lossbook.waymo_miss_thresholds(speed, seconds=8)
    missed = lossbook.waymo_miss_rate(pred[:, :, -1], gt[:, -1], torch.zeros(1, dtype=torch.float64),
                                      speed, reduction="none").item()

    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.plot([0], [0], marker="*", markersize=12, color="black", linestyle="none",
            label="the agent now")
    ax.plot(target[:, 0], target[:, 1], color="black", linewidth=2.5, marker="o", markersize=3,
            label="ground truth, 8 s")
    colors = (BLUE, ORANGE, GREEN)
    for k in range(3):
        tags = []
        if k == waymo_k:
            tags.append("Waymo minADE")
        if k == argo_k:
            tags.append("Argoverse winner (min FDE)")
        tag = f" <- {', '.join(tags)}" if tags else ""
        ax.plot(modes[k, :, 0], modes[k, :, 1], color=colors[k], marker="o", markersize=3,
                label=f"mode {k}: ADE {ade[k]:.2f} m, FDE {fde[k]:.2f} m{tag}")
    end = target[-1]
    ax.add_patch(Circle((end[0].item(), end[1].item()), 2.0, fill=False, color=RED,
                        linestyle="--", label="Argoverse miss: FDE > 2 m"))
    box = Rectangle((end[0].item() - longitudinal.item(), end[1].item() - lateral.item()),
                    2 * longitudinal.item(), 2 * lateral.item(), fill=False, color=GREY,
                    linewidth=1.5,
                    label=f"Waymo 8 s hit box at {speed.item():.2f} m/s: "
                          f"±{longitudinal.item():.2f} m along, ±{lateral.item():.2f} m across")
    ax.add_patch(box)
    argo_missed = lossbook.miss_rate(pred, gt).item()
    ax.set_title(
        f"minADE {ade.min():.2f} m (Waymo) vs {ade[argo_k]:.2f} m (Argoverse), "
        f"minFDE {fde.min():.2f} m\nmissed by Argoverse (2 m): {'yes' if argo_missed else 'no'}; "
        f"by Waymo's box: {'yes' if missed else 'no'}",
        fontsize=10.5,
    )
    ax.set_xlabel("x (m), the direction of travel")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal")
    ax.set_ylim(-3, 11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8.5,
              frameon=False)
    assert math.isclose(lossbook.min_ade(pred, gt).item(), ade.min().item(), abs_tol=1e-12)
    return fig

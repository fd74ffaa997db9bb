"""Figures of the NeMo-style loss patterns lesson, computed with lossbook at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

import lossbook


def _token_weights(lengths, loss_fn, **kwargs):
    """Gradient weight each token gets, from the gradient of the loss w.r.t. per-token log-probs."""
    steps = max(lengths)
    mask = (torch.arange(steps) < torch.tensor(lengths)[:, None]).long()
    data = {
        "token_mask": mask,
        "prev_logprobs": torch.zeros(len(lengths), steps, dtype=torch.float64),
        "advantages": -torch.ones(len(lengths), steps, dtype=torch.float64),
    }
    logprobs = torch.zeros(len(lengths), steps, dtype=torch.float64)
    _, grad = lossbook.accumulate_microbatches(loss_fn, logprobs, data, **kwargs)
    return grad[:, 0].abs().numpy()  # every token of a sequence gets the same weight


def figure_token_weight_vs_length():
    """Weight of one token in the gradient, relative to the global token mean, by the length of
    its sequence: global token mean, mean of microbatch means, per-sequence mean."""
    lengths = [4, 8, 16, 32, 64, 128, 256, 512]
    total = sum(lengths)
    reference = 1.0 / total
    nll = lossbook.NLLLoss()
    schemes = [
        ("global token mean (NeMo RL, DAPO): correct",
         _token_weights(lengths, nll, num_microbatches=4), "#2ca02c", "o", "-"),
        ("mean of 4 microbatch means (the 2024 accumulation bug)",
         _token_weights(lengths, nll, num_microbatches=4, normalization="local"),
         "#d62728", "s", "--"),
        ("per-sequence mean (original GRPO)",
         _token_weights(lengths, lossbook.ClippedPGLoss(token_level=False)), "#1f77b4", "^", ":"),
    ]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, weights, color, marker, style in schemes:
        ax.plot(lengths, weights / reference, style, marker=marker, color=color, lw=1.8,
                label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.axhline(1.0, color="0.6", lw=0.8, zorder=0)
    ax.set(xlabel="valid tokens in the token's sequence",
           ylabel="weight of one token / its weight\nunder the global token mean",
           title="8 sequences, 1020 tokens: who gets the gradient")
    ax.legend(frameon=False, fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def figure_stability_monitor_negative_loss():
    """A policy-gradient-like loss that is negative, with a spike: the coefficient-of-variation
    rule calls it stable throughout; the robust z-score of StabilityMonitor flags the spike."""
    rng = np.random.default_rng(0)
    steps = np.arange(1, 201)
    loss = -0.4 - 0.002 * steps + 0.03 * rng.standard_normal(len(steps))
    loss[139] += 1.2  # one bad batch
    monitor = lossbook.StabilityMonitor(window=50, threshold=6.0, min_history=10)
    cv, flagged = [], []
    for step, value in zip(steps, loss):
        if monitor.update({"pg": float(value)}):
            flagged.append(step)
        recent = loss[max(0, step - 10):step]
        cv.append(recent.std() / recent.mean() if len(recent) >= 10 else np.nan)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.0), sharex=True)
    top.plot(steps, loss, color="#1f77b4", lw=1.2)
    top.plot(flagged, loss[np.array(flagged) - 1], "o", mfc="none", mec="#d62728", ms=10,
             mew=2, label="StabilityMonitor: spike")
    top.set(ylabel="loss", title="A negative loss with one spike")
    top.legend(frameon=False, fontsize=9)
    bottom.plot(steps, cv, color="#ff7f0e", lw=1.4, label="std / mean of the last 10 steps")
    bottom.axhline(0.5, color="0.4", ls="--", lw=1, label="common rule: stable if CV < 0.5")
    bottom.set(xlabel="step", ylabel="coefficient of variation")
    bottom.legend(frameon=False, fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig

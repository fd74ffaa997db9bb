"""Figures of the Debugging lesson, computed with lossbook.debugging at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from lossbook.debugging import grad_norm, lr_sweep


def figure_debugging_lr_curves():
    """Loss curves of one model and batch at a learning rate too low, good, and too high."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(64, 1, generator=g)
    lrs = [1e-3, 1e-1, 3.0]
    curves = lr_sweep(lambda: nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)),
                      (x, y), F.mse_loss, lrs=lrs, steps=100, optimizer="sgd")
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    styles = {1e-3: ("#1f77b4", "too low: crawls"), 1e-1: ("#2ca02c", "good"),
              3.0: ("#d62728", "too high: diverges")}
    top = 1e6
    for lr, history in curves.items():
        color, label = styles[lr]
        cut = next((i for i, h in enumerate(history) if not h <= top), len(history))
        shown = history[:cut]  # up to the first value above the axis (or NaN / inf)
        ax.plot(range(len(shown)), shown, color=color, lw=2, label=f"lr = {lr:g}  ({label})")
        if len(shown) < len(history):
            ax.annotate(f"inf at step {len(history) - 1}", xy=(len(shown) - 1, shown[-1]),
                        xytext=(len(shown) + 8, top / 10), color=color,
                        arrowprops={"arrowstyle": "->", "color": color})
    ax.set_ylim(1e-3, top)
    ax.set(yscale="log", xlabel="step (SGD, one batch)", ylabel="training loss (MSE)",
           title="Same model, same batch, three learning rates")
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_debugging_grad_norms():
    """Per-layer gradient norms of a 10-layer MLP with sigmoid vs ReLU activations."""
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(1))
    y = torch.randn(64, 1, generator=torch.Generator().manual_seed(2))
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    for activation, color in [(nn.Sigmoid, "#d62728"), (nn.ReLU, "#1f77b4")]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            layers = []
            for _ in range(10):
                layers += [nn.Linear(32, 32), activation()]
            model = nn.Sequential(*layers, nn.Linear(32, 1))
        F.mse_loss(model(x), y).backward()
        per_layer, _ = grad_norm(model)
        weights = [g for name, g in per_layer.items() if name.endswith("weight")]
        ax.plot(range(1, len(weights) + 1), weights, marker="o", color=color,
                label=activation.__name__)
    ax.set(yscale="log", xlabel="layer (1 = input side)", ylabel="‖∂loss/∂W‖",
           title="Gradient norm per layer, 10-layer MLP at initialisation")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _train_val_curves(n_train, *, steps=200, seed=0):
    """Full-batch Adam on a noisy 1-D regression; train and validation MSE at every step."""
    g = torch.Generator().manual_seed(seed)

    def data(n):
        x = torch.rand(n, 1, generator=g) * 6 - 3
        return x, torch.sin(x) + 0.3 * torch.randn(n, 1, generator=g)

    (x, y), (x_val, y_val) = data(n_train), data(300)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                              nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train, val = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        train.append(loss.item())
        with torch.no_grad():
            val.append(F.mse_loss(model(x_val), y_val).item())
    return train, val


def figure_debugging_train_val():
    """Train and validation loss of one model on 400 vs 12 training examples."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, (n, title) in zip(axes, [(400, "400 examples: both fall together"),
                                     (12, "12 examples: the model memorises")]):
        train, val = _train_val_curves(n)
        ax.plot(train, color="#1f77b4", lw=2, label="train")
        ax.plot(val, color="#d62728", lw=2, label="validation")
        ax.axhline(0.09, color="0.5", lw=1, ls="--", label="noise floor (0.3²)")
        ax.set(yscale="log", xlabel="step", title=title)
    axes[0].set_ylabel("MSE")
    axes[0].legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig

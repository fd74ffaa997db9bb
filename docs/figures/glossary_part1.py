"""Figures of the Loss glossary, part 1 (regression, probabilistic, GANs), computed with lossbook."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

import lossbook


def _loss_and_grad(fn, r):
    """Per-element loss of residual r (pred - target, target 0) and its derivative."""
    pred = r.clone().requires_grad_(True)
    loss = fn(pred, torch.zeros_like(r))
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    return loss.detach(), grad


def figure_regression_losses():
    """MSE, MAE, Huber and quantile losses against the residual, and their gradients."""
    r = torch.linspace(-3, 3, 601, dtype=torch.float64)
    curves = [
        ("½ squared error", lambda p, t: 0.5 * (p - t) ** 2, "-", "#1f77b4"),
        ("absolute error", lambda p, t: (p - t).abs(), "-", "#2ca02c"),
        ("Huber, δ = 1", lambda p, t: lossbook.huber_loss(p, t, delta=1.0, reduction="none"), "-",
         "#d62728"),
        ("Huber, δ = 0.3", lambda p, t: lossbook.huber_loss(p, t, delta=0.3, reduction="none"),
         "--", "#d62728"),
        ("quantile, τ = 0.9", lambda p, t: lossbook.quantile_loss(p, t, quantile=0.9,
                                                                  reduction="none"), "-", "#ff7f0e"),
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, fn, style, color in curves:
        loss, grad = _loss_and_grad(fn, r)
        left.plot(r, loss, style, color=color, lw=1.8, label=label)
        right.plot(r, grad, style, color=color, lw=1.8, label=label)
    left.set(xlabel="residual  $\\hat y - y$", ylabel="loss", ylim=(0, 3.2), title="Loss")
    right.set(xlabel="residual  $\\hat y - y$", ylabel="d loss / d prediction", ylim=(-2.2, 2.2),
              title="Gradient: what an outlier pulls with")
    right.axhline(0, color="0.6", lw=0.8)
    left.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def _gaussian_logits(grid, mu, log_sigma):
    # log-density on the grid up to a constant: fine as categorical logits
    return -0.5 * ((grid - mu) / log_sigma.exp()) ** 2 - log_sigma


def figure_forward_reverse_kl():
    """A single Gaussian fitted to a bimodal target by forward and by reverse KL."""
    grid = torch.linspace(-6, 6, 241, dtype=torch.float64)
    target = torch.logaddexp(
        _gaussian_logits(grid, torch.tensor(-2.0), torch.tensor(0.6).log()) + torch.tensor(0.6).log(),
        _gaussian_logits(grid, torch.tensor(2.2), torch.tensor(0.6).log()) + torch.tensor(0.4).log(),
    )
    p = torch.softmax(target, 0)
    fits = {}
    # forward KL over Gaussians is minimised by moment matching (the page shows it with code)
    mean = (p * grid).sum()
    fits["forward"] = torch.softmax(_gaussian_logits(grid, mean, 0.5 * ((p * (grid - mean) ** 2).sum()).log()), 0)
    # reverse KL has no closed form: gradient descent from slightly right of the centre
    mu = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(-0.5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        lossbook.kl_divergence(_gaussian_logits(grid, mu, log_sigma), target).backward()  # KL(Q||P)
        opt.step()
    fits["reverse"] = torch.softmax(_gaussian_logits(grid, mu, log_sigma).detach(), 0)
    dx = (grid[1] - grid[0]).item()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.fill_between(grid, p / dx, color="0.85", label="target P (bimodal)")
    ax.plot(grid, fits["forward"] / dx, color="#1f77b4", lw=2,
            label="argmin KL(P‖Q): mode-covering")
    ax.plot(grid, fits["reverse"] / dx, "--", color="#d62728", lw=2,
            label="argmin KL(Q‖P): mode-seeking")
    ax.set(xlabel="x", ylabel="density", title="Fitting one Gaussian Q to two modes")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def figure_gan_generator_gradients():
    """Gradient of the saturating and non-saturating generator losses against D(G(z))."""
    logit = torch.linspace(-8, 8, 401, dtype=torch.float64)
    d = torch.sigmoid(logit)
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for saturating, label, style in ((True, "saturating  log(1 − D)", "--"),
                                     (False, "non-saturating  −log D", "-")):
        t = logit.clone().requires_grad_(True)
        # sum of per-sample losses: each sample's own gradient w.r.t. its logit
        (grad,) = torch.autograd.grad(
            lossbook.gan_generator_loss(t, saturating=saturating) * len(t), t
        )
        ax.plot(d, grad.abs(), style, lw=2, label=label)
    ax.axvspan(0, 0.1, color="0.9", zorder=0)
    ax.text(0.05, 0.5, "early training:\nD rejects fakes", ha="center", fontsize=9)
    ax.set(xlabel="D(G(z)): discriminator's probability that a fake is real",
           ylabel="|d loss / d logit|", title="Generator gradient", ylim=(0, 1.05))
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def figure_l1_l2_geometry():
    """Least squares in 2-D constrained to an L1 ball and an L2 ball of the same radius."""
    w0 = torch.tensor([2.0, 0.4], dtype=torch.float64)  # unconstrained optimum
    a = torch.tensor([[1.0, 0.5], [0.5, 1.5]], dtype=torch.float64)  # loss curvature

    def loss(w):  # (w - w0)^T A (w - w0) for a batch of points [N, 2]
        d = w - w0
        return ((d @ a) * d).sum(-1)

    angle = torch.linspace(0, 2 * torch.pi, 4001, dtype=torch.float64)
    circle = torch.stack([angle.cos(), angle.sin()], 1)
    balls = {
        "L1 ball  |w₁| + |w₂| ≤ 1": circle / circle.abs().sum(1, keepdim=True),
        "L2 ball  w₁² + w₂² ≤ 1": circle,
    }
    grid = torch.linspace(-1.6, 3.0, 121, dtype=torch.float64)
    gx, gy = torch.meshgrid(grid, grid, indexing="xy")
    levels = loss(torch.stack([gx, gy], -1).reshape(-1, 2)).reshape(gx.shape)

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, (name, boundary) in zip(axes, balls.items()):
        best = boundary[loss(boundary).argmin()]  # the optimum lies on the boundary here
        touching = loss(best[None]).item()  # the level set that touches the ball
        ax.contour(gx, gy, levels, levels=[0.05, 0.3, 0.8, 1.5, 2.5], colors="0.75", linewidths=0.8)
        ax.contour(gx, gy, levels, levels=[touching], colors="#d62728", linewidths=1.0)
        ax.fill(boundary[::8, 0], boundary[::8, 1], color="#1f77b4", alpha=0.25)
        ax.plot(*w0, "k+", ms=10)
        ax.plot(*best, "o", color="#d62728", ms=7)
        ax.annotate(f"w* = ({best[0]:.2f}, {best[1]:.2f})", best, xytext=(10, -18),
                    textcoords="offset points", fontsize=9, color="#d62728")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.set(title=name, xlabel="w₁", ylabel="w₂", aspect="equal",
               xlim=(-1.6, 3.0), ylim=(-1.6, 2.0))
    fig.tight_layout()
    return fig

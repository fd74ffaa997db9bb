"""The katas of the lesson `diffusion-basics.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randint, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _q_sample_reference(x0, t, noise, alphas_cumprod):
    from ... import diffusion

    return diffusion.q_sample(x0, t, noise, alphas_cumprod)


def _ddpm_alphas_cumprod() -> torch.Tensor:
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def _q_sample_cases() -> list[Case]:
    g = gen(59)
    ab = _ddpm_alphas_cumprod()
    return [
        Case("B=4 vectors of 3, random t", (randn(g, 4, 3), randint(g, 1000, 4), randn(g, 4, 3), ab)),
        Case(
            "square batch: B = D = 4 (a [B] coefficient must not broadcast along features)",
            (randn(g, 4, 4), torch.tensor([0, 250, 500, 999]), randn(g, 4, 4), ab),
            hint="alphas_cumprod[t] has shape [B]; reshape it to [B, 1, ...] (one value per"
            " sample) before multiplying: with B == D a [B] vector silently broadcasts along"
            " the feature axis instead.",
        ),
        Case(
            "trajectories [B, T, 2] with t = 0 and t = 999",
            (randn(g, 2, 8, 2), torch.tensor([0, 999]), randn(g, 2, 8, 2), ab),
            hint="x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps: square roots of the"
            " cumulative product, not alpha_bar itself.",
        ),
        Case("gradient with respect to x0 and noise",
             (randn(g, 3, 5), randint(g, 1000, 3), randn(g, 3, 5), ab), grad=("x0", "noise")),
    ]


register(
    Kata(
        name="q_sample",
        title="Diffusion forward process in one shot: q_sample",
        signature="q_sample(x0, t, noise, alphas_cumprod)",
        returns="x_t, a tensor shaped like x0",
        task=(
            "Noise clean data to step t directly: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t)"
            " eps. t holds one 0-indexed timestep per sample; alphas_cumprod is the [T] cumulative"
            " product of (1 - beta). x0 may have any number of feature dimensions."
        ),
        shapes=("x0, noise: [B, ...] float", "t: [B] int64 in [0, T)",
                "alphas_cumprod: [T] float", "output: [B, ...]"),
        hint="Gather alphas_cumprod[t] and reshape it to [B, 1, 1, ...] so it scales each sample.",
        library="lossbook.diffusion.q_sample",
        reference=_q_sample_reference,
        cases=_q_sample_cases,
        lesson="diffusion-basics.md#forward-noising-and-the-closed-form",
        imports="import torch",
        mistakes=(
            Mistake(
                "the coefficients are alpha_bar_t and 1 - alpha_bar_t; take their square roots"
                " (the variances must add up to 1).",
                lambda x0, t, noise, ab: ab[t].view(-1, *[1] * (x0.ndim - 1)) * x0
                + (1 - ab[t].view(-1, *[1] * (x0.ndim - 1))) * noise,
            ),
            Mistake(
                "the [B] coefficient broadcast along the last (feature) axis; reshape it to"
                " [B, 1, ...].",
                lambda x0, t, noise, ab: ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * noise,
            ),
        ),
    )
)

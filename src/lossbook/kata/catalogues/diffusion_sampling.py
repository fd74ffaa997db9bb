"""The katas of the lesson `diffusion-sampling.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _ab() -> torch.Tensor:
    return torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)


def _ddim_step_reference(eps, x_t, t, t_prev, alphas_cumprod, eta=0.0, noise=None):
    from ... import diffusion

    return diffusion.ddim_step(eps, x_t, t, t_prev, alphas_cumprod, eta=eta, noise=noise)


def _ddim_step_cases() -> list[Case]:
    g = gen(71)
    ab = _ab()
    return [
        Case(
            "deterministic jump 999 -> 899 (eta = 0)",
            (randn(g, 4, 3), randn(g, 4, 3), 999, 899, ab, 0.0, None),
        ),
        Case(
            "eta = 1 over a jump 600 -> 400, noise given",
            (randn(g, 3, 2), randn(g, 3, 2), 600, 400, ab, 1.0, randn(g, 3, 2)),
            hint="sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev), and the"
            " direction term is sqrt(1 - ab_prev - sigma^2) * eps.",
        ),
        Case(
            "the last step: t = 20 -> t_prev = -1 (the clean data)",
            (randn(g, 2, 5), randn(g, 2, 5), 20, -1, ab, 0.0, None),
            hint="t_prev = -1 means alpha_bar_prev = 1; alphas_cumprod[-1] is the noisiest entry.",
        ),
        Case(
            "eta = 0.5, gradient with respect to eps",
            (randn(g, 3, 4), randn(g, 3, 4), 300, 100, ab, 0.5, randn(g, 3, 4)),
            grad=("eps",),
        ),
    ]


def _buggy_step(eps, x_t, t, t_prev, ab, eta, noise, *, wrap=False, posterior=True, room=True):
    """A DDIM step with one of the usual mistakes switched on."""
    a_t = ab[t]
    a_p = ab[t_prev] if (t_prev >= 0 or wrap) else torch.ones_like(a_t)
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    factor = ((1 - a_p) / (1 - a_t)).sqrt() if posterior else 1.0
    sigma = eta * factor * (1 - a_t / a_p).sqrt()
    out = a_p.sqrt() * x0 + ((1 - a_p - sigma**2) if room else (1 - a_p)).sqrt() * eps
    return out + sigma * noise if eta > 0 else out


register(
    Kata(
        name="ddim_step",
        title="One DDIM step with eta",
        signature="ddim_step(eps, x_t, t, t_prev, alphas_cumprod, eta=0.0, noise=None)",
        returns="x at t_prev, shaped like x_t",
        task=(
            "Given the predicted noise eps at integer timestep t, jump to an earlier t_prev (t_prev = -1"
            " is the clean data). eta = 0 is deterministic; eta > 0 adds sigma * noise with the DDIM"
            " sigma. alphas_cumprod is the [T] cumulative product; t and t_prev are Python ints."
        ),
        shapes=("eps, x_t, noise: [B, ...] float", "alphas_cumprod: [T]", "output: [B, ...]"),
        hint="Predict x0 from eps, then rebuild x at t_prev from x0 and eps with the variances of"
        " t_prev, leaving room for sigma^2 of fresh noise.",
        library="lossbook.diffusion.ddim_step",
        reference=_ddim_step_reference,
        cases=_ddim_step_cases,
        lesson="diffusion-sampling.md#ddim",
        imports="import torch",
        mistakes=(
            Mistake(
                "at t_prev = -1, alphas_cumprod[t_prev] wraps around to the noisiest entry; the"
                " clean end has alpha_bar = 1.",
                lambda *a: _buggy_step(*a, wrap=True),
            ),
            Mistake(
                "sigma is missing the factor sqrt((1 - ab_prev) / (1 - ab_t)): sqrt(1 - ab_t / ab_prev)"
                " alone is the noise of the forward jump, not of the reverse posterior.",
                lambda *a: _buggy_step(*a, posterior=False),
            ),
            Mistake(
                "the direction term is sqrt(1 - ab_prev - sigma^2) * eps: leave room for the fresh"
                " noise, or x at t_prev has too much variance.",
                lambda *a: _buggy_step(*a, room=False),
            ),
        ),
    )
)


def _min_snr_reference(snr, gamma=5.0, parameterization="eps"):
    from ... import diffusion

    return diffusion.min_snr_weight(snr, gamma=gamma, parameterization=parameterization)


def _min_snr_cases() -> list[Case]:
    ab = _ab()
    snr = ab / (1 - ab)
    t = torch.tensor([0, 50, 200, 400, 700, 999])
    return [
        Case("eps-prediction over the schedule", (snr[t].float(), 5.0, "eps")),
        Case(
            "v-prediction over the schedule",
            (snr[t].float(), 5.0, "v"),
            hint="The v error is (SNR + 1) times the x0 error: divide min(SNR, gamma) by SNR + 1.",
        ),
        Case("x0-prediction, gamma = 1", (snr[t].float(), 1.0, "x0")),
        Case(
            "v-prediction at SNR around gamma, gradient",
            (torch.tensor([4.0, 4.5, 5.0, 5.5, 6.0]), 5.0, "v"),
            grad=("snr",),
        ),
    ]


register(
    Kata(
        name="min_snr_weight",
        title="Min-SNR-gamma loss weights for eps, x0 and v",
        signature='min_snr_weight(snr, gamma=5.0, parameterization="eps")',
        returns="a weight per sample, shaped like snr",
        task=(
            "Return the min-SNR-gamma weight that multiplies each sample's MSE when the model"
            " predicts eps, x0 or v. The weighting is min(SNR, gamma) on the x0 error, whatever"
            " the parameterisation."
        ),
        shapes=("snr: [B] float, > 0", "output: [B]"),
        hint="Write each parameterisation's squared error as a multiple of the x0 error.",
        library="lossbook.diffusion.min_snr_weight",
        reference=_min_snr_reference,
        cases=_min_snr_cases,
        lesson="diffusion-sampling.md#min-snr-weighting",
        imports="import torch",
        mistakes=(
            Mistake(
                "for v-prediction the divisor is SNR + 1, not SNR: the v error is (SNR + 1) times"
                " the x0 error.",
                lambda snr, gamma=5.0, p="eps": snr.clamp(max=gamma) / (snr if p != "x0" else 1.0),
            ),
            Mistake(
                "adding 1 to the eps weight is not the v weight; divide min(SNR, gamma) by SNR + 1.",
                lambda snr, gamma=5.0, p="eps": (
                    snr.clamp(max=gamma) / snr + (p == "v") if p != "x0" else snr.clamp(max=gamma)
                ),
            ),
            Mistake(
                "clamp the SNR itself: min(SNR, gamma) / (SNR + 1), not min(SNR + 1, gamma) / (SNR + 1).",
                lambda snr, gamma=5.0, p="eps": (
                    (snr + 1).clamp(max=gamma) / (snr + 1)
                    if p == "v"
                    else snr.clamp(max=gamma) / (snr if p == "eps" else 1.0)
                ),
            ),
        ),
    )
)

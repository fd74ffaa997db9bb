r"""Denoising diffusion (DDPM) and flow matching: schedules, forward noising, training losses,
parameterisation conversions, the reverse step, sampling and classifier-free guidance.

Conventions used throughout (0-indexed, as arrays are):

- `betas[t]`, `t = 0 .. T-1`; `alphas_cumprod[t]` $= \bar\alpha_t = \prod_{s \le t}(1 - \beta_s)$.
  Array index `t` is step `t + 1` of the DDPM paper, which counts $1 \dots T$ with $x_0$ the clean
  data: `q_sample` at `t = 0` has already noised the data once (so does DDPM's reference code).
- $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ (`q_sample`).
- A denoiser is called `model(x_t, t)`, or `model(x_t, t, cond)` when a condition is given, where
  `t` is a `[B]` integer (long) tensor of timesteps, and returns a tensor shaped like `x_t`.
- Schedules are float64 by default; per-sample coefficients are gathered and cast to the dtype of
  the data, so a float32 model still gets coefficients computed in float64.

The package, by concern (every public name is importable from ``lossbook.diffusion``):

- ``schedules``: the linear and cosine beta schedules, $\bar\alpha_t$;
- ``parameterisation``: the forward process `q_sample` and the $\varepsilon$/$x_0$/$v$
  conversions;
- ``losses``: the DDPM training loss and flow matching;
- ``sampling``: the DDPM step and sampler with guidance, flow-matching sampling;
- ``ddim``: timestep respacing, the DDIM step and sampler;
- ``weighting``: the SNR, min-SNR-$\gamma$ weights, EDM's preconditioning and loss weight.
"""

# In the order of the concerns (the API reference lists the members in this order).
# isort: off
from .schedules import linear_beta_schedule, cosine_beta_schedule, alphas_cumprod
from .parameterisation import (
    q_sample,
    x0_from_eps,
    eps_from_x0,
    v_from_x0_eps,
    x0_from_v,
    eps_from_v,
)
from .losses import diffusion_loss, flow_matching_loss
from .sampling import cfg_combine, ddpm_step, ddpm_sample, flow_matching_sample
from .ddim import respaced_timesteps, ddim_step, ddim_sample
from .weighting import snr, min_snr_weight, edm_precondition, edm_loss_weight
# isort: on

__all__ = [
    "alphas_cumprod",
    "cfg_combine",
    "cosine_beta_schedule",
    "ddim_sample",
    "ddim_step",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_loss",
    "edm_loss_weight",
    "edm_precondition",
    "eps_from_v",
    "eps_from_x0",
    "flow_matching_loss",
    "flow_matching_sample",
    "linear_beta_schedule",
    "min_snr_weight",
    "q_sample",
    "respaced_timesteps",
    "snr",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
]

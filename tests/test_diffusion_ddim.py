"""DDIM and loss weighting (lossbook.diffusion.ddim, lossbook.diffusion.weighting).

References: diffusers' DDIMScheduler through a regenerated fixture
(tests/fixtures/make_ddim_fixture.py, its version recorded in the JSON), DDPM's posterior variance
evaluated independently, the min-SNR weights of the official Min-SNR code and of diffusers'
training examples written out in float64, and EDM's Table 1 formulas.
"""

import json
import math
from pathlib import Path

import pytest
import torch

import lossbook

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "ddim_diffusers.json").read_text())
AB = torch.tensor(FIXTURE["alphas_cumprod"], dtype=torch.float32)
PRED = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def test_fixture_records_its_reference():
    assert FIXTURE["diffusers"] and FIXTURE["torch"].startswith("2.")
    assert FIXTURE["scheduler"]["clip_sample"] is False


@pytest.mark.parametrize(
    "row",
    FIXTURE["timesteps"],
    ids=lambda r: f"T{r['T']}-S{r['steps']}-{r['spacing']}-o{r['offset']}",
)
def test_respaced_timesteps_equal_diffusers(row):
    got = lossbook.respaced_timesteps(
        row["T"], row["steps"], spacing=row["spacing"], offset=row["offset"]
    )
    assert got.dtype == torch.long
    assert got.tolist() == row["timesteps"]


def test_leading_misses_the_last_step_and_trailing_starts_there():
    lead = lossbook.respaced_timesteps(1000, 10, spacing="leading")
    trail = lossbook.respaced_timesteps(1000, 10, spacing="trailing")
    assert int(lead[0]) == 900 and int(trail[0]) == 999 and int(trail[-1]) == 99


def _shaped(row, key):
    return torch.tensor(row[key], dtype=torch.float32).reshape(2, 3)


@pytest.mark.parametrize(
    "row",
    FIXTURE["steps"],
    ids=lambda r: f"{r['prediction_type']}-{r['spacing']}-t{r['t']}-eta{r['eta']}",
)
def test_ddim_step_equals_diffusers(row):
    got = lossbook.ddim_step(
        _shaped(row, "model_output"),
        _shaped(row, "x_t"),
        row["t"],
        max(row["t_prev"], -1),
        AB,
        eta=row["eta"],
        noise=_shaped(row, "noise"),
        parameterization=PRED[row["prediction_type"]],
    )
    torch.testing.assert_close(got, _shaped(row, "prev_sample"), rtol=1e-5, atol=1e-5)


def test_ddim_sample_equals_the_diffusers_loop():
    loop = FIXTURE["loop"]
    got = lossbook.ddim_sample(
        lambda x, t: loop["model_scale"] * x,
        tuple(loop["shape"]),
        AB,
        steps=loop["steps"],
        spacing=loop["spacing"],
        generator=torch.Generator().manual_seed(loop["seed"]),
    )
    want = torch.tensor(loop["samples"]).reshape(loop["shape"])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_eta_one_over_one_step_is_ddpm_posterior_variance():
    """eta = 1 and t_prev = t - 1: the noise scale is DDPM's posterior std sqrt(beta~_t)."""
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(100))
    x, eps, z = torch.randn(
        3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    ).unbind(0)
    t = 60
    with_z = lossbook.ddim_step(eps[None], x[None], t, t - 1, ab, eta=1.0, noise=z[None])
    without = lossbook.ddim_step(
        eps[None], x[None], t, t - 1, ab, eta=1.0, noise=torch.zeros(1, 5, dtype=torch.float64)
    )
    a_t, a_p = float(ab[t]), float(ab[t - 1])
    beta = 1 - a_t / a_p
    posterior_std = math.sqrt(beta * (1 - a_p) / (1 - a_t))
    torch.testing.assert_close(
        (with_z - without) / z[None], torch.full((1, 5), posterior_std, dtype=torch.float64)
    )
    # ... and the mean is DDPM's posterior mean: ddpm_step with the posterior variance, no noise
    ddpm_mean = lossbook.ddpm_step(
        eps[None],
        x[None],
        t,
        ab,
        variance="posterior",
        noise=torch.zeros(1, 5, dtype=torch.float64),
    )
    torch.testing.assert_close(without, ddpm_mean)


def test_eta_zero_keeps_marginals_on_gaussian_data():
    """Deterministic DDIM with the exact eps of N(0, 2^2) data lands near std 2 with many steps."""
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))

    def exact(x, t):
        a = ab[t].float()[:, None]
        return (1 - a).sqrt() * x / (4 * a + 1 - a)

    few = lossbook.ddim_sample(
        exact, (4000, 1), ab, steps=5, generator=torch.Generator().manual_seed(0)
    )
    many = lossbook.ddim_sample(
        exact, (4000, 1), ab, steps=200, generator=torch.Generator().manual_seed(0)
    )
    assert abs(many.std().item() - 2.0) < 0.08
    assert few.std().item() < 1.7  # the first-order solver's bias with 5 steps


def test_last_step_uses_alpha_bar_one_not_the_last_entry():
    ab = AB.double()
    x, eps = torch.randn(
        2, 1, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    ).unbind(0)
    x0 = lossbook.x0_from_eps(x, torch.tensor([3]), eps, ab)
    torch.testing.assert_close(lossbook.ddim_step(eps, x, 3, -1, ab), x0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t": 5, "t_prev": 5}, "t_prev"),
        ({"t": 5, "t_prev": -2}, "t_prev"),
        ({"t": 50, "t_prev": 0}, r"t: expected a timestep in \[0, 49\]"),
        ({"t": 5, "t_prev": 1, "eta": -0.5}, "eta"),
        ({"t": 5, "t_prev": 1, "parameterization": "score"}, "parameterization"),
    ],
)
def test_ddim_step_bad_input(kwargs, match):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=match):
        lossbook.ddim_step(x, x, alphas_cumprod=AB, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((1000, 0), {}, "steps"),
        ((10, 11), {}, r"steps: expected a number of sampling steps in \[1, 10\]"),
        ((1000, 10), {"spacing": "uniform"}, "spacing"),
        ((1000, 10), {"spacing": "trailing", "offset": 1}, "offset"),
        ((10, 10), {"offset": 1}, "offset: expected timesteps below T = 10"),
    ],
)
def test_respaced_timesteps_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lossbook.respaced_timesteps(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# Loss weighting
# ------------------------------------------------------------------------------------------


def _errors(param, t, ab, seed=0):
    """The per-sample MSE of a wrong eps prediction, expressed in each parameterisation."""
    g = torch.Generator().manual_seed(seed)
    x0, eps, eps_hat = torch.randn(3, len(t), 6, dtype=torch.float64, generator=g).unbind(0)
    x_t = lossbook.q_sample(x0, t, eps, ab)
    x0_hat = lossbook.x0_from_eps(x_t, t, eps_hat, ab)
    v, v_hat = (
        lossbook.v_from_x0_eps(x0, eps, t, ab),
        lossbook.v_from_x0_eps(x0_hat, eps_hat, t, ab),
    )
    return {
        "eps": (eps - eps_hat).square().mean(1),
        "x0": (x0 - x0_hat).square().mean(1),
        "v": (v - v_hat).square().mean(1),
    }


def test_snr_equals_formula():
    ab = lossbook.alphas_cumprod(lossbook.cosine_beta_schedule(50))
    torch.testing.assert_close(lossbook.snr(ab), ab / (1 - ab))


def test_parameterisation_losses_are_snr_weightings_of_one_another():
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))
    t = torch.tensor([0, 10, 250, 500, 900, 999])
    s = lossbook.snr(ab)[t]
    e = _errors("eps", t, ab)
    torch.testing.assert_close(e["eps"], s * e["x0"])
    torch.testing.assert_close(e["v"], (s + 1) * e["x0"])


@pytest.mark.parametrize("param", ["eps", "x0", "v"])
def test_min_snr_weight_is_one_weighting_in_every_parameterisation(param):
    """w_param * MSE_param == min(SNR, gamma) * MSE_x0 (the definition, in x0 space)."""
    ab = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))
    t = torch.tensor([0, 10, 150, 400, 900, 999])
    s = lossbook.snr(ab)[t]
    e = _errors(param, t, ab, seed=3)
    w = lossbook.min_snr_weight(s, gamma=5.0, parameterization=param)
    torch.testing.assert_close(w * e[param], s.clamp(max=5.0) * e["x0"])


def test_min_snr_weight_equals_reference_code_formula():
    """Written as the official Min-SNR code (eps, x0) and diffusers' examples (v) write it."""
    s = torch.tensor([1e-4, 0.3, 1.0, 4.99, 5.0, 5.01, 80.0, 1e4], dtype=torch.float64)
    k = 5.0
    m = torch.stack([s, k * torch.ones_like(s)], dim=1).min(dim=1)[0]
    torch.testing.assert_close(lossbook.min_snr_weight(s), m / s)
    torch.testing.assert_close(lossbook.min_snr_weight(s, parameterization="x0"), m)
    torch.testing.assert_close(lossbook.min_snr_weight(s, parameterization="v"), m / (s + 1))


def test_edm_preconditioning_table_1():
    sigma = torch.tensor([0.002, 0.1, 0.5, 1.0, 80.0], dtype=torch.float64)
    sd = 0.5
    c_skip, c_out, c_in, c_noise = lossbook.edm_precondition(sigma, sigma_data=sd)
    torch.testing.assert_close(c_skip, sd**2 / (sigma**2 + sd**2))
    torch.testing.assert_close(c_out, sigma * sd / (sigma**2 + sd**2) ** 0.5)
    torch.testing.assert_close(c_in, 1 / (sd**2 + sigma**2) ** 0.5)
    torch.testing.assert_close(c_noise, torch.log(sigma) / 4)
    torch.testing.assert_close(lossbook.edm_loss_weight(sigma, sigma_data=sd), 1 / c_out**2)


def test_edm_effective_target_has_unit_variance():
    """With y ~ N(0, sd^2): c_in x and the network target (y - c_skip x) / c_out have variance 1."""
    g = torch.Generator().manual_seed(4)
    sd = 0.5
    y = sd * torch.randn(200_000, dtype=torch.float64, generator=g)
    n = torch.randn(200_000, dtype=torch.float64, generator=g)
    for s in (0.05, 0.5, 5.0):
        sigma = torch.tensor(s, dtype=torch.float64)
        c_skip, c_out, c_in, _ = lossbook.edm_precondition(sigma, sigma_data=sd)
        x = y + s * n
        assert abs((c_in * x).var().item() - 1) < 0.02
        assert abs(((y - c_skip * x) / c_out).var().item() - 1) < 0.02


@pytest.mark.parametrize(
    "fn, args, kwargs, match",
    [
        (lossbook.min_snr_weight, (torch.tensor([1.0, 0.0]),), {}, "snr"),
        (lossbook.min_snr_weight, (torch.tensor([1.0]),), {"gamma": 0.0}, "gamma"),
        (
            lossbook.min_snr_weight,
            (torch.tensor([1.0]),),
            {"parameterization": "score"},
            "parameterization",
        ),
        (lossbook.edm_precondition, (torch.tensor([0.0]),), {}, "sigma"),
        (lossbook.edm_loss_weight, (torch.tensor([1.0]),), {"sigma_data": -1.0}, "sigma_data"),
        (lossbook.snr, (torch.tensor([0.5, 1.0]),), {}, "alphas_cumprod"),
    ],
)
def test_weighting_bad_input(fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)

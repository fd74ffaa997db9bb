"""lossbook.diffusion: schedules against the check values in references.md, the forward process,
parameterisation round trips, the losses against hand-written formulas, the reverse step against
the Gaussian posterior, samplers against closed-form denoisers, gradients and bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook
from lossbook import (
    alphas_cumprod,
    cfg_combine,
    cosine_beta_schedule,
    ddpm_sample,
    ddpm_step,
    diffusion_loss,
    eps_from_v,
    eps_from_x0,
    flow_matching_loss,
    flow_matching_sample,
    linear_beta_schedule,
    q_sample,
    v_from_x0_eps,
    x0_from_eps,
    x0_from_v,
)

AB = alphas_cumprod(linear_beta_schedule(1000))


# ---------------------------------------------------------------- schedules (references.md)


def test_linear_schedule_check_values():
    expected = {0: 0.9999, 99: 0.8970181457, 249: 0.5240853738, 499: 0.0785872429}
    for t, value in expected.items():
        assert AB[t].item() == pytest.approx(value, abs=5e-11)
    assert AB[999].item() == pytest.approx(4.035830e-05, rel=1e-6)
    assert AB.dtype == torch.float64


def test_linear_schedule_matches_numpy_cumprod():
    betas = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(AB.numpy(), np.cumprod(1 - betas), rtol=1e-12)


def test_cosine_schedule_check_values():
    betas = cosine_beta_schedule(1000)
    assert betas.dtype == torch.float64
    assert betas[0].item() == pytest.approx(4.128422e-05, rel=1e-6)
    assert betas[999].item() == 0.999
    assert alphas_cumprod(betas)[499].item() == pytest.approx(0.4938435904, abs=5e-11)


def test_cosine_alpha_bar_follows_the_cosine_formula():
    T, s = 200, 0.008
    ab = alphas_cumprod(cosine_beta_schedule(T))
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    for t in (0, 10, 100, 150):  # before the clip at 0.999 becomes active
        assert ab[t].item() == pytest.approx(f((t + 1) / T) / f(0), rel=1e-10)


def test_float32_schedule_still_computed_in_float64():
    b32 = linear_beta_schedule(1000, dtype=torch.float32)
    ab32 = alphas_cumprod(b32)
    assert ab32.dtype == torch.float32
    # error is the float32 rounding of the betas and the result only, not a 1000-term float32 product
    assert torch.allclose(ab32.double(), AB, rtol=2e-6)


def test_schedule_T_equals_one():
    assert linear_beta_schedule(1).tolist() == [1e-4]
    assert cosine_beta_schedule(1).shape == (1,)


# ---------------------------------------------------------------- forward process


def test_q_sample_formula_and_per_sample_coefficients():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 3, 2, generator=gen, dtype=torch.float64)
    eps = torch.randn(4, 3, 2, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 999])
    out = q_sample(x0, t, eps, AB)
    for i in range(4):
        a = AB[t[i]].item()
        expected = math.sqrt(a) * x0[i] + math.sqrt(1 - a) * eps[i]
        torch.testing.assert_close(out[i], expected)


def test_q_sample_statistics():
    # x0 fixed at 2: x_t ~ N(2 sqrt(ab), 1 - ab)
    gen = torch.Generator().manual_seed(1)
    n = 200_000
    t = torch.full((n,), 249)
    x0 = torch.full((n, 1), 2.0, dtype=torch.float64)
    xt = q_sample(x0, t, torch.randn(n, 1, generator=gen, dtype=torch.float64), AB)
    a = AB[249].item()
    assert xt.mean().item() == pytest.approx(2 * math.sqrt(a), abs=0.01)
    assert xt.var().item() == pytest.approx(1 - a, rel=0.02)
    # standard-normal data stays standard normal at every t (variance preserving)
    x0 = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    xt = q_sample(
        x0, torch.full((n,), 700), torch.randn(n, 1, generator=gen, dtype=torch.float64), AB
    )
    assert xt.var().item() == pytest.approx(1.0, rel=0.02)


def test_q_sample_keeps_dtype_and_uses_float64_coefficients():
    x0 = torch.ones(1, 1)
    out = q_sample(x0, torch.tensor([0]), torch.zeros(1, 1), AB)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(math.sqrt(0.9999), rel=1e-7)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(0, 999), seed=st.integers(0, 2**16))
def test_parameterisation_round_trips(t, seed):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    eps = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    tt = torch.full((3,), t)
    xt = q_sample(x0, tt, eps, AB)
    v = v_from_x0_eps(x0, eps, tt, AB)
    torch.testing.assert_close(
        x0_from_eps(xt, tt, eps, AB), x0, rtol=1e-7, atol=1e-7 / math.sqrt(AB[t].item())
    )
    torch.testing.assert_close(
        eps_from_x0(xt, tt, x0, AB), eps, rtol=1e-7, atol=1e-6 / math.sqrt(1 - AB[t].item())
    )
    torch.testing.assert_close(x0_from_v(xt, tt, v, AB), x0)
    torch.testing.assert_close(eps_from_v(xt, tt, v, AB), eps)
    # v is a rotation: |x_t|^2 + |v|^2 = |x0|^2 + |eps|^2
    torch.testing.assert_close(xt.square() + v.square(), x0.square() + eps.square())


# ---------------------------------------------------------------- losses


class Linear(torch.nn.Module):
    def __init__(self, d, dtype=torch.float64):
        super().__init__()
        self.lin = torch.nn.Linear(d + 1, d, dtype=dtype)

    def forward(self, x, t, cond=None):
        feats = torch.cat([x, t[:, None].to(x.dtype) / 1000], dim=1)
        out = self.lin(feats)
        return out if cond is None else out + cond


def test_diffusion_loss_equals_hand_written_formula():
    torch.manual_seed(0)
    model = Linear(4)
    x0, noise = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    t = torch.tensor([0, 3, 100, 500, 998, 999])
    a = AB[t][:, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    pred = model(xt, t)
    per = ((pred - noise) ** 2).mean(1)
    torch.testing.assert_close(diffusion_loss(model, x0, AB, t=t, noise=noise), per.mean())
    torch.testing.assert_close(
        diffusion_loss(model, x0, AB, t=t, noise=noise, reduction="sum"), per.sum()
    )
    torch.testing.assert_close(
        diffusion_loss(model, x0, AB, t=t, noise=noise, reduction="none"), per
    )
    # the x0 and v targets
    per_x0 = ((pred - x0) ** 2).mean(1)
    torch.testing.assert_close(
        diffusion_loss(model, x0, AB, t=t, noise=noise, parameterization="x0"), per_x0.mean()
    )
    v = a.sqrt() * noise - (1 - a).sqrt() * x0
    torch.testing.assert_close(
        diffusion_loss(model, x0, AB, t=t, noise=noise, parameterization="v"),
        ((pred - v) ** 2).mean(1).mean(),
    )
    # cond is passed through as the third argument
    cond = torch.ones(6, 4, dtype=torch.float64)
    torch.testing.assert_close(
        diffusion_loss(model, x0, AB, t=t, noise=noise, cond=cond), ((pred + 1 - noise) ** 2).mean()
    )


def test_diffusion_loss_random_draws_follow_the_generator():
    model = Linear(2)
    x0 = torch.randn(8, 2, dtype=torch.float64)
    l1 = diffusion_loss(model, x0, AB, generator=torch.Generator().manual_seed(3))
    l2 = diffusion_loss(model, x0, AB, generator=torch.Generator().manual_seed(3))
    l3 = diffusion_loss(model, x0, AB, generator=torch.Generator().manual_seed(4))
    assert l1.item() == l2.item() != l3.item()


def test_diffusion_loss_of_the_exact_denoiser_is_the_irreducible_error():
    # data N(0, 1): E[eps | x_t] = sqrt(1 - ab) x_t, residual variance ab
    exact = lambda x, t: (1 - AB[t])[:, None].sqrt().to(x.dtype) * x
    gen = torch.Generator().manual_seed(0)
    n = 100_000
    x0 = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    t = torch.full((n,), 300)
    loss = diffusion_loss(exact, x0, AB, t=t, generator=gen)
    assert loss.item() == pytest.approx(AB[300].item(), rel=0.02)


def test_flow_matching_loss_formula():
    torch.manual_seed(0)
    model = Linear(3)
    x1, x0 = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=torch.float64)
    xt = (1 - t[:, None]) * x0 + t[:, None] * x1
    per = ((model(xt, t * 1000) - (x1 - x0)) ** 2).mean(1)  # Linear divides t by 1000

    def field(x, tt):
        return model(x, tt * 1000)

    torch.testing.assert_close(flow_matching_loss(field, x1, x0=x0, t=t), per.mean())
    torch.testing.assert_close(flow_matching_loss(field, x1, x0=x0, t=t, reduction="none"), per)


def test_flow_matching_sample_transports_noise_to_the_target():
    # for data N(m, 1) and noise N(0, 1) the straight-path field is exactly v = m
    m = torch.tensor([3.0, -1.0])
    x = flow_matching_sample(
        lambda x, t: m.expand_as(x),
        (20_000, 2),
        steps=3,
        generator=torch.Generator().manual_seed(0),
    )
    torch.testing.assert_close(x.mean(0), m, atol=0.03, rtol=0)


def test_gradcheck_losses():
    model = Linear(3)
    t = torch.tensor([5, 600])
    noise = torch.randn(2, 3, dtype=torch.float64)
    x0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: diffusion_loss(model, x, AB, t=t, noise=noise), (x0,))
    assert torch.autograd.gradcheck(
        lambda x: diffusion_loss(model, x, AB, t=t, noise=noise, parameterization="v"), (x0,)
    )
    tf = torch.tensor([0.3, 0.8], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: flow_matching_loss(model, x, x0=noise, t=tf), (x0,))
    xt = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: x0_from_eps(a, t, b, AB), (xt, eps))
    assert torch.autograd.gradcheck(lambda a, b: ddpm_step(b, a, 600, AB, noise=noise), (xt, eps))


# ---------------------------------------------------------------- reverse step and sampling


@pytest.mark.parametrize("t", [1, 50, 999])
def test_ddpm_step_mean_is_the_gaussian_posterior_mean(t):
    gen = torch.Generator().manual_seed(t)
    xt = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    eps = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    x0_hat = x0_from_eps(xt, torch.full((4,), t), eps, AB)
    ab_t, ab_prev = AB[t].item(), AB[t - 1].item()
    beta = 1 - ab_t / ab_prev
    # q(x_{t-1} | x_t, x0): mean = c0 x0 + ct x_t  (Ho et al. eq. 7)
    c0 = math.sqrt(ab_prev) * beta / (1 - ab_t)
    ct = math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab_t)
    zero = torch.zeros_like(xt)
    torch.testing.assert_close(ddpm_step(eps, xt, t, AB, noise=zero), c0 * x0_hat + ct * xt)
    z = torch.ones_like(xt)
    diff = ddpm_step(eps, xt, t, AB, noise=z) - ddpm_step(eps, xt, t, AB, noise=zero)
    torch.testing.assert_close(diff, torch.full_like(xt, math.sqrt(beta)))
    diff = ddpm_step(eps, xt, t, AB, noise=z, variance="posterior") - ddpm_step(
        eps, xt, t, AB, noise=zero
    )
    torch.testing.assert_close(
        diff, torch.full_like(xt, math.sqrt(beta * (1 - ab_prev) / (1 - ab_t)))
    )


def test_ddpm_step_at_t0_returns_x0_hat_without_noise():
    xt, eps = torch.randn(3, 2), torch.randn(3, 2)
    out = ddpm_step(eps, xt, 0, AB, noise=torch.full_like(xt, 100.0))
    torch.testing.assert_close(out, x0_from_eps(xt, torch.zeros(3, dtype=torch.long), eps, AB))


def _exact_gaussian_denoiser(ab, mean, std):
    # data N(mean, std^2) per coordinate: E[eps | x_t] in closed form
    def model(x, t, cond=None):
        a = ab[t].to(x.dtype)[:, None]
        m = mean if cond is None else cond
        var_t = a * std**2 + 1 - a
        return (1 - a).sqrt() * (x - a.sqrt() * m) / var_t

    return model


def test_ddpm_sample_recovers_a_gaussian():
    ab = alphas_cumprod(cosine_beta_schedule(200))
    model = _exact_gaussian_denoiser(ab, 1.5, 0.5)
    x = ddpm_sample(model, (20_000, 1), ab, generator=torch.Generator().manual_seed(0))
    assert x.mean().item() == pytest.approx(1.5, abs=0.02)
    assert x.std().item() == pytest.approx(0.5, abs=0.03)
    x2, path = ddpm_sample(
        model, (5, 1), ab, generator=torch.Generator().manual_seed(0), return_path=True
    )
    assert path.shape == (201, 5, 1)
    torch.testing.assert_close(path[-1], x2)


def test_classifier_free_guidance_extrapolates():
    torch.testing.assert_close(
        cfg_combine(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 1.0]), 2.5),
        torch.tensor([3.5, 1.0]),
    )
    ab = alphas_cumprod(cosine_beta_schedule(100))
    base = _exact_gaussian_denoiser(ab, 0.0, 0.3)

    def model(x, t, cond):  # cond 1: data at +1, cond 0 (null): data at 0
        return base(x, t, cond.to(x.dtype))

    B = 4000
    cond, null = torch.ones(B, 1), torch.zeros(B, 1)
    means = [
        ddpm_sample(
            model,
            (B, 1),
            ab,
            cond=cond,
            uncond=null,
            guidance_scale=s,
            generator=torch.Generator().manual_seed(0),
        )
        .mean()
        .item()
        for s in (0.0, 1.0, 2.0)
    ]
    assert means[0] == pytest.approx(0.0, abs=0.03)
    assert means[1] == pytest.approx(1.0, abs=0.03)
    assert means[2] > 1.3  # guidance past the condition


def test_cost_guidance_moves_samples_towards_low_cost():
    ab = alphas_cumprod(cosine_beta_schedule(100))
    model = _exact_gaussian_denoiser(ab, 0.0, 1.0)
    gen = lambda: torch.Generator().manual_seed(0)
    free = ddpm_sample(model, (2000, 1), ab, generator=gen())
    cost = lambda x0: (x0[:, 0] - 2.0).square()
    guided = ddpm_sample(model, (2000, 1), ab, generator=gen(), cost=cost, cost_scale=1.0)
    assert abs(free.mean().item()) < 0.1
    assert guided.mean().item() > 0.7


# ---------------------------------------------------------------- bad input


def test_top_level_exports():
    for name in ("q_sample", "diffusion_loss", "flow_matching_loss", "ddpm_sample", "cfg_combine"):
        assert getattr(lossbook, name) is getattr(lossbook.diffusion, name)


def test_sampler_checks_the_schedule_once_yet_catches_a_change_mid_loop():
    # ddpm_sample checks alphas_cumprod's values on entering its loop, not at each of its T steps;
    # a schedule changed in place during the loop is still caught by the next step's check.
    ab = alphas_cumprod(cosine_beta_schedule(20))
    exact = _exact_gaussian_denoiser(ab, 0.0, 1.0)

    def tampering(x, t):
        if int(t[0]) == 10:
            ab[5] = 1.5  # in place: bumps the tensor's version counter
        return exact(x, t)

    with pytest.raises(ValueError, match=r"alphas_cumprod: expected values in the open interval"):
        ddpm_sample(tampering, (4, 1), ab, generator=torch.Generator().manual_seed(0))
    # after the loop the schedule is checked in full again, wherever it is used
    with pytest.raises(ValueError, match=r"alphas_cumprod: expected values in the open interval"):
        q_sample(torch.zeros(1, 1), torch.tensor([0]), torch.zeros(1, 1), ab)

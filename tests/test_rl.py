"""RL losses against independent references: NeMo RL's check values, Python loops, closed forms."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as L

gen = lambda seed: torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- PPO


def ppo_reference(ratio, adv, eps_low=0.2, eps_high=0.2, dual=None):
    """Per-token clipped loss in plain Python floats, straight from the paper's min form."""
    out = []
    for r, a in zip(ratio, adv):
        clipped = min(max(r, 1 - eps_low), 1 + eps_high)
        loss = -min(r * a, clipped * a)
        if dual is not None and a < 0:
            loss = min(loss, -dual * a)
        out.append(loss)
    return out


def test_ppo_nemo_check_values():
    ratio = torch.tensor([0.5, 1.0, 1.5])
    adv = torch.tensor([1.0, -1.0, 2.0])
    loss = L.ppo_clip_loss(ratio.log(), torch.zeros(3), adv, clip_eps=0.2)
    assert loss.item() == pytest.approx(-0.633333, abs=1e-5)
    capped = L.ppo_clip_loss(torch.tensor([math.log(10.0)]), torch.zeros(1), torch.tensor([-4.0]),
                             dual_clip=3.0)
    assert capped.item() == pytest.approx(12.0)
    uncapped = L.ppo_clip_loss(torch.tensor([math.log(10.0)]), torch.zeros(1), torch.tensor([-4.0]))
    assert uncapped.item() == pytest.approx(40.0)


@pytest.mark.parametrize("eps_high,dual", [(None, None), (0.28, None), (None, 3.0), (0.5, 2.0)])
def test_ppo_matches_loop(eps_high, dual):
    g = gen(1)
    logp = torch.randn(64, dtype=torch.float64, generator=g) * 0.5
    old = torch.randn(64, dtype=torch.float64, generator=g) * 0.5
    adv = torch.randn(64, dtype=torch.float64, generator=g) * 3
    ours = L.ppo_clip_loss(logp, old, adv, clip_eps=0.2, clip_eps_high=eps_high, dual_clip=dual,
                           reduction="none")
    ref = ppo_reference((logp - old).exp().tolist(), adv.tolist(), 0.2,
                        0.2 if eps_high is None else eps_high, dual)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_ppo_mask_reductions():
    g = gen(2)
    logp, old, adv = (torch.randn(3, 5, generator=g) for _ in range(3))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    full = L.ppo_clip_loss(logp, old, adv, reduction="none")
    expected_sum = (full * mask).sum()
    assert torch.allclose(L.ppo_clip_loss(logp, old, adv, mask=mask, reduction="sum"), expected_sum)
    assert torch.allclose(L.ppo_clip_loss(logp, old, adv, mask=mask.bool()), expected_sum / 9)
    none = L.ppo_clip_loss(logp, old, adv, mask=mask, reduction="none")
    assert torch.equal(none[mask == 0], torch.zeros(6))
    empty = L.ppo_clip_loss(logp, old, adv, mask=torch.zeros(3, 5, dtype=torch.bool))
    assert empty.item() == 0.0


def test_ppo_padding_garbage_gives_no_nan():
    logp = torch.tensor([-1.0, -math.inf], requires_grad=True)
    old = torch.tensor([-1.2, -math.inf])
    loss = L.ppo_clip_loss(logp, old, torch.tensor([1.0, 1.0]), mask=torch.tensor([True, False]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logp.grad).all()
    assert logp.grad[1] == 0


@settings(max_examples=40)
@given(
    log_ratio=st.floats(-0.18, 0.16),  # inside [log 0.8, log 1.2]
    adv=st.floats(-10, 10),
)
def test_ppo_inside_clip_is_plain_surrogate(log_ratio, adv):
    logp = torch.tensor([log_ratio], dtype=torch.float64, requires_grad=True)
    loss = L.ppo_clip_loss(logp, torch.zeros(1, dtype=torch.float64),
                           torch.tensor([adv], dtype=torch.float64))
    loss.backward()
    r = math.exp(log_ratio)
    assert loss.item() == pytest.approx(-adv * r, abs=1e-12)
    assert logp.grad.item() == pytest.approx(-adv * r, abs=1e-12)  # d(-A r)/d log r = -A r


@settings(max_examples=40)
@given(log_ratio=st.floats(0.2, 30), adv=st.floats(0.01, 10))
def test_ppo_clipped_side_has_zero_gradient(log_ratio, adv):
    # A > 0 and r > 1 + eps: the objective is flat, even for ratios that would overflow exp.
    logp = torch.tensor([log_ratio], requires_grad=True)
    loss = L.ppo_clip_loss(logp, torch.zeros(1), torch.tensor([adv]))
    loss.backward()
    assert loss.item() == pytest.approx(-1.2 * adv, rel=1e-6)
    assert logp.grad.item() == 0.0


@settings(max_examples=30)
@given(adv=st.floats(-10, 10), shift=st.floats(-50, 50))
def test_ppo_depends_only_on_log_ratio(adv, shift):
    logp = torch.tensor([-1.0, -2.0, -0.5], dtype=torch.float64)
    old = torch.tensor([-1.1, -1.7, -0.9], dtype=torch.float64)
    a = torch.full((3,), adv, dtype=torch.float64)
    base = L.ppo_clip_loss(logp, old, a, reduction="none")
    shifted = L.ppo_clip_loss(logp + shift, old + shift, a, reduction="none")
    assert torch.allclose(base, shifted, atol=1e-9)


def test_ppo_extreme_inputs_finite():
    g = gen(3)
    logp = (-1e4 * torch.rand(1000, generator=g)).requires_grad_()
    old = -1e4 * torch.rand(1000, generator=g)
    adv = 10 * torch.randn(1000, generator=g)
    loss = L.ppo_clip_loss(logp, old, adv, dual_clip=3.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logp.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        lp = logp.detach().to(dtype).requires_grad_()
        out = L.ppo_clip_loss(lp, old.to(dtype), adv.to(dtype), dual_clip=3.0)
        out.backward()
        assert out.dtype == dtype and torch.isfinite(out) and torch.isfinite(lp.grad).all()


def test_ppo_gradcheck_and_detached_inputs():
    g = gen(4)
    logp = (0.3 * torch.randn(6, dtype=torch.float64, generator=g)).requires_grad_()
    old = 0.3 * torch.randn(6, dtype=torch.float64, generator=g)
    adv = torch.randn(6, dtype=torch.float64, generator=g)
    assert torch.autograd.gradcheck(
        lambda x: L.ppo_clip_loss(x, old, adv, dual_clip=3.0, clip_eps_high=0.3), (logp,))
    old_g, adv_g = old.clone().requires_grad_(), adv.clone().requires_grad_()
    L.ppo_clip_loss(logp, old_g, adv_g).backward()
    assert old_g.grad is None and adv_g.grad is None


# ----------------------------------------------------------------------------- REINFORCE


def test_reinforce_values_and_mask():
    logp = torch.tensor([[-0.5, -1.0], [-2.0, -0.1]])
    ret = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    base = torch.tensor([[0.5, 0.5], [1.0, 1.0]])
    expected = -(ret - base) * logp
    assert torch.allclose(L.reinforce_loss(logp, ret, baseline=base, reduction="none"), expected)
    mask = torch.tensor([[True, False], [True, True]])
    got = L.reinforce_loss(logp, ret, baseline=base, mask=mask)
    assert got.item() == pytest.approx(float(expected[mask].mean()))


def test_reinforce_baseline_leaves_expected_gradient_unchanged():
    # Exact expectation over a categorical policy: E_a[(G(a) - b) grad log pi(a)] = E_a[G(a) grad log pi(a)].
    logits = torch.tensor([0.3, -1.0, 0.8, 0.0], dtype=torch.float64, requires_grad=True)
    returns = torch.tensor([1.0, 5.0, -2.0, 0.5], dtype=torch.float64)

    def expected_grad(baseline):
        logits.grad = None
        logp = torch.log_softmax(logits, 0)
        per_action = L.reinforce_loss(logp, returns, baseline=baseline, reduction="none")
        (logp.exp().detach() * per_action).sum().backward()
        return logits.grad.clone()

    plain = expected_grad(None)
    with_baseline = expected_grad(torch.full((4,), 3.7, dtype=torch.float64))
    assert torch.allclose(plain, with_baseline, atol=1e-12)
    # And the result is the true gradient of -E[G].
    logits.grad = None
    (-(torch.softmax(logits, 0) * returns).sum()).backward()
    assert torch.allclose(plain, logits.grad, atol=1e-12)


# ----------------------------------------------------------------------------- GAE


def gae_loop(rewards, values, dones, gamma, lam):
    """Forward-looking definition: A_t = sum_k (gamma lam)^k delta_{t+k}, stopping at an episode end."""
    T = len(rewards)
    deltas = [
        rewards[t] + gamma * (0.0 if dones[t] else values[t + 1]) - values[t] for t in range(T)
    ]
    out = []
    for t in range(T):
        total, discount = 0.0, 1.0
        for k in range(t, T):
            total += discount * deltas[k]
            if dones[k]:
                break
            discount *= gamma * lam
        out.append(total)
    return out


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.0), (1.0, 1.0), (0.5, 0.7)])
def test_gae_matches_forward_sum(gamma, lam):
    g = gen(6)
    rewards = torch.randn(3, 12, dtype=torch.float64, generator=g)
    values = torch.randn(3, 13, dtype=torch.float64, generator=g)
    dones = torch.rand(3, 12, generator=g) < 0.2
    ours = L.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=lam, dones=dones)
    for b in range(3):
        ref = gae_loop(rewards[b].tolist(), values[b].tolist(), dones[b].tolist(), gamma, lam)
        np.testing.assert_allclose(ours[b].numpy(), ref, rtol=1e-12, atol=1e-12)
        single = L.generalized_advantage_estimate(rewards[b], values[b], gamma=gamma, lam=lam,
                                                  dones=dones[b])
        assert torch.allclose(single, ours[b])


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 1.0))
def test_gae_lambda_one_is_return_minus_value(seed, gamma):
    g = gen(seed)
    rewards = torch.randn(7, dtype=torch.float64, generator=g)
    values = torch.randn(8, dtype=torch.float64, generator=g)
    adv = L.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=1.0)
    returns, running = [], values[-1].item()  # bootstrapped discounted return
    for r in reversed(rewards.tolist()):
        running = r + gamma * running
        returns.append(running)
    expected = torch.tensor(returns[::-1], dtype=torch.float64) - values[:-1]
    assert torch.allclose(adv, expected, atol=1e-10)
    td = L.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=0.0)
    assert torch.allclose(td, rewards + gamma * values[1:] - values[:-1], atol=1e-12)


def test_gae_has_no_gradient():
    values = torch.zeros(4, requires_grad=True)
    adv = L.generalized_advantage_estimate(torch.ones(3), values)
    assert not adv.requires_grad


# ----------------------------------------------------------------------------- TD


def test_td_loss_mse_and_huber():
    v = torch.tensor([1.0, 0.0, 3.0], requires_grad=True)
    r = torch.tensor([1.0, 1.0, 0.0])
    nv = torch.tensor([2.0, 5.0, 0.0], requires_grad=True)
    done = torch.tensor([0, 1, 0])
    target = torch.tensor([1.0 + 0.9 * 2.0, 1.0, 0.0])
    mse = L.td_loss(v, r, nv, gamma=0.9, dones=done)
    assert mse.item() == pytest.approx(F.mse_loss(v, target).item())
    huber = L.td_loss(v, r, nv, gamma=0.9, dones=done, kind="huber", reduction="sum")
    assert huber.item() == pytest.approx(F.smooth_l1_loss(v, target, reduction="sum").item())
    huber.backward()
    assert nv.grad is None  # semi-gradient: the bootstrap target is a constant


# ----------------------------------------------------------------------------- QR-DQN


def quantile_huber_loop(theta, y, kappa):
    n, m = len(theta), len(y)
    total = 0.0
    for i in range(n):
        tau = (2 * i + 1) / (2 * n)
        for j in range(m):
            u = y[j] - theta[i]
            if kappa == 0:
                rho = abs(u)
            else:
                rho = 0.5 * u * u if abs(u) <= kappa else kappa * (abs(u) - 0.5 * kappa)
                rho /= kappa
            total += abs(tau - (u < 0)) * rho / m
    return total


@pytest.mark.parametrize("kappa", [0.0, 0.5, 1.0, 3.0])
def test_quantile_huber_matches_loop(kappa):
    g = gen(8)
    theta = torch.randn(4, 5, dtype=torch.float64, generator=g)
    y = 2 * torch.randn(4, 7, dtype=torch.float64, generator=g)
    ours = L.quantile_huber_loss(theta, y, kappa=kappa, reduction="none")
    ref = [quantile_huber_loop(theta[b].tolist(), y[b].tolist(), kappa) for b in range(4)]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12)


def test_quantile_loss_minimised_at_empirical_quantiles():
    g = gen(9)
    y = torch.randn(1, 401, dtype=torch.float64, generator=g) ** 3  # skewed, heavy-tailed
    taus = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    best = torch.quantile(y[0], taus, interpolation="lower")[None]
    at_best = L.quantile_huber_loss(best, y, taus=taus, kappa=0.0)
    for i in range(3):
        for step in (-0.05, 0.05):
            moved = best.clone()
            moved[0, i] += step
            assert L.quantile_huber_loss(moved, y, taus=taus, kappa=0.0) > at_best


# ----------------------------------------------------------------------------- SAC


def test_sac_losses():
    logp = torch.tensor([-1.0, 0.5], requires_grad=True)
    q = torch.tensor([2.0, 1.0], requires_grad=True)
    actor = L.sac_actor_loss(logp, q, alpha=torch.tensor(0.5, requires_grad=True))
    assert actor.item() == pytest.approx(((0.5 * -1.0 - 2.0) + (0.5 * 0.5 - 1.0)) / 2)
    actor.backward()
    assert torch.allclose(q.grad, torch.tensor([-0.5, -0.5]))  # gradient flows through Q(s, a~)

    q = torch.tensor([1.0, 3.0], requires_grad=True)
    r = torch.tensor([1.0, 0.0])
    nq = torch.tensor([2.0, 4.0], requires_grad=True)
    nlogp = torch.tensor([-1.0, -2.0])
    critic = L.sac_critic_loss(q, r, nq, nlogp, gamma=0.5, alpha=0.2, dones=torch.tensor([0, 1]),
                               reduction="none")
    target = torch.tensor([1.0 + 0.5 * (2.0 + 0.2), 0.0])
    assert torch.allclose(critic, (q - target) ** 2)
    critic.sum().backward()
    assert nq.grad is None


def test_sac_temperature_direction():
    log_alpha = torch.tensor(0.0, requires_grad=True)
    # entropy -log pi = 0.5 < target 1.0: alpha must grow (gradient negative)
    L.sac_temperature_loss(log_alpha, torch.full((8,), -0.5), target_entropy=1.0).backward()
    assert log_alpha.grad < 0
    log_alpha.grad = None
    L.sac_temperature_loss(log_alpha, torch.full((8,), -3.0), target_entropy=1.0).backward()
    assert log_alpha.grad > 0


# ----------------------------------------------------------------------------- KL estimators


def test_kl_estimators_values():
    p = torch.tensor([0.5, 0.2])
    q = torch.tensor([0.25, 0.4])
    logr = (q / p).log()
    k1 = L.kl_penalty(p.log(), q.log(), estimator="k1", reduction="none")
    k2 = L.kl_penalty(p.log(), q.log(), estimator="k2", reduction="none")
    k3 = L.kl_penalty(p.log(), q.log(), estimator="k3", reduction="none")
    assert torch.allclose(k1, -logr)
    assert torch.allclose(k2, logr**2 / 2)
    assert torch.allclose(k3, q / p - 1 - logr)


def test_kl_estimators_unbiased_in_expectation():
    # Exact expectation over a categorical: E_pi[k1] = E_pi[k3] = KL(pi || ref); k2 is biased.
    g = gen(12)
    pi = torch.softmax(torch.randn(6, dtype=torch.float64, generator=g), 0)
    ref = torch.softmax(torch.randn(6, dtype=torch.float64, generator=g), 0)
    true_kl = (pi * (pi / ref).log()).sum()
    for est in ("k1", "k3"):
        value = (pi * L.kl_penalty(pi.log(), ref.log(), estimator=est, reduction="none")).sum()
        assert value.item() == pytest.approx(true_kl.item(), rel=1e-12)
    k2 = (pi * L.kl_penalty(pi.log(), ref.log(), estimator="k2", reduction="none")).sum()
    assert abs(k2.item() - true_kl.item()) > 1e-4


def test_kl_gradients_as_losses():
    # On-policy, grad E[k2] = grad KL(pi||ref); grad E[k3] = grad KL(ref||pi); grad E[k1] = 0.
    g = gen(13)
    logits = torch.randn(5, dtype=torch.float64, generator=g).requires_grad_()
    ref = torch.softmax(torch.randn(5, dtype=torch.float64, generator=g), 0)

    def surrogate_grad(est):
        logits.grad = None
        logp = torch.log_softmax(logits, 0)
        per = L.kl_penalty(logp, ref.log(), estimator=est, reduction="none")
        (logp.exp().detach() * per).sum().backward()  # E_pi with the sampling distribution fixed
        return logits.grad.clone()

    def true_grad(fn):
        logits.grad = None
        fn(torch.softmax(logits, 0)).backward()
        return logits.grad.clone()

    reverse = true_grad(lambda p: (p * (p / ref).log()).sum())
    forward = true_grad(lambda p: (ref * (ref / p).log()).sum())
    assert torch.allclose(surrogate_grad("k2"), reverse, atol=1e-12)
    assert torch.allclose(surrogate_grad("k3"), forward, atol=1e-12)
    assert torch.allclose(surrogate_grad("k1"), torch.zeros(5, dtype=torch.float64), atol=1e-12)


@settings(max_examples=30)
@given(logp=st.floats(-30, 0), logp_ref=st.floats(-30, 0))
def test_k3_non_negative(logp, logp_ref):
    k3 = L.kl_penalty(torch.tensor([logp], dtype=torch.float64),
                      torch.tensor([logp_ref], dtype=torch.float64), reduction="sum")
    assert k3.item() >= 0.0


def test_kl_extreme_clamp_mask_gradcheck():
    logp = torch.tensor([-1e4, -1.0, 0.0], requires_grad=True)
    ref = torch.tensor([0.0, -1e4, -3.0])
    out = L.kl_penalty(logp, ref, clamp=20.0)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(logp.grad).all()
    assert torch.isinf(L.kl_penalty(logp.detach(), ref))  # the warning the clamp exists for
    mask = torch.tensor([True, False, True])
    assert L.kl_penalty(logp, ref, estimator="k1", mask=mask).item() == pytest.approx((-1e4 + 3) / 2)
    x = torch.randn(4, dtype=torch.float64, generator=gen(14)).requires_grad_()
    y = torch.randn(4, dtype=torch.float64, generator=gen(15))
    for est in ("k1", "k2", "k3"):
        assert torch.autograd.gradcheck(lambda a, est=est: L.kl_penalty(a, y, estimator=est), (x,))


# ----------------------------------------------------------------------------- extremes, batches


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rl_losses_finite_at_extremes(dtype):
    x = torch.tensor([-1e4, 1e4, 0.0, -3.0], dtype=dtype)
    y = torch.tensor([1e4, -1e4, 1e-3, 2.0], dtype=dtype)
    checks = {
        "reinforce": lambda a: L.reinforce_loss(a, y, baseline=x.detach()),
        "td mse": lambda a: L.td_loss(a, y, x.detach(), gamma=0.99),
        "td huber": lambda a: L.td_loss(a, y, x.detach(), kind="huber"),
        "quantile huber": lambda a: L.quantile_huber_loss(a[None], y[None]),
        "sac actor": lambda a: L.sac_actor_loss(a, y),
        "sac critic": lambda a: L.sac_critic_loss(a, y, x.detach(), x.detach()),
        "kl k1": lambda a: L.kl_penalty(a, y, estimator="k1"),
        "kl k2": lambda a: L.kl_penalty(a, y, estimator="k2"),
        "kl k3 clamped": lambda a: L.kl_penalty(a, y, clamp=20.0),
    }
    for name, fn in checks.items():
        a = x.clone().requires_grad_()
        out = fn(a)
        out.backward()
        assert torch.isfinite(out.float()) and torch.isfinite(a.grad.float()).all(), name
    adv = L.generalized_advantage_estimate(y, torch.cat([x, x[:1]]), gamma=0.99, lam=0.95)
    assert torch.isfinite(adv.float()).all()


@settings(max_examples=15)
@given(eps=st.floats(0.01, 0.9))
def test_ppo_symmetric_clip_equals_explicit_high(eps):
    g = gen(30)
    logp, old, adv = torch.randn(3, 20, dtype=torch.float64, generator=g)
    assert torch.equal(L.ppo_clip_loss(logp, old, adv, clip_eps=eps, reduction="none"),
                       L.ppo_clip_loss(logp, old, adv, clip_eps=eps, clip_eps_high=eps,
                                       reduction="none"))

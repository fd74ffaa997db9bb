"""lossbook.policy_gradient, simpo_loss and the offline-RL losses against independent references:
Python loops over the papers' formulas, TRL v1.9.0's and NeMo RL's (commit 7ea279a) expressions
re-typed in float64, torch built-ins, and exact expectations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook as L

f64 = {"dtype": torch.float64}


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- RLOO


def test_rloo_matches_a_loop_and_trl():
    g = gen(0)
    rewards = torch.randn(12, generator=g, **f64)
    G = 4
    expected = []
    for k in range(0, 12, G):
        grp = rewards[k:k + G].tolist()
        for i, r in enumerate(grp):
            others = [x for j, x in enumerate(grp) if j != i]
            expected.append(r - sum(others) / len(others))
    assert torch.allclose(L.rloo_advantages(rewards, group_size=G), torch.tensor(expected, **f64))
    # TRL v1.9.0 RLOOTrainer: baselines = (grouped_sum - grouped_rewards) / (G - 1)
    grouped = rewards.view(-1, G)
    trl = (grouped - (grouped.sum(1, keepdim=True) - grouped) / (G - 1)).view(-1)
    assert torch.allclose(L.rloo_advantages(rewards, group_size=G), trl)


@pytest.mark.parametrize("G", [2, 3, 8])
def test_rloo_is_grpo_centred_times_g_over_g_minus_1(G):
    rewards = torch.randn(4 * G, generator=gen(G), **f64)
    centred = L.grpo_advantages(rewards, group_size=G, scale_rewards=False)
    assert torch.allclose(L.rloo_advantages(rewards, group_size=G), centred * G / (G - 1))


def test_rloo_baseline_is_unbiased_exactly():
    # One prompt, Bernoulli(p) rewards, p = sigmoid(theta): the exact expected update of
    # (1/G) sum_i A_i d log pi(o_i) / d theta equals the true gradient p (1 - p) for RLOO only.
    G, p = 4, 0.3
    total = 0.0
    for bits in range(2 ** G):
        r = torch.tensor([(bits >> i) & 1 for i in range(G)], **f64)
        prob = math.prod(p if x else 1 - p for x in r.tolist())
        score = torch.where(r == 1, 1 - p, -p)
        total += prob * (L.rloo_advantages(r, group_size=G) * score).sum().item() / G
    assert total == pytest.approx(p * (1 - p), rel=1e-12)


def test_rloo_no_gradient_and_errors():
    r = torch.tensor([1.0, 0.0, 1.0, 0.0], requires_grad=True)
    assert not L.rloo_advantages(r, group_size=2).requires_grad
    with pytest.raises(ValueError, match="group_size"):
        L.rloo_advantages(r, group_size=1)
    with pytest.raises(ValueError, match="rewards"):
        L.rloo_advantages(r, group_size=3)


# ----------------------------------------------------------------------------- REINFORCE++


def test_reinforce_pp_matches_numpy():
    r = torch.randn(16, generator=gen(1), **f64)
    a = r.numpy()
    expected = (a - a.mean()) / (a.std(ddof=1) + 1e-8)
    assert np.allclose(L.reinforce_pp_advantages(r).numpy(), expected)
    grouped = a.reshape(-1, 4)
    centred = (grouped - grouped.mean(1, keepdims=True)).reshape(-1)
    expected = (centred - centred.mean()) / (centred.std(ddof=1) + 1e-8)
    assert np.allclose(L.reinforce_pp_advantages(r, group_size=4).numpy(), expected)


# ----------------------------------------------------------------------------- value loss


def value_loss_reference(v, old, ret, eps):
    out = []
    for a, b, c in zip(v, old, ret):
        clipped = b + min(max(a - b, -eps), eps)
        out.append(max((a - c) ** 2, (clipped - c) ** 2))
    return out


def test_ppo_value_loss_matches_loop_and_nemo():
    g = gen(2)
    v, old, ret = (2 * torch.randn(3, 40, generator=g, **f64)).unbind()
    got = L.ppo_value_loss(v, old, ret, clip_range=0.3, reduction="none")
    assert torch.allclose(got, torch.tensor(value_loss_reference(v.tolist(), old.tolist(),
                                                                  ret.tolist(), 0.3), **f64))
    # NeMo RL MseValueLossFn (7ea279a): 0.5 * masked_mean(max(unclipped, clipped))
    vpred_clipped = torch.clamp(v, old - 0.3, old + 0.3)
    nemo = 0.5 * torch.max((v - ret) ** 2, (vpred_clipped - ret) ** 2).mean()
    assert torch.allclose(0.5 * L.ppo_value_loss(v, old, ret, clip_range=0.3), nemo)
    assert torch.allclose(L.ppo_value_loss(v, old, ret), F.mse_loss(v, ret))


def test_ppo_value_loss_gradient_vanishes_past_the_band_towards_the_target():
    old, ret = torch.tensor([0.0], **f64), torch.tensor([5.0], **f64)
    for v0, grad_zero in ((0.1, False), (0.5, True), (6.0, True), (-0.5, False), (-9.0, False)):
        v = torch.tensor([v0], **f64, requires_grad=True)
        L.ppo_value_loss(v, old, ret, clip_range=0.2).backward()
        assert (v.grad.abs().item() == 0.0) == grad_zero, v0


def test_ppo_value_loss_mask():
    v = torch.tensor([[1.0, 2.0, 9.0]])
    m = torch.tensor([[1, 1, 0]])
    got = L.ppo_value_loss(v, torch.zeros(1, 3), torch.zeros(1, 3), mask=m)
    assert got.item() == pytest.approx(2.5)


# ----------------------------------------------------------------------------- GSPO, CISPO


def test_gspo_matches_loop():
    g = gen(3)
    logp = -torch.rand(5, 7, generator=g, **f64)
    old = logp + 0.05 * torch.randn(5, 7, generator=g, **f64)
    mask = torch.rand(5, 7, generator=g) > 0.3
    mask[:, 0] = True
    adv = torch.randn(5, generator=g, **f64)
    eps, eps_h = 0.02, 0.03
    expected = []
    for i in range(5):
        lr = [(logp[i, t] - old[i, t]).item() for t in range(7) if mask[i, t]]
        s = math.exp(sum(lr) / len(lr))
        a = adv[i].item()
        expected.append(-min(s * a, min(max(s, 1 - eps), 1 + eps_h) * a))
    got = L.gspo_loss(logp, old, adv, mask=mask, clip_eps=eps, clip_eps_high=eps_h,
                      reduction="none")
    assert torch.allclose(got, torch.tensor(expected, **f64))


def test_gspo_equals_nemo_sequence_ratio():
    # NeMo RL (7ea279a): seq_ratio = exp(masked_mean(log_ratios, token_mask, dim=-1)), repeated
    # over the tokens, then the usual max(loss1, loss2); the per-sequence mean of that equals ours.
    g = gen(4)
    logp = -torch.rand(3, 5, generator=g, **f64)
    old = logp + 0.1 * torch.randn(3, 5, generator=g, **f64)
    adv = torch.randn(3, generator=g, **f64)
    s = (logp - old).mean(-1, keepdim=True).exp().repeat(1, 5)
    a = adv[:, None].expand(3, 5)
    nemo = torch.max(-a * s, -a * s.clamp(1 - 0.2, 1 + 0.2)).mean(-1).mean()
    assert torch.allclose(L.gspo_loss(logp, old, adv, clip_eps=0.2, clip_eps_high=None), nemo)


def test_gspo_rejects_empty_row():
    m = torch.tensor([[1, 1], [0, 0]])
    with pytest.raises(ValueError, match="mask"):
        L.gspo_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2), mask=m)


def test_cispo_value_and_gradient():
    g = gen(5)
    logp = (-torch.rand(4, 6, generator=g, **f64)).requires_grad_()
    old = logp.detach() + 0.4 * torch.randn(4, 6, generator=g, **f64)
    adv = torch.randn(4, 6, generator=g, **f64)
    loss = L.cispo_loss(logp, old, adv, clip_eps=0.2, clip_eps_high=0.3)
    ratio = (logp.detach() - old).exp()
    # NeMo RL (7ea279a), use_cispo: -advantages * ratios_clamped.detach() * curr_logprobs
    nemo = (-adv * ratio.clamp(0.8, 1.3) * logp.detach()).mean()
    assert torch.allclose(loss.detach(), nemo)
    loss.backward()
    assert torch.allclose(logp.grad, -adv * ratio.clamp(0.8, 1.3) / logp.numel())
    # every token keeps a gradient, even where PPO's clip would zero it
    assert bool((logp.grad != 0).all())


def test_ppo_value_loss_gradient_equals_autograd_through_nemo_arithmetic():
    # ppo_value_loss writes its backward by hand (for speed, bench/bench_policy_gradient.py):
    # it must equal autograd through NeMo RL's clamp and max, inside the band and past it
    g = gen(7)
    old = torch.randn(4, 50, generator=g, **f64)
    v0 = old + 0.6 * torch.randn(4, 50, generator=g, **f64)
    ret = torch.randn(4, 50, generator=g, **f64)
    inside = (v0 - old).abs() < 0.3
    assert 0.2 < inside.double().mean() < 0.8  # both regimes are exercised
    m = torch.rand(4, 50, generator=g) < 0.7
    for mask in (None, m):
        v, ref = v0.clone().requires_grad_(), v0.clone().requires_grad_()
        L.ppo_value_loss(v, old, ret, clip_range=0.3, mask=mask).backward()
        per = torch.max((ref - ret) ** 2, (torch.clamp(ref, old - 0.3, old + 0.3) - ret) ** 2)
        w = torch.ones_like(per) if mask is None else mask.to(per.dtype)
        ((per * w).sum() / w.sum()).backward()
        assert torch.allclose(v.grad, ref.grad, rtol=1e-12, atol=1e-15)
        assert bool((v.grad[inside & (w > 0)] != 0).all())
    v = v0.clone().requires_grad_()
    (grad,) = torch.autograd.grad(L.ppo_value_loss(v, old, ret, clip_range=0.3), v,
                                  create_graph=True)
    with pytest.raises(RuntimeError):  # an error, not a silently wrong second derivative
        grad.sum().backward()


def test_padding_may_hold_nan_or_inf_but_checked_inputs_may_not():
    g = gen(8)
    logp = -torch.rand(3, 6, generator=g, **f64)
    old = logp + 0.3 * torch.randn(3, 6, generator=g, **f64)
    adv = torch.randn(3, 6, generator=g, **f64)
    m = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 0, 1, 0, 1, 0]]).bool()
    x = logp.masked_fill(~m, -math.inf).requires_grad_()
    for reduction in ("mean", "sum"):
        x.grad = None
        got = L.cispo_loss(x, old.masked_fill(~m, math.nan), adv, mask=m, reduction=reduction)
        got.backward()
        w = (logp - old).exp().clamp(0.8, 1.2)
        n = m.sum() if reduction == "mean" else 1
        assert torch.allclose(got.detach(), (-adv * w * logp)[m].sum() / n)
        assert torch.allclose(x.grad, torch.where(m, -adv * w / n, 0.0))
        assert bool((x.grad[~m] == 0).all())
    with pytest.raises(ValueError, match="advantages.*NaN"):  # the padding's too
        L.cispo_loss(logp, old, adv.masked_fill(~m, math.nan), mask=m)
    v = old.masked_fill(~m, math.nan).requires_grad_()  # values are checked in debug mode only
    got = L.ppo_value_loss(v, logp, adv, clip_range=0.2, mask=m)
    plain = torch.max((old - adv) ** 2, (torch.clamp(old, logp - 0.2, logp + 0.2) - adv) ** 2)
    assert torch.allclose(got.detach(), plain[m].mean())
    got.backward()
    assert bool(torch.isfinite(v.grad[m]).all())
    for name in ("old_values", "returns"):
        args = {"old_values": logp, "returns": adv}
        args[name] = args[name].masked_fill(~m, math.inf)
        with pytest.raises(ValueError, match=f"{name}.*NaN or Inf"):
            L.ppo_value_loss(old, args["old_values"], args["returns"], clip_range=0.2, mask=m)


# ----------------------------------------------------------------------------- truncated IS


def test_truncated_is_weights_match_numpy():
    g = gen(6)
    train = -torch.rand(50, generator=g, **f64) * 3
    infer = train + 0.5 * torch.randn(50, generator=g, **f64)
    w = np.exp(train.numpy() - infer.numpy())
    assert np.allclose(L.truncated_is_weights(train, infer, cap=1.5).numpy(), np.minimum(w, 1.5))
    assert np.allclose(L.truncated_is_weights(train, infer, cap=1.5, floor=0.5).numpy(),
                       np.clip(w, 0.5, 1.5))
    ice = L.truncated_is_weights(train, infer, cap=1.5, floor=0.5, mode="icepop").numpy()
    assert np.allclose(ice, np.where((w >= 0.5) & (w <= 1.5), w, 0.0))


def test_truncated_is_weights_errors():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="floor"):
        L.truncated_is_weights(x, x, mode="icepop")
    with pytest.raises(ValueError, match="mode"):
        L.truncated_is_weights(x, x, mode="clip")


# ----------------------------------------------------------------------------- SimPO


def test_simpo_matches_trl_cpo_simpo():
    g = gen(7)
    c, r = (-30 * torch.rand(2, 9, generator=g, **f64)).unbind()
    nc, nr = torch.randint(1, 40, (2, 9), generator=g).unbind()
    beta, gamma = 2.0, 0.8
    # TRL v1.9.0 CPOTrainer.cpo_loss, loss_type="simpo", average_log_prob=True, no smoothing:
    logits = (c / nc - r / nr) - gamma / beta
    trl = -F.logsigmoid(beta * logits)
    got = L.simpo_loss(c, r, nc, nr, beta=beta, gamma=gamma, reduction="none")
    assert torch.allclose(got, trl)


def test_simpo_errors():
    x = torch.zeros(2)
    n = torch.tensor([3, 0])
    with pytest.raises(ValueError, match="rejected_lengths"):
        L.simpo_loss(x, x, torch.tensor([1, 1]), n)
    with pytest.raises(ValueError, match="chosen_lengths"):
        L.simpo_loss(x, x, torch.tensor([1, 1, 1]), torch.tensor([1, 1]))


# ----------------------------------------------------------------------------- offline RL


def test_iql_expectile_matches_loop_and_minimiser():
    g = gen(8)
    v, q = torch.randn(2, 30, generator=g, **f64).unbind()
    expected = [(0.8 if b - a >= 0 else 0.2) * (b - a) ** 2 for a, b in zip(v.tolist(), q.tolist())]
    assert torch.allclose(L.iql_expectile_loss(v, q, tau=0.8, reduction="none"),
                          torch.tensor(expected, **f64))
    assert torch.allclose(L.iql_expectile_loss(v, q, tau=0.5), 0.5 * F.mse_loss(v, q))
    # The minimiser over a constant V is the tau-expectile of q: tau E[(q-m)+] = (1-tau) E[(m-q)+]
    samples = torch.randn(400, generator=g, **f64)
    lo, hi = -5.0, 5.0
    for _ in range(80):  # bisection on the expectile's first-order condition
        m = (lo + hi) / 2
        if 0.9 * (samples - m).clamp(min=0).mean() > 0.1 * (m - samples).clamp(min=0).mean():
            lo = m
        else:
            hi = m
    m = torch.tensor(lo, **f64, requires_grad=True)
    L.iql_expectile_loss(m.expand(400), samples, tau=0.9).backward()
    assert abs(m.grad.item()) < 1e-6
    m2 = torch.tensor(lo + 0.05, **f64, requires_grad=True)
    L.iql_expectile_loss(m2.expand(400), samples, tau=0.9).backward()
    assert m2.grad.item() > 1e-3
    assert lo > samples.mean().item()


def test_cql_regularizer_is_alpha_times_cross_entropy():
    g = gen(9)
    q = 3 * torch.randn(6, 5, generator=g, **f64)
    a = torch.randint(0, 5, (6,), generator=g)
    assert torch.allclose(L.cql_regularizer(q, a, alpha=2.5), 2.5 * F.cross_entropy(q, a))
    big = torch.tensor([[1e4, -1e4]], **f64)
    assert torch.isfinite(L.cql_regularizer(big, torch.tensor([1]))).all()

"""Alignment losses against independent references: probability-space formulas in float64,
TRL's formulas written out per sequence, closed-form gradients and limits."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as L

gen = lambda seed: torch.Generator().manual_seed(seed)
f64 = {"dtype": torch.float64}


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# ----------------------------------------------------------------------------- Bradley-Terry


def test_bradley_terry_is_bce_on_the_reward_gap():
    g = gen(0)
    rc, rr = torch.randn(2, 32, generator=g) * 3
    margin = torch.rand(32, generator=g)
    expected = F.binary_cross_entropy_with_logits(rc - rr - margin, torch.ones(32))
    assert torch.allclose(L.bradley_terry_loss(rc, rr, margin=margin), expected)
    per = L.bradley_terry_loss(rc, rr, reduction="none")
    ref = [-math.log(sigmoid(a - b)) for a, b in zip(rc.tolist(), rr.tolist())]
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-5)


@settings(max_examples=30)
@given(shift=st.floats(-1e3, 1e3))
def test_bradley_terry_shift_invariant(shift):
    rc = torch.tensor([0.5, -1.0, 2.0], **f64)
    rr = torch.tensor([0.0, 1.0, -3.0], **f64)
    assert torch.allclose(L.bradley_terry_loss(rc, rr), L.bradley_terry_loss(rc + shift, rr + shift))


def test_bradley_terry_extremes_and_gradcheck():
    rc = torch.tensor([1e4, -1e4, 0.0], requires_grad=True)
    loss = L.bradley_terry_loss(rc, torch.zeros(3))
    loss.backward()
    assert loss.item() == pytest.approx((1e4 + math.log(2)) / 3)
    assert torch.isfinite(rc.grad).all()
    x = torch.randn(4, **f64, generator=gen(1)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: L.bradley_terry_loss(a, torch.zeros(4, **f64)), (x,))


# ----------------------------------------------------------------------------- DPO


def dpo_probability_space(pc, pr, rc, rr, beta):
    """-log sigmoid(beta log(pi_w/ref_w) - beta log(pi_l/ref_l)) from probabilities, float64."""
    out = []
    for a, b, c, d in zip(pc, pr, rc, rr):
        ratio_w, ratio_l = math.exp(a) / math.exp(c), math.exp(b) / math.exp(d)
        out.append(-math.log(sigmoid(beta * math.log(ratio_w) - beta * math.log(ratio_l))))
    return out


def test_dpo_matches_probability_space_reference():
    g = gen(2)
    logps = -torch.rand(4, 16, **f64, generator=g) * 20  # moderate: exp() stays representable
    ours = L.dpo_loss(*logps, beta=0.3, reduction="none")
    np.testing.assert_allclose(ours.numpy(), dpo_probability_space(*logps.tolist(), 0.3), rtol=1e-10)


def test_dpo_variants_and_label_smoothing():
    g = gen(3)
    pc, pr, rc, rr = -torch.rand(4, 16, **f64, generator=g) * 50
    h = (pc - rc) - (pr - rr)
    beta = 0.2
    ipo = L.dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="ipo", reduction="none")
    assert torch.allclose(ipo, (h - 1 / (2 * beta)) ** 2)
    hinge = L.dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="hinge", reduction="none")
    assert torch.allclose(hinge, torch.clamp(1 - beta * h, min=0))
    smooth = L.dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=0.1)
    assert torch.allclose(smooth, F.binary_cross_entropy_with_logits(beta * h, torch.full_like(h, 0.9)))


@settings(max_examples=40)
@given(logp=st.floats(-1e4, 0), ref=st.floats(-1e4, 0), beta=st.floats(0.01, 10))
def test_dpo_and_ipo_at_equal_inputs(logp, ref, beta):
    # Chosen and rejected identical (or policy == reference): h = 0.
    x = torch.tensor([logp], **f64)
    y = torch.tensor([ref], **f64)
    assert L.dpo_loss(x, x, y, y, beta=beta).item() == pytest.approx(math.log(2), rel=1e-12)
    assert L.dpo_loss(x, x, y, y, beta=beta, loss_type="ipo").item() == pytest.approx(
        1 / (4 * beta * beta), rel=1e-12)
    assert L.dpo_loss(x, x, y, y, beta=beta, loss_type="hinge").item() == pytest.approx(1.0)


def test_dpo_gradient_is_the_papers_weighting():
    # d loss / d logpi(y_w) = -beta * sigmoid(rhat_l - rhat_w), rhat = beta log(pi / ref)
    g = gen(4)
    pc, pr = (-torch.rand(2, 8, **f64, generator=g) * 30).unbind()
    rc, rr = (-torch.rand(2, 8, **f64, generator=g) * 30).unbind()
    pc.requires_grad_()
    pr.requires_grad_()
    beta = 0.5
    L.dpo_loss(pc, pr, rc, rr, beta=beta, reduction="sum").backward()
    weight = torch.sigmoid(beta * (pr - rr) - beta * (pc - rc)).detach()
    assert torch.allclose(pc.grad, -beta * weight)
    assert torch.allclose(pr.grad, beta * weight)


def test_dpo_extremes_low_precision_gradcheck():
    pc = torch.tensor([-1e4, 0.0, -5.0], requires_grad=True)
    pr = torch.tensor([0.0, -1e4, -5.0], requires_grad=True)
    ref = torch.tensor([-3.0, -3.0, -3.0])
    for kind in ("sigmoid", "ipo", "hinge"):
        loss = L.dpo_loss(pc, pr, ref, ref, beta=1.0, loss_type=kind)
        pc.grad = pr.grad = None
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(pc.grad).all() and torch.isfinite(pr.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        a, b = pc.detach().to(dtype).requires_grad_(), pr.detach().to(dtype).requires_grad_()
        out = L.dpo_loss(a, b, ref.to(dtype), ref.to(dtype))
        out.backward()
        assert out.dtype == dtype and torch.isfinite(out) and torch.isfinite(a.grad).all()
    x = torch.randn(2, 5, **f64, generator=gen(5)).requires_grad_()
    r = torch.randn(2, 5, **f64, generator=gen(6))
    for kind in ("sigmoid", "ipo"):
        assert torch.autograd.gradcheck(
            lambda a, kind=kind: L.dpo_loss(a[0], a[1], r[0], r[1], loss_type=kind, beta=0.3), (x,))
    ref_g = r.clone().requires_grad_()
    L.dpo_loss(x[0], x[1], ref_g[0], ref_g[1]).backward()
    assert ref_g.grad is None  # reference log-probs are detached


# ----------------------------------------------------------------------------- KTO


def test_kto_matches_trl_formula():
    g = gen(7)
    logp, ref = -torch.rand(2, 10, **f64, generator=g) * 20
    good = torch.rand(10, generator=g) < 0.5
    kl_p, kl_r = -torch.rand(2, 10, **f64, generator=g) * 20
    beta, wd, wu = 0.3, 1.0, 1.5
    z = max(0.0, float((kl_p - kl_r).mean()))
    expected = []
    for lp, lr, is_good in zip(logp.tolist(), ref.tolist(), good.tolist()):
        r = lp - lr
        expected.append(wd * (1 - sigmoid(beta * (r - z))) if is_good
                        else wu * (1 - sigmoid(beta * (z - r))))
    ours = L.kto_loss(logp, ref, good, kl_policy_logps=kl_p, kl_ref_logps=kl_r, beta=beta,
                      desirable_weight=wd, undesirable_weight=wu, reduction="none")
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    assert L.kto_loss(logp, ref, good, kl_policy_logps=kl_p, kl_ref_logps=kl_r, beta=beta,
                      desirable_weight=wd, undesirable_weight=wu).item() == pytest.approx(
        float(np.mean(expected)))


def test_kto_reference_point_clamped_and_detached():
    logp = torch.tensor([-4.0, -6.0], **f64)
    ref = torch.tensor([-5.0, -5.0], **f64)
    good = torch.tensor([1, 0])
    kl_p = torch.tensor([-9.0, -9.0], **f64, requires_grad=True)  # estimate < 0 -> z = 0
    with_negative_kl = L.kto_loss(logp, ref, good, kl_policy_logps=kl_p,
                                  kl_ref_logps=torch.tensor([-1.0, -1.0], **f64))
    assert with_negative_kl.item() == pytest.approx(L.kto_loss(logp, ref, good).item())
    with_negative_kl.backward() if with_negative_kl.requires_grad else None
    assert kl_p.grad is None


# ----------------------------------------------------------------------------- ORPO


def orpo_reference(c, r, beta):
    def log_odds(lp):
        p = math.exp(lp)
        return math.log(p / (1 - p))

    return [-a - beta * math.log(sigmoid(log_odds(a) - log_odds(b))) for a, b in zip(c, r)]


def test_orpo_matches_probability_space():
    g = gen(9)
    c, r = -torch.rand(2, 12, **f64, generator=g) * 3 - 0.01
    ours = L.orpo_loss(c, r, beta=0.25, reduction="none")
    np.testing.assert_allclose(ours.numpy(), orpo_reference(c.tolist(), r.tolist(), 0.25), rtol=1e-10)
    nll = torch.rand(12, **f64, generator=g)
    swapped = L.orpo_loss(c, r, beta=0.25, chosen_nll=nll, reduction="none")
    assert torch.allclose(swapped - nll, ours + c)


def test_orpo_extremes_and_gradcheck():
    c = torch.tensor([-1e-7, -1e3, -0.7], requires_grad=True)
    r = torch.tensor([-1e3, -1e-7, -0.69], requires_grad=True)
    loss = L.orpo_loss(c, r)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(c.grad).all() and torch.isfinite(r.grad).all()
    x = torch.tensor([-0.3, -2.0], **f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: L.orpo_loss(a, torch.tensor([-1.0, -0.5], **f64)), (x,))


# ----------------------------------------------------------------------------- GRPO


def test_grpo_advantages_match_numpy():
    g = gen(10)
    rewards = torch.randn(12, **f64, generator=g)
    ours = L.grpo_advantages(rewards, group_size=4)
    groups = rewards.numpy().reshape(3, 4)
    expected = (groups - groups.mean(1, keepdims=True)) / (groups.std(1, ddof=1, keepdims=True) + 1e-4)
    np.testing.assert_allclose(ours.numpy(), expected.reshape(-1), rtol=1e-12)
    centred = L.grpo_advantages(rewards, group_size=4, scale_rewards=False)
    np.testing.assert_allclose(centred.numpy(), (groups - groups.mean(1, keepdims=True)).reshape(-1))


@settings(max_examples=30)
@given(shift=st.floats(-100, 100), scale=st.floats(0.5, 20))
def test_grpo_advantages_affine_invariance(shift, scale):
    rewards = torch.tensor([1.0, 0.0, 0.5, 2.0, -1.0, 3.0], **f64)
    base = L.grpo_advantages(rewards, group_size=3, eps=1e-12)
    moved = L.grpo_advantages(scale * rewards + shift, group_size=3, eps=1e-12)
    assert torch.allclose(base, moved, atol=1e-8)
    same = L.grpo_advantages(torch.full((6,), shift, **f64), group_size=3)
    assert torch.equal(same, torch.zeros(6, **f64))


def grpo_reference(logp, old, rewards, mask, G, loss_type, beta=0.0, ref=None, eps=0.2,
                   max_len=None, n_items=None):
    """TRL's GRPO loss written out sequence by sequence, token by token, in Python floats."""
    B, T = len(logp), len(logp[0])
    adv = []
    for start in range(0, B, G):
        group = rewards[start:start + G]
        mean = sum(group) / G
        std = math.sqrt(sum((x - mean) ** 2 for x in group) / (G - 1))
        adv += [(x - mean) / (std + 1e-4) for x in group]
    per_seq_sums, per_seq_counts = [], []
    for i in range(B):
        s, n = 0.0, 0
        for t in range(T):
            if not mask[i][t]:
                continue
            r = math.exp(logp[i][t] - old[i][t])
            loss = -min(r * adv[i], min(max(r, 1 - eps), 1 + eps) * adv[i])
            if beta:
                d = ref[i][t] - logp[i][t]
                loss += beta * (math.exp(d) - d - 1)
            s, n = s + loss, n + 1
        per_seq_sums.append(s)
        per_seq_counts.append(n)
    total, tokens = sum(per_seq_sums), sum(per_seq_counts)
    if loss_type == "grpo":
        return sum(s / max(n, 1) for s, n in zip(per_seq_sums, per_seq_counts)) / B
    if loss_type == "bnpo":
        return total / tokens
    if loss_type == "dr_grpo":
        return total / (B * (max_len or T))
    return total / (n_items or tokens)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_matches_reference(loss_type, beta):
    g = gen(11)
    B, T, G = 6, 7, 3
    logp = -torch.rand(B, T, **f64, generator=g) * 3
    old = logp + 0.3 * torch.randn(B, T, **f64, generator=g)
    ref = logp + 0.3 * torch.randn(B, T, **f64, generator=g)
    rewards = torch.randn(B, **f64, generator=g)
    lengths = torch.tensor([7, 1, 4, 6, 2, 5])
    mask = torch.arange(T)[None] < lengths[:, None]
    kwargs = {"max_completion_length": 10} if loss_type == "dr_grpo" else {}
    if loss_type == "dapo":
        kwargs = {"num_items_in_batch": 60}
    ours = L.grpo_loss(logp, old, rewards, group_size=G, mask=mask, ref_logprobs=ref, beta=beta,
                       loss_type=loss_type, **kwargs)
    expected = grpo_reference(logp.tolist(), old.tolist(), rewards.tolist(), mask.tolist(), G,
                              loss_type, beta, ref.tolist(), max_len=kwargs.get("max_completion_length"),
                              n_items=kwargs.get("num_items_in_batch"))
    assert ours.item() == pytest.approx(expected, rel=1e-10)


def test_grpo_modes_relations_and_length_bias():
    g = gen(12)
    B, T = 4, 6
    logp = -torch.rand(B, T, generator=g)
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0])
    full = torch.ones(B, T, dtype=torch.bool)
    modes = {k: L.grpo_loss(logp, logp, rewards, group_size=2, mask=full, loss_type=k)
             for k in ("grpo", "bnpo", "dr_grpo", "dapo")}
    for k in ("bnpo", "dr_grpo", "dapo"):  # equal lengths, no padding: all four agree
        assert torch.allclose(modes[k], modes["grpo"], atol=1e-7)
    # Length bias: a long wrong answer gets a smaller per-token push under "grpo" than "bnpo".
    lengths = torch.tensor([2, 6, 2, 6])  # the wrong answers (reward 0) are long
    mask = torch.arange(T)[None] < lengths[:, None]
    grads = {}
    for k in ("grpo", "bnpo"):
        x = logp.clone().requires_grad_()
        L.grpo_loss(x, x.detach(), rewards, group_size=2, mask=mask, loss_type=k).backward()
        grads[k] = x.grad
    ratio_grpo = grads["grpo"][1, 0] / grads["grpo"][0, 0]
    ratio_bnpo = grads["bnpo"][1, 0] / grads["bnpo"][0, 0]
    assert ratio_grpo.item() == pytest.approx(-2 / 6, rel=1e-5)  # per token: 1/len
    assert ratio_bnpo.item() == pytest.approx(-1.0, rel=1e-5)  # every token alike


def test_grpo_on_policy_gradient_and_gradcheck():
    g = gen(13)
    logp = -torch.rand(4, 3, **f64, generator=g)
    rewards = torch.tensor([0.0, 1.0, 3.0, 3.0], **f64)
    x = logp.clone().requires_grad_()
    L.grpo_loss(x, x.detach(), rewards, group_size=2, loss_type="bnpo").backward()
    adv = L.grpo_advantages(rewards, group_size=2)
    assert torch.allclose(x.grad, -adv[:, None].expand(4, 3) / 12)
    old = logp + 0.1 * torch.randn(4, 3, **f64, generator=g)
    ref = logp + 0.1 * torch.randn(4, 3, **f64, generator=g)
    assert torch.autograd.gradcheck(
        lambda a: L.grpo_loss(a, old, rewards, group_size=2, beta=0.1, ref_logprobs=ref), (x,))


# ----------------------------------------------------------------------------- more properties


@settings(max_examples=30)
@given(h=st.floats(-500, 500), beta=st.floats(0.01, 5))
def test_dpo_swapping_chosen_and_rejected(h, beta):
    # -log sigma(x) - (-log sigma(-x)) = -x: swapping the pair shifts the loss by exactly beta * h.
    a = torch.tensor([h], **f64)
    z = torch.zeros(1, **f64)
    forward = L.dpo_loss(a, z, z, z, beta=beta)
    swapped = L.dpo_loss(z, a, z, z, beta=beta)
    assert (forward - swapped).item() == pytest.approx(-beta * h, rel=1e-9, abs=1e-9)


@settings(max_examples=20)
@given(shift=st.floats(-1e3, 1e3))
def test_dpo_invariant_to_per_prompt_offsets(shift):
    # Adding the same constant to a prompt's chosen and rejected log-probs changes nothing.
    g = gen(20)
    pc, pr, rc, rr = -torch.rand(4, 6, **f64, generator=g) * 30
    base = L.dpo_loss(pc, pr, rc, rr, reduction="none")
    assert torch.allclose(base, L.dpo_loss(pc + shift, pr + shift, rc, rr, reduction="none"))
    assert torch.allclose(base, L.dpo_loss(pc, pr, rc - shift, rr - shift, reduction="none"))


def test_kto_weights_select_the_two_halves():
    g = gen(21)
    logp, ref = -torch.rand(2, 8, **f64, generator=g) * 10
    good = torch.tensor([1, 1, 0, 0, 1, 0, 1, 0]).bool()
    per = L.kto_loss(logp, ref, good, reduction="none")
    only_bad = L.kto_loss(logp, ref, good, desirable_weight=0.0, reduction="none")
    assert torch.equal(only_bad[good], torch.zeros(4, **f64))
    assert torch.allclose(only_bad[~good], per[~good])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_alignment_losses_finite_at_extremes(dtype):
    big = torch.tensor([-1e4, 0.0, -1e-3, -60000.0 if dtype != torch.float16 else -100.0], dtype=dtype)
    small = torch.tensor([0.0, -1e4, -50.0, -1.0], dtype=dtype)
    # (IPO's square of a 1e4 margin legitimately overflows fp16's 65504; tested in float32 above.)
    checks = {
        "bradley_terry": lambda a, b: L.bradley_terry_loss(a, b),
        "dpo": lambda a, b: L.dpo_loss(a, b, b.detach(), a.detach() * 0),
        "hinge": lambda a, b: L.dpo_loss(a, b, b.detach(), a.detach() * 0, loss_type="hinge"),
        "kto": lambda a, b: L.kto_loss(a, b.detach(), torch.tensor([1, 0, 1, 0]),
                                       kl_policy_logps=a, kl_ref_logps=b.detach()),
        "orpo": lambda a, b: L.orpo_loss(a.clamp(max=-1e-3), b.clamp(max=-1e-3)),
    }
    for name, fn in checks.items():
        a = big.clone().requires_grad_()
        b = small.clone().requires_grad_()
        out = fn(a, b)
        out.backward()
        assert torch.isfinite(out.float()), name
        assert torch.isfinite(a.grad.float()).all(), name
    lp = torch.full((4, 8), -1e4, dtype=dtype).requires_grad_()
    out = L.grpo_loss(lp, torch.zeros(4, 8, dtype=dtype), torch.tensor([1.0, 0.0, 5.0, -5.0]),
                      group_size=2, beta=0.1, ref_logprobs=torch.zeros(4, 8, dtype=dtype))
    out.backward()
    # k3 with log r = +1e4 overflows by definition; the clipped policy term alone stays finite.
    lp2 = lp.detach().clone().requires_grad_()
    out2 = L.grpo_loss(lp2, torch.zeros(4, 8, dtype=dtype), torch.tensor([1.0, 0.0, 5.0, -5.0]),
                       group_size=2)
    out2.backward()
    assert torch.isfinite(out2.float()) and torch.isfinite(lp2.grad.float()).all()

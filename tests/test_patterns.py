"""lossbook.patterns: global normalisation, the loss objects, composition, weighting, monitoring.

References: torch built-ins (cross entropy, logsigmoid), formulas evaluated independently here,
NeMo RL's check values (references.md) and its design-doc example (16 tokens split 10 + 6).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook import alignment, rl
from lossbook.patterns import (
    LOSS_REGISTRY,
    BradleyTerryLoss,
    ClippedPGLoss,
    Component,
    ComposedLoss,
    DPOLoss,
    GradNormWeighting,
    LossFunction,
    LossRegistry,
    LossType,
    NLLLoss,
    StabilityMonitor,
    UncertaintyWeighting,
    accumulate_microbatches,
    build_loss,
    check_finite_losses,
    component_grad_norms,
    data_parallel_backward,
    global_valid_counts,
    masked_mean,
    slice_batch,
    stable_contrastive_loss,
)


def lm_batch(lengths, steps=None, vocab=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    steps = steps or max(lengths)
    logits = torch.randn(len(lengths), steps, vocab, generator=g, dtype=dtype)
    targets = torch.randint(0, vocab, (len(lengths), steps), generator=g)
    mask = (torch.arange(steps) < torch.tensor(lengths)[:, None]).long()
    return logits, {"target_ids": targets, "token_mask": mask}


def pg_batch(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    steps = max(lengths)
    shape = (len(lengths), steps)
    mask = (torch.arange(steps) < torch.tensor(lengths)[:, None]).long()
    lp = -torch.rand(shape, generator=g, dtype=torch.float64) * 2
    data = {
        "token_mask": mask,
        "prev_logprobs": lp + 0.3 * torch.randn(shape, generator=g, dtype=torch.float64),
        "advantages": torch.randn(shape, generator=g, dtype=torch.float64),
        "reference_policy_logprobs": lp + 0.2 * torch.randn(shape, generator=g,
                                                            dtype=torch.float64),
    }
    return lp, data


# ---------------------------------------------------------------------------- masked_mean


def test_design_doc_example_16_tokens_split_10_and_6():
    values = torch.arange(1.0, 17.0, dtype=torch.float64)
    full = values.mean()
    a, b = values[:10], values[10:]
    ones_a, ones_b = torch.ones(10), torch.ones(6)
    right = masked_mean(a, ones_a, global_normalization_factor=16) + masked_mean(
        b, ones_b, global_normalization_factor=16
    )
    wrong = (masked_mean(a, ones_a) + masked_mean(b, ones_b)) / 2
    assert right.item() == pytest.approx(full.item(), abs=1e-12)
    assert wrong.item() == pytest.approx((5.5 + 13.5) / 2)  # 9.5, not 8.5
    assert abs(wrong.item() - full.item()) > 0.9


@settings(max_examples=25)
@given(st.lists(st.tuples(st.floats(-100, 100), st.booleans()), min_size=1, max_size=12))
def test_masked_mean_equals_mean_of_selected(entries):
    values = torch.tensor([v for v, _ in entries], dtype=torch.float64)
    mask = torch.tensor([m for _, m in entries])
    selected = [v for v, m in entries if m]
    expected = sum(selected) / len(selected) if selected else 0.0
    assert masked_mean(values, mask).item() == pytest.approx(expected, abs=1e-9)


def test_masked_mean_zero_valid_is_exactly_zero_with_zero_gradient():
    values = torch.randn(3, 4, requires_grad=True)
    for factor in (None, 0, 5):
        out = masked_mean(values, torch.zeros(3, 4), global_normalization_factor=factor)
        assert out.item() == 0.0 and not torch.isnan(out)
        (grad,) = torch.autograd.grad(out, values)
        assert torch.equal(grad, torch.zeros(3, 4))


def test_masked_mean_padding_with_inf_and_nan_does_not_leak():
    values = torch.tensor([1.0, 3.0, float("inf"), float("nan")], requires_grad=True)
    mask = torch.tensor([1, 1, 0, 0])
    out = masked_mean(values, mask, global_normalization_factor=4)
    out.backward()
    assert out.item() == 1.0
    assert torch.equal(values.grad, torch.tensor([0.25, 0.25, 0.0, 0.0]))


def test_masked_mean_dim_is_a_per_row_mean():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    m = torch.tensor([[1, 1, 1], [0, 1, 0], [0, 0, 0]])
    assert torch.equal(masked_mean(x, m, dim=1), torch.tensor([2.0, 5.0, 0.0]))


def test_global_valid_counts_and_slice_batch():
    data = {"token_mask": torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]]),
            "sample_mask": torch.tensor([1, 0, 1]), "beta": torch.tensor(0.5)}
    seqs, toks = global_valid_counts(data)
    assert (seqs.item(), toks.item()) == (2.0, 5.0)
    part = slice_batch(data, 1, 3)
    assert part["token_mask"].shape == (2, 3) and part["beta"] is data["beta"]
    assert torch.equal(part["sample_mask"], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="sample_mask"):
        global_valid_counts({"token_mask": torch.ones(3, 2), "sample_mask": torch.ones(2)})


# ---------------------------------------------------------------------------- NLL


def test_nll_equals_torch_cross_entropy_on_valid_tokens():
    logits, data = lm_batch([5, 3, 1, 4])
    loss, metrics = NLLLoss()(logits, data, None, None)
    targets = data["target_ids"].masked_fill(data["token_mask"] == 0, -100)
    ref = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), ignore_index=-100)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-12)
    assert metrics["num_valid_tokens"] == 13.0 and metrics["num_valid_samples"] == 4.0


def test_nll_logits_and_logprobs_inputs_agree_and_bf16_is_upcast():
    logits, data = lm_batch([4, 2])
    lp = torch.log_softmax(logits, -1).gather(-1, data["target_ids"][..., None])[..., 0]
    a, _ = NLLLoss()(logits, data, None, None)
    b, _ = NLLLoss()(lp, data, None, None)
    assert a.item() == pytest.approx(b.item(), abs=1e-12)
    half, _ = NLLLoss()(logits.to(torch.bfloat16), data, None, None)
    assert half.dtype == torch.float32


@pytest.mark.parametrize("lengths", [[8, 7, 2, 1], [3, 3, 3, 3, 3, 3], [5, 0, 2, 6, 1]])
def test_nll_microbatches_equal_full_batch_only_with_global_normalisation(lengths):
    logits, data = lm_batch(lengths, seed=len(lengths))
    full_loss, full_grad = accumulate_microbatches(NLLLoss(), logits, data)
    for n in range(2, len(lengths) + 1):
        loss, grad = accumulate_microbatches(NLLLoss(), logits, data, num_microbatches=n)
        torch.testing.assert_close(loss, full_loss, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, full_grad, rtol=0, atol=1e-12)
    bad_loss, bad_grad = accumulate_microbatches(
        NLLLoss(), logits, data, num_microbatches=2, normalization="local"
    )
    counts = [sum(lengths[: (len(lengths) + 1) // 2]), sum(lengths[(len(lengths) + 1) // 2:])]
    if counts[0] == counts[1]:
        torch.testing.assert_close(bad_grad, full_grad, rtol=0, atol=1e-12)
    else:
        assert (bad_grad - full_grad).abs().max() > 1e-3
        assert abs(bad_loss.item() - full_loss.item()) > 1e-3


def test_nll_metrics_are_additive_over_microbatches():
    logits, data = lm_batch([6, 2, 5, 1])
    seqs, toks = global_valid_counts(data)
    full, full_metrics = NLLLoss()(logits, data, seqs, toks)
    parts = [NLLLoss()(logits[a:b], slice_batch(data, a, b), seqs, toks)[1]
             for a, b in [(0, 1), (1, 4)]]
    assert sum(p["loss"] for p in parts) == pytest.approx(full_metrics["loss"], abs=1e-12)
    assert sum(p["num_valid_tokens"] for p in parts) == full_metrics["num_valid_tokens"]


def test_nll_gradcheck():
    logits, data = lm_batch([3, 1], vocab=4)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: NLLLoss()(x, data, 2, 6)[0], (logits,))


def test_nll_sample_mask_drops_whole_sequences():
    logits, data = lm_batch([4, 4, 4])
    masked = dict(data, sample_mask=torch.tensor([1, 0, 1]))
    a, _ = NLLLoss()(logits, masked, None, None)
    keep = torch.tensor([0, 2])
    b, _ = NLLLoss()(logits[keep], {k: v[keep] for k, v in data.items()}, None, None)
    assert a.item() == pytest.approx(b.item(), abs=1e-12)


def test_nll_zero_valid_tokens_gives_zero_not_nan():
    logits, data = lm_batch([3, 2])
    data["token_mask"] = torch.zeros_like(data["token_mask"])
    logits.requires_grad_(True)
    loss, _ = NLLLoss()(logits, data, None, None)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))


def test_padding_target_ids_may_be_anything():
    logits, data = lm_batch([3, 1])
    data["target_ids"][1, 1:] = -100  # HF-style ignore ids in the padding
    loss, _ = NLLLoss()(logits, data, None, None)
    assert torch.isfinite(loss)


# ---------------------------------------------------------------------------- clipped PG


def test_clipped_pg_nemo_rl_check_values():
    ratio = torch.tensor([[0.5, 1.0, 1.5]])
    data = {"token_mask": torch.ones(1, 3), "prev_logprobs": torch.zeros(1, 3),
            "advantages": torch.tensor([[1.0, -1.0, 2.0]])}
    loss, metrics = ClippedPGLoss(eps_low=0.2)(ratio.log(), data, None, None)
    assert loss.item() == pytest.approx(-0.6333, abs=1e-4)
    assert metrics["clip_fraction"] == pytest.approx(1 / 3)
    assert metrics["probs_ratio"] == pytest.approx(1.0)
    dual = {"token_mask": torch.ones(1, 1), "prev_logprobs": torch.zeros(1, 1),
            "advantages": torch.tensor([[-4.0]])}
    capped, _ = ClippedPGLoss(dual_clip=3.0)(torch.tensor([[math.log(10.0)]]), dual, None, None)
    uncapped, _ = ClippedPGLoss()(torch.tensor([[math.log(10.0)]]), dual, None, None)
    assert capped.item() == pytest.approx(12.0) and uncapped.item() == pytest.approx(40.0)


def independent_pg(lp, data, eps_low, eps_high, kl_coef):
    ratio = torch.exp(lp - data["prev_logprobs"])
    adv = data["advantages"]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - eps_low, 1 + eps_high) * adv)
    log_r = data["reference_policy_logprobs"] - lp
    k3 = torch.exp(log_r) - 1 - log_r
    return -surrogate + kl_coef * k3


def test_clipped_pg_token_and_sequence_level_against_independent_formula():
    lp, data = pg_batch([6, 2, 4])
    per_token = independent_pg(lp, data, 0.2, 0.28, 0.05)
    mask = data["token_mask"].bool()
    token_ref = per_token[mask].mean()
    seq_ref = torch.stack([per_token[i][mask[i]].mean() for i in range(3)]).mean()
    token, metrics = ClippedPGLoss(eps_high=0.28, kl_coef=0.05)(lp, data, None, None)
    seq, _ = ClippedPGLoss(eps_high=0.28, kl_coef=0.05, token_level=False)(lp, data, None, None)
    assert token.item() == pytest.approx(token_ref.item(), abs=1e-12)
    assert seq.item() == pytest.approx(seq_ref.item(), abs=1e-12)
    log_r = data["reference_policy_logprobs"] - lp
    kl_ref = (torch.exp(log_r) - 1 - log_r)[mask].mean()
    assert metrics["kl_penalty"] == pytest.approx(kl_ref.item(), abs=1e-12)
    assert ClippedPGLoss(token_level=False).loss_type is LossType.SEQUENCE_LEVEL


def test_clipped_pg_calls_the_rl_per_token_functions():
    lp, data = pg_batch([4, 4])
    loss, _ = ClippedPGLoss(kl_coef=0.1, kl_estimator="k2")(lp, data, None, None)
    pg = rl.ppo_clip_loss(lp, data["prev_logprobs"], data["advantages"], reduction="none")
    kl = rl.kl_penalty(lp, data["reference_policy_logprobs"], estimator="k2", reduction="none")
    assert loss.item() == pytest.approx((pg + 0.1 * kl).mean().item(), abs=1e-12)


def test_sequence_level_length_bias():
    # Same per-token situation in a 1-token and a 9-token answer: under the sequence-level
    # mean the lone token gets 9x the gradient of each long-answer token; token-level is flat.
    lengths = [1, 9]
    lp = torch.zeros(2, 9, dtype=torch.float64)
    data = {"token_mask": (torch.arange(9) < torch.tensor(lengths)[:, None]).long(),
            "prev_logprobs": torch.zeros(2, 9, dtype=torch.float64),
            "advantages": torch.ones(2, 9, dtype=torch.float64)}
    _, g_tok = accumulate_microbatches(ClippedPGLoss(), lp, data)
    _, g_seq = accumulate_microbatches(ClippedPGLoss(token_level=False), lp, data)
    assert g_tok[0, 0].item() == pytest.approx(g_tok[1, 0].item())
    assert g_seq[0, 0].item() == pytest.approx(9 * g_seq[1, 0].item())


@pytest.mark.parametrize("token_level", [True, False])
def test_clipped_pg_microbatch_equivalence(token_level):
    lp, data = pg_batch([7, 1, 3, 5, 2], seed=3)
    loss_fn = ClippedPGLoss(kl_coef=0.1, dual_clip=3.0, token_level=token_level)
    full_loss, full_grad = accumulate_microbatches(loss_fn, lp, data)
    for n in (2, 3, 5):
        loss, grad = accumulate_microbatches(loss_fn, lp, data, num_microbatches=n)
        torch.testing.assert_close(loss, full_loss, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, full_grad, rtol=0, atol=1e-12)
    _, bad = accumulate_microbatches(loss_fn, lp, data, num_microbatches=2, normalization="local")
    assert (bad - full_grad).abs().max() > 1e-3


def test_clipped_pg_garbage_in_padding_keeps_gradients_finite():
    lp, data = pg_batch([4, 2])
    data["prev_logprobs"][1, 2:] = -float("inf")
    data["advantages"][1, 2:] = float("nan")
    lp = lp.clone()
    lp[1, 2:] = float("inf")
    loss, grad = accumulate_microbatches(ClippedPGLoss(kl_coef=0.1), lp, data)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert torch.equal(grad[1, 2:], torch.zeros(2, dtype=grad.dtype))


def test_clipped_pg_gradcheck():
    lp, data = pg_batch([3, 2])
    lp.requires_grad_(True)
    fn = ClippedPGLoss(kl_coef=0.1, eps_high=0.3)
    assert torch.autograd.gradcheck(lambda x: fn(x, data, 2, 5)[0], (lp,))


# ---------------------------------------------------------------------------- DPO, Bradley-Terry


def dpo_batch(seed=0, pairs=3, steps=5):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (2 * pairs,), generator=g)
    mask = (torch.arange(steps) < lengths[:, None]).long()
    lp = -torch.rand(2 * pairs, steps, generator=g, dtype=torch.float64) * 3
    ref = lp + 0.5 * torch.randn(2 * pairs, steps, generator=g, dtype=torch.float64)
    return lp, {"token_mask": mask, "reference_policy_logprobs": ref}


def test_dpo_against_the_trl_formula():
    lp, data = dpo_batch()
    mask = data["token_mask"].double()
    seq = (lp * mask).sum(-1)
    ref = (data["reference_policy_logprobs"] * mask).sum(-1)
    h = (seq[0::2] - ref[0::2]) - (seq[1::2] - ref[1::2])
    expected = -F.logsigmoid(0.1 * h).mean()
    loss, metrics = DPOLoss(beta=0.1)(lp, data, None, None)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx((h > 0).double().mean().item())
    via_alignment = alignment.dpo_loss(seq[0::2], seq[1::2], ref[0::2], ref[1::2], beta=0.1)
    assert loss.item() == pytest.approx(via_alignment.item(), abs=1e-12)


def test_dpo_equal_policy_and_reference_is_log2_and_sft_term_adds_chosen_nll():
    lp, data = dpo_batch(seed=1)
    data["reference_policy_logprobs"] = lp.clone()
    loss, _ = DPOLoss()(lp, data, None, None)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-12)
    with_sft, metrics = DPOLoss(sft_weight=0.5)(lp, data, None, None)
    chosen_nll = -(lp * data["token_mask"])[0::2].sum(-1).mean()
    assert metrics["sft_loss"] == pytest.approx(chosen_nll.item(), abs=1e-12)
    assert with_sft.item() == pytest.approx(math.log(2) + 0.5 * chosen_nll.item(), abs=1e-12)


def test_dpo_average_log_probs_and_variants():
    lp, data = dpo_batch(seed=2)
    mask = data["token_mask"].double()
    seq = (lp * mask).sum(-1) / mask.sum(-1)
    ref = (data["reference_policy_logprobs"] * mask).sum(-1) / mask.sum(-1)
    h = (seq[0::2] - ref[0::2]) - (seq[1::2] - ref[1::2])
    loss, _ = DPOLoss(beta=0.5, average_log_probs=True, variant="ipo")(lp, data, None, None)
    assert loss.item() == pytest.approx(((h - 1.0) ** 2).mean().item(), abs=1e-12)


def test_dpo_microbatches_keep_pairs_and_match_the_full_batch():
    lp, data = dpo_batch(seed=4, pairs=4)
    data["sample_mask"] = torch.tensor([1, 1, 0, 0, 1, 1, 1, 1])
    fn = DPOLoss(beta=0.2, sft_weight=0.1)
    full_loss, full_grad = accumulate_microbatches(fn, lp, data)
    for n in (2, 3, 4):
        loss, grad = accumulate_microbatches(fn, lp, data, num_microbatches=n)
        torch.testing.assert_close(loss, full_loss, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, full_grad, rtol=0, atol=1e-12)
    assert torch.equal(full_grad[2:4], torch.zeros_like(full_grad[2:4]))


def test_bradley_terry_values_accuracy_and_microbatches():
    rewards = torch.tensor([2.0, -1.0, 0.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    loss, metrics = BradleyTerryLoss()(rewards, {}, None, None)
    expected = -F.logsigmoid(torch.tensor([3.0, -0.5, 0.0], dtype=torch.float64)).mean()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    margin, _ = BradleyTerryLoss(margin=1.0)(rewards, {}, None, None)
    expected_m = -F.logsigmoid(torch.tensor([2.0, -1.5, -1.0], dtype=torch.float64)).mean()
    assert margin.item() == pytest.approx(expected_m.item(), abs=1e-12)
    data = {"sample_mask": torch.ones(6)}
    full, g_full = accumulate_microbatches(BradleyTerryLoss(), rewards, data)
    split, g_split = accumulate_microbatches(BradleyTerryLoss(), rewards, data, num_microbatches=3)
    torch.testing.assert_close(g_split, g_full, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="rewards: expected one score per row"):
        BradleyTerryLoss()(rewards[:, None], {}, None, None)
    with pytest.raises(ValueError, match="margin"):
        BradleyTerryLoss(margin=-1.0)


# ---------------------------------------------------------------------------- composition, config


def test_loss_objects_satisfy_the_protocol():
    for fn in (NLLLoss(), ClippedPGLoss(), DPOLoss(), BradleyTerryLoss(),
               ComposedLoss([("a", NLLLoss(), 1.0)])):
        assert isinstance(fn, LossFunction)
    assert not isinstance(lambda *a: 0, LossFunction)


def test_composed_loss_is_the_weighted_sum_with_metrics_per_component():
    lp, data = pg_batch([5, 3, 2])
    fn = build_loss([{"type": "nll", "weight": 0.3},
                     {"type": "clipped_pg", "weight": 2.0, "kl_coef": 0.1, "name": "pg"}])
    loss, metrics = fn(lp, data, None, None)
    nll, _ = NLLLoss()(lp, data, None, None)
    pg, _ = ClippedPGLoss(kl_coef=0.1)(lp, data, None, None)
    assert loss.item() == pytest.approx(0.3 * nll.item() + 2.0 * pg.item(), abs=1e-12)
    assert metrics["nll/loss"] == pytest.approx(nll.item())
    assert metrics["pg/weight"] == 2.0 and "pg/kl_penalty" in metrics
    assert metrics["loss"] == pytest.approx(loss.item())
    full_loss, full_grad = accumulate_microbatches(fn, lp, data)
    loss3, grad3 = accumulate_microbatches(fn, lp, data, num_microbatches=3)
    torch.testing.assert_close(grad3, full_grad, rtol=0, atol=1e-12)


def test_mixed_token_and_sequence_level_components():
    lp, data = pg_batch([5, 1, 3, 2])
    with pytest.raises(ValueError, match="loss_type"):
        build_loss([{"type": "nll"}, {"type": "clipped_pg", "token_level": False}])
    fn = build_loss({"type": "composed", "loss_type": "token_level",
                     "components": [{"type": "nll"},
                                    {"type": "clipped_pg", "token_level": False}]})
    assert fn.loss_type is LossType.TOKEN_LEVEL
    full_loss, full_grad = accumulate_microbatches(fn, lp, data)
    _, grad = accumulate_microbatches(fn, lp, data, num_microbatches=4)
    torch.testing.assert_close(grad, full_grad, rtol=0, atol=1e-12)


def test_build_loss_single_and_weight_is_never_dropped():
    assert isinstance(build_loss({"type": "nll"}), NLLLoss)
    weighted = build_loss({"type": "dpo", "beta": 0.5, "weight": 2.0})
    assert isinstance(weighted, ComposedLoss) and weighted.components[0].weight == 2.0
    assert weighted.components[0].loss.beta == 0.5


def test_registry():
    registry = LossRegistry()

    @registry.register("half_nll")
    class HalfNLL(NLLLoss):
        def __call__(self, x, data, seqs=None, toks=None):
            loss, metrics = super().__call__(x, data, seqs, toks)
            return 0.5 * loss, metrics

    lp, data = pg_batch([3, 3])
    fn = build_loss([{"type": "half_nll"}], registry=registry)
    assert fn(lp, data, None, None)[0].item() == pytest.approx(0.5 * NLLLoss()(lp, data)[0].item())
    with pytest.raises(ValueError, match="already registered"):
        registry.register("half_nll", NLLLoss)
    with pytest.raises(ValueError, match="unknown loss 'nll'"):
        registry.create("nll")
    assert LOSS_REGISTRY.names() == ["bradley_terry", "clipped_pg", "dpo", "nll"]


def test_composed_loss_names_the_component_that_went_nan():
    lp, data = pg_batch([3, 2])
    data["prev_logprobs"][0, 0] = float("nan")  # e.g. a stale rollout buffer
    fn = build_loss([{"type": "nll"}, {"type": "clipped_pg", "name": "grpo"}])
    with pytest.raises(FloatingPointError, match="component 'grpo' \\(ClippedPGLoss\\)"):
        fn(lp, data, None, None)


def test_composed_loss_bad_components():
    with pytest.raises(ValueError, match="weight"):
        ComposedLoss([Component("a", NLLLoss(), -1.0)])
    with pytest.raises(TypeError, match=r"components\[0\].loss"):
        ComposedLoss([("a", lambda *args: 0, 1.0)])
    with pytest.raises(ValueError, match="duplicate"):
        ComposedLoss([("a", NLLLoss(), 1.0), ("a", NLLLoss(), 2.0)])


# ---------------------------------------------------------------------------- dynamic weighting


def test_a_term_built_from_item_has_no_gradient():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    base = (w ** 2).sum()
    adaptive = 0.1 * (base.item() / 1.0 - 1.0)  # the seed's AdaptiveLoss term: a float
    total = base + adaptive
    norms = component_grad_norms({"base": base, "total": total,
                                  "adaptive": torch.as_tensor(adaptive)}, [w])
    assert norms["adaptive"] == 0.0 and norms["total"] == pytest.approx(norms["base"])


def test_uncertainty_weighting_objective_gradient_and_optimum():
    weighting = UncertaintyWeighting(2, init_log_var=0.5)
    losses = [torch.tensor(4.0), torch.tensor(0.25)]
    total = weighting(losses)
    s = 0.5
    assert total.item() == pytest.approx(math.exp(-s) * 4.25 + 2 * s)
    total.backward()
    expected = [-math.exp(-s) * 4.0 + 1, -math.exp(-s) * 0.25 + 1]
    assert weighting.log_vars.grad.tolist() == pytest.approx(expected)
    opt = torch.optim.Adam(weighting.parameters(), lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        weighting(losses).backward()
        opt.step()
    assert weighting.weights.tolist() == pytest.approx([0.25, 4.0], rel=1e-2)  # 1 / L_k
    with pytest.raises(ValueError, match=r"losses\['1'\]: uncertainty weighting needs non-neg"):
        weighting([torch.tensor(1.0), torch.tensor(-0.5)])
    with pytest.raises(ValueError, match="expected 2 losses"):
        weighting([torch.tensor(1.0)])
    with pytest.raises(FloatingPointError, match=r"losses\['kl'\]"):
        weighting({"nll": torch.tensor(1.0), "kl": torch.tensor(float("inf"))})


def test_uncertainty_weighting_reaches_the_model():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    weighting = UncertaintyWeighting(2, init_log_var=math.log(2.0))
    weighting([(w[0] - 3) ** 2, (w[1] + 1) ** 2]).backward()
    assert w.grad.tolist() == pytest.approx([0.5 * 2 * (1 - 3), 0.5 * 2 * (2 + 1)])


def test_gradnorm_splits_gradients_between_model_and_weights():
    torch.manual_seed(0)
    shared = torch.nn.Linear(3, 3)
    x = torch.randn(16, 3)
    h = shared(x)
    losses = [h[:, 0].pow(2).mean(), 10 * h[:, 1].pow(2).mean()]
    gradnorm = GradNormWeighting(2, alpha=1.5)
    total = gradnorm(losses, shared.parameters())
    total.backward()
    ref = torch.nn.Linear(3, 3)
    ref.load_state_dict(shared.state_dict())
    hr = ref(x)
    (1.0 * hr[:, 0].pow(2).mean() + 1.0 * 10 * hr[:, 1].pow(2).mean()).backward()
    torch.testing.assert_close(shared.weight.grad, ref.weight.grad)  # model: weighted sum only
    assert gradnorm.logits.grad.abs().sum() > 0  # the weights learn from L_grad
    assert gradnorm.logits.grad[1] > 0  # the loud task's weight is pushed down


def test_gradnorm_balances_gradient_norms_and_keeps_weights_positive():
    torch.manual_seed(0)
    trunk = torch.nn.Linear(4, 8)
    heads = torch.nn.ModuleList([torch.nn.Linear(8, 1), torch.nn.Linear(8, 1)])
    x = torch.randn(64, 4)
    ys = [x.sum(1, keepdim=True), 30 * x[:, :1]]
    gradnorm = GradNormWeighting(2, alpha=0.0)
    opt = torch.optim.Adam([*trunk.parameters(), *heads.parameters(), *gradnorm.parameters()],
                           lr=0.05)
    first = None
    for _ in range(40):
        opt.zero_grad()
        h = torch.tanh(trunk(x))
        losses = [F.mse_loss(head(h), y) for head, y in zip(heads, ys)]
        gradnorm(losses, trunk.parameters()).backward()
        opt.step()
        g = gradnorm.last_grad_norms
        first = g if first is None else first
    assert first[1] / first[0] > 5
    assert 0.5 < (g[1] / g[0]).item() < 2.0
    assert (gradnorm.weights > 0).all() and gradnorm.weights.sum().item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="GradNorm needs positive losses"):
        GradNormWeighting(2)([torch.tensor(1.0, requires_grad=True), torch.tensor(-1.0)],
                             trunk.parameters())


# ---------------------------------------------------------------------------- contrastive


def test_stable_contrastive_equals_cross_entropy_and_naive_where_that_is_finite():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(5, generator=g, dtype=torch.float64) * 2 - 1
    neg = torch.rand(5, 7, generator=g, dtype=torch.float64) * 2 - 1
    loss = stable_contrastive_loss(pos, neg, temperature=0.5, reduction="none")
    logits = torch.cat([pos[:, None], neg], 1) / 0.5
    ce = F.cross_entropy(logits, torch.zeros(5, dtype=torch.long), reduction="none")
    torch.testing.assert_close(loss, ce)
    naive = -torch.log(torch.exp(pos / 0.5) / (torch.exp(pos / 0.5) + torch.exp(neg / 0.5).sum(1)))
    torch.testing.assert_close(loss, naive)


def test_naive_contrastive_overflows_in_float32_and_the_stable_one_does_not():
    pos, neg = torch.tensor([1.0, 0.9]), torch.tensor([[0.95, 0.2], [0.1, 0.3]])
    tau = 0.01
    naive = -torch.log(torch.exp(pos / tau) / (torch.exp(pos / tau) + torch.exp(neg / tau).sum(1)))
    assert torch.isnan(naive[0])
    pos.requires_grad_(True)
    stable = stable_contrastive_loss(pos, neg, temperature=tau, reduction="none")
    stable.sum().backward()
    assert torch.isfinite(stable).all() and torch.isfinite(pos.grad).all()
    expected = -math.log(1 / (1 + math.exp(-5.0) + math.exp(-80.0)))
    assert stable[0].item() == pytest.approx(expected, abs=1e-5)  # float32 rounding of 100 + x


def test_stable_contrastive_gradcheck():
    pos = torch.randn(3, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, n: stable_contrastive_loss(p, n, temperature=0.3),
                                    (pos, neg))


# ---------------------------------------------------------------------------- monitoring


def test_check_finite_losses_names_every_offender():
    check_finite_losses({"a": torch.tensor(1.0), "b": 2.0})
    with pytest.raises(FloatingPointError, match=r"at step 3: 'kl' = inf, 'pg' = nan"):
        check_finite_losses({"nll": 1.0, "kl": float("inf"), "pg": torch.tensor(float("nan"))},
                            step=3)


def test_component_grad_norms_match_manual_norms_and_leave_grad_alone():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    v = torch.nn.Parameter(torch.tensor([1.0]))
    norms = component_grad_norms({"a": (w ** 2).sum(), "b": (10 * v).sum()}, [w, v])
    assert norms == pytest.approx({"a": 10.0, "b": 10.0})
    assert w.grad is None and v.grad is None
    with pytest.raises(ValueError, match=r"losses\['x'\]: expected a scalar"):
        component_grad_norms({"x": w * 2}, [w])


def spiky_series(n=60, seed=0, spike_at=40):
    g = torch.Generator().manual_seed(seed)
    series = (0.05 * torch.randn(n, generator=g, dtype=torch.float64)).tolist()
    series[spike_at] += 3.0
    return series


@pytest.mark.parametrize("shift,sign", [(0.0, 1.0), (-7.0, 1.0), (0.0, -1.0), (-1000.0, -1.0)])
def test_stability_monitor_is_invariant_to_shift_and_sign(shift, sign):
    monitor = StabilityMonitor(window=30, threshold=6.0, min_history=10)
    for value in spiky_series():
        monitor.update({"pg": shift + sign * value})
    assert [(a.step, a.kind) for a in monitor.alerts] == [(41, "spike")]


def test_stability_monitor_nonfinite_and_is_stable():
    monitor = StabilityMonitor(window=5, min_history=3)
    for step in range(6):
        monitor.update(torch.tensor(-1.0 - 0.01 * (step % 2)))
    assert monitor.is_stable()
    [alert] = monitor.update({"loss": float("inf")})
    assert alert.kind == "nonfinite" and "'loss' is inf" in alert.message
    assert not monitor.is_stable() and not monitor.is_stable("loss") and monitor.is_stable("x")
    for step in range(5):
        monitor.update(-1.0)
    assert monitor.is_stable()
    with pytest.raises(ValueError, match="min_history"):
        StabilityMonitor(window=5, min_history=6)
    with pytest.raises(ValueError, match="window"):
        StabilityMonitor(window=0)


# ---------------------------------------------------------------------------- accumulate, ddp args


def test_data_parallel_backward_on_one_process_is_exact_accumulation():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(6, 4), torch.nn.Linear(4, 6)).double()
    ids = torch.randint(0, 6, (5, 8))
    lengths = torch.tensor([7, 1, 4, 2, 6])
    shard = {"input_ids": ids[:, :-1], "target_ids": ids[:, 1:],
             "token_mask": (torch.arange(7) < lengths[:, None]).long()}

    def grads():
        return torch.cat([p.grad.reshape(-1) for p in model.parameters()])

    full, _ = NLLLoss()(model(shard["input_ids"]), shard, None, None)
    full.backward()
    ref = grads()
    for n in (1, 2, 5):
        model.zero_grad()
        loss, metrics = data_parallel_backward(model, NLLLoss(), shard, num_microbatches=n)
        assert loss == pytest.approx(full.item(), abs=1e-12)
        assert metrics["num_valid_tokens"] == 20.0
        torch.testing.assert_close(grads(), ref, rtol=0, atol=1e-12)
    model.zero_grad()
    data_parallel_backward(model, NLLLoss(), shard, num_microbatches=2, normalization="local")
    assert (grads() - ref).abs().max() > 1e-3
    with pytest.raises(ValueError, match="inputs_key: 'tokens'"):
        data_parallel_backward(model, NLLLoss(), shard, inputs_key="tokens")
    with pytest.raises(ValueError, match="num_microbatches"):
        data_parallel_backward(model, NLLLoss(), shard, num_microbatches=6)


@settings(max_examples=15)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=6),
    st.integers(1, 6),
    st.booleans(),
)
def test_property_every_split_gives_the_full_batch_gradient(lengths, pieces, token_level):
    pieces = min(pieces, len(lengths))
    lp, data = pg_batch([max(n, 1) for n in lengths], seed=sum(lengths))
    data["token_mask"] = (torch.arange(lp.shape[1]) < torch.tensor(lengths)[:, None]).long()
    for loss_fn in (NLLLoss(), ClippedPGLoss(kl_coef=0.1, token_level=token_level)):
        full_loss, full_grad = accumulate_microbatches(loss_fn, lp, data)
        loss, grad = accumulate_microbatches(loss_fn, lp, data, num_microbatches=pieces)
        assert torch.isfinite(full_loss)
        torch.testing.assert_close(loss, full_loss, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, full_grad, rtol=0, atol=1e-12)

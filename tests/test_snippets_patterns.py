"""snippets/patterns.py equals lossbook.patterns (values and gradients, random and adversarial)."""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbook.patterns import (
    ClippedPGLoss,
    NLLLoss,
    UncertaintyWeighting,
    accumulate_microbatches,
    masked_mean,
    stable_contrastive_loss,
)

S = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "patterns.py"))


def random_masked(seed, shape=(4, 6), p=0.6):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=g, dtype=torch.float64)
    mask = (torch.rand(shape, generator=g) < p).long()
    return values, mask


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("factor", [None, "global"])
def test_masked_mean_snippet_equals_library(seed, factor):
    values, mask = random_masked(seed)
    f = None if factor is None else int(mask.sum()) + 3
    a = values.clone().requires_grad_(True)
    b = values.clone().requires_grad_(True)
    ours, ref = S["masked_mean"](a, mask, f), masked_mean(b, mask, global_normalization_factor=f)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(a.grad, b.grad)
    np_value = S["masked_mean_np"](values.numpy(), mask.numpy(), f)
    assert np_value == pytest.approx(ref.item(), abs=1e-12)


def test_masked_mean_snippet_adversarial():
    values = torch.tensor([1.0, float("inf"), float("nan")])
    mask = torch.tensor([1, 0, 0])
    assert S["masked_mean"](values, mask).item() == 1.0
    assert S["masked_mean"](values, torch.zeros(3)).item() == 0.0
    assert S["masked_mean_np"](values.numpy(), np.zeros(3)) == 0.0
    assert S["masked_mean_np"](values.numpy(), mask.numpy()) == 1.0


class TinyLM(torch.nn.Module):
    def __init__(self, vocab=9, dim=5):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.out = torch.nn.Linear(dim, vocab)

    def forward(self, ids):
        return self.out(self.embed(ids))


@pytest.mark.parametrize("microbatches", [1, 2, 4])
def test_accumulate_nll_snippet_equals_library_and_full_batch(microbatches):
    torch.manual_seed(0)
    model = TinyLM().double()
    lengths = torch.tensor([6, 1, 3, 5])
    ids = torch.randint(0, 9, (4, 7))
    batch = {"input_ids": ids[:, :-1], "target_ids": ids[:, 1:],
             "token_mask": (torch.arange(6) < lengths[:, None]).long()}
    total = S["accumulate_nll"](model, batch, microbatches)
    grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    model.zero_grad()
    logits = model(batch["input_ids"])
    ref, _ = NLLLoss()(logits, batch, None, None)
    ref.backward()
    ref_grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert total == pytest.approx(ref.item(), abs=1e-12)
    torch.testing.assert_close(grad, ref_grad)


def pg_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    shape = (3, 5)
    lp = -torch.rand(shape, generator=g, dtype=torch.float64) * 2
    old = lp + 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)
    adv = 3 * torch.randn(shape, generator=g, dtype=torch.float64)
    mask = (torch.arange(5) < torch.tensor([5, 2, 3])[:, None]).long()
    return lp, old, adv, mask


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_clipped_pg_snippet_equals_library(seed, dual_clip):
    lp, old, adv, mask = pg_inputs(seed)
    data = {"token_mask": mask, "prev_logprobs": old, "advantages": adv}
    ref, ref_grad = accumulate_microbatches(
        ClippedPGLoss(eps_low=0.2, eps_high=0.28, dual_clip=dual_clip), lp, data
    )
    x = lp.clone().requires_grad_(True)
    ours = S["clipped_pg_loss"](x, old, adv, mask, 0.2, 0.28, dual_clip)
    ours.backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(x.grad, ref_grad)
    glob = S["clipped_pg_loss"](lp, old, adv, mask, global_valid_toks=20)
    lib, _ = ClippedPGLoss()(lp, data, None, 20)
    torch.testing.assert_close(glob, lib)
    np_value = S["clipped_pg_loss_np"](lp.numpy(), old.numpy(), adv.numpy(), mask.numpy(),
                                       0.2, 0.28, dual_clip)
    assert np_value == pytest.approx(ref.item(), abs=1e-12)


def test_clipped_pg_snippet_check_values():
    ratio = torch.tensor([0.5, 1.0, 1.5])
    loss = S["clipped_pg_loss"](ratio.log(), torch.zeros(3), torch.tensor([1.0, -1.0, 2.0]),
                                torch.ones(3))
    assert loss.item() == pytest.approx(-0.6333, abs=1e-4)
    capped = S["clipped_pg_loss"](torch.tensor([math.log(10.0)]), torch.zeros(1),
                                  torch.tensor([-4.0]), torch.ones(1), dual_clip=3.0)
    assert capped.item() == pytest.approx(12.0)


@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_stable_contrastive_snippets_equal_library(scale):
    g = torch.Generator().manual_seed(1)
    pos = scale * torch.randn(6, generator=g, dtype=torch.float64)
    neg = scale * torch.randn(6, 4, generator=g, dtype=torch.float64)
    a = pos.clone().requires_grad_(True)
    b = pos.clone().requires_grad_(True)
    ours = S["stable_contrastive_loss"](a, neg, 0.05)
    ref = stable_contrastive_loss(b, neg, temperature=0.05)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(a.grad, b.grad)
    np_value = S["stable_contrastive_loss_np"](pos.numpy(), neg.numpy(), 0.05)
    assert np.isfinite(np_value) and np_value == pytest.approx(ref.item(), rel=1e-10)


def test_uncertainty_snippet_equals_library():
    weighting = UncertaintyWeighting(3, init_log_var=0.3)
    losses = [torch.tensor(2.0), torch.tensor(0.1), torch.tensor(5.0)]
    log_vars = torch.full((3,), 0.3, requires_grad=True)
    ours = S["uncertainty_weighted_sum"](losses, log_vars)
    ref = weighting(losses)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(log_vars.grad, weighting.log_vars.grad)

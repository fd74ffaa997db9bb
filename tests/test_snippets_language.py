"""The language-model snippets equal their library twins (values and gradients, random and
adversarial inputs), the NumPy version equals the PyTorch one, and every torch snippet runs on
meta tensors (no tensor created on the CPU inside the function)."""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
lang = runpy.run_path(str(SNIPPETS / "language.py"))


def _same(f, g, inputs):
    a, b = f(), g()
    torch.testing.assert_close(a, b)
    for x, ga, gb in zip(inputs, torch.autograd.grad(a, inputs), torch.autograd.grad(b, inputs)):
        torch.testing.assert_close(ga, gb)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), b=st.integers(1, 3), length=st.integers(2, 6),
       v=st.integers(2, 7), scale=st.sampled_from([1.0, 30.0]))
def test_next_token_snippets(seed, b, length, v, scale):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(b, length, v, generator=g)).requires_grad_()
    labels = torch.randint(0, v, (b, length), generator=g)
    labels[:, : length // 2] = -100  # a prompt in every row
    labels[0, -1] = 0  # at least one valid token
    _same(lambda: lang["next_token_loss"](logits, labels),
          lambda: lossbook.next_token_cross_entropy(logits, labels), (logits,))
    np.testing.assert_allclose(
        lang["next_token_loss_np"](logits.detach().double().numpy(), labels.numpy()),
        lossbook.next_token_cross_entropy(logits.detach().double(), labels).item(), rtol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), v=st.integers(2, 6),
       temperature=st.sampled_from([1.0, 2.0, 4.0]))
def test_kd_snippet(seed, n, v, temperature):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, v, generator=g, dtype=torch.float64).requires_grad_()
    t = 3 * torch.randn(n, v, generator=g, dtype=torch.float64)
    _same(lambda: lang["kd_loss"](s, t, temperature),
          lambda: lossbook.distillation_loss(s, t, temperature=temperature), (s,))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 12), n=st.integers(2, 6))
def test_moe_snippets(seed, t, n):
    g = torch.Generator().manual_seed(seed)
    z = (2 * torch.randn(t, n, generator=g)).requires_grad_()  # the snippets compute in float32
    _same(lambda: lang["load_balancing_loss"](z), lambda: lossbook.load_balancing_loss(z), (z,))
    _same(lambda: lang["router_z_loss"](z), lambda: lossbook.router_z_loss(z), (z,))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), b=st.integers(1, 6), d=st.integers(1, 5))
def test_siglip_and_clip_snippets(seed, b, d):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64).requires_grad_()
    y = torch.randn(b, d, generator=g, dtype=torch.float64).requires_grad_()
    t_prime = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
    _same(lambda: lang["siglip_loss"](x, y, t_prime, bias),
          lambda: lossbook.siglip_loss(x, y, logit_scale=t_prime.exp(), logit_bias=bias),
          (x, y, t_prime, bias))
    _same(lambda: lang["clip_loss"](x, y, 14.0),
          lambda: lossbook.clip_loss(x, y, logit_scale=14.0), (x, y))


def test_adversarial_all_prompt_row_and_extreme_logits():
    logits = torch.tensor([[[80.0, -80.0, 0.0]] * 3, [[0.0, 0.0, 0.0]] * 3]).requires_grad_()
    labels = torch.tensor([[-100, -100, -100], [-100, 1, 2]])  # row 0 is all prompt
    _same(lambda: lang["next_token_loss"](logits, labels),
          lambda: lossbook.next_token_cross_entropy(logits, labels), (logits,))


@pytest.mark.parametrize("name,args", [
    ("next_token_loss", lambda: (torch.randn(2, 4, 5), torch.randint(0, 5, (2, 4)))),
    ("kd_loss", lambda: (torch.randn(3, 5), torch.randn(3, 5))),
    ("load_balancing_loss", lambda: (torch.randn(6, 4),)),
    ("router_z_loss", lambda: (torch.randn(6, 4),)),
    ("siglip_loss", lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.tensor(2.3),
                             torch.tensor(-10.0))),
    ("clip_loss", lambda: (torch.randn(3, 4), torch.randn(3, 4), 14.0)),
])
def test_snippets_run_on_meta(name, args):
    meta = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args()]
    out = lang[name](*meta)
    assert out.is_meta

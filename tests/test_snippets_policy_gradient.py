"""The interview snippets of docs/rl-for-llms.md equal the library (values and gradients, random
and adversarial inputs)."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import lossbook as L

PG = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "policy_gradient.py"))
f64 = {"dtype": torch.float64}


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("scale", [0.01, 1.0, 8.0])
def test_kl_estimators_snippet(scale):
    g = gen(0)
    logp = (scale * torch.randn(3, 7, generator=g, **f64)).requires_grad_()
    ref = scale * torch.randn(3, 7, generator=g, **f64)
    for est, value in zip(("k1", "k2", "k3"), PG["kl_estimators"](logp, ref)):
        lib = L.kl_penalty(logp, ref, estimator=est, reduction="none")
        assert torch.allclose(value, lib, rtol=1e-12, atol=1e-12)
        (ga,) = torch.autograd.grad(value.sum(), logp)
        (gb,) = torch.autograd.grad(lib.sum(), logp)
        assert torch.allclose(ga, gb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("G", [2, 5])
def test_rloo_snippet(G):
    r = torch.randn(3 * G, generator=gen(G), **f64)
    r[:G] = 1.0  # an all-equal group: advantages exactly 0
    lib = L.rloo_advantages(r, group_size=G)
    assert torch.allclose(PG["rloo_advantages"](r, G), lib, rtol=1e-12, atol=1e-12)
    assert np.allclose(PG["rloo_advantages_np"](r.numpy(), G), lib.numpy(), rtol=1e-12)


@pytest.mark.parametrize("eps", [0.05, 0.2, 10.0])
def test_ppo_value_loss_snippet(eps):
    g = gen(1)
    v, old, ret = (3 * torch.randn(3, 4, 6, generator=g, **f64)).unbind()
    a, b = v.clone().requires_grad_(), v.clone().requires_grad_()
    out_a = PG["ppo_value_loss"](a, old, ret, eps)
    out_b = L.ppo_value_loss(b, old, ret, clip_range=eps)
    assert torch.allclose(out_a, out_b, rtol=1e-12)
    out_a.backward()
    out_b.backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)


def test_simpo_snippet():
    g = gen(2)
    c, r = (-40 * torch.rand(2, 8, generator=g, **f64)).unbind()
    nc, nr = torch.randint(1, 50, (2, 8), generator=g).unbind()
    a, b = c.clone().requires_grad_(), c.clone().requires_grad_()
    out_a = PG["simpo_loss"](a, r, nc, nr, beta=2.5, gamma=1.2)
    out_b = L.simpo_loss(b, r, nc, nr, beta=2.5, gamma=1.2)
    assert torch.allclose(out_a, out_b, rtol=1e-12)
    out_a.backward()
    out_b.backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-12)


@pytest.mark.parametrize("tau", [0.5, 0.7, 0.99])
def test_iql_snippet(tau):
    g = gen(3)
    v, q = (2 * torch.randn(2, 25, generator=g, **f64)).unbind()
    a, b = v.clone().requires_grad_(), v.clone().requires_grad_()
    out_a = PG["iql_expectile_loss"](a, q, tau)
    out_b = L.iql_expectile_loss(b, q, tau=tau)
    assert torch.allclose(out_a, out_b, rtol=1e-12)
    out_a.backward()
    out_b.backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-12)



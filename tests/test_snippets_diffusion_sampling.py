"""The interview snippets in snippets/diffusion_sampling.py equal their lossbook twins (values,
gradients), and run on meta tensors (nothing created on the CPU inside)."""

import runpy
from pathlib import Path

import pytest
import torch

import lossbook

S = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "diffusion_sampling.py"))
AB = lossbook.alphas_cumprod(lossbook.linear_beta_schedule(1000))


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("t, t_prev", [(999, 899), (500, 0), (100, -1), (1, 0)])
def test_ddim_step(eta, t, t_prev):
    g = torch.Generator().manual_seed(t)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g)
    eps = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    z = torch.randn(3, 4, dtype=torch.float64, generator=g)
    ours = S["ddim_step"](eps, x, t, t_prev, AB, eta=eta, noise=z)
    ref = lossbook.ddim_step(eps, x, t, t_prev, AB, eta=eta, noise=z)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), eps)
    (g2,) = torch.autograd.grad(ref.sum(), eps)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("param", ["eps", "x0", "v"])
def test_min_snr_weight(param):
    s = torch.tensor([1e-3, 0.5, 4.9, 5.0, 5.1, 300.0], dtype=torch.float64, requires_grad=True)
    ours = S["min_snr_weight"](s, gamma=5.0, parameterization=param)
    ref = lossbook.min_snr_weight(s, gamma=5.0, parameterization=param)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), s)
    (g2,) = torch.autograd.grad(ref.sum(), s)
    torch.testing.assert_close(g1, g2)


def test_snippets_run_on_meta_tensors():
    x = torch.empty(2, 3, device="meta")
    ab = torch.empty(10, device="meta")
    assert S["ddim_step"](x, x, 5, -1, ab, eta=1.0).device.type == "meta"
    assert S["min_snr_weight"](torch.empty(4, device="meta"), parameterization="v").device.type == "meta"

"""lossbook.probabilistic."""

import torch

import lossbook
from opinfo import E, OpInfo, S, rand, randn, set_first


def _elbo(g, b, dt, **kwargs):
    return S(randn(g, b, 6, dt=dt), rand(g, b, 6, dt=dt), randn(g, b, 2, dt=dt),
             randn(g, b, 2, dt=dt, scale=0.5), **kwargs)


ENTRIES = [
    OpInfo(
        lossbook.kl_divergence,
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt, scale=2.0), randn(g, b, 3, dt=dt)),
        grad=("logits_p", "logits_q"),
        errors=[E("logits_p", "scalar", {"logits_p": torch.tensor(1.0),
                                        "logits_q": torch.tensor(1.0)})],
        # a masked class (logit -inf: p = 0) and saturated logits
        extreme=lambda g, b, dt: S(torch.tensor([[0.0, -float("inf"), 1e4]], dtype=dt),
                                   torch.tensor([[1e4, -1e4, 0.0]], dtype=dt)),
    ),
    OpInfo(
        lossbook.gaussian_kl,
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt), randn(g, b, 3, dt=dt, scale=0.5)),
        grad=("mu", "logvar"),
    ),
    OpInfo(
        lossbook.elbo_loss,
        sample=lambda g, b, dt: _elbo(g, b, dt),
        grad=("recon", "mu", "logvar"),
        nan=("target",),
        errors=[
            E("likelihood", "'poisson'", {"likelihood": "poisson"}),
            E("beta", r"-1\.0", {"beta": -1.0}),
            E("free_bits", r"-0\.5", {"free_bits": -0.5}),
            E("target", r"\[0, 1\].*2\.0", {"target": lambda a: set_first(2.0)(a["target"])}),
        ],
    ),
    OpInfo(  # Gaussian likelihood (any real target) with free bits
        lossbook.elbo_loss,
        name="elbo_loss",
        sample=lambda g, b, dt: _elbo(g, b, dt, likelihood="gaussian", free_bits=0.5, beta=2.0),
        grad=("recon", "mu", "logvar"),
    ),
]

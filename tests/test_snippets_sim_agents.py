"""snippets/sim_agents.py equals lossbook.sim_agents (tokens, positions and gradients)."""

import runpy
from pathlib import Path

import torch

import lossbook

SNIP = runpy.run_path(str(Path(__file__).resolve().parent.parent / "snippets" / "sim_agents.py"))


def _walk(seed, B=4, T=9, scale=0.8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T + 1, 2, generator=g, dtype=torch.float64).mul(scale).cumsum(1)


def test_tokenize_equals_the_library():
    for seed, vocab in [(0, lossbook.delta_vocab(1.0, 5, dtype=torch.float64)),
                        (1, torch.randn(16, 2, generator=torch.Generator().manual_seed(9),
                                        dtype=torch.float64))]:  # a k-disks-like irregular vocabulary
        xy = _walk(seed)
        torch.testing.assert_close(SNIP["tokenize"](xy, vocab), lossbook.tokenize_deltas(xy, vocab))
    xy = _walk(2, scale=3.0)  # steps far outside the grid: the edge tokens
    vocab = lossbook.delta_vocab(1.0, 3, dtype=torch.float64)
    torch.testing.assert_close(SNIP["tokenize"](xy, vocab), lossbook.tokenize_deltas(xy, vocab))


def test_detokenize_equals_the_library_values_and_gradients():
    g = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, 9, (3, 7), generator=g)
    vocab = torch.randn(9, 2, generator=g, dtype=torch.float64)
    start = torch.randn(3, 2, generator=g, dtype=torch.float64)
    outs, grads = [], []
    for fn in (SNIP["detokenize"], lossbook.detokenize):
        v, s = vocab.clone().requires_grad_(True), start.clone().requires_grad_(True)
        out = fn(tokens, v, s)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append((v.grad, s.grad))
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])

"""Policy-gradient losses of lossbook.policy_gradient against plain formulations (NeMo RL's
expressions at commit 7ea279a, written plainly), forward + backward, on a rollout batch of
64 completions x 1024 tokens.

- PPO value loss with clipping: lossbook's `ppo_value_loss` against NeMo RL's MseValueLossFn
  arithmetic (clamp, two squared errors, max, mean).
- CISPO: lossbook's `cispo_loss` (masked) against `-A * clamp(r).detach() * logp` masked mean.
"""

from __future__ import annotations

import torch

import lossbook
from bench.common import Case, forward_backward

B, T = 64, 1024


def _value_inputs():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(B, T, generator=g).requires_grad_()
    return v, torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)


def _plain_value(v, old, ret):
    clipped = torch.clamp(v, old - 0.2, old + 0.2)
    return torch.max((v - ret) ** 2, (clipped - ret) ** 2).mean()


def build_value_ours():
    return forward_backward(lambda v, o, r: lossbook.ppo_value_loss(v, o, r, clip_range=0.2),
                            _value_inputs)


def build_value_reference():
    return forward_backward(_plain_value, _value_inputs)


def _cispo_inputs():
    g = torch.Generator().manual_seed(1)
    logp = (-torch.rand(B, T, generator=g) * 3).requires_grad_()
    old = logp.detach() + 0.1 * torch.randn(B, T, generator=g)
    mask = torch.rand(B, T, generator=g) < 0.9
    return logp, old, torch.randn(B, T, generator=g), mask


def _plain_cispo(logp, old, adv, mask):
    ratio = torch.exp(logp - old).clamp(0.8, 1.2).detach()
    m = mask.to(logp.dtype)
    return (-adv * ratio * logp * m).sum() / m.sum()


def build_cispo_ours():
    return forward_backward(lambda lp, o, a, m: lossbook.cispo_loss(lp, o, a, mask=m), _cispo_inputs)


def build_cispo_reference():
    return forward_backward(_plain_cispo, _cispo_inputs)


CASES = [
    Case("ppo_value_loss", "lossbook.ppo_value_loss", "NeMo RL MseValueLossFn arithmetic",
         build_value_ours, build_value_reference, 1.1),
    Case("cispo_loss", "lossbook.cispo_loss", "plain masked CISPO", build_cispo_ours,
         build_cispo_reference, 1.1),
]

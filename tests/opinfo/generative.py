"""lossbook.generative."""

import torch

import lossbook
from opinfo import E, OpInfo, S, rand, randn, set_first


def _critic(g, dt):
    """A small critic with weights from ``g`` (a module: the meta run moves it too)."""
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(randn(g, *p.shape))
    return net.to(dt)


# Real and fake scores come from different batches: their shapes are free.
_SCORES = {"any_shape": ("real_logits", "fake_logits", "real_scores", "fake_scores"),
           "free_size": ("fake_logits", "fake_scores")}
_SATURATED = S(torch.tensor([[1e4], [-1e4]]), torch.tensor([[-1e4], [1e4]]))

ENTRIES = [
    OpInfo(
        lossbook.gan_discriminator_loss,
        sample=lambda g, b, dt: S(randn(g, b, 1, dt=dt), randn(g, b + 1, 1, dt=dt)),
        grad=("real_logits", "fake_logits"),
        extreme=lambda g, b, dt: S(*(x.to(dt) for x in _SATURATED.args)),
        **_SCORES,
    ),
    OpInfo(
        lossbook.gan_generator_loss,
        sample=lambda g, b, dt: S(randn(g, b, 1, dt=dt), saturating=True),
        grad=("fake_logits",),
        extreme=lambda g, b, dt: S(_SATURATED.args[1].to(dt)),
        **_SCORES,
    ),
    OpInfo(
        lossbook.wgan_critic_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b + 2, dt=dt)),
        grad=("real_scores", "fake_scores"),
        **_SCORES,
    ),
    OpInfo(
        lossbook.wgan_generator_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt)),
        grad=("fake_scores",),
        **_SCORES,
    ),
    OpInfo(
        lossbook.gradient_penalty,
        sample=lambda g, b, dt: S(_critic(g, dt), randn(g, b, 4, dt=dt), randn(g, b, 4, dt=dt),
                                  alpha=rand(g, b, dt=dt)),
        errors=[
            E("weight", r"-1\.0", {"weight": -1.0}),
            E("alpha", r"\[0, 1\].*1\.5", {"alpha": lambda a: set_first(1.5)(a["alpha"])}),
            E("critic", "int", {"critic": 3}, TypeError),
            E("critic", r"\[3, 2\]", {"critic": lambda a: (lambda x: x[:, :2])}),
        ],
        any_device=("alpha",),  # mixing weights are moved to real's device
        empty="real",
    ),
]

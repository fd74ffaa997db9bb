"""lossbook.contrastive."""

import torch

import lossbook
from opinfo import E, OpInfo, S, classes, randn


def _pair(g, b, dt, **kwargs):
    return S(randn(g, b, 4, dt=dt), randn(g, b, 4, dt=dt), **kwargs)


ENTRIES = [
    OpInfo(
        lossbook.info_nce,
        sample=lambda g, b, dt: _pair(g, b, dt, negatives=randn(g, 5, 4, dt=dt)),
        grad=("query", "key", "negatives"),
        free_size=("negatives",),  # any number M of extra negatives
        errors=[
            E("temperature", r"0\.0", {"temperature": 0.0}),
            E("temperature", r"-0\.5", {"temperature": torch.tensor(-0.5)}),
            E("temperature", r"\[1\]", {"temperature": torch.tensor([0.1])}),
            E("symmetric", "True", {"symmetric": True}),
            E("negatives", r"\[5, 3\]", {"negatives": lambda a: a["negatives"][:, :3]}),
            E("negatives", r"torch\.int64", {"negatives": lambda a: a["negatives"].long()},
              TypeError),
        ],
        # no normalisation and a small temperature: logits far beyond float16's exp range
        extreme=lambda g, b, dt: S(randn(g, 3, 4, dt=dt, scale=30.0),
                                   randn(g, 3, 4, dt=dt, scale=30.0), normalize=False,
                                   temperature=0.05),
    ),
    OpInfo(  # CLIP's symmetric form, with a learnable temperature
        lossbook.info_nce,
        name="info_nce",
        sample=lambda g, b, dt: _pair(g, b, dt, symmetric=True,
                                      temperature=torch.tensor(0.07, dtype=dt)),
        grad=("query", "key", "temperature"),
    ),
    OpInfo(
        lossbook.triplet_loss,
        sample=lambda g, b, dt: S(randn(g, b, 4, dt=dt), randn(g, b, 4, dt=dt),
                                  randn(g, b, 4, dt=dt), swap=True),
        grad=("anchor", "positive", "negative"),
        errors=[
            E("margin", r"0\.0", {"margin": 0.0}),
            E("p", r"0\.0", {"p": 0.0}),
            E("eps", r"-1\.0", {"eps": -1.0}),
        ],
    ),
    OpInfo(
        lossbook.pairwise_contrastive_loss,
        sample=lambda g, b, dt: _pair(g, b, dt, similar=classes(g, b, n=2)),
        grad=("x1", "x2"),
        errors=[
            E("similar", r"\[0, 1, 2\]|2", {"similar": lambda a: torch.tensor([0, 1, 2])}),
            E("similar", r"torch\.float32", {"similar": lambda a: a["similar"].float()},
              TypeError),
            E("margin", r"0\.0", {"margin": 0.0}),
        ],
    ),
    OpInfo(
        lossbook.vicreg_loss,
        # B >= 2: the variance is taken across the batch
        sample=lambda g, b, dt: _pair(g, b + 1 if b else 0, dt),
        grad=("z_a", "z_b"),
        errors=[
            E("z_a", r"got 1", {"z_a": lambda a: a["z_a"][:1], "z_b": lambda a: a["z_b"][:1]}),
            E("gamma", r"0\.0", {"gamma": 0.0}),
            E("eps", r"0\.0", {"eps": 0.0}),
            E("sim_weight", r"-1\.0", {"sim_weight": -1.0}),
            E("var_weight", r"-1\.0", {"var_weight": -1.0}),
            E("cov_weight", r"-1\.0", {"cov_weight": -1.0}),
        ],
    ),
]

# CLIP's and SigLIP's image-text losses (docs/llm-losses.md)
ENTRIES += [
    OpInfo(
        lossbook.clip_loss,
        sample=lambda g, b, dt: _pair(g, b, dt, logit_scale=torch.tensor(14.0, dtype=dt)),
        grad=("image", "text", "logit_scale"),
        errors=[
            E("logit_scale", r"0\.0", {"logit_scale": 0.0}),
            E("logit_scale", r"-1\.0", {"logit_scale": torch.tensor(-1.0)}),
            E("logit_scale", r"\[1\]", {"logit_scale": torch.tensor([14.0])}),
        ],
        extreme=lambda g, b, dt: S(randn(g, 3, 4, dt=dt, scale=30.0),
                                   randn(g, 3, 4, dt=dt, scale=30.0), normalize=False),
    ),
    OpInfo(
        lossbook.siglip_loss,
        sample=lambda g, b, dt: _pair(g, b, dt, logit_scale=torch.tensor(10.0, dtype=dt),
                                      logit_bias=torch.tensor(-10.0, dtype=dt)),
        grad=("image", "text", "logit_scale", "logit_bias"),
        errors=[
            E("logit_scale", r"0\.0", {"logit_scale": 0.0}),
            E("logit_bias", r"nan", {"logit_bias": float("nan")}),
            E("logit_bias", r"\[1\]", {"logit_bias": torch.tensor([-10.0])}),
        ],
        extreme=lambda g, b, dt: S(randn(g, 3, 4, dt=dt, scale=30.0),
                                   randn(g, 3, 4, dt=dt, scale=30.0), normalize=False),
        mean_over=lambda a: a["image"].shape[0],
    ),
]

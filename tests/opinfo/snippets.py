"""Sample inputs for the meta-device run of every torch interview snippet function on the site,
and the public names that are not functions of tensors."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_INCLUDE = re.compile(r'--8<-- "snippets/([\w.]+):([\w-]+)"')


def site_snippet_functions() -> list[str]:
    """``"file.py:function"`` for every function defined in a torch snippet section that a page
    includes (NumPy sections run no tensor code, so they are left out)."""
    found = set()
    for page in (ROOT / "docs").rglob("*.md"):
        for path, section in _INCLUDE.findall(page.read_text()):
            text = (ROOT / "snippets" / path).read_text()
            body = text.split(f"# --8<-- [start:{section}]")[1].split(f"# --8<-- [end:{section}]")[0]
            if "import torch" in body or "import numpy" not in body:  # NumPy ones run no tensor
                found.update(f"{path}:{name}" for name in re.findall(r"^def (\w+)\(", body, re.MULTILINE))
    return sorted(found)


# Public names of ``lossbook`` that are not functions of tensors, and why they have no entry.
NOT_FUNCTIONS = {
    "debug_mode": "a context manager switching the opt-in NaN checks; tested in test_classification",
    "is_debug": "reads the debug switch",
    "set_debug": "sets the debug switch (a bool)",
    "WOSAC_2025_WEIGHTS": "a constant (the challenge's weights)",
    "Alert": "a record (dataclass) returned by StabilityMonitor",
    "Component": "a record pairing a loss object with its weight (ComposedLoss's input)",
    "ComposedLoss": "a loss object built from Components: build_loss, which builds it, has an"
                    " entry; its own errors are tested in test_patterns",
    "DDPDemoResult": "a record (dataclass) returned by ddp_demo",
    "GradNormWeighting": "an nn.Module (learnable loss weights, moved with .to() like any"
                         " module); tested in test_patterns",
    "UncertaintyWeighting": "an nn.Module (learnable loss weights, moved with .to() like any"
                            " module); tested in test_patterns",
    "LOSS_REGISTRY": "a registry instance, build_loss's default",
    "LossRegistry": "the registry class; build_loss has an entry",
    "LossFunction": "a typing Protocol",
    "LossType": "an Enum",
    "StabilityMonitor": "a stateful monitor of Python floats; tested in test_patterns",
}

# "file.py:function" -> inputs (``g`` -> S) for the meta-device run, or why the function cannot
# run without data (a string). ``Keep(x)`` stays on the CPU (a schedule, as documented).
SNIPPETS: dict = {}


def _site_samples() -> dict:
    """Inputs of each torch snippet function on the site, or why it cannot run on ``meta``."""
    import math

    import torch
    import torch.nn.functional as F

    from opinfo import Keep, S, rand, randn

    schedule = torch.linspace(0.99, 0.05, 10, dtype=torch.float64)
    ab, ab_cpu = schedule, Keep(schedule)  # the snippets index it with t: on t's device
    labels = lambda g, n, c: torch.randint(0, c, (n,), generator=g)  # noqa: E731
    boxes = lambda g, n: torch.cat([randn(g, n, 2), torch.tensor([[4.5, 2.0]]).expand(n, 2),  # noqa: E731
                                    randn(g, n, 1)], dim=1)
    model = lambda x, t: 0.5 * x  # noqa: E731 - a parameter-free denoiser: any device
    reads = "reads values on the host by design ({})"
    return {
        "alignment.py:bradley_terry_loss": lambda g: S(randn(g, 4), randn(g, 4)),
        "alignment.py:dpo_loss": lambda g: S(*(randn(g, 4) for _ in range(4))),
        "alignment.py:grpo_loss": lambda g: S(randn(g, 4, 3), randn(g, 4, 3), randn(g, 4),
                                              torch.ones(4, 3), 2),
        "alignment.py:kto_loss": lambda g: S(randn(g, 4), randn(g, 4), torch.rand(4, generator=g) < 0.5,
                                             randn(g, 4), randn(g, 4)),
        "alignment.py:orpo_loss": lambda g: S(-rand(g, 4, low=0.1, high=2.0), -rand(g, 4, low=0.1, high=2.0)),
        "alignment.py:sequence_logps": lambda g: S(randn(g, 2, 3, 5), labels(g, 6, 5).view(2, 3),
                                                   torch.ones(2, 3)),
        "classification_extras.py:binary_cross_entropy": lambda g: S(randn(g, 4), rand(g, 4)),
        "classification_extras.py:cross_entropy": lambda g: S(randn(g, 4, 3), labels(g, 4, 3)),
        "classification_extras.py:label_smoothing_ce": lambda g: S(randn(g, 4, 3), labels(g, 4, 3)),
        "classification_extras.py:multiclass_hinge": lambda g: S(randn(g, 4, 3), labels(g, 4, 3)),
        "contrastive.py:contrastive_loss": lambda g: S(randn(g, 4, 3), randn(g, 4, 3), labels(g, 4, 2)),
        "contrastive.py:info_nce": lambda g: S(randn(g, 4, 3), randn(g, 4, 3)),
        "contrastive.py:triplet_loss": lambda g: S(randn(g, 4, 3), randn(g, 4, 3), randn(g, 4, 3)),
        "contrastive.py:vicreg": lambda g: S(randn(g, 4, 3), randn(g, 4, 3)),
        "debugging.py:grad_norm": reads.format("the norms as Python floats"),
        "debugging.py:leaked_rows": "torch.unique's output size depends on the data",
        "debugging.py:overfit_one_batch": reads.format("the loss history as Python floats"),
        "diffusion.py:cfg": lambda g: S(randn(g, 4, 2), randn(g, 4, 2), 3.0),
        "diffusion.py:cosine_beta_schedule": "takes no tensor: a schedule built on the CPU",
        "diffusion.py:ddpm_step": lambda g: S(randn(g, 4, 2), randn(g, 4, 2), 3, ab_cpu),  # .item()
        "diffusion.py:diffusion_loss": lambda g: S(model, randn(g, 4, 2), ab),
        "diffusion.py:flow_matching_loss": lambda g: S(model, randn(g, 4, 2)),
        "diffusion.py:mixture_denoiser": lambda g: S(rand(g, 2, low=0.2), randn(g, 2), rand(g, 2, low=0.5), ab),
        "diffusion.py:q_sample": lambda g: S(randn(g, 4, 2), labels(g, 4, 10), randn(g, 4, 2), ab),
        "diffusion_sampling.py:ddim_step": lambda g: S(randn(g, 4, 2), randn(g, 4, 2), 5, 2, ab,
                                                       eta=0.5),
        "diffusion_sampling.py:min_snr_weight": lambda g: S(rand(g, 4, low=0.1, high=20.0)),
        "focal_loss.py:focal_loss": lambda g: S(randn(g, 4, 3), labels(g, 4, 3), 2.0, rand(g, 3, low=0.5)),
        "focal_loss.py:sigmoid_focal_loss": lambda g: S(randn(g, 4, 3), rand(g, 4, 3)),
        "gans.py:critic_loss": lambda g: S(randn(g, 4), randn(g, 4)),
        "gans.py:d_loss": lambda g: S(randn(g, 4, 1), randn(g, 4, 1)),
        "gans.py:g_loss": lambda g: S(randn(g, 4, 1)),
        "gans.py:generator_loss": lambda g: S(randn(g, 4)),
        "gans.py:gradient_penalty": lambda g: S(torch.nn.Linear(3, 1), randn(g, 4, 3), randn(g, 4, 3)),
        "metrics.py:average_precision": "boolean indexing (one threshold per distinct score): the size depends on the data",
        "metrics.py:ece": "loops over bins with `if inside.any()`: it branches on the data",
        "metrics.py:fit_temperature": reads.format("the temperature as a Python float"),
        "metrics.py:ndcg_at_k": lambda g: S(randn(g, 5), rand(g, 5), 3),
        "metrics.py:precision_at_k": lambda g: S(randn(g, 5), labels(g, 5, 2), 3),
        "metrics.py:precision_recall_f1": "torch.bincount's output size depends on the data",
        "metrics.py:trajectory_metrics": lambda g: S(randn(g, 2, 3, 4, 2), torch.softmax(randn(g, 2, 3), 1),
                                                     randn(g, 2, 4, 2)),
        "patterns.py:accumulate_nll": reads.format("the loss as a Python float"),
        "patterns.py:clipped_pg_loss": reads.format("the token count as a Python float"),
        "patterns.py:masked_mean": reads.format("the valid count as a Python float"),
        "patterns.py:stable_contrastive_loss": lambda g: S(randn(g, 4), randn(g, 4, 3)),
        "patterns.py:uncertainty_weighted_sum": lambda g: S([rand(g, ()), rand(g, ())], randn(g, 2)),
        "probabilistic.py:gaussian_kl": lambda g: S(randn(g, 4, 2), randn(g, 4, 2)),
        "probabilistic.py:kl_categorical": lambda g: S(randn(g, 4, 3), randn(g, 4, 3)),
        "probabilistic.py:vae_loss": lambda g: S(randn(g, 4, 6), rand(g, 4, 6), randn(g, 4, 2), randn(g, 4, 2)),
        "regression.py:huber_loss": lambda g: S(randn(g, 4), randn(g, 4)),
        "regression.py:quantile_loss": lambda g: S(randn(g, 4), randn(g, 4), 0.8),
        "regularization.py:l1_penalty": lambda g: S(torch.nn.Linear(3, 2)),
        "regularization.py:l2_penalty": lambda g: S(torch.nn.Linear(3, 2)),
        "rl.py:gae": lambda g: S(randn(g, 5), randn(g, 6), dones=torch.tensor([0, 0, 1, 0, 0])),
        "rl.py:kl_penalty": lambda g: S(-rand(g, 4), -rand(g, 4)),
        "rl.py:ppo_clip_loss": lambda g: S(-rand(g, 4), -rand(g, 4), randn(g, 4)),
        "rl.py:quantile_huber_loss": lambda g: S(randn(g, 3, 4), randn(g, 3, 5)),
        "rl.py:reinforce_loss": lambda g: S(-rand(g, 4), randn(g, 4), randn(g, 4)),
        "rl.py:sac_actor_loss": lambda g: S(-rand(g, 4), randn(g, 4)),
        "rl.py:sac_critic_loss": lambda g: S(randn(g, 4), randn(g, 4), randn(g, 4), -rand(g, 4),
                                             torch.tensor([0.0, 1.0, 0.0, 0.0])),
        "rl.py:td_loss": lambda g: S(randn(g, 4), randn(g, 4), randn(g, 4), torch.tensor([0.0, 0.0, 1.0, 0.0])),
        "sim_agents.py:detokenize": lambda g: S(torch.tensor([[0, 3, 8]]), randn(g, 9, 2), randn(g, 1, 2)),
        "sim_agents.py:tokenize": lambda g: S(randn(g, 2, 4, 2), randn(g, 9, 2)),
        "simulation.py:box_corners": lambda g: S(boxes(g, 3)),
        "simulation.py:box_overlap": lambda g: S(boxes(g, 3), boxes(g, 3)),
        "simulation.py:histogram_log_likelihood": lambda g: S(rand(g, 5, 2, 3, high=20.0), rand(g, 2, 3, high=20.0),
                                                              0.0, 20.0, n_bins=4),
        "simulation.py:inverse_bicycle": lambda g: S(rand(g, 2, 5, low=3.0, high=9.0), randn(g, 2, 5)),
        "simulation.py:point_in_polygon": lambda g: S(randn(g, 4, 2), torch.tensor([[-1.0, -1.0], [1.0, -1.0], [0.0, 1.0]])),
        "trajectory_losses.py:mixture_nll": lambda g: S(randn(g, 2, 3, 4, 2), randn(g, 2, 3, 4, 2),
                                                        randn(g, 2, 3), randn(g, 2, 4, 2)),
        "trajectory_losses.py:wta_loss": lambda g: S(randn(g, 2, 3, 4, 2), randn(g, 2, 3), randn(g, 2, 4, 2)),
        "weighted_cross_entropy.py:class_weights": lambda g: S(torch.tensor([50, 20, 5])),
        "weighted_cross_entropy.py:weighted_cross_entropy": lambda g: S(randn(g, 4, 3), labels(g, 4, 3),
                                                                        rand(g, 3, low=0.5)),
    }


SNIPPETS.update(_site_samples())

# snippets/policy_gradient.py (docs/rl-for-llms.md)
def _pg_samples() -> dict:
    import torch

    from opinfo import S, randn

    return {
        "policy_gradient.py:kl_estimators": lambda g: S(randn(g, 2, 3), randn(g, 2, 3)),
        "policy_gradient.py:rloo_advantages": lambda g: S(randn(g, 6), 3),
        "policy_gradient.py:ppo_value_loss": lambda g: S(randn(g, 4), randn(g, 4), randn(g, 4)),
        "policy_gradient.py:simpo_loss": lambda g: S(randn(g, 3), randn(g, 3),
                                                     torch.tensor([4, 5, 6]), torch.tensor([7, 8, 9])),
        "policy_gradient.py:iql_expectile_loss": lambda g: S(randn(g, 4), randn(g, 4)),
    }


SNIPPETS.update(_pg_samples())


# snippets/language.py (docs/llm-losses.md)
def _language_samples() -> dict:
    import torch

    from opinfo import S, randn

    return {
        "language.py:next_token_loss": lambda g: S(randn(g, 2, 4, 5), torch.randint(0, 5, (2, 4))),
        "language.py:kd_loss": lambda g: S(randn(g, 3, 5), randn(g, 3, 5)),
        "language.py:load_balancing_loss": lambda g: S(randn(g, 6, 4)),
        "language.py:router_z_loss": lambda g: S(randn(g, 6, 4)),
        "language.py:siglip_loss": lambda g: S(randn(g, 3, 4), randn(g, 3, 4), torch.tensor(2.3),
                                               torch.tensor(-10.0)),
        "language.py:clip_loss": lambda g: S(randn(g, 3, 4), randn(g, 3, 4), 14.0),
    }


SNIPPETS.update(_language_samples())


# snippets/detection.py (docs/detection-metrics.md)
def _detection_samples() -> dict:
    import torch

    from opinfo import S, rand

    def boxes(g, n):
        xy = rand(g, n, 2, high=8.0)
        return torch.cat([xy, xy + 1 + 3 * rand(g, n, 2)], dim=1)

    def oriented(g, *shape):  # (x, y, length, width, heading)
        return torch.cat([rand(g, *shape, 2, high=8.0), rand(g, *shape, 2, low=1.0, high=4.0),
                          rand(g, *shape, 1, high=6.0)], dim=-1)

    return {
        "detection.py:box_iou": lambda g: S(boxes(g, 3), boxes(g, 2)),
        "detection.py:detection_ap": lambda g: S(boxes(g, 4), rand(g, 4), boxes(g, 3), 0.5),
        "detection.py:motion_map": "selects each bucket's samples with boolean masks (data-dependent"
                                   " sizes); equal to the library in test_snippets_detection",
        "detection.py:box_corners": lambda g: S(oriented(g, 3)),
        "detection.py:boxes_overlap": lambda g: S(oriented(g, 3, 1), oriented(g, 2)),
        "detection.py:overlap_rate": lambda g: S(rand(g, 2, 3, 4, 2, high=8.0), rand(g, 2, 3),
                                                 torch.tensor([0, 2]), oriented(g, 4, 5),
                                                 torch.ones(4, 5, dtype=torch.bool)),
    }


SNIPPETS.update(_detection_samples())


# snippets/calibration.py (docs/calibration.md)
def _calibration_samples() -> dict:
    import torch

    from opinfo import S, rand

    scene = torch.arange(4).repeat_interleave(3)
    return {
        "calibration.py:scene_bootstrap_ci": lambda g: S(
            torch.randint(0, 2, (12,), generator=g), torch.ones(12, dtype=torch.long), scene, 4,
            n_resamples=20),
        "calibration.py:brier_score": lambda g: S(torch.softmax(rand(g, 5, 3), 1),
                                                  torch.randint(0, 3, (5,), generator=g)),
    }


SNIPPETS.update(_calibration_samples())


# snippets/long_tail.py (docs/long-tail.md)
def _long_tail_samples() -> dict:
    import torch

    from opinfo import S, rand, randn

    labels = lambda g: torch.randint(0, 3, (5,), generator=g)  # noqa: E731
    return {
        "long_tail.py:logit_adjusted_loss": lambda g: S(randn(g, 5, 3), labels(g), rand(g, 3, low=0.1), 1.0),
        "long_tail.py:posthoc_adjust": lambda g: S(randn(g, 5, 3), rand(g, 3, low=0.1), 1.0),
        "long_tail.py:balanced_softmax_loss": lambda g: S(randn(g, 5, 3), labels(g), rand(g, 3, low=1.0, high=100.0)),
        "long_tail.py:ohem_loss": lambda g: S(randn(g, 5, 3), labels(g), 2),
    }


SNIPPETS.update(_long_tail_samples())

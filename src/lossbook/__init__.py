"""Lossbook: loss functions and metrics for ML modeling interviews, tested and documented.

Everything public is importable from the top level, e.g. ``from lossbook import focal_loss``.
Modules by domain:

- ``classification``: weighted cross entropy, class weights, focal losses, label smoothing, hinge
- ``regression``: Huber and quantile losses
- ``trajectory``: winner-takes-all and mixture NLL for multi-modal futures
- ``metrics``: classification, calibration, ranking and trajectory metrics
- ``contrastive``, ``regularization``, ``probabilistic``, ``generative``: the glossary's losses
- ``diffusion`` (and the toy model of the simulation lesson, ``diffusion_toy``)
- ``rl``, ``policy_gradient`` and ``alignment``: policy, value and preference losses
- ``patterns``: NeMo-style loss objects, global normalisation, composition, monitoring
- ``simulation``: collision, offroad, wrong-way, kinematics, realism
- ``language``: next-token cross entropy, perplexity, distillation, MoE router losses
- ``debugging``: overfit one batch, gradient norms, learning-rate sweeps, leakage
- ``kata``: practice exercises checked against the library (``lossbook kata``)
"""

from ._checks import debug_mode, is_debug, set_debug
from .alignment import *  # noqa: F403
from .classification import *  # noqa: F403
from .contrastive import *  # noqa: F403
from .debugging import *  # noqa: F403
from .diffusion import *  # noqa: F403
from .diffusion_toy import (
    toy_condition,
    toy_intersection,
    toy_modes,
    train_toy_baselines,
    train_toy_trajectory_model,
)
from .generative import *  # noqa: F403
from .language import *  # noqa: F403
from .metrics import *  # noqa: F403
from .patterns import *  # noqa: F403
from .policy_gradient import *  # noqa: F403
from .probabilistic import *  # noqa: F403
from .regression import *  # noqa: F403
from .regularization import *  # noqa: F403
from .rl import *  # noqa: F403
from .sim_agents import *  # noqa: F403
from .simulation import *  # noqa: F403
from .trajectory import *  # noqa: F403
from . import (
    alignment,
    classification,
    contrastive,
    debugging,
    diffusion,
    generative,
    language,
    metrics,
    patterns,
    policy_gradient,
    probabilistic,
    regression,
    regularization,
    rl,
    sim_agents,
    simulation,
    trajectory,
)

__version__ = "0.1.0"

__all__ = sorted(
    {
        "debug_mode",
        "is_debug",
        "set_debug",
        "toy_condition",
        "toy_intersection",
        "toy_modes",
        "train_toy_baselines",
        "train_toy_trajectory_model",
        *(
            name
            for module in (
                alignment, classification, contrastive, debugging, diffusion, generative,
                language, metrics, patterns, policy_gradient, probabilistic, regression, regularization, rl,
                sim_agents, simulation, trajectory,
            )
            for name in module.__all__
        ),
    }
)

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

The domain modules (and torch with them) are imported on first use of a public name of the
package (or of ``__all__``, or ``dir()``), not by ``import lossbook``: the `lossbook kata`
commands that only print start in a fraction of a second.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names, for type checkers and the API reference's static reading
    from ._checks import debug_mode, is_debug, set_debug
    from .alignment import *
    from .classification import *
    from .contrastive import *
    from .debugging import *
    from .diffusion import *
    from .diffusion_toy import (
        toy_condition,
        toy_intersection,
        toy_modes,
        train_toy_baselines,
        train_toy_trajectory_model,
    )
    from .generative import *
    from .language import *
    from .metrics import *
    from .patterns import *
    from .policy_gradient import *
    from .probabilistic import *
    from .regression import *
    from .regularization import *
    from .rl import *
    from .sim_agents import *
    from .simulation import *
    from .trajectory import *

__version__ = "0.1.0"

# Every name of these modules' __all__ is a name of the package, as are the few below.
_DOMAINS = (
    "alignment", "classification", "contrastive", "debugging", "diffusion", "generative", "language",
    "metrics", "patterns", "policy_gradient", "probabilistic", "regression", "regularization", "rl",
    "sim_agents", "simulation", "trajectory",
)
_ALSO = {
    "_checks": ("debug_mode", "is_debug", "set_debug"),
    "diffusion_toy": ("toy_condition", "toy_intersection", "toy_modes", "train_toy_baselines",
                      "train_toy_trajectory_model"),
}


def _load() -> None:
    """Import the domain modules and bind their public names here (what ``import lossbook`` did
    before the names were loaded on first use). An AttributeError while importing them comes out
    as an ImportError: inside ``__getattr__`` it would read as "no such name"."""
    names = set()
    try:
        for module_name, public in [*((m, None) for m in _DOMAINS), *_ALSO.items()]:
            module = _importlib.import_module(f".{module_name}", __name__)
            public = module.__all__ if public is None else public
            globals().update({name: getattr(module, name) for name in public})
            names.update(public)
    except AttributeError as error:
        raise ImportError(f"lossbook could not load its modules: {error}") from error
    globals()["__all__"] = sorted(names)


def __getattr__(name: str):
    if name.startswith("_") and name != "__all__":  # probes (__wrapped__, __test__...): no load
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if "__all__" not in globals():
        _load()
    if name in globals():
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    if "__all__" not in globals():
        _load()
    return sorted(set(globals()) - {"TYPE_CHECKING"})

"""Lossbook: loss functions and metrics for ML modeling interviews, tested and documented.

Everything public is importable from the top level, e.g. ``from lossbook import focal_loss``.
Modules by domain: ``classification``, ``trajectory`` (and more as lessons land).
"""

from ._checks import debug_mode, is_debug, set_debug
from .classification import class_weights, focal_loss, sigmoid_focal_loss, weighted_cross_entropy
from .trajectory import mixture_nll, wta_trajectory_loss

__version__ = "0.1.0"

__all__ = [
    "class_weights",
    "debug_mode",
    "focal_loss",
    "is_debug",
    "mixture_nll",
    "set_debug",
    "sigmoid_focal_loss",
    "weighted_cross_entropy",
    "wta_trajectory_loss",
]

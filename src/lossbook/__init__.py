"""Lossbook: loss functions and metrics for ML modeling interviews, tested and documented.

Everything public is importable from the top level, e.g. ``from lossbook import focal_loss``.
Modules by domain: ``classification``, ``trajectory`` (and more as lessons land).
"""

from ._checks import debug_mode, is_debug, set_debug
from .classification import class_weights, focal_loss, sigmoid_focal_loss, weighted_cross_entropy
from .diffusion import (
    alphas_cumprod,
    cfg_combine,
    cosine_beta_schedule,
    ddpm_sample,
    ddpm_step,
    diffusion_loss,
    eps_from_v,
    eps_from_x0,
    flow_matching_loss,
    flow_matching_sample,
    linear_beta_schedule,
    q_sample,
    v_from_x0_eps,
    x0_from_eps,
    x0_from_v,
)
from .trajectory import mixture_nll, wta_trajectory_loss
from .diffusion_toy import toy_condition, toy_intersection, toy_modes, train_toy_baselines, train_toy_trajectory_model  # noqa: E501, I001
from .metrics import average_precision, brier_min_fde, confusion_matrix, expected_calibration_error, fit_temperature, min_ade, min_fde, miss_rate, ndcg, precision_at_k, precision_recall_curve, precision_recall_f1, reliability_bins, roc_auc, roc_curve, waymo_miss_rate, waymo_miss_thresholds  # noqa: E501, I001
from .classification import label_smoothing_cross_entropy, multiclass_hinge_loss  # noqa: I001
from .regression import huber_loss, quantile_loss  # noqa: I001
from .contrastive import info_nce, pairwise_contrastive_loss, triplet_loss, vicreg_loss  # noqa: I001
from .regularization import l1_penalty, l2_penalty  # noqa: I001
from .probabilistic import elbo_loss, gaussian_kl, kl_divergence  # noqa: I001
from .generative import gan_discriminator_loss, gan_generator_loss, gradient_penalty, wgan_critic_loss, wgan_generator_loss  # noqa: E501, I001
from .rl import generalized_advantage_estimate, kl_penalty, ppo_clip_loss, quantile_huber_loss, reinforce_loss, sac_actor_loss, sac_critic_loss, sac_temperature_loss, td_loss  # noqa: E501, I001
from .alignment import bradley_terry_loss, dpo_loss, grpo_advantages, grpo_loss, kto_loss, orpo_loss  # noqa: E501, I001
from .patterns import LOSS_REGISTRY, Alert, BradleyTerryLoss, ClippedPGLoss, Component, ComposedLoss, DDPDemoResult, DPOLoss, GradNormWeighting, LossFunction, LossRegistry, LossType, NLLLoss, StabilityMonitor, UncertaintyWeighting, accumulate_microbatches, build_loss, check_finite_losses, component_grad_norms, data_parallel_backward, ddp_demo, global_valid_counts, masked_mean, slice_batch, stable_contrastive_loss  # noqa: E501, I001
from .simulation import WOSAC_2025_WEIGHTS, box_corners, box_overlap, collision, histogram_log_likelihood, inverse_bicycle, kinematic_infeasibility, log_divergence, nearest_object_distance, offroad, point_in_polygon, realism_score, signed_distance_to_road_edges, toy_rollouts, toy_scene, wrong_way  # noqa: E501, I001
from .debugging import grad_norm, leaked_rows, lr_sweep, overfit_one_batch  # noqa: I001

__version__ = "0.1.0"

__all__ = [
    # metrics
    "average_precision", "brier_min_fde", "confusion_matrix", "expected_calibration_error",
    "fit_temperature", "min_ade", "min_fde", "miss_rate", "ndcg", "precision_at_k",
    "precision_recall_curve", "precision_recall_f1", "reliability_bins", "roc_auc", "roc_curve",
    "waymo_miss_rate", "waymo_miss_thresholds",
    # glossary part 1: classification extras, regression, contrastive, regularization,
    # probabilistic, generative
    "label_smoothing_cross_entropy", "multiclass_hinge_loss", "huber_loss", "quantile_loss",
    "info_nce", "pairwise_contrastive_loss", "triplet_loss", "vicreg_loss", "l1_penalty",
    "l2_penalty", "elbo_loss", "gaussian_kl", "kl_divergence", "gan_discriminator_loss",
    "gan_generator_loss", "gradient_penalty", "wgan_critic_loss", "wgan_generator_loss",
    "alphas_cumprod",
    "cfg_combine",
    "cosine_beta_schedule",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_loss",
    "eps_from_v",
    "eps_from_x0",
    "flow_matching_loss",
    "flow_matching_sample",
    "linear_beta_schedule",
    "q_sample",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
    "toy_condition",
    "toy_intersection",
    "toy_modes",
    "train_toy_baselines",
    "train_toy_trajectory_model",
    # rl
    "generalized_advantage_estimate", "kl_penalty", "ppo_clip_loss", "quantile_huber_loss",
    "reinforce_loss", "sac_actor_loss", "sac_critic_loss", "sac_temperature_loss", "td_loss",
    # alignment
    "bradley_terry_loss", "dpo_loss", "grpo_advantages", "grpo_loss", "kto_loss", "orpo_loss",
    # patterns
    "LOSS_REGISTRY", "Alert", "BradleyTerryLoss", "ClippedPGLoss", "Component", "ComposedLoss",
    "DDPDemoResult", "DPOLoss", "GradNormWeighting", "LossFunction", "LossRegistry", "LossType",
    "NLLLoss", "StabilityMonitor", "UncertaintyWeighting", "accumulate_microbatches",
    "build_loss", "check_finite_losses", "component_grad_norms", "data_parallel_backward",
    "ddp_demo",
    "global_valid_counts", "masked_mean", "slice_batch", "stable_contrastive_loss",
    # simulation
    "WOSAC_2025_WEIGHTS", "box_corners", "box_overlap", "collision", "histogram_log_likelihood",
    "inverse_bicycle", "kinematic_infeasibility", "log_divergence", "nearest_object_distance",
    "offroad", "point_in_polygon", "realism_score", "signed_distance_to_road_edges",
    "toy_rollouts", "toy_scene", "wrong_way",
    # debugging
    "grad_norm", "leaked_rows", "lr_sweep", "overfit_one_batch",
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

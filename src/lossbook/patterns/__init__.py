r"""Loss patterns of post-training libraries (NeMo RL style), with normalisation that survives
gradient accumulation and data parallelism.

The interface follows the positional form of NeMo RL's ``LossFunction``
(``nemo_rl/algorithms/interfaces.py`` up to v0.5.0; since v0.6.0 the protocol lives in
``nemo_rl/algorithms/loss/interfaces.py``, also declares an ``input_type`` and receives the model
output as a keyword argument prepared by ``prepare_loss_input``; checked at commit 7ea279a): a loss
object declares a [LossType][lossbook.patterns.LossType] and is called with the model output, the
batch (masks included) and the number of valid sequences and tokens **of the whole global
batch**. It returns ``(loss, metrics)``. Each microbatch divides its masked sum by the global
count, so the microbatch losses simply add up to the loss of the global batch, on one process or
many.

Simplifications with respect to NeMo RL, all deliberate and documented:

- ``data`` is a plain ``Mapping[str, Tensor]`` (NeMo RL uses its ``BatchedDataDict``).
- Targets are **already shifted**: ``data["target_ids"][b, t]`` is the token that
  ``logits[b, t]`` predicts, and ``token_mask`` has the same length ``T``. NeMo RL works with the
  unshifted ``input_ids``: its losses drop the first ``token_mask`` entry (and, up to v0.5.0, the
  last logit) themselves.
- The first argument may be logits ``[B, T, V]`` (as in NeMo RL up to v0.5.0) or the per-token
  log-probabilities ``[B, T]`` of the targets (what ``prepare_loss_input`` hands over since
  v0.6.0). No vocabulary-parallel (DTensor) logits, no sequence packing.
- Metrics are Python floats normalised by the same global counts as the loss, so summing them
  over microbatches and ranks gives the global-batch value.

The package, by concern (every public name is importable from ``lossbook.patterns``):

- ``interface``: [LossType][lossbook.patterns.LossType] and the
  [LossFunction][lossbook.patterns.LossFunction] protocol;
- ``normalisation``: masks, global valid counts, the masked mean;
- ``losses``: the loss objects (NLL, clipped policy gradient, DPO, Bradley-Terry) and a stable
  contrastive loss;
- ``composition``: weighted sums of loss objects, the registry, building a loss from a config;
- ``weighting``: uncertainty and GradNorm weighting;
- ``monitoring``: finiteness checks, per-component gradient norms, a stability monitor;
- ``distributed``: gradient accumulation, one data-parallel rank's step, a real 2-process demo.
"""

# In the order of the concerns (the API reference lists the members in this order).
# isort: off
from .interface import LossType, LossFunction
from .normalisation import masked_mean, global_valid_counts, slice_batch
from .losses import NLLLoss, ClippedPGLoss, DPOLoss, BradleyTerryLoss, stable_contrastive_loss
from .composition import Component, ComposedLoss, LossRegistry, LOSS_REGISTRY, build_loss
from .weighting import UncertaintyWeighting, GradNormWeighting
from .monitoring import check_finite_losses, component_grad_norms, Alert, StabilityMonitor
from .distributed import accumulate_microbatches, data_parallel_backward, DDPDemoResult, ddp_demo
# isort: on

__all__ = [
    "LOSS_REGISTRY",
    "Alert",
    "BradleyTerryLoss",
    "ClippedPGLoss",
    "Component",
    "ComposedLoss",
    "DDPDemoResult",
    "DPOLoss",
    "GradNormWeighting",
    "LossFunction",
    "LossRegistry",
    "LossType",
    "NLLLoss",
    "StabilityMonitor",
    "UncertaintyWeighting",
    "accumulate_microbatches",
    "build_loss",
    "check_finite_losses",
    "component_grad_norms",
    "data_parallel_backward",
    "ddp_demo",
    "global_valid_counts",
    "masked_mean",
    "slice_batch",
    "stable_contrastive_loss",
]

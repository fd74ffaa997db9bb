"""The interface of a loss object: what it averages over and how a trainer calls it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import torch

__all__ = [
    "LossFunction",
    "LossType",
]


class LossType(enum.Enum):
    """What a loss averages over, and therefore which global count normalises it."""

    TOKEN_LEVEL = "token_level"
    """Mean over all valid tokens of the global batch (divide by ``global_valid_toks``)."""
    SEQUENCE_LEVEL = "sequence_level"
    """Mean over valid sequences of the global batch (divide by ``global_valid_seqs``)."""


@runtime_checkable
class LossFunction(Protocol):
    """The shape of every loss object here (NeMo RL's interface, simplified as the package says).

    A loss object has an attribute `loss_type` and is called with four arguments:

    - `next_token_logits_or_logprobs`: logits `[B, T, V]` or per-token log-probabilities
      `[B, T]` of `data["target_ids"]` (a reward model's scores `[B]` for
      [BradleyTerryLoss][lossbook.patterns.BradleyTerryLoss]);
    - `data`: the microbatch: `token_mask [B, T]`, optional `sample_mask [B]`, `target_ids`
      and whatever else the loss needs (advantages, reference log-probs...);
    - `global_valid_seqs`, `global_valid_toks`: the number of valid sequences and tokens in the
      **global** batch (all microbatches, all data-parallel ranks); `None` means "this
      microbatch is the whole batch".

    It returns `(loss, metrics)`: a scalar tensor whose sum over the microbatches is the loss of
    the global batch, and a dict of floats.
    """

    loss_type: LossType

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None,
        global_valid_toks: torch.Tensor | float | None,
    ) -> tuple[torch.Tensor, dict[str, float]]: ...

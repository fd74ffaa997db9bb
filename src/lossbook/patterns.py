r"""Loss patterns of post-training libraries (NeMo RL style), with normalisation that survives
gradient accumulation and data parallelism.

The interface follows NeMo RL's ``LossFunction`` (``nemo_rl/algorithms/interfaces.py``): a loss
object declares a [LossType][lossbook.patterns.LossType] and is called with the model output, the
batch (masks included) and the number of valid sequences and tokens **of the whole global
batch**. It returns ``(loss, metrics)``. Each microbatch divides its masked sum by the global
count, so the microbatch losses simply add up to the loss of the global batch, on one process or
many.

Simplifications with respect to NeMo RL, all deliberate and documented:

- ``data`` is a plain ``Mapping[str, Tensor]`` (NeMo RL uses its ``BatchedDataDict``).
- Targets are **already shifted**: ``data["target_ids"][b, t]`` is the token that
  ``logits[b, t]`` predicts, and ``token_mask`` has the same length ``T``. NeMo RL receives the
  unshifted ``input_ids`` and drops the last logit and the first mask entry itself.
- The first argument may be logits ``[B, T, V]`` (as in NeMo RL up to v0.4) or the per-token
  log-probabilities ``[B, T]`` of the targets (what v0.6's ``prepare_loss_input`` step hands
  over). No vocabulary-parallel (DTensor) logits, no sequence packing.
- Metrics are Python floats normalised by the same global counts as the loss, so summing them
  over microbatches and ranks gives the global-batch value.
"""

from __future__ import annotations

import contextlib
import difflib
import enum
import inspect
import math
import socket
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from .alignment import bradley_terry_loss, dpo_loss
from .rl import kl_penalty, ppo_clip_loss
from ._checks import (
    _shape,
    check_choice,
    check_number,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    reduce,
)

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


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------


class LossType(enum.Enum):
    """What a loss averages over, and therefore which global count normalises it."""

    TOKEN_LEVEL = "token_level"
    """Mean over all valid tokens of the global batch (divide by ``global_valid_toks``)."""
    SEQUENCE_LEVEL = "sequence_level"
    """Mean over valid sequences of the global batch (divide by ``global_valid_seqs``)."""


@runtime_checkable
class LossFunction(Protocol):
    """The shape of every loss object here (NeMo RL's interface, simplified as the module says).

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


# --------------------------------------------------------------------------------------------
# Masks, counts and the masked mean
# --------------------------------------------------------------------------------------------


def _check_binary_mask(name: str, mask: torch.Tensor) -> torch.Tensor:
    """A bool, integer or float tensor of 0/1 values; returned as bool."""
    check_tensor(name, mask)
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex() or bool(((mask != 0) & (mask != 1)).any()):
        bad = mask[(mask != 0) & (mask != 1)]
        raise ValueError(f"{name}: expected 0/1 or bool values, got {bad[0].item()!r}")
    return mask != 0


def _count_value(name: str, value: object) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name}: expected a scalar count, got a tensor of shape {_shape(value)}"
            )
        value = value.item()
    return check_number(name, value, low=0.0)


def masked_mean(
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    dim: int | None = None,
    global_normalization_factor: torch.Tensor | float | None = None,
) -> torch.Tensor:
    r"""Mean of `values` over the entries where `mask` is 1, optionally over a global count.

    $$\bar x = \frac{\sum_i m_i x_i}{N},\qquad
    N = \begin{cases}\sum_i m_i & \text{local mean (default)}\\
    N_{\text{global}} & \text{if a global count is given}\end{cases}$$

    With `global_normalization_factor` set to the number of valid entries of the **whole global
    batch**, the results of the microbatches add up to the mean over the global batch: this is
    what makes gradient accumulation and data parallelism exact. Masked entries are removed with
    `torch.where`, so padding that holds `inf` or `NaN` cannot leak into the result or the
    gradient (`0 * inf` would be `NaN`). With no valid entry the result is exactly `0` (not
    `NaN`) and the gradient is zero.

    Args:
        values: the per-entry quantity, e.g. a per-token loss.
        mask: bool or 0/1 tensor of the same shape (no broadcasting); 1 marks a valid entry.
        dim: reduce only this dimension (a per-row mean, each row over its own count; rows with
            no valid entry give 0). Cannot be combined with `global_normalization_factor`.
        global_normalization_factor: the denominator to use instead of `mask.sum()`: a count
            of valid entries across all microbatches and ranks, at least the local count.

    Shape:
        - values: any shape `[*]`, float
        - mask: `[*]`, the same shape
        - output: scalar, or `[*]` without `dim` when `dim` is given

    Example:
        >>> x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> m = torch.tensor([[1, 1, 0], [1, 0, 0]])
        >>> masked_mean(x, m)
        tensor(2.3333)
        >>> masked_mean(x, m, global_normalization_factor=7)
        tensor(1.)
        >>> masked_mean(x, m, dim=1)
        tensor([1.5000, 4.0000])
        >>> masked_mean(x, torch.zeros_like(m))
        tensor(0.)
    """
    check_tensor("values", values, kind="float")
    check_tensor("mask", mask)
    check_same_shape("mask", mask, "values", values)
    keep = _check_binary_mask("mask", mask)
    masked = torch.where(keep, values, torch.zeros((), dtype=values.dtype, device=values.device))
    if dim is not None:
        if global_normalization_factor is not None:
            raise ValueError(
                "dim: a per-row mean uses each row's own count; got both dim="
                f"{dim} and global_normalization_factor={global_normalization_factor!r}"
            )
        return masked.sum(dim) / keep.sum(dim).clamp_min(1).to(values.dtype)
    local = int(keep.sum())
    if global_normalization_factor is None:
        return masked.sum() / max(local, 1)
    factor = _count_value("global_normalization_factor", global_normalization_factor)
    if factor < local:
        raise ValueError(
            "global_normalization_factor: expected at least the number of valid entries in this"
            f" microbatch ({local}): it counts them over the whole global batch, got {factor:g}"
        )
    return masked.sum() / (factor if factor > 0 else 1.0)


def _sample_mask(data: Mapping[str, torch.Tensor], batch: int) -> torch.Tensor:
    sample_mask = data.get("sample_mask")
    if sample_mask is None:
        return torch.ones(batch, dtype=torch.bool)
    check_tensor("data['sample_mask']", sample_mask)
    if sample_mask.shape != (batch,):
        raise ValueError(
            f"data['sample_mask']: expected shape [{batch}] (one flag per sequence), got"
            f" {_shape(sample_mask)}"
        )
    return _check_binary_mask("data['sample_mask']", sample_mask)


def _token_mask(data: Mapping[str, torch.Tensor]) -> torch.Tensor:
    if "token_mask" not in data:
        raise ValueError(f"data: expected a 'token_mask' entry, got keys {sorted(data)}")
    token_mask = data["token_mask"]
    check_tensor("data['token_mask']", token_mask)
    if token_mask.ndim != 2:
        raise ValueError(f"data['token_mask']: expected shape [B, T], got {_shape(token_mask)}")
    return _check_binary_mask("data['token_mask']", token_mask)


def _valid_tokens(data: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``token_mask AND sample_mask``: the tokens that count, as bool ``[B, T]``."""
    token_mask = _token_mask(data)
    sample_mask = _sample_mask(data, token_mask.shape[0]).to(token_mask.device)
    return token_mask & sample_mask[:, None]


def global_valid_counts(
    data: Mapping[str, torch.Tensor], *, group: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The normalisers of a global batch: `(valid sequences, valid tokens)`.

    $$\text{seqs} = \sum_b s_b,\qquad \text{toks} = \sum_{b,t} s_b\, m_{b,t}$$

    with $s$ the `sample_mask` and $m$ the `token_mask`. Call it on the whole batch of this rank
    **before** splitting into microbatches. When `torch.distributed` is initialised the two
    counts are all-reduced (summed) over `group` (default: the world), so every rank gets the
    counts of the global batch.

    Args:
        data: the batch; `token_mask [B, T]`, optional `sample_mask [B]`.
        group: the data-parallel process group (default: all ranks).

    Shape:
        - output: two float64 scalars

    Example:
        >>> data = {"token_mask": torch.tensor([[1, 1, 1], [1, 0, 0]]),
        ...         "sample_mask": torch.tensor([1, 1])}
        >>> global_valid_counts(data)
        (tensor(2., dtype=torch.float64), tensor(4., dtype=torch.float64))
    """
    valid = _valid_tokens(data)
    seqs = _sample_mask(data, valid.shape[0]).sum()
    counts = torch.stack([seqs, valid.sum()]).to(torch.float64)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(counts, op=torch.distributed.ReduceOp.SUM, group=group)
    return counts[0], counts[1]


def _global_count(name: str, value: torch.Tensor | float | None, local: int) -> float:
    """The global count to divide by: ``value`` (checked >= local) or, if None, ``local``."""
    if value is None:
        return float(local)
    count = _count_value(name, value)
    if count < local:
        raise ValueError(
            f"{name}: expected at least the {local} valid entries of this microbatch (it counts"
            f" the whole global batch), got {count:g}"
        )
    return count


def slice_batch(
    data: Mapping[str, torch.Tensor], start: int, stop: int, *, batch_size: int | None = None
) -> dict[str, torch.Tensor]:
    """Rows `start:stop` of every per-sequence tensor of a batch (others are passed through).

    A tensor is per-sequence when its first dimension is the batch size: `batch_size` if given,
    else the length of `data["token_mask"]` (or of `data["sample_mask"]`).

    Example:
        >>> data = {"token_mask": torch.ones(4, 2), "beta": torch.tensor(0.1)}
        >>> {k: tuple(v.shape) for k, v in slice_batch(data, 1, 3).items()}
        {'token_mask': (2, 2), 'beta': ()}
    """
    if batch_size is None:
        key = "token_mask" if "token_mask" in data else "sample_mask"
        if key not in data:
            raise ValueError(
                f"data: expected a 'token_mask' or 'sample_mask' entry (or pass batch_size),"
                f" got keys {sorted(data)}"
            )
        batch_size = data[key].shape[0]
    batch = batch_size
    return {
        k: v[start:stop] if isinstance(v, torch.Tensor) and v.ndim and v.shape[0] == batch else v
        for k, v in data.items()
    }


# --------------------------------------------------------------------------------------------
# Turning the model output into per-token log-probabilities
# --------------------------------------------------------------------------------------------


def _token_logprobs(
    x: torch.Tensor, data: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs of the targets ``[B, T]``, valid-token mask ``[B, T]`` bool)."""
    name = "next_token_logits_or_logprobs"
    check_tensor(name, x, kind="float")
    valid = _valid_tokens(data).to(x.device)
    if x.ndim == 3:
        if "target_ids" not in data:
            raise ValueError(
                f"data: logits [B, T, V] need data['target_ids'] [B, T], got keys {sorted(data)}"
            )
        targets = data["target_ids"]
        check_tensor("data['target_ids']", targets, kind="int")
        sizes = check_shapes(
            **{name: (x, "B T V"), "data['target_ids']": (targets, "B T"),
               "data['token_mask']": (valid, "B T")}
        )
        # Padding may hold any id: clamp before the gather, the mask removes it afterwards.
        safe = torch.where(valid, targets, 0)
        if bool(((safe < 0) | (safe >= sizes["V"])).any()):
            bad = safe[(safe < 0) | (safe >= sizes["V"])][0].item()
            raise ValueError(
                f"data['target_ids']: expected token ids in [0, {sizes['V'] - 1}] at valid"
                f" positions, got {bad}"
            )
        # Log-softmax in at least float32, as NeMo RL does for bf16 logits.
        logits = x.to(torch.promote_types(x.dtype, torch.float32))
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    elif x.ndim == 2:
        check_shapes(**{name: (x, "B T"), "data['token_mask']": (valid, "B T")})
        logprobs = x
    else:
        raise ValueError(
            f"{name}: expected logits [B, T, V] or per-token log-probs [B, T], got {_shape(x)}"
        )
    return logprobs, valid


def _zero_where_invalid(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Replace padding by 0 *before* any arithmetic, so inf / NaN there cannot poison gradients."""
    return torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _per_token(name: str, data: Mapping[str, torch.Tensor], ref: torch.Tensor) -> torch.Tensor:
    if name not in data:
        raise ValueError(f"data: expected a {name!r} entry [B, T], got keys {sorted(data)}")
    x = data[name]
    check_tensor(f"data[{name!r}]", x, kind="float")
    check_same_shape(f"data[{name!r}]", x, "the log-probs", ref)
    return x.to(ref.dtype)


# --------------------------------------------------------------------------------------------
# Concrete losses
# --------------------------------------------------------------------------------------------


class NLLLoss:
    r"""Token-level negative log-likelihood (SFT), normalised by the global token count.

    $$L = -\frac{1}{N_{\text{tok}}}\sum_{b,t} s_b\, m_{b,t} \log p_\theta(y_{b,t} \mid y_{b,<t})$$

    $N_{\text{tok}}$ is `global_valid_toks`: every valid token of the global batch weighs the
    same, whatever microbatch or rank it lands in.

    Example:
        >>> logprobs = torch.log(torch.tensor([[0.5, 0.25, 0.9], [0.5, 0.1, 0.1]]))
        >>> data = {"token_mask": torch.tensor([[1, 1, 0], [1, 0, 0]])}
        >>> loss, metrics = NLLLoss()(logprobs, data, None, None)
        >>> round(loss.item(), 4), metrics["num_valid_tokens"]
        (0.9242, 3.0)
    """

    loss_type = LossType.TOKEN_LEVEL

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        logprobs, valid = _token_logprobs(next_token_logits_or_logprobs, data)
        toks = _global_count("global_valid_toks", global_valid_toks, int(valid.sum()))
        loss = masked_mean(-_zero_where_invalid(logprobs, valid), valid,
                           global_normalization_factor=toks)
        return loss, {
            "loss": loss.item(),
            "num_valid_tokens": float(valid.sum()),
            "num_valid_samples": float(_sample_mask(data, valid.shape[0]).sum()),
        }


KL_ESTIMATORS = ("k1", "k2", "k3")


class ClippedPGLoss:
    r"""Clipped policy-gradient loss (PPO / GRPO / DAPO) with an optional KL penalty.

    $$r_t = e^{\log\pi_\theta - \log\pi_{\text{old}}},\quad
    \ell_t = \max\!\big(-A_t r_t,\; -A_t\operatorname{clip}(r_t, 1-\epsilon_{\text{low}},
    1+\epsilon_{\text{high}})\big) + \beta\,\mathrm{KL}_t$$

    with dual clipping ($\ell_t \leftarrow \min(\ell_t, -cA_t)$ where $A_t<0$) when `dual_clip`
    is set. The per-token terms come from
    [ppo_clip_loss][lossbook.rl.ppo_clip_loss] and [kl_penalty][lossbook.rl.kl_penalty]
    (with `reduction="none"`); this class does the masking and the global normalisation.

    - `token_level=True` (default, NeMo RL, DAPO): divide the sum over valid tokens by
      `global_valid_toks`. Every token weighs the same.
    - `token_level=False` (the original GRPO): average each sequence over its own tokens, then
      divide the sum over sequences by `global_valid_seqs`. A token of a short answer weighs
      more than a token of a long one: the length bias.

    Args:
        eps_low: $\epsilon_{\text{low}}$ in $(0, 1)$; NeMo RL's `ratio_clip_min`.
        eps_high: $\epsilon_{\text{high}} > 0$ (clip-higher); defaults to `eps_low`
            (NeMo RL's `ratio_clip_max`).
        dual_clip: $c > 1$ or `None`; NeMo RL's `ratio_clip_c`.
        kl_coef: $\beta \ge 0$; NeMo RL's `reference_policy_kl_penalty`.
        kl_estimator: `"k1"`, `"k2"` or `"k3"` (default, as NeMo RL).
        token_level: token-level (default) or sequence-level normalisation.

    Data: `prev_logprobs [B, T]` (the sampling policy), `advantages [B, T]`, and
    `reference_policy_logprobs [B, T]` when `kl_coef > 0`.

    Example:
        >>> ratio = torch.tensor([[0.5, 1.0, 1.5]])
        >>> data = {"token_mask": torch.ones(1, 3), "prev_logprobs": torch.zeros(1, 3),
        ...         "advantages": torch.tensor([[1.0, -1.0, 2.0]])}
        >>> loss, metrics = ClippedPGLoss(eps_low=0.2)(ratio.log(), data, None, None)
        >>> round(loss.item(), 4), round(metrics["clip_fraction"], 4)
        (-0.6333, 0.3333)
    """

    def __init__(
        self,
        *,
        eps_low: float = 0.2,
        eps_high: float | None = None,
        dual_clip: float | None = None,
        kl_coef: float = 0.0,
        kl_estimator: str = "k3",
        token_level: bool = True,
    ) -> None:
        self.eps_low = check_number("eps_low", eps_low, low=0.0, high=1.0,
                                    low_inclusive=False, high_inclusive=False)
        self.eps_high = self.eps_low if eps_high is None else check_number(
            "eps_high", eps_high, low=0.0, low_inclusive=False)
        self.dual_clip = None if dual_clip is None else check_number(
            "dual_clip", dual_clip, low=1.0, low_inclusive=False)
        self.kl_coef = check_number("kl_coef", kl_coef, low=0.0)
        check_choice("kl_estimator", kl_estimator, KL_ESTIMATORS)
        self.kl_estimator = kl_estimator
        if not isinstance(token_level, bool):
            raise TypeError(f"token_level: expected a bool, got {type(token_level).__name__}")
        self.token_level = token_level
        self.loss_type = LossType.TOKEN_LEVEL if token_level else LossType.SEQUENCE_LEVEL

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        logprobs, valid = _token_logprobs(next_token_logits_or_logprobs, data)
        lp = _zero_where_invalid(logprobs, valid)
        old = _zero_where_invalid(_per_token("prev_logprobs", data, logprobs), valid)
        adv = _zero_where_invalid(_per_token("advantages", data, logprobs), valid)
        pg = ppo_clip_loss(lp, old, adv, clip_eps=self.eps_low, clip_eps_high=self.eps_high,
                           dual_clip=self.dual_clip, reduction="none")
        kl = torch.zeros_like(pg)
        if self.kl_coef > 0:
            ref = _per_token("reference_policy_logprobs", data, logprobs)
            ref = _zero_where_invalid(ref, valid)
            kl = kl_penalty(lp, ref, estimator=self.kl_estimator, reduction="none")
        per_token = pg + self.kl_coef * kl

        with torch.no_grad():
            ratio = torch.exp(lp - old)
            clipped = ((ratio < 1 - self.eps_low) & (adv < 0)) | (
                (ratio > 1 + self.eps_high) & (adv > 0))
        if self.token_level:
            norm = _global_count("global_valid_toks", global_valid_toks, int(valid.sum()))

            def reduce_(x: torch.Tensor) -> torch.Tensor:
                return masked_mean(x, valid, global_normalization_factor=norm)
        else:
            seq_valid = _sample_mask(data, valid.shape[0]).to(valid.device)
            norm = _global_count("global_valid_seqs", global_valid_seqs, int(seq_valid.sum()))

            def reduce_(x: torch.Tensor) -> torch.Tensor:
                per_seq = masked_mean(x, valid, dim=-1)
                return masked_mean(per_seq, seq_valid, global_normalization_factor=norm)

        loss = reduce_(per_token)
        return loss, {
            "loss": loss.item(),
            "actor_loss": reduce_(pg).item(),
            "kl_penalty": reduce_(kl).item(),
            "probs_ratio": reduce_(ratio.to(per_token.dtype)).item(),
            "clip_fraction": reduce_(clipped.to(per_token.dtype)).item(),
            "num_valid_tokens": float(valid.sum()),
        }


def _pair_masks(data: Mapping[str, torch.Tensor], batch: int) -> torch.Tensor:
    """One validity flag per (chosen, rejected) pair of interleaved rows."""
    if batch % 2:
        raise ValueError(
            f"batch: expected an even number of rows (chosen, rejected interleaved), got {batch}"
        )
    sample = _sample_mask(data, batch)
    if bool((sample[0::2] != sample[1::2]).any()):
        raise ValueError(
            "data['sample_mask']: the chosen and rejected rows of a pair must be both valid or"
            f" both masked, got {sample.int().tolist()}"
        )
    return sample[0::2]


class DPOLoss:
    r"""Direct preference optimisation on interleaved (chosen, rejected) rows, with an optional
    SFT term on the chosen answers.

    $$\log\pi(y) = \sum_t m_t \log\pi(y_t \mid y_{<t}),\qquad
    \ell = -\log\sigma\!\Big(\beta\big[(\log\pi_\theta(y_c) - \log\pi_{\text{ref}}(y_c)) -
    (\log\pi_\theta(y_r) - \log\pi_{\text{ref}}(y_r))\big]\Big)$$

    $$L = \frac{1}{N_{\text{pairs}}}\sum_{\text{pairs}}\big(w_p\,\ell +
    w_s\,\mathrm{NLL}(y_c)\big),\qquad N_{\text{pairs}} = \tfrac12 N_{\text{seqs}}$$

    with $N_{\text{seqs}}$ = `global_valid_seqs`.

    Rows `0, 2, 4...` are chosen answers and rows `1, 3, 5...` their rejected twins (NeMo RL's
    layout), so a microbatch must hold whole pairs. The preference term comes from
    [dpo_loss][lossbook.alignment.dpo_loss] (`reduction="none"`). It is a sequence-level loss: a
    pair weighs the same whatever its length.

    Args:
        beta: $\beta > 0$, the strength of the implicit KL to the reference (0.1 in TRL).
        preference_weight: $w_p \ge 0$.
        sft_weight: $w_s \ge 0$; the NLL of the chosen answer (summed over its tokens, or
            averaged with `sft_average_log_probs`).
        average_log_probs: average the log-probs over tokens instead of summing them in the
            preference term (length-normalised, as in IPO / SimPO-style variants).
        sft_average_log_probs: average instead of sum in the SFT term.
        variant: `"sigmoid"` (DPO), `"ipo"` or `"hinge"`, passed to `dpo_loss` as its
            `loss_type`.

    Data: `token_mask`, `sample_mask` (optional), `reference_policy_logprobs [B, T]`, and
    `target_ids` when logits are passed.

    Example:
        >>> lp = torch.log(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
        >>> data = {"token_mask": torch.ones(2, 2), "reference_policy_logprobs": lp.clone()}
        >>> loss, metrics = DPOLoss(beta=0.1)(lp, data, None, None)
        >>> round(loss.item(), 6)  # equal log-ratios: log 2
        0.693147
    """

    loss_type = LossType.SEQUENCE_LEVEL
    rows_per_example = 2

    def __init__(
        self,
        *,
        beta: float = 0.1,
        preference_weight: float = 1.0,
        sft_weight: float = 0.0,
        average_log_probs: bool = False,
        sft_average_log_probs: bool = False,
        variant: str = "sigmoid",
    ) -> None:
        self.beta = check_number("beta", beta, low=0.0, low_inclusive=False)
        check_choice("variant", variant, ("sigmoid", "ipo", "hinge"))
        self.variant = variant
        self.preference_weight = check_number("preference_weight", preference_weight, low=0.0)
        self.sft_weight = check_number("sft_weight", sft_weight, low=0.0)
        self.average_log_probs = bool(average_log_probs)
        self.sft_average_log_probs = bool(sft_average_log_probs)

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        logprobs, valid = _token_logprobs(next_token_logits_or_logprobs, data)
        pair_valid = _pair_masks(data, valid.shape[0]).to(valid.device)
        ref = _zero_where_invalid(_per_token("reference_policy_logprobs", data, logprobs), valid)
        lp = _zero_where_invalid(logprobs, valid)
        n_tok = valid.sum(-1).clamp_min(1).to(lp.dtype)

        def seq(x: torch.Tensor, average: bool) -> torch.Tensor:
            total = x.sum(-1)
            return total / n_tok if average else total

        policy = seq(lp, self.average_log_probs)
        reference = seq(ref, self.average_log_probs)
        preference = dpo_loss(policy[0::2], policy[1::2], reference[0::2], reference[1::2],
                              beta=self.beta, loss_type=self.variant, reduction="none")
        sft = -seq(lp, self.sft_average_log_probs)[0::2]
        per_pair = self.preference_weight * preference + self.sft_weight * sft

        seqs = _global_count("global_valid_seqs", global_valid_seqs, 2 * int(pair_valid.sum()))
        pairs = seqs / 2

        def reduce_(x: torch.Tensor) -> torch.Tensor:
            return masked_mean(x, pair_valid, global_normalization_factor=pairs)

        loss = reduce_(per_pair)
        with torch.no_grad():
            reward = self.beta * (policy - reference)
            margin = reward[0::2] - reward[1::2]
            return loss, {
                "loss": loss.item(),
                "preference_loss": reduce_(preference).item(),
                "sft_loss": reduce_(sft).item(),
                "accuracy": reduce_((margin > 0).to(lp.dtype)).item(),
                "rewards_chosen_mean": reduce_(reward[0::2]).item(),
                "rewards_rejected_mean": reduce_(reward[1::2]).item(),
                "num_valid_samples": float(2 * pair_valid.sum()),
            }


class BradleyTerryLoss:
    r"""Bradley-Terry preference loss of a reward model, on interleaved (chosen, rejected) rows.

    $$L = -\frac{1}{N_{\text{pairs}}}\sum_{\text{pairs}}\log\sigma(r_c - r_r - m)$$

    The first argument is the reward model's scalar score per row, `[B]`; rows `0, 2...` are
    chosen, `1, 3...` rejected. The per-pair term comes from
    [bradley_terry_loss][lossbook.alignment.bradley_terry_loss] (`reduction="none"`);
    $N_{\text{pairs}}$ is `global_valid_seqs / 2`.

    Args:
        margin: constant margin $m \ge 0$ the chosen score must beat the rejected one by
            (Llama 2's reward models use a per-pair margin; a constant one here).

    Example:
        >>> rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
        >>> loss, metrics = BradleyTerryLoss()(rewards, {"sample_mask": torch.ones(4)}, None, None)
        >>> round(loss.item(), 4), metrics["accuracy"]
        (0.5032, 0.5)
    """

    loss_type = LossType.SEQUENCE_LEVEL
    rows_per_example = 2

    def __init__(self, *, margin: float = 0.0) -> None:
        self.margin = check_number("margin", margin, low=0.0)

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        rewards = next_token_logits_or_logprobs
        check_tensor("rewards", rewards, kind="float")
        if rewards.ndim != 1:
            raise ValueError(f"rewards: expected one score per row [B], got {_shape(rewards)}")
        pair_valid = _pair_masks(data, rewards.shape[0]).to(rewards.device)
        chosen = _zero_where_invalid(rewards[0::2], pair_valid)
        rejected = _zero_where_invalid(rewards[1::2], pair_valid)
        margin = torch.full_like(chosen, self.margin).detach() if self.margin else None
        per_pair = bradley_terry_loss(chosen, rejected, margin=margin, reduction="none")
        seqs = _global_count("global_valid_seqs", global_valid_seqs, 2 * int(pair_valid.sum()))
        pairs = seqs / 2
        loss = masked_mean(per_pair, pair_valid, global_normalization_factor=pairs)
        with torch.no_grad():
            gap = (chosen - rejected).to(rewards.dtype)
            acc = masked_mean((gap > 0).to(rewards.dtype), pair_valid,
                              global_normalization_factor=pairs)
            return loss, {
                "loss": loss.item(),
                "accuracy": acc.item(),
                "reward_gap": masked_mean(
                    gap, pair_valid, global_normalization_factor=pairs
                ).item(),
                "num_valid_samples": float(2 * pair_valid.sum()),
            }


# --------------------------------------------------------------------------------------------
# Gradient accumulation, the way a trainer runs it
# --------------------------------------------------------------------------------------------

NORMALIZATIONS = ("global", "local")


def _row_chunks(rows: int, pieces: int, group: int) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` row ranges; ``group`` rows (a preference pair) never split."""
    examples = rows // group
    chunks = torch.arange(examples).tensor_split(pieces)
    return [(int(c[0]) * group, (int(c[-1]) + 1) * group) for c in chunks if len(c)]


def _counts_for(data: Mapping[str, torch.Tensor], rows: int) -> tuple[float, float]:
    sample = _sample_mask(data, rows)
    toks = float(_valid_tokens(data).sum()) if "token_mask" in data else 0.0
    return float(sample.sum()), toks


def accumulate_microbatches(
    loss_fn: LossFunction,
    inputs: torch.Tensor,
    data: Mapping[str, torch.Tensor],
    *,
    num_microbatches: int = 1,
    normalization: str = "global",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run `loss_fn` over `num_microbatches` slices of a batch, calling `backward` on each as a
    trainer with gradient accumulation does; return `(loss, gradient w.r.t. inputs)`.

    - `normalization="global"` (NeMo RL): every microbatch receives the valid-sequence and
      valid-token counts of the **whole batch**, and the microbatch losses are summed.
    - `normalization="local"`: every microbatch is normalised by its own counts and the
      microbatch losses are averaged: the mean of microbatch means, which is what the 2024
      gradient-accumulation bug computed. It equals the full-batch loss only when every
      microbatch has the same number of valid tokens.

    With `"global"`, the loss and the gradient do not depend on `num_microbatches` (up to
    floating-point rounding); that is the property to test for any custom loss.

    Args:
        loss_fn: any [LossFunction][lossbook.patterns.LossFunction].
        inputs: what `loss_fn` takes first (logits, log-probs or rewards); a detached copy is
            differentiated.
        data: the batch; per-row tensors are sliced with the inputs.
        num_microbatches: how many contiguous slices (pairs of rows stay together for the
            preference losses).
        normalization: `"global"` or `"local"`.

    Shape:
        - inputs: `[B, ...]`
        - output: a scalar loss and a gradient shaped like `inputs`

    Example:
        >>> logprobs = torch.log(torch.tensor([[0.5, 0.5, 0.5], [0.1, 0.9, 0.9]]))
        >>> data = {"token_mask": torch.tensor([[1, 1, 1], [1, 0, 0]])}
        >>> full, _ = accumulate_microbatches(NLLLoss(), logprobs, data)
        >>> split, _ = accumulate_microbatches(NLLLoss(), logprobs, data, num_microbatches=2)
        >>> wrong, _ = accumulate_microbatches(NLLLoss(), logprobs, data, num_microbatches=2,
        ...                                    normalization="local")
        >>> round(full.item(), 4), round(split.item(), 4), round(wrong.item(), 4)
        (1.0955, 1.0955, 1.4979)
    """
    check_choice("normalization", normalization, NORMALIZATIONS)
    check_tensor("inputs", inputs, kind="float")
    if inputs.ndim == 0:
        raise ValueError("inputs: expected a batch dimension first, got a scalar")
    rows = inputs.shape[0]
    group = getattr(loss_fn, "rows_per_example", 1)
    examples = rows // group
    if isinstance(num_microbatches, bool) or not isinstance(num_microbatches, int) or not (
        1 <= num_microbatches <= max(examples, 1)
    ):
        raise ValueError(
            f"num_microbatches: expected an integer in [1, {examples}] (the batch has"
            f" {examples} example(s) of {group} row(s)), got {num_microbatches!r}"
        )
    seqs, toks = _counts_for(data, rows)
    leaf = inputs.detach().clone().requires_grad_(True)
    total = torch.zeros((), dtype=inputs.dtype)
    for start, stop in _row_chunks(rows, num_microbatches, group):
        micro = slice_batch(data, start, stop, batch_size=rows)
        if normalization == "global":
            loss, _ = loss_fn(leaf[start:stop], micro, seqs, toks)
        else:
            loss, _ = loss_fn(leaf[start:stop], micro, None, None)
            loss = loss / num_microbatches
        loss.backward()
        total = total + loss.detach()
    return total, leaf.grad


def data_parallel_backward(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFunction,
    shard: Mapping[str, torch.Tensor],
    *,
    num_microbatches: int = 1,
    normalization: str = "global",
    inputs_key: str = "input_ids",
    group: Any = None,
) -> tuple[float, dict[str, float]]:
    r"""One data-parallel rank's forward and backward over its shard of the global batch, with
    gradient accumulation, normalised so that the update equals the single-process one.

    With `normalization="global"`:

    1. the valid sequences and tokens of the shard are counted and all-reduced over `group`
       ([global_valid_counts][lossbook.patterns.global_valid_counts]);
    2. each microbatch loss is divided by those global counts (inside `loss_fn`) and multiplied
       by the world size $W$ before `backward`, because DDP / FSDP **average** gradients over
       ranks: $\frac{1}{W}\sum_r \nabla (W L_r) = \sum_r \nabla L_r = \nabla L$ (NeMo RL does
       the same, `loss *= dp_size`);
    3. all microbatches but the last run under `model.no_sync()` when the model has it (DDP), so
       gradients are all-reduced once per step.

    `normalization="local"` divides each microbatch by its own counts and averages the
    microbatch losses (no world-size factor): the mean of means, for comparison. Without
    `torch.distributed` initialised this is plain gradient accumulation on one process, the same
    code as under `torchrun`.

    Args:
        model: maps `shard[inputs_key]` rows to what `loss_fn` takes first (e.g. a DDP module).
        loss_fn: a [LossFunction][lossbook.patterns.LossFunction].
        shard: this rank's rows of the global batch.
        num_microbatches: microbatches per rank (pairs of rows stay together for preference
            losses).
        normalization: `"global"` or `"local"`.
        inputs_key: the entry of `shard` fed to `model`.
        group: the data-parallel process group (default: all ranks).

    Returns:
        this rank's share of the global-batch loss (summed over its microbatches, without the
        world-size factor; summed over ranks it is the global loss) and its metrics, summed over
        microbatches.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5))
        >>> ids = torch.randint(0, 5, (4, 6))
        >>> shard = {"input_ids": ids[:, :-1], "target_ids": ids[:, 1:],
        ...          "token_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0],
        ...                                      [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])}
        >>> loss, metrics = data_parallel_backward(model, NLLLoss(), shard, num_microbatches=2)
        >>> round(loss, 4), metrics["num_valid_tokens"]
        (1.7691, 10.0)
    """
    check_choice("normalization", normalization, NORMALIZATIONS)
    if inputs_key not in shard:
        raise ValueError(f"inputs_key: {inputs_key!r} is not in the shard (keys {sorted(shard)})")
    rows = shard[inputs_key].shape[0]
    per_example = getattr(loss_fn, "rows_per_example", 1)
    examples = rows // per_example
    if isinstance(num_microbatches, bool) or not isinstance(num_microbatches, int) or not (
        1 <= num_microbatches <= max(examples, 1)
    ):
        raise ValueError(
            f"num_microbatches: expected an integer in [1, {examples}] (the shard has"
            f" {examples} example(s) of {per_example} row(s)), got {num_microbatches!r}"
        )
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    world = torch.distributed.get_world_size(group) if distributed else 1
    seqs = toks = None
    if normalization == "global":
        seqs, toks = global_valid_counts(shard, group=group)
    chunks = _row_chunks(rows, num_microbatches, per_example)
    no_sync = getattr(model, "no_sync", None)
    total, metrics = 0.0, {}
    for i, (start, stop) in enumerate(chunks):
        micro = slice_batch(shard, start, stop, batch_size=rows)
        last = i == len(chunks) - 1
        with contextlib.nullcontext() if last or no_sync is None else no_sync():
            loss, sub = loss_fn(model(micro[inputs_key]), micro, seqs, toks)
            if normalization == "global":
                (loss * world).backward()
            else:
                loss = loss / len(chunks)
                loss.backward()
        total += loss.item()
        for key, value in sub.items():
            metrics[key] = metrics.get(key, 0.0) + value
    return total, metrics


# --------------------------------------------------------------------------------------------
# Composition, registry and configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One term of a [ComposedLoss][lossbook.patterns.ComposedLoss]: a name (the metrics prefix),
    a loss object and a non-negative weight."""

    name: str
    loss: LossFunction
    weight: float = 1.0


class ComposedLoss:
    r"""A weighted sum of loss objects that all see the same model output and batch.

    $$L = \sum_k w_k L_k,\qquad w_k \ge 0$$

    Each component normalises itself with the global count that fits its own
    [LossType][lossbook.patterns.LossType] (both counts are passed to every component), so the sum
    stays exact under gradient accumulation even when token- and sequence-level terms are mixed.
    Metrics are reported per component as `"<name>/<metric>"` plus `"<name>/weight"` and the
    total `"loss"`. A component that returns NaN or Inf raises `FloatingPointError` naming it.

    Args:
        components: [Component][lossbook.patterns.Component]s or `(name, loss, weight)` tuples;
            names must be distinct, weights finite and non-negative.
        loss_type: what the composite declares; defaults to the components' common type and
            must be given when they mix token- and sequence-level losses.

    Example:
        >>> logprobs = torch.log(torch.tensor([[0.5, 0.25]]))
        >>> data = {"token_mask": torch.ones(1, 2)}
        >>> loss_fn = ComposedLoss([("sft", NLLLoss(), 0.5), ("sft_again", NLLLoss(), 1.5)])
        >>> loss, metrics = loss_fn(logprobs, data, None, None)
        >>> round(loss.item(), 4), round(metrics["sft/loss"], 4), metrics["sft_again/weight"]
        (2.0794, 1.0397, 1.5)
    """

    def __init__(
        self,
        components: Sequence[Component | tuple[str, LossFunction, float]],
        *,
        loss_type: LossType | None = None,
    ) -> None:
        if isinstance(components, (str, bytes)) or not isinstance(components, Sequence):
            raise TypeError(
                f"components: expected a list of Component, got {type(components).__name__}"
            )
        if not components:
            raise ValueError("components: expected at least one component, got an empty list")
        parsed: list[Component] = []
        for i, item in enumerate(components):
            if not isinstance(item, Component):
                if not (isinstance(item, tuple) and len(item) == 3):
                    raise TypeError(
                        f"components[{i}]: expected a Component or a (name, loss, weight) tuple,"
                        f" got {item!r}"
                    )
                item = Component(*item)
            if not isinstance(item.name, str) or not item.name:
                raise ValueError(
                    f"components[{i}].name: expected a non-empty str, got {item.name!r}"
                )
            if not isinstance(item.loss, LossFunction):
                raise TypeError(
                    f"components[{i}].loss: expected a loss object with `loss_type` and"
                    f" __call__, got {type(item.loss).__name__}"
                )
            weight = check_number(f"components[{i}].weight ({item.name!r})", item.weight, low=0.0)
            if any(c.name == item.name for c in parsed):
                raise ValueError(f"components[{i}].name: duplicate component name {item.name!r}")
            parsed.append(Component(item.name, item.loss, weight))
        self.components = tuple(parsed)
        types = {c.loss.loss_type for c in parsed}
        if loss_type is None:
            if len(types) > 1:
                raise ValueError(
                    "loss_type: the components mix token- and sequence-level losses; pass"
                    " loss_type=LossType.TOKEN_LEVEL or LossType.SEQUENCE_LEVEL to declare"
                    " what the composite reports"
                )
            loss_type = types.pop()
        if not isinstance(loss_type, LossType):
            raise TypeError(f"loss_type: expected a LossType, got {loss_type!r}")
        self.loss_type = loss_type

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total: torch.Tensor | None = None
        metrics: dict[str, float] = {}
        for c in self.components:
            value, sub = c.loss(next_token_logits_or_logprobs, data, global_valid_seqs,
                                global_valid_toks)
            if not bool(torch.isfinite(value).all()):
                raise FloatingPointError(
                    f"loss component {c.name!r} ({type(c.loss).__name__}) returned"
                    f" {value.item()} (weight {c.weight:g})"
                )
            term = c.weight * value
            total = term if total is None else total + term
            metrics.update({f"{c.name}/{k}": v for k, v in sub.items()})
            metrics[f"{c.name}/weight"] = c.weight
        assert total is not None
        metrics["loss"] = total.item()
        return total, metrics


class LossRegistry:
    """Names to loss factories, so a loss can be chosen in a config file.

    `register(name)` is a decorator (or `register(name, factory)` a call); `create(name,
    **options)` builds one, with a clear error for an unknown name (with the closest match) or an
    option the factory does not take.

    Example:
        >>> registry = LossRegistry()
        >>> _ = registry.register("nll", NLLLoss)
        >>> type(registry.create("nll")).__name__
        'NLLLoss'
        >>> registry.create("nl")
        Traceback (most recent call last):
        ...
        ValueError: type: unknown loss 'nl'; did you mean 'nll'? Registered: ['nll']
    """

    def __init__(self) -> None:
        self._factories: dict[str, Callable[..., LossFunction]] = {}

    def register(self, name: str, factory: Callable[..., LossFunction] | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: expected a non-empty str, got {name!r}")

        def add(f: Callable[..., LossFunction]) -> Callable[..., LossFunction]:
            if not callable(f):
                raise TypeError(f"factory: expected a class or a callable, got {f!r}")
            if name in self._factories:
                raise ValueError(
                    f"name: {name!r} is already registered (to {self._factories[name].__name__})"
                )
            self._factories[name] = f
            return f

        return add if factory is None else add(factory)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def create(self, name: str, **options: Any) -> LossFunction:
        if name not in self._factories:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise ValueError(f"type: unknown loss {name!r}{hint} Registered: {self.names()}")
        factory = self._factories[name]
        params = inspect.signature(factory).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY,
                                                                   p.POSITIONAL_OR_KEYWORD)]
            unknown = sorted(set(options) - set(accepted))
            if unknown:
                raise ValueError(
                    f"{name}: unknown option(s) {unknown}; {name!r} accepts {accepted}"
                )
        return factory(**options)


LOSS_REGISTRY = LossRegistry()
"""The registry [build_loss][lossbook.patterns.build_loss] reads by default, holding `"nll"`,
`"clipped_pg"`, `"dpo"` and `"bradley_terry"`."""
LOSS_REGISTRY.register("nll", NLLLoss)
LOSS_REGISTRY.register("clipped_pg", ClippedPGLoss)
LOSS_REGISTRY.register("dpo", DPOLoss)
LOSS_REGISTRY.register("bradley_terry", BradleyTerryLoss)

_CONFIG_KEYS = ("type", "weight", "name")


def _component_from_config(where: str, spec: object, registry: LossRegistry) -> Component:
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}: expected a mapping with a 'type', got {type(spec).__name__}")
    if "type" not in spec:
        raise ValueError(f"{where}: expected a 'type' key, got keys {sorted(spec)}")
    options = {k: v for k, v in spec.items() if k not in _CONFIG_KEYS}
    name = spec.get("name", spec["type"])
    weight = check_number(f"{where}['weight']", spec.get("weight", 1.0), low=0.0)
    try:
        loss = registry.create(spec["type"], **options)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return Component(name, loss, weight)


def build_loss(
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    registry: LossRegistry | None = None,
) -> LossFunction:
    """Build a loss from a configuration (a dict parsed from YAML / JSON).

    - `{"type": "nll"}`: one registered loss; the other keys are its options.
    - `[{"type": ..., "weight": ..., "name": ...}, ...]` or
      `{"type": "composed", "components": [...]}`: a
      [ComposedLoss][lossbook.patterns.ComposedLoss]; `weight` defaults to 1 and `name` to the
      type (give distinct names to use one type twice). A composite that mixes token- and
      sequence-level losses declares its own with `"loss_type": "token_level"` (or
      `"sequence_level"`) next to `"components"`.

    A single mapping with a `weight` becomes a one-component composite, so the weight is never
    silently dropped. Unknown types, unknown options and negative or non-finite weights raise
    `ValueError` naming the offending entry.

    Example:
        >>> loss_fn = build_loss([{"type": "nll", "weight": 1.0},
        ...                       {"type": "clipped_pg", "weight": 0.5, "eps_high": 0.28}])
        >>> {c.name: c.weight for c in loss_fn.components}
        {'nll': 1.0, 'clipped_pg': 0.5}
        >>> build_loss({"type": "nll", "weight": -1})
        Traceback (most recent call last):
        ...
        ValueError: config['weight']: expected a finite number in [0, inf), got -1.0
    """
    registry = LOSS_REGISTRY if registry is None else registry
    loss_type = None
    if isinstance(config, Mapping) and config.get("type") == "composed":
        extra = sorted(set(config) - {"type", "components", "loss_type"})
        if extra:
            raise ValueError(
                f"config: unknown key(s) {extra} for a composed loss; expected 'components'"
                " and optionally 'loss_type'"
            )
        if "loss_type" in config:
            values = [t.value for t in LossType]
            check_choice("config['loss_type']", config["loss_type"], values)
            loss_type = LossType(config["loss_type"])
        components = config.get("components")
        where = "config['components']"
    elif isinstance(config, Mapping):
        component = _component_from_config("config", config, registry)
        if "weight" not in config and "name" not in config:
            return component.loss
        return ComposedLoss([component])
    else:
        components, where = config, "config"
    if isinstance(components, (str, bytes)) or not isinstance(components, Sequence):
        raise TypeError(
            f"{where}: expected a list of loss configs, got {type(components).__name__}"
        )
    if not components:
        raise ValueError(f"{where}: expected at least one loss config, got an empty list")
    parsed = []
    for i, spec in enumerate(components):
        component = _component_from_config(f"{where}[{i}]", spec, registry)
        if any(c.name == component.name for c in parsed):
            raise ValueError(
                f"{where}[{i}]: duplicate component name {component.name!r}; give each a"
                " distinct 'name'"
            )
        parsed.append(component)
    return ComposedLoss(parsed, loss_type=loss_type)


# --------------------------------------------------------------------------------------------
# Dynamic weighting that reaches the parameters
# --------------------------------------------------------------------------------------------


def _loss_values(
    losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor], expected: int
) -> tuple[list[str], torch.Tensor]:
    if isinstance(losses, Mapping):
        names, values = list(losses), list(losses.values())
    elif isinstance(losses, Sequence) and not isinstance(losses, (str, bytes)):
        names, values = [str(i) for i in range(len(losses))], list(losses)
    else:
        raise TypeError(
            f"losses: expected a list or dict of scalar tensors, got {type(losses).__name__}"
        )
    if len(values) != expected:
        raise ValueError(f"losses: expected {expected} losses (one per weight), got {len(values)}")
    for name, value in zip(names, values):
        check_tensor(f"losses[{name!r}]", value, kind="float")
        if value.ndim != 0:
            raise ValueError(f"losses[{name!r}]: expected a scalar loss, got shape {_shape(value)}")
    stacked = torch.stack(values)
    bad = ~torch.isfinite(stacked)
    if bool(bad.any()):
        name = names[int(bad.nonzero()[0, 0])]
        raise FloatingPointError(f"losses[{name!r}]: is {stacked[names.index(name)].item()}")
    return names, stacked


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


class UncertaintyWeighting(nn.Module):
    r"""Homoscedastic-uncertainty weighting of Kendall, Gal and Cipolla (2018), with learned
    log-variances $s_k = \log\sigma_k^2$.

    $$L = \sum_k e^{-s_k} L_k + s_k$$

    The weights $e^{-s_k}$ are positive by construction and are trained by the same optimizer
    as the model (add this module's parameters to it). At the optimum $e^{s_k} = L_k$: each loss
    is divided by its own scale and all terms contribute comparably. This is the paper's
    regression objective $\frac{1}{2\sigma^2}L + \log\sigma$ times 2 (the same minimiser).

    The objective assumes $L_k \ge 0$ (a negative log-likelihood, a squared error): with
    $L_k < 0$ it is unbounded below ($s_k \to -\infty$), so a negative loss raises
    `ValueError`. Do not put a policy-gradient loss in here.

    Args:
        num_losses: number of terms $K$.
        init_log_var: initial $s_k$ (0: every weight starts at 1).

    Shape:
        - losses: a list or dict of $K$ scalar tensors
        - output: scalar

    Example:
        >>> weighting = UncertaintyWeighting(2)
        >>> total = weighting([torch.tensor(4.0), torch.tensor(0.5)])
        >>> total.item(), weighting.weights.tolist()
        (4.5, [1.0, 1.0])
    """

    def __init__(self, num_losses: int, *, init_log_var: float = 0.0) -> None:
        super().__init__()
        self.num_losses = _count("num_losses", num_losses)
        init = check_number("init_log_var", init_log_var)
        self.log_vars = nn.Parameter(torch.full((self.num_losses,), init))

    @property
    def weights(self) -> torch.Tensor:
        """The current weights $e^{-s_k}$ (detached)."""
        return torch.exp(-self.log_vars.detach())

    def forward(self, losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]) -> torch.Tensor:
        names, values = _loss_values(losses, self.num_losses)
        if bool((values < 0).any()):
            i = int((values < 0).nonzero()[0, 0])
            raise ValueError(
                f"losses[{names[i]!r}]: uncertainty weighting needs non-negative losses"
                f" (e^-s L + s is unbounded below in s when L < 0), got {values[i].item():.4g}"
            )
        log_vars = self.log_vars.to(values.dtype)
        return (torch.exp(-log_vars) * values + log_vars).sum()


class GradNormWeighting(nn.Module):
    r"""GradNorm (Chen et al. 2018): learn loss weights that balance the gradient norms the
    losses produce on shared parameters.

    $$w = K\operatorname{softmax}(a),\quad G_k = w_k \lVert\nabla_W L_k\rVert,\quad
    r_k = \frac{L_k/L_k^{(0)}}{\operatorname{mean}_j L_j/L_j^{(0)}},\quad
    L_{\text{grad}} = \sum_k \big|G_k - \operatorname{sg}[\bar G\, r_k^{\alpha}]\big|$$

    `forward` returns $\sum_k \operatorname{sg}[w_k] L_k + L_{\text{grad}}$: the model receives
    the weighted losses (the weights as constants, so the model cannot lower its loss by shrinking
    them), and the weight logits $a$ receive only $\nabla_a L_{\text{grad}}$ (the norms
    $\lVert\nabla_W L_k\rVert$ are measured without a graph, so $L_{\text{grad}}$ does not reach
    the model). The weights are positive and sum to $K$ by construction, so they cannot drift or
    flip sign. Losses must be positive (the ratios $L_k / L_k^{(0)}$ assume it); the first call
    records $L_k^{(0)}$.

    Args:
        num_losses: number of terms $K$.
        alpha: $\alpha \ge 0$; how strongly slower-training tasks are boosted (1.5 is a common
            default; 0 asks for equal gradient norms).

    Shape:
        - losses: a list or dict of $K$ scalar tensors
        - shared: the shared parameters $W$ (often the last shared layer)
        - output: scalar; `last_grad_norms` holds $G_k$ of the last call

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
        >>> gradnorm = GradNormWeighting(2)
        >>> total = gradnorm([(w ** 2).sum(), 10 * (w ** 2).sum()], [w])
        >>> gradnorm.last_grad_norms
        tensor([ 2.8284, 28.2843])
    """

    def __init__(self, num_losses: int, *, alpha: float = 1.5) -> None:
        super().__init__()
        self.num_losses = _count("num_losses", num_losses)
        self.alpha = check_number("alpha", alpha, low=0.0)
        self.logits = nn.Parameter(torch.zeros(self.num_losses))
        self.register_buffer("initial_losses", torch.full((self.num_losses,), math.nan))
        self.last_grad_norms = torch.full((self.num_losses,), math.nan)

    @property
    def weights(self) -> torch.Tensor:
        r"""The current weights $K\operatorname{softmax}(a)$ (detached)."""
        return self.num_losses * torch.softmax(self.logits.detach(), dim=0)

    def forward(
        self,
        losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
        shared: Iterable[torch.Tensor],
    ) -> torch.Tensor:
        names, values = _loss_values(losses, self.num_losses)
        shared = [p for p in shared if isinstance(p, torch.Tensor) and p.requires_grad]
        if not shared:
            raise ValueError("shared: expected at least one parameter that requires grad")
        if bool((values <= 0).any()):
            i = int((values <= 0).nonzero()[0, 0])
            raise ValueError(
                f"losses[{names[i]!r}]: GradNorm needs positive losses (it tracks L / L0),"
                f" got {values[i].item():.4g}"
            )
        if bool(torch.isnan(self.initial_losses).any()):
            self.initial_losses.copy_(values.detach())
        norms = []
        for name, value in zip(names, losses.values() if isinstance(losses, Mapping) else losses):
            grads = torch.autograd.grad(value, shared, retain_graph=True, allow_unused=True)
            sq = sum((g.detach().pow(2).sum() for g in grads if g is not None),
                     torch.zeros((), dtype=values.dtype))
            norms.append(sq.sqrt())
        weights = self.num_losses * torch.softmax(self.logits, dim=0).to(values.dtype)
        grad_norms = weights * torch.stack(norms)
        progress = values.detach() / self.initial_losses.to(values.dtype)
        relative = progress / progress.mean()
        target = (grad_norms.mean() * relative.pow(self.alpha)).detach()
        gradnorm_loss = (grad_norms - target).abs().sum()
        self.last_grad_norms = grad_norms.detach()
        return (weights.detach() * values).sum() + gradnorm_loss


# --------------------------------------------------------------------------------------------
# A numerically stable contrastive loss
# --------------------------------------------------------------------------------------------


def stable_contrastive_loss(
    pos_sim: torch.Tensor,
    neg_sim: torch.Tensor,
    *,
    temperature: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Contrastive (InfoNCE-style) loss of one positive against $N$ negatives, in log-space.

    $$\ell_i = -\log\frac{e^{s^+_i/\tau}}{e^{s^+_i/\tau} + \sum_j e^{s^-_{ij}/\tau}}
    = \operatorname{logsumexp}\big([s^+_i, s^-_{i1}, \dots, s^-_{iN}]/\tau\big) - s^+_i/\tau$$

    An $(N+1)$-way classification with the positive as the target. `logsumexp` subtracts the
    maximum before exponentiating, so similarities of 1 at $\tau = 0.01$ ($e^{100}$, beyond
    float32) stay finite; the naive ratio of exponentials returns `inf / inf = NaN` there.

    Args:
        pos_sim: similarity of each anchor to its positive (e.g. cosine, in $[-1, 1]$).
        neg_sim: similarities of each anchor to its $N \ge 1$ negatives.
        temperature: $\tau > 0$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - pos_sim: `[B]`, float
        - neg_sim: `[B, N]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> pos = torch.tensor([1.0, 0.0])
        >>> neg = torch.tensor([[1.0], [0.0]])
        >>> stable_contrastive_loss(pos, neg, temperature=0.01, reduction="none")
        tensor([0.6931, 0.6931])
    """
    check_reduction(reduction)
    check_number("temperature", temperature, low=0.0, low_inclusive=False)
    check_tensor("pos_sim", pos_sim, kind="float")
    check_tensor("neg_sim", neg_sim, kind="float")
    check_shapes(pos_sim=(pos_sim, "B"), neg_sim=(neg_sim, "B N"))
    if neg_sim.shape[1] == 0:
        raise ValueError("neg_sim: expected at least one negative per anchor, got shape [B, 0]")
    logits = torch.cat([pos_sim[:, None], neg_sim.to(pos_sim.dtype)], dim=1) / temperature
    return reduce(torch.logsumexp(logits, dim=1) - logits[:, 0], reduction)


# --------------------------------------------------------------------------------------------
# Debugging and monitoring
# --------------------------------------------------------------------------------------------


def check_finite_losses(
    losses: Mapping[str, torch.Tensor | float], *, step: int | None = None
) -> None:
    """Raise `FloatingPointError` naming every loss component that is NaN or Inf.

    Example:
        >>> losses = {"nll": torch.tensor(1.2), "kl": torch.tensor(float("nan"))}
        >>> check_finite_losses(losses, step=7)
        Traceback (most recent call last):
        ...
        FloatingPointError: non-finite loss at step 7: 'kl' = nan
    """
    if not isinstance(losses, Mapping):
        raise TypeError(f"losses: expected a dict of name -> loss, got {type(losses).__name__}")
    bad = []
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            if not bool(torch.isfinite(value).all()):
                shown = value.item() if value.numel() == 1 else "tensor with NaN/Inf"
                bad.append(f"{name!r} = {shown}")
        elif not math.isfinite(float(value)):
            bad.append(f"{name!r} = {float(value)}")
    if bad:
        where = "" if step is None else f" at step {step}"
        raise FloatingPointError(f"non-finite loss{where}: " + ", ".join(bad))


def component_grad_norms(
    losses: Mapping[str, torch.Tensor], params: Iterable[torch.Tensor]
) -> dict[str, float]:
    r"""The gradient norm $\lVert\nabla_\theta L_k\rVert_2$ each loss component alone puts on
    `params`, without touching `.grad`.

    The first thing to look at when a composite loss misbehaves: a component 100x larger than
    the others in gradient (not in value) dominates the update; a component with norm 0 does
    nothing (for instance a term computed from `loss.item()`).

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
        >>> component_grad_norms({"l2": (w ** 2).sum() / 2, "const": torch.tensor(1.0)}, [w])
        {'l2': 5.0, 'const': 0.0}
    """
    params = [p for p in params if isinstance(p, torch.Tensor) and p.requires_grad]
    if not params:
        raise ValueError("params: expected at least one tensor that requires grad")
    norms = {}
    for name, loss in losses.items():
        check_tensor(f"losses[{name!r}]", loss, kind="float")
        if loss.ndim != 0:
            raise ValueError(f"losses[{name!r}]: expected a scalar loss, got shape {_shape(loss)}")
        if not loss.requires_grad:
            norms[name] = 0.0
            continue
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        sq = sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None)
        norms[name] = math.sqrt(sq)
    return norms


@dataclass(frozen=True)
class Alert:
    """One finding of a [StabilityMonitor][lossbook.patterns.StabilityMonitor]."""

    step: int
    name: str
    kind: str  # "nonfinite" or "spike"
    value: float
    message: str


class StabilityMonitor:
    r"""Watch loss curves for NaN / Inf and for spikes, with statistics that do not care about
    the sign or the offset of the loss.

    A value is a spike when its robust z-score against the last `window` values exceeds
    `threshold`:

    $$z = \frac{|x - \operatorname{median}(h)|}{1.4826\,\operatorname{MAD}(h)}$$

    (when more than half the history ties and the MAD is 0, the mean absolute deviation from the
    median, times 1.2533, replaces it). Median and MAD (median absolute deviation) are unchanged by
    adding a constant to the loss or
    flipping its sign, so the monitor works for losses that are negative or hover around zero
    (policy-gradient, DPO margins, ELBOs), where the coefficient of variation
    $\sigma/\mu$ is meaningless: it is negative for a negative mean and explodes near zero.
    They also ignore the spikes themselves, unlike a mean and a standard deviation.

    Args:
        window: how many past values form the reference.
        threshold: robust z-score above which a value is a spike.
        min_history: values needed before spikes are flagged.

    Example:
        >>> monitor = StabilityMonitor(window=20, threshold=6.0, min_history=5)
        >>> for step in range(10):
        ...     _ = monitor.update({"pg": -2.0 + 0.01 * (step % 3)})
        >>> monitor.update({"pg": 5.0})[0].kind
        'spike'
        >>> monitor.update({"pg": float("nan")})[0].message
        "step 12: 'pg' is nan"
    """

    def __init__(self, *, window: int = 100, threshold: float = 6.0, min_history: int = 10) -> None:
        self.window = _count("window", window)
        self.threshold = check_number("threshold", threshold, low=0.0, low_inclusive=False)
        self.min_history = _count("min_history", min_history)
        if self.min_history > self.window:
            raise ValueError(
                f"min_history: expected at most window={self.window}, got {self.min_history}"
            )
        self.step = 0
        self.history: dict[str, deque[float]] = {}
        self.alerts: list[Alert] = []

    def update(
        self, values: Mapping[str, torch.Tensor | float] | torch.Tensor | float
    ) -> list[Alert]:
        """Record one step (a dict of named values, or one value named `"loss"`); return the new
        alerts."""
        if not isinstance(values, Mapping):
            values = {"loss": values}
        self.step += 1
        new = []
        for name, value in values.items():
            x = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            history = self.history.setdefault(name, deque(maxlen=self.window))
            if not math.isfinite(x):
                message = f"step {self.step}: {name!r} is {x}"
                new.append(Alert(self.step, name, "nonfinite", x, message))
                continue
            if len(history) >= self.min_history:
                median = statistics.median(history)
                deviations = [abs(h - median) for h in history]
                # MAD is 0 when over half the values tie (a loss that repeats exactly); fall back
                # to the mean absolute deviation, then to a tiny floor for a constant history.
                scale = 1.4826 * statistics.median(deviations) or 1.2533 * statistics.fmean(
                    deviations) or 1e-12 * max(1.0, abs(median))
                z = abs(x - median) / scale
                if z > self.threshold:
                    new.append(Alert(
                        self.step, name, "spike", x,
                        f"step {self.step}: {name!r} = {x:.4g}, robust z = {z:.1f} against the"
                        f" median {median:.4g} of the last {len(history)} values",
                    ))
            history.append(x)
        self.alerts.extend(new)
        return new

    def is_stable(self, name: str | None = None) -> bool:
        """No alert (for `name`, or any name) within the last `window` steps."""
        recent = self.step - self.window
        return not any(a.step > recent and (name is None or a.name == name) for a in self.alerts)


# --------------------------------------------------------------------------------------------
# Data parallel, for real: torch.distributed with gloo, 2 processes on this machine
# --------------------------------------------------------------------------------------------

_DEMO_LENGTHS = (8, 7, 2, 1)  # valid tokens per row: rank 0 gets 15 tokens, rank 1 gets 3
_DEMO_VOCAB, _DEMO_DIM = 11, 8


def _toy_lm(seed: int) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """A tiny next-token model and a batch with very uneven lengths (identical for any process)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Embedding(_DEMO_VOCAB, _DEMO_DIM), nn.Linear(_DEMO_DIM, _DEMO_VOCAB)
        )
        steps = max(_DEMO_LENGTHS)
        tokens = torch.randint(0, _DEMO_VOCAB, (len(_DEMO_LENGTHS), steps + 1))
    lengths = torch.tensor(_DEMO_LENGTHS)
    data = {
        "input_ids": tokens[:, :-1],
        "target_ids": tokens[:, 1:],
        "token_mask": (torch.arange(steps) < lengths[:, None]).long(),
    }
    return model, data


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().reshape(-1).clone() for p in model.parameters()])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, seed: int, microbatches: int, queue) -> None:
    """One data-parallel rank (runs in a spawned process): two DDP backward passes over this
    rank's shard, with global and with local normalisation; sends the flat gradients back."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world_size, timeout=timedelta(seconds=60))
        model, data = _toy_lm(seed)
        ddp = DistributedDataParallel(model)
        start, stop = _row_chunks(len(_DEMO_LENGTHS), world_size, 1)[rank]
        shard = slice_batch(data, start, stop)
        grads, losses = {}, {}
        for mode in NORMALIZATIONS:
            model.zero_grad(set_to_none=True)
            losses[mode], _ = data_parallel_backward(
                ddp, NLLLoss(), shard, num_microbatches=microbatches, normalization=mode
            )
            grads[mode] = _flat_grad(model).tolist()
        queue.put((rank, grads, losses, int(shard["token_mask"].sum()), None))
    except Exception as error:  # noqa: BLE001 - reported to the parent with the rank
        queue.put((rank, None, None, 0, f"{type(error).__name__}: {error}"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@dataclass
class DDPDemoResult:
    """What [ddp_demo][lossbook.patterns.ddp_demo] measured (gradients flattened over all
    parameters of the toy model)."""

    world_size: int
    num_microbatches: int
    tokens_per_rank: list[int]
    grad_single: torch.Tensor
    """Gradient of the token-mean NLL on one process, whole batch at once."""
    grad_global: torch.Tensor
    """Gradient after DDP with global normalisation (rank 0; all ranks agree)."""
    grad_local: torch.Tensor
    """Gradient after DDP with each microbatch normalised by its own token count."""
    rank_disagreement: float = 0.0
    """Largest difference between the ranks' final gradients (0: DDP synchronised them)."""
    extra: dict[str, float] = field(default_factory=dict)
    """`loss_single` and `loss_ddp_global` (the ranks' shares summed): equal up to rounding."""

    @property
    def max_error_global(self) -> float:
        return float((self.grad_global - self.grad_single).abs().max())

    @property
    def max_error_local(self) -> float:
        return float((self.grad_local - self.grad_single).abs().max())


def ddp_demo(
    world_size: int = 2, *, num_microbatches: int = 2, seed: int = 0, timeout: float = 60.0
) -> DDPDemoResult:
    """Train step of a tiny language model under real `DistributedDataParallel` (gloo, CPU,
    `world_size` processes spawned on 127.0.0.1), compared with one process on the whole batch.

    The batch has 4 sequences of 8, 7, 2 and 1 valid tokens; with 2 ranks, rank 0 holds 15 tokens
    and rank 1 holds 3, and each rank accumulates over `num_microbatches`. Each rank wraps the
    model in `DistributedDataParallel` and calls
    [data_parallel_backward][lossbook.patterns.data_parallel_backward] on its shard twice: with
    global normalisation (all-reduced counts, loss times the world size, `no_sync` until the last
    microbatch) and with local normalisation (the mean of microbatch means), for comparison.

    The worker is a module-level function of this library because spawned processes import the
    function they run; it cannot live in a notebook cell or an `exec`-ed block. Under `torchrun`
    on a cluster the worker body is the same, with `init_process_group("nccl")`.

    Args:
        world_size: number of processes, 1 to 4.
        num_microbatches: microbatches per rank, 1 to `4 // world_size`.
        seed: seed of the model and the batch.
        timeout: seconds to wait for the processes.

    Returns:
        a [DDPDemoResult][lossbook.patterns.DDPDemoResult].
    """
    rows = len(_DEMO_LENGTHS)
    if isinstance(world_size, bool) or not isinstance(world_size, int) or not (
        1 <= world_size <= rows
    ):
        raise ValueError(f"world_size: expected an integer in [1, {rows}], got {world_size!r}")
    per_rank = rows // world_size
    if isinstance(num_microbatches, bool) or not isinstance(num_microbatches, int) or not (
        1 <= num_microbatches <= per_rank
    ):
        raise ValueError(
            f"num_microbatches: expected an integer in [1, {per_rank}] ({rows} rows over"
            f" {world_size} rank(s)), got {num_microbatches!r}"
        )
    check_number("timeout", timeout, low=0.0, low_inclusive=False)

    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    processes = [
        context.Process(target=_ddp_worker, args=(rank, world_size, port, seed, num_microbatches,
                                                  queue), daemon=True)
        for rank in range(world_size)
    ]
    for process in processes:
        process.start()
    # The single-process reference, computed while the children start.
    model, data = _toy_lm(seed)
    loss, _ = NLLLoss()(model(data["input_ids"]), data, None, None)
    loss.backward()
    single = _flat_grad(model)
    results = {}
    try:
        import queue as queue_module

        for _ in range(world_size):
            try:
                rank, grads, losses, tokens, error = queue.get(timeout=timeout)
            except queue_module.Empty:
                raise RuntimeError(
                    f"ddp_demo: no answer from the {world_size} processes within {timeout:g} s"
                ) from None
            if error is not None:
                raise RuntimeError(f"ddp_demo: rank {rank} failed: {error}")
            results[rank] = (grads, losses, tokens)
    finally:
        # The results are in: give the children a moment to exit, then stop them (interpreter
        # teardown after DDP has imported torch._dynamo takes seconds and serves no purpose).
        for process in processes:
            process.join(timeout=1)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    grads = {r: {m: torch.tensor(g[m]) for m in NORMALIZATIONS} for r, (g, _, _) in results.items()}
    disagreement = max(
        float((grads[r]["global"] - grads[0]["global"]).abs().max()) for r in grads
    )
    return DDPDemoResult(
        world_size=world_size,
        num_microbatches=num_microbatches,
        tokens_per_rank=[results[r][2] for r in range(world_size)],
        grad_single=single,
        grad_global=grads[0]["global"],
        grad_local=grads[0]["local"],
        rank_disagreement=disagreement,
        extra={"loss_single": loss.item(),
               "loss_ddp_global": sum(results[r][1]["global"] for r in results)},
    )

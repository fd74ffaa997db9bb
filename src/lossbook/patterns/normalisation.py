"""Masks, valid counts and the masked mean over a global count; per-token log-probabilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .._checks import (
    _shape,
    check_number,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
)

__all__ = [
    "global_valid_counts",
    "masked_mean",
    "slice_batch",
]


def _check_binary_mask(name: str, mask: torch.Tensor) -> torch.Tensor:
    """A bool, integer or float tensor of 0/1 values; returned as bool."""
    check_tensor(name, mask)
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex() or (has_values(mask) and bool(((mask != 0) & (mask != 1)).any())):
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
        token_mask = data.get("token_mask")
        device = token_mask.device if isinstance(token_mask, torch.Tensor) else None
        return torch.ones(batch, dtype=torch.bool, device=device)
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
    seqs = _sample_mask(data, valid.shape[0]).to(valid.device).sum()
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
    for name, value in (("start", start), ("stop", stop), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    if not start <= stop <= batch_size:
        raise ValueError(
            f"stop: expected start <= stop <= batch_size = {batch_size}, got start={start},"
            f" stop={stop}"
        )
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
        if has_values(safe) and bool(((safe < 0) | (safe >= sizes["V"])).any()):
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
def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value

"""Ranking metrics: precision@k and NDCG, with ties averaged."""

from __future__ import annotations

import math

import torch

from .._checks import (
    check_choice,
    check_finite,
    check_reduction,
    check_shapes,
    check_tensor,
    has_values,
    reduce,
)
from ._validation import _check_nonempty, _check_positive_int

__all__ = [
    "ndcg",
    "precision_at_k",
]


def _check_ranking(
    scores: torch.Tensor, relevance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    check_tensor("scores", scores, kind="float")
    if relevance.dtype == torch.bool:
        relevance = relevance.to(torch.float64)
    check_tensor("relevance", relevance)
    single = scores.ndim == 1
    if single:
        check_shapes(scores=(scores, "N"), relevance=(relevance, "N"))
        scores, relevance = scores[None], relevance[None]
    else:
        check_shapes(scores=(scores, "Q N"), relevance=(relevance, "Q N"))
    _check_nonempty("scores", scores, "item")
    check_finite("scores", scores)
    relevance = relevance.to(torch.float64)
    check_finite("relevance", relevance)
    if has_values(relevance) and bool((relevance < 0).any()):
        raise ValueError(f"relevance: expected non-negative relevance, got {relevance.min().item()!r}")
    return scores, relevance, single


def _tie_averaged_dcg(scores: torch.Tensor, gains: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum_i gain_i * weight(rank_i), averaged over every order of the tied scores: [Q].

    Items with equal scores share their block of ranks: each gets the group's mean position weight.
    """
    q, n = scores.shape
    sorted_scores, order = torch.sort(scores, dim=1, descending=True)
    g = gains.gather(1, order)
    pos = torch.arange(n, device=scores.device).expand(q, n)
    starts = torch.ones(q, n, dtype=torch.bool, device=scores.device)
    starts[:, 1:] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, pos, 0).cummax(dim=1).values
    last = torch.where(ends, pos, n).flip(1).cummin(dim=1).values.flip(1)
    cum = torch.cat([weight.new_zeros(1), weight.cumsum(0)])  # cum[j] = sum of weight[:j]
    group_weight = (cum[last + 1] - cum[first]) / (last - first + 1)
    return (g * group_weight).sum(dim=1)


def precision_at_k(
    scores: torch.Tensor, relevance: torch.Tensor, *, k: int, reduction: str = "mean"
) -> torch.Tensor:
    r"""Fraction of the k highest-scored items that are relevant.

    $$\mathrm{P@}k = \frac1k \sum_{i=1}^{k} \mathrm{rel}_{(i)}$$

    where $(i)$ is the item ranked $i$-th by score. Tied scores are broken in expectation: tied
    items share the positions they occupy, so the result does not depend on the input order
    (a plain `argsort` would silently prefer whichever came first). It ignores the order
    *within* the top k; use [ndcg][lossbook.metrics.ndcg] when that matters.

    Args:
        scores: model scores, one row per query.
        relevance: 0/1 (or bool) relevance of each item.
        k: the cut-off, $1 \le k \le N$.
        reduction: `"mean"` over queries, `"sum"` or `"none"`.

    Shape:
        - scores: `[N]` or `[Q, N]`
        - relevance: same shape
        - output: scalar, or `[Q]` with `reduction="none"` (scalar for 1-D input)

    Example:
        >>> scores = torch.tensor([0.9, 0.8, 0.7, 0.1])
        >>> precision_at_k(scores, torch.tensor([1, 0, 1, 1]), k=2).item()
        0.5
    """
    check_reduction(reduction)
    scores, relevance, single = _check_ranking(scores, relevance)
    if has_values(relevance) and bool(((relevance != 0) & (relevance != 1)).any()):
        raise ValueError("relevance: expected binary 0/1 relevance for precision@k, got "
                         f"{relevance[(relevance != 0) & (relevance != 1)][0].item()!r}")
    n = scores.shape[1]
    _check_positive_int("k", k)
    if k > n:
        raise ValueError(f"k: expected 1 <= k <= N = {n} items, got {k}")
    weight = (torch.arange(n, device=scores.device) < k).to(torch.float64) / k
    per_query = _tie_averaged_dcg(scores, relevance, weight)
    return per_query[0] if single else reduce(per_query, reduction)


def ndcg(
    scores: torch.Tensor,
    relevance: torch.Tensor,
    *,
    k: int | None = None,
    gain: str = "linear",
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Normalised discounted cumulative gain at k: position-discounted relevance over its ideal.

    $$\mathrm{DCG@}k = \sum_{i=1}^{k} \frac{g(\mathrm{rel}_{(i)})}{\log_2(i + 1)},\qquad
    \mathrm{NDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k}$$

    IDCG is the DCG of the ideal order (by true relevance). The gain $g$ is `"linear"` ($g(r) = r$,
    scikit-learn's `ndcg_score`) or `"exponential"` ($2^r - 1$, which stresses the very relevant
    items); the two give different numbers, so say which one you report. Ties in `scores` are
    averaged as in scikit-learn (`ignore_ties=False`). A query with no relevant item has IDCG 0
    and scores 0, as in scikit-learn. With the defaults this equals `sklearn.metrics.ndcg_score`
    (checked against scikit-learn 1.9.1).

    Args:
        scores: model scores, one row per query.
        relevance: graded non-negative relevance of each item.
        k: the cut-off, or `None` for all $N$ items.
        gain: `"linear"` or `"exponential"`.
        reduction: `"mean"` over queries, `"sum"` or `"none"`.

    Shape:
        - scores: `[N]` or `[Q, N]`
        - relevance: same shape
        - output: scalar, or `[Q]` with `reduction="none"` (scalar for 1-D input), float64

    Example:
        >>> scores = torch.tensor([0.9, 0.8, 0.1])
        >>> round(ndcg(scores, torch.tensor([0, 1, 1])).item(), 4)  # (1/log2 3 + 1/2) / (1 + 1/log2 3)
        0.6934
    """
    check_reduction(reduction)
    check_choice("gain", gain, ("linear", "exponential"))
    scores, relevance, single = _check_ranking(scores, relevance)
    n = scores.shape[1]
    if k is not None:
        _check_positive_int("k", k)
    cutoff = n if k is None else min(k, n)
    positions = torch.arange(n, device=scores.device, dtype=torch.float64)
    weight = torch.where(positions < cutoff, 1.0 / torch.log2(positions + 2), 0.0)
    gains = relevance if gain == "linear" else torch.expm1(relevance * math.log(2.0))
    dcg = _tie_averaged_dcg(scores, gains, weight)
    ideal = (gains.sort(dim=1, descending=True).values * weight).sum(dim=1)
    per_query = torch.where(ideal > 0, dcg / ideal.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
    return per_query[0] if single else reduce(per_query, reduction)

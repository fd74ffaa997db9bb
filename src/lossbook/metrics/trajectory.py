"""Multi-modal trajectory metrics: minADE, minFDE, miss rates (Argoverse 2, Waymo), Brier-minFDE."""

from __future__ import annotations

import torch

from .._checks import (
    check_choice,
    check_finite,
    check_number,
    check_range,
    check_reduction,
    check_shapes,
    check_tensor,
    has_values,
    masked_reduce,
    reduce,
)
from ._validation import _check_nonempty

__all__ = [
    "brier_min_fde",
    "min_ade",
    "min_fde",
    "miss_rate",
    "waymo_miss_rate",
    "waymo_miss_thresholds",
]


def _check_modes(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Validate [B, K, T, 2] vs [B, T, 2]; return the per-mode, per-step distances [B, K, T]."""
    check_tensor("pred", pred, kind="float")
    check_tensor("target", target, kind="float")
    check_shapes(pred=(pred, "B K T 2"), target=(target, "B T 2"), mask=(mask, "B T"))
    _check_nonempty("pred", pred, "sample, mode and step")
    check_finite("target", target)
    check_finite("pred", pred)
    return torch.linalg.vector_norm(pred - target[:, None], dim=-1)


def _check_mask(mask: torch.Tensor | None, dist: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones(dist.shape[0], dist.shape[2], dtype=torch.bool, device=dist.device)
    check_tensor("mask", mask, kind="int_or_bool")
    if mask.dtype != torch.bool and has_values(mask) and bool(((mask != 0) & (mask != 1)).any()):
        raise ValueError(f"mask: expected 0/1 or bool values, got {mask.unique().tolist()}")
    return mask.bool()


def _final_errors(dist: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """FDE of every mode at each sample's last valid step: [B, K]."""
    steps = torch.arange(valid.shape[1], device=valid.device)
    last = torch.where(valid, steps, -1).amax(dim=1).clamp_min(0)  # [B]
    index = last[:, None, None].expand(dist.shape[0], dist.shape[1], 1)
    return dist.gather(2, index).squeeze(2)


def min_ade(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    mode: str = "waymo",
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Minimum average displacement error over K predicted trajectories.

    $$\mathrm{ADE}_k = \frac{1}{|V|}\sum_{t\in V} \lVert \hat y^{(k)}_t - y_t \rVert_2,\qquad
    \text{waymo: } \min_k \mathrm{ADE}_k,\qquad
    \text{argoverse: } \mathrm{ADE}_{k^*},\ k^* = \arg\min_k \mathrm{FDE}_k$$

    The two benchmarks disagree: Waymo Open Motion takes each minimum independently, so minADE and
    minFDE may come from different modes (waymo-open-dataset `motion_metrics.cc`, checked at commit
    99a4cb3); Argoverse picks one winner by final displacement and reports that mode's ADE (never
    smaller than the Waymo value), as argoverse-api v1.1.0's `get_displacement_errors_and_miss_rate`
    does and Argoverse 2 codebases report (av2-api v0.3.6 ships only the per-mode functions).
    Both are then averaged over the
    samples. Note the L2 norm is **not squared**: these are metres, not a training loss.

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        mask: 1 / `True` on valid target steps; ADE averages over them, and the Argoverse winner
            is chosen at each sample's last valid step. Samples with no valid step are left out.
        mode: `"waymo"` (independent minimum) or `"argoverse"` (ADE of the best-FDE mode).
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - mask: `[B, T]`, bool or 0/1
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(1, 3, 2)
        >>> steady = [[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]]  # ADE 2, FDE 2
        >>> late = [[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]]  # ADE 1, FDE 3
        >>> pred = torch.tensor([[steady, late]])
        >>> min_ade(pred, target), min_ade(pred, target, mode="argoverse"), min_fde(pred, target)
        (tensor(1.), tensor(2.), tensor(2.))
    """
    check_reduction(reduction)
    check_choice("mode", mode, ("waymo", "argoverse"))
    dist = _check_modes(pred, target, mask)
    valid = _check_mask(mask, dist)
    count = valid.sum(dim=1)  # [B]
    ade = (dist * valid[:, None]).sum(-1) / count.clamp_min(1)[:, None]  # [B, K]
    if mode == "waymo":
        per_sample = ade.min(dim=1).values
    else:
        winner = _final_errors(dist, valid).argmin(dim=1)
        per_sample = ade.gather(1, winner[:, None]).squeeze(1)
    return masked_reduce(per_sample, count > 0, reduction)


def min_fde(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Minimum final displacement error: the distance at the last step of the closest mode.

    $$\mathrm{minFDE} = \min_k \lVert \hat y^{(k)}_T - y_T \rVert_2$$

    The same under the Waymo and Argoverse conventions (Argoverse's winner *is* the best-FDE mode).
    It ignores everything but the endpoint and, like every min-over-K metric, rewards spreading
    more modes regardless of their probabilities: pair it with a probability-aware metric
    ([brier_min_fde][lossbook.metrics.brier_min_fde], mAP or NLL).

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(1, 10, 2)
        >>> pred = torch.arange(10.0).repeat_interleave(2).reshape(1, 1, 10, 2)  # (i, i)
        >>> round(min_fde(pred, target).item(), 5), round(162 ** 0.5, 5)
        (12.72792, 12.72792)
    """
    check_reduction(reduction)
    dist = _check_modes(pred, target)
    return reduce(dist[..., -1].min(dim=1).values, reduction)


def miss_rate(pred: torch.Tensor, target: torch.Tensor, *, threshold: float = 2.0) -> torch.Tensor:
    r"""Share of samples whose best endpoint is farther than `threshold` metres (Argoverse).

    $$\mathrm{MR} = \frac1B \sum_b \big[\min_k \mathrm{FDE}_{b,k} > \tau\big],\qquad \tau = 2\,\mathrm{m}$$

    The comparison is strict, as in Argoverse 2: an endpoint exactly 2 m away is a hit. One
    distance threshold treats a 2 m lateral error (the wrong lane) like a 2 m longitudinal one
    (slightly early); see [waymo_miss_rate][lossbook.metrics.waymo_miss_rate] for the
    heading-aware version.

    Args:
        pred: K candidate futures per sample.
        target: the logged future.
        threshold: $\tau \ge 0$ in metres.

    Shape:
        - pred: `[B, K, T, 2]`
        - target: `[B, T, 2]`
        - output: scalar in $[0, 1]$

    Example:
        >>> target = torch.zeros(2, 1, 2)
        >>> pred = torch.tensor([[[[2.0, 0.0]]], [[[2.5, 0.0]]]])  # FDE 2.0 and 2.5
        >>> miss_rate(pred, target)
        tensor(0.5000)
    """
    threshold = check_number("threshold", threshold, low=0.0)
    fde = min_fde(pred, target, reduction="none")
    return (fde > threshold).to(fde.dtype).mean()


def brier_min_fde(
    pred: torch.Tensor, probs: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Brier-minFDE (Argoverse 2): minFDE plus the squared miss of the winner's probability.

    $$k^* = \arg\min_k \mathrm{FDE}_k,\qquad \text{brier-minFDE} = \mathrm{FDE}_{k^*} + (1 - p_{k^*})^2$$

    The winner is chosen by FDE **first**; taking $\min_k [\mathrm{FDE}_k + (1-p_k)^2]$ instead
    would let a confident but worse mode win and under-report the error. The penalty ranges from
    0 (all mass on the best mode) to 1 (none), so a model must put probability on the mode that
    turns out right, not just cover the futures.

    Args:
        pred: K candidate futures per sample.
        probs: probability of each mode; each row must sum to 1 (apply `softmax` to logits).
        target: the logged future.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - pred: `[B, K, T, 2]`
        - probs: `[B, K]`, in $[0, 1]$, rows summing to 1
        - target: `[B, T, 2]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> fde = torch.tensor([0.5, 1.0, 2.5, 3.0, 4.0, 5.0])
        >>> pred = torch.zeros(1, 6, 1, 2)
        >>> pred[0, :, 0, 0] = fde  # endpoints at these distances from the origin
        >>> probs = torch.tensor([[0.1, 0.5, 0.1, 0.1, 0.1, 0.1]])
        >>> round(brier_min_fde(pred, probs, torch.zeros(1, 1, 2)).item(), 6)
        1.31
    """
    check_reduction(reduction)
    check_tensor("probs", probs, kind="float")
    dist = _check_modes(pred, target)
    check_shapes(pred=(pred, "B K T 2"), probs=(probs, "B K"))
    check_range("probs", probs, 0.0, 1.0, what="probabilities")
    tol = max(1e-4, 10 * torch.finfo(probs.dtype).eps)
    sums = probs.sum(dim=1, dtype=torch.float64)
    off = (sums - 1).abs() > tol
    if has_values(off) and bool(off.any()):
        i = int(off.nonzero()[0, 0])
        raise ValueError(
            f"probs: expected the K mode probabilities of each sample to sum to 1, sample {i} "
            f"sums to {sums[i].item():.6g} (normalise, e.g. softmax over the mode logits)"
        )
    fde = dist[..., -1]  # [B, K]
    winner = fde.argmin(dim=1, keepdim=True)
    p = probs.to(fde.dtype).gather(1, winner).squeeze(1)
    return reduce(fde.gather(1, winner).squeeze(1) + (1 - p).square(), reduction)


_WAYMO_THRESHOLDS = {3: (1.0, 2.0), 5: (1.8, 3.6), 8: (3.0, 6.0)}  # seconds: (lateral, longitudinal)


def waymo_miss_thresholds(
    speed: torch.Tensor, *, seconds: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Waymo Open Motion's lateral and longitudinal miss thresholds, scaled by speed.

    $$s(v) = \begin{cases} 0.5 & v < 1.4 \\ 0.5 + 0.5\,\frac{v - 1.4}{11 - 1.4} & 1.4 \le v \le 11
    \\ 1 & v > 11 \end{cases}\qquad (\tau_{\text{lat}}, \tau_{\text{lon}}) = s(v)\,(\tau^0_{\text{lat}}, \tau^0_{\text{lon}})$$

    Base thresholds (lateral, longitudinal) in metres: 3 s: (1.0, 2.0), 5 s: (1.8, 3.6),
    8 s: (3.0, 6.0), as in waymo-open-dataset's challenge config (`motion_metrics.cc`,
    `GetChallengeConfig`, commit 99a4cb3). A slow object gets half the tolerance: 3 m is a lot of
    error for a pedestrian, little for a car at highway speed.

    Args:
        speed: the object's speed in m/s at the current time step, the last observed one
            (non-negative); Waymo takes it from the logged velocity there.
        seconds: the horizon, 3, 5 or 8.

    Shape:
        - speed: `[B]`
        - output: `lateral`, `longitudinal`, each `[B]`

    Example:
        >>> waymo_miss_thresholds(torch.tensor([0.0, 6.2, 20.0]), seconds=8)
        (tensor([1.5000, 2.2500, 3.0000]), tensor([3.0000, 4.5000, 6.0000]))
    """
    check_choice("seconds", seconds, tuple(_WAYMO_THRESHOLDS))
    check_tensor("speed", speed, kind="float")
    check_shapes(speed=(speed, "B"))
    check_finite("speed", speed)
    if has_values(speed) and bool((speed < 0).any()):
        raise ValueError(f"speed: expected non-negative speeds (m/s), got {speed.min().item()!r}")
    scale = 0.5 + 0.5 * ((speed - 1.4) / (11.0 - 1.4)).clamp(0.0, 1.0)
    lateral, longitudinal = _WAYMO_THRESHOLDS[seconds]
    return lateral * scale, longitudinal * scale


def waymo_miss_rate(
    pred: torch.Tensor,
    target: torch.Tensor,
    heading: torch.Tensor,
    speed: torch.Tensor,
    *,
    seconds: int = 8,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Waymo-style miss rate at one horizon: errors split along and across the true heading.

    $$e = R(-\theta)\,(\hat y^{(k)} - y) = (e_{\text{lon}}, e_{\text{lat}}),\qquad
    \text{hit}_k = |e_{\text{lat}}| \le \tau_{\text{lat}} \,\wedge\, |e_{\text{lon}}| \le \tau_{\text{lon}},
    \qquad \text{miss} = \neg \textstyle\bigvee_k \text{hit}_k$$

    $\theta$ is the ground-truth heading at the evaluated step and the thresholds come from
    [waymo_miss_thresholds][lossbook.metrics.waymo_miss_thresholds] (base values scaled by the
    object's speed). The longitudinal tolerance is twice the lateral one: being a little early or
    late along the lane is cheaper than drifting into the next lane. An object is missed when no
    mode matches.

    Args:
        pred: each mode's predicted position at the evaluated step
            (`pred_traj[:, :, t]` for trajectories `[B, K, T, 2]`).
        target: the true position at that step.
        heading: the true heading (radians) at that step.
        speed: the object's speed (m/s) at the current (last observed) time step.
        seconds: the horizon, 3, 5 or 8, which picks the base thresholds.
        reduction: `"mean"` (miss rate), `"sum"` (number missed) or `"none"` (1.0 per missed
            object).

    Shape:
        - pred: `[B, K, 2]`
        - target: `[B, 2]`
        - heading, speed: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> target = torch.zeros(2, 2)
        >>> heading = torch.zeros(2)  # both objects move along +x
        >>> pred = torch.tensor([[[5.0, 0.0]], [[0.0, 2.0]]])  # 5 m too far ahead; 2 m to the side
        >>> waymo_miss_rate(pred, target, heading, torch.tensor([20.0, 20.0]), reduction="none")
        tensor([0., 0.])
        >>> waymo_miss_rate(pred, target, heading, torch.tensor([1.0, 1.0]), reduction="none")
        tensor([1., 1.])
    """
    check_reduction(reduction)
    for name, x in (("pred", pred), ("target", target), ("heading", heading)):
        check_tensor(name, x, kind="float")
    check_shapes(pred=(pred, "B K 2"), target=(target, "B 2"), heading=(heading, "B"),
                 speed=(speed, "B"))
    _check_nonempty("pred", pred, "sample and mode")
    for name, x in (("pred", pred), ("target", target), ("heading", heading)):
        check_finite(name, x)
    lateral_tau, longitudinal_tau = waymo_miss_thresholds(speed, seconds=seconds)
    err = pred - target[:, None]  # [B, K, 2], world frame
    cos, sin = torch.cos(heading)[:, None], torch.sin(heading)[:, None]
    longitudinal = err[..., 0] * cos + err[..., 1] * sin
    lateral = -err[..., 0] * sin + err[..., 1] * cos
    hit = (lateral.abs() <= lateral_tau[:, None].to(lateral.dtype)) & (
        longitudinal.abs() <= longitudinal_tau[:, None].to(lateral.dtype)
    )
    return reduce((~hit.any(dim=1)).to(pred.dtype), reduction)

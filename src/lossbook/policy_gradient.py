"""Policy-gradient losses for LLM reinforcement learning beyond PPO and GRPO: leave-one-out
(RLOO) and batch-normalised (REINFORCE++) advantages, PPO's clipped value loss, the
sequence-level ratio of GSPO, CISPO's clipped importance weight, and truncated importance
sampling for the mismatch between the trainer's and the inference engine's log-probabilities.

Conventions are those of `lossbook.rl`: constants of the objective (old and inference-engine
log-probabilities, advantages, returns, old values) are detached inside each function;
per-token losses take a bool or 0/1 `mask` of the log-probabilities' shape, and
`reduction="mean"` is the masked token mean (0, not NaN, when nothing is valid).
"""

from __future__ import annotations

import math

import torch

from ._checks import (
    check_choice,
    check_finite,
    check_nonempty,
    check_number,
    check_reduction,
    check_shapes,
    is_debug,
    reduce,
)
from .rl import _check_mask, _float, _like, _masked

__all__ = [
    "cispo_loss",
    "gspo_loss",
    "ppo_value_loss",
    "reinforce_pp_advantages",
    "rloo_advantages",
    "truncated_is_weights",
]


def _group_size(group_size: object, rewards: torch.Tensor) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size: expected an integer >= 2, got {group_size!r}")
    if rewards.shape[0] % group_size:
        raise ValueError(
            f"rewards: expected a multiple of group_size={group_size} entries (whole groups), "
            f"got {rewards.shape[0]}"
        )
    return group_size


def _rewards(rewards: object) -> torch.Tensor:
    """One float reward per completion; an empty batch is fine (no reward, no advantage)."""
    _float("rewards", rewards)
    if rewards.ndim != 1:  # type: ignore[union-attr]
        raise ValueError(
            f"rewards: expected shape [B] (one reward per completion), got "
            f"{list(rewards.shape)}"  # type: ignore[union-attr]
        )
    check_finite("rewards", rewards)  # type: ignore[arg-type]
    return rewards  # type: ignore[return-value]


# ----------------------------------------------------------------------------- fast paths
#
# The value checks of `lossbook._checks` on [B, T] float inputs (isfinite + all, boolean
# `where`s for padding) cost more than the loss itself on the CPU. Each loss below first
# computes its result with float arithmetic only (the mask as a 0/1 multiplier); when that
# result is finite it is exact, because every NaN or Inf input reaches it (NaN * 0 and
# Inf * 0 are NaN). When it is not finite, the function runs its checked, guarded path,
# which raises the usual errors (or returns the same non-finite value as before, for an
# overflow or an Inf in the differentiable input). Debug mode always takes the checked path.


def _finite_result(x: torch.Tensor) -> bool:
    """Whether a loss from a fast path may be returned (a meta tensor has no values to test)."""
    if x.is_meta or x.numel() == 0:
        return True
    return math.isfinite(float(x.detach() if x.ndim == 0 else x.detach().sum()))


def _reduce_weighted(loss: torch.Tensor, mask: torch.Tensor | None, reduction: str):
    """Masked mean / sum / per-element values, the bool mask used as a 0/1 multiplier."""
    if mask is None:
        return reduce(loss, reduction)
    loss = loss * _as_uint8(mask)
    if reduction == "mean":
        return loss.sum() / torch.count_nonzero(mask).clamp_min(1)
    return reduce(loss, reduction)


def _as_uint8(mask: torch.Tensor) -> torch.Tensor:
    """The bool mask's bytes as 0/1 ``uint8`` (a view, no copy): float arithmetic with a uint8
    operand has a vectorised CPU kernel, with a bool one it does not (about 3x slower)."""
    return mask.view(torch.uint8)


class _ClippedValueLoss(torch.autograd.Function):
    r"""$\max\big((V - R)^2, (V^{\text{clip}} - R)^2\big)$ per element, with its gradient
    $2(V - R)$ where the unclipped term is the larger one (where the clip is inactive both
    terms are equal) and $0$ elsewhere, computed in the forward pass: autograd through `clamp`
    and `maximum` spends a dozen extra passes (boolean masks) on the same numbers (the
    `ppo_value_loss` case of `bench/`). Once differentiable: a second derivative raises an
    error instead of returning a wrong one.
    """

    @staticmethod
    def forward(ctx, values, old, target, clip_range):
        diff = values - target
        # clamp returns V itself inside the band, so there both terms are equal bit for bit
        clipped = torch.clamp(values, old - clip_range, old + clip_range).sub_(target)
        loss = diff.square()
        clipped.square_()
        keep = loss >= clipped
        ctx.save_for_backward(diff.mul_(_as_uint8(keep)).mul_(2.0))
        return loss.maximum(clipped)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        return slope * grad, None, None, None


def _value_loss_fast(values, old_values, returns, clip_range, mask, reduction):
    target = returns.detach().to(values.dtype)
    if clip_range is None:
        loss = (values - target).square()
    else:
        loss = _ClippedValueLoss.apply(values, old_values.detach().to(values.dtype), target,
                                       clip_range)
    return _reduce_weighted(loss, mask, reduction)


# ----------------------------------------------------------------------------- advantages


def rloo_advantages(rewards: torch.Tensor, *, group_size: int) -> torch.Tensor:
    r"""REINFORCE leave-one-out advantages (Kool et al. 2019; Ahmadian et al. 2024): each
    completion's reward minus the mean reward of the **other** completions of its prompt.

    $$\hat A_i = r_i - \frac{1}{G-1}\sum_{j \ne i} r_j = \frac{G}{G-1}\big(r_i - \bar r\big)$$

    The baseline does not depend on $r_i$, so $\hat A_i \nabla\log\pi(y_i)$ is an unbiased
    policy-gradient estimate. GRPO's centred reward $r_i - \bar r$ (without the std) is the same
    estimate scaled by $\frac{G-1}{G}$. Completions of one prompt are consecutive
    (`rewards.view(-1, G)`). Detached.

    Args:
        rewards: one scalar reward per completion.
        group_size: $G \ge 2$, completions per prompt; must divide the number of rewards.

    Shape:
        - rewards: `[B]`, $B = \text{prompts} \times G$
        - output: `[B]`

    Example:
        >>> rloo_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), group_size=4)
        tensor([ 0.6667, -0.6667, -0.6667,  0.6667])
    """
    _rewards(rewards)
    g = _group_size(group_size, rewards)
    with torch.no_grad():
        grouped = rewards.detach().view(-1, g)
        others = (grouped.sum(dim=1, keepdim=True) - grouped) / (g - 1)
        return (grouped - others).reshape(-1)


def reinforce_pp_advantages(
    rewards: torch.Tensor, *, group_size: int | None = None, eps: float = 1e-8
) -> torch.Tensor:
    r"""REINFORCE++ advantages (Hu et al. 2025): rewards normalised by the mean and standard
    deviation of the **whole batch** (all prompts together), not of each prompt's group.

    $$\hat A_i = \frac{a_i - \operatorname{mean}_{\text{batch}}(a)}
                      {\operatorname{std}_{\text{batch}}(a) + \epsilon},\qquad
      a_i = \begin{cases} r_i & \text{group\_size is None}\\
                          r_i - \bar r_{g(i)} & \text{otherwise (REINFORCE++ with baseline)}
            \end{cases}$$

    With `group_size`, each reward first has its prompt's group mean subtracted (the
    "REINFORCE++-baseline" variant); the division is always by the batch std, so a prompt whose
    rewards barely vary is not blown up as under GRPO's per-group std. The std is the unbiased
    sample std. Detached. (In the paper the per-token KL penalty is folded into the reward
    before this step; pass the shaped rewards.)

    Args:
        rewards: one scalar (shaped) reward per completion.
        group_size: optional $G \ge 2$: subtract each prompt's group mean first.
        eps: $\epsilon > 0$ added to the std.

    Shape:
        - rewards: `[B]` (at least 2 entries)
        - output: `[B]`

    Example:
        >>> reinforce_pp_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        tensor([ 1.5000, -0.5000, -0.5000, -0.5000])
    """
    _rewards(rewards)
    check_number("eps", eps, low=0.0, low_inclusive=False)
    if rewards.shape[0] < 2:
        raise ValueError(
            f"rewards: expected at least 2 entries (a batch std), got {rewards.shape[0]}"
        )
    with torch.no_grad():
        a = rewards.detach()
        if group_size is not None:
            g = _group_size(group_size, rewards)
            grouped = a.view(-1, g)
            a = (grouped - grouped.mean(dim=1, keepdim=True)).reshape(-1)
        centred = a - a.mean()
        return centred / (a.std() + eps)


# ----------------------------------------------------------------------------- value loss


def ppo_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_range: float | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""PPO's value loss, optionally with the PPO2-style clipping of the value prediction.

    $$V^{\text{clip}} = V_{\text{old}} + \operatorname{clip}(V - V_{\text{old}}, -\epsilon,
      \epsilon),\qquad \ell = \max\!\big((V - R)^2,\ (V^{\text{clip}} - R)^2\big)$$

    Without `clip_range` it is the squared error $(V - R)^2$. The max is pessimistic, as in the
    policy loss: whenever the prediction has moved more than $\epsilon$ from the old value
    **towards** the return, the clipped term is the larger one and its gradient is zero, so the
    value can move at most $\epsilon$ towards its target per update (in the reward's units: the
    clip depends on the reward scale). No factor $\frac12$: scale by your value coefficient.
    `old_values` and `returns` are detached.

    Args:
        values: $V_\phi(s_t)$, the current predictions (requires grad).
        old_values: $V_{\text{old}}(s_t)$, the predictions when the data was collected.
        returns: the value targets $R_t$ (e.g. GAE advantages + old values).
        clip_range: optional $\epsilon > 0$, in the units of the returns.
        mask: optional bool or 0/1 mask (padding is 0).
        reduction: `"mean"` (masked mean), `"sum"` or `"none"`.

    Shape:
        - values: any shape `[*]`, e.g. `[B, T]`
        - old_values, returns, mask: `[*]`, the same shape (no broadcasting)
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> v, old, ret = torch.tensor([1.5, 0.5]), torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0])
        >>> ppo_value_loss(v, old, ret, clip_range=0.2, reduction="none")
        tensor([3.2400, 6.2500])
    """
    check_reduction(reduction)
    if clip_range is not None:
        check_number("clip_range", clip_range, low=0.0, low_inclusive=False)
    _float("values", values)
    if reduction == "mean":  # a mean over nothing is NaN
        check_nonempty("values", values)
    _like("old_values", old_values, "values", values)
    _like("returns", returns, "values", values)
    if mask is not None:
        mask = _check_mask(mask, "values", values)
    if not is_debug():
        # Fast path: NaN or Inf in returns or old_values (masked or not) makes the result
        # non-finite (x * 0 is NaN for x = NaN or Inf), and then the checked path below runs.
        loss = _value_loss_fast(values, old_values, returns, clip_range, mask, reduction)
        if _finite_result(loss):
            return loss
    check_finite("returns", returns)
    check_finite("old_values", old_values)
    check_finite("values", values, always=False)
    target = returns.detach().to(values.dtype)
    loss = (values - target).square()
    if clip_range is not None:
        old = old_values.detach().to(values.dtype)
        clipped = old + (values - old).clamp(-clip_range, clip_range)
        loss = torch.maximum(loss, (clipped - target).square())
    return _masked(loss, mask, reduction)


# ----------------------------------------------------------------------------- GSPO, CISPO


def _sequence_advantages(advantages: object, logprobs: torch.Tensor) -> torch.Tensor:
    _float("advantages", advantages)
    check_shapes(logprobs=(logprobs, "B T"), advantages=(advantages, "B"))
    check_finite("advantages", advantages)  # type: ignore[arg-type]
    return advantages.detach().to(logprobs.dtype)  # type: ignore[union-attr]


def gspo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    clip_eps: float = 3e-4,
    clip_eps_high: float | None = 4e-4,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""GSPO (Zheng et al. 2025): PPO's clipped objective on one **sequence-level** ratio per
    completion, the geometric mean of its token ratios.

    $$s_i = \exp\Big(\frac{1}{|y_i|}\sum_t \log\frac{\pi_\theta(y_{i,t})}
      {\pi_{\text{old}}(y_{i,t})}\Big),\qquad
      \ell_i = \max\!\big(-\hat A_i s_i,\ -\hat A_i\operatorname{clip}(s_i, 1-\epsilon,
      1+\epsilon_h)\big)$$

    A whole completion is clipped or kept together, and a single noisy token ratio cannot
    dominate (the length normalisation keeps $s_i$ near 1). Because $s_i$ is a length-normalised
    ratio, the clip range is orders of magnitude smaller than PPO's token clip; the defaults
    $3\cdot10^{-4}$ / $4\cdot10^{-4}$ are those reported for GSPO. `reduction="mean"` averages over
    completions.

    Args:
        logprobs: $\log\pi_\theta$ of each completion token (requires grad).
        old_logprobs: $\log\pi_{\text{old}}$ of the same tokens (detached).
        advantages: one advantage per completion (e.g. GRPO's group-normalised reward).
        mask: optional bool or 0/1 completion mask; every row needs a valid token.
        clip_eps: $\epsilon$, the lower clip $1 - \epsilon$, in $(0, 1)$.
        clip_eps_high: $\epsilon_h$ for the upper clip (default $4\cdot10^{-4}$; `None`: $\epsilon$).
        reduction: `"mean"` (over completions), `"sum"` or `"none"` (one loss per completion).

    Shape:
        - logprobs, old_logprobs, mask: `[B, T]`
        - advantages: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> logp = torch.tensor([[-1.0, -1.0], [-2.0, -2.0]])
        >>> old = torch.tensor([[-1.0, -1.2], [-2.0, -2.0]])
        >>> gspo_loss(logp, old, torch.tensor([1.0, -1.0]), clip_eps=0.2, clip_eps_high=0.2,
        ...           reduction="none")
        tensor([-1.1052,  1.0000])
    """
    check_reduction(reduction)
    check_number("clip_eps", clip_eps, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    eps_high = clip_eps
    if clip_eps_high is not None:
        eps_high = check_number("clip_eps_high", clip_eps_high, low=0.0, low_inclusive=False)
    _float("logprobs", logprobs)
    check_shapes(logprobs=(logprobs, "B T"), nonempty="BT" if reduction == "mean" else "T")
    _like("old_logprobs", old_logprobs, "logprobs", logprobs)
    adv = _sequence_advantages(advantages, logprobs)
    if mask is None:
        valid = torch.ones_like(logprobs, dtype=torch.bool)
    else:
        valid = _check_mask(mask, "logprobs", logprobs)
        if valid.numel() and not valid.is_meta and bool((valid.sum(dim=1) == 0).any()):
            raise ValueError("mask: expected at least one valid token per completion, got an "
                             "empty row")
    check_finite("logprobs", logprobs, always=False)
    log_ratio = logprobs - old_logprobs.detach().to(logprobs.dtype)
    zero = torch.zeros((), dtype=log_ratio.dtype, device=log_ratio.device)
    log_ratio = torch.where(valid, log_ratio, zero)
    seq_log_ratio = log_ratio.sum(dim=1) / valid.sum(dim=1).to(log_ratio.dtype)
    # max(-A s, -A clip(s)) written on the log scale, as in lossbook.rl: A >= 0 caps s at the
    # upper clip, A < 0 floors it at the lower one; the clipped side has zero gradient.
    upper, lower = math.log1p(eps_high), math.log1p(-clip_eps)
    effective = torch.where(adv >= 0, seq_log_ratio.clamp(max=upper),
                            seq_log_ratio.clamp(min=lower))
    loss = -adv * torch.exp(effective)
    return _masked(loss, None, reduction)


def cispo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""CISPO (MiniMax-M1, 2025): REINFORCE weighted by a **clipped, stop-gradient** importance
    ratio, so every token keeps a gradient.

    $$\ell_t = -\,\operatorname{sg}\!\big(\operatorname{clip}(r_t, 1-\epsilon, 1+\epsilon_h)\big)
      \,A_t\,\log\pi_\theta(y_t),\qquad r_t = \frac{\pi_\theta(y_t)}{\pi_{\text{old}}(y_t)}$$

    PPO's clip zeroes the gradient of a token whose ratio left the trust region (for the sign
    of its advantage); CISPO instead bounds the token's **weight** and keeps its gradient
    $-\operatorname{sg}(\hat r_t) A_t\nabla\log\pi_\theta$. This is NeMo RL's `use_cispo` form
    (`-advantages * ratios_clamped.detach() * curr_logprobs`).

    Args:
        logprobs: $\log\pi_\theta$ of each token (requires grad).
        old_logprobs: $\log\pi_{\text{old}}$ of the same tokens (detached).
        advantages: $A_t$, per token (broadcast a per-sequence one yourself).
        clip_eps: $\epsilon$ for the lower clip $1-\epsilon$, in $(0, 1]$ (1 removes it).
        clip_eps_high: optional $\epsilon_h > 0$ for the upper clip (default $\epsilon$).
        mask: optional bool or 0/1 token mask.
        reduction: `"mean"` (masked token mean), `"sum"` or `"none"`.

    Shape:
        - logprobs: any shape `[*]`, e.g. `[B, T]`
        - old_logprobs, advantages, mask: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> logp = torch.log(torch.tensor([0.5, 0.2]))
        >>> old = torch.log(torch.tensor([0.25, 0.2]))
        >>> cispo_loss(logp, old, torch.tensor([1.0, 1.0]), reduction="none")
        tensor([0.8318, 1.6094])
    """
    check_reduction(reduction)
    check_number("clip_eps", clip_eps, low=0.0, high=1.0, low_inclusive=False)
    eps_high = clip_eps
    if clip_eps_high is not None:
        eps_high = check_number("clip_eps_high", clip_eps_high, low=0.0, low_inclusive=False)
    _float("logprobs", logprobs)
    if reduction == "mean":
        check_nonempty("logprobs", logprobs)
    _like("old_logprobs", old_logprobs, "logprobs", logprobs)
    _like("advantages", advantages, "logprobs", logprobs)
    if mask is not None:
        mask = _check_mask(mask, "logprobs", logprobs)
    low = -math.inf if clip_eps >= 1 else math.log1p(-clip_eps)
    high = math.log1p(eps_high)
    if reduction != "none" and not is_debug():
        # Fast path (see _finite_result): NaN or Inf in the advantages, or in padding, makes
        # the sum non-finite, and then the checked path below runs.
        with torch.no_grad():
            coef = (logprobs - old_logprobs.to(logprobs.dtype)).clamp_(low, high).exp_()
            coef.mul_(advantages.to(logprobs.dtype)).neg_()
            if mask is not None:
                coef.mul_(_as_uint8(mask))
        # sum of coef * logp: its gradient is coef, the stop-gradient weight times -A
        loss = torch.dot(coef.reshape(-1), logprobs.reshape(-1))
        if reduction == "mean":
            count = logprobs.numel() if mask is None else torch.count_nonzero(mask).clamp_min(1)
            loss = loss / count
        if _finite_result(loss):
            return loss
    check_finite("advantages", advantages)
    check_finite("logprobs", logprobs, always=False)
    with torch.no_grad():
        log_ratio = logprobs - old_logprobs.to(logprobs.dtype)
        if mask is not None:
            log_ratio = torch.where(mask, log_ratio, torch.zeros((), dtype=log_ratio.dtype,
                                                                 device=log_ratio.device))
        weight = torch.exp(log_ratio.clamp(min=low, max=high))
    logp = logprobs
    if mask is not None:  # padding may hold -inf: keep it out of the value and the gradient
        logp = torch.where(mask, logprobs, torch.zeros((), dtype=logprobs.dtype,
                                                       device=logprobs.device))
    loss = -weight * advantages.detach().to(logprobs.dtype) * logp
    return _masked(loss, mask, reduction)


# ----------------------------------------------------------------------------- truncated IS

TIS_MODES = ("tis", "icepop")


def truncated_is_weights(
    trainer_logprobs: torch.Tensor,
    inference_logprobs: torch.Tensor,
    *,
    cap: float = 2.0,
    floor: float | None = None,
    mode: str = "tis",
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Per-token importance weights that correct for the gap between the trainer's and the
    inference engine's probabilities of the sampled tokens, truncated (Yao et al. 2025).

    $$w_t = \frac{\pi_{\text{train}}(y_t)}{\pi_{\text{infer}}(y_t)},\qquad
      \text{tis: } \min(w_t, C)\ \ (\text{or } \operatorname{clip}(w_t, c, C)),\qquad
      \text{icepop: } w_t\,\mathbb 1[c \le w_t \le C]$$

    The tokens were sampled by the inference engine (vLLM, SGLang), whose numerics differ from
    the trainer's (FSDP, Megatron), so even "on-policy" data is slightly off-policy. Multiply
    the per-token policy loss by these weights. `"tis"` truncates the weight at $C$ (and floors
    it at $c$ when `floor` is given); `"icepop"` drops tokens whose weight leaves $[c, C]$
    (`floor` required). This follows NeMo RL's `truncated_importance_sampling_type` `"tis"` and
    `"icepop"`. Detached (constants of the update); masked tokens get weight 0.

    Args:
        trainer_logprobs: $\log\pi_{\text{train}}$ of the sampled tokens, recomputed by the
            trainer (for PPO: the old policy's log-probabilities).
        inference_logprobs: $\log\pi_{\text{infer}}$ returned by the inference engine.
        cap: $C > 0$, the upper truncation.
        floor: optional $c \in [0, C]$, the lower bound (required for `"icepop"`).
        mode: `"tis"` or `"icepop"`.
        mask: optional bool or 0/1 token mask.

    Shape:
        - trainer_logprobs: any shape `[*]`, e.g. `[B, T]`
        - inference_logprobs, mask: `[*]`, the same shape
        - output: `[*]`

    Example:
        >>> train = torch.log(torch.tensor([0.5, 0.3, 0.01]))
        >>> infer = torch.log(torch.tensor([0.5, 0.1, 0.02]))
        >>> truncated_is_weights(train, infer, cap=2.0)
        tensor([1.0000, 2.0000, 0.5000])
        >>> truncated_is_weights(train, infer, cap=2.0, floor=0.6, mode="icepop")
        tensor([1., 0., 0.])
    """
    check_choice("mode", mode, TIS_MODES)
    cap = check_number("cap", cap, low=0.0, low_inclusive=False)
    if floor is not None:
        check_number("floor", floor, low=0.0, high=cap)
    elif mode == "icepop":
        raise ValueError("floor: required for mode='icepop' (tokens below it are dropped), "
                         "got None")
    _float("trainer_logprobs", trainer_logprobs)
    _like("inference_logprobs", inference_logprobs, "trainer_logprobs", trainer_logprobs)
    if mask is not None:
        mask = _check_mask(mask, "trainer_logprobs", trainer_logprobs)
    check_finite("trainer_logprobs", trainer_logprobs, always=False)
    check_finite("inference_logprobs", inference_logprobs, always=False)
    with torch.no_grad():
        log_w = trainer_logprobs - inference_logprobs.to(trainer_logprobs.dtype)
        zero = torch.zeros((), dtype=log_w.dtype, device=log_w.device)
        if mask is not None:
            log_w = torch.where(mask, log_w, zero)
        w = torch.exp(log_w.clamp(max=math.log(cap) + 1.0))  # no overflow; capped below
        if mode == "tis":
            w = w.clamp(min=0.0 if floor is None else floor, max=cap)
        else:
            w = torch.where((w >= floor) & (w <= cap), w, zero)
        if mask is not None:
            w = torch.where(mask, w, zero)
    return w

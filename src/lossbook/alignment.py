"""LLM alignment losses: reward modelling (Bradley-Terry), direct preference optimisation (DPO,
IPO, hinge), KTO, ORPO, and GRPO with its group-normalised advantages and normalisation modes.

Inputs are **sequence log-probabilities** (the sum, or for ORPO the mean, of the token
log-probabilities of a completion given its prompt), computed by the caller from the model's
logits with the prompt and padding masked out. Reference-model log-probabilities are detached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_finite,
    check_nonempty,
    check_number,
    check_reduction,
    check_shapes,
    has_values,
    is_debug,
    reduce,
)
from .rl import _check_mask, _clipped_surrogate, _float, _like, kl_penalty

__all__ = [
    "bradley_terry_loss",
    "dpo_loss",
    "grpo_advantages",
    "grpo_loss",
    "kto_loss",
    "orpo_loss",
    "simpo_loss",
]


def _sequence(name: str, x: object, reduction: str = "mean") -> torch.Tensor:
    _float(name, x)
    if x.ndim != 1:  # type: ignore[union-attr]
        got = list(x.shape)  # type: ignore[union-attr]
        raise ValueError(f"{name}: expected shape [B] (one value per sequence), got {got}")
    check_nonempty(name, x, reduction)  # type: ignore[arg-type]
    return x  # type: ignore[return-value]


def _same_float_vectors(ref: object, others: list[object]) -> bool:
    """Fast happy-path check: ``ref`` and every tensor of ``others`` are floating ``[B]`` tensors
    of one shape and device. (On ``False`` the caller runs the checks that name the argument.)"""
    if not (isinstance(ref, torch.Tensor) and ref.ndim == 1 and ref.is_floating_point()):
        return False
    return all(
        isinstance(x, torch.Tensor) and x.shape == ref.shape and x.device == ref.device
        and x.is_floating_point()
        for x in others
    )


def bradley_terry_loss(
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Pairwise reward-model loss under the Bradley-Terry preference model.

    $$P(y_w \succ y_l) = \sigma(r_w - r_l),\qquad \ell = -\log\sigma\big(r_w - r_l - m\big)$$

    the negative log-likelihood of the human preference (InstructGPT's reward-model loss). Only
    the **difference** of rewards is identified: adding a constant to every reward changes
    nothing, so reward models are often re-centred after training. The optional margin $m$
    (Llama 2) asks for a larger gap on pairs rated as clearly better. Computed with `logsigmoid`,
    stable for any gap.

    Args:
        chosen_rewards: scalar reward $r_w$ of each preferred completion.
        rejected_rewards: $r_l$ of the rejected completion of the same pair.
        margin: optional per-pair margin $m \ge 0$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - chosen_rewards: `[B]`
        - rejected_rewards, margin: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> bradley_terry_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.3133, 0.6931])
    """
    check_reduction(reduction)
    _sequence("chosen_rewards", chosen_rewards, reduction)
    _like("rejected_rewards", rejected_rewards, "chosen_rewards", chosen_rewards)
    diff = chosen_rewards - rejected_rewards
    if margin is not None:
        _like("margin", margin, "chosen_rewards", chosen_rewards)
        check_finite("margin", margin)
        diff = diff - margin.detach().to(diff.dtype)
    check_finite("chosen_rewards", chosen_rewards, always=False)
    check_finite("rejected_rewards", rejected_rewards, always=False)
    return reduce(-F.logsigmoid(diff), reduction)


DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge")


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Direct preference optimisation (Rafailov et al. 2023) and its IPO / hinge variants.

    $$h = \Big(\log\frac{\pi_\theta(y_w)}{\pi_{\text{ref}}(y_w)}\Big)
        - \Big(\log\frac{\pi_\theta(y_l)}{\pi_{\text{ref}}(y_l)}\Big)$$

    - `"sigmoid"` (DPO): $\ell = -\log\sigma(\beta h)$; with `label_smoothing` $\varepsilon$
      (conservative DPO, Mitchell 2023: preferences flipped with probability $\varepsilon$):
      $-(1-\varepsilon)\log\sigma(\beta h) - \varepsilon\log\sigma(-\beta h)$.
    - `"ipo"` (Azar et al. 2023): $\ell = \big(h - \tfrac{1}{2\beta}\big)^2$, which regresses the
      margin to a finite target instead of pushing it to infinity.
    - `"hinge"` (RSO's "hinge-norm", Liu et al. 2023, a reference-normalised form of SLiC's
      hinge): $\ell = \max(0,\, 1 - \beta h)$.

    The hinge and IPO formulas are those of TRL v1.9.0's `DPOTrainer`; the label-smoothed sigmoid
    is TRL v0.19.0's. $\beta r = \beta\log\frac{\pi_\theta}{\pi_{\text{ref}}}$ is the implicit
    reward; at $h = 0$ (policy equal to the reference) DPO's loss is $\log 2$. TRL v1.9.0 divides
    the IPO log-ratios by the completion length (its code notes that the IPO paper does not
    discuss this and that the authors confirmed their results used it); pass length-averaged
    log-probabilities for `"ipo"` to do the same.

    Args:
        policy_chosen_logps: $\log\pi_\theta(y_w \mid x)$, summed over the completion's tokens.
        policy_rejected_logps: $\log\pi_\theta(y_l \mid x)$.
        ref_chosen_logps: $\log\pi_{\text{ref}}(y_w \mid x)$ (detached).
        ref_rejected_logps: $\log\pi_{\text{ref}}(y_l \mid x)$ (detached).
        beta: $\beta > 0$, the strength of the implicit KL constraint (0.1 is common).
        loss_type: `"sigmoid"`, `"ipo"` or `"hinge"`.
        label_smoothing: $\varepsilon \in [0, 0.5)$, only with `"sigmoid"`.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - each log-probability: `[B]`, one per preference pair
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> z = torch.zeros(2)
        >>> dpo_loss(z, z, z, z)  # policy == reference: log 2
        tensor(0.6931)
        >>> dpo_loss(torch.tensor([-5.0]), torch.tensor([-9.0]), torch.tensor([-6.0]),
        ...          torch.tensor([-8.0]), beta=0.5, reduction="none")
        tensor([0.3133])
    """
    check_reduction(reduction)
    check_number("beta", beta, low=0.0, low_inclusive=False)
    check_choice("loss_type", loss_type, DPO_LOSS_TYPES)
    check_number("label_smoothing", label_smoothing, low=0.0, high=0.5, high_inclusive=False)
    if label_smoothing and loss_type != "sigmoid":
        raise ValueError(
            f"label_smoothing: only defined for loss_type='sigmoid', got {label_smoothing!r} "
            f"with loss_type={loss_type!r}"
        )
    others = (
        ("policy_rejected_logps", policy_rejected_logps),
        ("ref_chosen_logps", ref_chosen_logps),
        ("ref_rejected_logps", ref_rejected_logps),
    )
    if not _same_float_vectors(policy_chosen_logps, [x for _, x in others]) or (
        policy_chosen_logps.numel() == 0
    ):
        # Slow path only to name the offending argument.
        _sequence("policy_chosen_logps", policy_chosen_logps, reduction)
        for name, x in others:
            _like(name, x, "policy_chosen_logps", policy_chosen_logps)
    if is_debug():
        check_finite("policy_chosen_logps", policy_chosen_logps)
        for name, x in others:
            check_finite(name, x)

    ref_margin = (ref_chosen_logps - ref_rejected_logps).detach().to(policy_chosen_logps.dtype)
    h = (policy_chosen_logps - policy_rejected_logps) - ref_margin
    if loss_type == "sigmoid":
        loss = -F.logsigmoid(beta * h)
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * F.logsigmoid(-beta * h)
    elif loss_type == "ipo":
        loss = (h - 1.0 / (2.0 * beta)).square()
    else:
        loss = F.relu(1.0 - beta * h)
    return reduce(loss, reduction)


def kto_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    *,
    kl_policy_logps: torch.Tensor | None = None,
    kl_ref_logps: torch.Tensor | None = None,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Kahneman-Tversky optimisation (Ethayarajh et al. 2024) on unpaired good / bad examples.

    $$r = \log\frac{\pi_\theta(y \mid x)}{\pi_{\text{ref}}(y \mid x)},\qquad
    \ell = \begin{cases}
      \lambda_D\,\big(1 - \sigma(\beta(r - z))\big) & y \text{ desirable}\\
      \lambda_U\,\big(1 - \sigma(\beta(z - r))\big) & y \text{ undesirable}
    \end{cases}$$

    The reference point $z = \max\!\big(0, \operatorname{mean}(\log\pi_\theta(y' \mid x) -
    \log\pi_{\text{ref}}(y' \mid x))\big)$ is a detached batch estimate of the KL between policy
    and reference, computed on **mismatched** pairs $(x, y')$ (TRL shifts the completions by one
    within the batch). Without `kl_policy_logps` / `kl_ref_logps`, $z = 0$. The weights
    $\lambda_D, \lambda_U$ rebalance unequal numbers of good and bad examples (the paper keeps
    $\lambda_D n_D / (\lambda_U n_U)$ at or a little above 1). `"mean"` is the plain mean of the
    weighted per-example losses, as in TRL.

    Args:
        policy_logps: $\log\pi_\theta(y \mid x)$ of each completion (summed over tokens).
        ref_logps: $\log\pi_{\text{ref}}(y \mid x)$ (detached).
        desirable: bool (or 0/1) label per completion: `True` for a thumbs-up.
        kl_policy_logps: optional $\log\pi_\theta(y' \mid x)$ on mismatched pairs.
        kl_ref_logps: optional $\log\pi_{\text{ref}}(y' \mid x)$ on the same pairs.
        beta: $\beta > 0$.
        desirable_weight: $\lambda_D \ge 0$.
        undesirable_weight: $\lambda_U \ge 0$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - policy_logps, ref_logps, desirable: `[B]`
        - kl_policy_logps, kl_ref_logps: `[M]`, both or neither
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> logps = torch.tensor([-4.0, -6.0])
        >>> ref = torch.tensor([-5.0, -5.0])
        >>> kto_loss(logps, ref, torch.tensor([True, False]), beta=1.0, reduction="none")
        tensor([0.2689, 0.2689])
    """
    check_reduction(reduction)
    check_number("beta", beta, low=0.0, low_inclusive=False)
    check_number("desirable_weight", desirable_weight, low=0.0)
    check_number("undesirable_weight", undesirable_weight, low=0.0)
    _sequence("policy_logps", policy_logps, reduction)
    _like("ref_logps", ref_logps, "policy_logps", policy_logps)
    good = _check_mask(desirable, "policy_logps", policy_logps, name="desirable")
    if (kl_policy_logps is None) != (kl_ref_logps is None):
        raise ValueError(
            "kl_policy_logps: kl_policy_logps and kl_ref_logps go together; got only "
            + ("kl_policy_logps" if kl_ref_logps is None else "kl_ref_logps")
        )
    check_finite("policy_logps", policy_logps, always=False)
    check_finite("ref_logps", ref_logps, always=False)
    if kl_policy_logps is not None:
        _sequence("kl_policy_logps", kl_policy_logps)
        _like("kl_ref_logps", kl_ref_logps, "kl_policy_logps", kl_policy_logps)
        z = (kl_policy_logps - kl_ref_logps).detach().mean().clamp_min(0).to(policy_logps.dtype)
    else:
        z = torch.zeros((), dtype=policy_logps.dtype, device=policy_logps.device)
    r = policy_logps - ref_logps.detach().to(policy_logps.dtype)
    good_loss = desirable_weight * (1 - torch.sigmoid(beta * (r - z)))
    bad_loss = undesirable_weight * (1 - torch.sigmoid(beta * (z - r)))
    return reduce(torch.where(good, good_loss, bad_loss), reduction)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, accurate near 0 and for very negative x (Maechler 2012)."""
    near_zero = x > -0.6931471805599453
    # Each branch gets inputs where it is accurate; the other entries get a harmless -1, so the
    # branch not taken cannot put inf * 0 = NaN into the gradient.
    safe_near = torch.where(near_zero, x, torch.full_like(x, -1.0))
    safe_far = torch.where(near_zero, torch.full_like(x, -1.0), x)
    return torch.where(
        near_zero, torch.log(-torch.expm1(safe_near)), torch.log1p(-torch.exp(safe_far))
    )


def orpo_loss(
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    chosen_nll: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Odds-ratio preference optimisation (Hong et al. 2024): SFT and preference in one loss,
    with no reference model.

    $$\log\operatorname{odds}(y) = \log\frac{P(y)}{1 - P(y)},\qquad
    \ell = \underbrace{-\log P(y_w)}_{\text{NLL}}
      - \beta\log\sigma\big(\log\operatorname{odds}(y_w) - \log\operatorname{odds}(y_l)\big)$$

    $\log P(y)$ is the **length-averaged** token log-probability of the completion (TRL's
    convention), so $P(y) < 1$ and the odds are finite; $\log(1 - P)$ is computed stably. By
    default the NLL term is $-\log P(y_w)$ of the same averaged log-probability; pass `chosen_nll`
    to use another SFT term (e.g. the token-level cross entropy over the batch). $\beta$ is the
    paper's $\lambda$.

    Args:
        chosen_logps: mean token log-probability of each chosen completion, $< 0$.
        rejected_logps: mean token log-probability of the rejected completion, $< 0$.
        beta: weight $\beta \ge 0$ of the odds-ratio term.
        chosen_nll: optional per-pair SFT loss replacing $-\log P(y_w)$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - chosen_logps, rejected_logps, chosen_nll: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> orpo_loss(torch.tensor([-0.5]), torch.tensor([-0.5]), beta=1.0)
        tensor(1.1931)
    """
    check_reduction(reduction)
    check_number("beta", beta, low=0.0)
    _sequence("chosen_logps", chosen_logps, reduction)
    _like("rejected_logps", rejected_logps, "chosen_logps", chosen_logps)
    for name, x in (("chosen_logps", chosen_logps), ("rejected_logps", rejected_logps)):
        check_finite(name, x)
        if has_values(x) and bool((x >= 0).any()):
            raise ValueError(
                f"{name}: expected mean token log-probabilities < 0 (P < 1, finite odds), got "
                f"{x[x >= 0][0].item()!r}"
            )
    log_odds = (chosen_logps - rejected_logps) - (
        _log1mexp(chosen_logps) - _log1mexp(rejected_logps)
    )
    if chosen_nll is None:
        nll = -chosen_logps
    else:
        _like("chosen_nll", chosen_nll, "chosen_logps", chosen_logps)
        nll = chosen_nll
    return reduce(nll - beta * F.logsigmoid(log_odds), reduction)


def grpo_advantages(
    rewards: torch.Tensor,
    *,
    group_size: int,
    scale_rewards: bool = True,
    eps: float = 1e-4,
) -> torch.Tensor:
    r"""Group-relative advantages of GRPO (Shao et al. 2024): each completion's reward minus the
    mean of its group, divided by the group's standard deviation.

    $$\hat A_i = \frac{r_i - \operatorname{mean}(r_{g})}{\operatorname{std}(r_{g}) + \epsilon}$$

    The group $g$ is the $G$ completions sampled for the same prompt, stored consecutively
    (`rewards.view(-1, G)`, TRL's layout); std is the unbiased sample std, $\epsilon = 10^{-4}$
    as in TRL. `scale_rewards=False` skips the division (Dr. GRPO: dividing by the std
    up-weights prompts that are nearly always solved or nearly always failed). A group whose
    rewards are all equal gets advantage 0: it carries no learning signal. Detached.

    Args:
        rewards: one scalar reward per completion.
        group_size: $G \ge 2$, completions per prompt; must divide the number of rewards.
        scale_rewards: divide by the group std (GRPO) or not (Dr. GRPO).
        eps: $\epsilon > 0$ added to the std.

    Shape:
        - rewards: `[B]`, $B = \text{prompts} \times G$
        - output: `[B]`

    Example:
        >>> grpo_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0]), group_size=3)
        tensor([ 1.1545, -0.5773, -0.5773,  0.0000,  0.0000,  0.0000])
    """
    _sequence("rewards", rewards, "none")  # no reward, no advantage
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size: expected an integer >= 2, got {group_size!r}")
    if rewards.shape[0] % group_size:
        raise ValueError(
            f"rewards: expected a multiple of group_size={group_size} entries (whole groups), "
            f"got {rewards.shape[0]}"
        )
    check_number("eps", eps, low=0.0, low_inclusive=False)
    check_finite("rewards", rewards)
    if rewards.numel() == 0:
        return rewards.detach().clone()
    with torch.no_grad():
        grouped = rewards.detach().view(-1, group_size)
        centred = grouped - grouped.mean(dim=1, keepdim=True)
        if scale_rewards:
            centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
        # All-equal group: exactly 0 (the mean's rounding would otherwise leave ~1e-12 / eps).
        flat = grouped.amax(dim=1, keepdim=True) == grouped.amin(dim=1, keepdim=True)
        centred = torch.where(flat, torch.zeros_like(centred), centred)
    return centred.reshape(-1)


GRPO_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    rewards: torch.Tensor,
    *,
    group_size: int,
    mask: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.0,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    loss_type: str = "grpo",
    scale_rewards: bool = True,
    max_completion_length: int | None = None,
    num_items_in_batch: int | None = None,
) -> torch.Tensor:
    r"""GRPO: PPO's clipped per-token loss with group-relative advantages and no critic.

    $$\ell_{i,t} = \max\!\big(-\hat A_i r_{i,t},\,
      -\hat A_i\operatorname{clip}(r_{i,t}, 1-\epsilon, 1+\epsilon_h)\big)
      + \beta\,k_3(\pi_\theta, \pi_{\text{ref}})_{i,t}$$

    with $\hat A_i$ from [grpo_advantages][lossbook.alignment.grpo_advantages] broadcast over the
    tokens of completion $i$. The normalisation (`loss_type`, TRL's names) decides how tokens of
    different lengths are weighted, with $m_{i,t}$ the completion mask:

    - `"grpo"`: $\frac1B\sum_i \frac{\sum_t m_{i,t}\ell_{i,t}}{\sum_t m_{i,t}}$, per-sequence mean
      then mean over sequences. Every sequence weighs the same, so each token of a long
      completion weighs less: a length bias (long wrong answers are penalised less per token).
    - `"bnpo"`: $\frac{\sum_{i,t} m\,\ell}{\sum_{i,t} m}$, the token mean of this (local) batch.
    - `"dr_grpo"`: $\frac{\sum_{i,t} m\,\ell}{B \cdot L_{\max}}$, a constant denominator
      (Dr. GRPO; $L_{\max}$ = `max_completion_length`, default the padded length $T$).
    - `"dapo"`: $\frac{\sum_{i,t} m\,\ell}{N_{\text{global}}}$, the token mean over the **global**
      batch (all ranks and accumulation steps; `num_items_in_batch`, default the local count, in
      which case it equals `"bnpo"`).

    Args:
        logprobs: $\log\pi_\theta$ of each completion token (requires grad).
        old_logprobs: $\log\pi_{\text{old}}$ of the same tokens (use `logprobs.detach()` for a
            single update per batch: the ratio is then 1 and only the gradient remains).
        rewards: one scalar reward per completion, groups of `group_size` consecutive.
        group_size: $G$, completions per prompt.
        mask: bool or 0/1 completion mask (0 for padding), default all ones.
        ref_logprobs: $\log\pi_{\text{ref}}$ of the tokens; required when `beta > 0`.
        beta: weight of the k3 KL penalty (0 in recent practice, 0.04 in the DeepSeekMath paper).
        clip_eps: lower (and default upper) clip $\epsilon$.
        clip_eps_high: optional upper clip $\epsilon_h$ (DAPO uses 0.28).
        loss_type: `"grpo"`, `"bnpo"`, `"dr_grpo"` or `"dapo"`.
        scale_rewards: divide advantages by the group std (see `grpo_advantages`).
        max_completion_length: $L_{\max}$ for `"dr_grpo"`.
        num_items_in_batch: global count of valid tokens for `"dapo"`.

    Shape:
        - logprobs, old_logprobs, ref_logprobs, mask: `[B, T]`
        - rewards: `[B]`
        - output: scalar

    Example:
        >>> logp = torch.full((4, 3), -1.0)
        >>> mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 0]])
        >>> rewards = torch.tensor([1.0, 0.0, 1.0, 0.0])
        >>> for k in ("grpo", "bnpo", "dr_grpo"):
        ...     print(k, round(grpo_loss(logp, logp, rewards, group_size=2, mask=mask,
        ...                              loss_type=k).item(), 4))
        grpo 0.0
        bnpo -0.2357
        dr_grpo -0.1768
    """
    check_choice("loss_type", loss_type, GRPO_LOSS_TYPES)
    check_number("beta", beta, low=0.0)
    _float("logprobs", logprobs)
    sizes = check_shapes(logprobs=(logprobs, "B T"), rewards=(rewards, "B"), nonempty="BT")
    _like("old_logprobs", old_logprobs, "logprobs", logprobs)
    if mask is None:
        valid = torch.ones_like(logprobs, dtype=torch.bool)
    else:
        valid = _check_mask(mask, "logprobs", logprobs)
    if beta > 0 and ref_logprobs is None:
        raise ValueError(f"ref_logprobs: required when beta > 0 (beta={beta!r}), got None")
    check_number("clip_eps", clip_eps, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    eps_high = clip_eps
    if clip_eps_high is not None:
        eps_high = check_number("clip_eps_high", clip_eps_high, low=0.0, low_inclusive=False)
    check_finite("logprobs", logprobs, always=False)
    check_finite("old_logprobs", old_logprobs, always=False)
    advantages = grpo_advantages(rewards, group_size=group_size, scale_rewards=scale_rewards)
    per_token = _clipped_surrogate(
        logprobs, old_logprobs, advantages.to(logprobs.dtype)[:, None], clip_eps, eps_high, None,
        valid,
    )
    per_token = torch.where(valid, per_token, torch.zeros((), dtype=per_token.dtype))
    if beta > 0:
        _like("ref_logprobs", ref_logprobs, "logprobs", logprobs)
        per_token = per_token + beta * kl_penalty(
            logprobs, ref_logprobs, estimator="k3", mask=valid, reduction="none"
        )
    total = per_token.sum()
    if loss_type == "grpo":
        lengths = valid.sum(dim=1).clamp_min(1).to(per_token.dtype)
        return (per_token.sum(dim=1) / lengths).mean()
    if loss_type == "bnpo":
        return total / valid.sum().clamp_min(1)
    if loss_type == "dr_grpo":
        length = sizes["T"] if max_completion_length is None else max_completion_length
        if isinstance(length, bool) or not isinstance(length, int) or length < sizes["T"]:
            raise ValueError(
                f"max_completion_length: expected an integer >= the padded length T={sizes['T']}, "
                f"got {max_completion_length!r}"
            )
        return total / (sizes["B"] * length)
    if num_items_in_batch is None:
        return total / valid.sum().clamp_min(1)
    if isinstance(num_items_in_batch, bool) or not isinstance(num_items_in_batch, int) or (
        num_items_in_batch < 1
    ):
        raise ValueError(
            f"num_items_in_batch: expected a positive integer (global token count), got "
            f"{num_items_in_batch!r}"
        )
    return total / num_items_in_batch


def simpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    *,
    beta: float = 0.1,
    gamma: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SimPO (Meng et al. 2024): a preference loss on the **length-normalised** log-probability,
    with a target margin $\gamma$ and no reference model.

    $$\ell = -\log\sigma\Big(\frac{\beta}{|y_w|}\log\pi_\theta(y_w\mid x)
      - \frac{\beta}{|y_l|}\log\pi_\theta(y_l\mid x) - \gamma\Big)$$

    The implicit reward is the average token log-probability (scaled by $\beta$), the quantity
    generation actually ranks by, so a longer answer gains nothing from its length; $\gamma$
    asks the chosen answer to win by a margin. There is no $\pi_{\text{ref}}$ term, hence no
    reference forward pass. As in TRL v1.9.0's `CPOTrainer` with `loss_type="simpo"`, whose
    defaults ($\beta = 0.1$, `simpo_gamma` $= 0.5$) these are.

    Args:
        policy_chosen_logps: $\log\pi_\theta(y_w \mid x)$, **summed** over the completion.
        policy_rejected_logps: $\log\pi_\theta(y_l \mid x)$, summed.
        chosen_lengths: $|y_w|$, the number of completion tokens (positive).
        rejected_lengths: $|y_l|$.
        beta: $\beta > 0$, the reward scale.
        gamma: $\gamma \ge 0$, the target reward margin.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - each argument: `[B]`, one per preference pair (lengths: integer or float)
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> simpo_loss(torch.tensor([-20.0]), torch.tensor([-60.0]), torch.tensor([10]),
        ...            torch.tensor([20]), beta=2.0, gamma=1.0)
        tensor(0.3133)
    """
    check_reduction(reduction)
    check_number("beta", beta, low=0.0, low_inclusive=False)
    check_number("gamma", gamma, low=0.0)
    _sequence("policy_chosen_logps", policy_chosen_logps, reduction)
    _like("policy_rejected_logps", policy_rejected_logps, "policy_chosen_logps",
          policy_chosen_logps)
    for name, n in (("chosen_lengths", chosen_lengths), ("rejected_lengths", rejected_lengths)):
        if not isinstance(n, torch.Tensor) or n.is_complex() or n.dtype == torch.bool:
            got = type(n).__name__ if not isinstance(n, torch.Tensor) else f"dtype {n.dtype}"
            raise TypeError(f"{name}: expected an integer or float tensor, got {got}")
        if n.shape != policy_chosen_logps.shape:
            raise ValueError(
                f"{name}: expected the same shape as policy_chosen_logps "
                f"{list(policy_chosen_logps.shape)}, got {list(n.shape)} (no broadcasting)"
            )
        if n.device != policy_chosen_logps.device:
            raise ValueError(f"{name}: expected device {policy_chosen_logps.device} (as "
                             f"policy_chosen_logps), got {n.device}")
        if has_values(n) and not bool((n > 0).all()):
            raise ValueError(f"{name}: expected positive token counts, got {n.min().item()!r}")
    if is_debug():
        check_finite("policy_chosen_logps", policy_chosen_logps)
        check_finite("policy_rejected_logps", policy_rejected_logps)
    dtype = policy_chosen_logps.dtype
    margin = (policy_chosen_logps / chosen_lengths.to(dtype)
              - policy_rejected_logps / rejected_lengths.to(dtype))
    return reduce(-F.logsigmoid(beta * margin - gamma), reduction)

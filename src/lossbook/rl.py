"""Reinforcement-learning losses: policy gradient (REINFORCE, PPO), advantages (GAE), value
losses (TD, quantile regression), soft actor-critic, and the KL penalty estimators.

Conventions shared by every function here:

- Quantities that act as constants in the objective (old log-probabilities, advantages, returns,
  bootstrapped targets, reference log-probabilities) are **detached** inside the function, so a
  gradient never leaks into the network that produced them.
- Per-token losses take an optional `mask` (bool or 0/1, same shape as the log-probabilities);
  `reduction="mean"` is the masked token mean (0, not NaN, when nothing is valid), `"sum"` the
  masked sum and `"none"` the per-token values with masked entries set to 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_device,
    check_finite,
    check_nonempty,
    check_number,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
    reduce,
)

__all__ = [
    "cql_regularizer",
    "generalized_advantage_estimate",
    "iql_expectile_loss",
    "kl_penalty",
    "ppo_clip_loss",
    "quantile_huber_loss",
    "reinforce_loss",
    "sac_actor_loss",
    "sac_critic_loss",
    "sac_temperature_loss",
    "td_loss",
]


# ----------------------------------------------------------------------------- helpers


def _float(name: str, x: object) -> torch.Tensor:
    check_tensor(name, x, kind="float")
    return x  # type: ignore[return-value]


def _like(name: str, x: object, ref_name: str, ref: torch.Tensor) -> torch.Tensor:
    """A float tensor with exactly the shape, dtype family and device of ``ref``."""
    _float(name, x)
    check_same_shape(name, x, ref_name, ref)  # type: ignore[arg-type]  # also the device
    return x  # type: ignore[return-value]


def _check_mask(mask: object, ref_name: str, ref: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """A bool or 0/1 tensor with the shape of ``ref``; returned as bool."""
    check_tensor(name, mask)
    check_same_shape(name, mask, ref_name, ref)  # type: ignore[arg-type]  # also the device
    if mask.dtype != torch.bool:  # type: ignore[union-attr]
        if mask.is_complex() or (has_values(mask) and bool(((mask != 0) & (mask != 1)).any())):  # type: ignore[union-attr]
            raise ValueError(
                f"{name}: expected bool or 0/1 values, got {mask.unique()[:5].tolist()}"  # type: ignore[union-attr]
            )
        mask = mask != 0  # type: ignore[operator]
    return mask  # type: ignore[return-value]


def _masked(loss: torch.Tensor, mask: torch.Tensor | None, reduction: str) -> torch.Tensor:
    """Masked token mean / sum / per-token values (masked entries exactly 0)."""
    if mask is None:
        return reduce(loss, reduction)
    loss = torch.where(mask, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "mean":
        return loss.sum() / mask.sum().clamp_min(1)
    return reduce(loss, reduction)


def _check_dones(dones: object, ref_name: str, ref: torch.Tensor) -> torch.Tensor:
    return _check_mask(dones, ref_name, ref, name="dones")


# ----------------------------------------------------------------------------- policy gradient


def reinforce_loss(
    logprobs: torch.Tensor,
    returns: torch.Tensor,
    *,
    baseline: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""REINFORCE (score-function) policy-gradient loss, with an optional baseline.

    $$\ell_t = -\big(G_t - b_t\big)\,\log \pi_\theta(a_t \mid s_t)$$

    Its gradient is the Monte Carlo policy gradient $-(G_t - b_t)\nabla_\theta \log\pi_\theta$.
    `returns` and `baseline` are detached: the weight $G_t - b_t$ is a constant of the update, and
    a baseline that does not depend on the action leaves the gradient unbiased while cutting its
    variance. The **value** of this loss is not the expected return and is not a progress metric.

    Args:
        logprobs: $\log\pi_\theta(a_t \mid s_t)$ of the actions taken (requires grad).
        returns: the return (reward-to-go) $G_t$ of each action.
        baseline: optional $b_t$, typically a learned $V(s_t)$; same shape.
        mask: optional bool or 0/1 validity mask (padding is 0).
        reduction: `"mean"` (over valid entries), `"sum"` or `"none"`.

    Shape:
        - logprobs: any shape `[*]`, e.g. `[B, T]`
        - returns, baseline, mask: `[*]`, the same shape (no broadcasting)
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> logp = torch.log(torch.tensor([0.5, 0.25]))
        >>> reinforce_loss(logp, torch.tensor([1.0, 2.0]), baseline=torch.tensor([0.5, 0.5]))
        tensor(1.2130)
    """
    check_reduction(reduction)
    _float("logprobs", logprobs)
    check_nonempty("logprobs", logprobs, reduction)
    _like("returns", returns, "logprobs", logprobs)
    check_finite("returns", returns)
    weight = returns.detach()
    if baseline is not None:
        _like("baseline", baseline, "logprobs", logprobs)
        check_finite("baseline", baseline)
        weight = weight - baseline.detach()
    if mask is not None:
        mask = _check_mask(mask, "logprobs", logprobs)
    check_finite("logprobs", logprobs, always=False)
    return _masked(-weight.to(logprobs.dtype) * logprobs, mask, reduction)


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    dual_clip: float | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""PPO's clipped surrogate objective as a per-token loss (the form used by PPO and GRPO).

    $$r_t = e^{\log\pi_\theta - \log\pi_{\text{old}}},\qquad
    \ell_t = \max\!\big(-A_t r_t,\; -A_t \operatorname{clip}(r_t, 1-\epsilon, 1+\epsilon_{h})\big)$$

    which is $-\min(r_t A_t, \operatorname{clip}(r_t)A_t)$, the negated surrogate of Schulman et
    al. (2017). `clip_eps_high` makes the clip asymmetric (DAPO's "clip-higher",
    $\epsilon_h > \epsilon$). With `dual_clip=c` ($c > 1$, usually 3) the loss of tokens with
    $A_t < 0$ is also capped at $-cA_t$ (Ye et al. 2020), so a huge ratio on a bad action cannot
    produce an unbounded update: $\ell_t \leftarrow \min(\ell_t, -cA_t)$ when $A_t < 0$.

    Where the clipped branch is active the gradient is exactly zero: clipping removes the
    incentive to move the ratio further, it does not pull it back.

    Args:
        logprobs: $\log\pi_\theta$ of the sampled tokens / actions (requires grad).
        old_logprobs: $\log\pi_{\text{old}}$ of the same tokens from the policy that sampled
            them (detached).
        advantages: $A_t$ (detached); broadcast a per-sequence advantage yourself with
            `adv[:, None].expand_as(logprobs)`.
        clip_eps: $\epsilon$, the lower clip $1 - \epsilon$ (and the upper one unless
            `clip_eps_high` is given), in $(0, 1)$.
        clip_eps_high: optional $\epsilon_h > 0$ for the upper clip $1 + \epsilon_h$.
        dual_clip: optional $c > 1$; caps the loss of negative-advantage tokens at $-cA_t$.
        mask: optional bool or 0/1 token mask (padding is 0).
        reduction: `"mean"` (masked token mean), `"sum"` or `"none"`.

    Shape:
        - logprobs: any shape `[*]`, e.g. `[B, T]` tokens
        - old_logprobs, advantages, mask: `[*]`, the same shape (no broadcasting)
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> ratio = torch.tensor([0.5, 1.0, 1.5])
        >>> adv = torch.tensor([1.0, -1.0, 2.0])
        >>> ppo_clip_loss(ratio.log(), torch.zeros(3), adv, reduction="none")
        tensor([-0.5000,  1.0000, -2.4000])
        >>> round(ppo_clip_loss(ratio.log(), torch.zeros(3), adv).item(), 4)
        -0.6333
        >>> ppo_clip_loss(torch.tensor([10.0]).log(), torch.zeros(1), torch.tensor([-4.0]),
        ...               dual_clip=3.0)
        tensor(12.)
    """
    check_reduction(reduction)
    check_number("clip_eps", clip_eps, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    eps_high = clip_eps
    if clip_eps_high is not None:
        eps_high = check_number("clip_eps_high", clip_eps_high, low=0.0, low_inclusive=False)
    if dual_clip is not None:
        check_number("dual_clip", dual_clip, low=1.0, low_inclusive=False)
    _float("logprobs", logprobs)
    check_nonempty("logprobs", logprobs, reduction)
    _like("old_logprobs", old_logprobs, "logprobs", logprobs)
    _like("advantages", advantages, "logprobs", logprobs)
    check_finite("advantages", advantages)
    if mask is not None:
        mask = _check_mask(mask, "logprobs", logprobs)
    check_finite("logprobs", logprobs, always=False)
    check_finite("old_logprobs", old_logprobs, always=False)

    loss = _clipped_surrogate(
        logprobs, old_logprobs, advantages.detach().to(logprobs.dtype), clip_eps, eps_high,
        dual_clip, mask,
    )
    return _masked(loss, mask, reduction)


def _clipped_surrogate(logprobs, old_logprobs, adv, clip_eps, eps_high, dual_clip, mask):
    """Per-token clipped loss, no validation; ``adv`` may broadcast (e.g. ``[B, 1]``)."""
    log_ratio = logprobs - old_logprobs.detach().to(logprobs.dtype)
    if mask is not None:
        # Padding may hold garbage (-inf - -inf = NaN): keep it out of the value and the gradient.
        log_ratio = torch.where(mask, log_ratio, torch.zeros((), dtype=log_ratio.dtype))
    # max(-A r, -A clip(r)) = -A * min(r, 1 + eps_h) for A >= 0 and -A * max(r, 1 - eps) for
    # A < 0 (further capped at c by the dual clip). Clamping the log-ratio before exp gives the
    # same value and gradient in fewer passes, and exp cannot overflow into inf * 0 = NaN
    # gradients. Only A < 0 without a dual clip is left unbounded, as the objective is.
    upper = math.log1p(eps_high)
    lower = math.log1p(-clip_eps)
    cap = None if dual_clip is None else math.log(dual_clip)
    negative_side = log_ratio.clamp(min=lower, max=cap)
    effective = torch.where(adv >= 0, log_ratio.clamp(max=upper), negative_side)
    return -adv * torch.exp(effective)


def generalized_advantage_estimate(
    rewards: torch.Tensor,
    values: torch.Tensor,
    *,
    gamma: float = 0.99,
    lam: float = 0.95,
    dones: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Generalized advantage estimation (Schulman et al. 2016), computed backwards in time.

    $$\delta_t = r_t + \gamma (1 - d_t) V(s_{t+1}) - V(s_t),\qquad
    \hat A_t = \delta_t + \gamma\lambda (1 - d_t)\,\hat A_{t+1}$$

    $\lambda = 0$ gives the one-step TD error (low variance, biased by $V$); $\lambda = 1$ gives
    the Monte Carlo return minus the baseline (unbiased, high variance). The value targets for
    the critic are `advantages + values[..., :-1]` ($\text{TD}(\lambda)$ returns).

    The result carries no gradient: advantages are targets, not something to differentiate.

    Args:
        rewards: $r_t$ for each step of a rollout of length $T$.
        values: $V(s_0), \dots, V(s_T)$: one more column than `rewards`; the last is the
            bootstrap value of the state after the final step (0 if the episode ended there).
        gamma: discount $\gamma \in [0, 1]$.
        lam: $\lambda \in [0, 1]$.
        dones: optional bool or 0/1; $d_t = 1$ when the episode ended **after** step $t$, so
            neither $V(s_{t+1})$ nor the advantages of the next episode leak into step $t$.

    Shape:
        - rewards: `[T]` or `[B, T]`
        - values: `[T + 1]` or `[B, T + 1]`
        - dones: the shape of `rewards`
        - output: the shape of `rewards`

    Example:
        >>> r = torch.tensor([1.0, 0.0, 1.0])
        >>> v = torch.tensor([0.5, 0.5, 0.5, 0.0])
        >>> generalized_advantage_estimate(r, v, gamma=0.9, lam=1.0)
        tensor([1.3100, 0.4000, 0.5000])
    """
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("lam", lam, low=0.0, high=1.0)
    _float("rewards", rewards)
    _float("values", values)
    if rewards.ndim not in (1, 2):
        raise ValueError(f"rewards: expected shape [T] or [B, T], got {list(rewards.shape)}")
    if values.shape != (*rewards.shape[:-1], rewards.shape[-1] + 1):
        raise ValueError(
            f"values: expected shape {[*rewards.shape[:-1], rewards.shape[-1] + 1]} (one more "
            f"step than rewards {list(rewards.shape)}: the bootstrap value), "
            f"got {list(values.shape)}"
        )
    if values.device != rewards.device:
        raise ValueError(
            f"values: expected device {rewards.device} (as rewards), got {values.device}"
        )
    check_finite("rewards", rewards)
    check_finite("values", values)
    with torch.no_grad():
        r = rewards.detach()
        v = values.detach().to(r.dtype)
        not_done = torch.ones_like(r)
        if dones is not None:
            not_done = (~_check_dones(dones, "rewards", rewards)).to(r.dtype)
        delta = r + gamma * not_done * v[..., 1:] - v[..., :-1]
        advantages = torch.empty_like(r)
        running = torch.zeros_like(r[..., 0])
        for t in range(r.shape[-1] - 1, -1, -1):
            running = delta[..., t] + gamma * lam * not_done[..., t] * running
            advantages[..., t] = running
    return advantages


# ----------------------------------------------------------------------------- value losses


def td_loss(
    values: torch.Tensor,
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    *,
    gamma: float = 0.99,
    dones: torch.Tensor | None = None,
    kind: str = "mse",
    delta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""One-step temporal-difference loss (TD(0) critic, or DQN with $Q$ values).

    $$y = r + \gamma (1 - d)\,V'(s'),\qquad \ell = \rho\big(V(s) - y\big)$$

    with $\rho(u) = u^2$ (`kind="mse"`) or the Huber loss with threshold $\delta$
    (`kind="huber"`, DQN's choice; $\delta = 1$ is `smooth_l1`). The target $y$ is **detached**:
    semi-gradient TD regresses toward the bootstrap, it does not move the bootstrap toward the
    prediction. For DQN pass $Q(s, a)$ as `values` and $\max_{a'} Q_{\text{target}}(s', a')$ as
    `next_values`.

    Args:
        values: $V(s)$ or $Q(s, a)$ being trained.
        rewards: $r$.
        next_values: $V'(s')$, usually from a target network (detached).
        gamma: discount in $[0, 1]$.
        dones: optional bool or 0/1; 1 where $s'$ is terminal (no bootstrap).
        kind: `"mse"` or `"huber"`.
        delta: Huber threshold $\delta > 0$ (only with `kind="huber"`).
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - values: any shape `[*]`
        - rewards, next_values, dones: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> td_loss(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([2.0, 5.0]),
        ...         gamma=0.5, dones=torch.tensor([False, True]), reduction="none")
        tensor([1., 1.])
    """
    check_reduction(reduction)
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_choice("kind", kind, ("mse", "huber"))
    check_number("delta", delta, low=0.0, low_inclusive=False)
    _float("values", values)
    check_nonempty("values", values, reduction)
    _like("rewards", rewards, "values", values)
    _like("next_values", next_values, "values", values)
    check_finite("rewards", rewards)
    check_finite("next_values", next_values, always=False)
    check_finite("values", values, always=False)
    bootstrap = next_values.detach()
    if dones is not None:
        done = _check_dones(dones, "values", values)
        bootstrap = torch.where(done, torch.zeros_like(bootstrap), bootstrap)
    target = (rewards.detach() + gamma * bootstrap).to(values.dtype)
    if kind == "mse":
        loss = (values - target).square()
    else:
        loss = F.huber_loss(values, target, delta=delta, reduction="none")
    return reduce(loss, reduction)


def quantile_huber_loss(
    quantiles: torch.Tensor,
    target: torch.Tensor,
    *,
    taus: torch.Tensor | None = None,
    kappa: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Quantile-regression Huber loss of QR-DQN (Dabney et al. 2018).

    $$u_{ij} = y_j - \theta_i,\qquad
    \rho^\kappa_{\tau}(u) = \big|\tau - \mathbb 1\{u < 0\}\big|\,\frac{L_\kappa(u)}{\kappa},\qquad
    \ell = \sum_{i=1}^{N} \frac{1}{M}\sum_{j=1}^{M} \rho^\kappa_{\tau_i}(u_{ij})$$

    $L_\kappa$ is the Huber loss with threshold $\kappa$ ($\tfrac12 u^2$ inside, $\kappa(|u| -
    \tfrac12\kappa)$ outside). `kappa=0` is the plain quantile (pinball) loss
    $|\tau - \mathbb 1\{u<0\}|\,|u|$. Each predicted $\theta_i$ is pulled to the
    $\tau_i$-quantile of the target samples; the default $\tau_i = \frac{2i + 1}{2N}$ are
    the quantile midpoints.
    The targets (e.g. $r + \gamma\,\theta'_j(s', a^*)$) are detached.

    Args:
        quantiles: predicted quantile values $\theta_1..\theta_N$ per sample.
        target: target samples $y_1..y_M$ per sample (detached).
        taus: optional quantile levels in $(0, 1)$, one per predicted quantile.
        kappa: Huber threshold $\kappa \ge 0$ (0: pinball loss).
        reduction: `"mean"`, `"sum"` over samples, or `"none"`.

    Shape:
        - quantiles: `[B, N]`
        - target: `[B, M]`
        - taus: `[N]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> theta = torch.tensor([[0.0, 0.0]])  # taus 0.25, 0.75
        >>> quantile_huber_loss(theta, torch.tensor([[2.0]]), kappa=0.0)
        tensor(2.)
    """
    check_reduction(reduction)
    check_number("kappa", kappa, low=0.0)
    _float("quantiles", quantiles)
    _float("target", target)
    sizes = check_shapes(quantiles=(quantiles, "B N"), target=(target, "B M"),
                         nonempty="NM" + ("B" if reduction == "mean" else ""))
    n = sizes["N"]
    if taus is None:
        taus = (torch.arange(n, dtype=quantiles.dtype, device=quantiles.device) + 0.5) / n
    else:
        _float("taus", taus)
        check_shapes(taus=(taus, str(n)))
        if has_values(taus) and not bool(((taus > 0) & (taus < 1)).all()):
            raise ValueError(f"taus: expected quantile levels in (0, 1), got {taus.tolist()}")
        taus = taus.detach().to(device=quantiles.device, dtype=quantiles.dtype)
    check_finite("target", target)
    check_finite("quantiles", quantiles, always=False)
    u = target.detach().to(quantiles.dtype)[:, None, :] - quantiles[:, :, None]  # [B, N, M]
    weight = (taus[None, :, None] - (u.detach() < 0).to(u.dtype)).abs()
    if kappa == 0:
        element = u.abs()
    else:
        element = F.huber_loss(u, torch.zeros_like(u), delta=kappa, reduction="none") / kappa
    loss = (weight * element).mean(dim=2).sum(dim=1)
    return reduce(loss, reduction)


# ----------------------------------------------------------------------------- soft actor-critic


def _check_alpha(alpha: float | torch.Tensor, ref: torch.Tensor) -> torch.Tensor | float:
    if isinstance(alpha, torch.Tensor):
        check_tensor("alpha", alpha, kind="float")
        if alpha.numel() != 1:
            raise ValueError(
                f"alpha: expected a float or a one-element tensor, got shape {list(alpha.shape)}"
            )
        check_device("alpha", alpha, "the losses' inputs", ref)
        if has_values(alpha) and not bool(alpha.detach() >= 0):
            raise ValueError(f"alpha: expected a temperature >= 0, got {alpha.item()!r}")
        return alpha.detach().reshape(()).to(ref.dtype)
    return check_number("alpha", alpha, low=0.0)


def sac_actor_loss(
    log_probs: torch.Tensor,
    q_values: torch.Tensor,
    *,
    alpha: float | torch.Tensor = 0.2,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft actor-critic policy loss (Haarnoja et al. 2018).

    $$\ell = \alpha \log \pi_\theta(\tilde a \mid s) - Q(s, \tilde a),\qquad
    \tilde a = f_\theta(\varepsilon; s)\ \text{(reparameterised)}$$

    Minimising it maximises the soft value $\mathbb E[Q - \alpha\log\pi]$: return plus entropy.
    The gradient reaches $\theta$ through **both** terms: through $\log\pi$ and through the
    reparameterised action inside $Q$ (so do not detach `q_values`; freeze the critic's
    parameters instead). Use the minimum of the two critics for `q_values`. A tensor `alpha`
    (learned temperature) is detached here; train it with
    [sac_temperature_loss][lossbook.rl.sac_temperature_loss].

    Args:
        log_probs: $\log\pi_\theta(\tilde a \mid s)$ of reparameterised actions.
        q_values: $\min(Q_1, Q_2)(s, \tilde a)$.
        alpha: entropy temperature $\alpha \ge 0$ (float or one-element tensor).
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - log_probs: `[*]`, e.g. `[B]`
        - q_values: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> sac_actor_loss(torch.tensor([-1.0, 0.5]), torch.tensor([2.0, 1.0]), alpha=0.5)
        tensor(-1.6250)
    """
    check_reduction(reduction)
    _float("log_probs", log_probs)
    check_nonempty("log_probs", log_probs, reduction)
    _like("q_values", q_values, "log_probs", log_probs)
    a = _check_alpha(alpha, log_probs)
    check_finite("log_probs", log_probs, always=False)
    check_finite("q_values", q_values, always=False)
    return reduce(a * log_probs - q_values, reduction)


def sac_critic_loss(
    q_values: torch.Tensor,
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    next_log_probs: torch.Tensor,
    *,
    gamma: float = 0.99,
    alpha: float | torch.Tensor = 0.2,
    dones: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft actor-critic critic loss: regression onto the soft Bellman target.

    $$y = r + \gamma (1 - d)\big(\min_k Q'_k(s', a') - \alpha \log\pi(a' \mid s')\big),\quad
    a' \sim \pi(\cdot \mid s'),\qquad \ell = \big(Q(s, a) - y\big)^2$$

    The target is detached. Pass `next_q_values` already reduced over the target critics
    (the min of the twins, which curbs over-estimation), and call this once per critic
    (sum the two losses). This is the squared error without the paper's factor 1/2 (a constant
    scale of the gradient; Stable-Baselines3 v2.8.0 keeps the 1/2).

    Args:
        q_values: $Q(s, a)$ of the replayed actions.
        rewards: $r$.
        next_q_values: $\min_k Q'_k(s', a')$ from the target critics.
        next_log_probs: $\log\pi(a' \mid s')$ of the freshly sampled next actions.
        gamma: discount in $[0, 1]$.
        alpha: entropy temperature $\alpha \ge 0$.
        dones: optional bool or 0/1; 1 where $s'$ is terminal.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - q_values, rewards, next_q_values, next_log_probs, dones: `[*]`, one shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> sac_critic_loss(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([2.0]),
        ...                 torch.tensor([-1.0]), gamma=0.5, alpha=0.2)
        tensor(1.2100)
    """
    check_reduction(reduction)
    check_number("gamma", gamma, low=0.0, high=1.0)
    _float("q_values", q_values)
    check_nonempty("q_values", q_values, reduction)
    _like("rewards", rewards, "q_values", q_values)
    _like("next_q_values", next_q_values, "q_values", q_values)
    _like("next_log_probs", next_log_probs, "q_values", q_values)
    a = _check_alpha(alpha, q_values)
    check_finite("rewards", rewards)
    check_finite("next_q_values", next_q_values, always=False)
    check_finite("next_log_probs", next_log_probs, always=False)
    soft_next = (next_q_values - a * next_log_probs).detach()
    if dones is not None:
        done = _check_dones(dones, "q_values", q_values)
        soft_next = torch.where(done, torch.zeros_like(soft_next), soft_next)
    target = (rewards.detach() + gamma * soft_next).to(q_values.dtype)
    return reduce((q_values - target).square(), reduction)


def sac_temperature_loss(
    log_alpha: torch.Tensor,
    log_probs: torch.Tensor,
    *,
    target_entropy: float,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Loss for SAC's learned temperature (Haarnoja et al. 2018b, "SAC and applications").

    $$\ell = -\log\alpha\,\big(\log\pi(a \mid s) + \bar{\mathcal H}\big)$$

    with $\log\pi$ detached. If the policy's entropy $-\log\pi$ is below the target
    $\bar{\mathcal H}$ (commonly $-\dim\mathcal A$), the gradient raises $\alpha$, pushing the
    actor toward more entropy, and vice versa. Optimising $\log\alpha$ keeps $\alpha > 0$.

    Args:
        log_alpha: the learnable $\log\alpha$ (one-element tensor).
        log_probs: $\log\pi(a \mid s)$ of freshly sampled actions (detached here).
        target_entropy: $\bar{\mathcal H}$, e.g. `-action_dim`.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - log_alpha: `[]` or `[1]`
        - log_probs: `[*]`
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> sac_temperature_loss(torch.tensor(0.5), torch.tensor([-1.0, -3.0]), target_entropy=-2.0)
        tensor(2.)
    """
    check_reduction(reduction)
    check_number("target_entropy", target_entropy)
    _float("log_alpha", log_alpha)
    if log_alpha.numel() != 1:
        raise ValueError(
            f"log_alpha: expected a one-element tensor, got shape {list(log_alpha.shape)}"
        )
    _float("log_probs", log_probs)
    check_nonempty("log_probs", log_probs, reduction)
    check_device("log_probs", log_probs, "log_alpha", log_alpha)
    check_finite("log_alpha", log_alpha)
    check_finite("log_probs", log_probs, always=False)
    gap = (log_probs.detach() + target_entropy).to(log_alpha.dtype)
    return reduce(-log_alpha.reshape(()) * gap, reduction)


# ----------------------------------------------------------------------------- KL penalty

KL_ESTIMATORS = ("k1", "k2", "k3")


def kl_penalty(
    logp: torch.Tensor,
    logp_ref: torch.Tensor,
    *,
    estimator: str = "k3",
    mask: torch.Tensor | None = None,
    clamp: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Per-token Monte Carlo estimate of $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$
    from tokens sampled from $\pi_\theta$ (Schulman's k1 / k2 / k3).

    $$\log r = \log\pi_{\text{ref}} - \log\pi_\theta,\qquad
    k_1 = -\log r,\quad k_2 = \tfrac12 (\log r)^2,\quad k_3 = (r - 1) - \log r$$

    k1 is unbiased but each sample can be negative (high variance); k3 is unbiased **and**
    non-negative (the GRPO paper's estimator, and NeMo RL's default at commit 7ea279a); k2 is
    biased but low-variance. Used as a
    **loss** (differentiated), they differ again: on-policy, $\nabla$k2 has the expectation of
    the true gradient of $\mathrm{KL}(\pi_\theta\|\pi_{\text{ref}})$, $\nabla$k3 that of
    $\mathrm{KL}(\pi_{\text{ref}}\|\pi_\theta)$, and $\nabla$k1 has expectation 0. `logp_ref`
    is detached (the reference model is frozen).

    Args:
        logp: $\log\pi_\theta$ of the sampled tokens.
        logp_ref: $\log\pi_{\text{ref}}$ of the same tokens.
        estimator: `"k1"`, `"k2"` or `"k3"`.
        mask: optional bool or 0/1 token mask.
        clamp: optional bound $c > 0$: $\log r$ is clamped to $[-c, c]$ first, which keeps k3's
            $e^{\log r}$ finite when the policy gives a token far less mass than the reference.
        reduction: `"mean"` (masked token mean), `"sum"` or `"none"`.

    Shape:
        - logp: any shape `[*]`, e.g. `[B, T]`
        - logp_ref, mask: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> logp = torch.log(torch.tensor([0.5, 0.2]))
        >>> logp_ref = torch.log(torch.tensor([0.25, 0.4]))
        >>> kl_penalty(logp, logp_ref, estimator="k3", reduction="none")
        tensor([0.1931, 0.3069])
    """
    check_reduction(reduction)
    check_choice("estimator", estimator, KL_ESTIMATORS)
    if clamp is not None:
        check_number("clamp", clamp, low=0.0, low_inclusive=False)
    _float("logp", logp)
    check_nonempty("logp", logp, reduction)
    _like("logp_ref", logp_ref, "logp", logp)
    if mask is not None:
        mask = _check_mask(mask, "logp", logp)
    check_finite("logp", logp, always=False)
    check_finite("logp_ref", logp_ref, always=False)
    log_r = logp_ref.detach().to(logp.dtype) - logp
    if clamp is not None:
        log_r = log_r.clamp(-clamp, clamp)
    if estimator == "k1":
        kl = -log_r
    elif estimator == "k2":
        kl = 0.5 * log_r.square()
    else:
        kl = torch.expm1(log_r) - log_r
    if mask is not None:
        kl = torch.where(mask, kl, torch.zeros((), dtype=kl.dtype, device=kl.device))
    return _masked(kl, mask, reduction)


# ----------------------------------------------------------------------------- offline RL


def iql_expectile_loss(
    values: torch.Tensor,
    q_values: torch.Tensor,
    *,
    tau: float = 0.7,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""IQL's value loss (Kostrikov et al. 2022): expectile regression of $V(s)$ on the target
    network's $Q(s, a)$ for the dataset's actions.

    $$u = Q(s,a) - V(s),\qquad \ell = \big|\tau - \mathbb 1[u < 0]\big|\,u^2$$

    With $\tau = 0.5$ it is half the squared error and $V$ fits the mean of $Q$ over the data's
    actions; as $\tau \to 1$ the minimiser tends to the **maximum** of $Q$ over actions that
    appear in the data, an in-sample max that never queries an unseen action. `q_values` is
    detached (a target).

    Args:
        values: $V_\psi(s)$ (requires grad).
        q_values: $Q_{\hat\theta}(s, a)$ from the target critic, for the dataset's $(s, a)$.
        tau: the expectile $\tau \in (0, 1)$.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - values: any shape `[*]`, e.g. `[B]`
        - q_values: `[*]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> iql_expectile_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, -1.0]), tau=0.9,
        ...                    reduction="none")
        tensor([0.9000, 0.1000])
    """
    check_reduction(reduction)
    check_number("tau", tau, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    _float("values", values)
    if reduction == "mean":  # a mean over nothing is NaN
        check_nonempty("values", values)
    _like("q_values", q_values, "values", values)
    check_finite("q_values", q_values)
    check_finite("values", values, always=False)
    u = q_values.detach().to(values.dtype) - values
    weight = torch.where(u < 0, 1.0 - tau, tau)
    return reduce(weight * u.square(), reduction)


def cql_regularizer(
    q_values: torch.Tensor,
    actions: torch.Tensor,
    *,
    alpha: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The conservative term of CQL (Kumar et al. 2020), CQL($\mathcal H$) for discrete actions:
    push down a soft maximum of $Q$ over all actions, push up $Q$ of the dataset's action.

    $$\ell = \alpha\Big(\log\sum_{a'} e^{Q(s, a')} - Q(s, a)\Big)$$

    Add it to the usual TD loss. It is $\alpha$ times the cross entropy of the logits $Q(s,
    \cdot)$ with the dataset's action as the label, so it is never negative and it is small only
    when the data's action dominates the soft maximum: out-of-distribution actions cannot keep
    an over-estimated value.

    Args:
        q_values: $Q(s, \cdot)$ for every action (requires grad).
        actions: the dataset's action indices.
        alpha: $\alpha \ge 0$, the weight of the regulariser.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - q_values: `[B, A]`
        - actions: `[B]` (integer)
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> q = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
        >>> cql_regularizer(q, torch.tensor([0, 0]), reduction="none")
        tensor([0.6931, 0.0486])
    """
    from ._checks import check_class_targets

    check_reduction(reduction)
    check_number("alpha", alpha, low=0.0)
    _float("q_values", q_values)
    sizes = check_shapes(q_values=(q_values, "B A"), actions=(actions, "B"),
                         nonempty="BA" if reduction == "mean" else "A")
    check_class_targets("actions", actions, sizes["A"])
    check_finite("q_values", q_values, always=False)
    picked = q_values.gather(1, actions[:, None]).squeeze(1)
    return reduce(alpha * (torch.logsumexp(q_values, dim=1) - picked), reduction)

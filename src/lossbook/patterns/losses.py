"""Loss objects (NLL, clipped policy gradient, DPO, Bradley-Terry) and a stable contrastive loss."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .._checks import (
    _shape,
    check_choice,
    check_number,
    check_reduction,
    check_shapes,
    check_tensor,
    reduce,
)
from ..alignment import bradley_terry_loss, dpo_loss
from ..rl import kl_penalty, ppo_clip_loss
from .interface import LossType
from .normalisation import (
    _global_count,
    _per_token,
    _sample_mask,
    _token_logprobs,
    _zero_where_invalid,
    masked_mean,
)

__all__ = [
    "BradleyTerryLoss",
    "ClippedPGLoss",
    "DPOLoss",
    "NLLLoss",
    "stable_contrastive_loss",
]


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
    check_shapes(pos_sim=(pos_sim, "B"), neg_sim=(neg_sim, "B N"),
                 nonempty="B" if reduction == "mean" else "")
    if neg_sim.shape[1] == 0:
        raise ValueError("neg_sim: expected at least one negative per anchor, got shape [B, 0]")
    logits = torch.cat([pos_sim[:, None], neg_sim.to(pos_sim.dtype)], dim=1) / temperature
    return reduce(torch.logsumexp(logits, dim=1) - logits[:, 0], reduction)

"""Losses for language models: next-token cross entropy (shift, prompt masking, packing),
perplexity, knowledge distillation, and the mixture-of-experts router losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_finite,
    check_nonempty,
    check_number,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
    masked_reduce,
)

__all__ = [
    "distillation_loss",
    "document_causal_mask",
    "load_balancing_loss",
    "next_token_cross_entropy",
    "perplexity",
    "router_z_loss",
]


def _check_token_targets(name: str, labels: torch.Tensor, vocab: int, ignore_index: int) -> None:
    check_tensor(name, labels, kind="int")
    if not has_values(labels):
        return
    valid = labels[labels != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= vocab):
        bad = valid[(valid < 0) | (valid >= vocab)][0].item()
        raise ValueError(
            f"{name}: expected token ids in [0, {vocab - 1}] or ignore_index={ignore_index},"
            f" got {bad}"
        )


def _token_nll(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int,
    shift: bool,
    document_ids: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position NLL ``[B, L']`` (0 where ignored) and the valid mask, after the shift."""
    check_tensor("logits", logits, kind="float")
    sizes = check_shapes(logits=(logits, "B L V"), labels=(labels, "B L"),
                         document_ids=(document_ids, "B L"), nonempty="BV")
    _check_token_targets("labels", labels, sizes["V"], ignore_index)
    check_finite("logits", logits, always=False)
    if shift:
        if sizes["L"] < 2:
            raise ValueError(
                f"labels: expected a sequence length of at least 2 to shift (position t predicts"
                f" token t+1), got {sizes['L']}"
            )
        logits, targets = logits[:, :-1], labels[:, 1:]
    else:
        targets = labels
    valid = targets != ignore_index
    if document_ids is not None:
        check_tensor("document_ids", document_ids, kind="int")
        if not shift:
            raise ValueError("document_ids: expected shift=True (boundaries are between a"
                             " position and the next one), got shift=False")
        # The target at t+1 belongs to another document than its context at t: not predictable.
        valid = valid & (document_ids[:, 1:] == document_ids[:, :-1])
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the log-softmax in float32, as transformers upcasts
    if document_ids is not None:  # cross-document targets are ignored like the others
        targets = targets.masked_fill(~valid, ignore_index)
    # Flattened to [B L', V]: the log-softmax runs over contiguous rows (on a [B, V, L'] view
    # of the logits it strides through memory, about 2x slower); ignored positions give 0.
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                          ignore_index=ignore_index, reduction="none")
    return nll.view(targets.shape), valid


def next_token_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    shift: bool = True,
    average: str = "token",
    document_ids: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The causal language-modelling loss: position $t$ predicts token $t+1$.

    $$\ell_{b,t} = -\log \operatorname{softmax}(z_{b,t})_{y_{b,t+1}},\qquad
    \text{token mean} = \frac{\sum_{b,t} m_{b,t}\,\ell_{b,t}}{\sum_{b,t} m_{b,t}},\qquad
    \text{sequence mean} = \frac{1}{|S|}\sum_{b \in S}
    \frac{\sum_t m_{b,t}\,\ell_{b,t}}{\sum_t m_{b,t}}$$

    `labels` are the unshifted token ids (usually `input_ids`) with every position that must not
    be learned (prompt, padding) set to `ignore_index`; the mask $m_{b,t}$ is
    $y_{b,t+1} \ne$ `ignore_index`. The shift happens here, as in transformers'
    `ForCausalLMLoss`: `logits[:, :-1]` are scored against `labels[:, 1:]`.

    With `average="token"` every valid token in the batch weighs the same (a long answer counts
    more than a short one); with `"sequence"` each sequence's mean counts once ($S$ = sequences
    with at least one valid token). With `document_ids` (packing: several documents in one row)
    a target whose context position belongs to another document is ignored too.

    Args:
        logits: the model's scores for every position.
        labels: token ids, `ignore_index` where no loss is wanted.
        ignore_index: the label value that contributes nothing (transformers' and PyTorch's
            default is -100).
        shift: `False` when `labels` are already aligned with `logits` (position $t$ scored
            against `labels[:, t]`).
        average: `"token"` or `"sequence"`, how `reduction="mean"` averages.
        document_ids: optional id of the document each position belongs to (packed rows).
        reduction: `"mean"` (as `average` says; 0 when nothing is valid), `"sum"` over valid
            tokens, or `"none"` (per position, 0 where ignored).

    Shape:
        - logits: `[B, L, V]`, float
        - labels, document_ids: `[B, L]`, integer
        - output: scalar, or `[B, L - 1]` with `reduction="none"` (`[B, L]` with `shift=False`);
          float32 for float16 / bfloat16 logits

    Example:
        >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
        >>> next_token_cross_entropy(logits, torch.tensor([[-100, 2, 1]]))  # log 4
        tensor(1.3863)
    """
    check_reduction(reduction)
    check_choice("average", average, ("token", "sequence"))
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise TypeError(f"ignore_index: expected an int, got {type(ignore_index).__name__}")
    check_tensor("labels", labels, kind="int")
    nll, valid = _token_nll(logits, labels, ignore_index, shift, document_ids)
    if reduction != "mean" or average == "token":
        return masked_reduce(nll, valid, reduction)
    count = valid.sum(dim=1)
    has_tokens = count > 0
    per_sequence = nll.sum(dim=1) / count.clamp_min(1)
    return masked_reduce(per_sequence, has_tokens, "mean")


def perplexity(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    shift: bool = True,
    document_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Perplexity: the exponential of the mean next-token negative log-likelihood.

    $$\operatorname{PPL} = \exp\Big(\frac{1}{\sum m}\sum_{b,t} m_{b,t}\,\ell_{b,t}\Big)$$

    The mean is over **tokens** of the whole batch (never the mean of per-sequence
    perplexities). A uniform model over $V$ tokens has perplexity $V$: the number of equally
    likely choices it is hesitating between. Arguments as in
    [next_token_cross_entropy][lossbook.language.next_token_cross_entropy].

    Args:
        logits: the model's scores.
        labels: token ids, `ignore_index` where not scored.
        ignore_index: the label value that is not scored.
        shift: whether position $t$ predicts `labels[:, t + 1]`.
        document_ids: optional document id per position (packed rows).

    Shape:
        - logits: `[B, L, V]`, float
        - labels, document_ids: `[B, L]`, integer
        - output: scalar

    Example:
        >>> perplexity(torch.zeros(2, 5, 7), torch.randint(0, 7, (2, 5)))  # uniform over 7
        tensor(7.0000)
    """
    nll = next_token_cross_entropy(logits, labels, ignore_index=ignore_index, shift=shift,
                                   document_ids=document_ids)
    return nll.exp()


def document_causal_mask(document_ids: torch.Tensor) -> torch.Tensor:
    r"""The attention mask of a packed row: causal, and only within a document.

    $$M_{b,i,j} = [\,j \le i\,]\ \wedge\ [\,d_{b,i} = d_{b,j}\,]$$

    `True` means position $i$ may attend to position $j$. A plain causal mask on a packed row
    lets the second document attend to the first (cross-document leakage); this block-diagonal
    mask does not. Pass it as a boolean `attn_mask` to
    `F.scaled_dot_product_attention` (after adding a head dimension).

    Args:
        document_ids: the document each position belongs to.

    Shape:
        - document_ids: `[B, L]`, integer
        - output: `[B, L, L]`, bool

    Example:
        >>> document_causal_mask(torch.tensor([[0, 0, 1]])).int()
        tensor([[[1, 0, 0],
                 [1, 1, 0],
                 [0, 0, 1]]], dtype=torch.int32)
    """
    check_tensor("document_ids", document_ids, kind="int")
    sizes = check_shapes(document_ids=(document_ids, "B L"))
    length = sizes["L"]
    pos = torch.arange(length, device=document_ids.device)
    causal = pos[None, :] <= pos[:, None]  # [L, L]: j <= i
    same = document_ids[:, :, None] == document_ids[:, None, :]
    return causal[None] & same


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    direction: str = "forward",
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Knowledge distillation: the KL divergence between the teacher's and the student's
    temperature-softened distributions, times $T^2$.

    $$p = \operatorname{softmax}(z_t / T),\quad q = \operatorname{softmax}(z_s / T),\qquad
    \ell_{\text{forward}} = T^2 \sum_v p_v \log\frac{p_v}{q_v},\qquad
    \ell_{\text{reverse}} = T^2 \sum_v q_v \log\frac{q_v}{p_v}$$

    The gradient of the softened loss with respect to the student's logits scales as $1/T^2$
    for large $T$; the $T^2$ factor keeps its size independent of $T$, so the weight of the
    distillation term against the hard-label term does not have to be retuned with $T$.
    `"forward"` ($\mathrm{KL}(p\,\Vert\,q)$, Hinton et al.) makes the student cover every token
    the teacher finds plausible (mode covering); `"reverse"` ($\mathrm{KL}(q\,\Vert\,p)$, as in
    MiniLLM) makes it put its mass where the teacher is confident (mode seeking). The teacher
    gets no gradient.

    Args:
        student_logits: the student's scores, one distribution per position.
        teacher_logits: the teacher's scores, same shape (detached here).
        temperature: $T > 0$, applied to both.
        direction: `"forward"` or `"reverse"`.
        mask: optional `True` for the positions to score (e.g. response tokens).
        reduction: `"mean"` over scored positions (0 when none), `"sum"` or `"none"` (per
            position, 0 where masked).

    Shape:
        - student_logits, teacher_logits: `[*, V]` (e.g. `[B, L, V]` or `[N, V]`), float
        - mask: `[*]`, bool
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> s = torch.tensor([[0.0, 0.0]])
        >>> t = torch.tensor([[2.0, 0.0]])
        >>> distillation_loss(s, t, temperature=2.0)  # 4 * KL([0.731, 0.269] || [0.5, 0.5])
        tensor(0.4438)
    """
    check_reduction(reduction)
    check_choice("direction", direction, ("forward", "reverse"))
    temperature = check_number("temperature", temperature, low=0.0, low_inclusive=False)
    check_tensor("student_logits", student_logits, kind="float")
    check_tensor("teacher_logits", teacher_logits, kind="float")
    if student_logits.ndim < 1:
        raise ValueError("student_logits: expected at least 1 dimension [*, V], got a scalar")
    check_same_shape("teacher_logits", teacher_logits, "student_logits", student_logits)
    if student_logits.shape[-1] == 0:
        raise ValueError("student_logits: expected a vocabulary of at least 1 (V >= 1), got 0")
    if reduction == "mean":
        check_nonempty("student_logits", student_logits)
    lead = student_logits.shape[:-1]
    if mask is None:
        valid = torch.ones(lead, dtype=torch.bool, device=student_logits.device)
    else:
        check_tensor("mask", mask, kind="bool")
        if mask.shape != lead:
            raise ValueError(
                f"mask: expected shape {list(lead)} (student_logits without its last"
                f" dimension), got {list(mask.shape)} (no broadcasting)"
            )
        if mask.device != student_logits.device:
            raise ValueError(f"mask: expected device {student_logits.device} (as"
                             f" student_logits), got {mask.device}")
        valid = mask
    check_finite("student_logits", student_logits, always=False)
    check_finite("teacher_logits", teacher_logits, always=False)
    dtype = torch.promote_types(student_logits.dtype, torch.float32)
    log_q = F.log_softmax(student_logits.to(dtype) / temperature, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach().to(dtype) / temperature, dim=-1)
    if direction == "forward":
        kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    else:
        kl = (log_q.exp() * (log_q - log_p)).sum(-1)
    return masked_reduce(temperature**2 * kl, valid, reduction)


def _router_inputs(router_logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    check_tensor("router_logits", router_logits, kind="float")
    check_shapes(router_logits=(router_logits, "T N"), mask=(mask, "T"), nonempty="N")
    if mask is None:
        return torch.ones(router_logits.shape[0], dtype=torch.bool, device=router_logits.device)
    check_tensor("mask", mask, kind="bool")
    return mask


def load_balancing_loss(
    router_logits: torch.Tensor,
    *,
    top_k: int = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""The Switch Transformer's auxiliary load-balancing loss, before its coefficient $\alpha$.

    $$f_i = \frac{1}{kT}\sum_{x} [\,i \in \operatorname{top}_k(p(x))\,],\qquad
    P_i = \frac{1}{T}\sum_x p_i(x),\qquad \mathcal{L} = N \sum_{i=1}^{N} f_i\,P_i$$

    $f_i$, the fraction of routed tokens that went to expert $i$, is not differentiable (an
    argmax); $P_i$, the router's mean probability for expert $i$, is, and carries the gradient.
    The product is smallest for a uniform router and uniform dispatch, where it equals 1 for any
    $N$ (the factor $N$ makes it so). Multiply by $\alpha$ (Switch: $10^{-2}$) and add it to the
    task loss. With $k > 1$ the dispatch fractions are per routed slot, so a balanced router
    still scores 1 (implementations that do not divide by $k$ score $k$).

    Args:
        router_logits: the router's scores for every token and expert, one layer.
        top_k: how many experts each token is sent to, in `[1, N]`.
        mask: optional `True` for real tokens (padding is neither dispatched nor counted).

    Shape:
        - router_logits: `[T, N]`, float (T tokens, N experts)
        - mask: `[T]`, bool
        - output: scalar (0 when no token is valid)

    Example:
        >>> load_balancing_loss(torch.zeros(8, 4))  # uniform router
        tensor(1.)
    """
    check_number("top_k", top_k, low=1)
    if isinstance(top_k, float) and not top_k.is_integer():
        raise ValueError(f"top_k: expected an integer, got {top_k!r}")
    top_k = int(top_k)
    valid = _router_inputs(router_logits, mask)
    num_experts = router_logits.shape[1]
    if top_k > num_experts:
        raise ValueError(f"top_k: expected at most the number of experts {num_experts},"
                         f" got {top_k}")
    check_finite("router_logits", router_logits, always=False)
    dtype = torch.promote_types(router_logits.dtype, torch.float32)
    probs = F.softmax(router_logits.to(dtype), dim=-1)  # [T, N]
    chosen = probs.detach().topk(top_k, dim=-1).indices  # [T, k]
    dispatch = torch.zeros_like(probs).scatter_(1, chosen, 1.0)  # [T, N] in {0, 1}
    w = valid.to(dtype)[:, None]
    count = valid.sum().clamp_min(1)
    f = (dispatch * w).sum(0) / (count * top_k)
    p = (probs * w).sum(0) / count
    return num_experts * (f * p).sum()


def router_z_loss(router_logits: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""ST-MoE's router z-loss: the mean squared log-partition function of the router.

    $$\mathcal{L}_z = \frac{1}{T}\sum_{x} \Big(\log \sum_{j=1}^{N} e^{z_j(x)}\Big)^2$$

    It pushes the router's logits toward small magnitudes, where the exponentials of the
    softmax lose less to round-off in low precision; softmax is shift-invariant, so the routing
    itself need not change. Multiply by its coefficient (ST-MoE: $10^{-3}$).

    Args:
        router_logits: the router's scores for every token and expert.
        mask: optional `True` for real tokens.

    Shape:
        - router_logits: `[T, N]`, float
        - mask: `[T]`, bool
        - output: scalar (0 when no token is valid)

    Example:
        >>> router_z_loss(torch.zeros(3, 4))  # (log 4)^2
        tensor(1.9218)
    """
    valid = _router_inputs(router_logits, mask)
    check_finite("router_logits", router_logits, always=False)
    dtype = torch.promote_types(router_logits.dtype, torch.float32)
    z = torch.logsumexp(router_logits.to(dtype), dim=-1)
    return masked_reduce(z.square(), valid, "mean")

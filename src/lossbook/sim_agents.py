r"""Autoregressive sim agents: motion as tokens (a vocabulary of per-step displacements,
tokenisation with and without rolling matching, detokenisation) and the drift of a closed-loop
rollout from the log."""

from __future__ import annotations

import torch

from ._checks import check_device, check_finite, check_number, check_shapes, check_tensor, has_values

__all__ = ["delta_vocab", "tokenize_deltas", "detokenize", "rollout_drift"]


def delta_vocab(
    max_delta: float,
    bins: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""A uniform grid of per-step displacements: the simplest motion vocabulary.

    $$\mathcal V = \{(\delta_i, \delta_j)\}_{i, j = 0}^{n-1},\qquad
      \delta_i = -\Delta + \frac{2\Delta\, i}{n - 1}$$

    with $\Delta$ = `max_delta` and $n$ = `bins`: $n^2$ tokens, row-major (the $x$ displacement
    changes slowest). An odd `bins` puts the zero displacement (standing still) in the vocabulary.

    Args:
        max_delta: $\Delta > 0$, the largest displacement per step on each axis.
        bins: $n \ge 2$ values per axis.
        dtype: floating dtype of the vocabulary.
        device: device of the vocabulary (the CPU by default).

    Shape:
        - output: `[bins * bins, 2]`

    Example:
        >>> delta_vocab(1.0, 3)[:4]
        tensor([[-1., -1.],
                [-1.,  0.],
                [-1.,  1.],
                [ 0., -1.]])
    """
    check_number("max_delta", max_delta, low=0.0, low_inclusive=False)
    if isinstance(bins, bool) or not isinstance(bins, int):
        raise TypeError(f"bins: expected an int number of values per axis, got {type(bins).__name__}")
    if bins < 2:
        raise ValueError(f"bins: expected at least 2 values per axis, got {bins}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating torch.dtype, got {dtype!r}")
    axis = torch.linspace(-max_delta, max_delta, bins, dtype=torch.float64, device=device)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    return grid.to(dtype)


def _check_vocab(vocab: object, ref_name: str, ref: torch.Tensor) -> torch.Tensor:
    check_tensor("vocab", vocab, kind="float")
    check_shapes(vocab=(vocab, "V 2"))
    check_device("vocab", vocab, ref_name, ref)
    if vocab.shape[0] == 0:
        raise ValueError(f"vocab: expected at least one token [V, 2], got shape {list(vocab.shape)}")
    check_finite("vocab", vocab)
    return vocab


def _nearest(d: torch.Tensor, vocab: torch.Tensor) -> torch.Tensor:
    """Index of the vocabulary entry nearest to each displacement ``d[..., 2]``."""
    return (d.unsqueeze(-2) - vocab).square().sum(-1).argmin(-1)


def tokenize_deltas(
    xy: torch.Tensor, vocab: torch.Tensor, *, rolling: bool = True
) -> torch.Tensor:
    r"""Tokens of a trajectory: at each step, the vocabulary displacement nearest to the motion.

    With rolling matching (the default), the displacement to match starts from the position the
    tokens so far *reconstruct*, not from the logged one:

    $$\hat x_0 = x_0,\qquad k_t = \arg\min_k \big\lVert x_{t+1} - \hat x_t - v_k \big\rVert,
      \qquad \hat x_{t+1} = \hat x_t + v_{k_t}$$

    so the reconstruction error stays within one step's quantisation error instead of adding
    up (as long as every logged step lies inside the vocabulary's range). With `rolling=False`, each logged displacement $x_{t+1} - x_t$ is quantised on its
    own, and the errors of the steps accumulate in `detokenize`.

    Args:
        xy: positions, the start included: `xy[:, 0]` is where the agent is before the
            first token.
        vocab: the displacements $v_k$ (e.g. `delta_vocab`, or k-disks centres).
        rolling: match against the reconstructed position (True) or the logged one (False).

    Shape:
        - xy: `[B, T + 1, 2]`
        - vocab: `[V, 2]`
        - output: `[B, T]`, int64, in `[0, V)`

    Example:
        >>> vocab = delta_vocab(1.0, 3)                      # steps of -1, 0 or +1 per axis
        >>> xy = torch.tensor([[[0.0, 0.0], [0.6, 0.0], [1.2, 0.0], [1.8, 0.0]]])
        >>> tokenize_deltas(xy, vocab)                       # 0.6 ends at 1, then 0, then 1 (2.0)
        tensor([[7, 4, 7]])
        >>> tokenize_deltas(xy, vocab, rolling=False)        # +1 every time: ends at 3.0
        tensor([[7, 7, 7]])
    """
    check_tensor("xy", xy, kind="float")
    check_shapes(xy=(xy, "B T 2"))
    if xy.shape[1] < 2:
        raise ValueError(
            f"xy: expected at least 2 positions per agent [B, T + 1, 2] (a start and one step),"
            f" got shape {list(xy.shape)}"
        )
    _check_vocab(vocab, "xy", xy)
    if not isinstance(rolling, bool):
        raise TypeError(f"rolling: expected a bool, got {type(rolling).__name__}")
    check_finite("xy", xy, always=False)
    v = vocab.to(xy.dtype)
    if not rolling:
        return _nearest(xy[:, 1:] - xy[:, :-1], v)
    cur = xy[:, 0]
    tokens = []
    for t in range(1, xy.shape[1]):
        k = _nearest(xy[:, t] - cur, v)
        cur = cur + v[k]
        tokens.append(k)
    return torch.stack(tokens, dim=1)


def detokenize(tokens: torch.Tensor, vocab: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    r"""Positions from tokens: the start, then the running sum of the tokens' displacements.

    $$\hat x_0 = x_0,\qquad \hat x_{t} = x_0 + \sum_{s < t} v_{k_s}$$

    Args:
        tokens: indices into `vocab`.
        vocab: the displacements $v_k$.
        start: each agent's position before the first token.

    Shape:
        - tokens: `[B, T]`, integer, in `[0, V)`
        - vocab: `[V, 2]`
        - start: `[B, 2]`
        - output: `[B, T + 1, 2]`, in the dtype of `start` (the start included, like the `xy`
          of `tokenize_deltas`)

    Example:
        >>> vocab = delta_vocab(1.0, 3)
        >>> detokenize(torch.tensor([[7, 4, 7]]), vocab, torch.tensor([[10.0, 5.0]]))
        tensor([[[10.,  5.],
                 [11.,  5.],
                 [11.,  5.],
                 [12.,  5.]]])
    """
    check_tensor("tokens", tokens, kind="int")
    check_tensor("start", start, kind="float")
    check_shapes(tokens=(tokens, "B T"), start=(start, "B 2"))
    _check_vocab(vocab, "tokens", tokens)
    V = vocab.shape[0]
    if has_values(tokens) and tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= V):
        bad = tokens[(tokens < 0) | (tokens >= V)][0].item()
        raise ValueError(f"tokens: expected indices in [0, {V - 1}] (V = {V}), got {bad}")
    check_finite("start", start, always=False)
    steps = vocab.to(start.dtype)[tokens].cumsum(dim=1)
    return torch.cat([start.unsqueeze(1), start.unsqueeze(1) + steps], dim=1)


def rollout_drift(
    rollout: torch.Tensor, log: torch.Tensor, *, mask: torch.Tensor | None = None
) -> torch.Tensor:
    r"""How far a rollout has drifted from the log at each step, averaged over the agents.

    $$d_t = \frac{\sum_b m_{b,t}\,\lVert \hat x_{b,t} - x_{b,t} \rVert_2}{\sum_b m_{b,t}}$$

    Plotted against $t$, a one-step (teacher-forced) model gives a flat curve at its one-step
    error; a closed-loop rollout of the same model gives a curve that grows when its errors
    compound. A step where no agent is valid gives 0.

    Args:
        rollout: simulated positions (any number of coordinates $D$).
        log: logged positions.
        mask: valid steps (bool); `None` means all valid.

    Shape:
        - rollout, log: `[B, T, D]`
        - mask: `[B, T]`
        - output: `[T]`

    Example:
        >>> log = torch.zeros(2, 3, 2)
        >>> rollout = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]],
        ...                         [[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]]])
        >>> rollout_drift(rollout, log)                      # (5 + 1) / 2 and (10 + 2) / 2
        tensor([0., 3., 6.])
    """
    check_tensor("rollout", rollout, kind="float")
    check_tensor("log", log, kind="float")
    check_shapes(nonempty="B", rollout=(rollout, "B T D"), log=(log, "B T D"))
    check_finite("rollout", rollout, always=False)
    check_finite("log", log, always=False)
    dist = torch.linalg.vector_norm(rollout - log, dim=-1)  # gradient 0, not NaN, at 0
    if mask is None:
        return dist.mean(0)
    check_tensor("mask", mask, kind="bool")
    check_shapes(rollout=(rollout, "B T *"), mask=(mask, "B T"))
    m = mask.to(dist.dtype)
    return (dist * m).sum(0) / m.sum(0).clamp(min=1)

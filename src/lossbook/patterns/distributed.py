"""Gradient accumulation and data parallelism with global normalisation; a 2-process DDP demo."""

from __future__ import annotations

import contextlib
import copy
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
from torch import nn

from .._checks import check_choice, check_number, check_tensor
from .interface import LossFunction
from .losses import NLLLoss
from .normalisation import _sample_mask, _valid_tokens, global_valid_counts, slice_batch

__all__ = [
    "DDPDemoResult",
    "accumulate_microbatches",
    "data_parallel_backward",
    "ddp_demo",
]


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
    total = torch.zeros((), dtype=inputs.dtype, device=inputs.device)
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
       the same: `loss = result * dp_size * cp_size` in `automodel_forward_backward`,
       nemo_rl/models/automodel/train.py at commit 7ea279a);
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
                                world_size=world_size, timeout=timedelta(seconds=300))
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
    world_size: int = 2, *, num_microbatches: int = 2, seed: int = 0, timeout: float = 300.0
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

    Memoised per `(world_size, num_microbatches, seed)` within the process, like the toy models
    of the diffusion lessons: the processes start once (each imports torch and DDP: seconds of
    CPU), and a later call with the same arguments returns a copy of that run's result.

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
    key = (world_size, num_microbatches, seed)
    if key not in _DEMO_RUNS:
        _DEMO_RUNS[key] = _run_ddp_demo(world_size, num_microbatches, seed, timeout)
    return copy.deepcopy(_DEMO_RUNS[key])


_DEMO_RUNS: dict[tuple[int, int, int], DDPDemoResult] = {}


def _run_ddp_demo(world_size: int, num_microbatches: int, seed: int, timeout: float) -> DDPDemoResult:
    """Spawn the ranks, compute the single-process reference, collect and compare (validated
    arguments)."""
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
        deadline = time.monotonic() + 0.2
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
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

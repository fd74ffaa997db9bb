"""Benchmark helpers: interleaved timing of an implementation against its reference, in one run.

Ratios, not absolute times, are the targets: both sides run in the same process, alternately, so
machine noise hits them alike. Peak memory is measured in a fresh child process per side.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch


@dataclass
class Result:
    name: str
    ours: str
    reference: str
    ours_ms: float
    reference_ms: float
    ratio: float  # ours / reference time: lower is better
    target: float  # the ratio we promise not to exceed
    ours_peak_mb: float | None = None
    reference_peak_mb: float | None = None

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target

    def as_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


def forward_backward(fn: Callable[..., torch.Tensor], make_inputs: Callable[[], tuple]) -> Callable[[], None]:
    """A closure that runs ``fn`` forward and backward on fresh-grad copies of the inputs."""
    inputs = make_inputs()

    def step():
        for x in inputs:
            if isinstance(x, torch.Tensor) and x.requires_grad:
                x.grad = None
        out = fn(*inputs)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.backward()

    return step


def time_pair(ours: Callable[[], None], reference: Callable[[], None], *, repeats: int = 15) -> tuple[float, float]:
    """Median seconds of each, measured alternately after a warm-up."""
    for f in (ours, reference, ours, reference):
        f()
    a, b = [], []
    for _ in range(repeats):
        for f, sink in ((ours, a), (reference, b)):
            start = time.perf_counter()
            f()
            sink.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def _rss_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def _peak_child(build, queue):
    step = build()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    base = _rss_kb("VmRSS:")
    step()
    queue.put((_rss_kb("VmHWM:") - base) / 1024.0)


def peak_mb(build: Callable[[], Callable[[], None]]) -> float:
    """Extra peak resident memory (MB) of one call, in a fresh process (``build`` must pickle)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_peak_child, args=(build, queue))
    process.start()
    value = queue.get(timeout=600)
    process.join()
    return value


@dataclass
class Case:
    """One comparison. ``build_*`` are module-level functions returning a no-argument step."""

    name: str
    ours: str
    reference: str
    build_ours: Callable[[], Callable[[], None]]
    build_reference: Callable[[], Callable[[], None]]
    target: float
    memory: bool = True

    def run(self, *, repeats: int = 15) -> Result:
        ours_s, ref_s = time_pair(self.build_ours(), self.build_reference(), repeats=repeats)
        result = Result(self.name, self.ours, self.reference, ours_s * 1e3, ref_s * 1e3,
                        ours_s / ref_s, self.target)
        if self.memory:
            result.ours_peak_mb = peak_mb(self.build_ours)
            result.reference_peak_mb = peak_mb(self.build_reference)
        return result

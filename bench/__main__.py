"""``make bench``: every ``bench/bench_*.py`` module's CASES, timed against their references.

Prints a table and writes ``bench/results.json`` (the machine, the date and every ratio). Exits 1
when a ratio misses its target, so a regression is loud.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def steady_allocator() -> bool:
    """Keep freed memory in the heap (glibc): without this every large tensor is a fresh mmap,
    and first-touch page faults (zeroing 32 MB per allocation) swing a timing by 3-4x depending
    on what ran before. Both sides of every ratio run under the same setting."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to do
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)) and bool(
        libc.mallopt(m_trim_threshold, 1 << 30)
    )


def merge(published: dict, run: dict) -> dict:
    """``published`` with the cases of ``run`` replaced (matched by name), each stamped with the
    run's time and platform; a case new to ``published`` is appended. The run must match the
    published settings (processor, CPUs, Python, torch, threads, allocator), or its ratios would
    not compare with the others."""
    keys = ("processor", "cpus", "python", "torch", "threads", "steady_allocator")
    old, new = published.get("machine", {}), run["machine"]
    differ = [k for k in keys if old.get(k) != new.get(k)]
    if differ:
        raise SystemExit(f"--update: this run's machine differs from the published one in {differ}:"
                         " run the whole `make bench` instead")
    stamp = {"measured_at": run["measured_at"], "platform": new.get("platform")}
    fresh = {r["name"]: r | stamp for r in run["results"]}
    results = [fresh.pop(r["name"], r) for r in published["results"]] + list(fresh.values())
    return published | {"results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--output", type=Path, default=None,
        help="where to write the results (default: bench/results.json for a full run; a run"
        " filtered with -k writes nothing unless --output is given, so it cannot replace the"
        " published results with a subset)",
    )
    parser.add_argument(
        "--update", action="store_true",
        help="with -k: replace the matching cases in bench/results.json with this run's results"
        " (each stamped with its own measured_at), keeping the other cases as they were",
    )
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch intra-op threads (default 1: on a shared machine, multi-threaded kernels"
        " stall whenever another process holds a core, and the ratios become noise)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steady = steady_allocator()
    torch.manual_seed(0)
    results = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(f"bench.{path.stem}")
        for case in module.CASES:
            if args.k in case.name:
                result = case.run(repeats=args.repeats)
                results.append(result)
                mem = ""
                if result.ours_peak_mb is not None:
                    mem = f"  peak {result.ours_peak_mb:7.1f} MB vs {result.reference_peak_mb:7.1f} MB"
                print(
                    f"{'ok  ' if result.ok else 'MISS'} {case.name:<42} {result.ours_ms:9.2f} ms vs"
                    f" {result.reference_ms:9.2f} ms  ratio {result.ratio:5.2f}"
                    f" (target <= {case.target:.2f}){mem}",
                    flush=True,
                )
    output = args.output or (None if args.k and not args.update else HERE / "results.json")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report = {
        "measured_at": now,
        "machine": machine() | {"steady_allocator": steady},
        "results": [r.as_dict() for r in results],
    }
    if args.update and args.k:
        report = merge(json.loads(output.read_text(encoding="utf-8")), report)
    if output is not None:
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {output}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

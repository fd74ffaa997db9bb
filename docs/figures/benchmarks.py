"""Figure of the Benchmarks page, drawn from the last ``make bench`` run (bench/results.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

RESULTS = Path(__file__).resolve().parent.parent.parent / "bench" / "results.json"
OK, MISS, NEUTRAL = "#2e7d32", "#c62828", "#78909c"


def load_results(path: Path = RESULTS) -> list[dict]:
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8")).get("results", [])


def figure_benchmark_ratios(results: list[dict] | None = None, *, phone: bool = False):
    """Time ratio (ours / reference, log scale) of every case with its target, and peak memory.

    ``phone=True``: the variant for narrow screens (docs/hooks/figures.py asks for it), one
    column: each case's name over its bar, its peak memory in words after the name.
    """
    results = load_results() if results is None else results
    if results and phone:
        return _phone_ratios(results)
    if not results:
        figure, axis = plt.subplots(figsize=(7, 1.5))
        axis.axis("off")
        axis.text(0.5, 0.5, "No benchmark results yet: run `make bench`.", ha="center", va="center")
        return figure
    names = [r["name"] for r in results]
    rows = range(len(results))[::-1]  # first case on top
    has_memory = any(r.get("ours_peak_mb") is not None for r in results)
    figure, axes = plt.subplots(
        1, 2 if has_memory else 1, figsize=(11 if has_memory else 8, 0.45 * len(results) + 1.8),
        sharey=True, gridspec_kw={"width_ratios": [3, 2]} if has_memory else None, squeeze=False)
    ratio_axis = axes[0][0]
    ratio_axis.barh(list(rows), [r["ratio"] for r in results], color=[_colour(r) for r in results], height=0.6)
    for y, r in zip(rows, results, strict=True):
        target = r.get("target")
        if target is not None and not math.isinf(target):
            ratio_axis.plot([target, target], [y - 0.4, y + 0.4], color="black", linewidth=2)
        ratio_axis.annotate(f"{r['ratio']:.2f}", (_label_x(r), y), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=9)
    ratio_axis.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ratio_axis.set_xscale("log")
    low = min(min(r["ratio"] for r in results), 0.5) / 1.5
    high = max(max(r["ratio"] for r in results), 2.0) * 2.5
    ratio_axis.set_xlim(low, high)
    ticks = [t for t in (0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 10, 30, 100) if low <= t <= high]
    ratio_axis.xaxis.set_major_locator(FixedLocator(ticks))
    ratio_axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ratio_axis.xaxis.set_minor_formatter(NullFormatter())
    ratio_axis.set_yticks(list(rows), names)
    ratio_axis.set_xlabel("time ratio, ours / reference\n(log scale; < 1 is faster; black tick: target)")
    if has_memory:
        memory_axis = axes[0][1]
        ours = [r.get("ours_peak_mb") or 0.0 for r in results]
        reference = [r.get("reference_peak_mb") or 0.0 for r in results]
        memory_axis.barh([y + 0.17 for y in rows], ours, height=0.34, color="#3949ab", label="ours")
        memory_axis.barh([y - 0.17 for y in rows], reference, height=0.34, color="#bdbdbd", label="reference")
        for y, r in zip(rows, results, strict=True):
            if r.get("ours_peak_mb") is None:
                memory_axis.text(0, y, "  not measured", va="center", fontsize=9, color=NEUTRAL)
        memory_axis.set_xlabel("extra peak memory\nof one step (MB)")
        memory_axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=9, frameon=False)
    figure.tight_layout()
    return figure


def _label_x(result: dict) -> float:
    """Where a bar's value is written: after the bar, or after its target tick if that is further."""
    target = result.get("target")
    if target is None or math.isinf(target):
        return result["ratio"]
    return max(result["ratio"], target)


def _colour(result: dict) -> str:
    target = result.get("target")
    if target is None or math.isinf(target):
        return NEUTRAL
    return OK if result["ratio"] <= target else MISS


def _phone_ratios(results: list[dict]):
    rows = range(len(results))[::-1]  # first case on top
    figure, axis = plt.subplots(figsize=(5, 0.52 * len(results) + 1.2))
    axis.barh([y - 0.12 for y in rows], [r["ratio"] for r in results], color=[_colour(r) for r in results],
              height=0.36)
    low = min(min(r["ratio"] for r in results), 0.5) / 1.5
    high = max(max(r["ratio"] for r in results), 2.0) * 2.5
    for y, r in zip(rows, results, strict=True):
        target = r.get("target")
        if target is not None and not math.isinf(target):
            axis.plot([target, target], [y - 0.34, y + 0.1], color="black", linewidth=2)
        memory = ""
        if r.get("ours_peak_mb") is not None:
            memory = f"  ({r['ours_peak_mb']:.0f} / {r.get('reference_peak_mb') or 0:.0f} MB)"
        axis.text(low * 1.04, y + 0.14, r["name"] + memory, fontsize=10, va="bottom")
        axis.annotate(f"{r['ratio']:.2f}", (_label_x(r), y - 0.12), xytext=(4, 0), textcoords="offset points",
                      va="center", fontsize=10)
    axis.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlim(low, high)
    ticks = [t for t in (0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 10, 30, 100) if low <= t <= high]
    axis.xaxis.set_major_locator(FixedLocator(ticks))
    axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_yticks([])
    axis.set_ylim(-0.6, len(results) - 0.3)
    axis.spines["left"].set_visible(False)
    axis.set_xlabel("time ratio, ours / reference (log scale;\n< 1 is faster; black tick: target);"
                    " in brackets:\nextra peak memory, ours / reference")
    figure.tight_layout()
    return figure

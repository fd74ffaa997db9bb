"""The Benchmarks page shows the last ``make bench`` run: the table, the figure, when and where.

The hook (docs/hooks/benchmarks.py) and the figure (docs/figures/benchmarks.py) are checked on
made-up results, where every value is known, and the built page against bench/results.json.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _module(ROOT / "docs" / "hooks" / "benchmarks.py", "lossbook_hook_benchmarks")


@functools.cache
def _figures():
    """The figure module, loaded by the figure tests only (it imports matplotlib.pyplot: about
    a second that every test process would otherwise pay at collection)."""
    return _module(ROOT / "docs" / "figures" / "benchmarks.py", "lossbook_figures_benchmarks_test")

FAKE = {
    "measured_at": "2026-01-02T03:04:05+00:00",
    "machine": {"platform": "Linux-test-x86_64", "processor": "x86_64", "cpus": 2, "python": "3.11.7",
                "torch": "2.13.0+cpu", "threads": 2},
    "results": [
        {"name": "fast B=8", "ours": "lossbook.fast", "reference": "F.fast", "ours_ms": 1.234,
         "reference_ms": 2.468, "ratio": 0.5, "target": 1.1, "ours_peak_mb": 10.0,
         "reference_peak_mb": 20.0, "ok": True},
        {"name": "slow | B=8", "ours": "lossbook.slow", "reference": "F.slow", "ours_ms": 30.0,
         "reference_ms": 20.0, "ratio": 1.5, "target": 1.2, "ours_peak_mb": None,
         "reference_peak_mb": None, "ok": False},
        {"name": "naive", "ours": "textbook", "reference": "F.ref", "ours_ms": 3.0, "reference_ms": 1.0,
         "ratio": 3.0, "target": math.inf, "ours_peak_mb": None, "reference_peak_mb": None, "ok": True},
    ],
}


def _rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def test_table_has_one_row_a_case_with_its_numbers_and_verdict():
    rows = _rows(hook.table(FAKE))
    assert len(rows) == 3
    fast, slow, naive = rows
    # the verdict next to the ratio: on a narrow screen it is not scrolled out of sight
    assert fast == ["fast B=8", "**0.50**", "≤ 1.10", "✓ met",
                    '<code class="lossbook-identifier">lossbook.<wbr>fast</code> vs'
                    ' <code class="lossbook-identifier">F.<wbr>fast</code>', "1.23 / 2.47", "10.0 / 20.0"]
    assert slow[0] == "slow / B=8"  # a pipe in a name must not split the row
    assert slow[1:4] == ["**1.50**", "≤ 1.20", "✗ missed"] and slow[6] == "—"
    assert naive[1:4] == ["**3.00**", "—", "for comparison"]


def test_identifiers_break_only_between_words():
    shown = hook._identifier("lossbook.info_nce(symmetric=True) | x")
    assert shown == ('<code class="lossbook-identifier">lossbook.<wbr>info_<wbr>nce<wbr>(symmetric=True)'
                     ' &#124; x</code>')


def test_measured_says_when_and_on_what_machine():
    text = hook.measured(FAKE)
    assert "2026-01-02 03:04 UTC" in text and "Linux-test-x86_64" in text
    assert "2 CPUs" in text and "torch 2.13.0+cpu" in text and "Python 3.11.7" in text
    assert "2 torch threads" in text and "Re-measured" not in text
    one = hook.measured(FAKE | {"machine": FAKE["machine"] | {"threads": 1}})
    assert "1 torch thread)" in one


def test_a_case_rerun_alone_is_dated_on_the_page():
    again = dict(FAKE["results"][0], measured_at="2026-02-03T04:05:06+00:00")
    text = hook.measured(FAKE | {"results": [again, *FAKE["results"][1:]]})
    assert "Re-measured" in text and "`fast B=8` on 2026-02-03 04:05 UTC" in text
    assert "slow" not in text.split("Re-measured")[1]


def test_missing_results_say_which_command_makes_them():
    assert "make bench" in hook.measured(None) and "make bench" in hook.table(None)
    assert "make bench-site" in hook.site_table(None)
    page = "a <!-- bench:measured --> b <!-- bench:table --> c <!-- bench:site -->"
    assert "<!--" not in hook.render(page, FAKE, None)


def test_site_table_lists_every_page_and_flags_a_heavy_lesson():
    site = {"measured_at": "2026-01-02T03:04:05+00:00", "machine": {"cpus": 2, "chromium": "156"},
            "load_average": 1.0, "targets": {"build_s": 15, "make_test_s": 180, "lesson_kb": 300},
            "build": {"seconds": 9.5, "cpu_seconds": 8.0, "ok": True},
            "make_test": {"seconds": 150.0, "summary": "1 passed", "ok": True},
            "pages": [{"page": "a/", "lesson": True, "kb_transferred": 120.0, "kb_uncompressed": 400.0,
                       "requests": 9, "load_ms": 321.0, "ok": True},
                      {"page": "b/", "lesson": True, "kb_transferred": 420.0, "kb_uncompressed": 900.0,
                       "requests": 12, "load_ms": 500.0, "ok": False}]}
    text = hook.site_table(site)
    assert "9.5 s" in text and "150 s" in text
    rows = _rows(text)
    assert rows[0] == ["a/", "120.0", "400.0", "9", "321", "✓"]
    assert rows[1][-1] == "✗ over"


def test_figure_draws_one_ratio_bar_a_case_coloured_by_verdict():
    figures = _figures()
    figure = figures.figure_benchmark_ratios(FAKE["results"])
    ratio_axis = figure.axes[0]
    bars = ratio_axis.patches
    assert [round(b.get_width(), 6) for b in bars] == [0.5, 1.5, 3.0]
    colours = [b.get_facecolor()[:3] for b in bars]
    from matplotlib.colors import to_rgb
    assert colours == [to_rgb(figures.OK), to_rgb(figures.MISS), to_rgb(figures.NEUTRAL)]
    labels = dict(zip(ratio_axis.get_yticks(), (t.get_text() for t in ratio_axis.get_yticklabels()), strict=True))
    assert [labels[y] for y in sorted(labels, reverse=True)] == ["fast B=8", "slow | B=8", "naive"]  # top down
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_built_page_shows_the_last_run(built_site):
    site, _ = built_site
    page = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "<!-- bench:" not in page and 'src="../figures/benchmark_ratios.svg"' in page
    if not RESULTS.exists():
        assert "make bench" in page
        return
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    if not results["results"]:
        assert "No benchmark results" in text
        return
    assert hook._when(results["measured_at"]) in text
    assert results["machine"]["platform"] in text
    for r in results["results"]:
        assert r["name"].replace("|", "/") in text, r["name"]
        assert f"{r['ratio']:.2f}" in text
    rows = re.findall(r"<tr>.*?</tr>", page, re.DOTALL)
    assert len(rows) - 1 >= len(results["results"])  # header row + one a case (+ the site table)


def test_update_replaces_only_the_rerun_case():
    from bench.__main__ import merge

    run = {"measured_at": "2026-02-03T04:05:06+00:00", "machine": FAKE["machine"] | {"platform": "other"},
           "results": [dict(FAKE["results"][1], ratio=1.0, ok=True)]}
    merged = merge(FAKE, run)
    assert merged["measured_at"] == FAKE["measured_at"] and merged["machine"] == FAKE["machine"]
    assert [r["name"] for r in merged["results"]] == [r["name"] for r in FAKE["results"]]  # order kept
    assert merged["results"][0] == FAKE["results"][0] and merged["results"][2] == FAKE["results"][2]
    assert merged["results"][1]["ratio"] == 1.0
    assert merged["results"][1]["measured_at"] == run["measured_at"]
    assert merged["results"][1]["platform"] == "other"
    with pytest.raises(SystemExit, match="threads"):
        merge(FAKE, run | {"machine": run["machine"] | {"threads": 4}})


def test_phone_figure_names_each_case_over_its_bar():
    figure = _figures().figure_benchmark_ratios(FAKE["results"], phone=True)
    (axis,) = figure.axes  # one column: no second panel squeezed beside the first
    assert [round(b.get_width(), 6) for b in axis.patches] == [0.5, 1.5, 3.0]
    texts = [t.get_text() for t in axis.texts]
    assert "fast B=8  (10 / 20 MB)" in texts and "slow | B=8" in texts and "naive" in texts
    assert figure.get_figwidth() <= 5
    import matplotlib.pyplot as plt
    plt.close(figure)

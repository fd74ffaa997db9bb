"""Render the latest benchmark results into the Benchmarks page at build time.

``make bench`` writes ``bench/results.json`` and ``make bench-site`` writes ``bench/site.json``;
a page places them with HTML comments, which this hook replaces before Markdown is rendered:

- ``<!-- bench:measured -->``: when and on what machine ``bench/results.json`` was measured;
- ``<!-- bench:table -->``: one row a comparison (ratio, target and verdict first, then what is
  compared, the times and the peak memory);
- ``<!-- bench:site -->``: the site's build time and page weights from ``bench/site.json``.

So the page always shows the last run: nothing is copied by hand. A missing file renders as a
note saying which command makes it.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results.json"
SITE = ROOT / "bench" / "site.json"
MARKERS = ("<!-- bench:measured -->", "<!-- bench:table -->", "<!-- bench:site -->")


def _read(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _when(stamp: str) -> str:
    moment = datetime.datetime.fromisoformat(stamp).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _target(value: float | None) -> str:
    return "—" if value is None or math.isinf(value) else f"≤ {value:.2f}"


def _code(text: str) -> str:
    return "`" + text.replace("`", "").replace("|", "\\|") + "`"


def _breakable(text: str) -> str:
    """Plain text that may break after an underscore (``<wbr>``), as a long snake_case name must
    to fit a narrow column."""
    return re.sub(r"(?<=_)(?=\S)", "<wbr>", html.escape(text))


def _identifier(text: str) -> str:
    """Inline code that a narrow column may break only after a dot, an underscore or a comma, or
    before a parenthesis (``<wbr>``), never inside a word ("F.cross_e ntropy")."""
    escaped = html.escape(text.replace("`", "")).replace("|", "&#124;")
    breakable = re.sub(r"(?<=[._,])(?=\S)|(?=\()", "<wbr>", escaped)
    return f'<code class="lossbook-identifier">{breakable}</code>'


def measured(results: dict | None) -> str:
    if results is None:
        return '!!! note "No results yet"\n    Run `make bench` to measure and fill this page.'
    m = results.get("machine", {})
    threads = ""
    if m.get("threads"):
        threads = f", {m['threads']} torch thread{'' if m['threads'] == 1 else 's'}"
    text = (
        f"Measured on **{_when(results['measured_at'])}** on {m.get('platform', 'an unknown machine')}"
        f" ({m.get('processor', '?')}, {m.get('cpus', '?')} CPUs{threads}), Python {m.get('python', '?')},"
        f" torch {m.get('torch', '?')}. Times are forward plus backward on CPU."
    )
    again = [r for r in results.get("results", []) if r.get("measured_at")]
    if again:  # cases re-run alone with `python -m bench -k NAME --update`
        cases = "; ".join(f"{_code(r['name'])} on {_when(r['measured_at'])}" for r in again)
        text += (f" Re-measured since, alone, with the same settings"
                 f" (`python -m bench -k NAME --update`): {cases}.")
    return text


def table(results: dict | None) -> str:
    if results is None or not results.get("results"):
        return "*No benchmark results: run `make bench`.*"
    rows = [
        "| Case | Ratio | Target | Verdict | Ours vs reference | ms, ours / reference | Peak MB, ours / reference |",
        "|---|--:|--:|:-:|---|--:|--:|",
    ]
    for r in results["results"]:
        target = r.get("target")
        has_target = target is not None and not math.isinf(target)
        verdict = ("✓ met" if r["ratio"] <= target else "✗ missed") if has_target else "for comparison"
        memory = "—" if r.get("ours_peak_mb") is None else f"{_mb(r['ours_peak_mb'])} / {_mb(r.get('reference_peak_mb'))}"
        rows.append(
            f"| {_breakable(r['name'].replace('|', '/'))} | **{r['ratio']:.2f}** | {_target(target)} | {verdict}"
            f" | {_identifier(r['ours'])} vs {_identifier(r['reference'])} | {_ms(r['ours_ms'])} / {_ms(r['reference_ms'])}"
            f" | {memory} |"
        )
    return '<div class="lossbook-bench-table" markdown>\n\n' + "\n".join(rows) + "\n\n</div>"


def site_table(site: dict | None) -> str:
    if site is None:
        return "*No site measurements: run `make bench-site`.*"
    targets = site.get("targets", {})
    build = site["build"]
    lines = [
        f"Measured on **{_when(site['measured_at'])}** ({site['machine'].get('cpus', '?')} CPUs,"
        f" load average {site.get('load_average', '?')}, Chromium {site['machine'].get('chromium', '?')}):"
        f" `mkdocs build --strict` took **{build['seconds']:.1f} s** wall"
        + (f" ({build['cpu_seconds']:.1f} s CPU)" if "cpu_seconds" in build else "")
        + f", target ≤ {targets.get('build_s', 15):.0f} s."
    ]
    if site.get("make_test"):
        mt = site["make_test"]
        lines[0] += f" `make test` took **{mt['seconds']:.0f} s**, target ≤ {targets.get('make_test_s', 180):.0f} s."
    lines += [
        "",
        "| Page | Transferred (KB, gzip) | Uncompressed (KB) | Requests | Load (ms) | |",
        "|---|--:|--:|--:|--:|:-:|",
    ]
    for p in site["pages"]:
        verdict = {True: "✓", False: "✗ over", None: ""}[p.get("ok")]
        lines.append(f"| {p['page']} | {p['kb_transferred']:.1f} | {p['kb_uncompressed']:.1f} | {p['requests']}"
                     f" | {p['load_ms']:.0f} | {verdict} |")
    lines.append("")
    lines.append(f"Lesson pages must stay under {targets.get('lesson_kb', 300):.0f} KB transferred"
                 " (search index excluded: it loads once, for search).")
    return "\n".join(lines)


def render(markdown: str, results: dict | None, site: dict | None) -> str:
    return (markdown.replace(MARKERS[0], measured(results))
            .replace(MARKERS[1], table(results))
            .replace(MARKERS[2], site_table(site)))


def on_page_markdown(markdown, page, config, files):
    if not any(marker in markdown for marker in MARKERS):
        return markdown
    return render(markdown, _read(RESULTS), _read(SITE))


def on_serve(server, config, builder):
    for path in (RESULTS, SITE):
        if path.exists():
            server.watch(str(path))
    return server

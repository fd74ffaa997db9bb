"""``make bench-site``: how fast the site builds and how heavy and fast its pages are.

Measures, on this machine:

- the full ``mkdocs build --strict`` (wall time, one cold run into a fresh folder);
- with ``--make-test``, the whole ``make test`` (wall time; slow: it runs the whole suite);
- for every page of the built site, served on 127.0.0.1 by a static server that gzips text as
  any real static host does (GitHub Pages included): the bytes transferred (compressed bodies
  plus headers, every request the page makes, the search index excluded) and the time to load
  (navigation start to the end of the load event) in headless Chromium with a cold cache, the
  median of a few loads.

Targets: build <= 15 s, ``make test`` <= 180 s, a lesson page <= 300 KB. Prints a table, writes
``bench/site.json`` and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import http.server
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
TARGETS = {"build_s": 15.0, "make_test_s": 180.0, "lesson_kb": 300.0}
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
COMPRESSIBLE = (".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map")
EXCLUDED = ("/search/search_index.json",)  # the search index: loaded once, for search


def timed(command: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command: (wall seconds, CPU seconds of it and its children, the result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def load_average() -> float:
    return os.getloadavg()[0]


def build(site: Path) -> tuple[float, float]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    wall, cpu, done = timed([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"mkdocs build failed:\n{done.stdout}{done.stderr}")
    return wall, cpu


def make_test() -> tuple[float, str]:
    seconds, _, done = timed(["make", "test"], timeout=3600)
    tail = (done.stdout + done.stderr).strip().splitlines()
    return seconds, (tail[-1] if tail else "") + ("" if done.returncode == 0 else f" (exit {done.returncode})")


class _GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; text gzipped when the browser accepts it, as a static host serves them."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".svg": "image/svg+xml", ".woff2": "font/woff2", ".js": "text/javascript"}

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (wants_gzip and path.is_file() and path.suffix in COMPRESSIBLE):
            return super().send_head()
        if path.suffix == ".html" and not self.path.split("?")[0].endswith(("/", ".html")):
            return super().send_head()  # let the base class redirect "dir" to "dir/"
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_GzipHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def lesson_sources() -> set[str]:
    """The Markdown files under the "Lessons" section of mkdocs.yml's nav."""
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as handle:
        config = yaml.load(handle, Loader=_Loader)

    def files(entry):
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, list):
            for item in entry:
                yield from files(item)
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from files(value)

    found = set()
    for entry in config.get("nav") or []:
        if isinstance(entry, dict) and "Lessons" in entry:
            found |= set(files(entry["Lessons"]))
    return found


class _Loader(yaml.SafeLoader):
    """mkdocs.yml has !!python/name tags (emoji settings): read them as plain strings."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)
_Loader.add_multi_constructor("!", lambda loader, suffix, node: suffix)


def page_url(source: str) -> str:
    stem = source.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def find_chromium() -> str | None:
    for name in (os.environ.get("LOSSBOOK_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


def measure_pages(site: Path, loads: int) -> tuple[list[dict], str]:
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (apt-get install chromium, or set LOSSBOOK_CHROMIUM)")
    lessons = {page_url(s) for s in lesson_sources()}
    urls = sorted(p.parent.relative_to(site).as_posix().removeprefix(".") for p in site.rglob("index.html"))
    urls = [u + "/" if u else "" for u in urls]
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_port}/"
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            version = browser.version
            for url in urls:
                weights, raw, times, counts = [], [], [], []
                for _ in range(loads):
                    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                                  service_workers="block")
                    page = context.new_page()
                    finished = []
                    page.on("requestfinished", lambda request, sink=finished: sink.append(request))
                    page.goto(base + url, wait_until="load")
                    page.wait_for_load_state("networkidle")
                    timing = page.evaluate(
                        "() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return n.loadEventEnd - n.startTime; }")
                    counted = [r for r in finished if not r.url.split("?")[0].endswith(EXCLUDED)]
                    sizes = [r.sizes() for r in counted]
                    weights.append(sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes))
                    raw.append(sum(len(r.response().body()) for r in counted if r.response()))
                    times.append(timing)
                    counts.append(len(counted))
                    context.close()
                kb = statistics.median(weights) / 1024
                lesson = url in lessons
                rows.append({
                    "page": url or "(home)",
                    "lesson": lesson,
                    "kb_transferred": round(kb, 1),
                    "kb_uncompressed": round(statistics.median(raw) / 1024, 1),
                    "requests": int(statistics.median(counts)),
                    "load_ms": round(statistics.median(times), 1),
                    "ok": (kb <= TARGETS["lesson_kb"]) if lesson else None,
                })
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return rows, version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--make-test", action="store_true", help="also time the whole `make test` (slow)")
    parser.add_argument("--loads", type=int, default=3, help="loads per page (the median is reported)")
    parser.add_argument("--output", type=Path, default=HERE / "site.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lossbook-site-") as folder:
        site = Path(folder) / "site"
        load_before = load_average()
        build_s, build_cpu = build(site)
        print(f"{'ok  ' if build_s <= TARGETS['build_s'] else 'MISS'} mkdocs build --strict"
              f"  {build_s:6.1f} s wall, {build_cpu:.1f} s CPU   (target <= {TARGETS['build_s']:.0f} s;"
              f" load average {load_before:.1f} on {os.cpu_count()} CPUs)", flush=True)
        rows, chromium = measure_pages(site, args.loads)

    print(f"\n{'page':<40} {'lesson':>6} {'KB sent':>8} {'KB raw':>8} {'requests':>8} {'load ms':>8}")
    for row in rows:
        mark = {True: "ok", False: "MISS", None: ""}[row["ok"]]
        print(f"{row['page']:<40} {'yes' if row['lesson'] else '':>6} {row['kb_transferred']:8.1f}"
              f" {row['kb_uncompressed']:8.1f} {row['requests']:8d} {row['load_ms']:8.1f}  {mark}")
    print(f"(KB sent: gzip as a static host serves it, headers included, search index excluded;"
          f" target for a lesson <= {TARGETS['lesson_kb']:.0f} KB)")

    make_test_result = None
    if args.make_test:
        seconds, summary = make_test()
        make_test_result = {"seconds": round(seconds, 1), "summary": summary,
                            "ok": seconds <= TARGETS["make_test_s"] and "exit" not in summary}
        print(f"\n{'ok  ' if make_test_result['ok'] else 'MISS'} make test  {seconds:6.1f} s"
              f"   (target <= {TARGETS['make_test_s']:.0f} s): {summary}")

    report = {
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "chromium": chromium},
        "targets": TARGETS,
        "load_average": round(load_before, 2),
        "build": {"seconds": round(build_s, 2), "cpu_seconds": round(build_cpu, 2),
                  "ok": build_s <= TARGETS["build_s"]},
        "make_test": make_test_result,
        "pages": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    missed = not report["build"]["ok"] or any(r["ok"] is False for r in rows)
    missed |= bool(make_test_result and not make_test_result["ok"])
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The site as readers see it: the built site served on 127.0.0.1 and driven in headless Chromium.

Every page of the built site is visited (parametrised over the pages, so a new lesson is covered
without touching this file) and must:

- load with zero console errors, zero uncaught exceptions, zero failed requests and zero requests
  to any other host (every request is routed: anything not for the local server is recorded and
  aborted);
- show its math rendered as MathML laid out by the browser (no raw ``$...$``, ``\\(``, ``\\[`` or
  LaTeX command left in the text) and its figures loaded (``naturalWidth > 0``);
- give every code block a copy button whose copied text (read back from the clipboard after a real
  click) equals the block as the docs tests run it; a few copied Python blocks of every page are
  run again in a subprocess, as a reader who pastes them would;
- switch its content tabs;
- lay out for its screen, at desktop (1280 px) and on a phone (390 x 844; the API reference in
  its desktop tab narrowed to 390 px): no page wider than the screen; no figure drawn under 55 % of its natural
  width (wide figures come with a phone variant the browser picks); everything that scrolls
  sideways (display equations, tables) shows a fade where more is hidden, which moves as it
  scrolls; no copy button over a line of code; checklists as task lists, not literal "[ ]"; on
  desktop no lesson equation wider than its column;
- (API reference) show every docstring example as a code block with its output, no blockquote.

Site-wide: search finds "focal" and lands on the Custom losses lesson, ranks that lesson first
for "focal loss" and finds "retinanet" next to punctuation; the table of contents highlights
the section a reader jumps to; dark mode toggles and persists, and instant navigation reaches
every page from the navigation without a full reload. Screenshots of every page but the API
reference, at desktop (1280 px) and phone (390 px) widths, and of one lesson in dark mode at
both widths, go to ``artifacts/screenshots/`` when LOSSBOOK_SCREENSHOTS=1 (tests/conftest.py).

The module skips, saying why, where Playwright for Python or a Chromium binary is missing (set
``LOSSBOOK_CHROMIUM`` to use another Chromium). ``LOSSBOOK_BROWSER_RUN_ALL=1`` runs every copied
Python block instead of the first and the last of each page.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from docs_pages import DOCS, FENCE, ROOT, collect, expand, mkdocs_config, pages


try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("Playwright for Python is not installed (pip install -e '.[test]'): "
                "browser tests skipped", allow_module_level=True)


def find_chromium() -> str | None:
    for name in (os.environ.get("LOSSBOOK_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and (path := shutil.which(name)):
            return path
    return None


CHROMIUM = find_chromium()
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip("no Chromium found (apt-get install chromium, or set LOSSBOOK_CHROMIUM): "
                "browser tests skipped", allow_module_level=True)

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP, PHONE = (1280, 900), (390, 844)
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
RUN_ALL = os.environ.get("LOSSBOOK_BROWSER_RUN_ALL") == "1"
# Raw LaTeX a reader would see if math were not rendered: delimiters or a command.
RAW_LATEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|(?<![\w$])\$(?=\S)[^$\n]{1,200}(?<=\S)\$(?![\w$])"
                       r"|\\[A-Za-z]{2,}")


# ---------------------------------------------------------------------------------------------
# The pages, the server, the browser


@dataclass(frozen=True)
class SitePage:
    source: Path  # docs/<page>.md
    url: str  # path under the site root: "" for the home page, "custom-losses/", ...

    @property
    def slug(self) -> str:
        return self.url.strip("/").replace("/", "-") or "index"

    @property
    def is_reference(self) -> bool:
        return self.url.startswith("reference/")

    @property
    def html(self) -> str:
        return f"{self.url}index.html"


def site_pages() -> list[SitePage]:
    """The pages the build makes from docs/ (directory URLs), in a stable order."""
    found = []
    for path in pages():
        parts = list(path.relative_to(DOCS).with_suffix("").parts)
        if parts[0] in ("hooks", "figures"):
            continue
        if parts[-1] in ("index", "README"):
            parts = parts[:-1]
        found.append(SitePage(path, "/".join(parts) + "/" if parts else ""))
    return found


SITE_PAGES = site_pages()


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, quietly; sitemap.xml lists the pages at this server's address.

    The theme's instant loading follows only links listed in the sitemap, which names pages by the
    ``site_url`` the site was built for; served here, the site must list them here, as it would
    had it been built for this address (``mkdocs serve`` does the same rewrite).
    """

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".svg": "image/svg+xml", ".woff2": "font/woff2", ".js": "text/javascript"}

    def do_GET(self):
        if self.path.split("?")[0].endswith("/sitemap.xml") and self.server.site_url:
            path = Path(self.translate_path(self.path))
            if path.is_file():
                body = path.read_text(encoding="utf-8").replace(self.server.site_url, self.server.base)
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        super().do_GET()

    def log_message(self, *args):
        pass


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    """Serve ``folder`` on 127.0.0.1 at a free port, in a daemon thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_SiteHandler, directory=str(folder)))
    server.base = f"http://127.0.0.1:{server.server_port}/"
    site_url = mkdocs_config().get("site_url") or ""
    server.site_url = site_url if site_url.endswith("/") or not site_url else site_url + "/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def base_url(built_site):
    site, _ = built_site
    server = serve(site)
    yield server.base
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


class Visit:
    """A browser tab on the served site that records what a reader must never meet: console errors,
    uncaught exceptions, failed requests, HTTP errors and requests to another host."""

    def __init__(self, browser, base_url: str, *, size=DESKTOP, mobile=False):
        self.base = base_url
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, device_scale_factor=1,
            is_mobile=mobile, has_touch=mobile, color_scheme="light", service_workers="block",
        )
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url.rstrip("/"))
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught exception: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _local(self, url: str) -> bool:
        return url.startswith((self.base, "data:", "blob:", "about:"))

    def _route(self, route):
        if self._local(route.request.url):
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request):
        if self._local(request.url):
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def goto(self, url: str):
        """Load a page and wait until the theme's script has set it up (copy buttons added).

        The listeners stay on for the rest of the test, so an error that comes later is still
        recorded before ``assert_clean``.
        """
        self.page.goto(self.base + url, wait_until="load")
        self.page.wait_for_function(READY_JS)
        return self.page

    def assert_clean(self, where: str):
        assert not self.foreign, f"{where}: requests to another host: {self.foreign}"
        assert not self.errors, f"{where}: " + "\n".join(self.errors)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, base_url):
    opened = []

    def open_tab(**kwargs) -> Visit:
        tab = Visit(browser, base_url, **kwargs)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


# ---------------------------------------------------------------------------------------------
# What a page shows

READY_JS = """() => document.readyState === 'complete' && typeof document$ !== 'undefined'
  && [...document.querySelectorAll('.md-content pre:has(> code)')]
       .every((pre) => pre.querySelector('[data-md-type="copy"], .md-clipboard'))"""

MATH_JS = r"""() => {
  const root = document.querySelector('.md-content');
  const shown = (el) => el.getClientRects().length > 0;
  const arith = [...root.querySelectorAll('.arithmatex')];
  const maths = [...root.querySelectorAll('math')];
  const clone = root.cloneNode(true);
  clone.querySelectorAll('pre, code, math, script, style, .headerlink').forEach((e) => e.remove());
  return {
    math: maths.length,
    unrendered: arith.filter((a) => !a.querySelector('math')).map((a) => a.textContent.slice(0, 80)),
    not_laid_out: maths.filter((m) => shown(m) && !getComputedStyle(m).display.includes('math'))
                       .map((m) => m.textContent.slice(0, 60)),
    empty_box: maths.filter((m) => shown(m)).filter((m) => {
      const box = m.getBoundingClientRect(); return box.width < 1 || box.height < 1;
    }).map((m) => m.textContent.slice(0, 60)),
    latex_inside: maths.filter((m) => m.textContent.includes('\\')).map((m) => m.textContent.slice(0, 60)),
    merror: root.querySelectorAll('merror').length,
    fonts_failed: [...document.fonts].filter((f) => f.status === 'error').map((f) => f.family),
    text: clone.textContent,
  };
}"""

IMAGES_JS = """async () => {
  const images = [...document.querySelectorAll('.md-content img')];
  await Promise.all(images.map((i) => i.decode().catch(() => null)));
  return images.map((i) => ({src: i.getAttribute('src'), alt: i.alt, width: i.naturalWidth,
                             height: i.naturalHeight}));
}"""

CODE_JS = r"""() => [...document.querySelectorAll('.md-content pre:has(> code)')].map((pre) => {
  return {
    api: Boolean(pre.closest('.doc')),
    buttons: pre.querySelectorAll('[data-md-type="copy"], .md-clipboard').length,
    text: pre.querySelector(':scope > code').textContent,
  };
})"""

# Make an element visible as a reader would: open the collapsible blocks around it and select
# the content tab that holds it.
REVEAL = """(el) => {
  const chain = [];
  for (let node = el; node; node = node.parentElement) chain.unshift(node);
  for (const node of chain) {
    if (node.tagName === 'DETAILS' && !node.open) node.querySelector(':scope > summary').click();
    if (node.classList && node.classList.contains('tabbed-block')) {
      const index = [...node.parentElement.children].indexOf(node);
      const set = node.closest('.tabbed-set');
      const label = set.querySelectorAll(':scope > .tabbed-labels > label')[index];
      if (!set.querySelectorAll(':scope > input')[index].checked) label.click();
    }
  }
}"""

# Click the copy button of every code block after the first (the first gets a real mouse click)
# and read back what landed on the clipboard.
READ_CLIPBOARD_JS = """async (sentinel) => {
  let text = sentinel;
  for (let wait = 0; text === sentinel && wait < 250; wait++) {  // copying is asynchronous, slow under load
    await new Promise((done) => setTimeout(done, wait ? 20 : 0));
    text = await navigator.clipboard.readText();
  }
  return text;
}"""

COPY_REST_JS = """async (sentinel) => {
  const reveal = %REVEAL%;
  const readClipboard = %READ%;
  const copied = [];
  const blocks = [...document.querySelectorAll('.md-content pre:has(> code)')];
  for (const pre of blocks.slice(1)) {
    let text = sentinel;
    // a second try after a frame: the theme may still be switching linked tabs from the last reveal
    for (let attempt = 0; attempt < 2 && text === sentinel; attempt++) {
      if (attempt) await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
      reveal(pre);
      await navigator.clipboard.writeText(sentinel);
      pre.querySelector('[data-md-type="copy"], .md-clipboard').click();
      text = await readClipboard(sentinel);
    }
    copied.push(text);
  }
  return copied;
}""".replace("%REVEAL%", REVEAL).replace("%READ%", READ_CLIPBOARD_JS)

H1_JS = """() => {
  const h1 = document.querySelector('.md-content h1');
  if (!h1) return null;
  const copy = h1.cloneNode(true);
  copy.querySelectorAll('.headerlink').forEach((a) => a.remove());
  return copy.textContent.trim();
}"""


def built_h1(html: str) -> str:
    """The text of a built page's <h1>, without its permalink."""
    inner = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL).group(1)
    inner = re.sub(r'<a class="headerlink".*?</a>', "", inner, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", "", inner)).strip()


SENTINEL = "\u2063lossbook: nothing copied"


def source_fences(text: str) -> list[tuple[str, str]]:
    """Every fenced block of a Markdown text: (language, code with the fence's indent removed)."""
    found, lines, at = [], text.split("\n"), 0
    while at < len(lines):
        opening = FENCE.match(lines[at])
        at += 1
        if not opening:
            continue
        indent, fence = opening["indent"], opening["fence"]
        body = []
        while at < len(lines):
            closing = FENCE.match(lines[at])
            if (closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence)
                    and not closing["info"].strip()):
                break
            body.append(lines[at].removeprefix(indent) if lines[at].strip() else "")
            at += 1
        at += 1
        found.append(((opening["info"].split() or [""])[0], "\n".join(body).rstrip("\n")))
    return found


def _code_lines(code: str) -> list[str]:
    return [line.rstrip() for line in code.split("\n") if line.strip()]


def check_math(page, where: str):
    found = page.evaluate(MATH_JS)
    assert not found["unrendered"], f"{where}: math left as LaTeX: {found['unrendered']}"
    assert not found["not_laid_out"], f"{where}: MathML the browser does not lay out: {found['not_laid_out']}"
    assert not found["empty_box"], f"{where}: math rendered as an empty box: {found['empty_box']}"
    assert not found["latex_inside"], f"{where}: LaTeX commands inside rendered math: {found['latex_inside']}"
    assert found["merror"] == 0, f"{where}: {found['merror']} <merror> elements"
    assert not found["fonts_failed"], f"{where}: fonts that failed to load: {found['fonts_failed']}"
    raw = sorted({m.group(0) for m in RAW_LATEX.finditer(found["text"])})
    assert not raw, f"{where}: raw LaTeX visible in the text: {raw[:10]}"
    return found["math"]


def check_figures(page, site_page: SitePage, where: str):
    images = page.evaluate(IMAGES_JS)
    broken = [i["src"] for i in images if i["width"] <= 0 or i["height"] <= 0]
    assert not broken, f"{where}: images that did not load: {broken}"
    no_alt = [i["src"] for i in images if not i["alt"].strip()]
    assert not no_alt, f"{where}: images without alt text: {no_alt}"
    source = site_page.source.read_text(encoding="utf-8")
    wanted = {Path(m).name for m in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.svg)", source)}
    shown = {Path(i["src"]).name for i in images}
    assert wanted <= shown, f"{where}: figures in the source but not on the page: {wanted - shown}"


def check_copy_buttons(page, site_page: SitePage, where: str) -> list[tuple[str, str | None]]:
    """Click every copy button; return the standalone Python blocks copied: (code, expected output)."""
    blocks = page.evaluate(CODE_JS)
    missing = [b["text"][:60] for b in blocks if b["buttons"] != 1]
    assert not missing, f"{where}: code blocks without exactly one copy button: {missing}"
    tested = collect(site_page.source)  # the blocks as tests/test_docs.py runs them
    fences = source_fences(expand(site_page.source.read_text(encoding="utf-8")))
    runnable: list[tuple[str, str | None]] = []
    copied_texts = []
    if blocks:  # the first block: a real click, as a reader's
        pre = page.locator(".md-content pre:has(> code)").first
        pre.evaluate(REVEAL)
        page.evaluate("(text) => navigator.clipboard.writeText(text)", SENTINEL)
        pre.locator('[data-md-type="copy"], .md-clipboard').click()
        copied_texts.append(page.evaluate(READ_CLIPBOARD_JS, SENTINEL))
        copied_texts += page.evaluate(COPY_REST_JS, SENTINEL)
    for index, (block, copied) in enumerate(zip(blocks, copied_texts, strict=True)):
        copied = copied.rstrip("\n")
        label = f"{where}: code block {index + 1} {block['text'][:50]!r}"
        assert copied != SENTINEL, f"{label}: the copy button copied nothing"
        assert copied == block["text"].rstrip("\n"), f"{label}: the copied text differs from the block shown"
        if block["api"]:
            continue  # docstring examples and signatures: the doctests check those
        languages = [info for info, code in fences if code == copied]
        assert languages, f"{label}: the copied text is not the code of any block in the page source"
        if languages[0] == "python":
            # The docs tests run each block with the `cont` blocks after it appended, and their
            # parser drops unindented blank lines inside tabs: compare the non-blank lines.
            mine = _code_lines(copied)
            starts = [t for t in tested if t.syntax == "python" and _code_lines(t.code)[:len(mine)] == mine]
            if starts:  # runs on its own, as pasted (a `cont` block does not)
                whole = [t for t in starts if _code_lines(t.code) == mine]
                runnable.append((copied, whole[0].expected_output if whole else None))
    return runnable


RUNNER = r"""
import contextlib, io, json, os, sys, traceback
replies = os.fdopen(int(sys.argv[1]), "w")
for request in sys.stdin:
    results = []
    for code in json.loads(request):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<copied block>", "exec"), {"__name__": "__main__"})
            results.append({"stdout": out.getvalue(), "error": None})
        except BaseException:
            results.append({"stdout": out.getvalue(), "error": traceback.format_exc()})
    replies.write(json.dumps(results) + "\n")
    replies.flush()
"""


class BlockRunner:
    """Runs copied blocks in a separate interpreter (the project's venv when there is one), each
    as ``__main__`` in a fresh namespace, as a reader who pastes one into a file would. One process
    serves the whole module (imports are paid once) and runs a page's blocks while the browser
    works on the rest of the page."""

    def __init__(self):
        python = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
        self._read, write = os.pipe()
        env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [python, "-c", RUNNER, str(write)], cwd=ROOT, env=env, text=True, pass_fds=(write,),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(write)
        self.replies = os.fdopen(self._read, "r")

    def submit(self, codes: list[str]):
        self.process.stdin.write(json.dumps(codes) + "\n")
        self.process.stdin.flush()

    def results(self, timeout: float = 300) -> list[dict]:
        ready, _, _ = select.select([self.replies], [], [], timeout)
        line = self.replies.readline() if ready else ""
        if not line:
            self.process.kill()
            raise AssertionError(f"the copied blocks did not finish: {self.process.stderr.read()[-2000:]}")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.replies.close()


@pytest.fixture(scope="module")
def block_runner():
    runner = BlockRunner()
    yield runner
    runner.close()


def check_copied_blocks_run(runner: BlockRunner, blocks: list[tuple[str, str | None]], where: str):
    for (code, expected), result in zip(blocks, runner.results(), strict=True):
        assert result["error"] is None, f"{where}: a copied block fails when run:\n{code}\n{result['error']}"
        if expected is not None:
            assert result["stdout"] == expected, (
                f"{where}: a copied block prints\n{result['stdout']}\nbut the page shows\n{expected}")


TABS_JS = """() => {
  const report = [];
  for (const set of [...document.querySelectorAll('.md-content .tabbed-set')].slice(1)) {
    const labels = [...set.querySelectorAll(':scope > .tabbed-labels > label')];
    const blocks = [...set.querySelectorAll(':scope > .tabbed-content > .tabbed-block')];
    for (const k of [...labels.keys()].slice(1).concat([0])) {
      labels[k].click();
      const shown = blocks.map((b) => b.getClientRects().length > 0);
      if (shown.some((v, j) => v !== (j === k))) report.push([labels[k].textContent, shown]);
    }
  }
  return report;
}"""


def check_tabs(page, where: str) -> int:
    """Click every label of every content tab set; exactly the selected block shows. The first
    set gets real mouse clicks, the others clicks from script (same handlers, much faster)."""
    sets = page.locator(".md-content .tabbed-set")
    for s in range(sets.count()):
        sets.nth(s).evaluate(REVEAL)
        if s == 0:
            labels = sets.nth(0).locator(":scope > .tabbed-labels > label")
            blocks = sets.nth(0).locator(":scope > .tabbed-content > .tabbed-block")
            assert labels.count() == blocks.count() >= 2, f"{where}: tab set 1 is malformed"
            for k in [*range(1, labels.count()), 0]:
                labels.nth(k).click()
                visible = [blocks.nth(j).is_visible() for j in range(blocks.count())]
                assert visible == [j == k for j in range(blocks.count())], (
                    f"{where}: after clicking {labels.nth(k).inner_text()!r}, visible blocks {visible}")
    if sets.count() > 1:
        wrong = page.evaluate(TABS_JS)
        assert not wrong, f"{where}: tabs that do not switch: {wrong}"
    return sets.count()


# Layout as a reader meets it. lossbook.js lays out the scroll cues and the copy buttons when the
# page arrives and on every resize; it is asked to do it now, so the facts below are settled.
LAYOUT_JS = r"""() => {
  if (window.lossbookLayout) window.lossbookLayout();
  const root = document.querySelector('.md-content');
  const shown = (el) => el.getClientRects().length > 0;
  const label = (el) => el.textContent.replace(/\s+/g, ' ').trim().slice(0, 60);
  const figures = [...root.querySelectorAll('img')].filter(shown).map((img) => ({
    src: (img.currentSrc || img.src).split('/').pop(), natural: img.naturalWidth,
    drawn: img.getBoundingClientRect().width}));
  const wide = [...root.querySelectorAll('div.arithmatex, .md-typeset__scrollwrap, span.lossbook-wide-inline')]
    .filter(shown)
    .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => ({
      math: el.matches('div.arithmatex'), text: label(el), cue: el.classList.contains('lossbook-more-right'),
      mask: getComputedStyle(el).maskImage || getComputedStyle(el).webkitMaskImage}));
  const covered = [];
  for (const pre of root.querySelectorAll('pre')) {
    const button = pre.querySelector(':scope > .md-code__nav, :scope > .md-clipboard');
    const code = pre.querySelector(':scope > code');
    if (!button || !code || !shown(pre)) continue;
    const b = button.getBoundingClientRect();
    if (!b.width) continue;
    const range = document.createRange();
    range.selectNodeContents(code);
    const under = [...range.getClientRects()].some((r) => r.width && r.right > b.left && r.left < b.right
                                                        && r.bottom > b.top && r.top < b.bottom);
    if (under) covered.push(label(code));
  }
  const literalTasks = [...root.querySelectorAll('li')].filter((li) => /^\[[ xX]\]\s/.test(li.textContent.trim()))
    .map(label);
  return {scrollWidth: document.documentElement.scrollWidth, figures, wide, covered,
          literalTasks, tasks: root.querySelectorAll('li.task-list-item input[type=checkbox]').length};
}"""

# Scroll the first element that scrolls sideways to its end: the fade must move to the other edge.
SCROLL_CUE_JS = """async () => {
  const el = [...document.querySelectorAll('.md-content div.arithmatex, .md-content .md-typeset__scrollwrap,'
                                          + ' .md-content span.lossbook-wide-inline')]
    .find((e) => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1);
  if (!el) return null;
  el.scrollLeft = el.scrollWidth;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const after = [el.classList.contains('lossbook-more-left'), el.classList.contains('lossbook-more-right')];
  el.scrollLeft = 0;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {after, back: [el.classList.contains('lossbook-more-left'), el.classList.contains('lossbook-more-right')]};
}"""

MIN_FIGURE_SCALE = 0.55  # under this, matplotlib's 10-11 pt text is a few pixels high


def check_layout(page, site_page: SitePage, where: str, *, phone: bool):
    found = page.evaluate(LAYOUT_JS)
    width = PHONE[0] if phone else DESKTOP[0]
    screen = f"a {width}px {'phone' if phone else 'screen'}"
    # against the screen's width: a mobile browser widens its layout viewport to the content
    overflow = found["scrollWidth"] - width
    assert overflow <= 0, f"{where}: the page is {overflow}px wider than {screen}"
    small = [f"{f['src']} at {f['drawn'] / f['natural']:.0%} of {f['natural']}px"
             for f in found["figures"] if f["natural"] and f["drawn"] < MIN_FIGURE_SCALE * f["natural"]]
    assert not small, f"{where}: figures drawn too small to read on {screen}: {small}"
    no_cue = [w["text"] for w in found["wide"] if not w["cue"] or w["mask"] in ("none", "", None)]
    assert not no_cue, f"{where}: content cut at the right edge with no fade to say more is there: {no_cue}"
    assert not found["covered"], f"{where}: copy buttons over code on {screen}: {found['covered']}"
    assert not found["literalTasks"], f"{where}: checklists shown as literal [ ]: {found['literalTasks']}"
    wanted_tasks = len(re.findall(r"^\s*[-*] \[[ xX]\] ", site_page.source.read_text(encoding="utf-8"), re.M))
    assert found["tasks"] >= wanted_tasks, f"{where}: {wanted_tasks} checklist items, {found['tasks']} checkboxes"
    if not phone and not site_page.is_reference:
        too_wide = [w["text"] for w in found["wide"] if w["math"]]
        assert not too_wide, (f"{where}: display equations wider than the desktop column (break them into"
                              f" aligned steps, \\begin{{split}} ... \\\\ ... \\end{{split}}): {too_wide}")
    if found["wide"]:
        moved = page.evaluate(SCROLL_CUE_JS)
        assert moved["after"] == [True, False], f"{where}: scrolled to its end, the fade did not move: {moved}"
        assert moved["back"] == [False, True], f"{where}: scrolled back, the fade did not return: {moved}"


API_EXAMPLES_JS = r"""() => {
  const sections = [...document.querySelectorAll('.md-content .doc .doc-section-title')]
    .filter((t) => /^Examples?:?$/.test(t.textContent.trim()));
  const without = sections.filter((t) => {
    let node = t.closest('p').nextElementSibling;
    return !(node && node.matches('.highlight') && node.querySelector('pre code')
             && node.querySelector('pre code').textContent.includes('>>> '));
  }).map((t) => t.closest('.doc-object').querySelector('.doc-heading').textContent.trim());
  return {
    sections: sections.length,
    without,
    quotes: [...document.querySelectorAll('.md-content .doc blockquote')].map((q) => q.textContent.slice(0, 60)),
    doctests: [...document.querySelectorAll('.md-content .doc p')].filter((p) => p.textContent.includes('>>>'))
      .map((p) => p.textContent.slice(0, 60)),
  };
}"""


def check_api_examples(page, site_page: SitePage, where: str):
    """Every docstring example is a highlighted code block with its output (prompts and output
    lines as the doctests read them), never Markdown blockquotes run together into prose."""
    found = page.evaluate(API_EXAMPLES_JS)
    assert not found["quotes"], f"{where}: docstring text rendered as blockquotes: {found['quotes'][:3]}"
    assert not found["doctests"], f"{where}: '>>>' lines rendered as prose: {found['doctests'][:3]}"
    assert not found["without"], f"{where}: Examples sections without a code block: {found['without']}"
    # a page documenting a whole module shows its examples (one documenting single helpers may
    # have none)
    targets = re.findall(r"^::: lossbook\.([\w.]+)", site_page.source.read_text(encoding="utf-8"), re.M)
    src = ROOT / "src" / "lossbook"
    modules = [t for t in targets if (src / f"{t.replace('.', '/')}.py").exists() or (src / t.replace(".", "/")).is_dir()]
    if modules:
        assert found["sections"], f"{where}: no docstring example shown for {modules}"


# ---------------------------------------------------------------------------------------------
# The tests


def test_the_tested_pages_are_the_built_pages(built_site):
    site, _ = built_site
    built = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    assert built == {p.html for p in SITE_PAGES}, "the page list here and the built site disagree"


@pytest.mark.parametrize("site_page", SITE_PAGES, ids=[p.slug for p in SITE_PAGES])
def test_page(site_page, visit, screenshots, block_runner):
    where = site_page.url or "home page"
    desktop = visit(size=DESKTOP)
    page = desktop.goto(site_page.url)
    assert page.locator(".md-content h1").count() == 1, f"{where}: no single <h1>"
    if not site_page.is_reference:
        page.screenshot(path=screenshots / f"{site_page.slug}-desktop.png", full_page=True)

    check_math(page, where)
    check_figures(page, site_page, where)
    runnable = check_copy_buttons(page, site_page, where)
    has_python = any(b.syntax == "python" for b in collect(site_page.source))
    assert runnable or not has_python, f"{where}: no copied Python block runs on its own"
    chosen = runnable if RUN_ALL else list(dict.fromkeys([*runnable[:1], *runnable[-1:]]))
    if chosen:
        block_runner.submit([code for code, _ in chosen])
    try:
        check_tabs(page, where)
        check_layout(page, site_page, where, phone=False)
        if site_page.is_reference:
            check_api_examples(page, site_page, where)
            # the same tab narrowed to a phone (no second load of a long page; no screenshot)
            page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
            page.wait_for_function("() => window.innerWidth === %d" % PHONE[0])
            check_layout(page, site_page, f"{where} (phone width)", phone=True)
        desktop.assert_clean(where)

        if not site_page.is_reference:
            phone = visit(size=PHONE, mobile=True)
            small = phone.goto(site_page.url)
            check_layout(small, site_page, f"{where} (phone)", phone=True)
            small.screenshot(path=screenshots / f"{site_page.slug}-phone.png", full_page=True)
            phone.assert_clean(f"{where} (phone)")
    finally:
        if chosen:
            check_copied_blocks_run(block_runner, chosen, where)


def test_some_page_has_content_tabs():
    """Lessons show the interview snippet in PyTorch / NumPy tabs; the tab checks must see some."""
    assert any('=== "' in p.source.read_text(encoding="utf-8") for p in SITE_PAGES), (
        "no page has content tabs, so the tab checks above test nothing")


def _custom_losses() -> SitePage:
    found = [p for p in SITE_PAGES if p.source.name == "custom-losses.md"]
    if not found:
        pytest.fail("docs/custom-losses.md (the lesson search must find) does not exist")
    return found[0]


def test_search_finds_focal_and_lands_on_custom_losses(visit):
    lesson = _custom_losses()
    tab = visit(size=DESKTOP)
    page = tab.goto("")
    page.locator(".md-search__input").click()
    page.keyboard.type("focal")
    results = page.locator(".md-search-result__item > a.md-search-result__link")
    results.first.wait_for(state="visible", timeout=15_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    lesson_hits = [i for i, h in enumerate(hrefs) if h.split("?")[0].split("#")[0].endswith("/" + lesson.url)]
    assert lesson_hits, f"searching 'focal' does not list the Custom losses lesson: {hrefs}"
    page.evaluate("() => { window.__lossbookMarker = 'kept' }")
    results.nth(lesson_hits[0]).click()
    page.wait_for_url(re.compile(re.escape(tab.base + lesson.url)))
    # instant loading updates the URL before it swaps the content: wait for the new title
    page.wait_for_function(f"(title) => ({H1_JS})() === title", arg="Custom losses", timeout=15_000)
    assert page.evaluate("() => window.__lossbookMarker") == "kept", "the result link reloaded the page"
    page.locator(".md-content mark").first.wait_for(timeout=15_000)
    marks = page.locator(".md-content mark").all_inner_texts()
    assert any("focal" in m.lower() for m in marks), f"the landing page does not highlight 'focal': {marks[:5]}"
    tab.assert_clean("search")


def _search(page, query: str) -> list[str]:
    """The pages the search lists for ``query``, best first (site-relative, no query string)."""
    field = page.locator(".md-search__input")
    field.click()
    field.fill("")
    page.keyboard.type(query)
    # the results of this query are in when a result links with this query to highlight
    page.wait_for_function(
        "(h) => [...document.querySelectorAll('.md-search-result a.md-search-result__link')]"
        ".some((a) => a.href.includes(h))", arg="h=" + "+".join(query.split()), timeout=15_000)
    hrefs = page.evaluate("() => [...document.querySelectorAll('.md-search-result__item > a.md-search-result__link')]"
                          ".map((a) => a.href)")
    base = page.evaluate("() => new URL(document.querySelector('[data-md-component=logo]').href).href")
    return [h.removeprefix(base).split("?")[0].split("#")[0] for h in hrefs]


def test_search_ranks_the_lesson_first_and_splits_words_at_punctuation(visit):
    lesson = _custom_losses()
    tab = visit(size=DESKTOP)
    page = tab.goto("")
    found = _search(page, "focal loss")
    assert found and found[0] == lesson.url, f"'focal loss' lists {found[:4]}: the lesson should be first"
    # a word written next to punctuation, "(RetinaNet," or "RetinaNet)", is still a word
    punctuated = [p.url for p in SITE_PAGES
                  if re.search(r"[(\[,;:/]RetinaNet|RetinaNet[),.;:\]]", p.source.read_text(encoding="utf-8"))]
    assert punctuated, "no page writes RetinaNet next to punctuation: nothing to search for"
    found = _search(page, "retinanet")
    missing = [url for url in punctuated if url not in found]
    assert not missing, f"'retinanet' does not find {missing} (found {found})"
    tab.assert_clean("search ranking")


def test_table_of_contents_follows_the_section_jumped_to(visit):
    """Clicking an entry of the page's table of contents scrolls to that section and highlights
    that entry (not the one before: the theme marks a section once its heading reaches the top,
    and nothing of ours may push the heading below that line)."""
    lesson = _custom_losses()
    tab = visit(size=DESKTOP)
    page = tab.goto(lesson.url)
    links = page.locator(".md-sidebar--secondary a.md-nav__link")
    count = links.count()
    assert count >= 4, "the lesson has no table of contents to follow"
    for index in (1, count // 2, count - 2):
        target = links.nth(index).evaluate("(a) => a.hash")
        links.nth(index).click()
        page.wait_for_function(
            "(hash) => [...document.querySelectorAll('.md-sidebar--secondary .md-nav__link--active')]"
            ".map((a) => a.hash).pop() === hash", arg=target, timeout=5_000)
    tab.assert_clean("table of contents")


def _background_luminance(page) -> float:
    rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_mode_toggles_and_persists(visit, screenshots):
    lesson = _custom_losses()
    tab = visit(size=DESKTOP)
    page = tab.goto(lesson.url)
    scheme = "() => document.body.getAttribute('data-md-color-scheme')"
    assert page.evaluate(scheme) == "default" and _background_luminance(page) > 0.8
    page.locator("label.md-header__button[for^='__palette']:visible").click()
    page.wait_for_function(f"({scheme})() === 'slate'")
    assert _background_luminance(page) < 0.2, "dark mode did not darken the page"
    if page.locator(".md-content math").count():
        color = page.evaluate("() => getComputedStyle(document.querySelector('.md-content math')).color")
        r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
        assert (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 > 0.5, f"math is dark on dark: {color}"
    page.screenshot(path=screenshots / f"{lesson.slug}-desktop-dark.png")
    page.reload(wait_until="load")
    assert page.evaluate(scheme) == "slate", "the dark scheme is forgotten on reload"
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})  # the same lesson, dark, on a phone
    page.evaluate(READY_JS)
    page.screenshot(path=screenshots / f"{lesson.slug}-phone-dark.png", full_page=True)
    page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    page.locator("label.md-header__button[for^='__palette']:visible").click()
    page.wait_for_function(f"({scheme})() === 'default'")
    assert _background_luminance(page) > 0.8
    tab.assert_clean("dark mode")


def test_instant_navigation_reaches_every_page(visit, built_site):
    """From the home page, click every link of the navigation in turn: each page arrives (its h1)
    without a full reload (instant loading keeps the window), and Back returns."""
    site, _ = built_site
    tab = visit(size=DESKTOP)
    page = tab.goto("")
    page.evaluate("() => { window.__lossbookMarker = 'kept' }")
    links = page.locator(".md-nav--primary a.md-nav__link[href]")
    hrefs = list(dict.fromkeys(
        href for href in (links.nth(i).evaluate("(a) => a.href") for i in range(links.count()))
        if "#" not in href))
    expected = {tab.base + p.url for p in SITE_PAGES if (site / p.html).exists()}
    assert expected <= set(hrefs), f"pages missing from the navigation: {sorted(expected - set(hrefs))}"
    visited = []
    for href in hrefs:
        path = href.removeprefix(tab.base)
        title = built_h1((site / (path + "index.html")).read_text(encoding="utf-8"))
        page.evaluate("(href) => [...document.querySelectorAll('.md-nav--primary a.md-nav__link')]"
                      ".find((a) => a.href === href).click()", href)
        page.wait_for_url(href)
        page.wait_for_function(f"(title) => ({H1_JS})() === title", arg=title)
        assert page.evaluate("() => window.__lossbookMarker") == "kept", f"{path}: a full page reload"
        visited.append(href)
    if len(visited) >= 2:
        page.go_back()
        page.wait_for_url(visited[-2])
    tab.assert_clean("instant navigation")

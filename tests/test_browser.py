"""The site as readers see it: the built site served on 127.0.0.1 and driven in headless Chromium.

Every page of the built site is visited (parametrised over the pages, so a new lesson is covered
without touching this file) and must:

- load with zero console errors, zero uncaught exceptions, zero failed requests (a request the
  page itself cancels, net::ERR_ABORTED, is not one) and zero requests to any other host (every
  request for another host is routed, recorded and aborted);
- show its math rendered as MathML laid out by the browser (no raw ``$...$``, ``\\(``, ``\\[`` or
  LaTeX command left in the text) and its figures loaded (``naturalWidth > 0``);
- give every code block exactly one copy button, which copies that block: the first block's
  button gets a real mouse click and the clipboard is read back; every button's copy target is
  its own block's code, and the text the theme copies from it (derived as the theme derives it,
  which must equal the real click's clipboard for the first block) is the block as shown and the
  code of a block in the page source, as the docs tests run it;
- switch its content tabs (real mouse clicks on one page's first tab set, script clicks through
  the same handlers everywhere else);
- lay out for its screen, at desktop (1280 px) and on a phone (390 x 844): no page wider than the
  screen; no figure drawn under 55 % of its natural width (wide figures come with a phone variant
  the browser picks); everything that scrolls sideways (display equations, tables) shows a fade
  where more is hidden, which moves as it scrolls; no copy button over a line of code; checklists
  as task lists, not literal "[ ]"; on desktop no lesson equation wider than its column;
- (API reference) show every docstring example as a code block with its output, no blockquote.

One tab serves every page a worker visits, in this module and tests/test_practice_browser.py (a
warm cache, as a reader moving through the site has; one Chromium per test process); its records
of errors and requests start empty for each page and its storage is cleared (the theme keeps the
colour scheme and the last content tab there), so each page's failures are reported against it.
test_page reaches a page as a reader moving through the site does, by following a link from the
page before: the theme's instant loading swaps the new content in and keeps the window (checked
every time), and the page is set up again by the theme's and the site's scripts (``document$``).
That is how most pages are read, and it costs the browser a third of a full load. The home page
and one small page of each set-up (``first_visits``: what the site's scripts set up on arrival,
see ``set_up_by``) are loaded cold instead, as by a reader arriving from elsewhere, and so is the
first page a worker visits. The tab asks for reduced motion (``prefers-reduced-motion: reduce``,
a reader's setting the theme honours by dropping its CSS transitions; the site's own CSS has none):
the same layout, without the frames of the theme's animations (the "Copied" toast after every copy
click, about 0.25 CPU s a page). The tabs of their own contexts (search, phone, practice clocks)
keep the default motion. That tab is served an empty search index:
the theme's search worker otherwise fetches and builds the site's one index (1.3 MB, the same on
every page) after each page load, about a second of CPU; the search test loads the real one.

test_page checks a page at the width the tab has when it arrives (the previous page's second),
then resizes the tab to the other: desktop 1280 x 900 or phone 390 x 844. A tab at 390 x 844
stands for a phone: the CSS media queries see the same 390 px width, headless Chromium draws no
scrollbar in either, and the overflow check compares the page's scrollWidth with the screen's
width, so content wider than the screen is caught either way (a mobile browser widens its layout
viewport to it, the tab scrolls). What touch emulation adds (the pointer and hover media
features, the viewport meta tag) is covered by ``check_as_in_a_phone_browser``, which test_page
runs on ``PHONE_LESSON``: the lesson loaded in a real mobile context (touch, 390 x 844) passes the
phone checks and has the tab's phone layout (the same figures at the same widths, the same
scrolling elements and fades, the same code blocks shown cleared under their copy button).

The copied Python blocks are not run again here: tests/test_docs.py runs every block as
``__main__`` in a fresh namespace with scrambled RNGs (docs_pages.run_block), and the copy check
above proves that what a button copies is that block.

Site-wide, in one window (one full load): search finds "focal" and lands on the Custom losses
lesson, ranks that lesson first for "focal loss" and finds "retinanet" next to punctuation; the
table of contents highlights the section a reader jumps to; every page is in the navigation, and
instant navigation reaches, without a full reload, a page of each set-up that differs on arrival
(section, the elements the site's scripts set up, tabs, math, figures: chosen from the built site
by rule), every page being one instant loading takes (the served sitemap lists it). Dark mode
toggles and persists. Screenshots of every page but the API
reference, at desktop (1280 px) and phone (390 px) widths, and of one lesson in dark mode at
both widths, go to ``artifacts/screenshots/`` when LOSSBOOK_SCREENSHOTS=1 (tests/conftest.py).

The module skips, saying why, where Playwright for Python or a Chromium binary is missing (set
``LOSSBOOK_CHROMIUM`` to use another Chromium).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import urllib.request
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from docs_pages import DOCS, FENCE, ROOT, collect, expand, mkdocs_config, pages


try:
    from playwright.sync_api import Error as PlaywrightError
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


class _SiteServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A connection the browser dropped (a request it cancelled) is not an error of the site."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    """Serve ``folder`` on 127.0.0.1 at a free port, in a daemon thread."""
    server = _SiteServer(("127.0.0.1", 0), functools.partial(_SiteHandler, directory=str(folder)))
    server.base = f"http://127.0.0.1:{server.server_port}/"
    site_url = mkdocs_config().get("site_url") or ""
    server.site_url = site_url if site_url.endswith("/") or not site_url else site_url + "/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# What one test process keeps for both browser modules (this one and tests/test_practice_browser.py,
# which imports these fixtures): the server, Playwright's driver, Chromium and the warm tab. Per
# module they would be started twice on each worker (about 2.5 CPU s: a driver, a browser, a
# context and a cold cache); they are closed when pytest ends (last opened, first closed).
_PROCESS: dict = {}


def _for_the_process(request, key: str, start, stop):
    if key not in _PROCESS:
        _PROCESS[key] = start()
        request.config.add_cleanup(lambda: stop(_PROCESS.pop(key)))
    return _PROCESS[key]


def _stop_server(server):
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def base_url(request, built_site):
    return _for_the_process(request, "server", lambda: serve(built_site[0]), _stop_server).base


@pytest.fixture(scope="module")
def browser(request):
    playwright = _for_the_process(request, "playwright", lambda: sync_playwright().start(), lambda p: p.stop())
    return _for_the_process(request, "chromium", lambda: playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS), lambda chromium: chromium.close())


@pytest.fixture(scope="module")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


class Visit:
    """A browser tab on the served site that records what a reader must never meet: console errors,
    uncaught exceptions, failed requests, HTTP errors and requests to another host.

    A tab can serve several pages: ``fresh()`` empties its records and its storage between them.
    """

    def __init__(self, browser, base_url: str, *, size=DESKTOP, mobile=False, search_index: str | None = None,
                 reduced_motion: bool = False):
        self.base = base_url
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, device_scale_factor=1,
            is_mobile=mobile, has_touch=mobile, color_scheme="light", service_workers="block",
            reduced_motion="reduce" if reduced_motion else "no-preference",
        )
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url.rstrip("/"))
        self.size = size
        self.errors: list[str] = []
        self.foreign: list[str] = []
        # only requests for another host are routed (the pattern is matched in Playwright's
        # driver: the local ones go on without a round trip to Python)
        self.context.route(re.compile(r"^(?!" + re.escape(base_url) + r"|data:|blob:|about:)"), self._foreign)
        if search_index is not None:  # served instead of the site's (see empty_search_index)
            self.context.route(base_url + "search/search_index.json", lambda route: route.fulfill(
                status=200, content_type="application/json", body=search_index))
        self.page = self._open()

    def _open(self):
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught exception: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        return page

    def fresh(self, *, keep_size: bool = False):
        """Ready the tab for the next page: empty storage (the theme remembers the colour scheme
        and the last content tab chosen), empty records, and its own size unless ``keep_size``
        (test_page checks a page at both widths, starting with the one the tab has)."""
        if self.page.is_closed():
            self.page = self._open()
        if self.page.url.startswith(self.base):
            self.page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        if not keep_size and self.page.viewport_size != {"width": self.size[0], "height": self.size[1]}:
            self.page.goto("about:blank")  # resized with no page in it: nothing to lay out again
            self.page.set_viewport_size({"width": self.size[0], "height": self.size[1]})
        self.errors.clear()
        self.foreign.clear()
        return self

    def _local(self, url: str) -> bool:
        return url.startswith((self.base, "data:", "blob:", "about:"))

    def _foreign(self, route):
        if self._local(route.request.url):  # not routed here; kept in case the pattern ever is
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request):
        # net::ERR_ABORTED: the page itself cancelled the request (it navigated away, or a <picture>
        # switched source on a resize), not a failure a reader meets; a missing file is an HTTP
        # error (recorded below) and an unreachable server another net:: error
        if self._local(request.url) and "ERR_ABORTED" not in (request.failure or ""):
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

    def on_the_site(self) -> bool:
        """Whether the tab shows a page of the site that the theme has set up (a page to follow a
        link from)."""
        return self.page.url.startswith(self.base) and self.page.evaluate("() => typeof document$ !== 'undefined'")

    def follow(self, url: str, title: str):
        """Reach ``url`` as a reader does from the page shown, by following a link to it: the
        theme's instant loading fetches the page and swaps its content in, keeping the window
        (checked: a marker set on it survives). Waits until the theme knows the site's pages (its
        sitemap: it reloads for a link to any other), then for the new content (a new
        ``.md-content`` with the page's ``title`` as its h1), set up (READY_JS)."""
        self.page.wait_for_function(SITEMAP_READ_JS)
        self.page.evaluate(FOLLOW_JS, self.base + url)
        self.page.wait_for_function(ARRIVED_JS, arg=[self.base + url, title])
        kept = self.page.evaluate("() => window.__lossbookKept === true")
        assert kept, f"{url}: instant loading reloaded the window instead of swapping the content in"
        return self.page

    def assert_clean(self, where: str):
        assert not self.foreign, f"{where}: requests to another host: {self.foreign}"
        assert not self.errors, f"{where}: " + "\n".join(self.errors)

    def close(self):
        self.context.close()


def empty_search_index(site: Path) -> str:
    """The site's search index with its configuration and no documents.

    Every page starts the theme's search worker, which fetches the site's one index (1.3 MB, the
    same for every page) and builds it: about a second of CPU after each page load, for a search
    no test but the search tests uses. The tab that visits every page gets this index instead;
    the search tests load the real one (and fail on any error building it).
    """
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    return json.dumps({**index, "docs": []})


@pytest.fixture(scope="module")
def no_search(built_site) -> str:
    return empty_search_index(built_site[0])


@pytest.fixture(scope="module")
def shared_tab(request, browser, base_url, no_search):
    return _for_the_process(request, "tab", lambda: Visit(
        browser, base_url, size=DESKTOP, search_index=no_search, reduced_motion=True), Visit.close)


@pytest.fixture
def tab(shared_tab) -> Visit:
    """The module's desktop tab, fresh for this test (see ``Visit.fresh``)."""
    return shared_tab.fresh()


@pytest.fixture
def visit(browser, base_url, no_search):
    """New tabs in new browser contexts, for a test that needs a context of its own (a phone, the
    real search index, fresh storage); closed after the test."""
    opened = []

    def open_tab(*, search=False, **kwargs) -> Visit:
        tab = Visit(browser, base_url, search_index=None if search else no_search, **kwargs)
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

# The theme follows a link by instant loading only once it has read the sitemap (fetched at the
# first load; the list of pages it may swap in).
SITEMAP_READ_JS = """() => performance.getEntriesByType('resource')
  .some((entry) => new URL(entry.name).pathname.endsWith('/sitemap.xml') && entry.responseEnd > 0)"""

# Follow a link, as a click on it: the content shown is marked (instant loading replaces it) and
# so is the window (a reload would replace it).
FOLLOW_JS = """(href) => {
  document.querySelector('.md-content').setAttribute('data-lossbook-left', '');
  window.__lossbookKept = true;
  const link = document.createElement('a');
  link.href = href;
  document.body.appendChild(link);
  link.click();
  link.remove();
}"""

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

# Every code block, shown as a reader would see it when copying (its folds opened, its tab
# selected): its copy buttons, whether the one it has copies from its own <code>, and the text it
# copies, derived as mkdocs-material 9.x derives it (integrations/clipboard: ClipboardJS on
# "[data-clipboard-target], [data-clipboard-text]" copies the button's data-clipboard-text, or
# else the text of its target element: with data-md-copying set on it (the theme's CSS then shows
# the code inline and hides annotations), the data-copy of its nearest ancestor that has one, or
# else its innerText; end trimmed). The first block's real click ties this to the mechanism: its
# clipboard must read the same. The theme marks one target at a time; here every target is marked
# at once (a block's text does not depend on another's display), folds are opened all at once and
# the blocks shown are read together, so the page is laid out once per tab selection, not twice a
# block.
CODE_JS = """() => {
  const reveal = %REVEAL%;
  const pres = [...document.querySelectorAll('.md-content pre:has(> code)')];
  const blocks = pres.map((pre) => {
    const button = pre.querySelectorAll('[data-md-type="copy"], .md-clipboard');
    const given = button.length === 1 ? button[0].getAttribute('data-clipboard-text') : null;
    const selector = button.length === 1 ? button[0].getAttribute('data-clipboard-target') : null;
    const target = given || !selector ? null : document.querySelector(selector);
    return {
      api: Boolean(pre.closest('.doc')), buttons: button.length,
      text: pre.querySelector(':scope > code').textContent, shown: false,
      own: target === pre.querySelector(':scope > code'),
      target: target ? (target.closest('pre') || target).id || target.tagName : null,
      copy: () => {
        if (given) return given;
        if (!target) return null;
        const holder = target.closest('[data-copy]');
        return (holder ? holder.getAttribute('data-copy') : target.innerText).trimEnd();
      },
      element: target,
    };
  });
  const marked = blocks.map((b) => b.element).filter(Boolean);
  for (const el of marked) el.setAttribute('data-md-copying', '');
  for (const fold of document.querySelectorAll('.md-content details:not([open])')) {
    fold.querySelector(':scope > summary').click();
  }
  let todo = [...pres.keys()].filter((k) => blocks[k].buttons === 1);
  while (todo.length) {
    let now = todo.filter((k) => pres[k].getClientRects().length > 0);
    if (!now.length) {
      reveal(pres[todo[0]]);
      now = todo.filter((k) => pres[k].getClientRects().length > 0);
    }
    if (!now.length) {  // cannot be shown: reported as such
      todo.shift();
      continue;
    }
    for (const k of now) Object.assign(blocks[k], {shown: true, copied: blocks[k].copy()});
    todo = todo.filter((k) => !now.includes(k));
  }
  for (const el of marked) el.removeAttribute('data-md-copying');
  return blocks.map(({copy, element, ...rest}) => rest);
}""".replace("%REVEAL%", REVEAL)

READ_CLIPBOARD_JS = """async (sentinel) => {
  let text = sentinel;
  for (let wait = 0; text === sentinel && wait < 250; wait++) {  // copying is asynchronous, slow under load
    await new Promise((done) => setTimeout(done, wait ? 20 : 0));
    text = await navigator.clipboard.readText();
  }
  return text;
}"""

H1_JS = """() => {
  const h1 = document.querySelector('.md-content h1');
  if (!h1) return null;
  const copy = h1.cloneNode(true);
  copy.querySelectorAll('.headerlink').forEach((a) => a.remove());
  return copy.textContent.trim();
}"""


# The page followed to has arrived: its address, new content (the one left is unmarked) with its
# title, set up.
ARRIVED_JS = """([href, title]) => location.href === href
  && !document.querySelector('.md-content[data-lossbook-left]') && (%H1%)() === title && (%READY%)()
""".replace("%H1%", H1_JS).replace("%READY%", READY_JS)


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


def check_copy_buttons(page, site_page: SitePage, where: str) -> int:
    """Every code block has one copy button, which copies that block as the page source (and the
    docs tests) have it; returns the number of copied Python blocks the docs tests run on their own.

    The first block's button gets a real mouse click and the clipboard is read back; the others'
    copied text is derived as the theme derives it (``CODE_JS``), which must give the
    clipboard's text for the first block."""
    clicked = None
    if page.locator(".md-content pre:has(> code)").count():  # the first block: a real click, as a reader's
        pre = page.locator(".md-content pre:has(> code)").first
        pre.evaluate(REVEAL)
        page.evaluate("(text) => navigator.clipboard.writeText(text)", SENTINEL)
        pre.locator('[data-md-type="copy"], .md-clipboard').click()
        clicked = page.evaluate(READ_CLIPBOARD_JS, SENTINEL).rstrip("\n")
    blocks = page.evaluate(CODE_JS)
    missing = [b["text"][:60] for b in blocks if b["buttons"] != 1]
    assert not missing, f"{where}: code blocks without exactly one copy button: {missing}"
    if blocks:
        assert clicked != SENTINEL, f"{where}: code block 1: a real click on its copy button copied nothing"
        assert clicked == (blocks[0]["copied"] or "").rstrip("\n"), (
            f"{where}: code block 1: the real click copied\n{clicked!r}\nbut the theme's rule gives"
            f"\n{blocks[0]['copied']!r}")
    tested = collect(site_page.source)  # the blocks as tests/test_docs.py runs them
    fences = source_fences(expand(site_page.source.read_text(encoding="utf-8")))
    standalone = 0
    for index, block in enumerate(blocks):
        label = f"{where}: code block {index + 1} {block['text'][:50]!r}"
        assert block["shown"], f"{label}: not shown with its folds opened and its tab selected"
        assert block["own"], f"{label}: its copy button copies another element ({block['target']!r})"
        copied = (block["copied"] or "").rstrip("\n")
        assert copied, f"{label}: the copy button copies nothing"
        assert copied == block["text"].rstrip("\n"), f"{label}: the copied text differs from the block shown"
        if block["api"]:
            continue  # docstring examples and signatures: the doctests check those
        languages = [info for info, code in fences if code == copied]
        assert languages, f"{label}: the copied text is not the code of any block in the page source"
        if languages[0] == "python":
            # The docs tests run each block with the `cont` blocks after it appended, and their
            # parser drops unindented blank lines inside tabs: compare the non-blank lines.
            mine = _code_lines(copied)
            if any(t.syntax == "python" and _code_lines(t.code)[:len(mine)] == mine for t in tested):
                standalone += 1  # runs on its own, as pasted (a `cont` block does not)
    return standalone


# Every content tab set switches: each label, clicked, shows its block and hides the others. The
# labels are clicked a text at a time across all sets ("NumPy" in every set that has it, then one
# look at every such set), so the page is laid out once per label text, not once per label; with
# linked tabs the theme switches every set that has the text clicked, which is then the one to show.
# The first label's text comes last, so the sets end as the page starts.
TABS_JS = """(first) => {
  const sets = [...document.querySelectorAll('.md-content .tabbed-set')].slice(first).map((set) => ({
    set,
    labels: [...set.querySelectorAll(':scope > .tabbed-labels > label')],
    blocks: [...set.querySelectorAll(':scope > .tabbed-content > .tabbed-block')],
  }));
  const report = [];
  const text = (label) => label.textContent.trim();
  const good = sets.filter((s) => {
    const texts = s.labels.map(text);
    const ok = s.labels.length >= 2 && s.labels.length === s.blocks.length && new Set(texts).size === texts.length;
    if (!ok) report.push(['malformed', texts, s.blocks.length]);
    return ok;
  });
  const firsts = new Set(good.map((s) => text(s.labels[0])));
  const texts = [...new Set(good.flatMap((s) => s.labels.map(text)))];
  texts.sort((a, b) => firsts.has(a) - firsts.has(b));
  for (const t of texts) {
    const mine = good.filter((s) => s.labels.some((l) => text(l) === t));
    for (const s of mine) s.labels.find((l) => text(l) === t).click();
    for (const s of mine) {
      const k = s.labels.findIndex((l) => text(l) === t);
      const shown = s.blocks.map((b) => b.getClientRects().length > 0);
      if (shown.some((v, j) => v !== (j === k))) report.push([t, shown]);
    }
  }
  return report;
}"""


def check_tabs(page, where: str, *, real_clicks: bool) -> int:
    """Click every label of every content tab set; exactly the selected block shows. With
    ``real_clicks`` the first set gets real mouse clicks (on one page of the site: the mechanism
    is the theme's, the same on every page), the others clicks from script (same handlers)."""
    sets = page.locator(".md-content .tabbed-set")
    count = sets.count()
    if count and real_clicks:
        sets.first.evaluate(REVEAL)
        labels = sets.first.locator(":scope > .tabbed-labels > label")
        blocks = sets.first.locator(":scope > .tabbed-content > .tabbed-block")
        assert labels.count() == blocks.count() >= 2, f"{where}: tab set 1 is malformed"
        for k in [*range(1, labels.count()), 0]:
            labels.nth(k).click()
            visible = [blocks.nth(j).is_visible() for j in range(blocks.count())]
            assert visible == [j == k for j in range(blocks.count())], (
                f"{where}: after clicking {labels.nth(k).inner_text()!r}, visible blocks {visible}")
    if count > real_clicks:
        # script clicks need the sets shown (a set inside a closed fold shows no block)
        page.evaluate(f"() => document.querySelectorAll('.md-content .tabbed-set').forEach({REVEAL})")
        wrong = page.evaluate(TABS_JS, 1 if real_clicks else 0)
        assert not wrong, f"{where}: tabs that do not switch: {wrong}"
    return count


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
    // the code's text from the top, a text node at a time, down to the first box below the button
    const range = document.createRange();
    const text = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    let under = false, below = false;
    for (let node = text.nextNode(); node && !under && !below; node = text.nextNode()) {
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (!r.width) continue;
        if (r.top >= b.bottom) { below = true; break; }
        if (r.right > b.left && r.left < b.right && r.bottom > b.top) { under = true; break; }
      }
    }
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

# After a resize the browser picks each <picture>'s source again: wait (a few frames at a time)
# until every figure shows the source chosen for this width, loaded.
FIGURES_SETTLED_JS = """async () => {
  const wanted = (img) => {
    const picture = img.parentElement && img.parentElement.tagName === 'PICTURE' ? img.parentElement : null;
    const source = picture && [...picture.querySelectorAll(':scope > source')]
      .find((s) => !s.media || matchMedia(s.media).matches);
    return source ? new URL(source.srcset.trim().split(/\\s+/)[0], document.baseURI).href : img.src;
  };
  for (let tries = 0; tries < 100; tries++) {
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    const images = [...document.querySelectorAll('.md-content img')];
    await Promise.all(images.map((i) => i.decode().catch(() => null)));
    const pending = images.filter((i) => !i.complete || i.currentSrc !== wanted(i));
    if (!pending.length) return [];
    if (tries === 99) return pending.map((i) => [i.currentSrc, wanted(i)]);
  }
}"""


def resize(page, size: tuple[int, int], where: str):
    """The tab resized (to a phone's 390 x 844 or back to the desktop's 1280 x 900), laid out and
    its figures switched (see the module docstring for why a narrowed tab stands for a phone)."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.wait_for_function("(width) => window.innerWidth === width", arg=size[0])
    pending = page.evaluate(FIGURES_SETTLED_JS)
    assert not pending, f"{where}: figures that did not switch to their source for {size[0]}px: {pending}"


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


def _has_tabs(site_page: SitePage) -> bool:
    return '=== "' in site_page.source.read_text(encoding="utf-8")


# The page whose first tab set gets real mouse clicks (the others get script clicks).
REAL_TAB_CLICKS = next((p for p in SITE_PAGES if _has_tabs(p)), None)


@pytest.fixture(scope="module")
def first_visits(built_site) -> set[str]:
    """The pages test_page loads cold (a full load, as a reader arriving from elsewhere): the home
    page and the fewest small pages that meet every other set-up (``pages_covering_every_set_up``).
    It reaches the others by following a link from the page before (instant loading)."""
    home = next(p for p in SITE_PAGES if p.url == "")
    return {p.url for p in [home, *pages_covering_every_set_up(built_site[0], besides=home)]}


@pytest.mark.parametrize("site_page", SITE_PAGES, ids=[p.slug for p in SITE_PAGES])
def test_page(site_page, shared_tab, visit, screenshots, built_site, first_visits):
    where = site_page.url or "home page"
    tab = shared_tab.fresh(keep_size=True)
    if site_page.url in first_visits or not tab.on_the_site():
        page = tab.goto(site_page.url)
    else:
        page = tab.follow(site_page.url, built_h1((built_site[0] / site_page.html).read_text(encoding="utf-8")))
    assert page.locator(".md-content h1").count() == 1, f"{where}: no single <h1>"
    # at the width the tab has (the last page's second), then at the other
    sizes = [DESKTOP, PHONE] if page.viewport_size["width"] == DESKTOP[0] else [PHONE, DESKTOP]
    assert page.viewport_size == dict(zip(("width", "height"), sizes[0])), f"{where}: the tab is {page.viewport_size}"

    check_math(page, where)
    check_figures(page, site_page, where)
    standalone = check_copy_buttons(page, site_page, where)
    has_python = any(b.syntax == "python" for b in collect(site_page.source))
    assert standalone or not has_python, f"{where}: no copied Python block is one the docs tests run on its own"
    check_tabs(page, where, real_clicks=site_page == REAL_TAB_CLICKS)
    if site_page.is_reference:
        check_api_examples(page, site_page, where)  # the markup does not change with the width
    tab.assert_clean(where)

    phone_facts = None
    for turn, size in enumerate(sizes):
        phone = size == PHONE
        at = f"{where} (phone)" if phone else where
        if turn:
            resize(page, size, at)
        check_layout(page, site_page, at, phone=phone)
        if not site_page.is_reference:
            page.screenshot(path=screenshots / f"{site_page.slug}-{'phone' if phone else 'desktop'}.png", full_page=True)
        tab.assert_clean(at)
        if phone and site_page.url == PHONE_LESSON:
            phone_facts = page.evaluate(PHONE_FACTS_JS)
    if phone_facts is not None:
        check_as_in_a_phone_browser(visit, site_page, narrowed=phone_facts)


# A lesson with figures that switch to a phone variant, tables and equations that scroll sideways
PHONE_LESSON = "simulation-metrics/"

# Open every fold of the content (what check_copy_buttons leaves open in test_page's tab).
OPEN_FOLDS_JS = """() => document.querySelectorAll('.md-content details:not([open])')
  .forEach((fold) => fold.querySelector(':scope > summary').click())"""

PHONE_FACTS_JS = """() => {
  window.lossbookLayout();
  const root = document.querySelector('.md-content');
  const shown = (el) => el.getClientRects().length > 0;
  return {
    innerWidth: window.innerWidth,
    mediaPhone: matchMedia('(max-width: 720px)').matches,
    figures: [...root.querySelectorAll('img')].filter(shown)
      .map((i) => [i.currentSrc.split('/').pop(), Math.round(i.getBoundingClientRect().width)]),
    scrollers: [...root.querySelectorAll('div.arithmatex, .md-typeset__scrollwrap, span.lossbook-wide-inline')]
      .filter(shown).map((e) => [e.textContent.slice(0, 40), e.clientWidth, e.classList.contains('lossbook-more-right')]),
    clearedCode: [...root.querySelectorAll('pre.lossbook-code-clear')].filter(shown).length,
  };
}"""


def check_as_in_a_phone_browser(visit, lesson: SitePage, *, narrowed: dict):
    """A real phone context (390 x 844, touch, mobile viewport) passes the phone checks, and lays
    the lesson out as test_page's tab at 390 x 844 does (``narrowed``: its PHONE_FACTS_JS, its
    folds open): same width, same figures at the same sizes, the same elements scrolling sideways
    with their fades, the same code blocks shown given room under their copy button. What
    test_page checks on that tab holds on a phone. (Run by test_page on PHONE_LESSON, whose tab is
    then at hand: no second load of the lesson.)"""
    where = f"{lesson.url} (phone context)"
    phone = visit(size=PHONE, mobile=True)
    small = phone.goto(lesson.url)
    small.evaluate(OPEN_FOLDS_JS)
    pending = small.evaluate(FIGURES_SETTLED_JS)
    assert not pending, f"{where}: figures that did not load their source for {PHONE[0]}px: {pending}"
    check_layout(small, lesson, where, phone=True)
    on_phone = small.evaluate(PHONE_FACTS_JS)
    phone.assert_clean(where)
    assert on_phone["figures"] and on_phone["scrollers"], f"{lesson.url}: no figure or scroller to compare"
    assert on_phone == narrowed, f"{lesson.url}: a phone lays it out as\n{on_phone}\nthe tab at 390 px as\n{narrowed}"


def test_the_phone_lesson_is_a_page_of_the_site():
    """test_page compares PHONE_LESSON in a real phone context with its tab at 390 px: it must exist."""
    assert any(p.url == PHONE_LESSON for p in SITE_PAGES), f"{PHONE_LESSON} is not a page of the site: choose another lesson"


def test_some_page_has_content_tabs():
    """Lessons show the interview snippet in PyTorch / NumPy tabs; the tab checks must see some."""
    assert REAL_TAB_CLICKS, "no page has content tabs, so the tab checks above test nothing"


def _custom_losses() -> SitePage:
    found = [p for p in SITE_PAGES if p.source.name == "custom-losses.md"]
    if not found:
        pytest.fail("docs/custom-losses.md (the lesson search must find) does not exist")
    return found[0]


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


def _background_luminance(page) -> float:
    rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def _lightest_lesson_with_math(site: Path) -> SitePage:
    """The lesson with the smallest built page that shows math (quick to load twice)."""
    with_math = [p for p in SITE_PAGES if not p.is_reference and "<math" in (site / p.html).read_text(encoding="utf-8")]
    assert with_math, "no lesson shows math"
    return min(with_math, key=lambda p: (site / p.html).stat().st_size)


def test_dark_mode_toggles_and_persists(tab, screenshots, built_site):
    """The palette toggle darkens the page (math turns light), a reload keeps the dark scheme,
    and the toggle brings the light one back. (The tab's storage, where the theme keeps the
    scheme, is cleared before the next test.)"""
    lesson = _lightest_lesson_with_math(built_site[0])
    page = tab.goto(lesson.url)
    scheme = "() => document.body.getAttribute('data-md-color-scheme')"
    assert page.evaluate(scheme) == "default" and _background_luminance(page) > 0.8
    page.locator("label.md-header__button[for^='__palette']:visible").click()
    page.wait_for_function(f"({scheme})() === 'slate'")
    assert _background_luminance(page) < 0.2, "dark mode did not darken the page"
    color = page.evaluate("() => getComputedStyle(document.querySelector('.md-content math')).color")
    r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
    assert (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 > 0.5, f"math is dark on dark: {color}"
    page.screenshot(path=screenshots / f"{lesson.slug}-desktop-dark.png")
    page.reload(wait_until="load")
    page.wait_for_function(READY_JS)
    assert page.evaluate(scheme) == "slate", "the dark scheme is forgotten on reload"
    if os.environ.get("LOSSBOOK_SCREENSHOTS"):  # the same lesson, dark, on a phone: for people to look at
        page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        page.screenshot(path=screenshots / f"{lesson.slug}-phone-dark.png", full_page=True)
        page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    page.locator("label.md-header__button[for^='__palette']:visible").click()
    page.wait_for_function(f"({scheme})() === 'default'")
    assert _background_luminance(page) > 0.8
    tab.assert_clean("dark mode")


# What sets a page up differently when it arrives (by a full load or by instant loading): its
# section (API reference, glossary, the rest), each element the site's own scripts
# (docs/assets/*.js) look up to set a page up (the quizzes, the one-week plan, the progress tools, the review queue, the mock
# interview: read from the scripts, so a new one counts), and what the theme or lossbook.js sets
# up in the content (content tabs, math, figures).
CONTENT = re.compile(r'<article class="md-content__inner.*?</article>', re.DOTALL)


@functools.cache
def script_hooks() -> tuple[str, ...]:
    """The ids and classes the site's scripts look a page's elements up by: 'id=x', 'class=x'."""
    hooks = set()
    for script in (DOCS / "assets").glob("*.js"):
        text = script.read_text(encoding="utf-8")
        hooks |= {f"id={name}" for name in re.findall(r'getElementById\("([\w-]+)"\)', text)}
        hooks |= {f"class={name}" for name in re.findall(r'document\.querySelectorAll\("\.([\w-]+)"\)', text)}
    return tuple(sorted(hooks))


def set_up_by(site_page: SitePage, html: str) -> set[str]:
    """What sets this built page up on arrival (see above)."""
    content = "".join(CONTENT.findall(html))
    classes = {c for attr in re.findall(r'class="([^"]*)"', content) for c in attr.split()}
    ids = set(re.findall(r'id="([^"]*)"', content))
    found = {h for h in script_hooks() if h.partition("=")[2] in (ids if h.startswith("id=") else classes)}
    found.add("section=" + (site_page.url.split("/")[0] if site_page.url.startswith(("reference/", "glossary/"))
                            else "other"))
    found |= {name for name, there in (("tabs", "tabbed-set" in classes), ("math", "<math" in content),
                                       ("figures", "<img" in content)) if there}
    return found


def pages_covering_every_set_up(site: Path, *, besides: SitePage) -> list[SitePage]:
    """The fewest small pages that between them meet every set-up (``set_up_by``) that ``besides``
    (a page already reached the same way) does not: for each set-up not yet met, in a fixed order,
    the smallest built page with it. In site order."""
    built = {p: set_up_by(p, (site / p.html).read_text(encoding="utf-8")) for p in SITE_PAGES}
    size = {p: (site / p.html).stat().st_size for p in SITE_PAGES}
    met, chosen = set(built[besides]), []
    for need in sorted(set().union(*built.values())):
        if need not in met:
            page = min((p for p in SITE_PAGES if need in built[p] and p != besides), key=size.get)
            chosen.append(page)
            met |= built[page]
    return sorted(chosen, key=SITE_PAGES.index)


def test_instant_loading_takes_every_page(base_url):
    """The theme's instant loading takes a link only to a page its sitemap lists (as served here):
    every page is listed, so every page can be reached without a reload (test_page reaches most
    pages so and fails on a reload; test_search_contents_and_instant_navigation clicks the
    navigation's links through a page of each set-up; every page's links resolve:
    tests/test_links.py)."""
    with urllib.request.urlopen(base_url + "sitemap.xml", timeout=30) as response:
        listed = set(re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", response.read().decode("utf-8")))
    missing = [p.url or "home page" for p in SITE_PAGES if base_url + p.url not in listed]
    assert not missing, f"pages the sitemap does not list (instant loading would reload for them): {missing}"


# Click each navigation link in turn, in the page (one call for the whole walk): each page must
# arrive (the URL, then its h1) in the same window (the marker set on it survives: no reload).
NAV_WALK_JS = """async ({hrefs, titles}) => {
  const h1 = %H1%;
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  const problems = [];
  for (let i = 0; i < hrefs.length; i++) {
    sessionStorage.setItem('lossbook-walk', hrefs[i]);  // survives a reload, to name the page
    const link = [...document.querySelectorAll('.md-nav--primary a.md-nav__link')].find((a) => a.href === hrefs[i]);
    if (!link) { problems.push(`${hrefs[i]}: no longer in the navigation`); continue; }
    link.click();
    const start = performance.now();
    while (!(location.href === hrefs[i] && h1() === titles[i])) {
      if (performance.now() - start > 15000) break;
      await frame();
    }
    if (location.href !== hrefs[i] || h1() !== titles[i]) {
      problems.push(`${hrefs[i]}: did not arrive (at ${location.href}, h1 ${JSON.stringify(h1())})`);
      break;
    }
    if (window.__lossbookMarker !== 'kept') problems.push(`${hrefs[i]}: the window was replaced`);
  }
  return problems;
}""".replace("%H1%", H1_JS)


def test_search_contents_and_instant_navigation(visit, built_site):
    """A reader's way through the site in one window (one full load, the home page, with the
    site's real search index: the other tabs get an empty one):

    - search: "focal loss" ranks the Custom losses lesson first; "retinanet" finds every page that
      writes RetinaNet next to punctuation; "focal" lists the lesson, and its result opens it by
      instant loading (no reload) with "focal" highlighted;
    - table of contents: on that lesson, clicking an entry scrolls to that section and highlights
      that entry (not the one before: the theme marks a section once its heading reaches the top,
      and nothing of ours may push the heading below that line);
    - instant navigation: every page is in the navigation; clicking its link reaches one page of
      each set-up (``pages_covering_every_set_up``) in turn, each arriving (its h1) without a full reload
      (the window is kept), and Back returns.
    """
    site, _ = built_site
    lesson = _custom_losses()
    tab = visit(size=DESKTOP, search=True)
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

    found = _search(page, "focal")
    assert lesson.url in found, f"searching 'focal' does not list the Custom losses lesson: {found}"
    page.evaluate("() => { window.__lossbookMarker = 'kept' }")
    results = page.locator(".md-search-result__item > a.md-search-result__link")
    results.nth(found.index(lesson.url)).click()
    page.wait_for_url(re.compile(re.escape(tab.base + lesson.url)))
    # instant loading updates the URL before it swaps the content: wait for the new title
    page.wait_for_function(f"(title) => ({H1_JS})() === title", arg="Custom losses", timeout=15_000)
    assert page.evaluate("() => window.__lossbookMarker") == "kept", "the result link reloaded the page"
    page.locator(".md-content mark").first.wait_for(timeout=15_000)
    marks = page.locator(".md-content mark").all_inner_texts()
    assert any("focal" in m.lower() for m in marks), f"the landing page does not highlight 'focal': {marks[:5]}"
    tab.assert_clean("search")

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

    in_nav = {href for href in page.locator(".md-nav--primary a.md-nav__link[href]").evaluate_all(
        "(as) => as.map((a) => a.href)") if "#" not in href}
    expected = {tab.base + p.url for p in SITE_PAGES}
    assert expected <= in_nav, f"pages missing from the navigation: {sorted(expected - in_nav)}"
    walk = pages_covering_every_set_up(site, besides=lesson)
    assert len(walk) >= 2, f"the walk has {len(walk)} pages: too few to go Back"
    hrefs = [tab.base + p.url for p in walk]
    titles = [built_h1((site / p.html).read_text(encoding="utf-8")) for p in walk]
    try:
        problems = page.evaluate(NAV_WALK_JS, {"hrefs": hrefs, "titles": titles})
    except PlaywrightError as error:  # a full load destroys the walk's script
        at = page.evaluate("() => sessionStorage.getItem('lossbook-walk')")
        raise AssertionError(f"instant navigation: a full page load while going to {at}: {error}") from None
    assert not problems, "instant navigation:\n" + "\n".join(problems)
    page.go_back()
    page.wait_for_url(hrefs[-2])
    page.wait_for_function(f"(title) => ({H1_JS})() === title", arg=titles[-2])
    tab.assert_clean("instant navigation")

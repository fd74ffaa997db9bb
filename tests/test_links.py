"""Internal links and anchors of the built site: zero broken, every page reachable, nothing
loaded from another host.

The strict build checks the links written in Markdown; this crawl checks what the site actually
ships (theme navigation, mkdocstrings cross-references, autorefs, header permalinks, figures,
assets): every local ``href``/``src`` names a file of the built site, and every ``#fragment``
names an ``id`` (or ``name``) on the page it points to. The same parse of every page gives the
URLs a browser fetches by itself, none of which may name another host (the site needs no network).
"""

from __future__ import annotations

import posixpath
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from docs_pages import mkdocs_config

# The crawls parse every built page (~2.3 CPU s, pure-Python HTMLParser); on one worker the
# others reuse the first's parses.
pytestmark = pytest.mark.xdist_group("test_links.py")

# Attributes that name another resource of the site.
LINK_ATTRS = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src"),
              ("iframe", "src")}


# What a browser fetches by itself (not hyperlinks or rel=canonical): these elements' src, and
# the href of a <link> with one of these rels.
LOADING_TAGS = {"script", "img", "iframe", "source", "video", "audio", "embed", "track"}
LOADING_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}


class _Page(HTMLParser):
    """Collect a page's outgoing references, the anchors it defines and what it loads."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.anchors: set[str] = set()
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.anchors.add(attrs[key])
        for wanted_tag, attr in LINK_ATTRS:
            if tag == wanted_tag and attrs.get(attr) is not None:
                self.links.append((tag, attrs[attr]))
        if tag in LOADING_TAGS:
            self.loads.append(attrs.get("src") or "")
        elif tag == "link" and set((attrs.get("rel") or "").split()) & LOADING_RELS:
            self.loads.append(attrs.get("href") or "")

    handle_startendtag = handle_starttag


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


@cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _target(site: Path, page: Path, url: str) -> tuple[Path | None, str]:
    """The file a local URL on ``page`` resolves to (None when it does not exist) and its fragment."""
    url, fragment = urldefrag(url)
    path = unquote(urlsplit(url).path)
    if not path:  # "#anchor" or "": the page itself
        return page, unquote(fragment)
    if path.startswith("/"):  # absolute: 404.html links from the site_url's path (/lossbook/...)
        prefix = _site_path()
        if not path.startswith(prefix):
            return None, fragment
        resolved = posixpath.normpath(path.removeprefix(prefix) or ".")
    else:
        resolved = posixpath.normpath(posixpath.join(page.parent.relative_to(site).as_posix(), path))
    if resolved.startswith(".."):
        return None, fragment
    candidate = site / resolved
    if candidate.is_dir() or path.endswith("/"):
        candidate = candidate / "index.html"
    return (candidate if candidate.is_file() else None), unquote(fragment)


@cache
def _site_path() -> str:
    """The path part of mkdocs.yml's site_url, with a trailing slash: where the site is served."""
    path = urlsplit(mkdocs_config().get("site_url") or "/").path
    return path if path.endswith("/") else path + "/"


def _html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def broken_links(site: Path) -> list[str]:
    """Every local reference of every built page that names no file, or an anchor that is absent."""
    problems = []
    for page in _html_pages(site):
        where = page.relative_to(site).as_posix()
        for tag, url in _parse(page).links:
            if not _is_local(url) or url.startswith(("javascript:", "data:")):
                continue
            target, fragment = _target(site, page, url)
            if target is None:
                problems.append(f"{where}: <{tag}> {url!r} names no file of the site")
            elif fragment and target.suffix == ".html" and fragment not in _parse(target).anchors:
                problems.append(f"{where}: <{tag}> {url!r}: no id {fragment!r} on {target.relative_to(site)}")
    return problems


def test_every_local_link_and_anchor_resolves(built_site):
    site, _ = built_site
    pages = _html_pages(site)
    assert len(pages) >= 3, f"the site has only {len(pages)} pages"
    problems = broken_links(site)
    assert not problems, f"{len(problems)} broken links:\n" + "\n".join(problems[:40])


def _external(url: str) -> bool:
    return bool(re.match(r"(?:[a-z]+:)?//", url)) and not re.match(r"(?:https?:)?//(127\.0\.0\.1|localhost)", url)


def loads_from_other_hosts(site: Path) -> list[str]:
    """What a page or a stylesheet of the site would fetch from another host."""
    offenders = []
    for page in _html_pages(site):
        offenders += [f"{page.relative_to(site)}: {u}" for u in _parse(page).loads if _external(u)]
    for path in site.rglob("*.css"):
        for url in re.findall(r"""url\(["']?([^"')]+)""", path.read_text(encoding="utf-8")):
            if _external(url):
                offenders.append(f"{path.relative_to(site)}: url({url})")
    return offenders


def test_no_request_to_another_host(built_site):
    """No script, stylesheet, font or image is loaded from another host."""
    offenders = loads_from_other_hosts(built_site[0])
    assert not offenders, "\n".join(offenders[:20])


def test_every_page_is_reachable_from_the_home_page(built_site):
    """No orphan: following local links from index.html reaches every built page (but 404.html)."""
    site, _ = built_site
    seen, todo = set(), [site / "index.html"]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for _, url in _parse(page).links:
            if _is_local(url):
                target, _ = _target(site, page, url)
                if target is not None and target.suffix == ".html":
                    todo.append(target)
    orphans = sorted(p.relative_to(site).as_posix() for p in set(_html_pages(site)) - seen)
    assert orphans == ["404.html"], f"pages no link leads to: {orphans}"


def test_the_crawler_finds_broken_links(tmp_path):
    """The checkers themselves, on a tiny site: a missing page, a missing anchor and a good anchor;
    then what a page and a stylesheet load from other hosts (not localhost, not a hyperlink)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<h1 id="top">x</h1><a href="a/">ok</a><a href="#top">ok</a><a href="b/">missing page</a>'
        '<a href="a/#nowhere">missing anchor</a><a href="https://example.org/">external</a>'
        '<img src="figures/none.svg">', encoding="utf-8")
    (tmp_path / "a" / "index.html").write_text('<p id="here">a</p><a href="../#top">up</a>'
                                               '<a href="../index.html#here">wrong page</a>',
                                               encoding="utf-8")
    problems = broken_links(tmp_path)  # its own paths: the parsed built site stays cached
    assert len(problems) == 4, problems
    assert any("'b/'" in p for p in problems)
    assert any("'a/#nowhere'" in p and "no id 'nowhere'" in p for p in problems)
    assert any("figures/none.svg" in p for p in problems)
    assert any(p.startswith("a/index.html") and "here" in p for p in problems)
    assert not any(re.search(r"example\.org|'#top'|'a/'", p) for p in problems)
    (tmp_path / "c").mkdir()  # a page not parsed yet (parses are cached by path)
    (tmp_path / "c" / "style.css").write_text("@font-face{src:url(https://fonts.example/f.woff2)}",
                                               encoding="utf-8")
    (tmp_path / "c" / "index.html").write_text(
        '<link rel="stylesheet" href="//cdn.example/x.css"><link rel="canonical" href="https://x.org/">'
        '<script src="https://cdn.example/x.js"></script><img src="https://img.example/a.png">'
        '<script src="http://127.0.0.1:8000/livereload.js"></script><img src="//localhost:8000/b.png">'
        '<script src="local.js"></script>', encoding="utf-8")
    loads = loads_from_other_hosts(tmp_path)
    assert loads == ["c/index.html: //cdn.example/x.css", "c/index.html: https://cdn.example/x.js",
                     "c/index.html: https://img.example/a.png", "c/style.css: url(https://fonts.example/f.woff2)"], loads

"""Review cards: every folded interview question on the site, harvested at build time.

Each ``??? question "..."`` block of a lesson or glossary page (a ``<details class="question">``
once rendered) becomes a card: the question, the answer as the page renders it, the page (its
lesson), the difficulty and a link back to the question itself (the hook gives each question an
id, ``q-<slug>``). New questions appear on the Review page and in the Anki deck automatically.

A card's difficulty is the ``*Difficulty:* **easy|medium|hard**`` line of the section it sits in
(the glossary's convention), or such a line as the first line of the answer; otherwise "unrated".

- ``review.md``: the element ``<div id="lb-review-cards"></div>`` is replaced by every card (in
  the order of the navigation), readable without JavaScript; ``assets/review.js`` schedules them.
- ``downloads/lossbook-review.apkg``: the same cards as an Anki deck (genanki), math kept as
  Anki's MathJax ``\\( \\)`` / ``\\[ \\]``, links made absolute, and a link back to each question.

Hook order: this hook must run its ``on_page_content`` before ``mathml.py`` (the LaTeX is still
there for Anki); the Review page gets MathML from ``mathml.render_math``.
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
import json
import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, InclusionLevel
from mkdocs.utils import get_relative_url

REVIEW_PAGE = "review.md"
PLACEHOLDER = '<div id="lb-review-cards"></div>'
DECK_PATH = "downloads/lossbook-review.apkg"
DECK_ID = 1_733_040_001  # fixed: re-importing the deck updates it instead of adding a second one
MODEL_ID = 1_733_040_002
DIFFICULTIES = ("easy", "medium", "hard")
OPEN_QUESTION = re.compile(r'<details class="question"(?P<attrs>[^>]*)>\s*<summary>(?P<summary>.*?)</summary>', re.S)
DETAILS_TAG = re.compile(r"<(/?)details\b[^>]*>")
HEADING = re.compile(r'<h(?P<level>[1-6]) id="(?P<id>[^"]+)"[^>]*>(?P<title>.*?)</h(?P=level)>', re.S)
DIFFICULTY = re.compile(r"<em>Difficulty:</em>\s*<strong>(?P<level>[A-Za-z]+)</strong>")
LEADING_DIFFICULTY = re.compile(r"^\s*<p><em>Difficulty:</em>\s*<strong>(?P<level>[A-Za-z]+)</strong>\s*</p>\s*")
URL_ATTR = re.compile(r'(?P<attr>\s(?:href|src))="(?P<url>[^"]*)"')
AUTOREF = re.compile(r"<autoref\b[^>]*>(.*?)</autoref>", re.S)


@dataclass
class Card:
    id: str  # "glossary/rl.md#q-why-the-minimum-and-not-just-the-clipped-term"
    page: str  # src_uri
    page_url: str  # "glossary/rl/"
    lesson: str
    anchor: str
    question: str  # HTML (inline)
    answer: str  # HTML, links relative to the page, LaTeX still in arithmatex spans
    difficulty: str
    section: str  # title of the section it sits in


def text_of(fragment: str) -> str:
    fragment = re.sub(r'<a class="headerlink".*?</a>', "", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:80].strip("-") or "question"


def _matching_close(content: str, start: int) -> int:
    """Index just after the ``</details>`` closing the ``<details`` opened at ``start``."""
    depth = 0
    for tag in DETAILS_TAG.finditer(content, start):
        depth += -1 if tag[1] else 1
        if depth == 0:
            return tag.end()
    raise ValueError("unclosed <details>")


def harvest(content: str, page: str, page_url: str, lesson: str) -> tuple[str, list[Card]]:
    """The page's HTML with an id on every question, and its cards."""
    cards: list[Card] = []
    out, at, used = [], 0, set()
    for match in OPEN_QUESTION.finditer(content):
        if match.start() < at:
            continue  # a question inside another question's answer: part of that answer
        end = _matching_close(content, match.start())
        before = content[:match.start()]
        headings = list(HEADING.finditer(before))
        section = text_of(headings[-1]["title"]) if headings else lesson
        h2 = [h for h in headings if h["level"] in "12"]
        section_text = before[h2[-1].end():] if h2 else before
        level = DIFFICULTY.findall(section_text.split("<details", 1)[0])  # the section's own line
        difficulty = level[-1].lower() if level else "unrated"
        question = match["summary"].strip()
        body = content[match.end():end - len("</details>")].strip()
        explicit = LEADING_DIFFICULTY.match(body)
        if explicit:
            difficulty = explicit["level"].lower()
            body = body[explicit.end():]
        if difficulty not in (*DIFFICULTIES, "unrated"):
            raise PluginError(f"review: {page}: question {text_of(question)!r} has difficulty {difficulty!r};"
                              f" expected one of {DIFFICULTIES}")
        anchor = "q-" + slug(text_of(question))
        base, n = anchor, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        attrs = match["attrs"]
        if ' id="' in attrs:
            anchor = re.search(r' id="([^"]+)"', attrs)[1]
            opening = match.group(0)
        else:
            opening = match.group(0).replace('<details class="question"', f'<details class="question" id="{anchor}"', 1)
        out += [content[at:match.start()], opening, content[match.end():end]]
        at = end
        cards.append(Card(f"{page}#{anchor}", page, page_url, lesson, anchor, question, body, difficulty, section))
    out.append(content[at:])
    return "".join(out), cards


def rebase_links(fragment: str, page_url: str, to_url: str | None, *, site_url: str = "") -> str:
    """Links of a fragment written for ``page_url``, rewritten for a page at ``to_url`` (or made
    absolute against ``site_url`` when ``to_url`` is None)."""

    def replace(match: re.Match[str]) -> str:
        url = html.unescape(match["url"])
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.I):
            return match.group(0)
        target = page_url + url if url.startswith("#") else posixpath.normpath(posixpath.join(page_url, url))
        if url.endswith("/") and not target.endswith("/"):
            target += "/"
        if target == ".":
            target = ""
        if to_url is None:
            new = urljoin(site_url, target)
        else:
            new = get_relative_url(target, to_url) if target and not target.startswith("#") else target
        return f'{match["attr"]}="{html.escape(new, quote=True)}"'

    return URL_ATTR.sub(replace, fragment)


def _hook(name: str):
    """Another hook of docs/hooks/, loaded afresh (mkdocs loads hooks by path, not as a package)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"lossbook_review_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mathml():
    return _hook("mathml")


@functools.cache
def _lighten():
    return _hook("lighter_code").lighten


CODE_BLOCK = re.compile(r"<pre([^>]*)>(?:<span></span>)?<code[^>]*>(.*?)</code></pre>", re.S)
LINE_ANCHOR = re.compile(r'<a id="__codelineno-[^"]*"[^>]*></a>')


def quiet_code(fragment: str) -> str:
    """Code blocks of an answer shown as plain preformatted text on the Review page: no copy button
    (the code is copied, run and tested on its own page, which the card links to) and no line
    anchors, whose ids would repeat across cards. Its spans are lightened as every page's are
    (lighter_code.py runs after this hook harvests the cards)."""
    fragment = LINE_ANCHOR.sub("", fragment)
    lighten = _lighten()
    return CODE_BLOCK.sub(lambda m: f'<pre class="lb-card__code">{lighten(m[2])}</pre>', fragment)


def render_cards(cards: list[Card], review_url: str) -> str:
    """The cards as the Review page shows them: one folded block per card, grouped by lesson."""
    render_math = _mathml().render_math
    out = [f'<div id="lb-review-cards" class="lb-review-cards" data-count="{len(cards)}">']
    lesson = None
    for card in cards:
        if card.lesson != lesson:
            if lesson is not None:
                out.append("</section>")
            lesson = card.lesson
            out.append(f'<section class="lb-review-lesson"><h3 class="lb-review-lesson__title">{html.escape(lesson)}</h3>')
        link = get_relative_url(card.page_url + "#" + card.anchor, review_url)
        body = render_math(rebase_links(quiet_code(card.answer), card.page_url, review_url), card.page)
        question = render_math(rebase_links(card.question, card.page_url, review_url), card.page)
        out.append(
            f'<details class="lb-card" data-card="{html.escape(card.id, quote=True)}"'
            f' data-lesson="{html.escape(card.lesson, quote=True)}" data-difficulty="{card.difficulty}">'
            f'<summary class="lb-card__question">{question}</summary>'
            f'<div class="lb-card__answer">{body}</div>'
            f'<p class="lb-card__meta"><span class="lb-card__difficulty">{card.difficulty}</span> · '
            f'<a class="lb-card__source" href="{html.escape(link, quote=True)}">'
            f"{html.escape(card.lesson)}: {html.escape(card.section)}</a></p></details>"
        )
    if lesson is not None:
        out.append("</section>")
    out.append("</div>")
    return "\n".join(out)


# --------------------------------------------------------------------------- the Anki deck

ANKI_CSS = """.card { font-family: system-ui, sans-serif; font-size: 18px; line-height: 1.5;
  text-align: left; color: #1d1d1f; background: #fff; max-width: 46em; margin: 0 auto; }
.nightMode.card, .night_mode .card { color: #e6e6e6; background: #1e1e1e; }
pre, code { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { overflow-x: auto; background: rgba(127,127,127,0.12); padding: 0.6em; border-radius: 4px; }
.meta { font-size: 0.8em; opacity: 0.8; margin-top: 1.5em; }
.difficulty { text-transform: uppercase; font-weight: 600; }
.tabbed-labels { display: none; }
"""


def for_anki(fragment: str, page_url: str, site_url: str) -> str:
    """A card's HTML for Anki: absolute links, autorefs as their text, buttons and permalinks gone;
    the LaTeX stays in ``\\( \\)`` / ``\\[ \\]``, which Anki renders with its MathJax."""
    fragment = AUTOREF.sub(r"\1", fragment)
    fragment = re.sub(r'<a class="headerlink".*?</a>', "", fragment, flags=re.S)
    fragment = re.sub(r'<button[^>]*>.*?</button>', "", fragment, flags=re.S)
    return rebase_links(fragment, page_url, None, site_url=site_url)


def build_deck(cards: list[Card], site_url: str) -> bytes:
    import genanki

    model = genanki.Model(
        MODEL_ID, "Lossbook question",
        fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Source"}, {"name": "Lesson"},
                {"name": "Difficulty"}, {"name": "CardId"}],
        templates=[{
            "name": "Question and answer",
            "qfmt": '{{Question}}<div class="meta">{{Lesson}} · <span class="difficulty">{{Difficulty}}</span></div>',
            "afmt": '{{FrontSide}}<hr id="answer">{{Answer}}<div class="meta">{{Source}}</div>',
        }],
        css=ANKI_CSS,
        sort_field_index=0,
    )
    deck = genanki.Deck(DECK_ID, "Lossbook interview questions")
    for card in cards:
        url = urljoin(site_url, card.page_url + "#" + card.anchor)
        source = f'<a href="{html.escape(url, quote=True)}">Read it on Lossbook: {html.escape(card.lesson)}, {html.escape(card.section)}</a>'
        tag = re.sub(r"[^\w-]+", "-", card.lesson).strip("-").lower()
        deck.add_note(genanki.Note(
            model=model,
            fields=[for_anki(card.question, card.page_url, site_url), for_anki(card.answer, card.page_url, site_url),
                    source, html.escape(card.lesson), card.difficulty, card.id],
            guid=genanki.guid_for("lossbook", card.id),
            tags=[f"lossbook::{tag}", f"difficulty::{card.difficulty}"],
        ))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "deck.apkg"
        genanki.Package(deck).write_to_file(str(path), timestamp=0)
        return path.read_bytes()


# --------------------------------------------------------------------------- mkdocs hooks

_STATE: dict = {"cards": {}, "order": []}


def on_config(config):
    _STATE["cards"] = {}
    _STATE["order"] = []
    return config


def on_files(files, config):
    # Registered now so the Review page's link to it is checked; the bytes are written in on_env.
    deck = File.generated(config, DECK_PATH, content=b"", inclusion=InclusionLevel.INCLUDED)
    files.append(deck)
    _STATE["deck"] = deck
    return files


def on_nav(nav, config, files):
    _STATE["order"] = [page.file.src_uri for page in nav.pages]
    _STATE["titles"] = {page.file.src_uri: page.title for page in nav.pages}
    return nav


def on_page_content(html_content, page, config, files):
    src = page.file.src_uri
    if src == REVIEW_PAGE or src.startswith("reference/") or '<details class="question"' not in html_content:
        return html_content
    lesson = _STATE.get("titles", {}).get(src) or page.title or src
    try:
        html_content, cards = harvest(html_content, src, page.url, lesson)
    except ValueError as error:
        raise PluginError(f"review: {src}: {error}") from error
    _STATE["cards"][src] = cards
    return html_content


def all_cards() -> list[Card]:
    order = {src: k for k, src in enumerate(_STATE["order"])}
    pages = sorted(_STATE["cards"], key=lambda src: (order.get(src, len(order)), src))
    return [card for src in pages for card in _STATE["cards"][src]]


def on_env(env, config, files):
    cards = all_cards()
    review = files.get_file_from_path(REVIEW_PAGE)
    if review is not None and review.page is not None and review.page.content is not None:
        if PLACEHOLDER not in review.page.content:
            raise PluginError(f"review: docs/{REVIEW_PAGE} has no {PLACEHOLDER} for the cards")
        review.page.content = review.page.content.replace(PLACEHOLDER, render_cards(cards, review.page.url))
    deck = _STATE.get("deck")
    if deck is not None:
        deck.content_bytes = build_deck(cards, config.site_url or "")
    _STATE["summary"] = {"cards": len(cards), "hash": hashlib.sha256(json.dumps([c.id for c in cards]).encode()).hexdigest()[:12]}
    return env

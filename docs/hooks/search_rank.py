"""Search: lessons rank first, and the index is built from light HTML.

Ranking: searching "focal loss" should open the lesson that teaches it, not a glossary question
that mentions it. Material's search plugin ranks a page's sections higher when the page sets
``search: boost: <number>`` in its front matter (above 1 ranks up). Rather than asking every
lesson author to remember that, this hook gives each page in the navigation section
``LESSONS_SECTION`` the boost ``LESSON_BOOST``, unless the page sets its own.

Speed: the plugin splits each page into sections with Python's ``html.parser``, one callback per
tag, each scanning the open tags; the lessons' highlighted code (a ``<span>`` per token) and
build-time MathML (a tag per symbol) made that most of the plugin's time. Such tags carry
nothing the index keeps (it keeps their text, and only ``p``, ``code``, ``pre``, lists, ``sub`` and
``sup`` as markup), so the plugin is handed each page without them (``light_html``); the page
itself is unchanged. The index text is the same but for runs of spaces where a removed tag sat
between two spaces (the search tokenizer splits at any run of them).

``tests/test_browser.py`` checks the result in a real browser: "focal loss" lists the Custom
losses lesson first; "retinanet" finds the word next to punctuation.
"""

from __future__ import annotations

import re

LESSONS_SECTION = "Lessons"
LESSON_BOOST = 2.0  # Material's advice: start low; 2 is enough to put the lesson first

# Tags whose text the index keeps but whose markup it drops, none of which holds a heading:
# Pygments' and arithmatex's spans, MathML, links, emphasis, form controls, inline SVG icons and
# tables. An attribute may hold ">" only inside quotes; a tag the author excluded from search
# (data-search-exclude) is kept, so the plugin still skips it. A heading's permalink goes whole:
# the plugin drops its text (the pilcrow) from the title, and it is the one link it looks at.
_ATTRS = r"""(?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*\s*/?"""
_MATHML = ("math|mi|mo|mn|ms|mrow|msub|msup|msubsup|mfrac|mspace|mtext|mover|munder|munderover|"
           "msqrt|mroot|mtable|mtr|mtd|mlabeledtr|mstyle|mpadded|mphantom|menclose|merror|"
           "semantics|annotation")
_DROPPED = (f"span|{_MATHML}|a|strong|em|b|i|small|abbr|kbd|mark|del|ins|label|input|button|svg|path|"
            "table|thead|tbody|tfoot|tr|td|th|img|picture|source")
_PERMALINK = re.compile(r'<a\b(?=[^>]*\bclass="headerlink")[^>]*>[^<]*</a>')
_INLINE = re.compile(rf"<(?!\w+[^>]*\bdata-search-exclude)(?:{_DROPPED})\b{_ATTRS}>|</(?:{_DROPPED})\s*>")


def light_html(html: str) -> str:
    """The page's HTML without the tags the search index drops (their text stays)."""
    return _INLINE.sub("", _PERMALINK.sub("", html))


def is_lesson(page) -> bool:
    section = page.parent
    while section is not None:
        if getattr(section, "title", None) == LESSONS_SECTION:
            return True
        section = section.parent
    return False


def on_config(config):
    search = config.plugins.get("material/search")
    index = getattr(search, "search_index", None)  # made by the plugin's on_config, before this
    if index is None:
        return config
    add_entry = index.add_entry_from_context

    def add_entry_from_light_html(page):
        content = page.content
        page.content = light_html(content)
        try:
            add_entry(page)
        finally:
            page.content = content

    index.add_entry_from_context = add_entry_from_light_html
    return config


def on_page_markdown(markdown, page, config, files):
    if is_lesson(page):
        search = page.meta.setdefault("search", {})
        if isinstance(search, dict):
            search.setdefault("boost", LESSON_BOOST)
    return markdown

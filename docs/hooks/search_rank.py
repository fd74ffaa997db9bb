"""Search ranking: a lesson comes before a glossary answer or an API entry that uses the same words.

Searching "focal loss" should open the lesson that teaches it, not a glossary question that
mentions it. Material's search plugin ranks a page's sections higher when the page sets
``search: boost: <number>`` in its front matter (above 1 ranks up). Rather than asking every
lesson author to remember that, this hook gives each page in the navigation section
``LESSONS_SECTION`` the boost ``LESSON_BOOST``, unless the page sets its own.

``tests/test_browser.py`` checks the result in a real browser: "focal loss" lists the Custom
losses lesson first.
"""

from __future__ import annotations

LESSONS_SECTION = "Lessons"
LESSON_BOOST = 2.0  # Material's advice: start low; 2 is enough to put the lesson first


def is_lesson(page) -> bool:
    section = page.parent
    while section is not None:
        if getattr(section, "title", None) == LESSONS_SECTION:
            return True
        section = section.parent
    return False


def on_page_markdown(markdown, page, config, files):
    if is_lesson(page):
        search = page.meta.setdefault("search", {})
        if isinstance(search, dict):
            search.setdefault("boost", LESSON_BOOST)
    return markdown

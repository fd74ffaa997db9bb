"""Every lesson and glossary page cites its sources and ends with a quiz."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _nav_pages(section):
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)  # !ENV, !!python/name
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)["nav"]
    entries = next(item[section] for item in nav if isinstance(item, dict) and section in item)
    return [p for e in entries for p in (e.values() if isinstance(e, dict) else [e]) if p != "glossary/index.md"]


LESSONS = _nav_pages("Lessons") + _nav_pages("Loss glossary")


@pytest.mark.parametrize("page", LESSONS)
def test_every_lesson_cites_its_sources_and_ends_with_a_quiz(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert re.search(r"\[@[\w:.-]+, [^\]]+\]", text), f"{page} cites no source"
    assert "```quiz" in text.split("\n## Quiz", 1)[-1] and "\n## Quiz" in text, f"{page} does not end with a quiz"

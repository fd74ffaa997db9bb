"""Review cards and the Anki deck: every folded interview question on the site, harvested at build
time by docs/hooks/review.py (loaded from its file, as mkdocs loads it)."""

from __future__ import annotations

import html
import importlib.util
import re
import sqlite3
import sys
import zipfile

import pytest
from docs_pages import DOCS, pages, relative

QUESTION = re.compile(r'^\s*\?\?\?\+? question "', re.M)


def _load_hook():
    spec = importlib.util.spec_from_file_location("lossbook_review_hook", DOCS / "hooks" / "review.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


review = _load_hook()


def site_questions() -> int:
    """The folded interview questions in the page sources (the API reference has none)."""
    return sum(len(QUESTION.findall(p.read_text(encoding="utf-8"))) for p in pages()
               if p.name != "review.md" and not relative(p).startswith("docs/reference/"))


PAGE = """<h1 id="t">T</h1>
<h2 id="ppo">How does PPO work?<a class="headerlink" href="#ppo">¶</a></h2>
<p><em>Difficulty:</em> <strong>medium</strong> · see <a href="../alignment/#dpo">DPO</a></p>
<details class="question"><summary>Why the minimum?</summary>
<p>Because <span class="arithmatex">\\(r_t\\)</span> moved; see <a href="#ppo">above</a>.</p>
<details class="note"><summary>nested</summary><p>inner</p></details>
</details>
<h2 id="sac">SAC</h2>
<details class="question"><summary>Why the minimum?</summary>
<p><em>Difficulty:</em> <strong>hard</strong></p>
<p>Two critics.</p>
</details>
<details class="question"><summary>Plain?</summary><p>Yes.</p></details>
"""


def test_harvest_finds_every_question_with_its_section_and_difficulty():
    content, cards = review.harvest(PAGE, "glossary/rl.md", "glossary/rl/", "RL")
    assert [c.question for c in cards] == ["Why the minimum?", "Why the minimum?", "Plain?"]
    assert [c.anchor for c in cards] == ["q-why-the-minimum", "q-why-the-minimum-2", "q-plain"]
    assert [c.difficulty for c in cards] == ["medium", "hard", "unrated"]
    assert [c.section for c in cards] == ["How does PPO work?", "SAC", "SAC"]
    assert "inner" in cards[0].answer and "Two critics." in cards[1].answer
    assert "Difficulty" not in cards[1].answer, "an explicit difficulty line is metadata, not answer"
    assert content.count('<details class="question" id="q-') == 3, "each question gets an id to link to"


def test_links_are_rebased_for_the_review_page_and_made_absolute_for_anki():
    _, cards = review.harvest(PAGE, "glossary/rl.md", "glossary/rl/", "RL")
    here = review.rebase_links(cards[0].answer, "glossary/rl/", "review/")
    assert 'href="../glossary/rl/#ppo"' in here
    anki = review.for_anki(PAGE, "glossary/rl/", "https://example.org/lb/")
    assert 'href="https://example.org/lb/glossary/alignment/#dpo"' in anki
    assert "\\(r_t\\)" in anki, "Anki renders the LaTeX itself"
    assert "headerlink" not in anki


def test_a_bad_difficulty_fails():
    bad = PAGE.replace("<strong>hard</strong>", "<strong>brutal</strong>")
    with pytest.raises(Exception, match="brutal"):
        review.harvest(bad, "glossary/rl.md", "glossary/rl/", "RL")


# ----------------------------------------------------------------------------- the built site



def test_review_page_has_a_card_for_every_question(built_site):
    site, _ = built_site
    built = (site / "review" / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<details class="lb-card" data-card="([^"]+)"', built)
    assert len(cards) == site_questions() > 50
    assert len(set(cards)) == len(cards), "two cards share an id"
    assert '<div id="lb-review-cards"></div>' not in built
    for card in cards:  # every card links back to a question that exists on its page
        page, anchor = html.unescape(card).split("#")
        url = page[:-len("index.md")] if page.endswith("index.md") else page[:-3] + "/"
        target = (site / url / "index.html").read_text(encoding="utf-8")
        assert f'<details class="question" id="{anchor}"' in target, card


def test_anki_deck_is_a_package_with_one_card_per_question(built_site, tmp_path):
    site, _ = built_site
    deck = site / "downloads" / "lossbook-review.apkg"
    assert zipfile.is_zipfile(deck)
    with zipfile.ZipFile(deck) as package:
        assert "collection.anki2" in package.namelist()
        package.extract("collection.anki2", tmp_path)
    database = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        (cards,) = database.execute("select count(*) from cards").fetchone()
        (notes,) = database.execute("select count(*) from notes").fetchone()
        fields = [row[0].split("\x1f") for row in database.execute("select flds from notes")]
    finally:
        database.close()
    assert cards == notes == site_questions()
    assert all(len(f) == 6 for f in fields)
    assert all(f[2].startswith('<a href="http') and "#q-" in f[2] for f in fields), "each card links back"
    assert any("\\(" in f[1] for f in fields), "math is kept for Anki's MathJax"
    assert not any("<math" in f[1] for f in fields)
    review_page = (site / "review" / "index.html").read_text(encoding="utf-8")
    assert 'href="../downloads/lossbook-review.apkg"' in review_page


def test_code_in_answers_is_shown_without_copy_buttons_or_repeated_ids():
    block = ('<div class="highlight"><pre><span></span><code><a id="__codelineno-3-1" name="__codelineno-3-1" '
             'href="#__codelineno-3-1"></a><span class="kn">import</span> torch\n</code></pre></div>')
    quiet = review.quiet_code(block)
    assert "<code" not in quiet and "__codelineno" not in quiet
    assert '<pre class="lb-card__code"><span class="kn">import</span> torch\n</pre>' in quiet
    lighter = review.quiet_code(block.replace(' torch', '<span class="w"> </span><span class="n">torch</span>'))
    assert '<pre class="lb-card__code"><span class="kn">import</span> torch\n</pre>' in lighter, "spans lightened"

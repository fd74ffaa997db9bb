"""Quizzes: every answer key is the library's value, and a malformed block fails with page and line.

The hook (docs/hooks/quiz.py) is loaded from its file, as mkdocs loads it.
"""

from __future__ import annotations

import functools
import html as htmllib
import importlib.util
import math
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from docs_pages import DOCS, ROOT, pages, relative

import lossbook


def _load_hook():
    path = DOCS / "hooks" / "quiz.py"
    spec = importlib.util.spec_from_file_location("lossbook_quiz_hook", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


quiz = _load_hook()
QUIZ_PAGES = [p for p in pages() if "```quiz" in p.read_text(encoding="utf-8")]


@functools.cache
def page_questions(page: Path) -> list:
    """The parsed questions of a page (YAML: parsed once per process, when a test needs them)."""
    return quiz.page_quizzes(page.read_text(encoding="utf-8"), relative(page))


def numeric_wheres() -> list[str]:
    """``page:line`` of every numeric question, found without parsing the YAML at collection
    (a quiz block with a top-level ``compute:`` key; the parser refuses one that also has
    ``options``)."""
    return [f"{relative(page)}:{block.line}" for page in QUIZ_PAGES
            for block in quiz.find_blocks(page.read_text(encoding="utf-8"))
            if block.kind == "quiz" and re.search(r"^compute:", block.body, re.MULTILINE)]


def numeric_question(where: str):
    page, _, line = where.rpartition(":")
    (q,) = [q for q in page_questions(ROOT / page) if q.line == int(line)]
    assert q.kind == "number", f"{where}: found as a numeric question, parsed as {q.kind}"
    return q


NUMERIC = numeric_wheres()


def test_the_example_pages_have_quizzes():
    assert {"custom-losses.md", "metrics.md"} <= {p.name for p in QUIZ_PAGES}


@pytest.mark.parametrize("page", QUIZ_PAGES, ids=relative)
def test_page_quiz_is_well_formed(page):
    questions = page_questions(page)
    wheres = {f"{relative(page)}:{q.line}" for q in questions if q.kind == "number"}
    assert wheres == {w for w in NUMERIC if w.startswith(f"{relative(page)}:")}, "numeric questions found"
    assert 5 <= len(questions) <= 10, f"{relative(page)}: {len(questions)} quiz questions (5 to 10)"
    assert sum(q.kind == "number" for q in questions) >= 2, f"{relative(page)}: fewer than 2 numeric questions"


# ----------------------------------------------------------------------------- the keys


class _Perturbed(types.ModuleType):
    """``lossbook`` whose public functions return 1.1 x + 0.1 for their value x (tensors, floats,
    tuples): not a pure scaling, which a ratio of two library calls would cancel."""

    def __getattr__(self, name):
        value = getattr(lossbook, name)
        if not callable(value) or isinstance(value, type):
            return value

        def scaled(*args, **kwargs):
            return _scale(value(*args, **kwargs))

        return scaled


def _scale(result):
    if isinstance(result, torch.Tensor) and result.is_floating_point():
        return result * 1.1 + 0.1
    if isinstance(result, (float, int)) and not isinstance(result, bool):
        return result * 1.1 + 0.1
    if isinstance(result, tuple):
        return tuple(_scale(r) for r in result)
    return result


@pytest.mark.parametrize("where", NUMERIC)
def test_numeric_key_is_computed_by_the_library(where):
    """The key is what the library computes now, and it moves when the library does: a literal,
    or an expression that only mentions ``lossbook`` without depending on it, fails here."""
    q = numeric_question(where)
    key = quiz.evaluate(q).answer
    assert math.isfinite(key)
    scope = quiz.namespace()
    scope["lossbook"] = _Perturbed("lossbook")
    perturbed = quiz.evaluate(quiz.Question(**{**q.__dict__, "mistakes": []}), scope).answer
    assert abs(perturbed - key) > q.tolerance, (
        f"{q.where}: the key {key} does not change when the library's results are perturbed")


@pytest.mark.parametrize("where", NUMERIC)
def test_shown_key_rounds_within_the_tolerance(where):
    q = numeric_question(where)
    key = quiz.evaluate(q).answer
    assert abs(float(q.shown(key)) - key) <= q.tolerance / 2 + 1e-12


def test_some_keys_against_independent_formulas():
    """A few keys recomputed here from their formulas, without the library."""
    by_question = {q.compute: quiz.evaluate(q).answer for q in map(numeric_question, NUMERIC)
                   if q.page in {"docs/custom-losses.md", "docs/metrics.md"}}  # the two example pages
    focal = [v for c, v in by_question.items() if "gamma=2.0) / lossbook.focal_loss" in c]
    assert focal and focal[0] == pytest.approx((1 - 0.9) ** 2, abs=1e-9)
    wta = [v for c, v in by_question.items() if c.startswith("lossbook.wta_trajectory_loss")]
    assert wta and wta[0] == pytest.approx(math.log(3), abs=1e-6)
    argoverse = [v for c, v in by_question.items() if 'mode="argoverse"' in c]
    assert argoverse and argoverse[0] == pytest.approx((2 + 2 + 2 + 3) / 4, abs=1e-6)


# ----------------------------------------------------------------------------- bad blocks

GOOD_CHOICE = """question: Which?
section: "#a"
options:
  - text: one
    correct: true
    why: because
  - text: two
    why: because not"""

GOOD_NUMBER = """question: How much?
section: "#a"
given:
  x: torch.tensor([1.0, 2.0])
compute: lossbook.huber_loss(x, torch.zeros(2))
tolerance: 0.001
why: mean of squares"""

BAD = [
    ("question: [unclosed", "not valid YAML"),
    ("- a list", "one YAML mapping"),
    (GOOD_CHOICE.replace('section: "#a"\n', ""), "missing 'section'"),
    (GOOD_CHOICE.replace('"#a"', "a"), "'section' must be an anchor"),
    (GOOD_CHOICE + "\nhint: no", "unknown key(s) ['hint']"),
    (GOOD_CHOICE.replace("    correct: true\n", ""), "exactly one option"),
    (GOOD_CHOICE.replace("    why: because not", "    why: because not\n    correct: true"), "exactly one option"),
    (GOOD_CHOICE.replace("    why: because not", ""), "missing 'why'"),
    (GOOD_CHOICE.replace("correct: true", "correct: yes please"), "'correct' must be true or false"),
    (GOOD_CHOICE.replace("text: one", "text: a <b>tag</b>"), "raw HTML"),
    ("question: q\nsection: '#a'", "needs 'options'"),
    (GOOD_NUMBER.replace("tolerance: 0.001", "tolerance: -1"), "'tolerance' must be a positive number"),
    (GOOD_NUMBER.replace("tolerance: 0.001", "tolerance: 0"), "'tolerance' must be a positive number"),
    (GOOD_NUMBER.replace("compute: lossbook.huber_loss(x, torch.zeros(2))", "compute: 2.5"), "must call the library"),
    (GOOD_NUMBER.replace("torch.zeros(2))", "torch.zeros(2), reduction='none')"), "one number"),
    (GOOD_NUMBER.replace("compute: lossbook", "compute: lossbook.nope"), "'compute' failed"),
    (GOOD_NUMBER.replace("compute: lossbook.huber_loss(x, torch.zeros(2))", "compute: lossbook.huber_loss(x,"),
     "not one Python expression"),
    (GOOD_NUMBER.replace("x: torch.tensor([1.0, 2.0])", "x: torch.tensor([1.0, float('nan')])"), "not a finite number"),
    (GOOD_NUMBER + "\nmistakes:\n  - compute: 1.0004\n    why: too close", "within twice the tolerance"),
    (GOOD_NUMBER + "\nmistakes:\n  - compute: 3\n    because: x", "unknown key(s) ['because']"),
    (GOOD_NUMBER + "\noptions: []", "not both"),
    (GOOD_NUMBER.replace("  x: torch", "  2x: torch"), "Python identifiers"),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=[m for _, m in BAD])
def test_a_malformed_block_fails_with_page_and_line(body, message):
    text = "# Page\n\n## A\n\nSome text.\n\n```quiz\n" + body + "\n```\n"
    with pytest.raises(quiz.QuizError) as error:
        quiz.render_page(text, "docs/page.md")
    assert message in str(error.value)
    line = re.match(r"docs/page\.md:(\d+)", str(error.value))
    assert line, f"no page:line in {error.value}"
    assert 7 <= int(line[1]) <= 7 + body.count("\n") + 1, f"line {line[1]} is not inside the block"


def test_the_good_blocks_render():
    text = "# Page\n\n## A\n\n```quiz\n" + GOOD_CHOICE + "\n```\n\n```quiz\n" + GOOD_NUMBER + "\n```\n"
    out, needed = quiz.render_page(text, "docs/page.md")
    assert "```quiz" not in out
    assert needed == [("a", "docs/page.md:5"), ("a", "docs/page.md:16")]
    assert 'data-kind="choice"' in out and 'data-correct="0"' in out
    assert 'data-answer="1.0"' in out and "**1.000**" in out
    # Without JavaScript every answer is readable, folded in a <details>.
    assert out.count('<details class="lb-quiz__answer"') == 2
    assert "**A: Right.** because" in out and "**B: Wrong.** because not" in out


class _Page:
    def __init__(self, src_uri, toc=()):
        self.file = types.SimpleNamespace(src_uri=src_uri, abs_src_path=None)
        self.toc = list(toc)


def test_a_section_that_is_not_on_the_page_fails_the_build():
    from mkdocs.exceptions import PluginError

    page = _Page("broken.md")
    text = "# Page\n\n## A\n\n```quiz\n" + GOOD_CHOICE.replace("#a", "#nowhere") + "\n```\n"
    quiz.on_page_markdown(text, page, None, None)
    with pytest.raises(PluginError, match=r"docs/broken\.md:5: 'section: #nowhere' is not an anchor"):
        quiz.on_page_content('<h2 id="a">A</h2>', page, None, None)


def test_the_section_link_names_the_heading():
    page = _Page("fine.md", [types.SimpleNamespace(id="a", title="Alpha & beta", children=[])])
    text = "# Page\n\n## A\n\n```quiz\n" + GOOD_CHOICE + "\n```\n"
    out, _ = quiz.render_page(text, "docs/fine.md")
    html = f'<h2 id="a">Alpha</h2>{out}'
    quiz.on_page_markdown(text, page, None, None)
    shown = quiz.on_page_content(html, page, None, None)
    assert '<a class="lb-quiz__section" href="#a">Alpha &amp; beta</a>' in shown


# ----------------------------------------------------------------------------- the built pages



def test_built_pages_carry_the_library_keys(built_site):
    """What the reader's browser checks against (data-answer) and reads (the key) is the value the
    library computes now, for every numeric question of every page."""
    site, _ = built_site
    for page in QUIZ_PAGES:
        url = page.relative_to(DOCS).with_suffix("")
        url = url.parent if url.name == "index" else url
        built = (site / url / "index.html").read_text(encoding="utf-8")
        questions = page_questions(page)
        for number, q in enumerate(questions, 1):
            found = re.search(rf'<div class="lb-quiz"([^>]*) id="quiz-{number}"', built)
            assert found, f"{q.where}: quiz-{number} is not on the built page"
            attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', found[1]))
            if q.kind == "number":
                key = quiz.evaluate(q).answer
                assert float(attrs["data-answer"]) == key, q.where
                assert attrs["data-shown"] == q.shown(key)
                assert f"<strong>{q.shown(key)}</strong>" in built
            else:
                right = next(k for k, o in enumerate(q.options) if o["correct"])
                assert attrs["data-correct"] == str(right), q.where
        assert "\u2063" not in built, f"{relative(page)}: a section placeholder was left in the page"
        assert htmllib.unescape(built).count("Read again:") >= len(questions)


def test_quiz_script_is_small():
    import gzip

    data = (DOCS / "assets" / "quiz.js").read_bytes()
    assert len(gzip.compress(data)) < 30_000
    assert not re.search(r"https?://", data.decode()), "the quiz script names another host"


def test_root_is_the_repository():
    assert (ROOT / "mkdocs.yml").exists() and Path(quiz.__file__).parent == DOCS / "hooks"

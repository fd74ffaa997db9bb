"""Prose gets the code's guarantees: citations resolve, sources are complete, no lost backslash."""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent


def _hook(name):
    spec = importlib.util.spec_from_file_location(f"lossbook_hook_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


citations = _hook("citations")
mathml = _hook("mathml")

PAPER = """\
lin2017focal:
  kind: paper
  authors: Lin, Goyal, Girshick, He, Dollár
  title: Focal Loss for Dense Object Detection
  year: 2017
  url: https://arxiv.org/abs/1708.02002
"""
CODE = """\
trl-grpo:
  kind: code
  authors: Hugging Face TRL
  title: trl/trainer/grpo_trainer.py
  year: 2025
  version: v0.20.0
  url: https://github.com/huggingface/trl/blob/v0.20.0/trl/trainer/grpo_trainer.py
"""


def _bib(tmp_path, *texts):
    for i, text in enumerate(texts):
        (tmp_path / f"f{i}.yml").write_text(text, encoding="utf-8")
    return citations.load_bibliography(tmp_path)


def test_citations_are_numbered_by_first_use_and_listed_with_their_locators(tmp_path):
    sources = _bib(tmp_path, PAPER, CODE)
    text = ("Focal loss [@lin2017focal, §3.3] and TRL [@trl-grpo, `_compute_loss`; @lin2017focal, Table 1a].\n"
            "```python\nx = [@not_a_citation]  # code is left alone\n```\n"
            "Inline `[@lin2017focal]` too.")
    out, cited = citations.cite(text, sources, "page.md")
    assert [s.key for s, _ in cited] == ["lin2017focal", "trl-grpo"]
    assert cited[0][1] == ["§3.3", "Table 1a"]
    assert out.count('href="#source-1"') == 2 and out.count('href="#source-2"') == 1
    wrapped, _ = citations.cite("A claim [@lin2017focal, §3.3 and\nTable 1a], then more.\nNext line.", sources, "p.md")
    assert wrapped.split("\n")[0].endswith("Table 1a</a>]</sup>, then more.") and wrapped.count("\n") == 1
    again, cited_again = citations.cite("[@lin2017focal, §2; Table 1a]", sources, "p.md")
    assert cited_again[0][1] == ["§2", "Table 1a"] and again.count('href="#source-1"') == 2
    assert ">1, §3.3</a>" in out and ">2, `_compute_loss`</a>" in out
    assert citations._literal("LossFn.__call__, `a_b`") == "LossFn.&#95;&#95;call&#95;&#95;, `a_b`"
    assert "x = [@not_a_citation]" in out and "`[@lin2017focal]`" in out
    section = citations.sources_section(cited)
    assert section.index('id="source-1"') < section.index('id="source-2"')
    assert "Checked at v0.20.0" in section and "Cited: §3.3; Table 1a." in section


def test_a_notebook_links_citations_to_the_page_sources(tmp_path):
    sources = _bib(tmp_path, PAPER, CODE)
    text = citations.for_notebook("A [@trl-grpo, `loss`].\nB [@lin2017focal, §3].", sources, "p.md", "https://x/p/")
    assert "A [[1, `loss`](https://x/p/#source-1)]." in text and "B [[2, §3](https://x/p/#source-2)]." in text
    assert text.endswith("2. Lin, Goyal, Girshick, He, Dollár. [Focal Loss for Dense Object Detection]"
                         "(https://arxiv.org/abs/1708.02002). 2017. Cited: §3.\n")


@pytest.mark.parametrize(("text", "message"), [
    ("See [@nobody2020, §1].", r"page\.md:2: unknown citation key 'nobody2020'"),
    ("See [@lin2017focal].", r"page\.md:2: citation of 'lin2017focal' has no locator"),
    ("See [@lin2017focal,  ].", r"page\.md:2: citation of 'lin2017focal' has no locator"),
    ("See [@lin2017focal §1].", r"page\.md:2: cannot read citation"),
    ("See [@lin2017focal, §1.\n\nNext paragraph.", r"page\.md:2: .*does not close within its paragraph"),
    ("x\n```python\n```\nSee [@nobody2020,\n§1].", r"page\.md:5: unknown citation key 'nobody2020'"),
])
def test_a_bad_citation_fails_the_build_naming_page_and_line(tmp_path, text, message):
    sources = _bib(tmp_path, PAPER)
    with pytest.raises(PluginError, match=message):
        citations.cite("intro\n" + text, sources, "page.md")


@pytest.mark.parametrize(("texts", "message"), [
    ((PAPER, PAPER), r"f1\.yml: 'lin2017focal': key already defined in f0\.yml"),
    ((CODE.replace("  version: v0.20.0\n", ""),), r"a code source needs 'version'"),
    ((PAPER.replace("  year: 2017\n", ""),), r"missing field\(s\) \['year'\]"),
    ((PAPER.replace("kind: paper", "kind: blog"),), r"kind must be one of .* got 'blog'"),
    ((PAPER + "  pages: 12\n",), r"unknown field\(s\) \['pages'\]"),
    ((PAPER.replace("https://arxiv", "arxiv"),), r"url must be http\(s\)"),
])
def test_a_bad_bibliography_entry_fails_the_build(tmp_path, texts, message):
    with pytest.raises(PluginError, match=message):
        _bib(tmp_path, *texts)


def test_the_site_bibliography_loads():
    sources = citations.load_bibliography(ROOT / "docs" / "sources")
    assert all(s.url.startswith("http") for s in sources.values())


def test_page_footer_names_the_locked_versions():
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    torch_pin = re.search(r"^torch==(\S+)", lock, re.M)[1]
    numpy_pin = re.search(r"^numpy==(\S+)", lock, re.M)[1]
    assert citations.tested_with(ROOT) == f"torch {torch_pin} and numpy {numpy_pin}"


# --------------------------------------------------------------------------- lost backslashes


@pytest.mark.parametrize("latex", [
    "\\mathbb E\\lVert x_1 - x_0\nVert^2",  # "\rVert" written through a non-raw string
    "\\frac{1}{2}\nabla f",  # "\nabla"
    "\\sum_i \theta_i",  # "\theta": a tab
    "\\alpha \beta",  # "\beta": a backspace
])
def test_math_with_a_lost_backslash_fails(latex):
    with pytest.raises(ValueError, match="lost its backslash"):
        mathml.to_mathml(latex, display=True)


def test_math_split_over_lines_still_renders():
    assert "<math" in mathml.to_mathml("a + b\n= \\lVert x \\rVert", display=True)


def _text_files():
    for folder in ("docs", "snippets", "src"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".md", ".py", ".yml", ".css", ".js", ".html"} and path.is_file():
                yield path


def test_no_source_file_holds_a_control_character():
    bad = []
    for path in _text_files():
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.split("\n"), 1)
                if mathml.CONTROL.search(line)]
    assert not bad, bad


def test_docstrings_hold_no_escaped_latex():
    """A docstring with LaTeX is a raw string: '\\beta' in a plain one is a backspace + 'eta'."""
    bad = []
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and mathml.CONTROL.search(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


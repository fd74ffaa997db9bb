"""Standard LaTeX that latex2mathml alone leaves as literal text is rewritten by the math hook."""

import importlib.util
import re
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parent.parent / "docs" / "hooks" / "mathml.py"
spec = importlib.util.spec_from_file_location("lossbook_hook_mathml", HOOK)
mathml = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mathml)


def _text(latex: str) -> str:
    return re.sub(r"<[^>]+>", "", mathml.to_mathml(latex, display=True))


@pytest.mark.parametrize(("latex", "shown"), [
    (r"k^* = \arg\min_k e_k", "arg&#x02009;min"),
    (r"\arg\max_a Q(s, a)", "arg&#x02009;max"),
    (r"\arg z", "arg"),
    (r"\sgn(x)", "sgn"),
    (r"\big\lVert x \big\rVert_2^2", "‖x‖"),
    (r"\Bigl\langle x, y \Bigr\rangle", "⟨x"),
    (r"\bigg\| x \bigg\|", "‖x‖"),
    (r"\Big\{ x \Big\}", "{x}"),
    (r"\text{global\_valid\_seqs}", "global_valid_seqs"),
    ("\\min(a,\\\n b)", "a&#x0002C;&#x000A0;b"),  # backslash-newline: a control space
])
def test_no_latex_command_is_left_in_the_output(latex, shown):
    text = _text(latex)
    assert "\\" not in text, text
    assert shown in text


def test_a_line_break_stays_a_line_break():
    assert "\\" not in _text("a \\\\\n b") and _text("a \\\\\n b") == _text(r"a \\ b")


def test_plain_latex2mathml_leaves_them_raw():
    """The rewrites are needed: without them the reader would see the commands."""
    from latex2mathml.converter import convert
    for latex in (r"\arg\min_k e_k", r"\big\lVert x \big\rVert", r"\text{a\_b}", "a,\\\nb"):
        assert "\\" in re.sub(r"<[^>]+>", "", convert(latex))


THIN = '<mspace width="0.1667em"></mspace>'


@pytest.mark.parametrize(("latex", "spaced"), [
    (r"-\log p_y", f"<mi>log</mi>{THIN}<msub>"),
    (r"\mathbb{E}\log p", f"<mi>&#x1D53C;</mi>{THIN}<mi>log</mi>{THIN}<mi>p</mi>"),
    (r"\log\sigma(x)", f"<mi>log</mi>{THIN}<mi>&#x003C3;</mi>"),
])
def test_function_names_get_tex_thin_spaces(latex, spaced):
    assert spaced in mathml.to_mathml(latex, display=False)


@pytest.mark.parametrize("latex", [r"\log(1 + x)", r"\exp(-x)", r"\log_2 x", r"\log^2 x"])
def test_no_space_before_a_parenthesis_or_inside_a_script(latex):
    """\\log(x) stays tight, as in TeX, and msub/msup keep exactly their two children."""
    assert THIN not in mathml.to_mathml(latex, display=False)

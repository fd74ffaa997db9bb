"""Render math at build time: LaTeX from pymdownx.arithmatex (generic mode) becomes MathML.

Browsers render MathML natively, so the site needs no MathJax or KaTeX script, no CDN and no
network. A formula latex2mathml cannot convert fails the build, naming the page.
"""

from __future__ import annotations

import functools
import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\s*\\\[(.+?)\\\]\s*</div>', re.S)


# Standard LaTeX that latex2mathml leaves in the output as literal text ("\\arg"): rewritten to
# forms it renders. \arg\min becomes one operator "arg min" with its limits, as in TeX.
# After \big, \Big, \bigl, ... latex2mathml only knows delimiters written as characters.
_DELIMITERS = {"lVert": "‖", "rVert": "‖", "Vert": "‖", "|": "‖", "lvert": "|", "rvert": "|", "vert": "|",
               "langle": "⟨", "rangle": "⟩", "{": "{", "}": "}", "lbrace": "{", "rbrace": "}",
               "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉"}
_MACROS = [
    (re.compile(r"\\arg\s*\\(min|max)(?![A-Za-z])"), r"\\arg\1"),
    (re.compile(r"\\(arg|sgn)(?![A-Za-z])"), r"\\operatorname{\1}"),
    (re.compile(r"(\\[bB]igg?[lrm]?)\s*\\(lVert|rVert|Vert|\||lvert|rvert|vert|langle|rangle|\{|\}|lbrace|rbrace"
                r"|lfloor|rfloor|lceil|rceil)(?![A-Za-z])"), lambda m: m[1] + _DELIMITERS[m[2]]),
    (re.compile(r"\\text\{([^{}]*)\}"), lambda m: r"\text{" + m[1].replace(r"\_", "_") + "}"),
    # A backslash ending a source line is TeX's control space ("\ "), not a line break ("\\").
    (re.compile(r"(?<!\\)((?:\\\\)*)\\\n"), lambda m: m[1] + "\\ "),
]


# TeX sets a thin space between a function name (\log, \exp, ...) and its argument, and
# between it and a preceding factor; latex2mathml emits a bare <mi>, which browsers set tight
# ("logp"). Add those spaces, except next to an operator or a parenthesis (<mo>).
_FUNCTION = r"<mi>(?:log|ln|lg|exp|sin|cos|tan|cot|sec|csc|sinh|cosh|tanh|arcsin|arccos|arctan|det|dim|ker|deg|gcd|Pr)</mi>"
_THIN = '<mspace width="0.1667em"></mspace>'
_NOT_A_BASE = "".join(f"(?<!<{tag}>)" for tag in ("msub", "msup", "msubsup", "munder", "mover", "munderover"))
_SPACE_AFTER = re.compile(rf"{_NOT_A_BASE}({_FUNCTION})(?=<(?!mo[ >]|/))")
_SPACE_BEFORE = re.compile(rf"(</(?:mi|mn|msub|msup|msubsup|mover|munder|mfrac|msqrt)>)({_FUNCTION})")


_UNRENDERED = re.compile(r">[^<]*?(\\[A-Za-z]+)")

# A LaTeX command typed in a string that is not raw loses its backslash to an escape: "\beta"
# becomes a backspace + "eta", "\nabla" a newline + "abla", "\rVert" a carriage return + "Vert",
# which editors and mkdocs (universal newlines) turn into a line break: that is how
# diffusion-basics showed "Vert^2" as text. Control characters fail the build, and so does a line
# of math that starts with what a "\n" or "\r" escape leaves of a command.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ESCAPED_COMMAND = re.compile(r"\n[ ]*(abla|eq|eg|ot|otin|ewline|onumber|exists|mid|leq|geq|parallel"  # \n...
                              r"|Vert|vert|ho|angle|ight(?:arrow)?|brace|floor|ceil)(?![A-Za-z])")  # \r...
_ESCAPES = {"\r": r"\r", "\x07": r"\a", "\x08": r"\b", "\x0b": r"\v", "\x0c": r"\f", "\t": r"\t"}


def check_escapes(text: str, where: str) -> None:
    """Fail on what a lost backslash leaves behind: a control character, or a command's tail."""
    for lineno, line in enumerate(text.split("\n"), 1):
        bad = CONTROL.search(line)
        if bad:
            escape = _ESCAPES.get(bad[0], repr(bad[0]))
            raise ValueError(f"{where}:{lineno}: control character {bad[0]!r} in {line.strip()!r}: a LaTeX "
                             f"command typed in a non-raw string lost its backslash to the {escape} escape")


def check_math_escapes(latex: str) -> None:
    if "\t" in latex:
        raise ValueError("a tab in math: a LaTeX command (\\theta, \\tau, \\text, ...) lost its backslash to \\t")
    tail = _ESCAPED_COMMAND.search(latex)
    if tail:
        raise ValueError(f"a line of math starts with {tail[1]!r}: a command (\\n{tail[1]} or \\r{tail[1]}) lost its "
                         "backslash to an escape that became a line break")


def to_mathml(latex: str, *, display: bool) -> str:
    latex = html.unescape(latex).strip()
    check_math_escapes(latex)
    check_escapes(latex, "math")
    for pattern, replacement in _MACROS:
        latex = pattern.sub(replacement, latex)
    mathml = convert(latex, display="block" if display else "inline")
    leftover = _UNRENDERED.search(mathml)
    if leftover:  # latex2mathml passes commands it does not know through as text
        raise ValueError(f"{leftover[1]} is not supported by latex2mathml")
    mathml = _SPACE_BEFORE.sub(lambda m: m[1] + _THIN + m[2], mathml)
    mathml = _SPACE_AFTER.sub(lambda m: m[1] + _THIN, mathml)
    return mathml if display else _lighter(mathml)


# latex2mathml wraps every formula in one <mrow> (3,600 inline formulas on the site); <math>
# already lays its children out as an mrow does (MathML Core), so an inline formula loses the
# wrapper, and display="inline", the default (screenshots identical at 1280 and 390 px). A display
# formula keeps it: one wider than a phone's column starts 14 px further left without it.
_OUTER_MROW = re.compile(r"(<math [^>]*>)<mrow>(.*)</mrow>(</math>)\Z", re.S)
_MROW_TAG = re.compile(r"<(/?)mrow>")


def _lighter(mathml: str) -> str:
    mathml = mathml.replace(' display="inline"', "", 1)
    outer = _OUTER_MROW.match(mathml)
    if outer is None:
        return mathml
    depth = 0
    for tag in _MROW_TAG.finditer(outer[2]):  # the first <mrow> must close last, not earlier
        depth += -1 if tag[1] else 1
        if depth < 0:
            return mathml
    return outer[1] + outer[2] + outer[3]


@functools.lru_cache(maxsize=None)
def _cached_mathml(latex: str, display: bool) -> str:
    """``to_mathml``, once per distinct formula of the build (a third of them repeat: $p_t$, $K$)."""
    return to_mathml(latex, display=display)


def render_math(content: str, where: str = "page") -> str:
    def replace(match: re.Match[str], display: bool) -> str:
        try:
            mathml = _cached_mathml(match.group(1), display)
        except Exception as error:  # latex2mathml raises several exception types
            raise ValueError(f"{where}: cannot render math {match.group(1)!r}: {error}") from error
        tag = "div" if display else "span"
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    content = _BLOCK.sub(lambda m: replace(m, True), content)
    return _INLINE.sub(lambda m: replace(m, False), content)


def on_page_markdown(markdown, page, config, files):
    # mkdocs reads pages with universal newlines, turning a stray carriage return into a line
    # break ("\rVert" showed as "Vert" on the next line): read the file's own bytes.
    if page.file.abs_src_path:
        raw = open(page.file.abs_src_path, encoding="utf-8", newline="").read()
        try:
            check_escapes(raw, page.file.src_uri)
        except ValueError as error:
            raise PluginError(str(error)) from error
    return markdown


def on_page_content(html_content, page, config, files):
    return render_math(html_content, page.file.src_uri)

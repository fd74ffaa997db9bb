"""Render math at build time: LaTeX from pymdownx.arithmatex (generic mode) becomes MathML.

Browsers render MathML natively, so the site needs no MathJax or KaTeX script, no CDN and no
network. A formula latex2mathml cannot convert fails the build, naming the page.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

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


def to_mathml(latex: str, *, display: bool) -> str:
    latex = html.unescape(latex).strip()
    for pattern, replacement in _MACROS:
        latex = pattern.sub(replacement, latex)
    mathml = convert(latex, display="block" if display else "inline")
    leftover = _UNRENDERED.search(mathml)
    if leftover:  # latex2mathml passes commands it does not know through as text
        raise ValueError(f"{leftover[1]} is not supported by latex2mathml")
    mathml = _SPACE_BEFORE.sub(lambda m: m[1] + _THIN + m[2], mathml)
    return _SPACE_AFTER.sub(lambda m: m[1] + _THIN, mathml)


def render_math(content: str, where: str = "page") -> str:
    def replace(match: re.Match[str], display: bool) -> str:
        try:
            mathml = to_mathml(match.group(1), display=display)
        except Exception as error:  # latex2mathml raises several exception types
            raise ValueError(f"{where}: cannot render math {match.group(1)!r}: {error}") from error
        tag = "div" if display else "span"
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    content = _BLOCK.sub(lambda m: replace(m, True), content)
    return _INLINE.sub(lambda m: replace(m, False), content)


def on_page_content(html_content, page, config, files):
    return render_math(html_content, page.file.src_uri)

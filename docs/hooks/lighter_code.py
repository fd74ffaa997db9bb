"""Lighter code blocks: fewer Pygments spans, the same pixels and the same text.

Pygments wraps every token of a highlighted block in a ``<span class="...">``; a lesson page is
~8,000 elements, two thirds of them such spans, and the browser recomputes the style of each one
several times per load (Material's bundle forces full style recalcs while it sets the page up).
Many of them change nothing on screen. After the page is rendered, inside each highlighted block
(``<div class="highlight">``, ``<div class="doc-signature highlight">``) only:

- a span whose class has no rule in Material's CSS (``w`` whitespace, ``sa`` the ``f`` of an
  f-string, ``fm``, ``vm``) or whose colour is the code's own (``n`` names and ``kc``
  ``True``/``None``: ``--md-code-hl-name-color`` is ``var(--md-code-fg-color)`` in both palettes,
  and ``.md-typeset code`` has that colour) is replaced by its text;
- adjacent spans whose classes render identically (one colour rule each, the same colour in the
  light and the dark palette: ``o``, ``ow`` and ``p`` are all ``--md-default-fg-color--light``)
  become one span, also across whitespace between them (whitespace draws nothing).

Comments (``c``, ``c1``, ``cm``: Material looks for code annotations in them), spans with several
classes, line highlights and anything else are left as they are. The text of every block, what a
reader copies and what search indexes, is unchanged. tests/test_page_weight.py checks these tables
against Material's CSS and that the dropped spans stay gone.
"""

from __future__ import annotations

import re

# Classes whose span is replaced by its text: no rule in Material 9.8's CSS, or the name colour.
DROP = frozenset({"n", "kc", "w", "sa", "fm", "vm"})

# Classes that render identically within a group: one ``color`` declaration each, resolving to
# the same colour in both palettes (the key names it). Adjacent spans of one group are merged.
# Comments and generic deleted/inserted (background, padding) are deliberately absent.
SAME_LOOK = {
    **dict.fromkeys(("o", "ow", "p", "go", "gp", "gr", "gt", "ge", "gh", "gs", "gu",
                     "na", "nv", "vc", "vg", "vi"), "light"),
    **dict.fromkeys(("s", "s1", "s2", "sb", "sc", "si", "ss", "l", "cpf"), "string"),
    **dict.fromkeys(("m", "mb", "mf", "mh", "mi", "mo", "il"), "number"),
    **dict.fromkeys(("k", "kd", "kn", "kp", "kr", "kt", "nd", "ni", "nl", "nt"), "keyword"),
    **dict.fromkeys(("bp", "nb", "no"), "constant"),
    **dict.fromkeys(("nc", "ne", "nf", "nn"), "function"),
    **dict.fromkeys(("cp", "se", "sh", "sr", "sx"), "special"),
}

# A highlighted block's opening tags, then its code up to </code> (unrolled: a lazy .*? is 7x slower).
_BLOCK = re.compile(r'(<div class="(?:doc-signature )?highlight"><pre>(?:<span></span>)?<code>)([^<]*(?:<(?!/code>)[^<]*)*)')
_DROPPED = re.compile(r'<span class="(?:%s)">([^<]*)</span>' % "|".join(sorted(DROP)))


def _run_pattern(classes: list[str]) -> re.Pattern[str]:
    """Two or more spans of these classes with nothing but whitespace between them."""
    one = "|".join(sorted(classes))
    return re.compile(rf'<span class="({one})">[^<]*</span>(?:\s*<span class="(?:{one})">[^<]*</span>)+')


_RUNS = [_run_pattern([c for c, look in SAME_LOOK.items() if look == key])
         for key in sorted(set(SAME_LOOK.values()))]
_TAG = re.compile(r"<[^>]*>")


def _merge(run: re.Match[str]) -> str:
    return f'<span class="{run[1]}">{_TAG.sub("", run[0])}</span>'


def lighten(code: str) -> str:
    """The inner HTML of a highlighted ``<code>``, with no-op spans dropped and look-alikes merged."""
    code = _DROPPED.sub(r"\1", code)
    for run in _RUNS:
        code = run.sub(_merge, code)
    return code


def lighten_page(html: str) -> str:
    """Every highlighted block of a page (or of its content) lightened; the rest unchanged."""
    if "highlight" not in html:
        return html
    return _BLOCK.sub(lambda m: m[1] + lighten(m[2]), html)


def on_page_content(html, page, config, files):
    return lighten_page(html)

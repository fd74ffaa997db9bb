"""Code blocks stay light: no Pygments span that draws nothing comes back (docs/hooks/lighter_code.py).

A lesson's code blocks were two thirds of its ~8,000 elements, and the browser recomputes the style
of each one several times per page load. The hook drops spans whose class renders as plain code and
merges neighbouring spans that render alike; these tests check, without a browser, that the built
pages have none left, and that what the hook assumes about Material's CSS still holds (a theme
upgrade that colours names differently fails here, not silently on screen).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lighter_code", ROOT / "docs" / "hooks" / "lighter_code.py")
lighter_code = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lighter_code)

RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")


def test_lighten_drops_and_merges_only_what_draws_nothing():
    code = ('<span class="n">x</span><span class="w"> </span><span class="o">=</span> <span class="p">(</span>'
            '<span class="mi">1</span><span class="p">)</span>  <span class="c1"># (1)</span>\n'
            '<span class="sa">f</span><span class="s2">&quot;</span><span class="si">{</span>'
            '<span class="n">x</span><span class="si">}</span><span class="s2">&quot;</span>'
            '<span class="p p-Indicator">-</span><span class="p">:</span>')
    assert lighter_code.lighten(code) == (
        'x <span class="o">= (</span><span class="mi">1</span><span class="p">)</span>  <span class="c1"># (1)</span>\n'
        'f<span class="s2">&quot;{</span>x<span class="si">}&quot;</span>'
        '<span class="p p-Indicator">-</span><span class="p">:</span>')


def test_built_code_blocks_have_no_span_that_draws_nothing(built_site):
    site, _ = built_site
    dropped = re.compile(r'<span class="(?:%s)">' % "|".join(sorted(lighter_code.DROP)))
    blocks = 0
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        for match in lighter_code._BLOCK.finditer(html):
            blocks += 1
            code = match[2]
            where = f"{path.relative_to(site)}: {re.sub('<[^>]+>', '', code)[:80]!r}"
            assert not dropped.search(code), f"a span that draws nothing is back in {where}"
            assert lighter_code.lighten(code) == code, f"spans that look alike are not merged in {where}"
    assert blocks > 500, f"only {blocks} highlighted blocks found: has the highlight markup changed?"


def _material_css(site: Path) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, str]]:
    """Material's rules (selector, declarations) and its light and dark palettes' variables."""
    css = "".join(p.read_text(encoding="utf-8") for p in sorted((site / "assets" / "stylesheets").glob("*.css")))
    rules = [(m[1].strip(), m[2]) for m in RULE.finditer(css)]
    light, dark = {}, {}
    for selector, body in rules:
        target = (light if "[data-md-color-scheme=default]" in selector
                  else dark if "[data-md-color-scheme=slate]" in selector and "primary" not in selector else None)
        if target is not None:
            target.update(re.findall(r"(--[\w-]+):([^;]+)", body))
    return rules, light, {**light, **dark}


def test_what_the_hook_assumes_about_the_theme_css_holds(built_site):
    site, _ = built_site
    rules, light, dark = _material_css(site)
    assert "--md-code-hl-name-color" in light and "--md-code-hl-name-color" in dark

    def declarations(cls: str) -> list[str]:
        """Every declaration of a rule whose selector names the class ``.cls``."""
        pattern = re.compile(rf"\.{cls}(?![\w-])")
        return [body for selector, body in rules if pattern.search(selector)]

    # the code's own colour, that of a span-less token
    assert any(s == ".md-typeset code,.md-typeset kbd,.md-typeset pre" and "color:var(--md-code-fg-color)" in b
               for s, b in rules)
    for cls in lighter_code.DROP:
        found = declarations(cls)
        assert found in ([], ["color:var(--md-code-hl-name-color)"]), (cls, found)
    for palette in (light, dark):
        assert palette["--md-code-hl-name-color"] == "var(--md-code-fg-color)"
    looks: dict[str, set[tuple[str, str]]] = {}
    for cls, look in lighter_code.SAME_LOOK.items():
        found = declarations(cls)
        assert len(found) == 1, (cls, found)
        colour = re.fullmatch(r"color:var\((--md-code-hl-[a-z]+-color)\)", found[0])
        assert colour, (cls, found)
        looks.setdefault(look, set()).add((light[colour[1]], dark[colour[1]]))
    assert all(len(seen) == 1 for seen in looks.values()), looks
    # and nothing of the site's own styles or scripts singles these classes out
    classes = sorted(lighter_code.DROP | set(lighter_code.SAME_LOOK))
    named = re.compile(r"\.(?:%s)(?![\w-])" % "|".join(classes))
    for path in sorted((ROOT / "docs" / "assets").glob("*.css")) + [site / "assets" / "_mkdocstrings.css"]:
        assert not named.search(re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)), path


MATH = re.compile(r'<math xmlns="[^"]*">(.*?)</math>', re.S)  # inline: display="block" keeps its mrow


def _wrapped_in_one_mrow(inner: str) -> bool:
    if not (inner.startswith("<mrow>") and inner.endswith("</mrow>")):
        return False
    depth = 0
    for tag in re.finditer(r"<(/?)mrow>", inner):
        depth += -1 if tag[1] else 1
        if depth == 0:
            return tag.end() == len(inner)
    return False


def test_formulas_carry_no_default_attribute_or_outer_mrow(built_site):
    """docs/hooks/mathml.py drops latex2mathml's wrapper <mrow> of an inline formula (<math> lays
    out as an mrow) and display="inline" (the default): one element fewer per formula."""
    site, _ = built_site
    formulas = 0
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert 'display="inline"' not in html, path
        for match in MATH.finditer(html):
            formulas += 1
            assert not _wrapped_in_one_mrow(match[1]), f"{path.relative_to(site)}: {match[0][:120]}"
    assert formulas > 1000, formulas


def test_wrapped_in_one_mrow():
    assert _wrapped_in_one_mrow("<mrow><mi>a</mi><mrow><mi>b</mi></mrow></mrow>")
    assert not _wrapped_in_one_mrow("<mrow><mi>a</mi></mrow><mo>+</mo><mrow><mi>b</mi></mrow>")


@pytest.mark.parametrize("cls", ["c", "c1", "cm", "gd", "gi", "hll"])
def test_comments_and_backgrounds_are_left_alone(cls):
    """Material finds code annotations in comments; gd/gi/hll have padding and a background."""
    assert cls not in lighter_code.DROP and cls not in lighter_code.SAME_LOOK

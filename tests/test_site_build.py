"""The site builds under ``--strict`` with zero warnings, with its math and figures in the pages
(what it loads, all from its own host: tests/test_links.py)."""

import re


def test_strict_build_has_no_warnings(built_site):
    _, log = built_site
    assert not re.search(r"^(WARNING|ERROR)", log, re.MULTILINE), log


def test_math_is_rendered_at_build_time(built_site):
    site, _ = built_site
    html = (site / "custom-losses" / "index.html").read_text(encoding="utf-8")
    assert html.count("<math") > 10
    assert "\\(" not in html and "\\[" not in html, "raw LaTeX left for a script to render"


def test_figures_are_drawn_and_embedded(built_site):
    site, _ = built_site
    html = (site / "custom-losses" / "index.html").read_text(encoding="utf-8")
    embedded = set(re.findall(r'src="\.\./figures/([\w-]+\.svg)"', html))
    assert embedded, "the lesson embeds no figure"
    for name in embedded:
        svg = (site / "figures" / name).read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<path" in svg


def test_every_wide_figure_offers_its_phone_variant(built_site):
    """Figures are drawn in the background and written after the pages (docs/hooks/figures.py):
    every page's <img> of a figure that has a phone variant comes wrapped in a <picture> whose
    <source> is that variant, every <source> names a drawn SVG, and no variant is orphaned."""
    site, _ = built_site
    phones = {p.name.removesuffix(".phone.svg") for p in (site / "figures").glob("*.phone.svg")}
    assert phones, "no figure has a phone variant"
    offered, problems = set(), []
    for path in site.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        where = path.relative_to(site)
        for img in re.finditer(r'(<source media="[^"]+" srcset="([^"]+)" type="image/svg\+xml">)?'
                               r'<img\b[^>]*\bsrc="([^"]*figures/([\w-]+)\.svg)"', html):
            source, srcset, src, name = img.groups()
            if not (path.parent / src).resolve().is_file():
                problems.append(f"{where}: {src} is not in the site")
            if (name in phones) != bool(source):
                problems.append(f"{where}: {name} {'lacks' if name in phones else 'offers'} a phone variant")
            if source:
                offered.add(name)
                svg = (path.parent / srcset).resolve()
                if not svg.is_file() or not svg.read_text(encoding="utf-8").lstrip().startswith("<?xml"):
                    problems.append(f"{where}: {srcset} is not a drawn SVG")
    assert not problems, "\n".join(problems[:20])
    assert phones <= offered, f"phone variants no page offers: {sorted(phones - offered)}"


_TICKS_SCRIPT = r"""
import sys
sys.path.insert(0, "docs/hooks")
import matplotlib.pyplot as plt
import figures

def draw():
    with plt.rc_context(figures.STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(9, 3), sharey=True)
        for k, ax in enumerate(axes):
            ax.plot(range(10 + k), [i * i for i in range(10 + k)], label=f"panel {k}")
            ax.set(title=rf"$\bar\alpha_{k}$", xlabel="step")
        axes[0].legend()
        fig.tight_layout()
        svg = figures._save(fig)
        axes[0].set_xlim(0, 50)  # between saves: the next save works the ticks out again
        return svg, figures._save(fig)

plain = draw()
figures.speed_up_matplotlib()
kept = draw()
assert figures._ticks_memo is None
print(plain == kept, plain[0] != plain[1])
"""


def test_kept_ticks_draw_the_same_svg():
    """The drawing processes' matplotlib caches (docs/hooks/figures.py: ticks worked out once per
    save and per tight layout, text metrics, fonts) change no byte of a figure, also after a
    change of limits between two saves."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", _TICKS_SCRIPT], check=False, cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"], done.stdout

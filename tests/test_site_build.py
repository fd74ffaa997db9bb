"""The site builds under ``--strict`` with zero warnings, and what it ships is self-contained."""

import re
from html.parser import HTMLParser


def test_strict_build_has_no_warnings(built_site):
    _, log = built_site
    assert not re.search(r"^(WARNING|ERROR)", log, re.M), log


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


class _Loads(HTMLParser):
    """Collect the URLs a browser would fetch by itself (not hyperlinks or rel=canonical)."""

    LOADING_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "video", "audio", "embed", "track"}:
            self.urls.append(attrs.get("src") or "")
        elif tag == "link" and set((attrs.get("rel") or "").split()) & self.LOADING_LINKS:
            self.urls.append(attrs.get("href") or "")


def _external(url):
    return re.match(r"(?:[a-z]+:)?//", url) and not re.match(r"(?:https?:)?//(127\.0\.0\.1|localhost)", url)


def test_no_request_to_another_host(built_site):
    """No script, stylesheet, font or image is loaded from another host."""
    site, _ = built_site
    offenders = []
    for path in site.rglob("*.html"):
        parser = _Loads()
        parser.feed(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(site)}: {u}" for u in parser.urls if _external(u)]
    for path in site.rglob("*.css"):
        for url in re.findall(r"""url\(["']?([^"')]+)""", path.read_text(encoding="utf-8")):
            if _external(url):
                offenders.append(f"{path.relative_to(site)}: url({url})")
    assert not offenders, "\n".join(offenders[:20])


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

    done = subprocess.run([sys.executable, "-c", _TICKS_SCRIPT], cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"], done.stdout

"""Draw the site's figures at build time from the library (matplotlib, SVG).

Every module ``docs/figures/<lesson>.py`` defines functions named ``figure_<name>()`` that return a
matplotlib Figure. Each becomes ``figures/<name>.svg`` in the built site, so a page embeds it with
``![alt](figures/<name>.svg)`` and the strict build checks the link. Figures cannot drift from the
code: they are computed by it on every build.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mkdocs.structure.files import File, InclusionLevel  # noqa: E402

FIGURE_MODULES = Path(__file__).resolve().parent.parent / "figures"
STYLE = {
    "svg.hashsalt": "lossbook",  # stable ids: the same code draws the same bytes
    "svg.fonttype": "none",  # text stays text: smaller files, page fonts
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}


def figure_functions():
    """Yield (name, function) for every ``figure_*`` function, in a stable order."""
    for path in sorted(FIGURE_MODULES.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"lossbook_figures_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for name in sorted(vars(module)):
            if name.startswith("figure_") and callable(getattr(module, name)):
                yield name.removeprefix("figure_"), getattr(module, name)


def render_svg(function) -> str:
    with plt.rc_context(STYLE):
        figure = function()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(figure)
    return buffer.getvalue()


def on_files(files, config):
    seen = set()
    for name, function in figure_functions():
        if name in seen:
            raise ValueError(f"two figure functions are named figure_{name}")
        seen.add(name)
        # INCLUDED: exclude_docs hides the figure *modules* in docs/figures/, not their drawings.
        svg = File.generated(config, f"figures/{name}.svg", content=render_svg(function),
                             inclusion=InclusionLevel.INCLUDED)
        files.append(svg)
    return files

"""Draw the site's figures at build time from the library (matplotlib, SVG).

Every module ``docs/figures/<lesson>.py`` defines functions named ``figure_<name>()`` that return a
matplotlib Figure. Each becomes ``figures/<name>.svg`` in the built site, so a page embeds it with
``![alt](figures/<name>.svg)`` and the strict build checks the link. Figures cannot drift from the
code: they are computed by it on every build.
"""

from __future__ import annotations

import importlib.util
import io
import multiprocessing
import os
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


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"lossbook_figures_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def figure_functions(paths=None):
    """Yield (name, function) for every ``figure_*`` function, in a stable order."""
    for path in paths or sorted(FIGURE_MODULES.glob("*.py")):
        module = load_module(path)
        for name in sorted(vars(module)):
            if name.startswith("figure_") and callable(getattr(module, name)):
                yield name.removeprefix("figure_"), getattr(module, name)


def rasterize_dense(figure, *, max_offsets: int = 500, max_lines: int = 100) -> None:
    """Embed dense scatters and bundles of many lines as a bitmap (axes and text stay vector):
    an SVG with one path per point or per line weighs megabytes."""
    for axes in figure.axes:
        for collection in axes.collections:
            if len(collection.get_offsets()) > max_offsets:
                collection.set_rasterized(True)
        if len(axes.lines) > max_lines:
            for line in axes.lines:
                line.set_rasterized(True)


def render_svg(function) -> str:
    with plt.rc_context(STYLE):
        figure = function()
        rasterize_dense(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", dpi=100, metadata={"Date": None})
        plt.close(figure)
    return buffer.getvalue()


def render_module(path: Path) -> list[tuple[str, str]]:
    return [(name, render_svg(function)) for name, function in figure_functions([path])]


def _worker(tasks, results) -> None:
    import torch

    torch.set_num_threads(1)  # two workers on two cores
    while (path := tasks.get()) is not None:
        try:
            results.put((path, render_module(Path(path)), None))
        except Exception as error:  # noqa: BLE001 - reported by the parent, naming the module
            results.put((path, [], f"{type(error).__name__}: {error}"))


def render_all() -> list[tuple[str, str]]:
    """Every figure as (name, svg), in a stable order. Modules are drawn by two forked processes
    pulling from one queue (drawing is the build's longest step; the modules share nothing)."""
    paths = [str(p) for p in sorted(FIGURE_MODULES.glob("*.py"))]
    workers = min(2, os.cpu_count() or 1, len(paths))
    if workers < 2:
        return [item for path in paths for item in render_module(Path(path))]
    import lossbook  # noqa: F401 - imported once here, inherited by both forked workers

    context = multiprocessing.get_context("fork")  # fork: no pickling of this hook's functions
    tasks, results = context.Queue(), context.Queue()
    biggest_first = sorted(paths, key=lambda p: -Path(p).stat().st_size)  # longest jobs first
    for path in biggest_first + [None] * workers:
        tasks.put(path)
    processes = [context.Process(target=_worker, args=(tasks, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    done = dict((path, (items, error)) for path, items, error in (results.get() for _ in paths))
    for process in processes:
        process.join()
    for path in paths:
        if done[path][1]:
            raise RuntimeError(f"drawing the figures of {path} failed: {done[path][1]}")
    return [item for path in paths for item in done[path][0]]


def on_files(files, config):
    seen = set()
    for name, svg in render_all():
        if name in seen:
            raise ValueError(f"two figure functions are named figure_{name}")
        seen.add(name)
        # INCLUDED: exclude_docs hides the figure *modules* in docs/figures/, not their drawings.
        files.append(File.generated(config, f"figures/{name}.svg", content=svg,
                                    inclusion=InclusionLevel.INCLUDED))
    return files

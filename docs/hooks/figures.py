"""Draw the site's figures at build time from the library (matplotlib, SVG).

Every module ``docs/figures/<lesson>.py`` defines functions named ``figure_<name>()`` that return a
matplotlib Figure. Each becomes ``figures/<name>.svg`` in the built site, so a page embeds it with
``![alt](figures/<name>.svg)`` and the strict build checks the link. Figures cannot drift from the
code: they are computed by it on every build.

Phones: a figure much wider than ``PHONE_MAX_PX`` would be drawn at under 55 % of its natural size
on a 390 px screen, its 11 pt text shrunk to a few pixels. Such a figure also gets a phone variant,
``figures/<name>.phone.svg``, made from the same Figure object right after the desktop one is
saved (nothing is computed twice): its side-by-side panels stacked into one column (two columns
from four panels up, or for tall panels), narrower, its text larger, long titles wrapped, side
legends moved under their axes. A figure function with a ``phone`` keyword draws its own phone
variant instead (called again with ``phone=True``). Each page's ``<img>`` of such a figure becomes a
``<picture>`` whose ``<source media=...>`` lets the browser pick the phone variant on a narrow
screen. Drawing a figure may not warn: a warning fails the build, naming the figure, so the build
log stays clean.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import math
import multiprocessing
import os
import re
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.layout_engine import ConstrainedLayoutEngine  # noqa: E402
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


# A figure whose natural width exceeds 651 px is shown at under 55 % of it in a 390 px phone's
# 358 px content column (358 / 0.55 = 651); from 600 px (shown at 60 %) it gets a phone variant.
PHONE_MAX_PX = 600
PHONE_WIDTH_IN = 5.0  # the phone variant's width: about 500 px, shown at about 70 %
PHONE_TEXT_SCALE = 1.2  # and its text 20 % larger
PHONE_MEDIA = "(max-width: 720px)"  # when the browser picks the phone variant
PHONE_SUFFIX = ".phone"


def svg_width_px(svg: str) -> float:
    """The natural width of an SVG matplotlib wrote (``width="...pt"``), in CSS pixels."""
    match = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg)
    if match is None:
        raise ValueError("the SVG has no width in pt")
    return float(match[1]) * 96 / 72


def _save(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", dpi=100, metadata={"Date": None})
    return buffer.getvalue()


def _detach_colorbars(figure) -> list[tuple]:
    """Remove the colorbars made with ``figure.colorbar(..., ax=...)`` (their parents get their
    grid cells back) and return what it takes to add them again."""
    found = []
    for cax in list(figure.axes):
        colorbar, info = getattr(cax, "_colorbar", None), getattr(cax, "_colorbar_info", None)
        if colorbar is None or info is None:
            continue
        vertical = colorbar.orientation == "vertical"
        label = cax.get_ylabel() if vertical else cax.get_xlabel()
        found.append((colorbar.mappable, info["parents"], label, info["location"]))
        colorbar.remove()
    return found


def stack_panels(figure) -> tuple[int, int, float] | None:
    """Move the panels of a one-row grid (``plt.subplots(1, n)``) into one column (two from four
    panels up, or when the panels are taller than wide). Returns (rows, columns, height / width of one panel before), or None when the
    figure is not a one-row grid of single cells (it is then only narrowed)."""
    panels = [ax for ax in figure.axes if ax.get_subplotspec() is not None]
    if not panels or len(panels) != len(figure.axes):  # an inset or a free axes: leave the layout
        return None
    grids = {id(ax.get_subplotspec().get_gridspec()) for ax in panels}
    grid = panels[0].get_subplotspec().get_gridspec()
    rows, columns = grid.get_geometry()
    if len(grids) != 1 or rows != 1 or columns < 2:
        return None
    spans = [ax.get_subplotspec().colspan for ax in panels]
    if any(len(span) != 1 for span in spans):
        return None
    width, height = figure.get_size_inches()
    aspect = (height / rows) / (width / columns)
    new_columns = 2 if columns >= 4 or aspect >= 1.0 else 1  # tall panels: two side by side
    new_rows = math.ceil(columns / new_columns)
    stacked = figure.add_gridspec(new_rows, new_columns)
    for ax, span in zip(panels, spans, strict=True):
        row, column = divmod(span.start, new_columns)
        ax.set_subplotspec(stacked[row, column])
    first = {}  # the leftmost panel of each group of shared y axes, before the move
    for ax, span in sorted(zip(panels, spans, strict=True), key=lambda pair: pair[1].start):
        siblings = ax.get_shared_y_axes().get_siblings(ax)
        if len(siblings) > 1:
            leader = first.setdefault(frozenset(map(id, siblings)), ax)
            if leader is not ax:  # plt.subplots(sharey=True) hid these: each panel now has its own
                ax.yaxis.set_tick_params(which="both", labelleft=True)
                if not ax.get_ylabel():
                    ax.set_ylabel(leader.get_ylabel())
    return new_rows, new_columns, aspect


def _enlarge_text(figure, scale: float) -> None:
    ticks = set()
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels(which="both")
            ticks.update(id(t) for t in labels)
            size = labels[0].get_fontsize() if labels else plt.rcParams["font.size"]
            axis.set_tick_params(which="both", labelsize=size * scale)
    for text in figure.findobj(lambda artist: hasattr(artist, "set_fontsize")):
        if id(text) not in ticks and hasattr(text, "get_fontsize"):
            text.set_fontsize(text.get_fontsize() * scale)


def _wrap(text: str, width_pt: float, size_pt: float) -> str:
    """``text`` broken into lines that fit ``width_pt`` (about half an em a character), never
    inside ``$...$`` math."""
    chars = max(12, int(width_pt / (0.52 * size_pt)))
    lines = []
    for line in text.split("\n"):
        words, current = re.findall(r"(?:\$[^$]*\$|\S)+", line), ""
        for word in words:
            if current and len(current) + 1 + len(word) > chars:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
        lines.append(current)
    return "\n".join(lines)


def _wrap_titles_and_labels(figure) -> None:
    for ax in figure.axes:
        box = ax.get_position()
        width_pt = box.width * figure.get_figwidth() * 72
        height_pt = box.height * figure.get_figheight() * 72
        for text, room in ((ax.title, width_pt), (ax._left_title, width_pt), (ax._right_title, width_pt),
                           (ax.xaxis.label, width_pt), (ax.yaxis.label, height_pt)):
            if text.get_text():
                text.set_text(_wrap(text.get_text(), room, text.get_fontsize()))
    if figure._suptitle is not None:
        figure._suptitle.set_text(_wrap(figure._suptitle.get_text(), figure.get_figwidth() * 72,
                                        figure._suptitle.get_fontsize()))


def _legends_to_move_below(figure) -> list:
    """Legends anchored outside their axes (right of it, or under it in several columns), and
    legends wider than most of their axes, are taken out, to come back as one column under the
    axes once the layout is done (a phone has no room at the side). Returns what that takes."""
    renderer = figure.canvas.get_renderer()
    moved = []
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        anchor = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
        outside = anchor.x0 >= 0.99 or anchor.y1 <= 0.01
        too_wide = legend.get_window_extent(renderer).width > 0.8 * ax.get_window_extent(renderer).width
        if outside or too_wide:
            texts = legend.get_texts()
            moved.append((ax, legend.legend_handles, [t.get_text() for t in texts],
                          {"fontsize": texts[0].get_fontsize() if texts else None,
                           "frameon": legend.get_frame_on(), "title": legend.get_title().get_text() or None}))
            legend.remove()
    return moved


def _place_below(figure, moved) -> None:
    renderer = figure.canvas.get_renderer()
    for ax, handles, labels, style in moved:
        bottom = ax.get_tightbbox(renderer).transformed(ax.transAxes.inverted()).y0
        ax.legend(handles=handles, labels=labels, loc="upper center", ncols=1,
                  bbox_to_anchor=(0.5, bottom - 0.02), bbox_transform=ax.transAxes, **style)


def phone_layout(figure) -> None:
    """Turn a drawn desktop figure into its phone variant, in place."""
    colorbars = _detach_colorbars(figure)
    width, height = figure.get_size_inches()
    stacked = stack_panels(figure)
    if stacked is None:
        new_height = height * PHONE_WIDTH_IN / width * 1.25  # narrower, a little taller
    else:
        rows, columns, aspect = stacked
        panel_width = PHONE_WIDTH_IN / columns
        panel_height = min(max(aspect * panel_width, 0.55 * panel_width), 1.6 * panel_width)
        new_height = rows * panel_height + 0.5
    figure.set_size_inches(PHONE_WIDTH_IN, new_height)
    for mappable, parents, label, location in colorbars:
        figure.colorbar(mappable, ax=parents[0] if len(parents) == 1 else parents, label=label, location=location)
    _enlarge_text(figure, PHONE_TEXT_SCALE)
    _wrap_titles_and_labels(figure)
    moved = _legends_to_move_below(figure)
    if not isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine):
        figure.tight_layout()
    _place_below(figure, moved)


def render_svgs(name: str, function) -> list[tuple[str, str]]:
    """(name, svg) of the figure, then (name.phone, svg) when it is too wide for a phone.
    A warning while drawing fails, naming the figure."""
    with plt.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            figure = function()
            rasterize_dense(figure)
            drawn = [(name, _save(figure))]
            if svg_width_px(drawn[0][1]) > PHONE_MAX_PX:
                if "phone" in inspect.signature(function).parameters:  # the figure draws its own
                    plt.close(figure)
                    figure = function(phone=True)
                    rasterize_dense(figure)
                else:
                    phone_layout(figure)
                drawn.append((name + PHONE_SUFFIX, _save(figure)))
        except Exception as error:
            raise RuntimeError(f"figure_{name}: {type(error).__name__}: {error}") from error
        finally:
            plt.close("all")
    return drawn


def render_svg(function) -> str:
    """The desktop SVG of one figure function."""
    return render_svgs(function.__name__.removeprefix("figure_"), function)[0][1]


def render_module(path: Path) -> list[tuple[str, str]]:
    return [item for name, function in figure_functions([path]) for item in render_svgs(name, function)]


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


_phone_variants: set[str] = set()  # names of the figures that have a phone variant


def on_files(files, config):
    seen = set()
    _phone_variants.clear()
    for name, svg in render_all():
        if name in seen:
            raise ValueError(f"two figure functions are named figure_{name}")
        seen.add(name)
        if name.endswith(PHONE_SUFFIX):
            _phone_variants.add(name.removesuffix(PHONE_SUFFIX))
        # INCLUDED: exclude_docs hides the figure *modules* in docs/figures/, not their drawings.
        files.append(File.generated(config, f"figures/{name}.svg", content=svg,
                                    inclusion=InclusionLevel.INCLUDED))
    return files


_IMG = re.compile(r'<img\b[^>]*?\bsrc="(?P<folder>[^"]*?)(?P<name>[\w-]+)\.svg"[^>]*>')


def picture(html: str, phone_variants: set[str]) -> str:
    """Each ``<img>`` of a figure that has a phone variant, wrapped in a ``<picture>`` that offers
    the variant to narrow screens."""

    def wrap(match: re.Match) -> str:
        if match["name"] not in phone_variants or not match["folder"].endswith("figures/"):
            return match.group(0)
        phone = f'{match["folder"]}{match["name"]}{PHONE_SUFFIX}.svg'
        return (f'<picture class="lossbook-figure"><source media="{PHONE_MEDIA}" srcset="{phone}"'
                f' type="image/svg+xml">{match.group(0)}</picture>')

    return _IMG.sub(wrap, html)


def on_page_content(html, page, config, files):
    return picture(html, _phone_variants)

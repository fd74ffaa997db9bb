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

Speed (drawing is most of the build's CPU time): ``on_config`` forks two processes that draw every
figure while this one renders the pages; the figures' files are registered at ``on_files`` (the
strict build checks links against them) and written at ``on_post_build``, and a page's
``<picture>`` (``on_post_page``) waits only for the figures on that page. Each figure is a task
of its own, except the groups a module lists in ``DRAW_TOGETHER`` (figures sharing state a
process memoises, such as a trained model: drawn by one process, first, as the longest task).
In the drawing processes, matplotlib's per-renderer caches are kept per process
(``speed_up_matplotlib``) and a save draws the figure once (``_save``); the SVGs are the same but
for the last digit of the crop box.
"""

from __future__ import annotations

import gc
import importlib.util
import inspect
import io
import math
import multiprocessing
import os
import queue
import re
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.layout_engine import ConstrainedLayoutEngine, PlaceHolderLayoutEngine  # noqa: E402
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


def _tight_bbox(figure):
    """The box ``savefig(bbox_inches="tight")`` crops an SVG to: the same renderer (an SVG one,
    the figure at 72 dpi), the same padding."""
    from matplotlib.backend_bases import _get_renderer

    dpi = figure.dpi
    try:
        with figure.canvas._switch_canvas_and_return_print_method("svg") as print_svg:
            renderer = _get_renderer(figure, print_svg)  # stops before drawing anything
            box = figure.get_tightbbox(renderer)
    finally:
        figure.dpi = dpi  # the SVG backend set it to 72
    pad = plt.rcParams["savefig.pad_inches"]
    return box.padded(pad, pad)


def _save(figure) -> str:
    """The figure as SVG, cropped as ``bbox_inches="tight"`` crops it, drawn once. savefig would
    first draw the whole figure without output, for a layout engine to run and to measure the
    crop; a figure laid out by ``tight_layout`` has no engine to run (a placeholder) and the crop
    is measured directly, which halves the cost of a save. Ticks are worked out once for the
    measuring and the drawing (``_ticks_kept``)."""
    with _ticks_kept():
        return _save_svg(figure)


def _save_svg(figure) -> str:
    buffer = io.StringIO()
    engine = figure.get_layout_engine()
    if engine is None or isinstance(engine, PlaceHolderLayoutEngine):
        bbox = _tight_bbox(figure)
        figure.set_layout_engine(None)  # nothing to lay out: no drawing pass before the real one
        try:
            figure.savefig(buffer, format="svg", bbox_inches=bbox, dpi=100, metadata={"Date": None})
        finally:
            figure.set_layout_engine(engine)
    else:  # a layout engine (constrained) lays the figure out while drawing: savefig's own way
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


# --------------------------------------------------------------------------- matplotlib caches

_ticks_memo: dict | None = None  # Axis -> (what its ticks depend on, its ticks), in _ticks_kept


class _ticks_kept:
    """Within the block, each axis works its ticks out once (``Axis._update_ticks``: locator,
    formatter, one Tick per location). matplotlib does it again in every pass over a figure,
    and for every axis that shares one again for each of its siblings (placing an axis label);
    a save measures the crop then draws, a tight layout measures every axes. Nothing the figure
    code sets changes inside the block: what the ticks depend on there (the view limits, the axes'
    size and dpi, the locators and formatters, which tick parts show) is compared anyway, and
    a change works them out again. Only where ``speed_up_matplotlib`` installed the memo."""

    def __enter__(self):
        global _ticks_memo
        self.outer = _ticks_memo
        if self.outer is None:
            _ticks_memo = {}

    def __exit__(self, *exc):
        global _ticks_memo
        _ticks_memo = self.outer


def _memoise_ticks() -> None:
    import matplotlib.axis as maxis

    update = maxis.Axis._update_ticks
    if getattr(update, "_lossbook", False):
        return

    def _update_ticks(self):
        memo = _ticks_memo
        if memo is None:
            return update(self)
        box = self.axes.bbox
        key = (tuple(self.get_view_interval()), round(box.width, 6), round(box.height, 6),
               self.get_figure(root=True).dpi, self.get_scale(),
               self.get_major_locator(), self.major.formatter, self.get_minor_locator(),
               self.minor.formatter, self._tick_group_visible(self._major_tick_kw),
               self._tick_group_visible(self._minor_tick_kw),
               self.__dict__.get("majorTicks"), self.__dict__.get("minorTicks"))
        kept = memo.get(self)
        if kept is None or not _same(kept[0], key):
            kept = memo[self] = (key, update(self))
        return list(kept[1])

    _update_ticks._lossbook = True
    maxis.Axis._update_ticks = _update_ticks

    from matplotlib.figure import Figure

    tight_layout = Figure.tight_layout

    def tight_layout_kept(self, *args, **kwargs):
        with _ticks_kept():
            return tight_layout(self, *args, **kwargs)

    Figure.tight_layout = tight_layout_kept


def _same(a: tuple, b: tuple) -> bool:
    """Key equality: numbers by value, objects (locators, tick lists) by identity."""
    return len(a) == len(b) and all(
        x is y or (type(x) is type(y) and isinstance(x, (int, float, str, tuple)) and x == y)
        for x, y in zip(a, b))

def warm_up() -> None:
    """What every drawing process would otherwise load for its first figure, loaded once before
    they fork: the SVG backend, the fonts, the mathtext parser (built on first use), an Agg
    renderer's set-up. Draws a small figure and throws it away. Also torch's compiler front end,
    which torch imports when a figure builds its first optimizer (about 2 s a process)."""
    import torch._dynamo  # noqa: F401

    with plt.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("error")
        figure, ax = plt.subplots(figsize=(3, 2))
        try:
            ax.plot([0, 1], [0, 1], label="a")
            ax.set(title=r"$\bar\alpha_t$", xlabel="x", ylabel=r"$\log_{10} y$")
            ax.legend()
            figure.tight_layout()
            _save(figure)
        finally:
            plt.close(figure)


_sped_up = False


def speed_up_matplotlib() -> None:
    """Caches matplotlib keeps per renderer, kept for the whole process instead (same bytes out).

    Saving a figure makes new renderers (a layout pass, then the drawing; the phone variant
    again), and matplotlib 3.11 caches text metrics and parsed math per renderer instance, so
    every label is measured and every ``$...$`` parsed again each time; a text's layout also
    reads the font's OS/2 and head tables on every call. Metrics depend only on the renderer's
    type, the string, the font and the dpi, so they are shared across renderers of one type.
    Each cache is installed only where matplotlib has the internal it replaces (else the
    figures draw as before, only slower). Installed once, by the build process before it forks
    the drawing processes (it draws nothing itself), and by each of them."""
    global _sped_up
    if _sped_up:
        return
    _sped_up = True
    import matplotlib.mathtext as mathtext
    import matplotlib.text as mtext

    parse = getattr(getattr(mathtext.MathTextParser, "_parse_cached", None), "__wrapped__", None)
    if parse is not None:
        parsed = {}

        def _parse_cached(self, s, dpi, prop, antialiased, load_glyph_flags):
            key = (self._output_type, s, dpi, prop, antialiased, load_glyph_flags)
            if key not in parsed:
                parsed[key] = parse(self, s, dpi, prop, antialiased, load_glyph_flags)
            return parsed[key]

        mathtext.MathTextParser._parse_cached = _parse_cached

    if callable(getattr(mtext, "_get_text_metrics_with_cache", None)):
        metrics = {}

        def _get_text_metrics_with_cache(renderer, text, fontprop, ismath, dpi):
            kind = (type(renderer), type(getattr(renderer, "_renderer", None)))  # MixedModeRenderer
            key = (kind, text, fontprop, ismath, dpi)
            found = metrics.get(key)
            if found is None:
                found = renderer.get_text_width_height_descent(text, fontprop, ismath=ismath)
                metrics[(kind, text, fontprop.copy(), ismath, dpi)] = found  # a copy: props mutate
            return found

        mtext._get_text_metrics_with_cache = _get_text_metrics_with_cache

    import matplotlib.font_manager as font_manager

    manager = getattr(font_manager, "fontManager", None)
    if manager is not None and "findfont" not in vars(manager):
        findfont, found = manager.findfont, {}

        def cached_findfont(prop, fontext="ttf", directory=None, fallback_to_default=True,
                            rebuild_if_missing=True):
            # matplotlib keys its own cache on the font rcParams too, read on every call (the
            # figures never change them: STYLE sets none)
            key = (prop, fontext, directory, fallback_to_default, rebuild_if_missing)
            path = found.get(key)
            if path is None:
                path = findfont(prop, fontext, directory, fallback_to_default, rebuild_if_missing)
                copy = prop.copy() if hasattr(prop, "copy") else prop  # a FontProperties mutates
                found[(copy, fontext, directory, fallback_to_default, rebuild_if_missing)] = path
            return path

        manager.findfont = cached_findfont

    if callable(getattr(mtext, "get_font", None)):
        get_font, fonts = mtext.get_font, {}

        class _Tables:
            """The font, for Text._get_layout: its sfnt tables read once."""

            def __init__(self, font):
                self.font, self.tables = font, {}

            def get_sfnt_table(self, name):
                if name not in self.tables:
                    self.tables[name] = self.font.get_sfnt_table(name)
                return self.tables[name]

        def cached_font(paths):
            key = tuple(paths) if isinstance(paths, list) else paths
            if key not in fonts:
                fonts[key] = _Tables(get_font(paths))
            return fonts[key]

        mtext.get_font = cached_font

    _memoise_ticks()


# --------------------------------------------------------------------------- drawing in the background

def figure_tasks(paths=None) -> list[list[tuple[str, object]]]:
    """The figures as tasks for the drawing processes: each figure on its own, except the groups a
    module lists in ``DRAW_TOGETHER`` (figures sharing state a process memoises, such as a trained
    model), which come first, each drawn by one process in its order."""
    tasks = []
    for path in paths or sorted(FIGURE_MODULES.glob("*.py")):
        functions = dict(figure_functions([path]))
        module = sys.modules[f"lossbook_figures_{path.stem}"]
        groups = [list(group) for group in getattr(module, "DRAW_TOGETHER", ())]
        grouped = {name for group in groups for name in group}
        for name in grouped - functions.keys():
            raise ValueError(f"{path.name}: DRAW_TOGETHER names figure_{name}, which it does not define")
        tasks[:0] = [[(name, functions[name]) for name in group] for group in groups]
        tasks += [[(name, function)] for name, function in functions.items() if name not in grouped]
    return tasks


def _worker(tasks, todo, results) -> None:
    import torch

    torch.set_num_threads(1)  # the drawing processes and the build share the cores
    speed_up_matplotlib()
    while (index := todo.get()) is not None:
        for name, function in tasks[index]:
            try:
                results.put((name, render_svgs(name, function), None))
            except Exception as error:  # noqa: BLE001 - raised by the parent (render_svgs names the figure)
                results.put((name, [], str(error)))


class Drawing:
    """Every figure, drawn by forked processes while the build renders the pages.

    Started from ``on_config``; ``svgs(name)`` waits for one figure (a page's ``<picture>``
    needs to know whether it has a phone variant), ``all()`` for every one (``on_post_build``
    writes them). A figure that fails to draw fails the build, naming it."""

    def __init__(self, tasks, workers: int):
        import lossbook

        lossbook.__all__  # noqa: B018 - the domain modules loaded once here (the build needs them too), inherited
        import torch._dynamo  # noqa: F401 - what a torch.optim optimizer imports on first use (1.2 s):
        # several figures train with one, in both processes; imported once here instead of twice

        speed_up_matplotlib()  # here, so that what warm_up loads is inherited by both processes
        warm_up()
        context = multiprocessing.get_context("fork")  # fork: no pickling of the figure functions
        self.names = [name for task in tasks for name, _ in task]
        self.drawn: dict[str, list[tuple[str, str]]] = {}
        self.todo, self.results = context.Queue(), context.Queue()
        for index in range(len(tasks)):
            self.todo.put(index)
        for _ in range(workers):
            self.todo.put(None)
        self.processes = [context.Process(target=_worker, args=(tasks, self.todo, self.results), daemon=True)
                          for _ in range(workers)]
        gc.freeze()  # the objects so far stay out of the processes' collections: fewer pages copied
        try:
            for process in self.processes:
                process.start()
        finally:
            gc.unfreeze()

    def _receive(self) -> None:
        while True:
            try:
                name, svgs, error = self.results.get(timeout=1.0)
                break
            except queue.Empty:
                if not any(p.is_alive() for p in self.processes) and self.results.empty():
                    missing = sorted(set(self.names) - self.drawn.keys())
                    raise RuntimeError(f"the figure processes ended without drawing {missing}") from None
        if error:
            self.close()
            raise RuntimeError(error)
        self.drawn[name] = svgs

    def svgs(self, name: str) -> list[tuple[str, str]]:
        while name not in self.drawn:
            self._receive()
        return self.drawn[name]

    def all(self) -> list[tuple[str, str]]:
        while len(self.drawn) < len(self.names):
            self._receive()
        for process in self.processes:
            process.join()
        return [item for name in self.names for item in self.drawn[name]]

    def close(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()


_drawing: Drawing | None = None
_figures: dict[str, File] = {}  # name -> the site's file, written once drawn


def on_config(config):
    global _drawing
    if _drawing is not None:
        _drawing.close()
    tasks = figure_tasks()
    names = [name for task in tasks for name, _ in task]
    for name in {n for n in names if names.count(n) > 1}:
        raise ValueError(f"two figure functions are named figure_{name}")
    _drawing = Drawing(tasks, workers=max(1, min(2, os.cpu_count() or 1)))
    return config


def on_files(files, config):
    _figures.clear()
    for name in _drawing.names:
        # Drawn in the background: the file is written by on_post_build (the strict build checks
        # links against this list). INCLUDED: exclude_docs hides the figure *modules* in
        # docs/figures/, not their drawings.
        _figures[name] = File.generated(config, f"figures/{name}.svg", content=b"",
                                        inclusion=InclusionLevel.INCLUDED)
        files.append(_figures[name])
    return files


def on_post_page(output, page, config):
    return picture(output, _phone_variants_of(output))


def on_post_build(config):
    """Write every figure (the notebooks hook, after this one, embeds them)."""
    for name, svg in _drawing.all():
        file = _figures.get(name) or File.generated(config, f"figures/{name}.svg", content=b"")
        file.content_string = svg
        file.copy_file()


def on_build_error(error):
    if _drawing is not None:
        _drawing.close()


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


def _phone_variants_of(html: str) -> set[str]:
    """The figures on a page that have a phone variant (waiting for them to be drawn)."""
    names = {m["name"] for m in _IMG.finditer(html) if m["folder"].endswith("figures/")}
    return {name for name in names if name in _figures and len(_drawing.svgs(name)) > 1}

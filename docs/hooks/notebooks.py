"""Every lesson as a Jupyter notebook, generated at build time from the page itself.

For each page with at least one ``python`` block, ``notebooks/<page>.ipynb`` is added to the site:
the page's ``--8<--`` includes are expanded by pymdownx.snippets with the settings of mkdocs.yml
(the expansion the docs tests use), prose becomes Markdown cells, every ``python`` block becomes a
code cell, and an ``expected-output`` block becomes that cell's output, so the notebook opens
looking executed and shows exactly what the tests check. A download link is injected under each
lesson's title; lesson authors do nothing.

A downloaded notebook must work offline: the page's figures are embedded in it, not linked, as
``<img src="data:...">`` read from the site's generated files. Not as cell attachments: JupyterLab
renders attachments of bitmap types only and refuses an SVG one (jupyterlab/jupyterlab
``packages/attachments/src/model.ts``, ``AttachmentsResolver.getDownloadUrl``, at 6ef5a17). Not as
Markdown image syntax with a data URL either: markdown-it's default link check (``validateLink``)
lets data URLs through for gif, png, jpeg and webp only, not SVG. Collapsible blocks
(``??? question``, the interview answers) become ``<details>``, folded as on the page, so the
notebook can be used to test oneself.

``tests/test_notebooks.py`` proves that the code cells are exactly the blocks the docs tests run.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from collections.abc import Callable
from html import escape
from pathlib import Path

import markdown
from mkdocs.structure.files import File

NOTEBOOK_DIR = "notebooks"
FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>[^`]*)$")
CONTAINER = re.compile(
    r'^(?P<indent> *)(?:(?P<admonition>!!!|\?\?\?\+?) +(?P<kind>[\w-]+)(?: +"(?P<title>(?:[^"\\]|\\.)*)")?'
    r'|(?P<tab>===\+?) +"(?P<label>[^"]*)")\s*$'
)
MARKER = re.compile(r"^<!--[-\s]*pytest-codeblocks:(?P<keyword>[\w-]+)[-\s]*-->$")
PYTEST_COMMENT = re.compile(r"^<!--[-\s]*(pytest-codeblocks:|pytest\.mark\.).*-->$")
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
AUTOREF = re.compile(r"\[(?P<text>[^\]]+)\]\[(?P<ident>lossbook(?:\.\w+)*)\]|\[(?P<bare>lossbook(?:\.\w+)*)\]\[\]")
ATTR_LIST = re.compile(r"(?<=\))\{[^}\n]*\}|[ \t]*\{[ \t]*#[\w-]+[ \t]*\}[ \t]*$", re.MULTILINE)
EMOJI = re.compile(r":(?:material|octicons|fontawesome|simple)-[\w-]+:\s?")


# --------------------------------------------------------------------------- expansion


def snippet_config(config) -> dict:
    """pymdownx.snippets' settings from mkdocs.yml, base paths made absolute."""
    root = Path(config.config_file_path).resolve().parent
    settings = dict(config.mdx_configs.get("pymdownx.snippets", {}))
    settings["base_path"] = [str(root / p) for p in settings.get("base_path", ["."])]
    return settings


def expand(text: str, settings: dict) -> str:
    """Expand ``--8<--`` as the site build and the docs tests do."""
    md = markdown.Markdown(extensions=["pymdownx.snippets"],
                           extension_configs={"pymdownx.snippets": settings})
    return "\n".join(md.preprocessors["snippet"].run(text.split("\n")))


# --------------------------------------------------------------------------- containers


DETAILS_OPEN = re.compile(r"^<details( open)?><summary>(?P<summary>.*)</summary>$")
DETAILS_CLOSE = "</details>"


def _close_details(out: list[str]) -> None:
    while out and not out[-1].strip():
        out.pop()
    out += ["", DETAILS_CLOSE, ""]


def flatten_containers(lines: list[str]) -> list[str]:
    """Admonitions and content tabs as bold headers, their bodies dedented (fences included).
    A collapsible block (``???``, ``???+``) becomes ``<details>`` with its title as the summary,
    folded as on the page (``???+``: open)."""
    out: list[str] = []
    stack: list[tuple[int, bool]] = []  # (body indentation, folds) of each open container
    fence: tuple[str, int] | None = None  # (ticks, spaces cut from each code line)
    for line in lines:
        if fence is not None:
            cut = min(fence[1], len(line) - len(line.lstrip(" ")))
            out.append(line[cut:])
            if line.lstrip(" ").startswith(fence[0]) and not line.strip().strip("`"):
                fence = None
            continue
        if not line.strip():
            out.append("")
            continue
        indent = len(line) - len(line.lstrip(" "))
        while stack and indent < stack[-1][0]:
            if stack.pop()[1]:
                _close_details(out)
        base = stack[-1][0] if stack else 0
        text = line[base:]
        header = CONTAINER.match(text)
        opened = FENCE.match(text)
        if header and not header["indent"]:
            folds = bool(header["admonition"] and header["admonition"].startswith("???"))
            if header["tab"]:
                out.append(f"**{header['label']}**")
            else:
                title = header["title"]
                if title is not None:
                    title = re.sub(r'\\(.)', r"\1", title)  # a quote escaped in the title: \"
                if title is None:
                    title = header["kind"].replace("-", " ").capitalize()
                prefix = "Question: " if header["kind"] == "question" and title else ""
                if folds:
                    state = " open" if header["admonition"].endswith("+") else ""
                    out.append(f"<details{state}><summary>{escape(prefix + title, quote=False)}</summary>")
                else:
                    out.append(f"**{prefix}{title}**" if title else "")
            out.append("")
            stack.append((base + 4, folds))
            continue
        if opened:
            fence = (opened["ticks"], base)
        out.append(text)
    while stack:
        if stack.pop()[1]:
            _close_details(out)
    return out


# --------------------------------------------------------------------------- links


def _site_path(page_src: str, target: str) -> str | None:
    """The site-relative URL of a relative link from ``page_src`` (None: leave it alone)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith(("/", "//")):
        return None
    path, _, anchor = target.partition("#")
    if not path:
        path = posixpath.basename(page_src)
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_src), path))
    if resolved.endswith(".md"):
        stem = resolved[: -len(".md")]
        if stem == "index" or stem.endswith("/index"):
            resolved = stem[: -len("index")]
        else:
            resolved = stem + "/"
    return resolved + (f"#{anchor}" if anchor else "")


IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif"}

# site path of an image -> its bytes, or None when the site has no such file
ImageSource = Callable[[str], "bytes | None"]


def rewrite_prose(text: str, page_src: str, site_url: str, reference_pages: set[str],
                  images: ImageSource | None = None) -> str:
    """Make prose work outside the site: absolute links, API cross-references, no attr lists.
    With ``images``, an image of the site is embedded instead of linked: an HTML ``<img>`` whose
    source is a data URL of the site's file."""

    def link(match: re.Match) -> str:
        path = _site_path(page_src, match["target"])
        if path is None:
            return match.group(0)
        mime = IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())
        if match["bang"] and images is not None and mime:
            data = images(path)
            if data is None:
                raise ValueError(f"{page_src}: the image {match['target']} is not in the site")
            encoded = base64.b64encode(data).decode("ascii")
            title = match["title"].strip()[1:-1] if match["title"] else ""
            title = f' title="{escape(title)}"' if title else ""
            return f'<img src="data:{mime};base64,{encoded}" alt="{escape(match["text"])}"{title}>'
        return f"{match['bang']}[{match['text']}]({site_url}{path}{match['title'] or ''})"

    def autoref(match: re.Match) -> str:
        ident = match["ident"] or match["bare"]
        shown = match["text"] or f"`{ident}`"
        parts = ident.split(".")
        module = parts[1] if len(parts) > 1 else ""
        page = f"reference/{module}/" if module in reference_pages else "reference/"
        return f"[{shown}]({site_url}{page}#{ident})"

    text = AUTOREF.sub(autoref, text)
    text = LINK.sub(link, text)
    text = ATTR_LIST.sub("", text)
    text = EMOJI.sub("", text)
    return text


# --------------------------------------------------------------------------- cells


def _source(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _markdown_cell(lines: list[str]) -> dict | None:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        return None
    return {"cell_type": "markdown", "metadata": {}, "source": _source("\n".join(lines))}


def _code_cell(code: str, *, cont: bool, bash: bool) -> dict:
    code = code.removesuffix("\n")
    if bash:
        code = "%%bash\n" + code
    metadata = {"lossbook": {"cont": True}} if cont else {}
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [],
            "source": _source(code)}


def page_cells(expanded: str, page_src: str, site_url: str, reference_pages: set[str],
               images: ImageSource | None = None) -> list[dict]:
    """The cells of a page whose snippets are already expanded.

    A code cell cannot sit inside a Markdown cell's ``<details>``: where a folded block holds
    one, the fold closes before the code cell and opens again after it ("continued")."""
    lines = flatten_containers(expanded.split("\n"))
    cells: list[dict] = []
    prose: list[str] = []
    pending: str | None = None  # the marker waiting for the next fence: "cont" / "expected-output"
    last_code: dict | None = None
    folds: list[str] = []  # the <details> lines open in the prose so far
    i = 0

    def flush() -> None:
        reopened = [l for l in prose if l.endswith(" (continued)</summary>")]
        if reopened and all(not l.strip() or l in reopened or l == DETAILS_CLOSE for l in prose):
            prose.clear()  # nothing but a fold reopened after a code cell: no empty fold
        else:
            # rewritten as one text: a link's words may run over a line break
            rewritten = rewrite_prose("\n".join(prose), page_src, site_url, reference_pages, images).split("\n")
            if folds:  # a code cell comes next: close the folds here, reopen them after it
                rewritten += [""] + [DETAILS_CLOSE] * len(folds)
            cell = _markdown_cell(rewritten)
            if cell:
                cells.append(cell)
            prose.clear()
        for opened in folds:
            summary = DETAILS_OPEN.match(opened)["summary"]
            prose.extend([f"<details><summary>{summary} (continued)</summary>", ""])

    while i < len(lines):
        line = lines[i]
        if DETAILS_OPEN.match(line):
            folds.append(line)
        elif line == DETAILS_CLOSE and folds:
            folds.pop()
        marker = MARKER.match(line.strip())
        if marker:
            pending = marker["keyword"]
            i += 1
            continue
        if PYTEST_COMMENT.match(line.strip()):
            i += 1
            continue
        opened = FENCE.match(line)
        if not opened:
            prose.append(line)
            i += 1
            continue
        ticks, info, cut = opened["ticks"], opened["info"].strip(), len(opened["indent"])
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].lstrip(" ").startswith(ticks):
            raw = lines[i]
            body.append(raw[min(cut, len(raw) - len(raw.lstrip(" "))):])
            i += 1
        i += 1  # the closing fence
        code = "\n".join(body) + "\n"
        if pending == "expected-output" and last_code is not None:
            last_code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": _source(code)}]
            pending = None
            continue
        if info in ("python", "bash", "sh"):
            flush()
            last_code = _code_cell(code, cont=pending == "cont", bash=info != "python")
            cells.append(last_code)
        else:
            prose.extend([opened["indent"] + ticks + info, *body, ticks])
        pending = None
    flush()
    return cells


def notebook(cells: list[dict], title: str, page_url: str, repo_url: str | None) -> dict:
    where = f" in a clone of [the repository]({repo_url})" if repo_url else ""
    intro = (
        f"*Generated from the Lossbook lesson [{title}]({page_url}).* Every code cell is a block"
        " that Lossbook's test suite runs, and each output shown is the output the suite checks."
        " Run the cells in order. Snippet cells need only `torch` and `numpy`; cells that import"
        f" `lossbook` need the package (`pip install -e .`{where})."
    )
    first = {"cell_type": "markdown", "metadata": {}, "source": _source(intro)}
    h1 = next((k for k, c in enumerate(cells) if c["cell_type"] == "markdown"
               and "".join(c["source"]).startswith("# ")), None)
    cells = list(cells)
    cells.insert(0 if h1 is None else h1 + 1, first)
    if h1 is not None and len(cells[h1]["source"]) > 1:  # split the title from what follows
        title_cell = dict(cells[h1], source=[cells[h1]["source"][0].rstrip("\n")])
        rest = dict(cells[h1], source=cells[h1]["source"][1:])
        cells[h1 : h1 + 2] = [title_cell, first, rest]
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_path(src_uri: str) -> str:
    return f"{NOTEBOOK_DIR}/{src_uri[: -len('.md')]}.ipynb"


def is_lesson(src_uri: str) -> bool:
    """Lessons get a notebook; the home page and the API reference do not."""
    return src_uri != "index.md" and not src_uri.startswith("reference/")


def build_notebook(page: Path, src_uri: str, config, images: ImageSource | None = None) -> dict | None:
    """The notebook of one page, or None if it has no python block. ``images`` (site path ->
    bytes) embeds the page's images; without it they are linked on the published site."""
    source = page.read_text(encoding="utf-8")
    expanded = expand(source, snippet_config(config))
    site_url = config.site_url or ""
    if site_url and not site_url.endswith("/"):
        site_url += "/"
    docs = Path(config.docs_dir)
    reference_pages = {p.stem for p in (docs / "reference").glob("*.md")}
    cells = page_cells(expanded, src_uri, site_url, reference_pages, images)
    if not any(c["cell_type"] == "code" and not c["source"][0].startswith("%%bash") for c in cells):
        return None
    title = next((l[2:].strip() for l in source.split("\n") if l.startswith("# ")), src_uri)
    page_url = site_url + (_site_path(src_uri, posixpath.basename(src_uri)) or "")
    return notebook(cells, title, page_url, config.repo_url)


# --------------------------------------------------------------------------- mkdocs events

_notebooks: dict[str, str] = {}  # page src_uri -> notebook src_uri
_pending: list[tuple[File, Path, str]] = []  # (notebook file, page, page src_uri), written at post_build
_files = None


def site_images(files) -> ImageSource:
    """Images by site path, from the site's files: the generated figures (drawn by
    docs/hooks/figures.py, whose ``on_post_build`` runs before this hook's, see mkdocs.yml) and
    the files in docs/."""

    def read(path: str) -> bytes | None:
        file = files.get_file_from_path(path)
        return None if file is None else file.content_bytes

    return read


def on_files(files, config):
    """Register a notebook for each lesson with a python block (its links are checked with the
    page's); the figures are drawn in the background, so the notebooks that embed them are
    written at ``on_post_build``."""
    global _files
    _notebooks.clear()
    _pending.clear()
    _files = files
    for file in list(files.documentation_pages()):
        if not is_lesson(file.src_uri):
            continue
        page = Path(file.abs_src_path)
        if build_notebook(page, file.src_uri, config) is None:
            continue
        target = notebook_path(file.src_uri)
        notebook_file = File.generated(config, target, content="")
        files.append(notebook_file)
        _notebooks[file.src_uri] = target
        _pending.append((notebook_file, page, file.src_uri))
    return files


def on_post_build(config):
    images = site_images(_files)
    for notebook_file, page, src_uri in _pending:
        nb = build_notebook(page, src_uri, config, images)
        notebook_file.content_string = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        notebook_file.copy_file()


def on_page_markdown(markdown_text, page, config, files):
    target = _notebooks.get(page.file.src_uri)
    if target is None:
        return markdown_text
    href = posixpath.relpath(target, posixpath.dirname(page.file.src_uri) or ".")
    name = posixpath.basename(target)
    link = (
        f"[:material-download: Download this lesson as a Jupyter notebook]({href})"
        f'{{ .md-button .lossbook-notebook download="{name}" }}'
    )
    lines = markdown_text.split("\n")
    at = next((k for k, l in enumerate(lines) if l.startswith("# ")), None)
    if at is None:
        return link + "\n\n" + markdown_text
    lines[at + 1 : at + 1] = ["", link]
    return "\n".join(lines)

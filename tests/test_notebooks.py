"""The downloadable notebooks are the tested pages, and their links work in the built site.

``docs/hooks/notebooks.py`` turns each lesson into a notebook at build time. Here: its code cells
are exactly the blocks the docs tests run (same snippet expansion, same ``cont`` joins), its
outputs are exactly the ``expected-output`` blocks, its prose has no link that only works inside
the site, and every lesson page of the built site links to a notebook that is there.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import posixpath
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from docs_pages import DOCS, ROOT, collect, mkdocs_config, pages, relative, snippets_config

spec = importlib.util.spec_from_file_location("lossbook_notebooks_hook", DOCS / "hooks" / "notebooks.py")
hook = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = hook
spec.loader.exec_module(hook)


def config():
    cfg = mkdocs_config()
    return SimpleNamespace(
        config_file_path=str(ROOT / "mkdocs.yml"),
        mdx_configs={"pymdownx.snippets": snippets_config()},
        site_url=cfg.get("site_url", ""),
        repo_url=cfg.get("repo_url"),
        docs_dir=str(DOCS),
    )


def src_uri(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


LESSONS = [p for p in pages() if hook.is_lesson(src_uri(p)) and "hooks" not in p.parts]
WITH_CODE = [p for p in LESSONS if any(b.syntax == "python" for b in collect(p))]


@functools.cache
def notebook(page: Path) -> dict:
    """The notebook the hook builds for a page, built once per process (the tests only read it)."""
    return hook.build_notebook(page, src_uri(page), config())


def code_of(cell: dict) -> tuple[str, str]:
    text = "".join(cell["source"])
    if text.startswith("%%bash\n"):
        return "bash", text.removeprefix("%%bash\n") + "\n"
    return "python", text + "\n"


def cell_blocks(nb: dict) -> list[tuple[str, str, str | None]]:
    """(syntax, code, expected output) per block, `cont` cells joined to the block they continue."""
    blocks: list[list] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        syntax, code = code_of(cell)
        output = "".join(cell["outputs"][0]["text"]) if cell["outputs"] else None
        if cell["metadata"].get("lossbook", {}).get("cont"):
            assert blocks, "a continuation cell with nothing before it"
            blocks[-1][1] += code
            if output is not None:
                blocks[-1][2] = output
        else:
            blocks.append([syntax, code, output])
    return [tuple(b) for b in blocks]


def squeeze(text: str | None) -> str | None:
    """Blank lines dropped. pytest-codeblocks drops the blank lines of a fence indented in a tab
    or an admonition (it cuts the newline with the indentation), so the tested code of such a
    block has none while the page, and the notebook, keep them. Nothing else is normalised."""
    if text is None:
        return None
    return "\n".join(line for line in text.split("\n") if line.strip())


def blocks_of(page: Path) -> list[tuple[str, str, str | None]]:
    return [(b.syntax, squeeze(b.code), squeeze(b.expected_output)) for b in collect(page)]


def shown(nb: dict) -> list[tuple[str, str, str | None]]:
    return [(syntax, squeeze(code), squeeze(out)) for syntax, code, out in cell_blocks(nb)]


def test_there_are_lessons_with_code():
    assert WITH_CODE, "no lesson page has a python block"
    assert DOCS / "custom-losses.md" in WITH_CODE


@pytest.mark.parametrize("page", WITH_CODE, ids=relative)
def test_code_cells_are_exactly_the_tested_blocks(page):
    nb = notebook(page)
    assert nb is not None
    want = blocks_of(page)
    got = shown(nb)
    assert len(got) == len(want), f"{len(got)} code cells for {len(want)} tested blocks"
    for number, (g, w) in enumerate(zip(got, want)):
        assert g[0] == w[0], f"block {number}: {g[0]} cell for a {w[0]} block"
        assert g[1] == w[1], f"block {number} differs from the tested code:\n{g[1]}\n---\n{w[1]}"
        assert g[2] == w[2], f"block {number}: the output shown is not the output the tests check"


@pytest.mark.parametrize("page", WITH_CODE, ids=relative)
def test_notebook_is_valid_nbformat_4(page):
    nb = notebook(page)
    nb = json.loads(json.dumps(nb))  # what is written is JSON
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 5
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[\w-]{1,64}", i) for i in ids)
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert isinstance(cell["source"], list) and all(isinstance(s, str) for s in cell["source"])
        assert all(s.endswith("\n") for s in cell["source"][:-1])
        if cell["cell_type"] == "code":
            assert cell["execution_count"] is None
            for output in cell["outputs"]:
                assert output["output_type"] == "stream" and output["name"] == "stdout"
        else:
            assert "outputs" not in cell


@pytest.mark.parametrize("page", WITH_CODE, ids=relative)
def test_prose_works_outside_the_site(page):
    nb = notebook(page)
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    site = mkdocs_config()["site_url"]
    assert prose.startswith("# ") and site in prose
    assert "--8<--" not in prose and "<!--pytest" not in prose
    assert not re.search(r"\]\((?!https?://|#)[^)]*\)", prose), "a relative link is left"
    assert not re.search(r"\]\[lossbook\.", prose), "an API cross-reference is left unresolved"
    assert not re.search(r"^\s*(===|!!!|\?\?\?)", prose, re.MULTILINE), "a tab or admonition is left"


RUN_ALL = os.environ.get("LOSSBOOK_RUN_NOTEBOOKS", "") not in ("", "0")
EXECUTED = WITH_CODE if RUN_ALL else [p for p in WITH_CODE if p.name == "debugging.md"]


@pytest.mark.parametrize("page", EXECUTED, ids=relative)
def test_the_notebook_runs_top_to_bottom_in_one_kernel(page):
    """Run as a reader would: every cell in order, one shared namespace, outputs as shown.

    The docs tests run each block on its own; a notebook shares state between cells, so this
    catches a cell that breaks a later one. One lesson by default (LOSSBOOK_RUN_NOTEBOOKS=1: all).
    """
    from lossbook.kata import _one_thread  # small tensors: one thread, no contention

    nb = notebook(page)
    namespace = {"__name__": "__main__"}
    with _one_thread():
        _run_cells(nb, namespace, page)


def _run_cells(nb: dict, namespace: dict, page: Path) -> None:
    for number, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        code = "".join(cell["source"])
        if code.startswith("%%bash"):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<{relative(page)} cell {number}>", "exec"), namespace)  # noqa: S102
        if cell["outputs"]:
            assert squeeze(out.getvalue()) == squeeze("".join(cell["outputs"][0]["text"])), code


def test_cells_follow_the_page():
    """Tabs and admonitions are flattened, prose and code interleave as on the page."""
    text = (
        "# Title\n\nIntro [next](metrics.md#roc) and [api][lossbook.classification.focal_loss].\n\n"
        '=== "PyTorch"\n\n    ```python\n    print(1)\n    ```\n'
        "    <!--pytest-codeblocks:expected-output-->\n    ```text\n    1\n    ```\n\n"
        '??? question "Why?"\n    Because.\n\n    ```python\n    x = 2\n    ```\n\n'
        "<!--pytest-codeblocks:cont-->\n```python\nprint(x)\n```\n\nThe end.\n"
    )
    cells = hook.page_cells(text, "lesson.md", "https://site/", {"classification"})
    kinds = [c["cell_type"] for c in cells]
    assert kinds == ["markdown", "code", "markdown", "code", "code", "markdown"]
    intro = "".join(cells[0]["source"])
    assert "[next](https://site/metrics/#roc)" in intro
    assert "(https://site/reference/classification/#lossbook.classification.focal_loss)" in intro
    assert intro.rstrip().endswith("**PyTorch**")
    assert cells[1]["source"] == ["print(1)"] and cells[1]["outputs"][0]["text"] == ["1\n"]
    # the answer is folded; the fold closes before the code cell it holds
    assert "".join(cells[2]["source"]) == "<details><summary>Question: Why?</summary>\n\nBecause.\n\n\n</details>"
    assert cells[4]["metadata"] == {"lossbook": {"cont": True}}


def test_folded_blocks_stay_folded_around_code_cells():
    text = ('??? question "Why <b>?"\n    Because.\n\n    ```python\n    x = 2\n    ```\n\n'
            "    ```python\n    y = 3\n    ```\n\n    More.\n\n"
            '???+ example "Open"\n    Shown.\n\n!!! note\n    Not folded.\n\nEnd.\n')
    cells = hook.page_cells(text, "lesson.md", "https://site/", set())
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code", "markdown"]
    first, last = ("".join(c["source"]) for c in (cells[0], cells[3]))
    assert first.startswith("<details><summary>Question: Why &lt;b&gt;?</summary>") and first.endswith("</details>")
    assert last.startswith("<details><summary>Question: Why &lt;b&gt;? (continued)</summary>")
    assert "<details open><summary>Open</summary>\n\nShown.\n\n</details>" in last
    assert "**Note**\n\nNot folded." in last
    for cell in (first, last):  # every cell's HTML balanced: a fold cannot swallow what follows
        assert cell.count("<details") == cell.count("</details>")
    (escaped,) = hook.page_cells('??? example "Write `f(kind=\\"eps\\")`."\n    Body.\n', "a.md", "https://s/", set())
    assert "".join(escaped["source"]).startswith('<details><summary>Write `f(kind="eps")`.</summary>')


def test_images_are_embedded_as_data_urls():
    text = "# T\n\n![A <curve>](figures/curve.svg)\n\nText ![B](../elsewhere.png \"t\").\n"
    files = {"figures/curve.svg": b"<svg>1</svg>", "elsewhere.png": b"\x89PNG"}
    cells = hook.page_cells(text, "glossary/x.md", "https://site/", set(),
                            lambda path: files.get(path.replace("glossary/figures", "figures")))
    (cell,) = cells
    assert "".join(cell["source"]) == (
        '# T\n\n<img src="data:image/svg+xml;base64,PHN2Zz4xPC9zdmc+" alt="A &lt;curve&gt;">\n\n'
        'Text <img src="data:image/png;base64,iVBORw==" alt="B" title="t">.')
    with pytest.raises(ValueError, match="missing.svg"):
        hook.page_cells("![x](figures/missing.svg)", "a.md", "https://site/", set(), files.get)


def test_a_link_broken_over_two_lines_is_rewritten():
    (cell,) = hook.page_cells("See the [simulation\nmetrics](simulation-metrics.md#realism) lesson.\n",
                              "a.md", "https://site/", set())
    assert "".join(cell["source"]) == "See the [simulation\nmetrics](https://site/simulation-metrics/#realism) lesson."


# --------------------------------------------------------------------------- the built site



class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a":
            self.links.append(attrs)


@functools.cache
def parse(path: Path) -> _Links:
    """A built page's links and ids, parsed once per process (several katas share a lesson page)."""
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def page_html(site: Path, uri: str) -> Path:
    stem = uri[: -len(".md")]
    return site / ("index.html" if stem == "index" else f"{stem}/index.html")


def test_every_lesson_links_a_notebook_that_is_in_the_site(built_site):
    site, _ = built_site
    for page in WITH_CODE:
        uri = src_uri(page)
        html = page_html(site, uri)
        if not html.exists():
            continue  # not in the site (e.g. not yet in nav): no link to check
        expected = site / hook.notebook_path(uri)
        assert expected.exists(), f"{expected} was not generated"
        nb = json.loads(expected.read_text(encoding="utf-8"))
        assert shown(nb) == blocks_of(page)
        downloads = [a for a in parse(html).links if "lossbook-notebook" in (a.get("class") or "")]
        assert len(downloads) == 1, f"{uri}: {len(downloads)} notebook links"
        href = downloads[0]["href"]
        target = posixpath.normpath(posixpath.join(html.parent.relative_to(site).as_posix(), href))
        assert (site / target).resolve() == expected.resolve(), f"{uri}: link {href} -> {target}"
        assert downloads[0].get("download", "").endswith(".ipynb")


def test_notebooks_carry_their_figures_and_fold_the_answers(built_site):
    """Offline, after the server stops, a downloaded notebook still shows every figure of its
    page (embedded, byte for byte the site's), and the interview answers are folded."""
    import base64

    site, _ = built_site
    folded = 0
    for page in WITH_CODE:
        uri = src_uri(page)
        if not (site / hook.notebook_path(uri)).exists():
            continue
        nb = json.loads((site / hook.notebook_path(uri)).read_text(encoding="utf-8"))
        figures = re.findall(r"!\[[^\]]*\]\(([^)\s]+\.svg)", page.read_text(encoding="utf-8"))
        embedded = {}
        for cell in (c for c in nb["cells"] if c["cell_type"] == "markdown"):
            text = "".join(cell["source"])
            assert text.count("<details") == text.count("</details>"), f"{uri}: a fold left open"
            folded += text.count("<details")
            linked = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text)
            assert not linked, f"{uri}: images linked, not embedded: {linked}"
            for data in re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', text):
                svg = base64.b64decode(data)
                embedded[svg] = True
        for figure in figures:
            name = posixpath.basename(figure)
            assert (site / "figures" / name).read_bytes() in embedded, f"{uri}: {name} not embedded"
    assert folded, "no folded block in any notebook"


def test_pages_without_code_get_no_notebook(built_site):
    site, _ = built_site
    html = site / "reference" / "index.html"
    assert not (site / "notebooks" / "reference").exists()
    assert not (site / "notebooks" / "index.ipynb").exists()
    assert not any("lossbook-notebook" in (a.get("class") or "") for a in parse(html).links)


def test_kata_lessons_exist_in_the_site(built_site):
    """`lossbook kata show` names the lesson section of each kata: it must be there."""
    from lossbook import kata

    site, _ = built_site
    for k in kata.KATAS.values():
        if not k.lesson:
            continue
        page, _, anchor = k.lesson.partition("#")
        html = page_html(site, page)
        assert html.exists(), f"kata {k.name}: lesson page {page} is not in the site"
        if anchor:
            assert anchor in parse(html).ids, f"kata {k.name}: no #{anchor} on {page}"

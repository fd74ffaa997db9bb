"""The pages as readers see them: expand ``--8<--`` and collect the code blocks.

Snippets are expanded by pymdownx.snippets' own preprocessor, configured from mkdocs.yml (no
settings are repeated here), then the blocks are collected by pytest-codeblocks' parser, so its
markers (``cont``, ``expected-output``, ``pytest.mark.*``) mean what they mean there. Each block
keeps a map from its lines to the lines of the page's source, so a failure names the page and
the source line.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import markdown
from mkdocs.utils import yaml_load
from pytest_codeblocks.main import extract_from_buffer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUNNABLE = ("python", "bash", "sh")
# Display-only fence languages: shown, never run. Keep this list short and deliberate.
DISPLAY_ONLY = ("text", "yaml")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
INCLUDE = re.compile(r"""--8<--\s+["']([^"':]+):([\w-]+)["']""")


@cache
def mkdocs_config() -> dict:
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as handle:
        return yaml_load(handle)


@cache
def snippets_config() -> dict:
    for entry in mkdocs_config()["markdown_extensions"]:
        if isinstance(entry, dict) and "pymdownx.snippets" in entry:
            return dict(entry["pymdownx.snippets"] or {})
        if entry == "pymdownx.snippets":
            return {}
    raise LookupError("mkdocs.yml does not enable pymdownx.snippets")


def expand(text: str, *, base: Path = ROOT) -> str:
    """Expand ``--8<--`` exactly as the site build does (paths relative to ``base``)."""
    config = dict(snippets_config())
    config["base_path"] = [str(base / p) for p in config.get("base_path", ["."])]
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": config})
    return "\n".join(md.preprocessors["snippet"].run(text.split("\n")))


def line_map(source: str, expanded: str) -> list[int]:
    """For each expanded line (1-based index - 1), the page source line it comes from.

    Lines a snippet inserted map to the ``--8<--`` line that included them.
    """
    src, out = source.split("\n"), expanded.split("\n")
    mapping = [0] * len(out)
    matcher = difflib.SequenceMatcher(a=src, b=out, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            mapping[j] = (i1 + (j - j1) if tag == "equal" else i1) + 1
    return mapping


@dataclass
class Block:
    page: str  # path relative to the repository, e.g. docs/custom-losses.md
    code: str
    syntax: str
    page_line: int  # line of the opening fence in the page source
    code_lines: list[int]  # page source line of each code line
    expected_output: str | None
    ignore_whitespace: bool
    marks: list[str]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.page_line}"


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def collect(path: Path, *, base: Path = ROOT) -> list[Block]:
    """The runnable blocks of a page, snippets expanded from ``base`` (the repository's by default).

    A page as the repository holds it is collected once per process (test_docs, test_notebooks,
    test_snippet_mutations and the browser tests all ask for the same pages); the cache is keyed
    by the page's and the snippets' modification times, so an edited file is read again.
    """
    if base == ROOT:
        return list(_collect_cached(path, _stamp(path)))
    return _collect(path, base=base)


def _stamp(path: Path) -> tuple:
    files = [path, *sorted((ROOT / "snippets").glob("*.py"))]
    return tuple(f.stat().st_mtime_ns for f in files)


@cache
def _collect_cached(path: Path, stamp: tuple) -> tuple[Block, ...]:
    return tuple(_collect(path, base=ROOT))


def collect_code(path: Path, *, base: Path) -> list[Block]:
    """The runnable blocks of a page as :func:`collect` finds them, without the map to the page's
    source lines (``page_line`` 0, no ``code_lines``): for a caller that pairs them with the
    blocks of the same page by position (test_snippet_mutations), the difflib map is wasted."""
    return _collect(path, base=base, line_numbers=False)


def _collect(path: Path, *, base: Path, line_numbers: bool = True) -> list[Block]:
    source = path.read_text(encoding="utf-8")
    expanded = expand(source, base=base)
    mapping = line_map(source, expanded) if line_numbers else None
    out_lines = expanded.split("\n")
    blocks = []
    for raw in extract_from_buffer(io.StringIO(expanded)):
        if raw.syntax not in RUNNABLE:
            continue
        first = raw.lineno  # 1-based line of the fence; code starts on the next line
        # Code lines appear in order in the expanded page (a `cont` block adds a later run of
        # lines), so a forward search finds where each one came from.
        code_lines, at = [], first
        for code_line in raw.code.split("\n")[:-1] if mapping else ():
            while at < len(out_lines) - 1 and out_lines[at].strip() != code_line.strip():
                at += 1
            code_lines.append(mapping[at])
            at += 1
        blocks.append(
            Block(
                page=relative(path),
                code=raw.code,
                syntax=raw.syntax,
                page_line=mapping[first - 1] if mapping else 0,
                code_lines=code_lines,
                expected_output=raw.expected_output,
                ignore_whitespace=raw.expected_output_ignore_whitespace,
                marks=list(raw.marks),
            )
        )
    return blocks


class BlockFailure(AssertionError):
    pass


def _python_failure(block: Block, filename: str, error: BaseException) -> str:
    lines = block.code.split("\n")
    where = [
        f"  {block.page}:{block.code_lines[min(f.lineno, len(block.code_lines)) - 1]}"
        f" ({f.name}):  {lines[f.lineno - 1].strip()}"
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename == filename
    ]
    tb = "".join(traceback.format_exception(error)).rstrip()
    return (
        f"{block.page}:{block.page_line}: the {block.syntax} block failed at\n"
        + "\n".join(where)
        + f"\n\n{tb}"
    )


def scramble_global_rngs() -> None:
    """Start every block from unpredictable global RNG states, as a reader's fresh interpreter
    does: a block that prints random numbers without seeding then fails here too, instead of
    passing by the luck of what ran before it in the same worker."""
    import random

    import numpy as np
    import torch

    seed = int.from_bytes(os.urandom(4), "little")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_block(block: Block) -> str:
    """Run one block as the reader would (python as __main__, bash in a shell); return stdout."""
    if block.syntax == "python":
        scramble_global_rngs()
        filename = f"<{block.page}:{block.page_line}>"
        output = io.StringIO()
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        try:
            compiled = compile(block.code, filename, "exec")
            with contextlib.redirect_stdout(output):
                exec(compiled, namespace)
        except Exception as error:  # noqa: BLE001 - report every failure with its page line
            raise BlockFailure(_python_failure(block, filename, error)) from None
        stdout = output.getvalue()
    else:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        shell = "/bin/bash" if block.syntax == "bash" else "/bin/sh"
        done = subprocess.run(
            block.code, shell=True, executable=shell, cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            raise BlockFailure(
                f"{block.page}:{block.page_line}: the {block.syntax} block exited with"
                f" {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        stdout = done.stdout
    if block.expected_output is not None:
        want, got = block.expected_output, stdout
        if block.ignore_whitespace:
            want, got = re.sub(r"\s+", "", want), re.sub(r"\s+", "", got)
        if want != got:
            diff = "\n".join(
                difflib.unified_diff(
                    block.expected_output.split("\n"), stdout.split("\n"),
                    "shown on the page", "printed now", lineterm="",
                )
            )
            raise BlockFailure(
                f"{block.page}:{block.page_line}: the output shown on the page differs from"
                f" what the block prints\n{diff}"
            )
    return stdout


def fences(path: Path) -> list[tuple[int, str, str]]:
    """Every opening fence of a page source: (line, fence characters, info string)."""
    found, open_fence = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        match = FENCE.match(line)
        if not match:
            continue
        fence, info = match["fence"], match["info"].strip()
        if open_fence is None:
            found.append((number, fence, info))
            open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not info:
            open_fence = None
    return found

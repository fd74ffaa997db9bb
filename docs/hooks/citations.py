"""Citations: `[@key, locator]` in a page becomes a numbered link; the page ends with its Sources.

The bibliography is every YAML file in ``docs/sources/`` (one file per domain, one site-wide set of
keys). A page cites where a fact is used, always with a precise locator (section, table,
equation, function, lines): ``[@lin2017focal, §3.3]``, or several at once,
``[@lin2017focal, Table 1a; @mukhoti2020calibrating, §4]``. The build fails, naming the page and
line, on an unknown key, a citation without a locator, a key defined twice, or an entry without
the fields its kind needs (code and documentation entries name the version or commit checked).

Every page that shows Python code also ends with what that code was tested with: the torch and
numpy versions of ``requirements.lock``, read at build time.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from mkdocs.exceptions import PluginError

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the same safe loader, faster
SOURCES_DIR = "sources"
KINDS = {"paper", "code", "docs", "thread", "book", "web"}
REQUIRED = ("kind", "authors", "title", "year", "url")
VERSIONED = {"code", "docs"}  # another project's code or docs: name the tag, release or commit
OPTIONAL = ("venue", "version", "note")

# A citation: "[@" key ", " locator (";" "@" key ", " locator)* "]". A bracket that starts with
# "[@" but does not parse is an error, not prose: it would otherwise reach the reader raw.
PART = re.compile(r"^\s*@(?P<key>[A-Za-z0-9][\w:.-]*)\s*(?:,\s*(?P<locator>.*?))?\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,}|~{3,})")
INLINE_CODE = r"(?P<code>(`+)(?:(?!\2).)+?\2)"
CODE_OR_CITATION = re.compile(INLINE_CODE + r"|\[(?P<cite>@(?:(?!\n[ \t]*\n)[^\[\]])*)\]")


@dataclass(frozen=True)
class Source:
    key: str
    kind: str
    authors: str
    title: str
    year: int | str
    url: str
    venue: str = ""
    version: str = ""
    note: str = ""

    def short(self) -> str:
        first = self.authors.split(",")[0].strip()
        more = " et al." if "," in self.authors else ""
        return f"{first}{more} {self.year}"

    def html(self, locators: list[str]) -> str:
        esc = html.escape
        parts = [f"{esc(self.authors)}.", f'<a href="{esc(self.url)}">{esc(self.title)}</a>.']
        if self.venue:
            parts.append(f"{esc(self.venue)}.")
        if self.version:
            parts.append(f"Checked at {esc(self.version)}.")
        else:
            parts.append(f"{esc(str(self.year))}.")
        if self.note:
            parts.append(esc(self.note))
        cited = "; ".join(esc(loc) for loc in dict.fromkeys(locators))
        parts.append(f'<span class="lb-source-where">Cited: {cited}.</span>')
        return " ".join(parts)


def load_bibliography(folder: Path) -> dict[str, Source]:
    """Every entry of every ``*.yml`` in *folder*, validated; errors name the file and the key."""
    sources: dict[str, Source] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.yml")):
        try:
            entries = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        except yaml.YAMLError as error:
            raise PluginError(f"{path}: not valid YAML: {error}") from error
        if not isinstance(entries, dict):
            raise PluginError(f"{path}: expected a mapping of citation keys to entries")
        for key, entry in entries.items():
            name = f"{path.name}: {key!r}"
            if key in sources:
                raise PluginError(f"{name}: key already defined in {where[key]}")
            if not isinstance(entry, dict):
                raise PluginError(f"{name}: expected a mapping of fields, got {entry!r}")
            unknown = set(entry) - set(REQUIRED) - set(OPTIONAL)
            if unknown:
                raise PluginError(f"{name}: unknown field(s) {sorted(unknown)}")
            missing = [f for f in REQUIRED if not str(entry.get(f, "")).strip()]
            if missing:
                raise PluginError(f"{name}: missing field(s) {missing}")
            if entry["kind"] not in KINDS:
                raise PluginError(f"{name}: kind must be one of {sorted(KINDS)}, got {entry['kind']!r}")
            if entry["kind"] in VERSIONED and not str(entry.get("version", "")).strip():
                raise PluginError(f"{name}: a {entry['kind']} source needs 'version' (the tag, release or commit checked)")
            if not re.match(r"https?://", str(entry["url"])):
                raise PluginError(f"{name}: url must be http(s), got {entry['url']!r}")
            sources[key] = Source(key=key, **{k: entry[k] if k == "year" else str(entry[k]).strip()
                                              for k in entry})
            where[key] = path.name
    return sources


def _prose_lines(lines: list[str]):
    """(index, line) of every line outside fenced code blocks."""
    fence: str | None = None
    for i, line in enumerate(lines):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match["ticks"]
                continue
            yield i, line
        elif match and match["ticks"].startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            fence = None


def _literal(text: str) -> str:
    """Escape a locator so Markdown shows it as written (`__call__` stays code, __init__ not bold)."""
    parts = re.split(r"(`+[^`]*`+)", html.escape(text))
    return "".join(p if p.startswith("`") else p.replace("_", "&#95;").replace("*", "&#42;") for p in parts)


def _link(number: int, source: Source, locator: str) -> str:
    title = html.escape(f"{source.short()}, {locator}", quote=True)
    return f'<a href="#source-{number}" title="{title}">{number}, {_literal(locator)}</a>'


def cite(markdown: str, sources: dict[str, Source], where: str, link=_link,
         group=lambda links: '<sup class="lb-cite">[' + "; ".join(links) + "]</sup>",
         ) -> tuple[str, list[tuple[Source, list[str]]]]:
    """Replace citations by numbered links; return the text and the cited sources in order."""
    order: dict[str, int] = {}
    locators: dict[str, list[str]] = {}
    lines = markdown.split("\n")

    def replace(match: re.Match[str], lineno: int) -> str:
        links, key = [], None
        for raw in match["cite"].split(";"):
            raw = " ".join(raw.split())
            part = PART.match(raw)
            if part:
                key, locator = part["key"], (part["locator"] or "").strip()
            elif key and raw and not raw.startswith("@"):  # [@key, §2; §4]: another place in the same source
                locator = raw
            else:
                raise PluginError(f"{where}:{lineno}: cannot read citation {match[0]!r}: write [@key, locator]")
            if key not in sources:
                raise PluginError(f"{where}:{lineno}: unknown citation key {key!r} (define it in docs/{SOURCES_DIR}/*.yml)")
            if not locator:
                raise PluginError(f"{where}:{lineno}: citation of {key!r} has no locator: write [@{key}, §3.2] (section, table, equation, function...)")
            number = order.setdefault(key, len(order) + 1)
            locators.setdefault(key, []).append(locator)
            links.append(link(number, sources[key], locator))
        return group(links)

    # Runs of prose lines (a citation may wrap onto the next line of its paragraph); left to right,
    # an inline code span is kept as it is and a citation is replaced.
    prose = list(_prose_lines(lines))
    runs: list[list[int]] = []
    for i, _ in prose:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        text = "\n".join(lines[i] for i in run)
        if "[@" not in text:
            continue

        def at(offset: int, first: int = run[0], text: str = text) -> int:
            return first + text.count("\n", 0, offset) + 1

        text = CODE_OR_CITATION.sub(lambda m: m[0] if m["code"] else replace(m, at(m.start())), text)
        left = re.search(r"\[@", re.sub(INLINE_CODE, lambda m: " " * len(m[0]), text))
        if left:
            raise PluginError(f"{where}:{at(left.start(), text=text)}: a citation that does not close within its "
                              f"paragraph would reach the reader raw: close it with ']'")
        new = text.split("\n")
        lines[run[0]:run[-1] + 1] = new + [None] * (len(run) - len(new))
    lines = [line for line in lines if line is not None]
    cited = [(sources[key], locators[key]) for key in order]
    return "\n".join(lines), cited


def sources_section(cited: list[tuple[Source, list[str]]]) -> str:
    items = "\n".join(f'<li id="source-{n}">{source.html(locs)}</li>' for n, (source, locs) in enumerate(cited, 1))
    return f'\n\n## Sources {{ #sources }}\n\n<ol class="lb-sources">\n{items}\n</ol>\n'


def for_notebook(markdown: str, sources: dict[str, Source], where: str, page_url: str) -> str:
    """A page's text for its notebook: citations as links to the page's Sources, which end it."""
    text, cited = cite(markdown, sources, where, link=lambda n, _, loc: f"[{n}, {loc}]({page_url}#source-{n})",
                       group=lambda links: "[" + "; ".join(links) + "]")
    if not cited:
        return text
    items = "\n".join(f"{n}. {s.authors}. [{s.title}]({s.url}). {s.venue + '. ' if s.venue else ''}"
                      f"{'Checked at ' + s.version if s.version else s.year}. Cited: {'; '.join(dict.fromkeys(locs))}."
                      for n, (s, locs) in enumerate(cited, 1))
    return f"{text}\n\n## Sources\n\n{items}\n"


def tested_with(root: Path) -> str:
    """'torch X and numpy Y', read from requirements.lock."""
    lock = (root / "requirements.lock").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^(torch|numpy)==([^\s;#]+)", lock, re.M))
    missing = {"torch", "numpy"} - set(pins)
    if missing:
        raise PluginError(f"requirements.lock pins no {sorted(missing)}: the page footer cannot say what the code was tested with")
    return f"torch {pins['torch']} and numpy {pins['numpy']}"


# --------------------------------------------------------------------------- mkdocs hooks

_STATE: dict = {}


def on_config(config):
    docs = Path(config.docs_dir)
    _STATE["sources"] = load_bibliography(docs / SOURCES_DIR)
    _STATE["tested_with"] = tested_with(Path(config.config_file_path).resolve().parent)
    _STATE["used"] = set()
    return config


def on_page_markdown(markdown, page, config, files):
    text, cited = cite(markdown, _STATE["sources"], page.file.src_uri)
    _STATE["used"].update(source.key for source, _ in cited)
    if cited:
        text += sources_section(cited)
    if re.search(r"^\s*```python\s*$", markdown, re.M):
        text += (f'\n\n<p class="lb-tested-with">The code on this page is tested with '
                 f'{_STATE["tested_with"]} (<code>requirements.lock</code>), by <code>make test</code>.</p>\n')
    return text

"""Self-check quizzes written in the page's Markdown, with numeric answer keys computed by the library.

A question is a fenced block whose info string is ``quiz``, holding YAML (read with
``yaml.safe_load``: data only, nothing in it is executed except ``given`` and ``compute``, which are
Python expressions written by the page's author, evaluated at build time with ``lossbook``,
``torch``, ``math``, ``np`` and ``F`` (``torch.nn.functional``) in scope). Two kinds:

Multiple choice (exactly one option is right; every option explains itself)::

    question: Markdown text
    section: "#anchor-on-this-page"      # where a wrong answer sends the reader
    options:
      - text: Markdown (inline)
        why: why this option is right or wrong
        correct: true                    # on exactly one option
      - text: ...
        why: ...

Numeric (the key is ``compute`` evaluated now, by the library)::

    question: Markdown text
    section: "#anchor"
    given:                               # optional inputs, shown to the reader as inline code
      logits: torch.tensor([[2.0, 0.5, -1.0]])
    compute: lossbook.focal_loss(logits, torch.tensor([0]), gamma=2.0)
    tolerance: 0.0005                    # absolute; the key is shown to ceil(-log10(tolerance)) decimals
    why: how to get there (shown after any answer)
    mistakes:                            # optional: recognised wrong answers, computed too
      - compute: lossbook.cross_entropy(...)
        why: what this number means

The build fails, naming the page and line, on anything malformed: bad YAML, an unknown or missing
key, not exactly one correct option, a ``compute`` that does not call ``lossbook`` or does not
return one finite number, a recognised mistake within the tolerance of the key, or a ``section``
anchor the page does not have.

Fenced blocks ``prompt`` (the mock interview's bank) are rendered here too: see ``PROMPT_KEYS``.

Each block becomes HTML that reads without JavaScript (the answers sit in a ``<details>``);
``assets/quiz.js`` turns the options into buttons and the numeric questions into an input with
feedback announced in an ``aria-live`` region.
"""

from __future__ import annotations

import ast
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mkdocs.exceptions import PluginError

# libyaml when PyYAML has it (the same safe loader, ten times faster: 240 blocks a build)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FENCE_OPEN = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>quiz|prompt)\s*$")
CHOICE_KEYS = {"question", "section", "options"}
NUMBER_KEYS = {"question", "section", "given", "compute", "tolerance", "why", "mistakes"}
OPTION_KEYS = {"text", "why", "correct"}
MISTAKE_KEYS = {"compute", "why"}
PROMPT_PARTS = {"theory": "Theory", "judgement": "Modelling judgement", "code": "Code"}
RUBRIC_KEYS = {  # the shape of a strong answer, in the study plan's order
    "task": "Task and cost of mistakes",
    "metric": "Metric",
    "loss": "Loss",
    "tradeoffs": "Trade-offs and failure modes",
    "code": "Code",
    "debugging": "Debugging and monitoring",
}
PROMPT_KEYS = {"prompt", "part", "section", "rubric", "kata"}
# A "<" followed by a letter, "/" or "!" would be read as an HTML tag inside the generated markup.
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")
SECTION_PLACEHOLDER = "\u2063LBQ-SECTION:{}\u2063"
SECTION_TITLE = re.compile("\u2063LBQ-SECTION:([^\u2063]*)\u2063")


class QuizError(ValueError):
    """A malformed block: the message starts with ``page:line:``."""


@dataclass
class Block:
    kind: str  # "quiz" or "prompt"
    line: int  # the opening fence's line in the page source (1-based)
    indent: str
    start: int  # index of the opening fence in the Markdown's lines
    end: int  # index of the closing fence
    body: str


@dataclass
class Question:
    page: str
    line: int
    kind: str  # "choice" or "number"
    question: str
    section: str
    options: list[dict] = field(default_factory=list)
    given: dict = field(default_factory=dict)
    compute: str = ""
    tolerance: float = 0.0
    why: str = ""
    mistakes: list[dict] = field(default_factory=list)
    answer: float | None = None  # numeric questions, once evaluated
    mistake_values: list[float] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def decimals(self) -> int:
        return max(0, math.ceil(-math.log10(self.tolerance) - 1e-9))

    def shown(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"


# --------------------------------------------------------------------------- finding the blocks


def find_blocks(text: str) -> list[Block]:
    """Every ``quiz`` / ``prompt`` fence of a Markdown text, with its line (1-based) and body."""
    lines = text.split("\n")
    found, at = [], 0
    while at < len(lines):
        opening = FENCE_OPEN.match(lines[at])
        if not opening:
            at += 1
            continue
        indent, ticks = opening["indent"], opening["ticks"]
        close = at + 1
        while close < len(lines):
            stripped = lines[close].strip()
            if stripped.startswith(ticks) and not stripped.strip("`"):
                break
            close += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip(" ")
                for line in lines[at + 1:close]]
        found.append(Block(opening["info"], at + 1, indent, at, close, "\n".join(body)))
        at = close + 1
    return found


def _fail(where: str, message: str):
    raise QuizError(f"{where}: {message}")


def _load(block: Block, page: str) -> dict:
    try:
        try:
            data = yaml.load(block.body, Loader=SAFE_LOADER)
        except yaml.YAMLError:  # parsed again by the pure-Python loader, whose marks name the line
            data = yaml.safe_load(block.body)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = block.line + 1 + mark.line if mark is not None else block.line
        problem = getattr(error, "problem", None) or str(error)
        if "mapping values are not allowed" in problem:
            problem += " (a value holding ': ' must be quoted, or folded on the next lines after '>')"
        _fail(f"{page}:{line}", f"the {block.kind} block is not valid YAML: {problem}")
    where = f"{page}:{block.line}"
    if not isinstance(data, dict):
        _fail(where, f"a {block.kind} block holds one YAML mapping (key: value lines), got {type(data).__name__}")
    return data


def _text(data: dict, key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            _fail(where, f"missing '{key}'")
        return ""
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"'{key}' must be non-empty text, got {value!r}")
    bad = TAG_LIKE.search(value)
    if bad:
        _fail(where, f"'{key}' contains {value[bad.start():bad.start() + 12]!r}: write '<' with a space after"
                     " it (or \\lt in math); raw HTML is not allowed in quiz text")
    return value.strip()


def _code(data: dict, key: str, where: str) -> str:
    """A Python expression: text, or a bare number YAML has already read as one."""
    value = data.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return _text(data, key, where)


def _inline(text: str) -> str:
    return " ".join(text.split())


def _check_keys(data: dict, allowed: set[str], where: str, what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        _fail(where, f"unknown key(s) {unknown} in {what}; allowed: {sorted(allowed)}")


def _section(data: dict, where: str) -> str:
    section = _text(data, "section", where)
    if not re.fullmatch(r"#[\w.:-]+", section):
        _fail(where, f"'section' must be an anchor on this page such as '#focal-loss', got {section!r}")
    return section


def parse_question(block: Block, page: str) -> Question:
    data = _load(block, page)
    where = f"{page}:{block.line}"
    if "options" in data and "compute" in data:
        _fail(where, "a question has either 'options' (multiple choice) or 'compute' (numeric), not both")
    if "options" in data:
        _check_keys(data, CHOICE_KEYS, where, "a multiple-choice question")
        q = Question(page, block.line, "choice", _text(data, "question", where), _section(data, where))
        options = data["options"]
        if not isinstance(options, list) or not 2 <= len(options) <= 6:
            _fail(where, f"'options' must be a list of 2 to 6 options, got {options!r}")
        for number, option in enumerate(options, 1):
            at = f"{where} (option {number})"
            if not isinstance(option, dict):
                _fail(at, f"an option is a mapping with 'text' and 'why', got {option!r}")
            _check_keys(option, OPTION_KEYS, at, "an option")
            correct = option.get("correct", False)
            if not isinstance(correct, bool):
                _fail(at, f"'correct' must be true or false, got {correct!r}")
            q.options.append({"text": _inline(_text(option, "text", at)), "why": _inline(_text(option, "why", at)),
                              "correct": correct})
        right = [n for n, o in enumerate(q.options, 1) if o["correct"]]
        if len(right) != 1:
            _fail(where, f"exactly one option must have 'correct: true', found {len(right)} ({right})")
        return q
    if "compute" in data:
        _check_keys(data, NUMBER_KEYS, where, "a numeric question")
        q = Question(page, block.line, "number", _text(data, "question", where), _section(data, where))
        given = data.get("given") or {}
        if not isinstance(given, dict):
            _fail(where, f"'given' must map names to Python expressions, got {given!r}")
        for name, expression in given.items():
            if not isinstance(name, str) or not name.isidentifier():
                _fail(where, f"'given' names must be Python identifiers, got {name!r}")
            if not isinstance(expression, (str, int, float)) or isinstance(expression, bool):
                _fail(where, f"'given: {name}' must be a Python expression, got {expression!r}")
            q.given[name] = str(expression).strip()
        q.compute = _code(data, "compute", where)
        tolerance = data.get("tolerance")
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < math.inf:
            _fail(where, f"'tolerance' must be a positive number (absolute), got {tolerance!r}")
        q.tolerance = float(tolerance)
        q.why = _inline(_text(data, "why", where))
        mistakes = data.get("mistakes") or []
        if not isinstance(mistakes, list):
            _fail(where, f"'mistakes' must be a list of {{compute, why}}, got {mistakes!r}")
        for number, mistake in enumerate(mistakes, 1):
            at = f"{where} (mistake {number})"
            if not isinstance(mistake, dict):
                _fail(at, f"a mistake is a mapping with 'compute' and 'why', got {mistake!r}")
            _check_keys(mistake, MISTAKE_KEYS, at, "a mistake")
            q.mistakes.append({"compute": _code(mistake, "compute", at), "why": _inline(_text(mistake, "why", at))})
        return q
    _fail(where, "a quiz question needs 'options' (multiple choice) or 'compute' (numeric)")


# --------------------------------------------------------------------------- computing the keys


def namespace() -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    import lossbook

    return {"lossbook": lossbook, "torch": torch, "math": math, "np": np, "F": F}


def _expression(source: str, where: str, what: str) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as error:
        _fail(where, f"{what} is not one Python expression: {error.msg} in {source!r}")


def _to_number(value, where: str, what: str) -> float:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                _fail(where, f"{what} must give one number, got a tensor of shape {tuple(value.shape)}")
            value = value.item()
        elif hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        number = float(value)
    except QuizError:
        raise
    except (TypeError, ValueError):
        _fail(where, f"{what} must give one number, got {type(value).__name__}: {value!r}")
    if not math.isfinite(number):
        _fail(where, f"{what} gave {number}, not a finite number")
    return number


def evaluate(q: Question, scope: dict | None = None) -> Question:
    """Compute the key (and the recognised mistakes) of a numeric question, with the library."""
    import torch

    scope = dict(scope if scope is not None else namespace())
    uses_library = False
    torch.manual_seed(0)
    for name, expression in q.given.items():
        tree = _expression(expression, q.where, f"'given: {name}'")
        uses_library |= any(isinstance(n, ast.Name) and n.id == "lossbook" for n in ast.walk(tree))
        try:
            scope[name] = eval(compile(tree, f"<{q.where} given {name}>", "eval"), scope)  # noqa: S307
        except Exception as error:  # noqa: BLE001 - reported with the page and line
            _fail(q.where, f"'given: {name}' failed: {type(error).__name__}: {error}")

    def run(source: str, what: str) -> float:
        nonlocal uses_library
        tree = _expression(source, q.where, what)
        uses = any(isinstance(n, ast.Name) and n.id == "lossbook" for n in ast.walk(tree))
        try:
            value = eval(compile(tree, f"<{q.where} {what}>", "eval"), dict(scope))  # noqa: S307
        except Exception as error:  # noqa: BLE001 - reported with the page and line
            _fail(q.where, f"{what} failed: {type(error).__name__}: {error}")
        return _to_number(value, q.where, what), uses

    q.answer, uses = run(q.compute, "'compute'")
    if not (uses or uses_library):
        _fail(q.where, f"'compute' must call the library (lossbook.…) so the key cannot drift, got {q.compute!r}")
    q.mistake_values = []
    for number, mistake in enumerate(q.mistakes, 1):
        value, _ = run(mistake["compute"], f"mistake {number}'s 'compute'")
        if abs(value - q.answer) <= 2 * q.tolerance:
            _fail(q.where, f"mistake {number} ({q.shown(value)}) is within twice the tolerance of the answer"
                           f" ({q.shown(q.answer)}): the reader could not tell them apart")
        q.mistake_values.append(value)
    return q


# --------------------------------------------------------------------------- rendering


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _section_link(section: str) -> str:
    anchor = section[1:]
    return (f'<a class="lb-quiz__section" href="{_attr(section)}">'
            f"{SECTION_PLACEHOLDER.format(anchor)}</a>")


def render_question(q: Question, number: int, total: int) -> str:
    letters = "ABCDEF"
    qid = f"quiz-{number}"
    head = [f'<div class="lb-quiz" id="{qid}" data-kind="{q.kind}" markdown="1"']
    if q.kind == "choice":
        right = next(k for k, o in enumerate(q.options) if o["correct"])
        head[0] += f' data-correct="{right}">'
    else:
        head[0] += (f' data-answer="{q.answer!r}" data-tolerance="{q.tolerance!r}"'
                    f' data-shown="{q.shown(q.answer)}"'
                    f" data-mistakes='{_attr(json.dumps(q.mistake_values))}'>")
    out = head + [
        f'<div class="lb-quiz__question" markdown="1">',
        "",
        f'<span class="lb-quiz__number">Question {number} of {total}</span>',
        "",
        q.question,
        "",
        "</div>",
    ]
    if q.kind == "number" and q.given:
        out += ['<ul class="lb-quiz__given" markdown="1">']
        out += [f'<li markdown="span">`{name} = {expr}`</li>' for name, expr in q.given.items()]
        out += ["</ul>"]
    if q.kind == "choice":
        out += ['<ol class="lb-quiz__options" type="A" markdown="1">']
        out += [f'<li markdown="span">{o["text"]}</li>' for o in q.options]
        out += ["</ol>"]
    out += ['<details class="lb-quiz__answer" markdown="1">',
            '<summary>Answer and explanations</summary>']
    if q.kind == "choice":
        out += ['<ul class="lb-quiz__whys" markdown="1">']
        for k, o in enumerate(q.options):
            verdict = "Right" if o["correct"] else "Wrong"
            css = "right" if o["correct"] else "wrong"
            out.append(f'<li class="lb-quiz__why lb-quiz__why--{css}" data-option="{k}" markdown="span">'
                       f"**{letters[k]}: {verdict}.** {o['why']}</li>")
        out += ["</ul>"]
    else:
        out += ['<p class="lb-quiz__key" markdown="span">'
                f"**{q.shown(q.answer)}** (accepted within ±{q.tolerance:g}), computed at build time by"
                f" `{q.compute}`.</p>",
                f'<p class="lb-quiz__how" markdown="span">{q.why}</p>']
        if q.mistakes:
            out += ['<ul class="lb-quiz__mistakes" markdown="1">']
            for k, (mistake, value) in enumerate(zip(q.mistakes, q.mistake_values, strict=True)):
                out.append(f'<li class="lb-quiz__mistake" data-mistake="{k}" markdown="span">'
                           f"**{q.shown(value)}**: {mistake['why']}</li>")
            out += ["</ul>"]
    out += [f'<p class="lb-quiz__see">Read again: {_section_link(q.section)}</p>', "</details>", "</div>", ""]
    return "\n".join(out)


def parse_prompt(block: Block, page: str, katas: set[str] | None = None) -> dict:
    data = _load(block, page)
    where = f"{page}:{block.line}"
    _check_keys(data, PROMPT_KEYS, where, "a mock-interview prompt")
    prompt = {"line": block.line, "prompt": _inline(_text(data, "prompt", where))}
    part = data.get("part")
    if part not in PROMPT_PARTS:
        _fail(where, f"'part' must be one of {sorted(PROMPT_PARTS)}, got {part!r}")
    prompt["part"] = part
    section = _text(data, "section", where)
    if not re.fullmatch(r"[\w./-]*\.md#[\w.:-]+", section):
        _fail(where, f"'section' must be a page and an anchor such as 'metrics.md#calibration', got {section!r}")
    prompt["section"] = section
    rubric = data.get("rubric")
    if not isinstance(rubric, dict) or not rubric:
        _fail(where, f"'rubric' must map some of {list(RUBRIC_KEYS)} to text, got {rubric!r}")
    _check_keys(rubric, set(RUBRIC_KEYS), where, "a rubric")
    prompt["rubric"] = {key: _inline(_text(rubric, key, where)) for key in RUBRIC_KEYS if key in rubric}
    kata = data.get("kata")
    if part == "code" and not kata:
        _fail(where, "a 'code' prompt names its kata ('kata: focal_loss'); `lossbook kata list` shows them")
    if kata is not None:
        if not isinstance(kata, str) or (katas is not None and kata not in katas):
            _fail(where, f"'kata' must be one of `lossbook kata list`: {sorted(katas or [])}, got {kata!r}")
        prompt["kata"] = kata
    return prompt


def render_prompt(prompt: dict, number: int) -> str:
    out = [f'<div class="lb-prompt" id="prompt-{number}" data-part="{prompt["part"]}" markdown="1">',
           f'<p class="lb-prompt__head" markdown="span"><span class="lb-prompt__part">'
           f'{PROMPT_PARTS[prompt["part"]]}</span> {prompt["prompt"]}</p>']
    if "kata" in prompt:
        out += [f'<p class="lb-prompt__kata" markdown="span">Write it, then check it: '
                f'`lossbook kata new {prompt["kata"]} {prompt["kata"]}.py`, then '
                f'`lossbook kata check {prompt["kata"]} {prompt["kata"]}.py`</p>']
    out += ['<details class="lb-prompt__rubric" markdown="1">',
            "<summary>The rubric of a strong answer</summary>",
            '<dl markdown="1">']
    for key, text in prompt["rubric"].items():
        out += [f"<dt>{RUBRIC_KEYS[key]}</dt>", f'<dd markdown="span">{text}</dd>']
    out += ["</dl>",
            f'<p class="lb-prompt__see" markdown="span">Read: [the section]({prompt["section"]})</p>',
            "</details>", "</div>", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- a page


def page_quizzes(text: str, page: str) -> list[Question]:
    """Parse (not evaluate) every quiz question of a page's Markdown."""
    return [parse_question(b, page) for b in find_blocks(text) if b.kind == "quiz"]


def _kata_names() -> set[str]:
    from lossbook import kata

    return set(kata.names())


def render_page(text: str, page: str, *, source: str | None = None, scope: dict | None = None):
    """The page's Markdown with its quiz and prompt blocks rendered; also the anchors each needs.

    ``source`` is the page file as written (to name lines as the author sees them, if the Markdown
    handed to the hook was changed before), by default ``text``.
    """
    blocks = find_blocks(text)
    if not blocks:
        return text, []
    lines_in_source = [b.line for b in find_blocks(source)] if source is not None else None
    if lines_in_source is not None and len(lines_in_source) == len(blocks):
        for block, line in zip(blocks, lines_in_source, strict=True):
            block.line = line
    quizzes = [b for b in blocks if b.kind == "quiz"]
    needed: list[tuple[str, str]] = []
    rendered: dict[int, str] = {}
    shared = scope if scope is not None else (namespace() if any(
        "compute:" in b.body for b in quizzes) else {})
    katas = _kata_names() if any(b.kind == "prompt" for b in blocks) else None
    number = prompt_number = 0
    for block in blocks:
        if block.kind == "quiz":
            number += 1
            q = parse_question(block, page)
            if q.kind == "number":
                evaluate(q, shared)
            needed.append((q.section[1:], q.where))
            rendered[block.start] = render_question(q, number, len(quizzes))
        else:
            prompt_number += 1
            rendered[block.start] = render_prompt(parse_prompt(block, page, katas), prompt_number)
    lines = text.split("\n")
    out = []
    skip_until = -1
    ends = {b.start: b.end for b in blocks}
    for index, line in enumerate(lines):
        if index <= skip_until:
            continue
        if index in rendered:
            out.append(rendered[index])
            skip_until = ends[index]
            continue
        out.append(line)
    return "\n".join(out), needed


def toc_titles(toc) -> dict[str, str]:
    titles = {}
    for item in toc or []:
        titles[item.id] = item.title
        titles.update(toc_titles(item.children))
    return titles


# --------------------------------------------------------------------------- mkdocs hooks

_NEEDED: dict[str, list[tuple[str, str]]] = {}


def on_page_markdown(markdown, page, config, files):
    if "```quiz" not in markdown and "```prompt" not in markdown:
        return markdown
    source = None
    if page.file.abs_src_path:
        source = Path(page.file.abs_src_path).read_text(encoding="utf-8")
    try:
        text, needed = render_page(markdown, f"docs/{page.file.src_uri}", source=source)
    except QuizError as error:
        raise PluginError(f"quiz: {error}") from error
    _NEEDED[page.file.src_uri] = needed
    return text


def on_page_content(html_content, page, config, files):
    needed = _NEEDED.pop(page.file.src_uri, [])
    if not needed and "\u2063LBQ-SECTION:" not in html_content:
        return html_content
    ids = set(re.findall(r'\sid="([^"]+)"', html_content))
    for anchor, where in needed:
        if anchor not in ids:
            raise PluginError(f"quiz: {where}: 'section: #{anchor}' is not an anchor on this page"
                              f" (headings here: {sorted(toc_titles(page.toc))[:12]} ...)")
    titles = toc_titles(page.toc)
    return SECTION_TITLE.sub(lambda m: html.escape(titles.get(m[1], m[1].replace("-", " "))), html_content)

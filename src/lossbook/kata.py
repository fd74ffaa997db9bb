"""Practice katas: write a loss or a metric from memory, then check it against the library.

A kata is an interview task (the signature a reader writes, the shapes, a hint) together with
case generators: seeded random inputs of several shapes, edge cases (extreme logits, $p_t = 1$,
masks) and gradient comparisons. The expected value of every case comes from the library function
the lessons teach; there is no second implementation here. The command line front end is
`lossbook kata` (`lossbook.cli`).

Example:
    >>> from lossbook.kata import get
    >>> get("focal_loss").signature
    'focal_loss(logits, target, gamma=2.0, alpha=None)'
"""

from __future__ import annotations

import ast
import contextlib
import copy
import difflib
import importlib.util
import inspect
import itertools
import linecache
import math
import signal
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import classification, trajectory

__all__ = [
    "KATAS",
    "LESSONS",
    "SITE_URL",
    "Case",
    "CaseResult",
    "CheckReport",
    "Kata",
    "KataError",
    "Mistake",
    "by_lesson",
    "check",
    "get",
    "load_function",
    "starter",
]

SITE_URL = "https://lossbook.github.io/lossbook/"
CALL_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Case:
    """One check: the arguments (in signature order) and what is compared.

    Attributes:
        name: what the case exercises, e.g. ``"extreme logits (+-200)"``.
        args: the positional arguments, in the order of the kata's signature.
        grad: names of the arguments whose gradients are compared (empty: values only).
        hint: what usually goes wrong in this case; shown when it fails.
    """

    name: str
    args: tuple
    grad: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer, recognised when the reader's output equals ``compute(*args)``."""

    message: str
    compute: Callable[..., object]


@dataclass(frozen=True)
class Kata:
    """An interview task checked against a library function.

    Attributes:
        name: the kata's name on the command line.
        title: one line.
        signature: what the reader writes, e.g. ``"focal_loss(logits, target, gamma=2.0)"``.
        returns: what the function returns.
        task: the task, as an interviewer would state it.
        shapes: one line per argument and for the output.
        hint: the idea that unlocks it, without the answer.
        library: the library function that computes the expected values.
        reference: calls ``library`` with the kata's signature.
        cases: builds the seeded cases.
        lesson: the lesson section that teaches it, ``page.md#anchor``.
        mistakes: common wrong answers, recognised by their output.
        imports: the imports of the starter file.
        numpy: whether `--numpy` applies (NumPy arrays in, arrays or numbers out).
        rtol, atol: the tolerance of every comparison.
    """

    name: str
    title: str
    signature: str
    returns: str
    task: str
    shapes: tuple[str, ...]
    hint: str
    library: str
    reference: Callable[..., object]
    cases: Callable[[], list[Case]]
    lesson: str
    mistakes: tuple[Mistake, ...] = ()
    imports: str = "import torch\nimport torch.nn.functional as F"
    numpy: bool = True
    rtol: float = 1e-4
    atol: float = 1e-5

    @property
    def function(self) -> str:
        """The name of the function the reader defines."""
        return self.signature.split("(", 1)[0]

    @property
    def params(self) -> list[str]:
        """The argument names of the signature, in order."""
        tree = ast.parse(f"def {self.signature}: pass")
        return [a.arg for a in tree.body[0].args.args]

    @property
    def lesson_url(self) -> str:
        page, _, anchor = self.lesson.partition("#")
        path = page.removesuffix(".md")
        path = path.removesuffix("index") if path.endswith("index") else path + "/"
        return SITE_URL + path + (f"#{anchor}" if anchor else "")

    def describe(self) -> str:
        """The task as ``lossbook kata show`` prints it: no answer, just what to build."""
        lines = [f"{self.name}: {self.title}", "", f"Write:   def {self.signature}"]
        lines += [f"Returns: {self.returns}", ""]
        lines += textwrap.wrap(self.task, 96) + ["", "Shapes:"]
        lines += [f"  {s}" for s in self.shapes]
        lines += ["", "Hint:"] + textwrap.wrap(self.hint, 94, initial_indent="  ", subsequent_indent="  ")
        lines += ["", f"Checked against: {self.library}"]
        if self.lesson:
            lines.append(f"Lesson: {self.lesson_url}")
        return "\n".join(lines)


KATAS: dict[str, Kata] = {}

#: Lesson pages in the study plan's order, with the name `lossbook kata list` groups them under.
LESSONS = {
    "metrics.md": "Metrics",
    "custom-losses.md": "Custom losses",
    "diffusion-basics.md": "Diffusion basics",
    "simulation-metrics.md": "Simulation metrics",
    "debugging.md": "Debugging",
    "glossary/": "Loss glossary",
}


def lesson_group(kata: Kata) -> str:
    """The lesson a kata belongs to, as `lossbook kata list` shows it."""
    page = kata.lesson.partition("#")[0]
    for prefix, title in LESSONS.items():
        if page == prefix or (prefix.endswith("/") and page.startswith(prefix)):
            return title
    return "Other"


def by_lesson() -> dict[str, list[Kata]]:
    """The katas grouped by lesson, in the study plan's order."""
    order = [*LESSONS.values(), "Other"]
    groups: dict[str, list[Kata]] = {title: [] for title in order}
    for kata in KATAS.values():
        groups[lesson_group(kata)].append(kata)
    return {title: katas for title, katas in groups.items() if katas}


def _register(kata: Kata) -> Kata:
    if kata.name in KATAS:
        raise ValueError(f"two katas are named {kata.name!r}")
    KATAS[kata.name] = kata
    return kata


def get(name: str) -> Kata:
    """The kata called ``name``; a ``KeyError`` suggests the closest names."""
    if name in KATAS:
        return KATAS[name]
    close = difflib.get_close_matches(name, list(KATAS), n=3, cutoff=0.5)
    maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(
        f"there is no kata named {name!r}.{maybe} `lossbook kata list` shows all of them."
    )


# --------------------------------------------------------------------------- reader's file


class KataError(Exception):
    """A problem with the reader's file (missing, does not parse, no such function...).

    The message is one paragraph meant for the reader, never a traceback.
    """


def _user_frame(error: BaseException, path: Path) -> str:
    """`` at file.py:12: `the line` `` for the last frame of ``error`` inside the reader's file."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    if not frames:
        return ""
    frame = frames[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return f" at {path.name}:{frame.lineno}: `{line}`"


def _error_text(error: BaseException) -> str:
    text = str(error).strip().split("\n")[0]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load_function(path: str | Path, name: str, *, kata: str | None = None) -> Callable:
    """Import the reader's file and return its function ``name``.

    Raises:
        KataError: the file is missing, does not parse, raises when imported, or does not define
            a function called ``name``; the message says what to do.
    """
    path = Path(path)
    shown = str(path)
    new = f"`lossbook kata new {kata} {shown}`" if kata else "`lossbook kata new NAME FILE`"
    if not path.exists():
        raise KataError(f"{shown}: no such file. Check the path, or write a starter with {new}.")
    if not path.is_file():
        raise KataError(f"{shown}: not a file (a directory?). Pass the .py file you wrote.")
    path = path.resolve()
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KataError(f"{shown}: cannot read it ({_error_text(error)}).") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as error:
        where = f"line {error.lineno}" if error.lineno else "somewhere"
        text = (error.text or "").rstrip("\n")
        caret = ""
        if text and error.offset:
            caret = "\n    " + " " * (error.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
        shown_line = f"\n    {text.strip()}{caret}" if text.strip() else ""
        raise KataError(
            f"{shown}, {where}: {error.msg}. Python cannot parse the file, so nothing was"
            f" checked; fix this line and run the check again.{shown_line}"
        ) from None

    module_name = f"lossbook_kata_user_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses and typing look the module up
    sys.path.insert(0, str(path.parent))  # as `python file.py` would: sibling imports work
    try:
        with _time_limit(CALL_TIMEOUT_S):
            exec(code, module.__dict__)  # noqa: S102 - the reader's own file, run on purpose
    except (Exception, SystemExit) as error:  # noqa: BLE001 - explained to the reader below
        raise KataError(
            f"{shown}: importing the file raised {_error_text(error)}{_user_frame(error, path)}."
            " Code at the top level of the file runs on import: keep experiments under"
            " `if __name__ == \"__main__\":`."
        ) from None
    finally:
        sys.modules.pop(module_name, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(path.parent))

    function = module.__dict__.get(name)
    if function is None or not callable(function):
        defined = sorted(
            k for k, v in module.__dict__.items()
            if inspect.isfunction(v) and v.__module__ == module_name and not k.startswith("_")
        )
        found = f"It defines: {', '.join(defined)}." if defined else "It defines no function."
        what = "no function" if function is None else f"a {type(function).__name__}, not a function,"
        raise KataError(
            f"{shown} has {what} named `{name}`. {found} The kata calls `{name}(...)`;"
            " keep the name and the signature of the starter."
        )
    return function


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a call that runs longer than ``seconds`` (main thread on Unix only)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- comparing


def _as_tensor(x: object) -> torch.Tensor | None:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (bool, int, float, np.ndarray, np.generic)):
        return torch.as_tensor(np.asarray(x))
    return None


def _structure(x: object) -> object:
    """Tensors, arrays and numbers as tensors; tuples and lists as tuples of those."""
    if isinstance(x, (tuple, list)):
        return tuple(_structure(v) for v in x)
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    t = _as_tensor(x)
    return x if t is None else t


def _shape(x: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in x.shape) + "]" if x.ndim else "[] (a scalar)"


def _fmt_values(x: torch.Tensor, limit: int = 6) -> str:
    if x.dtype == torch.bool:
        flat = [str(v) for v in x.reshape(-1).tolist()]
        more = f", ... ({len(flat)} values)" if len(flat) > limit else ""
        return flat[0] if x.ndim == 0 else "[" + ", ".join(flat[:limit]) + more + "]"
    flat = x.detach().reshape(-1).to(torch.float64).tolist()
    integral = not x.is_floating_point()
    shown = [f"{v:d}" if integral else f"{v:.6g}" for v in map(int if integral else float, flat[:limit])]
    more = f", ... ({len(flat)} values)" if len(flat) > limit else ""
    if x.ndim == 0:
        return shown[0]
    return "[" + ", ".join(shown) + more + "]"


def _compare(want: object, got: object, rtol: float, atol: float, what: str) -> str | None:
    """``None`` when ``got`` matches ``want``; otherwise what differs, for the reader."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return f"{what}: expected a dict with keys {sorted(want)}, got {keys}"
        for key in want:
            problem = _compare(want[key], got[key], rtol, atol, f"{what}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            n = len(got) if isinstance(got, tuple) else 1
            return (
                f"{what}: expected {len(want)} values (a tuple), got"
                f" {n} value{'s' if n != 1 else ''} ({type(got).__name__})"
            )
        for i, (w, g) in enumerate(zip(want, got)):
            problem = _compare(w, g, rtol, atol, f"{what}[{i}]")
            if problem:
                return problem
        return None
    if not isinstance(got, torch.Tensor):
        return f"{what}: expected a tensor or a number, got {type(got).__name__}"
    if tuple(got.shape) != tuple(want.shape):
        extra = ""
        if want.ndim == 0 and got.numel() == 1:
            extra = " (a one-element tensor: return a 0-dim scalar, e.g. with .squeeze())"
        elif want.ndim == 0 and got.ndim == 1:
            extra = " (one value per sample: reduce it, e.g. with .mean())"
        elif got.ndim == 0 and want.ndim >= 1:
            extra = " (a single number: keep one value per element, do not reduce)"
        return f"{what}: expected shape {_shape(want)}, got shape {_shape(got)}{extra}"
    w = want.detach().to(torch.float64)
    g = got.detach().to(torch.float64)
    if not bool(torch.isfinite(g).all()) and bool(torch.isfinite(w).all()):
        bad = "NaN" if bool(torch.isnan(g).any()) else "Inf"
        return (
            f"{what} contains {bad}:\n  expected {_fmt_values(want)}\n  got      {_fmt_values(got)}"
        )
    if bool(torch.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True).all()):
        return None
    lines = [f"{what} differs:", f"  expected {_fmt_values(want)}", f"  got      {_fmt_values(got)}"]
    if w.ndim:
        diff = (g - w).abs().nan_to_num(nan=math.inf)
        at = np.unravel_index(int(diff.reshape(-1).argmax()), tuple(w.shape))
        lines.append(
            f"  largest difference at index {tuple(int(i) for i in at)}:"
            f" expected {w[at].item():.6g}, got {g[at].item():.6g}"
        )
    return "\n".join(lines)


def _fresh(value: object, requires_grad: bool, *, numpy: bool = False) -> object:
    """A copy nothing the other call did can reach (gradients of a module included)."""
    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
        if numpy:
            return out.numpy()
        return out.requires_grad_(True) if requires_grad else out
    out = copy.deepcopy(value)
    if isinstance(value, torch.nn.Module):  # a Parameter's deepcopy drops its .grad
        for old, new in zip(value.parameters(), out.parameters()):
            new.grad = None if old.grad is None else old.grad.detach().clone()
    return out


def _first(x: object) -> object:
    return x[0] if isinstance(x, tuple) and x else x


def _scalar(out: torch.Tensor) -> torch.Tensor:
    """A fixed scalar function of ``out`` for gradient comparison (weights if not a scalar)."""
    if out.ndim == 0:
        return out
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    return (out * weights).sum()


# --------------------------------------------------------------------------- checking


@dataclass
class CaseResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class CheckReport:
    """The result of `check`: one line per case, details of the first failure."""

    kata: Kata
    path: str
    results: list[CaseResult] = field(default_factory=list)
    stopped: str | None = None  # why the check stopped early (e.g. NotImplementedError)
    numpy: bool = False

    @property
    def ok(self) -> bool:
        return self.stopped is None and bool(self.results) and all(r.passed for r in self.results)

    def render(self) -> str:
        k = self.kata
        mode = " (NumPy: arrays in, values compared, gradients not checked)" if self.numpy else ""
        lines = [f"kata {k.name}: checking {k.function}() in {self.path} against {k.library}{mode}"]
        for r in self.results:
            lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}")
        if self.stopped:
            lines += ["", self.stopped]
            return "\n".join(lines)
        failed = [r for r in self.results if not r.passed]
        if not failed:
            done = f"All {len(self.results)} cases pass. Well done: now write it again tomorrow,"
            lines += ["", done + " from memory."]
            return "\n".join(lines)
        first = failed[0]
        lines += ["", f"First failure: {first.name}", textwrap.indent(first.detail, "  ")]
        lesson = f"; the lesson: {k.lesson_url}" if k.lesson else ""
        summary = (
            f"{len(failed)} of {len(self.results)} cases failed."
            f" `lossbook kata show {k.name}` repeats the task{lesson}"
        )
        lines += ["", summary]
        return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, 96, subsequent_indent="  ", break_on_hyphens=False)


def _case_failure(kata: Kata, case: Case, problem: str, got: object | None, args: tuple) -> str:
    lines = [problem]
    recognised = False
    if got is not None:
        for mistake in kata.mistakes:
            try:
                torch.manual_seed(0)  # the stream both calls saw
                wrong = _structure(mistake.compute(*[_fresh(a, False) for a in args]))
            except Exception:  # noqa: BLE001, S112 - a diagnosis that does not apply is skipped
                continue
            if _compare(wrong, got, kata.rtol, kata.atol, "output") is None:
                lines.append(_wrap(f"This is a common mistake: {mistake.message}"))
                recognised = True
                break
    # A recognised mistake says what is wrong; the case's own hint may be about something else.
    hint = kata.hint if recognised else case.hint or kata.hint
    lines.append(_wrap(f"Hint: {hint}"))
    return "\n".join(lines)


def _run_case(
    kata: Kata, function: Callable, case: Case, path: Path, *, numpy: bool = False
) -> CaseResult:
    params = kata.params
    grad_idx = [] if numpy else [params.index(n) for n in case.grad]
    ref_args = tuple(_fresh(a, i in grad_idx) for i, a in enumerate(case.args))
    torch.manual_seed(0)  # the same random stream for both calls (dropout, sampling)
    want = _structure(kata.reference(*ref_args))
    user_args = tuple(_fresh(a, i in grad_idx, numpy=numpy) for i, a in enumerate(case.args))
    try:
        torch.manual_seed(0)
        with _time_limit(CALL_TIMEOUT_S):
            got = function(*user_args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported as a failed case
        problem = f"{kata.function}(...) raised {_error_text(error)}{_user_frame(error, path)}"
        return CaseResult(case.name, False, _case_failure(kata, case, problem, None, case.args))
    got_s = _structure(got)
    problem = _compare(want, got_s, kata.rtol, kata.atol, "the output")
    if problem:
        return CaseResult(case.name, False, _case_failure(kata, case, problem, got_s, case.args))
    if not grad_idx:
        return CaseResult(case.name, True)

    out = _first(got)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        problem = (
            "the output carries no gradient: it is not connected to the inputs"
            " (a .item(), .detach(), NumPy or torch.no_grad() on the way?)"
        )
        return CaseResult(case.name, False, _case_failure(kata, case, problem, None, case.args))
    want_out = _first(want)
    ref_inputs = [ref_args[i] for i in grad_idx]
    user_inputs = [user_args[i] for i in grad_idx]
    want_grads = torch.autograd.grad(_scalar(want_out), ref_inputs, allow_unused=True)
    try:
        got_grads = torch.autograd.grad(_scalar(out), user_inputs, allow_unused=True)
    except RuntimeError as error:
        problem = f"backward through your output failed: {_error_text(error)}"
        return CaseResult(case.name, False, _case_failure(kata, case, problem, None, case.args))
    for name, inp, w, g in zip(case.grad, ref_inputs, want_grads, got_grads):
        w = torch.zeros_like(inp) if w is None else w
        g = torch.zeros_like(inp) if g is None else g
        problem = _compare(w, g, kata.rtol, kata.atol, f"the gradient with respect to {name}")
        if problem:
            return CaseResult(case.name, False, _case_failure(kata, case, problem, None, case.args))
    return CaseResult(case.name, True)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny tensors run fastest on one thread (and do not fight other processes for cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check(name: str, path: str | Path, *, numpy: bool = False) -> CheckReport:
    """Check the reader's implementation in ``path`` against kata ``name``'s library function.

    With ``numpy=True`` the reader's function receives NumPy arrays instead of tensors (for an
    interview without torch); values are compared, gradients are not.

    Raises:
        KeyError: no kata called ``name``.
        KataError: the file cannot be used (missing, syntax error, no such function...).
        ValueError: ``numpy=True`` for a kata that needs torch (a training loop, a model).
    """
    kata = get(name)
    if numpy and not kata.numpy:
        raise ValueError(f"kata {kata.name} works on torch modules: it has no NumPy version")
    function = load_function(path, kata.function, kata=kata.name)
    report = CheckReport(kata, str(path), numpy=numpy)
    try:
        inspect.signature(function).bind(*kata.params)
    except TypeError:
        report.stopped = (
            f"{kata.function}{inspect.signature(function)} cannot be called as"
            f" {kata.function}({', '.join(kata.params)}): keep the kata's signature,"
            f" def {kata.signature}."
        )
        return report
    except ValueError:  # builtins without a signature: just try to call them
        pass
    resolved = Path(path).resolve()
    with _one_thread():
        for case in kata.cases():
            try:
                report.results.append(_run_case(kata, function, case, resolved, numpy=numpy))
            except NotImplementedError:
                report.results.clear()
                report.stopped = _wrap(
                    f"{kata.function} still raises NotImplementedError: write its body, then run"
                    f" the check again. Stuck? `lossbook kata show {kata.name}` has a hint."
                )
                break
    return report


def starter(name: str, *, numpy: bool = False) -> str:
    """The text of a starter file for kata ``name``: imports, the signature and the task."""
    kata = get(name)
    if numpy and not kata.numpy:
        raise ValueError(f"kata {kata.name} works on torch modules: it has no NumPy version")
    imports = "import numpy as np" if numpy else kata.imports
    flag = " --numpy" if numpy else ""
    arrays = "\n\n    NumPy version: every tensor argument arrives as a NumPy array." if numpy else ""
    body = textwrap.fill(kata.task, 88, initial_indent="    ", subsequent_indent="    ")
    shapes = "\n".join(f"        {s}" for s in kata.shapes)
    return (
        f'"""Kata {kata.name}: {kata.title}.\n\n'
        f"Check it:  lossbook kata check{flag} {kata.name} <this file>\n"
        f"Stuck?     lossbook kata show {kata.name}   (a hint, and the lesson)\n"
        f'"""\n\n{imports}\n\n\n'
        f"def {kata.signature}:\n"
        f'    """{kata.returns[0].upper()}{kata.returns[1:]}.\n\n{body}{arrays}\n\n'
        f"    Shapes:\n{shapes}\n"
        f'    """\n'
        f'    raise NotImplementedError("write {kata.function}")\n'
    )


# --------------------------------------------------------------------------- case helpers


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


def _randint(g: torch.Generator, high: int, *shape: int) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=g)


# --------------------------------------------------------------------------- katas: classification


def _focal_reference(logits, target, gamma, alpha):
    return classification.focal_loss(logits, target, gamma=gamma, alpha=alpha)


def _focal_cases() -> list[Case]:
    g = _gen(7)
    cases = [
        Case("random logits N=8, C=5, gamma=2", (_randn(g, 8, 5, scale=2.0), _randint(g, 5, 8), 2.0, None)),
        Case("one sample, two classes, gamma=2", (_randn(g, 1, 2), _randint(g, 2, 1), 2.0, None)),
        Case("random logits N=64, C=10, gamma=0.5", (_randn(g, 64, 10, scale=3.0), _randint(g, 10, 64), 0.5, None)),
        Case(
            "gamma=0 (must equal plain cross entropy)",
            (_randn(g, 16, 4), _randint(g, 4, 16), 0.0, None),
            hint="with gamma=0 the modulating factor (1 - p_t)^0 is 1: focal loss is cross entropy.",
        ),
    ]
    alpha = torch.tensor([0.25, 1.0, 4.0, 0.5])
    cases.append(
        Case(
            "per-class alpha = [0.25, 1, 4, 0.5], N=32",
            (_randn(g, 32, 4, scale=2.0), _randint(g, 4, 32), 2.0, alpha),
            hint="with alpha, the mean divides by sum(alpha[target]) (as F.cross_entropy(weight=)"
            " does), not by N, so gamma=0 gives weighted cross entropy exactly.",
        )
    )
    extreme = torch.tensor([[200.0, -200.0, 0.0], [-200.0, 200.0, 0.0], [0.0, 0.0, 0.0]])
    cases.append(
        Case(
            "extreme logits (+-200, the true class the least likely)",
            (extreme, torch.tensor([1, 0, 2]), 2.0, None),
            hint="log(softmax(z)) underflows to log(0) = -inf for a very wrong class; take"
            " log p_t from log_softmax or F.cross_entropy, which stay finite.",
        )
    )
    sure = torch.tensor([[200.0, -200.0, -200.0], [1.0, 0.0, -1.0]])
    cases.append(
        Case(
            "p_t = 1 exactly with gamma=0.5: the gradient must stay finite",
            (sure, torch.tensor([0, 2]), 0.5, None),
            grad=("logits",),
            hint="d/dp (1 - p)^gamma is infinite at p = 1 when gamma < 1, and 0 * inf = NaN;"
            " clamp 1 - p_t away from 0 (e.g. clamp_min(1e-12)) before the power.",
        )
    )
    cases.append(
        Case(
            "gradient with respect to the logits, N=6, C=4, alpha",
            (_randn(g, 6, 4, scale=2.0), _randint(g, 4, 6), 2.0, alpha),
            grad=("logits",),
        )
    )
    return cases


_register(
    Kata(
        name="focal_loss",
        title="Focal loss (softmax, multi-class)",
        signature="focal_loss(logits, target, gamma=2.0, alpha=None)",
        returns="the mean focal loss over the batch, a scalar tensor",
        task=(
            "Implement the multi-class focal loss of Lin et al. (2017): the cross entropy of each"
            " sample scaled by (1 - p_t)^gamma, where p_t is the softmax probability of the true"
            " class. alpha is None or a tensor of per-class weights; with alpha the mean divides"
            " by the sum of alpha[target] (the convention of F.cross_entropy(weight=)), without"
            " it by N. It must stay finite for extreme logits and have a finite gradient at"
            " p_t = 1."
        ),
        shapes=(
            "logits: [N, C] float, unnormalised scores",
            "target: [N] int64, class indices in [0, C)",
            "alpha:  [C] float or None",
            "output: [] scalar",
        ),
        hint=(
            "Get log p_t in one numerically stable step, and p_t from it; the modulating factor"
            " then scales each sample's cross entropy. Never take the log of a softmax."
        ),
        library="lossbook.focal_loss",
        reference=_focal_reference,
        cases=_focal_cases,
        lesson="custom-losses.md#focal-loss",
        mistakes=(
            Mistake(
                "the result is plain cross entropy: the modulating factor (1 - p_t)^gamma is"
                " missing.",
                lambda logits, target, gamma, alpha: classification.weighted_cross_entropy(
                    logits, target, alpha
                ),
            ),
            Mistake(
                "the alpha-weighted losses are averaged over N; divide by sum(alpha[target])"
                " instead, so that gamma=0 is weighted cross entropy.",
                lambda logits, target, gamma, alpha: (
                    alpha[target]
                    * classification.focal_loss(logits, target, gamma=gamma, reduction="none")
                ).mean(),
            ),
            Mistake(
                "the losses are summed; the kata asks for the mean.",
                lambda logits, target, gamma, alpha: classification.focal_loss(
                    logits, target, gamma=gamma, alpha=alpha, reduction="sum"
                ),
            ),
            Mistake(
                "the factor uses p_t^gamma; it is (1 - p_t)^gamma, small for easy examples.",
                lambda logits, target, gamma, alpha: (
                    -torch.exp(-torch.nn.functional.cross_entropy(logits, target, reduction="none"))
                    .pow(gamma)
                    * -torch.nn.functional.cross_entropy(logits, target, reduction="none")
                ).mean(),
            ),
        ),
    )
)


def _wce_reference(logits, target, class_weights):
    return classification.weighted_cross_entropy(logits, target, class_weights)


def _wce_cases() -> list[Case]:
    g = _gen(11)
    w3 = torch.tensor([0.2, 1.0, 5.0])
    cases = [
        Case("random N=8, C=3, weights [0.2, 1, 5]", (_randn(g, 8, 3), _randint(g, 3, 8), w3)),
        Case("equal weights (plain cross entropy), N=20, C=6",
             (_randn(g, 20, 6, scale=2.0), _randint(g, 6, 20), torch.ones(6))),
        Case(
            "rare class weighted x50, N=64, C=2",
            (_randn(g, 64, 2), (torch.rand(64, generator=g) < 0.1).long(), torch.tensor([0.5051, 50.0])),
            hint="the mean is sum(w[y_i] * ce_i) / sum(w[y_i]), not / N: that is what"
            " F.cross_entropy(weight=) returns.",
        ),
    ]
    padded = _randint(g, 3, 10)
    padded[[2, 7]] = -100
    cases.append(
        Case(
            "targets with -100 (padding, to be ignored), N=10",
            (_randn(g, 10, 3), padded, w3),
            hint="-100 is F.cross_entropy's default ignore_index: padded rows contribute nothing"
            " to the sum nor to the denominator.",
        )
    )
    cases.append(
        Case("extreme logits (+-300)", (torch.tensor([[300.0, -300.0, 0.0], [0.0, 300.0, -300.0]]),
                                        torch.tensor([1, 2]), w3),
             hint="use log_softmax / F.cross_entropy, never log(softmax(z))."))
    cases.append(Case("gradient with respect to the logits", (_randn(g, 5, 3), _randint(g, 3, 5), w3),
                      grad=("logits",)))
    return cases


_register(
    Kata(
        name="weighted_cross_entropy",
        title="Weighted cross entropy (the one-line call, and what its mean means)",
        signature="weighted_cross_entropy(logits, target, class_weights)",
        returns="the weighted mean cross entropy, a scalar tensor",
        task=(
            "Return the class-weighted cross entropy as PyTorch defines it: each sample's cross"
            " entropy times the weight of its true class, summed, divided by the sum of the"
            " weights of the targets. Targets equal to -100 are padding and are ignored."
        ),
        shapes=(
            "logits:        [N, C] float",
            "target:        [N] int64 in [0, C), or -100 to ignore",
            "class_weights: [C] float, non-negative",
            "output:        [] scalar",
        ),
        hint="One call to F.cross_entropy does all of it, if you pass the weights by keyword.",
        library="lossbook.weighted_cross_entropy",
        reference=_wce_reference,
        cases=_wce_cases,
        lesson="custom-losses.md#weighted-cross-entropy",
        mistakes=(
            Mistake(
                "the weighted losses are averaged over N; F.cross_entropy(weight=) divides by the"
                " sum of the target weights.",
                lambda logits, target, w: classification.weighted_cross_entropy(
                    logits, target, w, reduction="sum"
                ) / (target != -100).sum(),
            ),
            Mistake(
                "the class weights are not applied (plain cross entropy).",
                lambda logits, target, w: classification.weighted_cross_entropy(logits, target),
            ),
        ),
    )
)


def _class_weights_reference(counts, scheme, beta):
    return classification.class_weights(counts, scheme=scheme, beta=beta)


def _class_weights_cases() -> list[Case]:
    return [
        Case("inverse, counts [990, 10]", (torch.tensor([990, 10]), "inverse", 0.999)),
        Case("inverse, five classes", (torch.tensor([500, 120, 40, 9, 1]), "inverse", 0.999)),
        Case("sqrt_inverse, five classes", (torch.tensor([500, 120, 40, 9, 1]), "sqrt_inverse", 0.999)),
        Case(
            "effective_number, beta=0.99",
            (torch.tensor([500, 120, 40, 9, 1]), "effective_number", 0.99),
            hint="effective number of samples (Cui et al. 2019): raw weight (1 - beta) /"
            " (1 - beta^n_c), then the same normalisation.",
        ),
        Case("balanced counts give weights of 1", (torch.tensor([7, 7, 7]), "inverse", 0.999),
             hint="normalise so that the weights average 1 over the samples:"
             " w = raw * N / sum(n_c * raw_c)."),
    ]


_register(
    Kata(
        name="class_weights",
        title="Class weights from class counts",
        signature="class_weights(counts, scheme='inverse', beta=0.999)",
        returns="a float tensor of per-class weights that average 1 over the samples",
        task=(
            "Turn class counts into per-class loss weights. scheme is 'inverse' (1/n_c),"
            " 'sqrt_inverse' (1/sqrt(n_c)) or 'effective_number' ((1 - beta)/(1 - beta^n_c)), then"
            " scale the raw weights so that the average weight over the training samples is 1:"
            " sum_c n_c w_c = sum_c n_c. The loss then keeps the scale of plain cross entropy."
        ),
        shapes=("counts: [C] int, all positive", "output: [C] float"),
        hint="Compute raw weights in float64, then multiply by N / sum(n_c * raw_c).",
        library="lossbook.class_weights",
        reference=_class_weights_reference,
        cases=_class_weights_cases,
        lesson="custom-losses.md#choosing-the-weights",
        mistakes=(
            Mistake(
                "the raw weights are not normalised; scale them so they average 1 over the"
                " samples (the loss keeps its scale and the learning rate stays right).",
                lambda counts, scheme, beta: 1.0 / counts.double()
                if scheme == "inverse" else counts.double().rsqrt(),
            ),
            Mistake(
                "the weights are normalised to average 1 over the classes; average them over"
                " the samples instead: sum_c n_c w_c = N.",
                lambda counts, scheme, beta: (1.0 / counts.double())
                / (1.0 / counts.double()).mean(),
            ),
        ),
    )
)


# --------------------------------------------------------------------------- katas: trajectories


def _wta_reference(pred, mode_logits, target, cls_weight):
    return trajectory.wta_trajectory_loss(pred, mode_logits, target, cls_weight=cls_weight)


def _wta_cases() -> list[Case]:
    g = _gen(23)
    cases = [
        Case("random B=4, K=3, T=5", (_randn(g, 4, 3, 5, 2), _randn(g, 4, 3), _randn(g, 4, 5, 2), 1.0)),
        Case("B=2, K=6, T=12, cls_weight=0.5",
             (_randn(g, 2, 6, 12, 2, scale=3.0), _randn(g, 2, 6), _randn(g, 2, 12, 2, scale=3.0), 0.5)),
        Case("a single mode (K=1)", (_randn(g, 3, 1, 4, 2), _randn(g, 3, 1), _randn(g, 3, 4, 2), 1.0)),
    ]
    target = _randn(g, 2, 6, 2, scale=4.0)
    pred = _randn(g, 2, 3, 6, 2, scale=4.0)
    pred[0, 2] = target[0]
    pred[1, 0] = target[1] + 0.1
    cases.append(
        Case(
            "one mode is (almost) exactly right",
            (pred, _randn(g, 2, 3), target, 1.0),
            hint="only the closest mode (the winner) is regressed; the mode classifier's target"
            " is the winner's index.",
        )
    )
    far = _randn(g, 2, 4, 8, 2)
    far[:, 1:] += 50.0  # three modes far away: averaging over modes is visibly wrong
    cases.append(
        Case(
            "three of four modes far away",
            (far, _randn(g, 2, 4), _randn(g, 2, 8, 2), 1.0),
            hint="take the minimum over modes of the per-mode error; averaging over modes pulls"
            " every mode to the mean of the futures (the collapse WTA avoids).",
        )
    )
    cases.append(
        Case(
            "gradients with respect to pred and mode_logits",
            (_randn(g, 3, 4, 6, 2), _randn(g, 3, 4), _randn(g, 3, 6, 2), 1.0),
            grad=("pred", "mode_logits"),
            hint="only the winning mode gets a regression gradient; the cross entropy over modes"
            " gives every mode logit a gradient.",
        )
    )
    return cases


_register(
    Kata(
        name="wta_trajectory_loss",
        title="Multi-modal trajectory loss (winner-takes-all + mode classification)",
        signature="wta_loss(pred, mode_logits, target, cls_weight=1.0)",
        returns="the loss averaged over the batch, a scalar tensor",
        task=(
            "A model predicts K candidate futures and a score per mode. For each sample, the"
            " winner is the mode with the smallest mean (over time steps) squared L2 error to the"
            " logged future. The loss is that error of the winner plus cls_weight times the cross"
            " entropy of the mode logits with the winner as the class, averaged over the batch."
        ),
        shapes=(
            "pred:        [B, K, T, 2] float, K futures of T (x, y) points",
            "mode_logits: [B, K] float",
            "target:      [B, T, 2] float",
            "output:      [] scalar",
        ),
        hint=(
            "Score every mode by its error against the logged future, pick the best mode per"
            " sample (the choice itself has no gradient), regress only that mode, and train the"
            " mode scores as a classifier whose label is the winner."
        ),
        library="lossbook.wta_trajectory_loss",
        reference=_wta_reference,
        cases=_wta_cases,
        lesson="custom-losses.md#winner-takes-all-multi-modal-loss",
        mistakes=(
            Mistake(
                "the error is averaged over the K modes instead of taking the winner: every mode"
                " is pulled to the mean future, the collapse WTA exists to avoid.",
                lambda pred, logits, target, w: (
                    (pred - target[:, None]).square().sum(-1).mean(-1).mean(-1)
                    + w * torch.nn.functional.cross_entropy(
                        logits, (pred - target[:, None]).square().sum(-1).mean(-1).argmin(1)
                    )
                ).mean(),
            ),
            Mistake(
                "the squared error is summed over time; the kata (and the library) average it"
                " over steps, so that cls_weight means the same at any horizon.",
                lambda pred, logits, target, w: trajectory.wta_trajectory_loss(
                    pred, logits, target, cls_weight=0.0, reduction="none"
                ).mul(target.shape[1]).mean()
                + w * torch.nn.functional.cross_entropy(
                    logits, (pred - target[:, None]).square().sum(-1).mean(-1).argmin(1)
                ),
            ),
            Mistake(
                "the mode classification term is missing.",
                lambda pred, logits, target, w: trajectory.wta_trajectory_loss(
                    pred, logits, target, cls_weight=0.0
                ),
            ),
        ),
    )
)


def _mixture_reference(pred, log_sigma, mode_logits, target):
    return trajectory.mixture_nll(pred, log_sigma, mode_logits, target)


def _mixture_cases() -> list[Case]:
    g = _gen(31)
    cases = [
        Case("random B=4, K=3, T=5", (_randn(g, 4, 3, 5, 2), _randn(g, 4, 3, 5, 2, scale=0.3),
                                       _randn(g, 4, 3), _randn(g, 4, 5, 2))),
        Case("a single mode (K=1): a plain Gaussian NLL",
             (_randn(g, 2, 1, 6, 2), _randn(g, 2, 1, 6, 2, scale=0.3), _randn(g, 2, 1), _randn(g, 2, 6, 2))),
    ]
    cases.append(
        Case(
            "every mode 100 m from the target (likelihoods underflow)",
            (_randn(g, 2, 3, 8, 2) + 100.0, torch.zeros(2, 3, 8, 2), _randn(g, 2, 3), _randn(g, 2, 8, 2)),
            hint="stay in log space: logsumexp over modes of log_softmax(mode_logits) + the"
            " per-mode log-likelihood; exp(log_lik) underflows to 0 and log(0) = -inf.",
        )
    )
    cases.append(
        Case(
            "gradients with respect to pred, log_sigma and mode_logits",
            (_randn(g, 3, 2, 4, 2), _randn(g, 3, 2, 4, 2, scale=0.3), _randn(g, 3, 2), _randn(g, 3, 4, 2)),
            grad=("pred", "log_sigma", "mode_logits"),
        )
    )
    return cases


_register(
    Kata(
        name="mixture_nll",
        title="Gaussian mixture NLL over K trajectory modes",
        signature="mixture_nll(pred, log_sigma, mode_logits, target)",
        returns="the negative log-likelihood averaged over the batch, a scalar tensor",
        task=(
            "Each mode k is a product of independent Gaussians over steps and coordinates, mean"
            " pred[:, k] and standard deviation exp(log_sigma[:, k]); the mixture weights are"
            " softmax(mode_logits). Return -log p(target) averaged over the batch, computed"
            " without ever leaving log space."
        ),
        shapes=(
            "pred, log_sigma: [B, K, T, 2] float",
            "mode_logits:     [B, K] float",
            "target:          [B, T, 2] float",
            "output:          [] scalar",
        ),
        hint=(
            "Work with log-probabilities throughout: a mode's log-likelihood is a sum of Gaussian"
            " log-densities over steps and coordinates, and mixing the modes is a logsumexp of"
            " log weight plus log-likelihood."
        ),
        library="lossbook.mixture_nll",
        reference=_mixture_reference,
        cases=_mixture_cases,
        lesson="custom-losses.md#mixture-negative-log-likelihood",
    )
)

def _sigmoid_focal_reference(logits, target, alpha, gamma):
    return classification.sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma)


def _sigmoid_focal_cases() -> list[Case]:
    g = _gen(5)
    x = torch.log(torch.tensor([9.0]))
    return [
        Case("p = 0.9 on a positive (torchvision check value 2.634e-4)",
             (x, torch.tensor([1.0]), 0.25, 2.0)),
        Case("random multi-label N=8, C=5",
             (_randn(g, 8, 5, scale=2.0), (torch.rand(8, 5, generator=g) < 0.3).float(), 0.25, 2.0)),
        Case(
            "alpha=-1 disables the class balancing, gamma=1",
            (_randn(g, 6, 3), (torch.rand(6, 3, generator=g) < 0.5).float(), -1.0, 1.0),
            hint="a negative alpha means no alpha_t factor at all (torchvision's convention).",
        ),
        Case(
            "extreme logits (+-100)",
            (torch.tensor([[100.0, -100.0], [-100.0, 100.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
             0.25, 2.0),
            hint="take the cross entropy from F.binary_cross_entropy_with_logits (stable), not"
            " log(sigmoid(x)), which is log(0) for a very wrong logit.",
        ),
        Case("gradient with respect to the logits",
             (_randn(g, 4, 3), (torch.rand(4, 3, generator=g) < 0.5).float(), 0.25, 2.0),
             grad=("logits",)),
    ]


_register(
    Kata(
        name="sigmoid_focal_loss",
        title="Sigmoid focal loss (binary / multi-label, RetinaNet)",
        signature="sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0)",
        returns="the focal loss averaged over every element, a scalar tensor",
        task=(
            "Implement torchvision's sigmoid focal loss: per element, p = sigmoid(x), p_t = p if"
            " the target is 1 else 1 - p, loss = alpha_t (1 - p_t)^gamma BCE(x, y) with alpha_t ="
            " alpha for positives and 1 - alpha for negatives; a negative alpha disables alpha_t."
            " Average over all elements."
        ),
        shapes=("logits: [N, C] float (any shape)", "target: same shape, 0./1. floats",
                "output: [] scalar"),
        hint="Start from the per-element BCE with logits; p_t and alpha_t are blends of the"
        " positive and negative cases weighted by the target.",
        library="lossbook.sigmoid_focal_loss",
        reference=_sigmoid_focal_reference,
        cases=_sigmoid_focal_cases,
        lesson="custom-losses.md#multi-label-and-detection-the-sigmoid-form",
        mistakes=(
            Mistake(
                "alpha is applied to every element; alpha_t is alpha on positives and 1 - alpha"
                " on negatives.",
                lambda x, y, alpha, gamma: alpha
                * classification.sigmoid_focal_loss(x, y, alpha=-1.0, gamma=gamma),
            ),
            Mistake(
                "the modulating factor (1 - p_t)^gamma is missing.",
                lambda x, y, alpha, gamma: classification.sigmoid_focal_loss(
                    x, y, alpha=alpha, gamma=0.0
                ),
            ),
        ),
    )
)


# --------------------------------------------------------------------------- katas: metrics


def _confusion_reference(pred, target, num_classes):
    from . import metrics

    return metrics.confusion_matrix(pred, target, num_classes=num_classes)


def _confusion_cases() -> list[Case]:
    g = _gen(41)
    return [
        Case("binary, N=12", (_randint(g, 2, 12), _randint(g, 2, 12), 2)),
        Case("random N=50, C=4", (_randint(g, 4, 50), _randint(g, 4, 50), 4)),
        Case(
            "class 3 never predicted nor present (num_classes=5)",
            (torch.tensor([0, 1, 2, 2, 4, 1]), torch.tensor([0, 2, 2, 1, 4, 1]), 5),
            hint="size the matrix from num_classes, not from the labels you happen to see.",
        ),
        Case(
            "every prediction wrong",
            (torch.tensor([1, 2, 0, 1]), torch.tensor([0, 1, 2, 0]), 3),
            hint="M[i, j] counts samples of TRUE class i predicted as class j: rows are the"
            " truth, columns the prediction.",
        ),
    ]


_register(
    Kata(
        name="confusion_matrix",
        title="Confusion matrix",
        signature="confusion_matrix(pred, target, num_classes)",
        returns="a [C, C] integer tensor of counts, rows = true class, columns = predicted class",
        task=(
            "Count M[i, j], the number of samples whose true class is i and predicted class is j"
            " (scikit-learn's convention: rows are the truth). The diagonal holds the true"
            " positives of each class. Vectorise it: no Python loop over samples."
        ),
        shapes=("pred:   [N] int64 predicted classes", "target: [N] int64 true classes",
                "num_classes: int C", "output: [C, C] int64"),
        hint="Each (true, predicted) pair is one cell index true * C + pred; count them in one go.",
        library="lossbook.metrics.confusion_matrix",
        reference=_confusion_reference,
        cases=_confusion_cases,
        lesson="metrics.md#the-confusion-matrix",
        imports="import torch",
        mistakes=(
            Mistake(
                "the matrix is transposed: rows must be the true class, columns the prediction.",
                lambda pred, target, c: _confusion_reference(pred, target, c).T,
            ),
        ),
    )
)


def _prf_reference(pred, target, num_classes):
    from . import metrics

    return metrics.precision_recall_f1(pred, target, num_classes=num_classes)


def _prf_cases() -> list[Case]:
    g = _gen(43)
    return [
        Case("binary, N=20", (_randint(g, 2, 20), _randint(g, 2, 20), 2)),
        Case("random N=60, C=4", (_randint(g, 4, 60), _randint(g, 4, 60), 4)),
        Case(
            "class 2 is never predicted (0/0 precision is 0)",
            (torch.tensor([0, 1, 1, 0, 1, 0]), torch.tensor([0, 2, 1, 2, 1, 0]), 3),
            hint="TP + FP = 0 for a class that is never predicted: 0/0 is NaN in torch; define it"
            " as 0 (scikit-learn's zero_division=0), e.g. with torch.where on the denominator.",
        ),
        Case(
            "rare positive class: 2 positives in 30",
            (torch.tensor([0] * 25 + [1] * 3 + [0, 1]), torch.tensor([0] * 28 + [1, 1]), 2),
            hint="precision = TP / (TP + FP) is about the predictions; recall = TP / (TP + FN)"
            " is about the true positives.",
        ),
    ]


def _swapped_pr(pred, target, c):
    p, r, f1 = _prf_reference(pred, target, c)
    return r, p, f1


_register(
    Kata(
        name="precision_recall_f1",
        title="Precision, recall and F1 per class",
        signature="precision_recall_f1(pred, target, num_classes)",
        returns="a tuple (precision, recall, f1) of [C] float tensors",
        task=(
            "From predicted and true class indices, return per-class precision TP/(TP+FP), recall"
            " TP/(TP+FN) and F1 = 2TP/(2TP+FP+FN). A ratio whose denominator is 0 (a class never"
            " predicted, or never present) is 0."
        ),
        shapes=("pred, target: [N] int64", "num_classes: int C",
                "output: (precision [C], recall [C], f1 [C]) float"),
        hint="Build the confusion matrix first: the diagonal is TP, column sums are TP + FP,"
        " row sums are TP + FN.",
        library="lossbook.metrics.precision_recall_f1",
        reference=_prf_reference,
        cases=_prf_cases,
        lesson="metrics.md#precision-recall-and-f1",
        imports="import torch",
        mistakes=(
            Mistake("precision and recall are swapped: precision divides by how often the class"
                    " was predicted (column sum), recall by how often it is true (row sum).",
                    _swapped_pr),
        ),
    )
)


def _ade_fde_reference(pred, target):
    from . import metrics

    return metrics.min_ade(pred, target), metrics.min_fde(pred, target)


def _ade_fde_cases() -> list[Case]:
    g = _gen(47)
    diag = torch.arange(10.0).repeat_interleave(2).reshape(1, 1, 10, 2)
    steady = [[2.0, 0.0]] * 3
    late = [[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]]
    return [
        Case(
            "one mode at (i, i), truth at the origin (Argoverse check: ADE 6.364, FDE sqrt(162))",
            (diag, torch.zeros(1, 10, 2)),
        ),
        Case(
            "minADE and minFDE from different modes",
            (torch.tensor([[steady, late]]), torch.zeros(1, 3, 2)),
            hint="take each minimum over the K modes independently (Waymo's convention):"
            " minADE may come from one mode and minFDE from another.",
        ),
        Case("random B=4, K=6, T=16", (_randn(g, 4, 6, 16, 2, scale=3.0), _randn(g, 4, 16, 2, scale=3.0))),
        Case(
            "B=3, K=2, T=5 (dimensions of different sizes)",
            (_randn(g, 3, 2, 5, 2), _randn(g, 3, 5, 2)),
            hint="pred is [B, K, T, 2]: the norm is over the last axis, the ADE mean over T"
            " (axis 2), the minimum over K (axis 1), then the mean over B.",
        ),
        Case(
            "gradient with respect to pred (only the best modes receive one)",
            (_randn(g, 3, 4, 6, 2, scale=2.0), _randn(g, 3, 6, 2, scale=2.0)),
            grad=("pred",),
        ),
    ]


_register(
    Kata(
        name="ade_fde",
        title="minADE / minFDE over K predicted trajectories",
        signature="min_ade_fde(pred, target)",
        returns="a tuple (min_ade, min_fde) of scalar tensors, averaged over the batch",
        task=(
            "For each sample and each of the K predicted futures, ADE is the mean over time steps"
            " of the Euclidean distance to the logged future, FDE the distance at the last step."
            " Return minADE and minFDE (each the minimum over K, taken independently), averaged"
            " over the batch."
        ),
        shapes=("pred:   [B, K, T, 2] float", "target: [B, T, 2] float",
                "output: (min_ade [], min_fde []) in metres"),
        hint="Compute the distance tensor [B, K, T] once; ADE and FDE are two reductions of it.",
        library="lossbook.metrics.min_ade, lossbook.metrics.min_fde",
        reference=_ade_fde_reference,
        cases=_ade_fde_cases,
        lesson="metrics.md#trajectory-metrics",
        imports="import torch",
        mistakes=(
            Mistake(
                "the distances are squared; ADE/FDE are in metres, sqrt(dx^2 + dy^2).",
                lambda pred, target: (
                    (pred - target[:, None]).square().sum(-1).mean(-1).min(1).values.mean(),
                    (pred - target[:, None]).square().sum(-1)[..., -1].min(1).values.mean(),
                ),
            ),
            Mistake(
                "ADE is averaged over the modes instead of the time steps (axis 1 is K, axis 2"
                " is T).",
                lambda pred, target: (
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)
                    .mean(1).min(-1).values.mean(),
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)[..., -1]
                    .min(1).values.mean(),
                ),
            ),
            Mistake(
                "the errors are averaged over the K modes instead of taking the minimum; a"
                " multi-modal prediction is scored by its best mode.",
                lambda pred, target: (
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1).mean(),
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)[..., -1].mean(),
                ),
            ),
        ),
    )
)


# --------------------------------------------------------------------------- katas: simulation


def _bicycle_reference(speed, heading, dt):
    from . import simulation

    return simulation.inverse_bicycle(speed, heading, dt=dt)


def _kinematic_reference(speed, heading, dt):
    from . import simulation

    return simulation.kinematic_infeasibility(speed, heading, dt=dt)


def _kinematic_cases() -> list[Case]:
    g = _gen(53)
    cruise = 10.0 + torch.randn(4, 12, generator=g).cumsum(-1) * 0.05
    heading = torch.randn(4, 12, generator=g).cumsum(-1) * 0.01
    return [
        Case("smooth driving, 4 agents x 12 steps", (cruise, heading, 0.1)),
        Case(
            "a hard brake: 12 -> 10 m/s in 0.1 s",
            (torch.tensor([12.0, 12.0, 10.0, 10.0]), torch.zeros(4), 0.1),
        ),
        Case(
            "heading crossing +-pi (3.1 -> -3.1 rad is a small left turn)",
            (torch.full((4,), 8.0), torch.tensor([3.05, 3.1, -3.1, -3.05]), 0.1),
            hint="wrap the heading change into [-pi, pi) before dividing: 3.1 -> -3.1 is a"
            " 0.083 rad turn, not -6.2 rad.",
        ),
        Case(
            "crawling below 0.6 m/s: curvature is 0",
            (torch.tensor([0.2, 0.3, 0.5, 2.0, 2.0]), torch.tensor([0.0, 0.5, 1.0, 1.0, 1.02]), 0.1),
            hint="below min_speed = 0.6 m/s (at either end of the step) the curvature is 0: heading"
            " noise over a tiny distance is not a turn.",
        ),
        Case(
            "dt = 0.5 s, 2 x 3 agents",
            (10.0 + _randn(g, 2, 3, 6, scale=2.0), _randn(g, 2, 3, 6, scale=0.3), 0.5),
            hint="acceleration is (v[t+1] - v[t]) / dt; the distance of a step is"
            " (v[t] + v[t+1]) / 2 * dt.",
        ),
    ]


def _bicycle_cases() -> list[Case]:
    g = _gen(57)
    speed = 6.0 + torch.rand(3, 8, generator=g) * 4.0
    speed[0, 2:4] = 0.3  # a crawl: its curvature is 0 and gets no gradient
    return _kinematic_cases() + [
        Case(
            "gradient with respect to speed and heading (a differentiable comfort penalty)",
            (speed, _randn(g, 3, 8, scale=0.2), 0.1),
            grad=("speed", "heading"),
            hint="keep the slow steps out of the division (torch.where on a safe denominator),"
            " or their gradient is NaN even where the value is masked.",
        )
    ]


_KINEMATIC_TASK = (
    "From speed (m/s) and heading (rad) per step, recover the controls of a bicycle model"
    " between consecutive steps: acceleration a = (v[t+1] - v[t]) / dt and curvature kappa ="
    " wrap(heading[t+1] - heading[t]) / ((v[t] + v[t+1]) / 2 * dt), the heading change per metre"
    " travelled, with the angle difference wrapped into [-pi, pi). Where either speed is below"
    " 0.6 m/s the curvature is 0."
)

_register(
    Kata(
        name="inverse_bicycle",
        title="Acceleration and curvature from speed and heading (inverse bicycle model)",
        signature="inverse_bicycle(speed, heading, dt=0.1)",
        returns="a tuple (accel, curvature) of [..., T - 1] float tensors",
        task=_KINEMATIC_TASK,
        shapes=("speed, heading: [..., T] float", "dt: float seconds",
                "output: (accel [..., T-1], curvature [..., T-1])"),
        hint="Differences along the last axis (diff(dim=-1)); torch.where for the slow steps,"
        " with a safe denominator so no division by ~0 happens.",
        library="lossbook.simulation.inverse_bicycle",
        reference=_bicycle_reference,
        cases=_bicycle_cases,
        lesson="simulation-metrics.md#kinematic-infeasibility-the-inverse-bicycle-model",
        imports="import math\n\nimport torch",
        mistakes=(
            Mistake(
                "the heading difference is not wrapped into [-pi, pi).",
                lambda speed, heading, dt: (
                    speed.diff(dim=-1) / dt,
                    torch.where(
                        (speed[..., :-1] < 0.6) | (speed[..., 1:] < 0.6),
                        0.0,
                        heading.diff(dim=-1) / ((speed[..., :-1] + speed[..., 1:]) / 2 * dt),
                    ),
                ),
            ),
        ),
    )
)

_register(
    Kata(
        name="kinematic_check",
        title="Kinematic feasibility check (|accel| > 10.4 m/s^2 or |curvature| > 0.3 1/m)",
        signature="kinematic_infeasibility(speed, heading, dt=0.1)",
        returns="a [..., T - 1] bool tensor, True where the step is impossible for a car",
        task=_KINEMATIC_TASK
        + " A step is kinematically infeasible when |a| > 10.4 m/s^2 or |kappa| > 0.3 1/m"
        " (Waymax's limits; strictly greater).",
        shapes=("speed, heading: [..., T] float", "dt: float seconds",
                "output: [..., T-1] bool"),
        hint="Compute acceleration and curvature as in the inverse_bicycle kata, then compare"
        " their absolute values with the limits.",
        library="lossbook.simulation.kinematic_infeasibility",
        reference=_kinematic_reference,
        cases=_kinematic_cases,
        lesson="simulation-metrics.md#kinematic-infeasibility-the-inverse-bicycle-model",
        imports="import math\n\nimport torch",
        mistakes=(
            Mistake(
                "only the acceleration is checked; the curvature limit (0.3 1/m) counts too.",
                lambda speed, heading, dt: _bicycle_reference(speed, heading, dt)[0].abs() > 10.4,
            ),
        ),
    )
)


# --------------------------------------------------------------------------- katas: diffusion


def _q_sample_reference(x0, t, noise, alphas_cumprod):
    from . import diffusion

    return diffusion.q_sample(x0, t, noise, alphas_cumprod)


def _ddpm_alphas_cumprod() -> torch.Tensor:
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def _q_sample_cases() -> list[Case]:
    g = _gen(59)
    ab = _ddpm_alphas_cumprod()
    return [
        Case("B=4 vectors of 3, random t", (_randn(g, 4, 3), _randint(g, 1000, 4), _randn(g, 4, 3), ab)),
        Case(
            "square batch: B = D = 4 (a [B] coefficient must not broadcast along features)",
            (_randn(g, 4, 4), torch.tensor([0, 250, 500, 999]), _randn(g, 4, 4), ab),
            hint="alphas_cumprod[t] has shape [B]; reshape it to [B, 1, ...] (one value per"
            " sample) before multiplying: with B == D a [B] vector silently broadcasts along"
            " the feature axis instead.",
        ),
        Case(
            "trajectories [B, T, 2] with t = 0 and t = 999",
            (_randn(g, 2, 8, 2), torch.tensor([0, 999]), _randn(g, 2, 8, 2), ab),
            hint="x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps: square roots of the"
            " cumulative product, not alpha_bar itself.",
        ),
        Case("gradient with respect to x0 and noise",
             (_randn(g, 3, 5), _randint(g, 1000, 3), _randn(g, 3, 5), ab), grad=("x0", "noise")),
    ]


_register(
    Kata(
        name="q_sample",
        title="Diffusion forward process in one shot: q_sample",
        signature="q_sample(x0, t, noise, alphas_cumprod)",
        returns="x_t, a tensor shaped like x0",
        task=(
            "Noise clean data to step t directly: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t)"
            " eps. t holds one 0-indexed timestep per sample; alphas_cumprod is the [T] cumulative"
            " product of (1 - beta). x0 may have any number of feature dimensions."
        ),
        shapes=("x0, noise: [B, ...] float", "t: [B] int64 in [0, T)",
                "alphas_cumprod: [T] float", "output: [B, ...]"),
        hint="Gather alphas_cumprod[t] and reshape it to [B, 1, 1, ...] so it scales each sample.",
        library="lossbook.diffusion.q_sample",
        reference=_q_sample_reference,
        cases=_q_sample_cases,
        lesson="diffusion-basics.md#forward-noising-and-the-closed-form",
        imports="import torch",
        mistakes=(
            Mistake(
                "the coefficients are alpha_bar_t and 1 - alpha_bar_t; take their square roots"
                " (the variances must add up to 1).",
                lambda x0, t, noise, ab: ab[t].view(-1, *[1] * (x0.ndim - 1)) * x0
                + (1 - ab[t].view(-1, *[1] * (x0.ndim - 1))) * noise,
            ),
            Mistake(
                "the [B] coefficient broadcast along the last (feature) axis; reshape it to"
                " [B, 1, ...].",
                lambda x0, t, noise, ab: ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * noise,
            ),
        ),
    )
)


# --------------------------------------------------------------------------- katas: post-training


def _dpo_reference(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    from . import alignment

    return alignment.dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=beta)


def _dpo_cases() -> list[Case]:
    g = _gen(61)

    def logps(*shape):
        return -10.0 - 20.0 * torch.rand(*shape, generator=g)

    z = torch.zeros(3)
    return [
        Case("policy equal to the reference: log 2", (z - 5, z - 7, z - 5, z - 7, 0.1),
             hint="with no change from the reference the margin is 0 and the loss is"
             " -log sigmoid(0) = log 2."),
        Case("random B=8, beta=0.1", (logps(8), logps(8), logps(8), logps(8), 0.1)),
        Case("random B=5, beta=0.5", (logps(5), logps(5), logps(5), logps(5), 0.5)),
        Case(
            "huge margins (beta * margin = +-1000)",
            (torch.tensor([-10.0, -2010.0]), torch.tensor([-2010.0, -10.0]), torch.tensor([-10.0, -10.0]),
             torch.tensor([-10.0, -10.0]), 0.5),
            hint="-log(sigmoid(x)) is log(0) = inf for x = -1000 in floating point; use"
            " F.logsigmoid, which stays finite.",
        ),
        Case(
            "gradient with respect to the policy log-probabilities",
            (logps(4), logps(4), logps(4), logps(4), 0.1),
            grad=("policy_chosen_logps", "policy_rejected_logps"),
        ),
    ]


_register(
    Kata(
        name="dpo_loss",
        title="Direct preference optimisation (DPO) loss",
        signature=(
            "dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,"
            " ref_rejected_logps, beta=0.1)"
        ),
        returns="the mean DPO loss over the preference pairs, a scalar tensor",
        task=(
            "Each argument holds one summed log-probability per preference pair, under the"
            " policy and under the frozen reference model. The margin is (policy_chosen -"
            " ref_chosen) - (policy_rejected - ref_rejected); the loss is -log sigmoid(beta *"
            " margin), averaged over pairs. It must stay finite for huge margins."
        ),
        shapes=("each *_logps: [B] float", "beta: float > 0", "output: [] scalar"),
        hint="The chosen and rejected log-ratios against the reference are implicit rewards;"
        " the loss is a logistic loss on their difference.",
        library="lossbook.alignment.dpo_loss",
        reference=_dpo_reference,
        cases=_dpo_cases,
        lesson="glossary/alignment.md#dpo-how-does-it-remove-the-reward-model-and-the-rl-loop",
        mistakes=(
            Mistake(
                "chosen and rejected are swapped: the margin is chosen minus rejected.",
                lambda pc, pr, rc, rr, beta: _dpo_reference(pr, pc, rr, rc, beta),
            ),
            Mistake(
                "beta is missing (or applied as a divisor).",
                lambda pc, pr, rc, rr, beta: _dpo_reference(pc, pr, rc, rr, 1.0),
            ),
        ),
    )
)


def _info_nce_reference(query, key, temperature):
    from . import contrastive

    return contrastive.info_nce(query, key, temperature=temperature)


def _info_nce_cases() -> list[Case]:
    g = _gen(67)
    base = _randn(g, 6, 8)
    return [
        Case("random B=8, D=16, temperature 0.1", (_randn(g, 8, 16), _randn(g, 8, 16), 0.1)),
        Case("two samples, temperature 1", (torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
                                           torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 1.0),
             hint="each query is a B-way classification over all keys: its positive is the key"
             " with the same index, the other keys are negatives."),
        Case(
            "embeddings of different norms (cosine similarity)",
            (_randn(g, 5, 4) * torch.tensor([[0.1], [1.0], [10.0], [100.0], [3.0]]),
             _randn(g, 5, 4), 0.2),
            hint="L2-normalise query and key first (F.normalize), so the similarity is a cosine"
            " and the temperature alone sets the sharpness.",
        ),
        Case(
            "near-identical views at temperature 0.01 (exp(100) overflows float32)",
            (base, base + 0.01 * _randn(g, 6, 8), 0.01),
            hint="never exponentiate similarities yourself: F.cross_entropy on the [B, B]"
            " similarity matrix with labels arange(B) is the stable log-softmax.",
        ),
        Case("gradient with respect to query and key", (_randn(g, 4, 6), _randn(g, 4, 6), 0.1),
             grad=("query", "key")),
    ]


_register(
    Kata(
        name="info_nce",
        title="InfoNCE with in-batch negatives",
        signature="info_nce(query, key, temperature=0.1)",
        returns="the mean InfoNCE loss over the queries, a scalar tensor",
        task=(
            "query[i] and key[i] are two views of sample i; every other key in the batch is a"
            " negative for query i. L2-normalise both, take the [B, B] matrix of cosine"
            " similarities divided by the temperature, and return the cross entropy of each row"
            " with its diagonal entry as the correct class, averaged over the queries."
        ),
        shapes=("query, key: [B, D] float", "temperature: float > 0", "output: [] scalar"),
        hint="It is a B-way classification per query: logits = similarity matrix, labels ="
        " arange(B).",
        library="lossbook.contrastive.info_nce",
        reference=_info_nce_reference,
        cases=_info_nce_cases,
        lesson="glossary/contrastive.md#explain-infonce",
        mistakes=(
            Mistake(
                "the embeddings are not L2-normalised (raw dot products).",
                lambda q, k, tau: torch.nn.functional.cross_entropy(
                    q @ k.T / tau, torch.arange(q.shape[0])
                ),
            ),
            Mistake(
                "both directions are averaged (CLIP's symmetric loss); the kata asks for query"
                " -> key only.",
                lambda q, k, tau: __import__("lossbook.contrastive", fromlist=["x"]).info_nce(
                    q, k, temperature=tau, symmetric=True
                ),
            ),
            Mistake(
                "the similarities are multiplied by the temperature; divide by it.",
                lambda q, k, tau: _info_nce_reference(q, k, 1.0 / tau),
            ),
        ),
    )
)


def _ppo_reference(logprobs, old_logprobs, advantages, mask, clip_eps):
    from . import rl

    return rl.ppo_clip_loss(logprobs, old_logprobs, advantages, mask=mask, clip_eps=clip_eps)


def _ppo_cases() -> list[Case]:
    g = _gen(71)
    ratio = torch.tensor([0.5, 1.0, 1.5])
    old = -2.0 - torch.rand(4, 6, generator=g)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    padded_new = old + 0.3 * _randn(g, 4, 6)
    padded_new[~mask] = 0.0  # padding holds whatever the model produced there
    return [
        Case("ratios [0.5, 1, 1.5], advantages [1, -1, 2], eps 0.2 (check value -0.6333)",
             (ratio.log(), torch.zeros(3), torch.tensor([1.0, -1.0, 2.0]), torch.ones(3, dtype=torch.bool), 0.2),
             hint="per token: max(-A r, -A clip(r, 1 - eps, 1 + eps)), the negated pessimistic"
             " (min) surrogate."),
        Case("random tokens B=4, T=6, all valid",
             (-2.0 + 0.4 * _randn(g, 4, 6), -2.0 + 0.4 * _randn(g, 4, 6), _randn(g, 4, 6),
              torch.ones(4, 6, dtype=torch.bool), 0.2)),
        Case(
            "padded tokens (mask) are left out of the mean",
            (padded_new, old, _randn(g, 4, 6), mask, 0.2),
            hint="the mean is over valid tokens only: sum(loss * mask) / mask.sum().",
        ),
        Case(
            "gradient: zero wherever the clipped branch is active",
            (-1.0 + 0.5 * _randn(g, 3, 5), torch.full((3, 5), -1.0), _randn(g, 3, 5),
             torch.ones(3, 5, dtype=torch.bool), 0.1),
            grad=("logprobs",),
            hint="compute the ratio as exp(logprobs - old_logprobs) with old_logprobs detached;"
            " the clipped branch has no gradient.",
        ),
    ]


_register(
    Kata(
        name="ppo_clip_loss",
        title="PPO clipped surrogate loss (per token, masked)",
        signature="ppo_clip_loss(logprobs, old_logprobs, advantages, mask, clip_eps=0.2)",
        returns="the masked mean of the per-token loss, a scalar tensor",
        task=(
            "With the probability ratio r = exp(logprobs - old_logprobs) per token, the PPO loss"
            " is max(-A r, -A clip(r, 1 - eps, 1 + eps)), the negative of the clipped surrogate"
            " objective. Average it over the tokens where mask is True."
        ),
        shapes=("logprobs, old_logprobs, advantages: [B, T] float (any shape)",
                "mask: same shape, bool", "output: [] scalar"),
        hint="Write the surrogate as a loss to minimise: the pessimistic minimum of the"
        " objectives becomes a maximum of the negated terms.",
        library="lossbook.rl.ppo_clip_loss",
        reference=_ppo_reference,
        cases=_ppo_cases,
        lesson="glossary/rl.md#how-does-ppo-work",
        mistakes=(
            Mistake(
                "the clipped term is taken with min (the optimistic bound); the loss is the max of"
                " -A r and -A clip(r).",
                lambda lp, old, adv, mask, eps: (
                    torch.minimum(-adv * (lp - old).exp(),
                                  -adv * (lp - old).exp().clamp(1 - eps, 1 + eps))[mask].mean()
                ),
            ),
            Mistake(
                "the mean is over every token, padding included.",
                lambda lp, old, adv, mask, eps: __import__("lossbook.rl", fromlist=["x"])
                .ppo_clip_loss(lp, old, adv, clip_eps=eps),
            ),
        ),
    )
)



# --------------------------------------------------------------------------- katas: debugging


def _overfit_reference(model, x, y, loss_fn, steps, lr):
    from . import debugging

    return debugging.overfit_one_batch(model, (x, y), loss_fn, steps=steps, lr=lr)


def _mlp(g: torch.Generator, sizes: Sequence[int], *, dropout: float = 0.0) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(torch.nn.ReLU())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
        layer = torch.nn.Linear(a, b)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(b, a, generator=g) / math.sqrt(a))
            layer.bias.zero_()
        layers.append(layer)
    return torch.nn.Sequential(*layers)


def _overfit_cases() -> list[Case]:
    g = _gen(73)
    f = torch.nn.functional
    frozen = _mlp(g, (4, 16, 3))
    frozen[0].requires_grad_(False)
    dropout = _mlp(g, (4, 16, 16, 2), dropout=0.2).eval()  # handed over in eval mode
    return [
        Case("an MLP classifier on 8 samples, 40 steps of Adam",
             (_mlp(g, (4, 32, 3)), _randn(g, 8, 4), _randint(g, 3, 8), f.cross_entropy, 40, 1e-2),
             hint="each step: zero the gradients, forward, loss, record loss.item(), backward,"
             " step. Record the loss before the update."),
        Case("a regression MLP with MSE, 25 steps, lr 5e-3",
             (_mlp(g, (3, 16, 1)), _randn(g, 6, 3), _randn(g, 6, 1), f.mse_loss, 25, 5e-3)),
        Case(
            "a model handed over in eval mode, with dropout",
            (dropout, _randn(g, 8, 4), _randint(g, 2, 8), f.cross_entropy, 15, 1e-2),
            hint="call model.train() before the loop: the batch must be fitted in training"
            " mode, dropout included.",
        ),
        Case("a frozen first layer", (frozen, _randn(g, 8, 4), _randint(g, 3, 8), f.cross_entropy, 20, 1e-2)),
    ]


def _overfit_loop(model, x, y, loss_fn, steps, lr, *, zero_grad: bool = True, train: bool = True):
    """The loop with one of its two classic bugs switched on (for recognising mistakes)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    if train:
        model.train()
    history = []
    for _ in range(steps):
        if zero_grad:
            opt.zero_grad()
        loss = loss_fn(model(x), y)
        history.append(loss.item())
        loss.backward()
        opt.step()
    return history


_register(
    Kata(
        name="overfit_one_batch",
        title="The overfit-one-batch training loop",
        signature="overfit_one_batch(model, x, y, loss_fn, steps=200, lr=1e-2)",
        returns="the list of the loss values (floats) before each update, one per step",
        task=(
            "Write the loop that checks a new model, loss and optimiser can learn at all: train"
            " `model` on the single batch (x, y) for `steps` steps of torch.optim.Adam with"
            " learning rate `lr`, in training mode, and return the loss of every step, recorded"
            " before that step's update. A healthy set-up drives it to about zero."
        ),
        shapes=("model: torch.nn.Module (trained in place)", "x: [N, D] float",
                "y: [N] int64 classes or [N, 1] float targets",
                "loss_fn: e.g. F.cross_entropy", "output: list of `steps` floats"),
        hint="Five lines in the loop body, in the right order; the classic bugs are a missing"
        " zero_grad() and a model left in eval mode.",
        library="lossbook.debugging.overfit_one_batch",
        reference=_overfit_reference,
        cases=_overfit_cases,
        lesson="debugging.md#2-overfit-one-batch",
        imports="import torch",
        numpy=False,
        rtol=1e-3,
        mistakes=(
            Mistake("the gradients are never zeroed, so they accumulate across steps: call"
                    " opt.zero_grad() at the start of every step.",
                    lambda *args: _overfit_loop(*args, zero_grad=False)),
            Mistake("the model stays in eval mode (dropout off): call model.train() first.",
                    lambda *args: _overfit_loop(*args, train=False)),
        ),
    )
)


def _grad_norm_reference(model):
    from . import debugging

    per_layer, total = debugging.grad_norm(model)
    return {k: v for k, v in per_layer.items() if v is not None}, total


def _after_backward(model: torch.nn.Module, x: torch.Tensor, scale: float = 1.0) -> torch.nn.Module:
    (model(x).square().mean() * scale).backward()
    return model


def _grad_norm_cases() -> list[Case]:
    g = _gen(79)
    unused = torch.nn.ModuleDict({"used": _mlp(g, (4, 8, 2)), "unused": torch.nn.Linear(4, 2)})
    unused["used"](_randn(g, 5, 4)).sum().backward()
    frozen = _mlp(g, (3, 6, 1))
    frozen[0].requires_grad_(False)
    return [
        Case("an MLP after one backward", (_after_backward(_mlp(g, (4, 16, 3)), _randn(g, 8, 4)),)),
        Case("a deeper MLP, large gradients",
             (_after_backward(_mlp(g, (6, 32, 32, 32, 1)), _randn(g, 16, 6), scale=1e4),)),
        Case(
            "a layer that was not used in the forward pass (its .grad is None)",
            (unused,),
            hint="skip parameters whose .grad is None (never used, or cut off by a detach):"
            " leave them out of the dict and of the total.",
        ),
        Case("a frozen first layer", (_after_backward(frozen, _randn(g, 4, 3)),)),
    ]


_register(
    Kata(
        name="grad_norm",
        title="Gradient norm helper (per layer and total)",
        signature="grad_norm(model)",
        returns="a tuple (per_layer, total): a dict from parameter name to the L2 norm of its"
        " gradient, and the total L2 norm over all of them",
        task=(
            "Call it after loss.backward(). For every parameter of the model that has a gradient,"
            " report the L2 norm of that gradient under its name from named_parameters(); the"
            " total is the L2 norm of all gradients together (what clip_grad_norm_ returns)."
            " Parameters whose .grad is None are left out."
        ),
        shapes=("model: torch.nn.Module after backward()",
                "output: (dict name -> float, float)"),
        hint="The total is not the sum of the per-layer norms: it is the square root of the sum"
        " of their squares.",
        library="lossbook.debugging.grad_norm",
        reference=_grad_norm_reference,
        cases=_grad_norm_cases,
        lesson="debugging.md#3-gradient-norms-per-layer",
        imports="import torch",
        numpy=False,
        mistakes=(
            Mistake("the total adds up the per-layer norms; the total L2 norm is the root of the"
                    " sum of their squares.",
                    lambda model: (_grad_norm_reference(model)[0],
                                   sum(_grad_norm_reference(model)[0].values()))),
        ),
    )
)


def names() -> Sequence[str]:
    """The kata names in the order `lossbook kata list` shows them."""
    return list(KATAS)

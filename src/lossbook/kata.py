"""Practice katas: write a loss or a metric from memory, then check it against the library.

A kata is an interview task (the signature a reader writes, the shapes, a hint) together with
case generators: seeded random inputs of several shapes, edge cases (extreme logits, $p_t = 1$,
masks) and gradient comparisons. The expected value of every case comes from the library function
the lessons teach; there is no second implementation here. The command line front end is
`lossbook kata` (see [`lossbook.cli`][lossbook.cli]).

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
    "Case",
    "CaseResult",
    "CheckReport",
    "Kata",
    "KataError",
    "Mistake",
    "KATAS",
    "SITE_URL",
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
        lines += ["", f"Checked against: {self.library}", f"Lesson: {self.lesson_url}"]
        return "\n".join(lines)


KATAS: dict[str, Kata] = {}


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
        x = x.to(torch.int64)
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
        if want.ndim == 0 and got.ndim == 1:
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


def _fresh(value: object, requires_grad: bool) -> object:
    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
        return out.requires_grad_(True) if requires_grad else out
    return copy.deepcopy(value)


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

    @property
    def ok(self) -> bool:
        return self.stopped is None and bool(self.results) and all(r.passed for r in self.results)

    def render(self) -> str:
        k = self.kata
        lines = [f"kata {k.name}: checking {k.function}() in {self.path} against {k.library}"]
        for r in self.results:
            lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}")
        if self.stopped:
            lines += ["", self.stopped]
            return "\n".join(lines)
        failed = [r for r in self.results if not r.passed]
        if not failed:
            lines += ["", f"All {len(self.results)} cases pass. Well done: now write it again"
                      " tomorrow, from memory."]
            return "\n".join(lines)
        first = failed[0]
        lines += ["", f"First failure: {first.name}", textwrap.indent(first.detail, "  ")]
        lines += ["", f"{len(failed)} of {len(self.results)} cases failed."
                  f" `lossbook kata show {k.name}` repeats the task; the lesson: {k.lesson_url}"]
        return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, 96, subsequent_indent="  ", break_on_hyphens=False)


def _case_failure(kata: Kata, case: Case, problem: str, got: object | None, args: tuple) -> str:
    lines = [problem]
    if got is not None:
        for mistake in kata.mistakes:
            try:
                with torch.no_grad():
                    wrong = _structure(mistake.compute(*[_fresh(a, False) for a in args]))
            except Exception:  # noqa: BLE001 - a diagnosis that does not apply is skipped
                continue
            if _compare(wrong, got, kata.rtol, kata.atol, "output") is None:
                lines.append(_wrap(f"This is a common mistake: {mistake.message}"))
                break
    lines.append(_wrap(f"Hint: {case.hint or kata.hint}"))
    return "\n".join(lines)


def _run_case(kata: Kata, function: Callable, case: Case, path: Path) -> CaseResult:
    params = kata.params
    grad_idx = [params.index(n) for n in case.grad]
    ref_args = tuple(_fresh(a, i in grad_idx) for i, a in enumerate(case.args))
    want = _structure(kata.reference(*ref_args))
    user_args = tuple(_fresh(a, i in grad_idx) for i, a in enumerate(case.args))
    try:
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


def check(name: str, path: str | Path) -> CheckReport:
    """Check the reader's implementation in ``path`` against kata ``name``'s library function.

    Raises:
        KeyError: no kata called ``name``.
        KataError: the file cannot be used (missing, syntax error, no such function...).
    """
    kata = get(name)
    function = load_function(path, kata.function, kata=kata.name)
    report = CheckReport(kata, str(path))
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
    for case in kata.cases():
        try:
            report.results.append(_run_case(kata, function, case, resolved))
        except NotImplementedError:
            report.results.clear()
            report.stopped = (
                f"{kata.function} still raises NotImplementedError: write its body, then run"
                f" the check again. Stuck? `lossbook kata show {kata.name}` has a hint."
            )
            break
    return report


def starter(name: str) -> str:
    """The text of a starter file for kata ``name``: imports, the signature and the task."""
    kata = get(name)
    body = textwrap.fill(kata.task, 88, initial_indent="    ", subsequent_indent="    ")
    shapes = "\n".join(f"        {s}" for s in kata.shapes)
    return (
        f'"""Kata {kata.name}: {kata.title}.\n\n'
        f"Check it:  lossbook kata check {kata.name} <this file>\n"
        f"Stuck?     lossbook kata show {kata.name}   (a hint, and the lesson)\n"
        f'"""\n\n{kata.imports}\n\n\n'
        f"def {kata.signature}:\n"
        f'    """{kata.returns[0].upper()}{kata.returns[1:]}.\n\n{body}\n\n'
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


def _mean_over_n(per_sample: torch.Tensor) -> torch.Tensor:
    return per_sample.mean()


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
    alpha = torch.tensor([0.25, 1.0, 2.0, 0.5])
    cases.append(
        Case(
            "per-class alpha = [0.25, 1, 2, 0.5], N=32",
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
            "Get log p_t in one stable step (-F.cross_entropy(..., reduction='none') or a"
            " log_softmax gather), p_t = exp(log p_t), then loss = -(1 - p_t)^gamma * log p_t."
        ),
        library="lossbook.focal_loss",
        reference=_focal_reference,
        cases=_focal_cases,
        lesson="custom-losses.md",
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
        lesson="custom-losses.md",
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
        lesson="custom-losses.md",
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
            "err[b, k] = ((pred - target[:, None]) ** 2).sum(-1).mean(-1); winner = argmin over k;"
            " gather the winner's error; F.cross_entropy(mode_logits, winner)."
        ),
        library="lossbook.wta_trajectory_loss",
        reference=_wta_reference,
        cases=_wta_cases,
        lesson="custom-losses.md",
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
            "log N(y; mu, s) = -0.5 z^2 - log s - 0.5 log(2 pi) with z = (y - mu) / s; sum over"
            " steps and coordinates, add log_softmax(mode_logits), logsumexp over modes."
        ),
        library="lossbook.mixture_nll",
        reference=_mixture_reference,
        cases=_mixture_cases,
        lesson="custom-losses.md",
    )
)


def names() -> Sequence[str]:
    """The kata names in the order `lossbook kata list` shows them."""
    return list(KATAS)

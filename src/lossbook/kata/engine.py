"""The engine: load the reader's file, run the cases, recognise mistakes, report."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import io
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

from .._lazy import lazy
from .model import Case, Kata
from .registry import get

np = lazy("numpy")
torch = lazy("torch")

__all__ = [
    "CaseResult",
    "CheckReport",
    "KataError",
    "check",
    "load_function",
    "starter",
]


CALL_TIMEOUT_S = 30.0


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


def load_function(
    path: str | Path, name: str, *, kata: str | None = None, also: Sequence[str] = ()
) -> Callable:
    """Import the reader's file and return its function ``name`` (or the first of ``also``
    that it defines, when it has no ``name``).

    Raises:
        KataError: the file is missing, does not parse, raises when imported, or defines none
            of the functions asked for; the message says what to do.
    """
    return _load(path, (name, *also), kata=kata)[1]


def _load(path: str | Path, names: Sequence[str], *, kata: str | None) -> tuple[str, Callable]:
    """``(the name found, the function)``: the first of ``names`` the file defines."""
    name, also = names[0], tuple(names[1:])
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

    for candidate in names:
        function = module.__dict__.get(candidate)
        if function is not None and callable(function):
            return candidate, function
    function = module.__dict__.get(name)
    defined = sorted(
        k for k, v in module.__dict__.items()
        if inspect.isfunction(v) and v.__module__ == module_name and not k.startswith("_")
    )
    found = f"It defines: {', '.join(defined)}." if defined else "It defines no function."
    what = "no function" if function is None else f"a {type(function).__name__}, not a function,"
    named = " or ".join(f"`{n}`" for n in (name, *also))
    numpy_twin = f"{name}_np"
    if numpy_twin in defined and numpy_twin not in also:
        found += f" `{numpy_twin}` looks like a NumPy version: check it with --numpy."
    raise KataError(
        f"{shown} has {what} named {named}. {found} The kata calls `{name}(...)`;"
        " keep the name and the signature of the starter."
    )


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
    skipped: str = ""  # what was not checked (the gradients, with --numpy)


@dataclass
class CheckReport:
    """The result of `check`: one line per case, details of the first failure."""

    kata: Kata
    path: str
    results: list[CaseResult] = field(default_factory=list)
    stopped: str | None = None  # why the check stopped early (e.g. NotImplementedError)
    numpy: bool = False
    function: str = ""  # the function checked (the kata's, or its NumPy twin `..._np`)
    output: str = ""  # what the reader's file printed during the check (not in the report)

    @property
    def ok(self) -> bool:
        return self.stopped is None and bool(self.results) and all(r.passed for r in self.results)

    def render(self) -> str:
        k = self.kata
        mode = " (NumPy: arrays in, values compared, gradients not checked)" if self.numpy else ""
        function = self.function or k.function
        lines = [f"kata {k.name}: checking {function}() in {self.path} against {k.library}{mode}"]
        for r in self.results:
            skipped = f"  [{r.skipped} skipped]" if r.skipped else ""
            lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}{skipped}")
        if self.stopped:
            lines += ["", self.stopped]
            return "\n".join(lines + self._printed())
        failed = [r for r in self.results if not r.passed]
        if not failed:
            done = f"All {len(self.results)} cases pass. Well done: now write it again tomorrow,"
            lines += ["", done + " from memory."]
            skipped = sum(bool(r.skipped) for r in self.results)
            if skipped:
                lines.append(
                    f"The values are right; the gradients of {skipped} case"
                    f"{'s were' if skipped > 1 else ' was'} not checked (--numpy)."
                )
            return "\n".join(lines + self._printed())
        first = failed[0]
        lines += ["", f"First failure: {first.name}", textwrap.indent(first.detail, "  ")]
        lesson = f"; the lesson: {k.lesson_url}" if k.lesson else ""
        summary = (
            f"{len(failed)} of {len(self.results)} cases failed."
            f" `lossbook kata show {k.name}` repeats the task{lesson}"
        )
        lines += ["", summary]
        return "\n".join(lines + self._printed())

    def _printed(self) -> list[str]:
        """A note that the reader's file printed something (kept out of the report)."""
        n = len(self.output.splitlines())
        if not n:
            return []
        return [f"(Your file printed {n} line{'s' if n != 1 else ''} during the check; not shown.)"]


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
    kata: Kata, function: Callable, case: Case, path: Path, *, numpy: bool = False,
    name: str | None = None,
) -> CaseResult:
    params = kata.params
    grad_idx = [] if numpy else [params.index(n) for n in case.grad]
    skipped = "gradient" if numpy and case.grad else ""
    name = name or kata.function  # as the file calls it (`focal_loss_np` with --numpy)
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
        problem = f"{name}(...) raised {_error_text(error)}{_user_frame(error, path)}"
        failure = _case_failure(kata, case, problem, None, case.args)
        return CaseResult(case.name, False, failure, skipped)
    got_s = _structure(got)
    problem = _compare(want, got_s, kata.rtol, kata.atol, "the output")
    if problem:
        failure = _case_failure(kata, case, problem, got_s, case.args)
        return CaseResult(case.name, False, failure, skipped)
    if not grad_idx:
        return CaseResult(case.name, True, skipped=skipped)

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
    interview without torch); values are compared, gradients are not (the report says
    "skipped"), and the function may carry the name of the lessons' NumPy tabs
    (`Kata.numpy_function`, e.g. `focal_loss_np`).
    What the file prints is captured into `CheckReport.output`, out of the report.

    Raises:
        KeyError: no kata called ``name``.
        KataError: the file cannot be used (missing, syntax error, no such function...).
        ValueError: ``numpy=True`` for a kata that needs torch (a training loop, a model).
    """
    kata = get(name)
    if numpy and not kata.numpy:
        raise ValueError(f"kata {kata.name} works on torch modules: it has no NumPy version")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # the file's prints stay out of the report
        report = _check(kata, path, numpy=numpy)
    report.output = printed.getvalue()
    return report


def _check(kata: Kata, path: str | Path, *, numpy: bool) -> CheckReport:
    names = (kata.numpy_function, kata.function) if numpy else (kata.function,)
    name, function = _load(path, names, kata=kata.name)
    report = CheckReport(kata, str(path), numpy=numpy, function=name)
    try:
        inspect.signature(function).bind(*kata.params)
    except TypeError:
        report.stopped = (
            f"{name}{inspect.signature(function)} cannot be called as"
            f" {name}({', '.join(kata.params)}): keep the kata's signature,"
            f" def {name}{kata.signature[len(kata.function):]}."
        )
        return report
    except ValueError:  # builtins without a signature: just try to call them
        pass
    resolved = Path(path).resolve()
    with _one_thread():
        for case in kata.cases():
            try:
                report.results.append(
                    _run_case(kata, function, case, resolved, numpy=numpy, name=name)
                )
            except NotImplementedError:
                report.results.clear()
                report.stopped = _wrap(
                    f"{name} still raises NotImplementedError: write its body, then run"
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
    function = kata.numpy_function if numpy else kata.function
    signature = function + kata.signature[len(kata.function):]
    arrays = "\n\n    NumPy version: every tensor argument arrives as a NumPy array." if numpy else ""
    body = textwrap.fill(kata.task, 88, initial_indent="    ", subsequent_indent="    ")
    shapes = "\n".join(f"        {s}" for s in kata.shapes)
    return (
        f'"""Kata {kata.name}: {kata.title}.\n\n'
        f"Check it:  lossbook kata check{flag} {kata.name} <this file>\n"
        f"Stuck?     lossbook kata show {kata.name}   (a hint, and the lesson)\n"
        f'"""\n\n{imports}\n\n\n'
        f"def {signature}:\n"
        f'    """{kata.returns[0].upper()}{kata.returns[1:]}.\n\n{body}{arrays}\n\n'
        f"    Shapes:\n{shapes}\n"
        f'    """\n'
        f'    raise NotImplementedError("write {function}")\n'
    )

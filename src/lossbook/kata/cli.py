"""The `lossbook kata` sub-commands: list, show, new and check (`lossbook.cli` dispatches here)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from .engine import KataError, check, starter
from .registry import KATAS, by_lesson, get

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "add_parser", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `kata` and its actions to the sub-commands of the `lossbook` parser."""
    kata = commands.add_parser(
        "kata",
        help="practise: write a loss or metric from memory and check it",
        description="Write a loss or a metric from memory, then check it against the library.",
    )
    actions = kata.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list every kata")
    show = actions.add_parser("show", help="the task, signature, shapes and a hint")
    show.add_argument("name", metavar="NAME")
    new = actions.add_parser("new", help="write a starter file for a kata")
    new.add_argument("name", metavar="NAME")
    new.add_argument("file", metavar="FILE")
    new.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    new.add_argument("--numpy", action="store_true", help="a NumPy starter (no torch)")
    check_ = actions.add_parser(
        "check", help="check your implementation in FILE (several NAMEs: each of its functions)"
    )
    check_.add_argument("names", metavar="NAME", nargs="+")
    check_.add_argument("file", metavar="FILE")
    check_.add_argument("--numpy", action="store_true",
                        help="pass NumPy arrays instead of tensors; gradients are not checked")
    return kata


def _error(message: str) -> int:
    """Print a one-paragraph message (wrapped; lines after the first kept as they are)."""
    first, _, rest = message.partition("\n")
    text = textwrap.fill(first, 100, break_on_hyphens=False, break_long_words=False)
    print(f"lossbook: {text}" + (f"\n{rest}" if rest else ""), file=sys.stderr)
    return EXIT_USAGE


def _list() -> int:
    width = max(len(name) for name in KATAS)
    for lesson, katas in by_lesson().items():
        print(lesson)
        for k in katas:
            print(f"  {k.name:<{width}}  {k.title}")
    print(f"\n{len(KATAS)} katas. Next: lossbook kata show NAME, then lossbook kata new NAME FILE.")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Run one `lossbook kata ACTION ...` command; returns the exit status."""
    if args.action == "list":
        return _list()
    if args.action == "check":
        return _check_all(args.names, args.file, numpy=args.numpy)
    try:
        selected = get(args.name)
    except KeyError as error:
        return _error(str(error.args[0]))
    if args.action == "show":
        print(selected.describe())
        return EXIT_OK
    if getattr(args, "numpy", False) and not selected.numpy:
        return _error(f"kata {selected.name} works on torch modules: it has no NumPy version.")
    if args.action == "new":
        path = Path(args.file)
        if path.exists() and not args.force:
            return _error(
                f"{path} already exists; not overwriting it. Pass --force to replace it, or"
                f" choose another file name."
            )
        if path.exists() and not path.is_file():
            return _error(f"{path} is not a file.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(starter(selected.name, numpy=args.numpy), encoding="utf-8")
        except OSError as error:
            return _error(f"cannot write {path}: {error.strerror or error}.")
        function = selected.numpy_function if args.numpy else selected.function
        print(f"Wrote {path}: implement {function}(), then run")
        print(f"  lossbook kata check{' --numpy' if args.numpy else ''} {selected.name} {path}")
        return EXIT_OK
    raise ValueError(f"unknown kata action {args.action!r}")


def _check_all(names: list[str], file: str, *, numpy: bool) -> int:
    """`check NAME [NAME ...] FILE`: one report per kata, in the order given, a blank line
    between them. The exit status is the worst one: 2 if a kata cannot be checked (its function
    is missing from the file...), else 1 if a case failed, else 0."""
    try:
        katas = [get(name) for name in names]
    except KeyError as error:
        return _error(str(error.args[0]))
    for selected in katas:
        if numpy and not selected.numpy:
            return _error(f"kata {selected.name} works on torch modules: it has no NumPy version.")
    status = EXIT_OK
    for number, selected in enumerate(katas):
        if number:
            print()
        try:
            report = check(selected.name, file, numpy=numpy)
        except KataError as error:
            status = max(status, _error(str(error)))
            continue
        print(report.render())
        if not report.ok:
            status = max(status, EXIT_FAILED)
    return status

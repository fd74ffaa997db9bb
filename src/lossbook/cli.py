"""The `lossbook` command: practise writing losses and metrics from memory.

```text
lossbook kata list                  every kata, with the library function it is checked against
lossbook kata show NAME             the task, the signature, the shapes and a hint (no answer)
lossbook kata new NAME FILE         write a starter file: imports, signature, docstring
lossbook kata check NAME FILE       run your function against the library; exit 0 when all pass
```

`new` and `check` take `--numpy` for an interview without torch: the function then receives
NumPy arrays, and values (not gradients) are compared.

Exit status: 0 success, 1 a case failed, 2 a usage problem or a file that cannot be checked
(missing, syntax error, no such function).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lossbook",
        description="Lossbook: loss functions and metrics for ML modeling interviews.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    check = actions.add_parser("check", help="check your implementation in FILE")
    check.add_argument("name", metavar="NAME")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--numpy", action="store_true",
                       help="pass NumPy arrays instead of tensors; gradients are not checked")
    parser.set_defaults(kata_parser=kata)
    return parser


def _error(message: str) -> int:
    """Print a one-paragraph message (wrapped; lines after the first kept as they are)."""
    first, _, rest = message.partition("\n")
    text = textwrap.fill(first, 100, break_on_hyphens=False, break_long_words=False)
    print(f"lossbook: {text}" + (f"\n{rest}" if rest else ""), file=sys.stderr)
    return EXIT_USAGE


def _list() -> int:
    from . import kata

    width = max(len(name) for name in kata.KATAS)
    for lesson, katas in kata.by_lesson().items():
        print(lesson)
        for k in katas:
            print(f"  {k.name:<{width}}  {k.title}")
    print(f"\n{len(kata.KATAS)} katas. Next: lossbook kata show NAME, then lossbook kata new NAME FILE.")
    return EXIT_OK


def _kata_command(args: argparse.Namespace) -> int:
    from . import kata

    if args.action == "list":
        return _list()
    try:
        selected = kata.get(args.name)
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
            path.write_text(kata.starter(selected.name, numpy=args.numpy), encoding="utf-8")
        except OSError as error:
            return _error(f"cannot write {path}: {error.strerror or error}.")
        print(f"Wrote {path}: implement {selected.function}(), then run")
        print(f"  lossbook kata check{' --numpy' if args.numpy else ''} {selected.name} {path}")
        return EXIT_OK
    # check
    try:
        report = kata.check(selected.name, args.file, numpy=args.numpy)
    except kata.KataError as error:
        return _error(str(error))
    print(report.render())
    return EXIT_OK if report.ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lossbook` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.action is None:
        args.kata_parser.print_help()
        return EXIT_USAGE
    return _kata_command(args)


if __name__ == "__main__":
    sys.exit(main())

"""The `lossbook` command: practise writing losses and metrics from memory.

```text
lossbook kata list                  every kata, with the library function it is checked against
lossbook kata show NAME             the task, the signature, the shapes and a hint (no answer)
lossbook kata new NAME FILE         write a starter file: imports, signature, docstring
lossbook kata check NAME FILE       run your function against the library; exit 0 when all pass
lossbook kata check NAME NAME FILE  several katas' functions in one file, one report each
```

`new` and `check` take `--numpy` for an interview without torch: the function then receives
NumPy arrays, and values (not gradients) are compared.

Exit status: 0 success, 1 a case failed, 2 a usage problem or a file that cannot be checked
(missing, syntax error, no such function).
"""

from __future__ import annotations

import argparse
import sys

from .kata.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_parser, run  # noqa: F401 - the codes

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lossbook",
        description="Lossbook: loss functions and metrics for ML modeling interviews.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(kata_parser=add_parser(commands))
    return parser


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
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

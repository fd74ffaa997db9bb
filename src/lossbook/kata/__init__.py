"""Practice katas: write a loss or a metric from memory, then check it against the library.

A kata is an interview task (the signature a reader writes, the shapes, a hint) together with
case generators: seeded random inputs of several shapes, edge cases (extreme logits, $p_t = 1$,
masks) and gradient comparisons. The expected value of every case comes from the library function
the lessons teach; there is no second implementation here. The command line front end is
`lossbook kata` (`lossbook.cli`).

The package:

- ``model``: [Kata][lossbook.kata.Kata], [Case][lossbook.kata.Case] and
  [Mistake][lossbook.kata.Mistake], the data a kata is made of;
- ``registry``: the katas by name and by lesson ([get][lossbook.kata.get],
  [by_lesson][lossbook.kata.by_lesson]);
- ``engine``: loading the reader's file, running the cases, recognising mistakes, the report
  ([check][lossbook.kata.check], [starter][lossbook.kata.starter]);
- ``cli``: the `lossbook kata` sub-commands;
- ``catalogues``: one module per lesson, each registering that lesson's katas.

Example:
    >>> from lossbook.kata import get
    >>> get("focal_loss").signature
    'focal_loss(logits, target, gamma=2.0, alpha=None)'
"""

# isort: off
from .model import SITE_URL, Case, Kata, Mistake
from .registry import KATAS, LESSONS, by_lesson, get, lesson_group, names, register
from .engine import CaseResult, CheckReport, KataError, check, load_function, starter
from .engine import _first, _fresh, _one_thread, _structure  # noqa: F401 - for the tests
from . import catalogues  # noqa: F401 - importing it registers every kata
# isort: on

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
    "lesson_group",
    "load_function",
    "names",
    "register",
    "starter",
]

"""A module that is imported on first use, not where it is named.

``torch = lazy("torch")`` at the top of a module binds a stand-in: the first attribute read
(``torch.tensor``) imports torch and every read is passed through. The kata modules name torch
this way, so that `lossbook kata list`, `show` and `new`, which only print, start without it
(importing torch costs about 2 s of CPU); the test suite uses it for scipy and scikit-learn.
"""

from __future__ import annotations

import importlib


class lazy:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        if attr.startswith("_"):  # probes (pytest's `__wrapped__`...): no import for them
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"lazy({self._name!r})"

"""A module that is imported on first use, not where it is named.

``torch = lazy("torch")`` at the top of a module binds a stand-in: an attribute read
(``torch.tensor``) imports torch (once; later reads find it in ``sys.modules``) and passes the
read through. Names starting with ``_`` are refused without an import (test tools probe for
``__wrapped__`` and the like), so ``torch._C`` needs the real module. The kata modules name
torch, numpy, ``torch.nn.functional`` and the library modules they check against this way, so
that `lossbook kata list`, `show` and `new`, which only print, start without them (importing
torch costs about 2 s of CPU); the test suite names scipy and scikit-learn this way.
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

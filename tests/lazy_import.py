"""Heavy reference libraries imported on first use, not at collection.

Every test process (each xdist worker) collects every test file, so a module-level
``import scipy.stats`` or ``import sklearn.metrics`` costs each process 1-2 s even when it runs
none of the tests that use them. ``lazy("sklearn.metrics")`` stands for the module and imports
it at the first attribute read.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class lazy:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        if attr.startswith("_"):  # pytest probes every module-level object (`__wrapped__`...)
            raise AttributeError(attr)
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"lazy({self._name!r})"

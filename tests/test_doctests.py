"""The ``Example:`` sections of every public docstring run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest
import torch

import lossbook

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(lossbook.__path__, "lossbook.") if "._" not in name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    globs = {"torch": torch, **{n: getattr(module, n) for n in getattr(module, "__all__", [])}}
    for test in finder.find(module, name, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0

"""The ``Example:`` sections of every public docstring run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest
import torch

import lossbook

# walk_packages: the modules inside packages too (lossbook.patterns.losses...); a package's own
# DocTestFinder skips what its __init__ only re-exports.
MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(lossbook.__path__, "lossbook.") if "._" not in name
)


# lossbook.diffusion_toy's examples train the lesson's toy model (seconds of CPU, memoised per
# process): they run on the worker of the lesson's blocks, which trains it anyway.
SHARED_WORKER = {"lossbook.diffusion_toy": "docs/diffusion-for-simulation.md"}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.xdist_group(SHARED_WORKER[n])] if n in SHARED_WORKER else [])
    for n in MODULES
])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    # The public names of the module and, inside a package, of the package (what a reader
    # imports: `from lossbook.patterns import NLLLoss`).
    scopes = [module] if "." not in name[len("lossbook.") :] else [
        importlib.import_module(name.rsplit(".", 1)[0]), module
    ]
    globs = {"torch": torch}
    for scope in scopes:
        globs.update({n: getattr(scope, n) for n in getattr(scope, "__all__", [])})
    for test in finder.find(module, name, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0

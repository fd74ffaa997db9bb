"""Shared test set-up: headless plotting, one thread per xdist worker, seeded hypothesis, and one
strict site build shared by every test process.

The site build is the suite's longest single step. A full run (``make test``: pytest on its
testpaths) starts it in the background as soon as pytest is configured, so it overlaps with
collection and the tests that do not need it; the tests that read the site wait for it. Both
xdist workers share that one build (its folder is named by ``LOSSBOOK_SITE_RUN``, set before the
workers start), so the site tests need no worker of their own and spread over both. A run of a
few files builds the site on first use instead, under a lock, once for all workers.

In a new .venv (a fresh clone's: no module compiled yet) the workers collect one after the other
(``_first_collection_lock``), so that they do not both compile the modules they import. The run's
folder also holds the lesson's trained toy models (``LOSSBOOK_CACHE_DIR``, see
``lossbook.diffusion_toy``): the build's figures and the tests need the same ones, trained once.
"""

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
SITE_RUN = "LOSSBOOK_SITE_RUN"  # folder of this run's shared build: site/, build.log, rc, lock
FRESH = "LOSSBOOK_FRESH_VENV"  # set by the controller of a full run when torch has no bytecode yet


def _first_collection_lock():
    """In a full run in a new .venv (no module compiled yet: ``FRESH``), the file that makes the
    workers collect one after the other, held by this one until its collection ends; None
    otherwise. Both workers would otherwise compile the same modules at the same moment (torch
    alone: about 800); the second collects from the first one's bytecode while the site build,
    started before the workers, keeps the other core busy."""
    if not os.environ.get(FRESH) or SITE_RUN not in os.environ:
        return None
    lock = open(Path(os.environ[SITE_RUN]) / "collection.lock", "w")  # noqa: SIM115 - held until collected
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


_collecting_first = None
if os.environ.get("PYTEST_XDIST_WORKER"):
    _collecting_first = _first_collection_lock()
    import torch  # not in the controller, which runs no test (3 s of its start-up)

    torch.set_num_threads(1)  # two workers on two cores: no oversubscription

settings.register_profile("lossbook", deadline=None, derandomize=True, max_examples=60)
settings.load_profile("lossbook")

MODELS = "LOSSBOOK_CACHE_DIR"  # the toy models trained in this run (lossbook.diffusion_toy)
BUILD_TIMEOUT = 600


def _build_command(site: Path, log: Path, rc: Path) -> list[str]:
    """`mkdocs build --strict` into ``site``, its log to ``log``, its exit status written to ``rc``
    last (atomically: a reader never sees a half-written status)."""
    build = subprocess.list2cmdline([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)])
    return ["/bin/sh", "-c", f'{build} > "{log}" 2>&1; echo $? > "{rc}.tmp" && mv "{rc}.tmp" "{rc}"']


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller set the run folder up
    run = Path(tempfile.mkdtemp(prefix="lossbook-site-"))
    os.environ[SITE_RUN] = str(run)
    os.environ[MODELS] = str(run / "models")
    config._lossbook_site_run = run
    full_run = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    if full_run and not config.option.collectonly:
        torch = importlib.util.find_spec("torch")  # before any process of this run imports it
        if not sys.dont_write_bytecode and torch is not None and not os.path.exists(
                importlib.util.cache_from_source(torch.origin)):
            os.environ[FRESH] = "1"
        (run / "started").touch()
        config._lossbook_site_build = subprocess.Popen(
            _build_command(run / "site", run / "build.log", run / "rc"), cwd=ROOT)


def pytest_unconfigure(config):
    build = getattr(config, "_lossbook_site_build", None)
    if build is not None and build.poll() is None:
        build.kill()
        build.wait()
    run = getattr(config, "_lossbook_site_run", None)
    if run is not None:
        os.environ.pop(SITE_RUN, None)
        os.environ.pop(MODELS, None)
        os.environ.pop(FRESH, None)
        shutil.rmtree(run, ignore_errors=True)


def pytest_collection_finish(session):
    if _collecting_first is not None:
        _collecting_first.close()  # the other worker may collect now


@pytest.fixture(scope="session")
def built_site():
    """The site built once per test run with ``mkdocs build --strict``, shared by every worker:
    (folder, build log)."""
    run = Path(os.environ[SITE_RUN])
    rc = run / "rc"
    if not (run / "started").exists():
        with open(run / "lock", "w") as lock:  # the first worker to get here builds; others wait
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not rc.exists():
                subprocess.run(_build_command(run / "site", run / "build.log", rc), cwd=ROOT,
                               timeout=BUILD_TIMEOUT, check=False)
    deadline = time.monotonic() + BUILD_TIMEOUT
    while not rc.exists():
        assert time.monotonic() < deadline, f"the site build did not finish in {BUILD_TIMEOUT} s"
        time.sleep(0.2)
    log = (run / "build.log").read_text(encoding="utf-8")
    assert rc.read_text().strip() == "0", f"mkdocs build --strict failed:\n{log}"
    return run / "site", log


@pytest.fixture(autouse=True, scope="session")
def _screenshots_only_on_request():
    """Full-page screenshots are for people to look at, and no test reads them: they cost about
    4 s a page, so `make test` skips them; LOSSBOOK_SCREENSHOTS=1 writes them to artifacts/."""
    if os.environ.get("LOSSBOOK_SCREENSHOTS"):
        yield
        return
    try:
        from playwright.sync_api import Page
    except ImportError:
        yield
        return
    original = Page.screenshot
    Page.screenshot = lambda self, *args, **kwargs: b""
    yield
    Page.screenshot = original


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make `--dist loadgroup` honour `xdist_group` marks under pytest 9.2.

    pytest-xdist 3.8.0 tags a grouped test by appending ``@group`` to ``item._nodeid``; pytest 9.2
    reads a node's id from ``item._id`` (a NodeId), so the tag is lost and every grouped test is
    scheduled on its own (a page's blocks, the DDP demo and its tests, the toy-model tests: on
    both workers, each paying the shared set-up again). Same tag, on the attribute read now.
    Workers only (xdist sets ``loadgroup`` there); a no-op once xdist's own tag shows."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")

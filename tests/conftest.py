"""Shared test set-up: headless plotting, one thread per xdist worker, seeded hypothesis."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two workers on two cores: no oversubscription

settings.register_profile("lossbook", deadline=None, derandomize=True, max_examples=60)
settings.load_profile("lossbook")


import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site built once per test session with ``mkdocs build --strict``: (folder, log)."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return site, log


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test that reads the built site runs in the "site" group, so one worker builds it once
    (a session fixture is per worker: a second worker would build the whole site again)."""
    for item in items:
        if "built_site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("site"))


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

"""No code block on the site may silently escape the docs tests."""

import pytest

from docs_pages import DISPLAY_ONLY, RUNNABLE, collect, expand, fences, pages, relative
from docs_pages import FENCE


@pytest.mark.parametrize("page", pages(), ids=relative)
def test_every_fence_runs_or_is_display_only(page):
    bad = []
    for line, fence, info in fences(page):
        if fence.startswith("~"):
            bad.append(f"{relative(page)}:{line}: '~~~' fence (use backticks)")
        elif info not in RUNNABLE + DISPLAY_ONLY:
            bad.append(
                f"{relative(page)}:{line}: fence info {info!r} would not run; use exactly one of"
                f" {RUNNABLE} or, for display only, {DISPLAY_ONLY}"
            )
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("page", pages(), ids=relative)
def test_collector_sees_every_runnable_fence(page):
    """The number of runnable fences a reader sees equals what the collector runs (+ `cont`)."""
    expanded = expand(page.read_text(encoding="utf-8"))
    shown = 0
    open_fence = None
    for line in expanded.split("\n"):
        match = FENCE.match(line)
        if not match:
            continue
        if open_fence is None:
            open_fence = match["fence"]
            shown += match["info"].strip() in RUNNABLE
        elif match["fence"] == open_fence and not match["info"].strip():
            open_fence = None
    continued = expanded.count("pytest-codeblocks:cont")
    assert shown == len(collect(page)) + continued

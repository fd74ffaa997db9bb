"""No code block on the site may silently escape the docs tests."""

import pytest

from docs_pages import DISPLAY_ONLY, RUNNABLE, collect, expand, fences, pages, relative
from docs_pages import FENCE

# Fences a build hook renders (docs/hooks/quiz.py: self-check questions and mock-interview
# prompts, YAML inside): shown as widgets, never run as code, validated by the strict build.
RENDERED_BY_HOOK = ("quiz", "prompt")


@pytest.mark.parametrize("page", pages(), ids=relative)
def test_every_fence_runs_or_is_display_only(page):
    bad = []
    for line, fence, info in fences(page):
        if fence.startswith("~"):
            bad.append(f"{relative(page)}:{line}: '~~~' fence (use backticks)")
        elif info not in RUNNABLE + DISPLAY_ONLY + RENDERED_BY_HOOK:
            bad.append(
                f"{relative(page)}:{line}: fence info {info!r} would not run; use exactly one of"
                f" {RUNNABLE} or, for display only, {DISPLAY_ONLY}, or a block a hook renders,"
                f" {RENDERED_BY_HOOK}"
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


@pytest.mark.parametrize("page", [p for p in pages() if "```quiz" in p.read_text(encoding="utf-8")
                                  or "```prompt" in p.read_text(encoding="utf-8")], ids=relative)
def test_hook_rendered_fences_are_never_run(page):
    """A quiz or prompt block holds YAML for the hook: the docs tests must not run it as code."""
    hooked = [line for line, _, info in fences(page) if info in RENDERED_BY_HOOK]
    assert hooked
    collected = {block.page_line for block in collect(page)}
    assert not collected & set(hooked), f"{relative(page)}: the collector runs hook blocks at {collected & set(hooked)}"

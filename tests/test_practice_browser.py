"""Practice on the site, in real Chromium: quizzes, the review queue, progress, the mock interview.

Reuses the browser suite's server, browser and tab fixtures (tests/test_browser.py; one of each
per test process, shared with that module): every tab fails the test on a console error, an
uncaught exception or a request to another host. Tests that need only empty storage share the
warm tab (its storage is cleared before each test);
those that install Playwright's clock (``page.clock``, so the scheduler and the timer are tested
at chosen times) or need a phone get a context of their own, as the clock cannot be taken out
again. Screenshots (light and dark, 1280 and 390 px) go to ``artifacts/screenshots/practice/``
when LOSSBOOK_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from test_browser import (  # noqa: F401 - fixtures
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    base_url,
    built_h1,
    browser,
    no_search,
    shared_tab,
    tab,
    visit,
)


SHOTS = SCREENSHOTS / "practice"
T0 = 1_800_000_000_000  # ms since the epoch: 2027-01-15 (Playwright's clock takes seconds: T0 / 1000)
MINUTE = 60_000
DAY = 24 * 60 * MINUTE
STORE = "lossbook.progress"


@pytest.fixture(scope="module")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def _dark(page):
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")


def _feedback(quiz):
    box = quiz.locator(".lb-quiz__feedback")
    assert box.get_attribute("aria-live") == "polite" and box.get_attribute("role") == "status"
    return box.inner_text()


def test_quiz_answers_right_and_wrong_with_the_keyboard(tab, shots):
    page = tab.goto("custom-losses/")
    first = page.locator("#quiz-1")
    options = first.locator(".lb-quiz__option")
    assert options.count() == 3
    options.nth(1).focus()  # Tab reaches every option: each is a button
    assert page.evaluate("() => document.activeElement.classList.contains('lb-quiz__option')")
    page.keyboard.press("Enter")
    said = _feedback(first)
    assert said.startswith("\u2717 Not quite. B:") and "reduction=\"none\"" in said, said
    assert first.locator(".lb-quiz__feedback a[href$='#weighted-cross-entropy']").count() == 1, "links the section"
    outline = options.nth(1).evaluate("(b) => getComputedStyle(b).outlineStyle")
    assert outline != "none", "the focused option shows no focus ring"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert _feedback(first).startswith("\u2713 Right."), "option A is the key"
    assert options.nth(0).get_attribute("data-state") == "right"

    numeric = page.locator("#quiz-3")  # the modulating factor at p_t = 0.9, gamma = 2
    field = numeric.locator("input")
    field.fill("0.1")
    field.press("Enter")
    assert "the factor for" in _feedback(numeric) and "Not quite" in _feedback(numeric)  # a recognised mistake
    field.fill("0.37")
    field.press("Enter")
    assert "is not within" in _feedback(numeric) and numeric.locator(".lb-quiz__feedback a").count() == 1
    field.fill("one tenth")
    field.press("Enter")
    assert "Type a number" in _feedback(numeric)
    field.fill(numeric.get_attribute("data-shown"))
    field.press("Enter")
    assert _feedback(numeric).startswith("\u2713 Right.")
    field.fill("1 %")  # 1 % = 0.01
    field.press("Enter")
    assert _feedback(numeric).startswith("\u2713 Right.")
    numeric.scroll_into_view_if_needed()
    page.screenshot(path=shots / "quiz-desktop-light.png")
    _dark(page)
    page.screenshot(path=shots / "quiz-desktop-dark.png")
    check_verdict_contrast(page)
    tab.assert_clean("quiz")


def _luminance(rgb: str) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def check_verdict_contrast(page):
    """The verdict colours reach 4.5:1 on the page background, in light and in dark."""
    for scheme in ("default", "slate"):
        page.evaluate("(s) => document.body.setAttribute('data-md-color-scheme', s)", scheme)
        found = page.evaluate("""() => {
          const probe = document.createElement('span');
          document.querySelector('.lb-quiz').appendChild(probe);
          const out = {};
          for (const name of ['--lb-right', '--lb-wrong']) {
            probe.style.color = `var(${name})`;
            out[name] = getComputedStyle(probe).color;
          }
          out.bg = getComputedStyle(document.body).backgroundColor;
          probe.remove();
          return out;
        }""")
        bg = _luminance(found["bg"])
        for name in ("--lb-right", "--lb-wrong"):
            fg = _luminance(found[name])
            ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
            assert ratio >= 4.5, f"{scheme}: {name} {found[name]} on {found['bg']} has contrast {ratio:.2f}"


# Times review.js's set-up: wraps the function it subscribes to the theme's document$ (the one
# subscribed while review.js runs) so each call is measured as "lossbook-review-setup".
TIME_REVIEW_SETUP = """(() => {
  let subject;
  Object.defineProperty(window, 'document$', {configurable: true, get: () => subject, set: (value) => {
    subject = value;
    const subscribe = value.subscribe.bind(value);
    value.subscribe = (next, ...rest) => {
      const script = document.currentScript ? document.currentScript.src : '';
      if (typeof next !== 'function' || !script.endsWith('/assets/review.js')) return subscribe(next, ...rest);
      return subscribe((...args) => {
        const start = performance.now();
        try { return next(...args); } finally { performance.measure('lossbook-review-setup', {start, end: performance.now()}); }
      }, ...rest);
    };
  }});
})();"""

# What a page's load grows with: its elements (parsed, styled) and those it renders (laid out and
# painted; checkVisibility() is false inside a closed fold, whose content the browser skips).
WEIGHT_JS = """() => {
  const all = [...document.querySelectorAll('body *')];
  return {elements: all.length, rendered: all.filter((e) => e.checkVisibility()).length};
}"""
MAX_REVIEW_SETUP_MS = 100  # about 2-5 ms on an idle 2-core machine


def check_review_page_weight(page, lesson: dict):
    """The Review page holds every card. Its cost is bounded without racing two page loads on a
    busy machine: its script's set-up (review.js's document$ subscriber, timed in the page by
    TIME_REVIEW_SETUP) takes under 100 ms, and the page has no more elements, nor renders more,
    than the Custom losses lesson (``lesson``: its WEIGHT_JS, as loaded in the same tab; the cards
    fold: their answers are not rendered until opened)."""
    assert page.evaluate("() => document.querySelector('#lb-review-app').dataset.ready") == "1"
    setups = page.evaluate("() => performance.getEntriesByName('lossbook-review-setup').map((m) => m.duration)")
    assert len(setups) == 1, f"review.js's set-up ran {len(setups)} times on one load (timed: {setups})"
    assert setups[0] < MAX_REVIEW_SETUP_MS, f"the Review page's script takes {setups[0]:.0f} ms to set up"
    review = page.evaluate(WEIGHT_JS)
    heavier = {k: f"{review[k]} > {lesson[k]}" for k in review if review[k] > lesson[k]}
    assert not heavier, f"the Review page is heavier than the Custom losses lesson (elements: {heavier})"


def _expected_queue(cards: list[str], states: dict, now: int) -> list[str]:
    """The Leitner queue as the Review page documents it, written independently of review.js."""
    due = [c for c in cards if c in states and states[c]["due"] <= now]
    due.sort(key=lambda c: (states[c]["due"], states[c]["box"], cards.index(c)))
    return due + [c for c in cards if c not in states]


def _state(page) -> dict:
    return json.loads(page.evaluate(f"() => localStorage.getItem('{STORE}') || '{{}}'"))


def test_review_queue_follows_the_scheduler(visit, shots):
    tab = visit(size=DESKTOP)
    page = tab.page
    page.clock.set_fixed_time(T0 / 1000)  # Date.now() is T0 until set again
    tab.goto("review/")  # a new context: no progress stored
    assert _state(page) == {}
    page.wait_for_function("() => window.LossbookReview")
    cards = page.evaluate("() => [...document.querySelectorAll('#lb-review-cards .lb-card')].map((c) => c.dataset.card)")
    assert len(cards) > 50 and page.evaluate("() => LossbookReview.queue()") == cards, "new cards come in site order"
    stage = page.locator(".lb-review__card")

    def answer(got: bool) -> str:
        shown = stage.get_attribute("data-card")
        page.get_by_role("button", name="Show the answer").click()
        assert stage.locator(".lb-review__answer").inner_text().strip(), "the answer is shown"
        page.locator(f"[data-action={'got' if got else 'missed'}]").click()
        return shown

    a = answer(False)  # missed: box 1, due in 10 minutes
    b = answer(True)  # got it: box 1, due in 1 day
    c = answer(True)
    assert (a, b, c) == tuple(cards[:3])
    states = _state(page)["review"]
    assert states[a] == {"box": 1, "due": T0 + 10 * MINUTE, "reviews": 1, "lapses": 1}
    assert states[b] == {"box": 1, "due": T0 + DAY, "reviews": 1, "lapses": 0}
    for now in (T0, T0 + 11 * MINUTE, T0 + DAY + MINUTE):
        page.clock.set_fixed_time(now / 1000)
        queue = page.evaluate(f"() => LossbookReview.queue({now})")
        assert queue == _expected_queue(cards, _state(page)["review"], now)
    assert page.evaluate(f"() => LossbookReview.queue({T0 + 11 * MINUTE})")[0] == a, "the missed card comes back first"
    queue = page.evaluate(f"() => LossbookReview.queue({T0 + DAY + MINUTE})")
    assert queue[:3] == [a, b, c], "due cards first, the earliest due first"

    page.clock.set_fixed_time((T0 + DAY + MINUTE) / 1000)
    page.evaluate("() => LossbookReview.show()")
    assert stage.get_attribute("data-card") == a
    assert answer(True) == a  # box 2: next in 2 days
    assert _state(page)["review"][a]["box"] == 2
    assert _state(page)["review"][a]["due"] == T0 + DAY + MINUTE + 2 * DAY

    # Filters: a lesson and a difficulty narrow the queue.
    page.select_option("#lb-review-difficulty", "medium")
    chosen = page.evaluate("() => LossbookReview.queue()")
    levels = page.evaluate("""(ids) => ids.map((id) => document.querySelector(
        `#lb-review-cards .lb-card[data-card="${CSS.escape(id)}"]`).dataset.difficulty)""", chosen)
    assert chosen and set(levels) == {"medium"}
    page.select_option("#lb-review-difficulty", "")
    page.screenshot(path=shots / "review-desktop-light.png")
    tab.assert_clean("review queue")


def _follow(tab, site, url: str):
    """Follow a link to ``url`` (instant loading, as a reader moves on: the scripts set the page
    up again without a reload)."""
    return tab.follow(url, built_h1((site / url / "index.html").read_text(encoding="utf-8")))


def test_progress_survives_reload_and_export_clear_import_restores_it(tab, tmp_path, built_site):
    page = tab.goto("")  # the tab's storage is empty (Visit.fresh)
    assert _state(page) == {}
    boxes = page.locator(".lb-plan-task__box")
    assert boxes.count() >= 20, "the one-week plan's tasks can be ticked"
    boxes.nth(0).focus()
    page.keyboard.press("Space")
    boxes.nth(1).check()
    summary = page.locator("#lb-plan-progress")
    assert re.search(r"2 of \d+ tasks done", summary.inner_text())
    page.reload()
    page.wait_for_selector(".lb-plan-task__box")
    assert boxes.nth(0).is_checked() and boxes.nth(1).is_checked() and not boxes.nth(2).is_checked()
    assert "You are on Day 1" in summary.inner_text()

    _follow(tab, built_site[0], "review/")
    page.get_by_role("button", name="Show the answer").click()
    page.locator("[data-action=got]").click()
    before = _state(page)
    assert len(before["review"]) == 1 and len(before["plan"]) == 2
    with page.expect_download() as download:
        page.locator("[data-action=export]").click()
    saved = tmp_path / "progress.json"
    download.value.save_as(saved)
    exported = json.loads(saved.read_text())
    assert exported["review"] == before["review"] and exported["plan"] == before["plan"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-action=clear]").click()
    assert _state(page) == {}
    status = page.locator(".lb-progress-tools__status")

    def import_file(name: str, text: str):
        path = tmp_path / name
        path.write_text(text)
        # emptied first: the wait below is for this import's message, not the one before it
        page.evaluate("() => { document.querySelector('.lb-progress-tools__status').textContent = '' }")
        page.locator(".lb-progress-tools__file").set_input_files(str(path))
        page.wait_for_function("() => document.querySelector('.lb-progress-tools__status').textContent")

    import_file("progress.json", saved.read_text())
    assert status.inner_text().startswith("Imported")
    after = _state(page)
    assert after["review"] == before["review"] and after["plan"] == before["plan"]

    refused = {
        "not-json.json": "{\"format\": \"lossbook-progress\", ",
        "foreign.json": json.dumps({"cards": [1, 2, 3]}),
        "bad-box.json": json.dumps({**exported, "review": {k: {**v, "box": 9} for k, v in exported["review"].items()}}),
        "bad-plan.json": json.dumps({**exported, "plan": {"day-1-metrics:0": "<img src=x onerror=alert(1)>"}}),
    }
    for name, text in refused.items():
        import_file(name, text)
        assert status.inner_text().startswith("Not imported."), f"{name}: {status.inner_text()}"
        assert _state(page) == after, f"{name}: the stored progress changed"

    extra = {**exported, "theme": "dark", "__proto__": {"polluted": True},
             "review": {k: {**v, "note": "x"} for k, v in exported["review"].items()}}
    import_file("extra.json", json.dumps(extra))
    stored = _state(page)
    assert stored["review"] == before["review"] and "theme" not in stored, "unknown keys are dropped"
    assert page.evaluate("() => ({}).polluted") is None
    _follow(tab, built_site[0], "")
    assert boxes.nth(0).is_checked(), "the imported plan shows on the home page"
    tab.assert_clean("progress")


def test_mock_interview_timer_runs_and_pauses(visit, shots):
    tab = visit(size=DESKTOP)
    page = tab.page
    page.clock.install(time=T0 / 1000)
    tab.goto("mock-interview/")
    sizes = page.evaluate("() => LossbookMock.bank()")
    assert sum(sizes.values()) >= 30 and min(sizes.values()) >= 5, sizes
    timer = page.locator(".lb-mock__timer")
    page.locator("[data-action=start]").click()
    state = page.evaluate("() => LossbookMock.state()")
    assert state["running"] and state["part"] == "theory" and state["prompt"]
    page.clock.run_for(60_000)
    assert "14:00 left in this part" in timer.inner_text(), timer.inner_text()
    page.locator("[data-action=pause]").click()
    page.clock.run_for(5 * MINUTE)
    assert "14:00 left in this part" in timer.inner_text() and "paused" in timer.inner_text()
    page.locator("[data-action=pause]").click()  # resume
    page.clock.run_for(14 * MINUTE + 30_000)
    state = page.evaluate("() => LossbookMock.state()")
    assert state["part"] == "judgement" and "Part 2 of 3" in timer.inner_text()
    prompt = page.locator(".lb-mock__prompt")
    assert prompt.locator(".lb-prompt").get_attribute("data-part") == "judgement"
    rubric = prompt.locator("details")
    assert not rubric.evaluate("(d) => d.open"), "the rubric stays folded until asked for"
    rubric.locator("summary").click()
    assert rubric.evaluate("(d) => d.open")
    page.locator("[data-action=skip]").click()
    assert page.evaluate("() => LossbookMock.state()")["part"] == "code"
    assert "lossbook kata check" in prompt.inner_text()
    page.screenshot(path=shots / "mock-desktop-light.png")
    page.clock.run_for(16 * MINUTE)
    assert "45 minutes are up" in timer.inner_text()
    tab.assert_clean("mock interview")


def test_phone_viewport(visit, shots):
    """390 x 844: the quiz, the review queue and the mock interview fit and work. On the way, as
    each page arrives, the Review page's load is bounded by the lesson's (check_review_page_weight:
    both measured in this phone tab, where the lesson's table of contents is folded away as the
    Review page's is; the timing wrapper only times, passing every call through)."""
    tab = visit(size=PHONE, mobile=True)
    tab.page.add_init_script(TIME_REVIEW_SETUP)
    for url in ("custom-losses/", "review/", "mock-interview/"):
        page = tab.goto(url)
        if url == "custom-losses/":
            lesson = page.evaluate(WEIGHT_JS)
        if url == "review/":
            check_review_page_weight(page, lesson)
            page.get_by_role("button", name="Show the answer").click()
            page.locator("#lb-review-app").scroll_into_view_if_needed()
        elif url == "mock-interview/":
            page.locator("[data-action=start]").click()
            page.locator("#lb-mock-app").scroll_into_view_if_needed()
        else:
            page.locator("#quiz-1 .lb-quiz__option").first.tap()
            assert page.locator("#quiz-1 .lb-quiz__feedback").inner_text().startswith("\u2713 Right.")
            page.locator("#quiz-1").scroll_into_view_if_needed()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url}: {overflow}px wider than a 390px phone"
        name = url.strip("/")
        page.screenshot(path=shots / f"{name}-phone-light.png")
        if os.environ.get("LOSSBOOK_SCREENSHOTS"):  # the dark scheme only for the screenshot
            _dark(page)
            page.screenshot(path=shots / f"{name}-phone-dark.png")
            page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'default')")
    tab.assert_clean("phone")

"""The registry of katas: registering one, finding one by name, grouping them by lesson."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from .model import Kata

__all__ = [
    "KATAS",
    "LESSONS",
    "by_lesson",
    "get",
    "lesson_group",
    "names",
    "register",
]


KATAS: dict[str, Kata] = {}

#: Lesson pages in the study plan's order, with the name `lossbook kata list` groups them under.
LESSONS = {
    "metrics.md": "Metrics",
    "detection-metrics.md": "Detection metrics",
    "calibration.md": "Calibration",
    "custom-losses.md": "Custom losses",
    "diffusion-basics.md": "Diffusion basics",
    "diffusion-sampling.md": "Sampling and loss weighting",
    "simulation-metrics.md": "Simulation metrics",
    "debugging.md": "Debugging",
    "llm-losses.md": "Losses for language models",
    "rl-for-llms.md": "RL for LLMs",
    "glossary/": "Loss glossary",
}


def lesson_group(kata: Kata) -> str:
    """The lesson a kata belongs to, as `lossbook kata list` shows it."""
    page = kata.lesson.partition("#")[0]
    for prefix, title in LESSONS.items():
        if page == prefix or (prefix.endswith("/") and page.startswith(prefix)):
            return title
    return "Other"


def by_lesson() -> dict[str, list[Kata]]:
    """The katas grouped by lesson, in the study plan's order."""
    order = [*LESSONS.values(), "Other"]
    groups: dict[str, list[Kata]] = {title: [] for title in order}
    for kata in KATAS.values():
        groups[lesson_group(kata)].append(kata)
    return {title: katas for title, katas in groups.items() if katas}


def register(kata: Kata) -> Kata:
    """Add ``kata`` to the registry (a catalogue module calls it at import); names are unique."""
    if kata.name in KATAS:
        raise ValueError(f"two katas are named {kata.name!r}")
    KATAS[kata.name] = kata
    return kata


def get(name: str) -> Kata:
    """The kata called ``name``; a ``KeyError`` suggests the closest names."""
    if name in KATAS:
        return KATAS[name]
    close = difflib.get_close_matches(name, list(KATAS), n=3, cutoff=0.5)
    maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(
        f"there is no kata named {name!r}.{maybe} `lossbook kata list` shows all of them."
    )


def names() -> Sequence[str]:
    """The kata names in the order `lossbook kata list` shows them."""
    return list(KATAS)

"""Griffe extension: a Google-style ``Example:`` section is read as ``Examples:``.

Lossbook's docstrings (CONTRIBUTING.md) end with an ``Example:`` section of ``>>>`` lines. Griffe's
Google parser knows ``Examples:`` as the section whose doctests it splits into code and output;
``Example:`` (singular) is not a section name to it, so it becomes an admonition whose body is
rendered as Markdown, where ``>>>`` is three nested blockquotes and the lines run together into
one paragraph. This extension renames the section header before griffe parses the docstring,
so mkdocstrings-python renders every example as a highlighted ``pycon`` block: code and output.

Loaded by mkdocstrings (``mkdocs.yml``: ``handlers.python.options.extensions``). The docstrings
themselves stay as they are: the doctests read them unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# A line holding only "Example:" at any indentation: the section header, not prose mentioning it.
HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)


def rename_example_sections(text: str) -> str:
    return HEADER.sub(r"\g<indent>Examples:", text)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` in every docstring as griffe loads it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rename_example_sections(obj.docstring.value)

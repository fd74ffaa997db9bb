"""The data model of a kata: the task, its cases and the common mistakes it recognises."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "SITE_URL",
    "Case",
    "Kata",
    "Mistake",
]


SITE_URL = "https://lossbook.github.io/lossbook/"


@dataclass(frozen=True)
class Case:
    """One check: the arguments (in signature order) and what is compared.

    Attributes:
        name: what the case exercises, e.g. ``"extreme logits (+-200)"``.
        args: the positional arguments, in the order of the kata's signature.
        grad: names of the arguments whose gradients are compared (empty: values only).
        hint: what usually goes wrong in this case; shown when it fails.
    """

    name: str
    args: tuple
    grad: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer, recognised when the reader's output equals ``compute(*args)``."""

    message: str
    compute: Callable[..., object]


@dataclass(frozen=True)
class Kata:
    """An interview task checked against a library function.

    Attributes:
        name: the kata's name on the command line.
        title: one line.
        signature: what the reader writes, e.g. ``"focal_loss(logits, target, gamma=2.0)"``.
        returns: what the function returns.
        task: the task, as an interviewer would state it.
        shapes: one line per argument and for the output.
        hint: the idea that unlocks it, without the answer.
        library: the library function that computes the expected values.
        reference: calls ``library`` with the kata's signature.
        cases: builds the seeded cases.
        lesson: the lesson section that teaches it, ``page.md#anchor``.
        mistakes: common wrong answers, recognised by their output.
        imports: the imports of the starter file.
        numpy: whether `--numpy` applies (NumPy arrays in, arrays or numbers out).
        rtol, atol: the tolerance of every comparison.
    """

    name: str
    title: str
    signature: str
    returns: str
    task: str
    shapes: tuple[str, ...]
    hint: str
    library: str
    reference: Callable[..., object]
    cases: Callable[[], list[Case]]
    lesson: str
    mistakes: tuple[Mistake, ...] = ()
    imports: str = "import torch\nimport torch.nn.functional as F"
    numpy: bool = True
    rtol: float = 1e-4
    atol: float = 1e-5

    @property
    def function(self) -> str:
        """The name of the function the reader defines."""
        return self.signature.split("(", 1)[0]

    @property
    def numpy_function(self) -> str:
        """The name of the NumPy version, as the lessons' NumPy tabs call it (``focal_loss_np``)."""
        return self.function + "_np"

    @property
    def params(self) -> list[str]:
        """The argument names of the signature, in order."""
        tree = ast.parse(f"def {self.signature}: pass")
        return [a.arg for a in tree.body[0].args.args]

    @property
    def lesson_url(self) -> str:
        page, _, anchor = self.lesson.partition("#")
        path = page.removesuffix(".md")
        path = path.removesuffix("index") if path.endswith("index") else path + "/"
        return SITE_URL + path + (f"#{anchor}" if anchor else "")

    def describe(self) -> str:
        """The task as ``lossbook kata show`` prints it: no answer, just what to build."""
        lines = [f"{self.name}: {self.title}", "", f"Write:   def {self.signature}"]
        lines += [f"Returns: {self.returns}", ""]
        lines += textwrap.wrap(self.task, 96) + ["", "Shapes:"]
        lines += [f"  {s}" for s in self.shapes]
        lines += ["", "Hint:"] + textwrap.wrap(self.hint, 94, initial_indent="  ", subsequent_indent="  ")
        lines += ["", f"Checked against: {self.library}"]
        if self.lesson:
            lines.append(f"Lesson: {self.lesson_url}")
        return "\n".join(lines)

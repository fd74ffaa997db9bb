"""Sample inputs for the meta-device run of every torch interview snippet function on the site,
and the public names that are not functions of tensors."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_INCLUDE = re.compile(r'--8<-- "snippets/([\w.]+):([\w-]+)"')


def site_snippet_functions() -> list[str]:
    """``"file.py:function"`` for every function defined in a torch snippet section that a page
    includes (NumPy sections run no tensor code, so they are left out)."""
    found = set()
    for page in (ROOT / "docs").rglob("*.md"):
        for path, section in _INCLUDE.findall(page.read_text()):
            text = (ROOT / "snippets" / path).read_text()
            body = text.split(f"# --8<-- [start:{section}]")[1].split(f"# --8<-- [end:{section}]")[0]
            if "import torch" in body:
                found.update(f"{path}:{name}" for name in re.findall(r"^def (\w+)\(", body, re.MULTILINE))
    return sorted(found)


# Public names of ``lossbook`` that are not functions of tensors, and why they have no entry.
NOT_FUNCTIONS = {
    "debug_mode": "a context manager switching the opt-in NaN checks; tested in test_classification",
    "is_debug": "reads the debug switch",
    "set_debug": "sets the debug switch (a bool)",
    "WOSAC_2025_WEIGHTS": "a constant (the challenge's weights)",
}

# "file.py:function" -> inputs (``g`` -> S) for the meta-device run.
SNIPPETS: dict = {}


# snippets/policy_gradient.py (docs/rl-for-llms.md)
def _pg_samples() -> dict:
    import torch

    from opinfo import S, randn

    return {
        "policy_gradient.py:kl_estimators": lambda g: S(randn(g, 2, 3), randn(g, 2, 3)),
        "policy_gradient.py:rloo_advantages": lambda g: S(randn(g, 6), 3),
        "policy_gradient.py:ppo_value_loss": lambda g: S(randn(g, 4), randn(g, 4), randn(g, 4)),
        "policy_gradient.py:simpo_loss": lambda g: S(randn(g, 3), randn(g, 3),
                                                     torch.tensor([4, 5, 6]), torch.tensor([7, 8, 9])),
        "policy_gradient.py:iql_expectile_loss": lambda g: S(randn(g, 4), randn(g, 4)),
    }


SNIPPETS.update(_pg_samples())

"""Mutating any snippet section a page includes makes a block of that page fail.

For every ``--8<-- "file.py:section"`` on every page, the section's functions are changed to
return 1.1 times their result (the first element of a tuple), the page is expanded against the
mutated copy, and the blocks whose code changed are run: at least one must fail. A page that
shows a snippet but never checks what it computes fails this test.
"""

import ast
from dataclasses import replace

import pytest
from docs_pages import (
    INCLUDE,
    ROOT,
    BlockFailure,
    collect,
    collect_code,
    pages,
    relative,
    run_block,
)

pytestmark = pytest.mark.filterwarnings("ignore")


class ScaleReturns(ast.NodeTransformer):
    def __init__(self):
        self.changed = 0

    def visit_FunctionDef(self, node):
        for child in ast.walk(node):
            if isinstance(child, ast.Return) and child.value is not None:
                target = child.value
                if isinstance(target, ast.Tuple) and target.elts:
                    target.elts[0] = self.scaled(target.elts[0])
                else:
                    child.value = self.scaled(target)
        return node

    def scaled(self, expr):
        self.changed += 1
        return ast.BinOp(left=expr, op=ast.Mult(), right=ast.Constant(1.1))


def section_bounds(lines, section):
    start = next(i for i, l in enumerate(lines) if l.strip() == f"# --8<-- [start:{section}]")
    end = next(i for i, l in enumerate(lines) if l.strip() == f"# --8<-- [end:{section}]")
    return start, end


def includes():
    seen = set()
    for page in pages():
        for path, section in INCLUDE.findall(page.read_text(encoding="utf-8")):
            if (page, path, section) not in seen:
                seen.add((page, path, section))
                yield pytest.param(page, path, section, id=f"{relative(page)}-{path}:{section}")


@pytest.mark.parametrize("page,path,section", list(includes()))
def test_mutated_snippet_fails_its_page(page, path, section, tmp_path):
    # The other snippet files are links to the real ones; the mutated one is a copy.
    (tmp_path / "snippets").mkdir()
    for snippet in (ROOT / "snippets").iterdir():
        (tmp_path / "snippets" / snippet.name).symlink_to(snippet)
    target = tmp_path / path
    target.unlink()
    lines = (ROOT / path).read_text(encoding="utf-8").split("\n")
    start, end = section_bounds(lines, section)
    tree = ast.parse("\n".join(lines[start + 1 : end]))
    mutator = ScaleReturns()
    tree = ast.fix_missing_locations(mutator.visit(tree))
    assert mutator.changed, f"{path}:{section} has no function with a return value to mutate"
    lines[start + 1 : end] = ast.unparse(tree).split("\n")
    target.write_text("\n".join(lines), encoding="utf-8")

    # Only the section's text changed, so the fences, and the blocks' order, are the page's own.
    original = collect(page)
    changed = collect_code(page, base=tmp_path)
    assert len(changed) == len(original), f"{relative(page)}: the mutation changed the blocks found"
    mutated = [replace(b, page_line=o.page_line, code_lines=o.code_lines)
               for o, b in zip(original, changed, strict=True) if o.code != b.code]
    assert mutated, f"no block of {relative(page)} includes {path}:{section}"
    for block in mutated:
        try:
            run_block(block)
        except BlockFailure:
            return
    pytest.fail(
        f"{path}:{section} was mutated (returns x1.1) and every block of {relative(page)} that"
        f" includes it still passed: the page shows the snippet without checking its result"
    )

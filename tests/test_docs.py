"""Every runnable block of every page, run as the reader sees it (snippets expanded).

Test ids are ``docs/<page>.md:<line of the opening fence>``; a failure also names the page line
of the statement that raised.
"""

import pytest

from docs_pages import BlockFailure, collect, pages, run_block


def _params():
    for page in pages():
        for block in collect(page):
            marks = [eval(mark, {"pytest": pytest}) for mark in block.marks]  # noqa: S307
            # A page's blocks share one worker: what one block trains or imports, the next reuses.
            marks.append(pytest.mark.xdist_group(block.page))
            yield pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
def test_block(block):
    failure = None
    try:
        run_block(block)
    except BlockFailure as error:
        failure = str(error)
    if failure:
        pytest.fail(failure, pytrace=False)

"""Data parallel for real: 2 processes, torch.distributed with gloo on 127.0.0.1, DDP.

The gradient after DDP with global normalisation (global token count all-reduced, loss times the
world size) equals the gradient of one process on the whole batch; normalising each microbatch
by its own count does not.
"""

import pytest

from lossbook.patterns import ddp_demo

# One worker runs the module, so the 2-process run happens once per test session.
pytestmark = pytest.mark.xdist_group("ddp")


@pytest.fixture(scope="module")
def result():
    return ddp_demo(2, num_microbatches=2, seed=0, timeout=120.0)


def test_global_normalisation_matches_the_single_process_gradient(result):
    assert result.tokens_per_rank == [15, 3]
    assert result.max_error_global < 1e-6
    assert result.grad_single.abs().max() > 1e-2  # the comparison is not between two zeros


def test_local_normalisation_does_not(result):
    assert result.max_error_local > 1e-2


def test_every_rank_ends_with_the_same_gradient(result):
    assert result.rank_disagreement == 0.0


def test_the_ranks_loss_shares_add_up_to_the_global_loss(result):
    assert abs(result.extra["loss_ddp_global"] - result.extra["loss_single"]) < 1e-5

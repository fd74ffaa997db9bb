"""Data parallel for real: 2 processes, torch.distributed with gloo on 127.0.0.1, DDP.

The gradient after DDP with global normalisation (global token count all-reduced, loss times the
world size) equals the gradient of one process on the whole batch; normalising each microbatch
by its own count does not.
"""

import pytest
import torch

from lossbook.patterns import ddp_demo

# ddp_demo is memoised per process: with the Loss patterns page's blocks on the same worker, its
# demo block and these tests share one 2-process run (each run costs about 10 CPU seconds: every
# spawned rank imports torch and DDP's torch._dynamo).
pytestmark = pytest.mark.xdist_group("docs/loss-patterns.md")


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


def test_a_second_call_returns_a_copy_of_the_same_run(result):
    again = ddp_demo(2, num_microbatches=2, seed=0)
    assert again is not result and again.grad_global is not result.grad_global  # callers cannot alias
    assert again.tokens_per_rank == result.tokens_per_rank
    assert torch.equal(again.grad_global, result.grad_global)
    assert torch.equal(again.grad_local, result.grad_local)

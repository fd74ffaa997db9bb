"""l1_penalty and l2_penalty: values, gradients, equivalence with SGD weight decay, bad input."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook import l1_penalty, l2_penalty


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))


@settings(max_examples=10)
@given(st.integers(0, 10_000))
def test_penalties_equal_flattened_norms(seed):
    model = _model(seed)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(l1_penalty(model), torch.linalg.vector_norm(flat, ord=1))
    torch.testing.assert_close(l2_penalty(model), torch.linalg.vector_norm(flat) ** 2)
    # a module, its parameter iterator and the list give the same value
    torch.testing.assert_close(l2_penalty(model.parameters()), l2_penalty(list(model.parameters())))


def test_penalties_by_hand_and_single_tensor():
    ws = [torch.tensor([1.0, -2.0]), torch.tensor([[0.5]])]
    assert l1_penalty(ws).item() == 3.5
    assert l2_penalty(ws).item() == 5.25
    assert l1_penalty(torch.tensor([-3.0, 4.0])).item() == 7.0


def test_gradients_sign_and_two_w():
    w = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    l1_penalty(w).backward()
    torch.testing.assert_close(w.grad, torch.tensor([-1.0, 1.0, 1.0]))
    w.grad = None
    l2_penalty(w).backward()
    torch.testing.assert_close(w.grad, 2 * w.detach())


@settings(max_examples=5)
@given(st.integers(0, 1000), st.floats(1e-3, 0.5))
def test_sgd_weight_decay_equals_half_lambda_l2(seed, lam):
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed))
    a, b = _model(seed), _model(seed)
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1, weight_decay=lam)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        opt_a.zero_grad()
        a(x).square().mean().backward()
        opt_a.step()
        opt_b.zero_grad()
        (b(x).square().mean() + 0.5 * lam * l2_penalty(b)).backward()
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


def test_adam_l2_is_not_adamw_decay():
    # the pitfall the page shows: with Adam, an L2 penalty is not decoupled weight decay
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    a, b = _model(0), _model(0)
    opt_a = torch.optim.AdamW(a.parameters(), lr=0.1, weight_decay=0.5)
    opt_b = torch.optim.Adam(b.parameters(), lr=0.1)
    for _ in range(3):
        opt_a.zero_grad()
        a(x).square().mean().backward()
        opt_a.step()
        opt_b.zero_grad()
        (b(x).square().mean() + 0.25 * l2_penalty(b)).backward()
        opt_b.step()
    diff = max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))
    assert diff > 1e-2


def test_gradcheck():
    ws = [torch.randn(3, dtype=torch.float64, requires_grad=True) + 0.5,
          torch.randn(2, 2, dtype=torch.float64, requires_grad=True)]
    ws = [w.detach().requires_grad_(True) for w in ws]
    assert torch.autograd.gradcheck(lambda a, b: l2_penalty([a, b]), ws)
    assert torch.autograd.gradcheck(lambda a, b: l1_penalty([a, b]), ws)


def test_low_precision_accumulates_in_float32():
    w = torch.full((1000,), 300.0, dtype=torch.float16, requires_grad=True)
    value = l2_penalty(w)  # 9e7: far past float16's 65504
    assert value.dtype == torch.float32 and value.item() == 9e7
    value.backward()
    assert torch.isfinite(w.grad).all()
    assert l1_penalty(w.detach().to(torch.bfloat16)).item() == 3e5

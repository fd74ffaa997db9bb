"""The katas of the lesson `debugging.md`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ..._lazy import lazy
from ..cases import gen, randint, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _overfit_reference(model, x, y, loss_fn, steps, lr):
    from ... import debugging

    return debugging.overfit_one_batch(model, (x, y), loss_fn, steps=steps, lr=lr)


def _mlp(g: torch.Generator, sizes: Sequence[int], *, dropout: float = 0.0) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(torch.nn.ReLU())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
        layer = torch.nn.Linear(a, b)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(b, a, generator=g) / math.sqrt(a))
            layer.bias.zero_()
        layers.append(layer)
    return torch.nn.Sequential(*layers)


def _overfit_cases() -> list[Case]:
    g = gen(73)
    f = torch.nn.functional
    frozen = _mlp(g, (4, 16, 3))
    frozen[0].requires_grad_(False)
    dropout = _mlp(g, (4, 16, 16, 2), dropout=0.2).eval()  # handed over in eval mode
    return [
        Case("an MLP classifier on 8 samples, 40 steps of Adam",
             (_mlp(g, (4, 32, 3)), randn(g, 8, 4), randint(g, 3, 8), f.cross_entropy, 40, 1e-2),
             hint="each step: zero the gradients, forward, loss, record loss.item(), backward,"
             " step. Record the loss before the update."),
        Case("a regression MLP with MSE, 25 steps, lr 5e-3",
             (_mlp(g, (3, 16, 1)), randn(g, 6, 3), randn(g, 6, 1), f.mse_loss, 25, 5e-3)),
        Case(
            "a model handed over in eval mode, with dropout",
            (dropout, randn(g, 8, 4), randint(g, 2, 8), f.cross_entropy, 15, 1e-2),
            hint="call model.train() before the loop: the batch must be fitted in training"
            " mode, dropout included.",
        ),
        Case("a frozen first layer", (frozen, randn(g, 8, 4), randint(g, 3, 8), f.cross_entropy, 20, 1e-2)),
    ]


def _overfit_loop(model, x, y, loss_fn, steps, lr, *, zero_grad: bool = True, train: bool = True):
    """The loop with one of its two classic bugs switched on (for recognising mistakes)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    if train:
        model.train()
    history = []
    for _ in range(steps):
        if zero_grad:
            opt.zero_grad()
        loss = loss_fn(model(x), y)
        history.append(loss.item())
        loss.backward()
        opt.step()
    return history


register(
    Kata(
        name="overfit_one_batch",
        title="The overfit-one-batch training loop",
        signature="overfit_one_batch(model, x, y, loss_fn, steps=200, lr=1e-2)",
        returns="the list of the loss values (floats) before each update, one per step",
        task=(
            "Write the loop that checks a new model, loss and optimiser can learn at all: train"
            " `model` on the single batch (x, y) for `steps` steps of torch.optim.Adam with"
            " learning rate `lr`, in training mode, and return the loss of every step, recorded"
            " before that step's update. A healthy set-up drives it to about zero."
        ),
        shapes=("model: torch.nn.Module (trained in place)", "x: [N, D] float",
                "y: [N] int64 classes or [N, 1] float targets",
                "loss_fn: e.g. F.cross_entropy", "output: list of `steps` floats"),
        hint="Five lines in the loop body, in the right order; the classic bugs are a missing"
        " zero_grad() and a model left in eval mode.",
        library="lossbook.debugging.overfit_one_batch",
        reference=_overfit_reference,
        cases=_overfit_cases,
        lesson="debugging.md#2-overfit-one-batch",
        imports="import torch",
        numpy=False,
        rtol=1e-3,
        mistakes=(
            Mistake("the gradients are never zeroed, so they accumulate across steps: call"
                    " opt.zero_grad() at the start of every step.",
                    lambda *args: _overfit_loop(*args, zero_grad=False)),
            Mistake("the model stays in eval mode (dropout off): call model.train() first.",
                    lambda *args: _overfit_loop(*args, train=False)),
        ),
    )
)


def _grad_norm_reference(model):
    from ... import debugging

    per_layer, total = debugging.grad_norm(model)
    return {k: v for k, v in per_layer.items() if v is not None}, total


def _after_backward(model: torch.nn.Module, x: torch.Tensor, scale: float = 1.0) -> torch.nn.Module:
    (model(x).square().mean() * scale).backward()
    return model


def _grad_norm_cases() -> list[Case]:
    g = gen(79)
    unused = torch.nn.ModuleDict({"used": _mlp(g, (4, 8, 2)), "unused": torch.nn.Linear(4, 2)})
    unused["used"](randn(g, 5, 4)).sum().backward()
    frozen = _mlp(g, (3, 6, 1))
    frozen[0].requires_grad_(False)
    return [
        Case("an MLP after one backward", (_after_backward(_mlp(g, (4, 16, 3)), randn(g, 8, 4)),)),
        Case("a deeper MLP, large gradients",
             (_after_backward(_mlp(g, (6, 32, 32, 32, 1)), randn(g, 16, 6), scale=1e4),)),
        Case(
            "a layer that was not used in the forward pass (its .grad is None)",
            (unused,),
            hint="skip parameters whose .grad is None (never used, or cut off by a detach):"
            " leave them out of the dict and of the total.",
        ),
        Case("a frozen first layer", (_after_backward(frozen, randn(g, 4, 3)),)),
    ]


register(
    Kata(
        name="grad_norm",
        title="Gradient norm helper (per layer and total)",
        signature="grad_norm(model)",
        returns="a tuple (per_layer, total): a dict from parameter name to the L2 norm of its"
        " gradient, and the total L2 norm over all of them",
        task=(
            "Call it after loss.backward(). For every parameter of the model that has a gradient,"
            " report the L2 norm of that gradient under its name from named_parameters(); the"
            " total is the L2 norm of all gradients together (what clip_grad_norm_ returns)."
            " Parameters whose .grad is None are left out."
        ),
        shapes=("model: torch.nn.Module after backward()",
                "output: (dict name -> float, float)"),
        hint="The total is not the sum of the per-layer norms: it is the square root of the sum"
        " of their squares.",
        library="lossbook.debugging.grad_norm",
        reference=_grad_norm_reference,
        cases=_grad_norm_cases,
        lesson="debugging.md#3-gradient-norms-per-layer",
        imports="import torch",
        numpy=False,
        mistakes=(
            Mistake("the total adds up the per-layer norms; the total L2 norm is the root of the"
                    " sum of their squares.",
                    lambda model: (_grad_norm_reference(model)[0],
                                   sum(_grad_norm_reference(model)[0].values()))),
        ),
    )
)

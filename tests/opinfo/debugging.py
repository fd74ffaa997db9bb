"""lossbook.debugging."""

import torch
import torch.nn.functional as F

import lossbook
from opinfo import OK, E, OpInfo, S, randn


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(2, 1)


def _with_grads():
    model = _model()
    model(torch.ones(3, 2)).sum().backward()
    return model


def _batch(g, b, dt):
    return (randn(g, b, 2, dt=dt), randn(g, b, 1, dt=dt))


_TRAINS = "returns the loss history as Python floats: it reads every loss (.item())"
_BATCH_ERRORS = [
    E("batch", "length 3", {"batch": lambda a: (*a["batch"], a["batch"][1])}, TypeError),
    E("batch", "Tensor", {"batch": lambda a: a["batch"][0]}, TypeError),
]

ENTRIES = [
    OpInfo(
        lossbook.overfit_one_batch,
        sample=lambda g, b, dt: S(_model(), _batch(g, b, dt), F.mse_loss, steps=3),
        errors=[
            *_BATCH_ERRORS,
            E("model", "function", {"model": lambda a: (lambda x: x)}, TypeError),
            E("model", "requires_grad", {"model": lambda a: _model().requires_grad_(False)}),
            E("loss_fn", "str", {"loss_fn": "mse"}, TypeError),
            E("steps", "got 0", {"steps": 0}),
            E("lr", r"0\.0", {"lr": 0.0}),
            E("optimizer", "'lbfgs'", {"optimizer": "lbfgs"}),
            E("loss_fn", r"scalar tensor, got \[3, 1\]",
              {"loss_fn": lambda a: (lambda p, y: F.mse_loss(p, y, reduction="none"))}),
            E("loss_fn", "requires_grad is False",
              {"loss_fn": lambda a: (lambda p, y: F.mse_loss(p.detach(), y))}),
        ],
        empty="batch",
        meta=_TRAINS,
    ),
    OpInfo(
        lossbook.grad_norm,
        sample=lambda g, b, dt: S(_with_grads(), norm_type=1.0),
        errors=[E("norm_type", r"-1\.0", {"norm_type": -1.0}),
                E("model", "int", {"model": 3}, TypeError)],
        empty=None,
        meta="returns the norms as Python floats (reads every gradient)",
    ),
    OpInfo(
        lossbook.lr_sweep,
        sample=lambda g, b, dt: S(_model, _batch(g, b, dt), F.mse_loss, lrs=[0.1, 0.01], steps=2),
        errors=[
            *_BATCH_ERRORS,
            E("lrs", r"\[\]", {"lrs": []}),
            E("lrs[1]", r"-1\.0", {"lrs": [0.1, -1.0]}),
            E("make_model", "model instance", {"make_model": lambda a: _model()}, TypeError),
            E("make_model", "return", {"make_model": lambda a: (lambda: "model")}, TypeError),
            E("steps", "got 0", {"steps": 0}),
            E("optimizer", "'lbfgs'", {"optimizer": "lbfgs"}),
        ],
        empty="batch",
        meta=_TRAINS,
    ),
    OpInfo(
        lossbook.leaked_rows,
        sample=lambda g, b, dt: S(randn(g, 5, 3, dt=dt).round(), randn(g, b, 3, dt=dt).round(),
                                  decimals=1),
        errors=[
            E("train", r"\[5, 3, 1\]", {"train": lambda a: a["train"][..., None],
                                        "test": lambda a: a["test"][..., None]}),
            E("decimals", "float", {"decimals": 0.5}, TypeError),
        ],
        free_size=("test",),  # any number of test rows
        empty=OK,  # no test row, nothing leaked
        meta="finds equal rows with torch.unique, whose output size depends on the data",
    ),
]

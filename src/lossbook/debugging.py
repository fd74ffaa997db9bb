r"""Tools for debugging a model that is not learning.

The checks an experienced engineer runs first, as small functions you can call from a notebook:

- [overfit_one_batch][lossbook.debugging.overfit_one_batch]: can the model drive the loss on one
  small batch to (near) zero? If not, the bug is in the model, the loss or the optimisation, not
  in the data distribution.
- [grad_norm][lossbook.debugging.grad_norm]: gradient norm per parameter tensor and in total;
  vanishing, exploding and missing (disconnected) gradients show up here.
- [lr_sweep][lossbook.debugging.lr_sweep]: the same model from the same initialisation at several
  learning rates; too low crawls, too high diverges.
- [leaked_rows][lossbook.debugging.leaked_rows]: which evaluation rows also appear in the training
  set (exact duplicates: a lower bound on leakage).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ._checks import check_choice, check_device, check_number, check_tensor

__all__ = ["grad_norm", "leaked_rows", "lr_sweep", "overfit_one_batch"]

_OPTIMIZERS = ("adam", "sgd")


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model: expected at least one parameter with requires_grad=True, got none")
    return model


def _check_batch(batch: object) -> tuple[object, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            "batch: expected a pair (inputs, target), got "
            + (f"a {type(batch).__name__} of length {len(batch)}"
               if isinstance(batch, (tuple, list)) else type(batch).__name__)
        )
    inputs, target = batch
    if isinstance(inputs, torch.Tensor) and inputs.shape[:1] == (0,):
        raise ValueError("batch: expected a non-empty batch, got 0 inputs")
    return inputs, target


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected a positive int, got {steps!r}")
    return steps


def _make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr)


def overfit_one_batch(
    model: nn.Module,
    batch: tuple[object, torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    steps: int = 200,
    lr: float = 1e-2,
    optimizer: str = "adam",
) -> list[float]:
    r"""Train on a single batch and return the loss at every step.

    The first test of any new model, loss or training loop: a network with enough parameters can
    memorise a handful of examples, so the loss must go to (near) zero. If it does not, something
    between the inputs and the update is broken (a detached tensor, a frozen layer, a double
    softmax, a wrong target shape, a learning rate off by 100×), and no amount of data or
    training time will fix it.

    $$\theta_{k+1} = \theta_k - \eta\, \mathrm{opt}\big(\nabla_\theta\, \ell(f_{\theta_k}(x), y)\big),
      \qquad k = 0, \dots, \text{steps} - 1$$

    The model is put in training mode and updated in place. Training stops early (the last
    entry is then NaN or Inf) if the loss stops being finite.

    Args:
        model: the network; trained in place.
        batch: `(inputs, target)`; `model(inputs)` must work and `loss_fn(model(inputs), target)`
            must return a scalar.
        loss_fn: e.g. `torch.nn.functional.cross_entropy`.
        steps: number of optimisation steps.
        lr: learning rate $\eta > 0$.
        optimizer: `"adam"` (default: forgiving about the learning rate) or `"sgd"`.

    Returns:
        The loss before each update, `steps` floats (fewer if it diverged).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(),
        ...                             torch.nn.Linear(32, 3))
        >>> x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
        >>> history = overfit_one_batch(model, (x, y), torch.nn.functional.cross_entropy)
        >>> history[0] > 0.9, history[-1] < 0.01
        (True, True)
    """
    _check_model(model)
    inputs, target = _check_batch(batch)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable, got {type(loss_fn).__name__}")
    steps = _check_steps(steps)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_choice("optimizer", optimizer, _OPTIMIZERS)

    opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)
    model.train()
    history: list[float] = []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(inputs), target)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            shape = list(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn: expected a scalar tensor, got {shape}")
        if not loss.requires_grad:
            raise ValueError(
                "loss_fn: the loss does not depend on any trainable parameter (requires_grad is"
                " False): a detach(), .item(), no_grad() or frozen model breaks the graph"
            )
        value = loss.item()
        history.append(value)
        if not math.isfinite(value):
            break
        loss.backward()
        opt.step()
    return history


def grad_norm(model: nn.Module, *, norm_type: float = 2.0) -> tuple[dict[str, float | None], float]:
    r"""Gradient norm of every parameter tensor, and the total, after a `backward()`.

    $$g_i = \lVert \nabla_{\theta_i} \ell \rVert_p, \qquad
      g = \Big(\sum_i g_i^p\Big)^{1/p}$$

    The total is what `torch.nn.utils.clip_grad_norm_` returns (and clips). Read the per-layer
    values, not just the total: norms shrinking by orders of magnitude towards the input mean
    vanishing gradients; one layer dwarfing the rest means exploding ones or an unnormalised
    input; `None` means the parameter never received a gradient (not used in the forward pass,
    or cut off by a `detach`).

    Args:
        model: a module after `loss.backward()`.
        norm_type: $p$; `2.0` or `math.inf` (largest absolute entry).

    Returns:
        `(per_parameter, total)`: a dict from parameter name (as in `named_parameters()`) to its
        gradient norm, or `None` where `.grad` is `None`; and the total over the gradients
        present. Parameters with `requires_grad=False` are left out.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 2.0]])), layer.bias.zero_()
        >>> layer(torch.tensor([[3.0, 4.0]])).sum().backward()   # d/dw = x, d/db = 1
        >>> per_layer, total = grad_norm(layer)
        >>> per_layer, round(total, 4)                            # sqrt(25 + 1)
        ({'weight': 5.0, 'bias': 1.0}, 5.099)
    """
    _check_model(model)
    p = check_number("norm_type", norm_type, low=0.0, low_inclusive=False) if not (
        isinstance(norm_type, float) and math.isinf(norm_type) and norm_type > 0
    ) else math.inf
    per_layer: dict[str, float | None] = {}
    present: list[torch.Tensor] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.grad is None:
            per_layer[name] = None
            continue
        norm = torch.linalg.vector_norm(param.grad.detach().double(), ord=p)
        per_layer[name] = norm.item()
        present.append(norm)
    if not present:
        return per_layer, 0.0
    total = torch.linalg.vector_norm(torch.stack(present), ord=p).item()
    return per_layer, total


def lr_sweep(
    make_model: Callable[[], nn.Module],
    batch: tuple[object, torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int = 100,
    optimizer: str = "sgd",
    seed: int = 0,
) -> dict[float, list[float]]:
    r"""Loss curves of the same model, from the same initialisation, at several learning rates.

    For each learning rate the model is rebuilt by `make_model()` under `torch.manual_seed(seed)`
    (the global RNG state is restored afterwards) and trained with
    [overfit_one_batch][lossbook.debugging.overfit_one_batch]. Too low a rate crawls, too high
    a rate oscillates or diverges (its curve ends early at NaN or Inf); the best rate is usually
    a few times below the smallest divergent one.

    Args:
        make_model: builds a fresh model; called once per learning rate.
        batch: `(inputs, target)`.
        loss_fn: `loss_fn(model(inputs), target)` returns a scalar.
        lrs: learning rates to try, each > 0.
        steps: steps per run.
        optimizer: `"sgd"` (default: shows the effect of the rate most clearly) or `"adam"`.
        seed: seed for each model's initialisation.

    Returns:
        Learning rate -> loss history.

    Example:
        >>> x = torch.linspace(-1, 1, 16)[:, None]
        >>> curves = lr_sweep(lambda: torch.nn.Linear(1, 1), (x, 3 * x),
        ...                   torch.nn.functional.mse_loss, lrs=[0.01, 0.5, 5.0], steps=50)
        >>> {lr: round(h[-1], 4) for lr, h in curves.items()}
        {0.01: 1.6647, 0.5: 0.0, 5.0: inf}
    """
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError(
            "make_model: expected a function that builds a fresh model (e.g. a lambda), got"
            f" {'a model instance' if isinstance(make_model, nn.Module) else type(make_model).__name__}"
        )
    if isinstance(lrs, (str, bytes)) or not isinstance(lrs, Sequence) or not lrs:
        raise ValueError(f"lrs: expected a non-empty sequence of learning rates, got {lrs!r}")
    for i, lr in enumerate(lrs):
        check_number(f"lrs[{i}]", lr, low=0.0, low_inclusive=False)
    _check_batch(batch)
    _check_steps(steps)
    check_choice("optimizer", optimizer, _OPTIMIZERS)
    curves: dict[float, list[float]] = {}
    for lr in lrs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = make_model()
        if not isinstance(model, nn.Module):
            raise TypeError(f"make_model: expected it to return a torch.nn.Module, got"
                            f" {type(model).__name__}")
        curves[lr] = overfit_one_batch(model, batch, loss_fn, steps=steps, lr=lr,
                                       optimizer=optimizer)
    return curves


def leaked_rows(
    train: torch.Tensor, test: torch.Tensor, *, decimals: int | None = None
) -> torch.Tensor:
    r"""Which rows of `test` also occur, exactly, in `train`.

    $$\text{leaked}_j = \exists\, i:\ \text{train}_i = \text{test}_j$$

    Exact duplicates are the most blatant leak (the same example, or the same scene, on both sides
    of a split) and a lower bound: near-duplicates such as consecutive frames of one drive leak
    too, which is why driving data is split **by scene or by log**, never by frame. `decimals`
    rounds first, so values equal up to float noise match. Signed zeros count as equal; rows
    containing NaN never match.

    Args:
        train: training rows (features, or any per-example key such as a scene id).
        test: evaluation rows, same number of columns.
        decimals: round both to this many decimals before comparing; `None` compares exactly.

    Shape:
        - train: `[N, D]`, or `[N]`
        - test: `[M, D]`, or `[M]`
        - output: `[M]` bool

    Example:
        >>> train = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> test = torch.tensor([[3.0, 4.0], [5.0, 6.0], [1.0, 2.001]])
        >>> leaked_rows(train, test), leaked_rows(train, test, decimals=2)
        (tensor([ True, False, False]), tensor([ True, False,  True]))
    """
    check_tensor("train", train)
    check_tensor("test", test)
    if train.ndim not in (1, 2):
        raise ValueError(f"train: expected shape [N, D] or [N], got {list(train.shape)}")
    if test.ndim != train.ndim or (train.ndim == 2 and test.shape[1] != train.shape[1]):
        raise ValueError(
            f"test: expected the same number of columns as train {list(train.shape)}, got"
            f" {list(test.shape)}"
        )
    if train.dtype != test.dtype:
        raise TypeError(f"test: expected dtype {train.dtype} (as train), got {test.dtype}")
    check_device("test", test, "train", train)
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)):
        raise TypeError(f"decimals: expected an int or None, got {type(decimals).__name__}")
    if train.ndim == 1:
        train, test = train[:, None], test[:, None]
    if test.shape[0] == 0 or train.shape[0] == 0:
        return torch.zeros(test.shape[0], dtype=torch.bool, device=test.device)
    if train.is_floating_point():
        if decimals is not None:
            train, test = train.round(decimals=decimals), test.round(decimals=decimals)
        train, test = train + 0.0, test + 0.0  # -0.0 -> +0.0
    leaked = torch.zeros(test.shape[0], dtype=torch.bool, device=test.device)
    usable = torch.ones_like(leaked)
    if train.is_floating_point():  # NaN never equals anything, and it breaks sorting: drop it
        train = train[~train.isnan().any(dim=1)]
        usable = ~test.isnan().any(dim=1)
    if train.shape[0] == 0 or not bool(usable.any()):
        return leaked
    rows = torch.cat([train, test[usable]])
    _, ids = torch.unique(rows, dim=0, return_inverse=True)
    leaked[usable] = torch.isin(ids[train.shape[0]:], ids[: train.shape[0]])
    return leaked

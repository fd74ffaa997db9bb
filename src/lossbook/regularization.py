"""Weight penalties: L1 (sparsity, Laplace prior) and L2 (shrinkage, Gaussian prior)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ._checks import check_finite

__all__ = ["l1_penalty", "l2_penalty"]


def _tensors(params: torch.Tensor | torch.nn.Module | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        tensors = [params]
    elif isinstance(params, torch.nn.Module):
        tensors = list(params.parameters())
    elif isinstance(params, Iterable) and not isinstance(params, (str, bytes)):
        tensors = list(params)
    else:
        raise TypeError(
            "params: expected a tensor, an nn.Module or an iterable of tensors, "
            f"got {type(params).__name__}"
        )
    if not tensors:
        raise ValueError("params: expected at least one tensor, got none")
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"params: expected tensors, got {type(t).__name__} at position {i}")
        if not t.is_floating_point():
            raise TypeError(f"params: expected float tensors, got dtype {t.dtype} at position {i}")
        if t.device != tensors[0].device:
            raise ValueError(
                f"params: expected all tensors on {tensors[0].device}, got {t.device} at position {i}"
            )
    return tensors


def l1_penalty(params: torch.Tensor | torch.nn.Module | Iterable[torch.Tensor]) -> torch.Tensor:
    r"""Sum of absolute values of all given weights.

    $$\Omega_1(w) = \lVert w \rVert_1 = \sum_j |w_j|$$

    Add $\lambda\,\Omega_1$ to the loss. Its (sub)gradient $\lambda \operatorname{sign}(w)$ has the
    same size however small $w$ is, so it can push a weight all the way to 0 and keep it there
    (sparsity): the MAP estimate under a Laplace prior $p(w) \propto e^{-\lambda |w|}$.
    Plain (sub)gradient descent only makes weights oscillate around 0; exact zeros need a
    proximal step (soft-thresholding) or a solver such as coordinate descent.

    Args:
        params: a tensor, an `nn.Module` (all its parameters) or an iterable of tensors
            (e.g. `[p for n, p in model.named_parameters() if not n.endswith("bias")]`).

    Shape:
        - params: tensors of any shapes, float, on one device
        - output: scalar (float32 accumulation for low-precision inputs)

    Example:
        >>> l1_penalty([torch.tensor([1.0, -2.0]), torch.tensor([[0.5]])])
        tensor(3.5000)
    """
    tensors = _tensors(params)
    for t in tensors:
        check_finite("params", t, always=False)
    return _total(tensors, torch.abs)


def l2_penalty(params: torch.Tensor | torch.nn.Module | Iterable[torch.Tensor]) -> torch.Tensor:
    r"""Sum of squares of all given weights (no square root, no factor 1/2).

    $$\Omega_2(w) = \lVert w \rVert_2^2 = \sum_j w_j^2$$

    Adding $\frac{\lambda}{2}\Omega_2$ to the loss adds $\lambda w$ to the gradient, which is
    exactly what `torch.optim.SGD(weight_decay=λ)` does: for SGD, L2 regularisation and weight
    decay are the same thing. For Adam they are not: the penalty's gradient is rescaled by
    Adam's per-weight step size, while `AdamW` decays the weights directly (decoupled weight
    decay, Loshchilov and Hutter 2019). It is the MAP estimate under a Gaussian prior
    $w \sim \mathcal N(0, 1/\lambda)$ and shrinks weights proportionally, rarely to exactly 0.

    Args:
        params: a tensor, an `nn.Module` (all its parameters) or an iterable of tensors.
            Biases and normalisation parameters are usually left out.

    Shape:
        - params: tensors of any shapes, float, on one device
        - output: scalar (float32 accumulation for low-precision inputs)

    Example:
        >>> l2_penalty([torch.tensor([1.0, -2.0]), torch.tensor([[0.5]])])
        tensor(5.2500)
    """
    tensors = _tensors(params)
    for t in tensors:
        check_finite("params", t, always=False)
    return _total(tensors, torch.square)


def _total(tensors: list[torch.Tensor], fn) -> torch.Tensor:
    # fp16/bf16 are summed in float32 (300**2 already overflows fp16's 65504); mixed dtypes
    # promote as in ordinary tensor arithmetic.
    total = None
    for t in tensors:
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        part = fn(t).sum()
        total = part if total is None else total + part
    return total

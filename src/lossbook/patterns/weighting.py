"""Dynamic weighting of several losses that reaches the parameters (uncertainty, GradNorm)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from .._checks import _shape, check_number, check_tensor
from .normalisation import _count

__all__ = [
    "GradNormWeighting",
    "UncertaintyWeighting",
]


def _loss_values(
    losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor], expected: int
) -> tuple[list[str], torch.Tensor]:
    if isinstance(losses, Mapping):
        names, values = list(losses), list(losses.values())
    elif isinstance(losses, Sequence) and not isinstance(losses, (str, bytes)):
        names, values = [str(i) for i in range(len(losses))], list(losses)
    else:
        raise TypeError(
            f"losses: expected a list or dict of scalar tensors, got {type(losses).__name__}"
        )
    if len(values) != expected:
        raise ValueError(f"losses: expected {expected} losses (one per weight), got {len(values)}")
    for name, value in zip(names, values):
        check_tensor(f"losses[{name!r}]", value, kind="float")
        if value.ndim != 0:
            raise ValueError(f"losses[{name!r}]: expected a scalar loss, got shape {_shape(value)}")
    stacked = torch.stack(values)
    bad = ~torch.isfinite(stacked)
    if bool(bad.any()):
        name = names[int(bad.nonzero()[0, 0])]
        raise FloatingPointError(f"losses[{name!r}]: is {stacked[names.index(name)].item()}")
    return names, stacked
class UncertaintyWeighting(nn.Module):
    r"""Homoscedastic-uncertainty weighting of Kendall, Gal and Cipolla (2018), with learned
    log-variances $s_k = \log\sigma_k^2$.

    $$L = \sum_k e^{-s_k} L_k + s_k$$

    The weights $e^{-s_k}$ are positive by construction and are trained by the same optimizer
    as the model (add this module's parameters to it). At the optimum $e^{s_k} = L_k$: each loss
    is divided by its own scale and all terms contribute comparably. This is the paper's
    regression objective $\frac{1}{2\sigma^2}L + \log\sigma$ times 2 (the same minimiser).

    The objective assumes $L_k \ge 0$ (a negative log-likelihood, a squared error): with
    $L_k < 0$ it is unbounded below ($s_k \to -\infty$), so a negative loss raises
    `ValueError`. Do not put a policy-gradient loss in here.

    Args:
        num_losses: number of terms $K$.
        init_log_var: initial $s_k$ (0: every weight starts at 1).

    Shape:
        - losses: a list or dict of $K$ scalar tensors
        - output: scalar

    Example:
        >>> weighting = UncertaintyWeighting(2)
        >>> total = weighting([torch.tensor(4.0), torch.tensor(0.5)])
        >>> total.item(), weighting.weights.tolist()
        (4.5, [1.0, 1.0])
    """

    def __init__(self, num_losses: int, *, init_log_var: float = 0.0) -> None:
        super().__init__()
        self.num_losses = _count("num_losses", num_losses)
        init = check_number("init_log_var", init_log_var)
        self.log_vars = nn.Parameter(torch.full((self.num_losses,), init))

    @property
    def weights(self) -> torch.Tensor:
        """The current weights $e^{-s_k}$ (detached)."""
        return torch.exp(-self.log_vars.detach())

    def forward(self, losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]) -> torch.Tensor:
        names, values = _loss_values(losses, self.num_losses)
        if bool((values < 0).any()):
            i = int((values < 0).nonzero()[0, 0])
            raise ValueError(
                f"losses[{names[i]!r}]: uncertainty weighting needs non-negative losses"
                f" (e^-s L + s is unbounded below in s when L < 0), got {values[i].item():.4g}"
            )
        log_vars = self.log_vars.to(values.dtype)
        return (torch.exp(-log_vars) * values + log_vars).sum()


class GradNormWeighting(nn.Module):
    r"""GradNorm (Chen et al. 2018): learn loss weights that balance the gradient norms the
    losses produce on shared parameters.

    $$w = K\operatorname{softmax}(a),\quad G_k = w_k \lVert\nabla_W L_k\rVert,\quad
    r_k = \frac{L_k/L_k^{(0)}}{\operatorname{mean}_j L_j/L_j^{(0)}},\quad
    L_{\text{grad}} = \sum_k \big|G_k - \operatorname{sg}[\bar G\, r_k^{\alpha}]\big|$$

    `forward` returns $\sum_k \operatorname{sg}[w_k] L_k + L_{\text{grad}}$: the model receives
    the weighted losses (the weights as constants, so the model cannot lower its loss by shrinking
    them), and the weight logits $a$ receive only $\nabla_a L_{\text{grad}}$ (the norms
    $\lVert\nabla_W L_k\rVert$ are measured without a graph, so $L_{\text{grad}}$ does not reach
    the model). The weights are positive and sum to $K$ by construction, so they cannot drift or
    flip sign. Losses must be positive (the ratios $L_k / L_k^{(0)}$ assume it); the first call
    records $L_k^{(0)}$.

    Args:
        num_losses: number of terms $K$.
        alpha: $\alpha \ge 0$; how strongly slower-training tasks are boosted (1.5 is a common
            default; 0 asks for equal gradient norms).

    Shape:
        - losses: a list or dict of $K$ scalar tensors
        - shared: the shared parameters $W$ (often the last shared layer)
        - output: scalar; `last_grad_norms` holds $G_k$ of the last call

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
        >>> gradnorm = GradNormWeighting(2)
        >>> total = gradnorm([(w ** 2).sum(), 10 * (w ** 2).sum()], [w])
        >>> gradnorm.last_grad_norms
        tensor([ 2.8284, 28.2843])
    """

    def __init__(self, num_losses: int, *, alpha: float = 1.5) -> None:
        super().__init__()
        self.num_losses = _count("num_losses", num_losses)
        self.alpha = check_number("alpha", alpha, low=0.0)
        self.logits = nn.Parameter(torch.zeros(self.num_losses))
        self.register_buffer("initial_losses", torch.full((self.num_losses,), math.nan))
        self.last_grad_norms = torch.full((self.num_losses,), math.nan)

    @property
    def weights(self) -> torch.Tensor:
        r"""The current weights $K\operatorname{softmax}(a)$ (detached)."""
        return self.num_losses * torch.softmax(self.logits.detach(), dim=0)

    def forward(
        self,
        losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
        shared: Iterable[torch.Tensor],
    ) -> torch.Tensor:
        names, values = _loss_values(losses, self.num_losses)
        shared = [p for p in shared if isinstance(p, torch.Tensor) and p.requires_grad]
        if not shared:
            raise ValueError("shared: expected at least one parameter that requires grad")
        if bool((values <= 0).any()):
            i = int((values <= 0).nonzero()[0, 0])
            raise ValueError(
                f"losses[{names[i]!r}]: GradNorm needs positive losses (it tracks L / L0),"
                f" got {values[i].item():.4g}"
            )
        if bool(torch.isnan(self.initial_losses).any()):
            self.initial_losses.copy_(values.detach())
        norms = []
        for name, value in zip(names, losses.values() if isinstance(losses, Mapping) else losses):
            grads = torch.autograd.grad(value, shared, retain_graph=True, allow_unused=True)
            sq = sum((g.detach().pow(2).sum() for g in grads if g is not None),
                     torch.zeros((), dtype=values.dtype))
            norms.append(sq.sqrt())
        weights = self.num_losses * torch.softmax(self.logits, dim=0).to(values.dtype)
        grad_norms = weights * torch.stack(norms)
        progress = values.detach() / self.initial_losses.to(values.dtype)
        relative = progress / progress.mean()
        target = (grad_norms.mean() * relative.pow(self.alpha)).detach()
        gradnorm_loss = (grad_norms - target).abs().sum()
        self.last_grad_norms = grad_norms.detach()
        return (weights.detach() * values).sum() + gradnorm_loss

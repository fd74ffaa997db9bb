"""Probabilistic objectives: KL divergence (categorical, Gaussian) and the VAE's negative ELBO."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import (
    check_choice,
    check_finite,
    check_nonempty,
    check_number,
    check_range,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    reduce,
)

__all__ = ["elbo_loss", "gaussian_kl", "kl_divergence"]


def kl_divergence(
    logits_p: torch.Tensor,
    logits_q: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""KL divergence $D_{\mathrm{KL}}(P \,\|\, Q)$ between two categorical distributions given
    by their logits.

    $$D_{\mathrm{KL}}(P \,\|\, Q) = \sum_c p_c \,(\log p_c - \log q_c),\qquad
    p = \operatorname{softmax}(\text{logits}_p),\ q = \operatorname{softmax}(\text{logits}_q)$$

    The **first** argument is the distribution the expectation is taken under. Careful:
    `F.kl_div(input, target)` takes its arguments the other way round (`input` holds
    $\log q$, `target` holds $p$) and its `reduction="mean"` divides by the number of classes
    too; this function has no such trap. Both sides go through `log_softmax`, so logits of any
    size are fine; a class with $p_c = 0$ (logit $-\infty$ allowed, as a mask) contributes
    exactly 0, the convention $0 \log 0 = 0$. Equal to
    `torch.distributions.kl_divergence(Categorical(logits=logits_p), Categorical(logits=logits_q))`.

    Args:
        logits_p: logits of $P$ (e.g. the data, the teacher, the reference policy).
        logits_q: logits of $Q$, same shape.
        reduction: `"mean"` over the leading dimensions, `"sum"` or `"none"`.

    Shape:
        - logits_p: `[*, C]`, float
        - logits_q: `[*, C]`, the same shape
        - output: scalar, or `[*]` with `reduction="none"`

    Example:
        >>> p = torch.log(torch.tensor([0.5, 0.5]))
        >>> q = torch.log(torch.tensor([0.9, 0.1]))
        >>> kl_divergence(p, q), kl_divergence(q, p)  # not symmetric
        (tensor(0.5108), tensor(0.3681))
    """
    check_reduction(reduction)
    check_tensor("logits_p", logits_p, kind="float")
    check_tensor("logits_q", logits_q, kind="float")
    if logits_p.ndim == 0:
        raise ValueError("logits_p: expected at least 1 dimension [*, C], got a scalar")
    check_same_shape("logits_q", logits_q, "logits_p", logits_p)
    check_nonempty("logits_p", logits_p, reduction)
    log_p = F.log_softmax(logits_p, dim=-1)
    log_q = F.log_softmax(logits_q, dim=-1)
    p = log_p.exp()
    # 0 log 0 = 0: where p_c = 0 the term is dropped before it can become 0 * inf = NaN
    # (and the where also keeps the gradient finite there).
    diff = torch.where(p > 0, log_p - log_q, torch.zeros((), dtype=log_p.dtype, device=log_p.device))
    return reduce((p * diff).sum(dim=-1), reduction)


def gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""KL divergence from a diagonal Gaussian posterior to the standard normal prior, per sample
    summed over the latent dimensions (the VAE regulariser).

    $$D_{\mathrm{KL}}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)
    = \frac12 \sum_{j=1}^{D} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)$$

    Parameterised by $\log \sigma^2$ (the encoder's unconstrained output); $\sigma^2 - 1$ is
    computed as `expm1(logvar)`, accurate when the posterior is close to the prior. Equal to
    `torch.distributions.kl_divergence(Normal(mu, exp(logvar / 2)), Normal(0, 1)).sum(-1)`.

    Args:
        mu: posterior means.
        logvar: posterior log-variances $\log \sigma^2$, same shape.
        reduction: `"mean"` over samples, `"sum"` or `"none"` (one value per sample).

    Shape:
        - mu: `[B, D]`, float
        - logvar: `[B, D]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))  # 0.5 * mu^2
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_tensor("mu", mu, kind="float")
    check_tensor("logvar", logvar, kind="float")
    check_shapes(mu=(mu, "B D"), nonempty="B" if reduction == "mean" else "")
    check_same_shape("logvar", logvar, "mu", mu)
    check_finite("mu", mu, always=False)
    check_finite("logvar", logvar, always=False)
    kl = 0.5 * (mu.square() + torch.expm1(logvar) - logvar).sum(dim=-1)
    return reduce(kl, reduction)


def elbo_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    likelihood: str = "bernoulli",
    beta: float = 1.0,
    free_bits: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative evidence lower bound of a VAE with a diagonal Gaussian posterior and a standard
    normal prior: reconstruction NLL plus $\beta$ times the KL.

    $$-\text{ELBO}(x) = \underbrace{-\log p_\theta(x \mid z)}_{\text{reconstruction}}
    + \beta\, D_{\mathrm{KL}}\big(q_\phi(z \mid x)\,\|\,\mathcal N(0, I)\big),
    \qquad z = \mu + \sigma \odot \varepsilon$$

    With $\beta = 1$ this is an upper bound on $-\log p_\theta(x)$ that is tight when
    $q_\phi(z \mid x)$ equals the true posterior. The reconstruction term is **summed** over the
    data dimensions (like the KL over the latent ones): averaging it over pixels instead silently
    multiplies the KL's weight by the number of pixels and invites posterior collapse.

    - `likelihood="bernoulli"`: `recon` are logits, $-\log p = \sum \operatorname{BCE}(\text{recon},
      x)$ (data in $[0, 1]$).
    - `likelihood="gaussian"`: `recon` is the mean of $\mathcal N(\text{recon}, I)$,
      $-\log p = \tfrac12 \lVert x - \text{recon} \rVert^2 + \tfrac{n}{2}\log 2\pi$ ($n$ data
      dimensions), i.e. half the summed squared error plus a constant.

    Args:
        recon: decoder output for one sample $z \sim q_\phi(z \mid x)$.
        target: the input $x$, same shape as `recon`.
        mu: posterior means.
        logvar: posterior log-variances.
        likelihood: `"bernoulli"` or `"gaussian"`.
        beta: weight $\beta \ge 0$ of the KL (1: the true ELBO; anneal from 0 against posterior
            collapse; > 1: β-VAE).
        free_bits: $\lambda \ge 0$, nats per latent dimension (0: off). Free bits (Kingma et
            al. 2016) replace the KL of each latent dimension $j$, averaged over the batch, by
            $\max(\lambda, \overline{\mathrm{KL}}_j)$: a dimension that carries less than
            $\lambda$ nats costs a constant and gets no gradient from the KL, so the encoder is
            not pushed to collapse it. The KL term is then the same for every sample of the
            batch, and the value is no longer the negative ELBO.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - recon: `[B, *]`, float
        - target: `[B, *]`, the same shape
        - mu, logvar: `[B, D]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> x = torch.tensor([[1.0, 0.0]])
        >>> recon = torch.tensor([[0.0, 0.0]])  # logits: p = 0.5 for both pixels
        >>> elbo_loss(recon, x, torch.zeros(1, 3), torch.zeros(1, 3))  # 2 log 2 + 0
        tensor(1.3863)
    """
    check_reduction(reduction)
    check_choice("likelihood", likelihood, ("bernoulli", "gaussian"))
    check_number("beta", beta, low=0.0)
    check_number("free_bits", free_bits, low=0.0)
    check_tensor("recon", recon, kind="float")
    check_tensor("target", target, kind="float")
    if recon.ndim < 1:
        raise ValueError("recon: expected shape [B, *], got a scalar")
    check_same_shape("target", target, "recon", recon)
    check_shapes(recon=(recon, "B" + " *" * (recon.ndim - 1)), mu=(mu, "B D"),
                 nonempty="B" if reduction == "mean" else "")
    check_finite("target", target)
    if likelihood == "bernoulli":
        check_range("target", target, 0.0, 1.0)
        nll = F.binary_cross_entropy_with_logits(recon, target, reduction="none")
    else:
        nll = 0.5 * (recon - target).square() + 0.5 * math.log(2 * math.pi)
    nll = nll.flatten(1).sum(dim=1)
    kl = gaussian_kl(mu, logvar, reduction="none")  # validates mu and logvar
    if free_bits > 0:
        per_dim = 0.5 * (mu.square() + torch.expm1(logvar) - logvar)  # [B, D]
        kl = per_dim.mean(dim=0).clamp_min(free_bits).sum().expand_as(kl)
    return reduce(nll + beta * kl, reduction)

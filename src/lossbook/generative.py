"""GAN objectives: the original (saturating and non-saturating) losses, WGAN, gradient penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._checks import (
    check_device,
    check_finite,
    check_number,
    check_range,
    check_reduction,
    check_same_shape,
    check_tensor,
    reduce,
)

__all__ = [
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gradient_penalty",
    "wgan_critic_loss",
    "wgan_generator_loss",
]


def _check_scores(name: str, x: torch.Tensor) -> None:
    check_tensor(name, x, kind="float")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected at least one score, got shape {list(x.shape)}")
    check_finite(name, x, always=False)


def gan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The original GAN discriminator loss (Goodfellow et al. 2014): binary cross entropy with
    real labelled 1 and fake labelled 0.

    $$\mathcal L_D = -\mathbb E_x \log D(x) - \mathbb E_z \log\big(1 - D(G(z))\big),
    \qquad D = \sigma(\text{logit})$$

    Computed from logits with `softplus` ($-\log\sigma(t) = \operatorname{softplus}(-t)$), never
    from probabilities, so a confident discriminator cannot produce $\log 0$. At the optimum
    for a fixed generator, $\mathcal L_D = \log 4 - 2\,\mathrm{JSD}(p_{\text{data}} \,\|\, p_G)$.

    Args:
        real_logits: discriminator logits on real samples.
        fake_logits: discriminator logits on generated samples (any batch size).

    Shape:
        - real_logits: any shape, float
        - fake_logits: any shape, float
        - output: scalar

    Example:
        >>> gan_discriminator_loss(torch.zeros(4), torch.zeros(4))  # D = 1/2 everywhere
        tensor(1.3863)
    """
    _check_scores("real_logits", real_logits)
    _check_scores("fake_logits", fake_logits)
    check_device("fake_logits", fake_logits, "real_logits", real_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_generator_loss(fake_logits: torch.Tensor, *, saturating: bool = False) -> torch.Tensor:
    r"""The original GAN generator loss, non-saturating (default) or the minimax (saturating) form.

    $$\text{non-saturating: } -\mathbb E_z \log D(G(z)),\qquad
    \text{saturating: } \mathbb E_z \log\big(1 - D(G(z))\big)$$

    Both push $D(G(z))$ up, but with respect to the logit $t$ the saturating form has gradient
    $-\sigma(t)$, which vanishes exactly when the discriminator confidently rejects the fakes
    ($t \to -\infty$), early in training; the non-saturating form has gradient
    $-(1 - \sigma(t)) \to -1$ there. Goodfellow et al. already recommend the non-saturating form.

    Args:
        fake_logits: discriminator logits on generated samples.
        saturating: use the minimax form $\log(1 - D)$ (for demonstrations; do not train with it).

    Shape:
        - fake_logits: any shape, float
        - output: scalar

    Example:
        >>> t = torch.tensor([-6.0], requires_grad=True)  # D(G(z)) = 0.0025: D wins
        >>> gan_generator_loss(t, saturating=True).backward(); t.grad  # almost no signal
        tensor([-0.0025])
    """
    _check_scores("fake_logits", fake_logits)
    if saturating:
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(t)) = -softplus(t)
    return F.softplus(-fake_logits).mean()


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r"""Wasserstein GAN critic loss (Arjovsky et al. 2017): minimise the negative of the
    estimated Wasserstein-1 distance.

    $$\mathcal L_C = \mathbb E_{z}\, f(G(z)) - \mathbb E_{x}\, f(x)$$

    $f$ is the critic: an unbounded real score, no sigmoid. By Kantorovich-Rubinstein duality,
    $\sup_{\lVert f\rVert_L \le 1} \mathbb E_x f(x) - \mathbb E_z f(G(z)) = W_1(p_{\text{data}},
    p_G)$, so the critic must be (close to) 1-Lipschitz, or the supremum is infinite: add
    [gradient_penalty][lossbook.generative.gradient_penalty] (WGAN-GP), use spectral
    normalisation, or clip the weights (the original, crude, method).

    Args:
        real_scores: critic outputs on real samples.
        fake_scores: critic outputs on generated samples (any batch size).

    Shape:
        - real_scores: any shape, float
        - fake_scores: any shape, float
        - output: scalar

    Example:
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([-1.0]))  # -1 - 3
        tensor(-4.)
    """
    _check_scores("real_scores", real_scores)
    _check_scores("fake_scores", fake_scores)
    check_device("fake_scores", fake_scores, "real_scores", real_scores)
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    r"""Wasserstein GAN generator loss: raise the critic's score of the fakes.

    $$\mathcal L_G = -\mathbb E_z\, f(G(z))$$

    The gradient with respect to the fake score is the constant $-1/B$ per sample: it does not
    saturate however well the critic separates real from fake; the direction comes from the
    critic's (Lipschitz-bounded) gradient with respect to the sample.

    Args:
        fake_scores: critic outputs on generated samples.

    Shape:
        - fake_scores: any shape, float
        - output: scalar

    Example:
        >>> wgan_generator_loss(torch.tensor([-1.0, 3.0]))
        tensor(-1.)
    """
    _check_scores("fake_scores", fake_scores)
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    weight: float = 10.0,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty (Gulrajani et al. 2017): push the critic's gradient norm to 1
    on random interpolates between real and fake samples.

    $$\hat x = \alpha\, x_{\text{real}} + (1 - \alpha)\, x_{\text{fake}},\quad
    \alpha \sim U[0, 1],\qquad
    \mathcal L_{GP} = \lambda\, \mathbb E\big[(\lVert \nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2\big]$$

    The gradient is taken with `create_graph=True`, so the penalty back-propagates into the
    critic's parameters (a double backward). `real` and `fake` are detached: the penalty trains
    the critic only. The norm is over all non-batch dimensions of a sample. The critic must treat
    samples independently (no batch norm; the paper suggests layer norm), or the per-sample
    gradient is not what is penalised.

    Args:
        critic: maps a batch `[B, *]` to scores `[B]` or `[B, 1]`.
        real: a batch of real samples.
        fake: a batch of generated samples, same shape.
        weight: $\lambda \ge 0$; 10 in the paper.
        alpha: optional mixing coefficients in $[0, 1]$ (drawn uniformly when `None`).
        generator: random generator for `alpha`, for reproducibility.
        reduction: `"mean"` over samples, `"sum"` or `"none"`.

    Shape:
        - real: `[B, *]`, float
        - fake: `[B, *]`, the same shape
        - alpha: `[B]`
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> w = torch.tensor([3.0, 4.0])  # a linear critic: gradient w, norm 5 everywhere
        >>> gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2))  # 10*(5-1)^2
        tensor(160.)
    """
    check_reduction(reduction)
    check_number("weight", weight, low=0.0)
    if not callable(critic):
        raise TypeError(f"critic: expected a callable (e.g. an nn.Module), got {type(critic).__name__}")
    check_tensor("real", real, kind="float")
    check_tensor("fake", fake, kind="float")
    if real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"real: expected shape [B, *] with B >= 1, got {list(real.shape)}")
    check_same_shape("fake", fake, "real", real)
    batch = real.shape[0]
    if alpha is None:
        alpha = torch.rand(batch, generator=generator, dtype=real.dtype).to(real.device)
    else:
        check_tensor("alpha", alpha, kind="float")
        if alpha.shape != (batch,):
            raise ValueError(f"alpha: expected shape [{batch}] (one per sample), got {list(alpha.shape)}")
        check_range("alpha", alpha, 0.0, 1.0)
        alpha = alpha.to(device=real.device, dtype=real.dtype)
    alpha = alpha.reshape(batch, *([1] * (real.ndim - 1)))
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    if not isinstance(scores, torch.Tensor) or scores.numel() != batch:
        shape = list(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"critic: expected one score per sample ([{batch}] or [{batch}, 1]), got {shape}")
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norm = torch.linalg.vector_norm(grad.flatten(1), dim=1)
    return reduce(weight * (norm - 1).square(), reduction)

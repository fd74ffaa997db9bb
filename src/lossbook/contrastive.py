"""Contrastive and metric-learning losses: InfoNCE, triplet, pairwise contrastive, VICReg."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import (
    check_device,
    check_finite,
    check_number,
    check_reduction,
    check_same_shape,
    check_shapes,
    check_tensor,
    has_values,
    reduce,
)

__all__ = [
    "clip_loss",
    "info_nce",
    "pairwise_contrastive_loss",
    "siglip_loss",
    "triplet_loss",
    "vicreg_loss",
]


def _check_temperature(temperature: float | torch.Tensor, like: torch.Tensor):
    if isinstance(temperature, torch.Tensor):
        check_tensor("temperature", temperature, kind="float")
        if temperature.ndim != 0:
            raise ValueError(
                f"temperature: expected a scalar (0-dim) tensor, got shape {list(temperature.shape)}"
            )
        check_device("temperature", temperature, "query", like)
        if has_values(temperature) and not bool(temperature.detach() > 0):  # also rejects NaN
            raise ValueError(f"temperature: expected a value > 0, got {temperature.item()!r}")
        return temperature.to(like.dtype)
    return check_number("temperature", temperature, low=0.0, low_inclusive=False)


def info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.1,
    normalize: bool = True,
    negatives: torch.Tensor | None = None,
    symmetric: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""InfoNCE with in-batch negatives: row $i$'s positive is key $i$, every other key is a
    negative.

    $$s_{ij} = \frac{\langle q_i, k_j\rangle}{\tau},\qquad
    \ell_i = -\log \frac{\exp(s_{ii})}{\sum_{j=1}^{N} \exp(s_{ij})}
    = \operatorname{CE}\big(s_{i,:},\ i\big)$$

    Each query is an $N$-way classification over the $N$ candidate keys (one positive,
    $N-1$ negatives), so the loss is exactly cross entropy on the $[B, N]$ similarity matrix with
    labels $0, \dots, B-1$; a collapsed embedding (all similarities equal) scores exactly
    $\log N$. $\log N - \ell$ is a lower bound on the mutual information between the two views
    (van den Oord et al. 2018, §2.3), one reason why more negatives help.

    With `normalize=True` (default, as in SimCLR and CLIP) query and key are L2-normalised
    first, so $\langle q, k\rangle$ is the cosine similarity in $[-1, 1]$ and $\tau$ alone sets
    how peaked the softmax is. With `normalize=False` raw dot products are used (the embedding
    norm then acts as an extra, learnable temperature).

    Args:
        query: one embedding per sample (e.g. view 1).
        key: the positive for each query, same shape (e.g. view 2 of the same sample).
        temperature: $\tau > 0$, a float or a 0-dim tensor (a learnable temperature). CLIP
            starts from 0.07 and clips the scale $1/\tau$ at 100 (Radford et al. 2021, §2.5).
        normalize: L2-normalise `query`, `key` and `negatives` along the feature dimension.
        negatives: optional extra negative keys shared by all queries (a MoCo queue), appended
            as columns $B, \dots, B+M-1$.
        symmetric: also classify each key against all queries and average the two directions
            (CLIP's loss). Not combinable with `negatives`.
        reduction: `"mean"` over queries, `"sum"` or `"none"`.

    Shape:
        - query: `[B, D]`, float
        - key: `[B, D]`
        - negatives: `[M, D]`
        - output: scalar, or `[B]` with `reduction="none"`; float32 for float16 / bfloat16
          inputs (the similarity matrix is cast before the softmax, as autocast does)

    Example:
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> info_nce(q, q, temperature=1.0)  # log(1 + e^-1): each positive beats one negative
        tensor(0.3133)
    """
    check_reduction(reduction)
    check_tensor("query", query, kind="float")
    check_tensor("key", key, kind="float")
    check_shapes(query=(query, "B D"), key=(key, "B D"), negatives=(negatives, "M D"),
                 nonempty="B" if reduction == "mean" else "")
    if negatives is not None:
        check_tensor("negatives", negatives, kind="float")
        if symmetric:
            raise ValueError("symmetric: expected False when negatives are given, got True")
    tau = _check_temperature(temperature, query)
    check_finite("query", query, always=False)
    check_finite("key", key, always=False)
    if normalize:
        query, key = F.normalize(query, dim=-1), F.normalize(key, dim=-1)
        if negatives is not None:
            negatives = F.normalize(negatives, dim=-1)
    if negatives is not None:
        key = torch.cat([key, negatives.to(key.dtype)], dim=0)
    logits = query @ key.T  # [B, B + M]
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # softmax and the loss in float32, as autocast does
    logits = logits / tau
    labels = torch.arange(query.shape[0], device=query.device)
    loss = F.cross_entropy(logits, labels, reduction=reduction)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, labels, reduction=reduction))
    return loss


def _distance(x1: torch.Tensor, x2: torch.Tensor, p: float, eps: float) -> torch.Tensor:
    # PyTorch's pairwise_distance: || x1 - x2 + eps ||_p (eps keeps the gradient finite at 0).
    return torch.linalg.vector_norm(x1 - x2 + eps, ord=p, dim=-1)


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Triplet margin loss (FaceNet): the positive must be closer to the anchor than the
    negative, by at least the margin.

    $$\ell_i = \max\big(0,\ d(a_i, p_i) - d(a_i, n_i) + m\big),\qquad
    d(x, y) = \lVert x - y + \epsilon \rVert_p$$

    Triplets already separated by the margin give zero loss and zero gradient, which is why
    mining (semi-hard negatives: $d(a,p) < d(a,n) < d(a,p) + m$) matters in practice. With
    `swap=True` the negative's distance is the smaller of $d(a, n)$ and $d(p, n)$ (Balntas et
    al. 2016). Equal to `F.triplet_margin_loss` with the same arguments.

    Args:
        anchor: anchor embeddings.
        positive: same identity as the anchor.
        negative: a different identity.
        margin: $m > 0$.
        p: the norm degree of the distance, $p > 0$.
        eps: small constant added inside the norm (PyTorch's convention), $\ge 0$.
        swap: use the distance swap.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - anchor, positive, negative: `[B, D]`, float, the same shape
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> a = torch.zeros(1, 2)
        >>> triplet_loss(a, torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.5]]), eps=0.0)
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_number("margin", margin, low=0.0, low_inclusive=False)
    check_number("p", p, low=0.0, low_inclusive=False)
    check_number("eps", eps, low=0.0)
    for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(name, x, kind="float")
    check_shapes(anchor=(anchor, "B D"), nonempty="B" if reduction == "mean" else "")
    check_same_shape("positive", positive, "anchor", anchor)
    check_same_shape("negative", negative, "anchor", anchor)
    d_pos = _distance(anchor, positive, p, eps)
    d_neg = _distance(anchor, negative, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, _distance(positive, negative, p, eps))
    return reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def pairwise_contrastive_loss(
    x1: torch.Tensor,
    x2: torch.Tensor,
    similar: torch.Tensor,
    *,
    margin: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The original contrastive loss (Hadsell, Chopra and LeCun 2006) on labelled pairs.

    $$d_i = \lVert x_{1,i} - x_{2,i} \rVert_2,\qquad
    \ell_i = y_i\,\tfrac12 d_i^2 + (1 - y_i)\,\tfrac12 \max(0,\ m - d_i)^2$$

    Similar pairs ($y = 1$) are pulled together by a spring; dissimilar pairs ($y = 0$) are pushed
    apart only while closer than the margin $m$, after which they cost nothing; the margin keeps
    the loss bounded below. (The paper's Eq. 4 labels similar pairs $Y = 0$; here $y = 1$ means
    similar.)

    Args:
        x1: first embedding of each pair.
        x2: second embedding, same shape.
        similar: 1 / `True` for a similar pair, 0 / `False` for a dissimilar one.
        margin: $m > 0$, the distance beyond which dissimilar pairs stop mattering.
        reduction: `"mean"`, `"sum"` or `"none"`.

    Shape:
        - x1, x2: `[B, D]`, float
        - similar: `[B]`, bool or 0/1 integer
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> x1, x2 = torch.zeros(2, 2), torch.tensor([[0.6, 0.8], [0.3, 0.4]])  # d = 1, 0.5
        >>> pairwise_contrastive_loss(x1, x2, torch.tensor([1, 0]), reduction="none")
        tensor([0.5000, 0.1250])
    """
    check_reduction(reduction)
    check_number("margin", margin, low=0.0, low_inclusive=False)
    check_tensor("x1", x1, kind="float")
    check_tensor("x2", x2, kind="float")
    check_tensor("similar", similar, kind="int_or_bool")
    check_shapes(x1=(x1, "B D"), similar=(similar, "B"),
                 nonempty="B" if reduction == "mean" else "")
    check_same_shape("x2", x2, "x1", x1)
    if similar.dtype != torch.bool and has_values(similar) and bool(
        ((similar != 0) & (similar != 1)).any()
    ):
        raise ValueError(f"similar: expected 0/1 or bool values, got {similar.unique().tolist()}")
    y = similar.to(x1.dtype)
    diff = x1 - x2
    sq = diff.square().sum(-1)  # d^2 without a square root: smooth at d = 0
    d = torch.linalg.vector_norm(diff, dim=-1)
    loss = 0.5 * (y * sq + (1 - y) * (margin - d).clamp_min(0).square())
    return reduce(loss, reduction)


def _off_diagonal_sq_sum(cov: torch.Tensor) -> torch.Tensor:
    return cov.square().sum() - torch.diagonal(cov).square().sum()


def vicreg_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    *,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    r"""VICReg (Bardes, Ponce and LeCun 2022): invariance + variance + covariance, no negatives.

    $$\mathcal{L} = \lambda\,\underbrace{\tfrac{1}{BD}\lVert Z_a - Z_b\rVert_F^2}_{\text{invariance}}
    + \mu\,\big[v(Z_a) + v(Z_b)\big] + \nu\,\big[c(Z_a) + c(Z_b)\big]$$

    $$v(Z) = \frac{1}{D}\sum_{j}\max\Big(0,\ \gamma - \sqrt{\operatorname{Var}(z_{:,j}) +
    \epsilon}\Big)\cdot\tfrac12,\qquad
    c(Z) = \frac{1}{D}\sum_{j \ne k} C(Z)_{jk}^2,\quad C(Z) = \frac{(Z - \bar Z)^\top(Z - \bar
    Z)}{B - 1}$$

    Invariance matches the two views; the variance hinge keeps every feature's standard
    deviation across the batch at least $\gamma$ (so the embeddings cannot collapse to a point);
    the covariance term decorrelates the features (so they cannot collapse onto a line). The
    $\tfrac12$ on each variance term and the defaults $\lambda = \mu = 25$, $\nu = 1$ follow the
    authors' code (facebookresearch/vicreg).

    Args:
        z_a: embeddings of view A (after the expander).
        z_b: embeddings of view B, same shape.
        sim_weight: $\lambda \ge 0$, weight of the invariance (MSE) term.
        var_weight: $\mu \ge 0$, weight of the variance term.
        cov_weight: $\nu \ge 0$, weight of the covariance term.
        gamma: target standard deviation $\gamma > 0$.
        eps: $\epsilon > 0$ inside the square root (keeps the gradient finite at zero variance).

    Shape:
        - z_a, z_b: `[B, D]`, float, $B \ge 2$
        - output: scalar

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # feature 2 has collapsed to 0
        >>> vicreg_loss(z, z)  # variance term only: 25 * 2 * (1 - sqrt(1e-4)) / 2 / 2
        tensor(12.3750)
    """
    for name, w in (("sim_weight", sim_weight), ("var_weight", var_weight),
                    ("cov_weight", cov_weight)):
        check_number(name, w, low=0.0)
    check_number("gamma", gamma, low=0.0, low_inclusive=False)
    check_number("eps", eps, low=0.0, low_inclusive=False)
    check_tensor("z_a", z_a, kind="float")
    check_tensor("z_b", z_b, kind="float")
    sizes = check_shapes(z_a=(z_a, "B D"))
    check_same_shape("z_b", z_b, "z_a", z_a)
    if sizes["B"] < 2:
        raise ValueError(f"z_a: expected a batch of at least 2 (variance across the batch), got {sizes['B']}")
    batch, dim = sizes["B"], sizes["D"]
    invariance = F.mse_loss(z_a, z_b)
    variance = z_a.new_zeros(())
    covariance = z_a.new_zeros(())
    for z in (z_a, z_b):
        z = z - z.mean(dim=0)
        std = torch.sqrt(z.var(dim=0) + eps)
        variance = variance + 0.5 * F.relu(gamma - std).mean()
        cov = (z.T @ z) / (batch - 1)
        covariance = covariance + _off_diagonal_sq_sum(cov) / dim
    return sim_weight * invariance + var_weight * variance + cov_weight * covariance


def _check_scale(name: str, value: float | torch.Tensor, like: torch.Tensor, *, positive: bool):
    """A float or a 0-dim float tensor (learnable), on the embeddings' device."""
    if isinstance(value, torch.Tensor):
        check_tensor(name, value, kind="float")
        if value.ndim != 0:
            raise ValueError(f"{name}: expected a scalar (0-dim) tensor, got shape {list(value.shape)}")
        check_device(name, value, "image", like)
        if has_values(value) and not bool(value.detach() > 0 if positive else value.isfinite()):
            expected = "a value > 0" if positive else "a finite value"
            raise ValueError(f"{name}: expected {expected}, got {value.item()!r}")
        return value
    if positive:
        return check_number(name, value, low=0.0, low_inclusive=False)
    return check_number(name, value)


def _check_image_text(image: torch.Tensor, text: torch.Tensor) -> None:
    check_tensor("image", image, kind="float")
    check_tensor("text", text, kind="float")
    check_shapes(image=(image, "B D"), nonempty="B")
    check_same_shape("text", text, "image", image)
    check_finite("image", image, always=False)
    check_finite("text", text, always=False)


def _pair_logits(image, text, logit_scale, normalize):
    if normalize:
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    logits = image @ text.T  # [B, B]: row i = image i against every text
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the loss in float32, as autocast does
    return logit_scale * logits


def clip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: float | torch.Tensor = 1.0 / 0.07,
    normalize: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""CLIP's symmetric InfoNCE: classify each image against all texts of the batch, and each
    text against all images, and average the two cross entropies.

    $$s_{ij} = t\,\langle \hat x_i, \hat y_j\rangle,\qquad
    \ell_i = \tfrac12\Big[-\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
    - \log\frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\Big]$$

    $t = e^{t'}$ is the learnable logit scale (the inverse temperature; CLIP initialises
    $\tau = 0.07$ and clips $t$ at 100 in training). Every pair enters through a softmax over
    its row **and** one over its column, so the loss of one pair depends on the whole batch.
    Equal to [info_nce][lossbook.contrastive.info_nce] with `symmetric=True` and
    `temperature=1/t`.

    Args:
        image: image embeddings; row $i$ matches text $i$.
        text: text embeddings, same shape.
        logit_scale: $t > 0$, a float or a 0-dim tensor (pass `log_t.exp()` to learn it).
        normalize: L2-normalise both first (cosine similarities).
        reduction: `"mean"` over pairs, `"sum"` or `"none"` (`[B]`, one value per matched pair).

    Shape:
        - image, text: `[B, D]`, float
        - output: scalar, or `[B]` with `reduction="none"`

    Example:
        >>> x = torch.eye(2)
        >>> clip_loss(x, x, logit_scale=1.0)  # log(1 + e^-1) in both directions
        tensor(0.3133)
    """
    check_reduction(reduction)
    _check_image_text(image, text)
    scale = _check_scale("logit_scale", logit_scale, image, positive=True)
    logits = _pair_logits(image, text, scale, normalize)
    labels = torch.arange(image.shape[0], device=image.device)
    per_image = F.cross_entropy(logits, labels, reduction="none")
    per_text = F.cross_entropy(logits.T, labels, reduction="none")
    return reduce(0.5 * (per_image + per_text), reduction)


def siglip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: float | torch.Tensor = 10.0,
    logit_bias: float | torch.Tensor = -10.0,
    normalize: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SigLIP's pairwise sigmoid loss: every image-text pair of the batch is an independent
    binary classification, positive on the diagonal and negative everywhere else.

    $$z_{ij} = \begin{cases}+1 & i = j\\ -1 & i \ne j\end{cases},\qquad
    \mathcal{L} = -\frac{1}{B}\sum_{i=1}^{B}\sum_{j=1}^{B}
    \log \sigma\big(z_{ij}\,(t\,\langle \hat x_i, \hat y_j\rangle + b)\big)$$

    No softmax couples the pairs, so each term needs only its own similarity. A batch has $B$
    positives and $B^2 - B$ negatives; the learnable bias $b$ absorbs that imbalance (SigLIP
    initialises $t = e^{t'}$ with $t' = \log 10$, and $b = -10$, so at the start every pair looks
    negative: the many negatives cost almost nothing and the loss barely grows with $B$). The
    defaults are that initialisation.

    Args:
        image: image embeddings; row $i$ matches text $i$.
        text: text embeddings, same shape.
        logit_scale: $t > 0$, a float or a 0-dim tensor (pass `t_prime.exp()` to learn it).
        logit_bias: $b$, a float or a 0-dim tensor.
        normalize: L2-normalise both first.
        reduction: `"mean"` (the sum over all $B^2$ pairs divided by $B$, the paper's
            normalisation), `"sum"` over pairs, or `"none"` (`[B, B]`, one value per pair).

    Shape:
        - image, text: `[B, D]`, float
        - output: scalar, or `[B, B]` with `reduction="none"`

    Example:
        >>> x = torch.eye(2)
        >>> siglip_loss(x, x, logit_scale=1.0, logit_bias=0.0)  # softplus(-1) + softplus(0)
        tensor(1.0064)
    """
    check_reduction(reduction)
    _check_image_text(image, text)
    scale = _check_scale("logit_scale", logit_scale, image, positive=True)
    bias = _check_scale("logit_bias", logit_bias, image, positive=False)
    logits = _pair_logits(image, text, scale, normalize) + bias
    batch = image.shape[0]
    eye = torch.eye(batch, dtype=torch.bool, device=image.device)
    sign = torch.where(eye, 1.0, -1.0).to(logits.dtype)
    pair = -F.logsigmoid(sign * logits)  # [B, B]
    if reduction == "mean":
        return pair.sum() / batch
    return reduce(pair, reduction)

"""KL divergence (categorical, Gaussian) and the VAE loss, in PyTorch and NumPy."""

# --8<-- [start:kl_categorical]
import torch
import torch.nn.functional as F


def kl_categorical(logits_p, logits_q):
    # KL(P || Q) = sum_c p_c (log p_c - log q_c), per row, averaged over rows
    log_p = F.log_softmax(logits_p, dim=-1)
    log_q = F.log_softmax(logits_q, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()
# --8<-- [end:kl_categorical]


# --8<-- [start:kl_categorical_numpy]
import numpy as np


def kl_categorical_np(logits_p, logits_q):
    def log_softmax(z):
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    log_p, log_q = log_softmax(logits_p), log_softmax(logits_q)
    return (np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean()
# --8<-- [end:kl_categorical_numpy]


# --8<-- [start:vae_loss]
import torch
import torch.nn.functional as F


def gaussian_kl(mu, logvar):
    # KL(N(mu, sigma^2) || N(0, 1)), summed over latent dims: one value per sample
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    # negative ELBO: reconstruction summed over pixels + beta * KL, averaged over the batch
    rec = F.binary_cross_entropy_with_logits(recon_logits, x, reduction="none").flatten(1).sum(1)
    return (rec + beta * gaussian_kl(mu, logvar)).mean()
# --8<-- [end:vae_loss]

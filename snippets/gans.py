"""GAN losses: the original (non-saturating) pair, WGAN, and the WGAN-GP gradient penalty."""

# --8<-- [start:gan_losses]
import torch.nn.functional as F


def d_loss(real_logits, fake_logits):
    # BCE with real -> 1, fake -> 0; softplus(-t) = -log sigmoid(t), stable for any t
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss(fake_logits):
    # non-saturating: maximise log D(G(z)) instead of minimising log(1 - D(G(z)))
    return F.softplus(-fake_logits).mean()
# --8<-- [end:gan_losses]


# --8<-- [start:wgan_losses]
def critic_loss(real_scores, fake_scores):
    # the critic maximises E f(real) - E f(fake), an estimate of W1 if f is 1-Lipschitz
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores):
    return -fake_scores.mean()
# --8<-- [end:wgan_losses]


# --8<-- [start:gradient_penalty]
import torch


def gradient_penalty(critic, real, fake, weight=10.0):
    alpha = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)  # per sample
    x = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)  # keep graph: trains f
    norm = grad.flatten(1).norm(dim=1)
    return weight * ((norm - 1) ** 2).mean()
# --8<-- [end:gradient_penalty]

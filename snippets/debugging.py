"""Debugging a model that is not learning: overfit one batch, gradient norms, leaked rows."""

# --8<-- [start:overfit_one_batch]
import torch


def overfit_one_batch(model, x, y, loss_fn, steps=200, lr=1e-2):
    # A healthy model + loss + loop memorises one small batch: loss -> ~0.
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history
# --8<-- [end:overfit_one_batch]


# --8<-- [start:grad_norm]
import torch


def grad_norm(model):
    # Call after loss.backward(): L2 norm per parameter tensor, and the total.
    per_layer = {name: p.grad.norm().item()
                 for name, p in model.named_parameters() if p.grad is not None}
    total = sum(g**2 for g in per_layer.values()) ** 0.5
    return per_layer, total
# --8<-- [end:grad_norm]


# --8<-- [start:leaked_rows]
import torch


def leaked_rows(train, test):
    # True for each test row that also appears in train (exact duplicates).
    _, ids = torch.unique(torch.cat([train, test]) + 0.0, dim=0, return_inverse=True)
    return torch.isin(ids[len(train):], ids[:len(train)])
# --8<-- [end:leaked_rows]


# --8<-- [start:leaked_rows_numpy]
import numpy as np


def leaked_rows_np(train, test):
    seen = {row.tobytes() for row in np.ascontiguousarray(train + 0.0)}
    return np.array([row.tobytes() in seen for row in np.ascontiguousarray(test + 0.0)])
# --8<-- [end:leaked_rows_numpy]

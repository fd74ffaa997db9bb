"""L1 and L2 penalties, and a lasso solved by proximal gradient (ISTA)."""

# --8<-- [start:penalties]
import torch


def l1_penalty(model):
    return sum(p.abs().sum() for p in model.parameters())


def l2_penalty(model):
    return sum(p.pow(2).sum() for p in model.parameters())
# --8<-- [end:penalties]


# --8<-- [start:lasso_ista]
import numpy as np


def lasso_ista(X, y, lam, steps=500):
    # minimise 1/(2n) ||y - Xw||^2 + lam ||w||_1 (scikit-learn's Lasso objective)
    n = len(y)
    lr = n / np.linalg.norm(X, 2) ** 2  # 1 / Lipschitz constant of the smooth part
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        w = w - lr * X.T @ (X @ w - y) / n  # gradient step on the squared error
        w = np.sign(w) * np.maximum(np.abs(w) - lr * lam, 0.0)  # soft-threshold: exact zeros
    return w
# --8<-- [end:lasso_ista]

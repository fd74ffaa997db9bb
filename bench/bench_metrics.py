"""Metrics lesson: average precision and ROC-AUC on 10^6 scores against scikit-learn (equal results)."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import lossbook
from bench.common import Case

N = 1_000_000


def _inputs():
    rng = np.random.default_rng(0)
    target = rng.random(N) < 0.05  # 5% positives
    scores = np.round(rng.normal(size=N) + 1.5 * target, 3)  # ~10^4 distinct values: many ties
    return scores, target


def ours():
    scores, target = _inputs()
    s, y = torch.from_numpy(scores), torch.from_numpy(target)
    reference = average_precision_score(target, scores)
    value = lossbook.average_precision(s, y).item()
    if not math.isclose(value, reference, rel_tol=0, abs_tol=1e-12):
        raise AssertionError(f"average_precision {value!r} != scikit-learn {reference!r}")
    return lambda: lossbook.average_precision(s, y)


def sklearn_ap():
    scores, target = _inputs()
    return lambda: average_precision_score(target, scores)


def ours_auc():
    scores, target = _inputs()
    s, y = torch.from_numpy(scores), torch.from_numpy(target)
    reference = roc_auc_score(target, scores)
    value = lossbook.roc_auc(s, y).item()
    if not math.isclose(value, reference, rel_tol=0, abs_tol=1e-12):
        raise AssertionError(f"roc_auc {value!r} != scikit-learn {reference!r}")
    return lambda: lossbook.roc_auc(s, y)


def sklearn_auc():
    scores, target = _inputs()
    return lambda: roc_auc_score(target, scores)


CASES = [
    Case("average_precision N=10^6 (ties)", "lossbook.average_precision",
         "sklearn average_precision_score", ours, sklearn_ap, 0.5),
    Case("roc_auc N=10^6 (ties)", "lossbook.roc_auc", "sklearn roc_auc_score", ours_auc,
         sklearn_auc, 0.5),
]

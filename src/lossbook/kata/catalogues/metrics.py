"""The katas of the lesson `metrics.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randint, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _confusion_reference(pred, target, num_classes):
    from ... import metrics

    return metrics.confusion_matrix(pred, target, num_classes=num_classes)


def _confusion_cases() -> list[Case]:
    g = gen(41)
    return [
        Case("binary, N=12", (randint(g, 2, 12), randint(g, 2, 12), 2)),
        Case("random N=50, C=4", (randint(g, 4, 50), randint(g, 4, 50), 4)),
        Case(
            "class 3 never predicted nor present (num_classes=5)",
            (torch.tensor([0, 1, 2, 2, 4, 1]), torch.tensor([0, 2, 2, 1, 4, 1]), 5),
            hint="size the matrix from num_classes, not from the labels you happen to see.",
        ),
        Case(
            "every prediction wrong",
            (torch.tensor([1, 2, 0, 1]), torch.tensor([0, 1, 2, 0]), 3),
            hint="M[i, j] counts samples of TRUE class i predicted as class j: rows are the"
            " truth, columns the prediction.",
        ),
    ]


register(
    Kata(
        name="confusion_matrix",
        title="Confusion matrix",
        signature="confusion_matrix(pred, target, num_classes)",
        returns="a [C, C] integer tensor of counts, rows = true class, columns = predicted class",
        task=(
            "Count M[i, j], the number of samples whose true class is i and predicted class is j"
            " (scikit-learn's convention: rows are the truth). The diagonal holds the true"
            " positives of each class. Vectorise it: no Python loop over samples."
        ),
        shapes=("pred:   [N] int64 predicted classes", "target: [N] int64 true classes",
                "num_classes: int C", "output: [C, C] int64"),
        hint="Each (true, predicted) pair is one cell index true * C + pred; count them in one go.",
        library="lossbook.metrics.confusion_matrix",
        reference=_confusion_reference,
        cases=_confusion_cases,
        lesson="metrics.md#the-confusion-matrix",
        imports="import torch",
        mistakes=(
            Mistake(
                "the matrix is transposed: rows must be the true class, columns the prediction.",
                lambda pred, target, c: _confusion_reference(pred, target, c).T,
            ),
        ),
    )
)


def _prf_reference(pred, target, num_classes):
    from ... import metrics

    return metrics.precision_recall_f1(pred, target, num_classes=num_classes)


def _prf_cases() -> list[Case]:
    g = gen(43)
    return [
        Case("binary, N=20", (randint(g, 2, 20), randint(g, 2, 20), 2)),
        Case("random N=60, C=4", (randint(g, 4, 60), randint(g, 4, 60), 4)),
        Case(
            "class 2 is never predicted (0/0 precision is 0)",
            (torch.tensor([0, 1, 1, 0, 1, 0]), torch.tensor([0, 2, 1, 2, 1, 0]), 3),
            hint="TP + FP = 0 for a class that is never predicted: 0/0 is NaN in torch; define it"
            " as 0 (scikit-learn's zero_division=0), e.g. with torch.where on the denominator.",
        ),
        Case(
            "rare positive class: 2 positives in 30",
            (torch.tensor([0] * 25 + [1] * 3 + [0, 1]), torch.tensor([0] * 28 + [1, 1]), 2),
            hint="precision = TP / (TP + FP) is about the predictions; recall = TP / (TP + FN)"
            " is about the true positives.",
        ),
    ]


def _swapped_pr(pred, target, c):
    p, r, f1 = _prf_reference(pred, target, c)
    return r, p, f1


register(
    Kata(
        name="precision_recall_f1",
        title="Precision, recall and F1 per class",
        signature="precision_recall_f1(pred, target, num_classes)",
        returns="a tuple (precision, recall, f1) of [C] float tensors",
        task=(
            "From predicted and true class indices, return per-class precision TP/(TP+FP), recall"
            " TP/(TP+FN) and F1 = 2TP/(2TP+FP+FN). A ratio whose denominator is 0 (a class never"
            " predicted, or never present) is 0."
        ),
        shapes=("pred, target: [N] int64", "num_classes: int C",
                "output: (precision [C], recall [C], f1 [C]) float"),
        hint="Build the confusion matrix first: the diagonal is TP, column sums are TP + FP,"
        " row sums are TP + FN.",
        library="lossbook.metrics.precision_recall_f1",
        reference=_prf_reference,
        cases=_prf_cases,
        lesson="metrics.md#precision-recall-and-f1",
        imports="import torch",
        mistakes=(
            Mistake("precision and recall are swapped: precision divides by how often the class"
                    " was predicted (column sum), recall by how often it is true (row sum).",
                    _swapped_pr),
        ),
    )
)


def _ade_fde_reference(pred, target):
    from ... import metrics

    return metrics.min_ade(pred, target), metrics.min_fde(pred, target)


def _ade_fde_cases() -> list[Case]:
    g = gen(47)
    diag = torch.arange(10.0).repeat_interleave(2).reshape(1, 1, 10, 2)
    steady = [[2.0, 0.0]] * 3
    late = [[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]]
    return [
        Case(
            "one mode at (i, i), truth at the origin (Argoverse check: ADE 6.364, FDE sqrt(162))",
            (diag, torch.zeros(1, 10, 2)),
        ),
        Case(
            "minADE and minFDE from different modes",
            (torch.tensor([[steady, late]]), torch.zeros(1, 3, 2)),
            hint="take each minimum over the K modes independently (Waymo's convention):"
            " minADE may come from one mode and minFDE from another.",
        ),
        Case("random B=4, K=6, T=16", (randn(g, 4, 6, 16, 2, scale=3.0), randn(g, 4, 16, 2, scale=3.0))),
        Case(
            "B=3, K=2, T=5 (dimensions of different sizes)",
            (randn(g, 3, 2, 5, 2), randn(g, 3, 5, 2)),
            hint="pred is [B, K, T, 2]: the norm is over the last axis, the ADE mean over T"
            " (axis 2), the minimum over K (axis 1), then the mean over B.",
        ),
        Case(
            "gradient with respect to pred (only the best modes receive one)",
            (randn(g, 3, 4, 6, 2, scale=2.0), randn(g, 3, 6, 2, scale=2.0)),
            grad=("pred",),
        ),
    ]


register(
    Kata(
        name="ade_fde",
        title="minADE / minFDE over K predicted trajectories",
        signature="min_ade_fde(pred, target)",
        returns="a tuple (min_ade, min_fde) of scalar tensors, averaged over the batch",
        task=(
            "For each sample and each of the K predicted futures, ADE is the mean over time steps"
            " of the Euclidean distance to the logged future, FDE the distance at the last step."
            " Return minADE and minFDE (each the minimum over K, taken independently), averaged"
            " over the batch."
        ),
        shapes=("pred:   [B, K, T, 2] float", "target: [B, T, 2] float",
                "output: (min_ade [], min_fde []) in metres"),
        hint="Compute the distance tensor [B, K, T] once; ADE and FDE are two reductions of it.",
        library="lossbook.metrics.min_ade, lossbook.metrics.min_fde",
        reference=_ade_fde_reference,
        cases=_ade_fde_cases,
        lesson="metrics.md#trajectory-metrics",
        imports="import torch",
        mistakes=(
            Mistake(
                "the distances are squared; ADE/FDE are in metres, sqrt(dx^2 + dy^2).",
                lambda pred, target: (
                    (pred - target[:, None]).square().sum(-1).mean(-1).min(1).values.mean(),
                    (pred - target[:, None]).square().sum(-1)[..., -1].min(1).values.mean(),
                ),
            ),
            Mistake(
                "ADE is averaged over the modes instead of the time steps (axis 1 is K, axis 2"
                " is T).",
                lambda pred, target: (
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)
                    .mean(1).min(-1).values.mean(),
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)[..., -1]
                    .min(1).values.mean(),
                ),
            ),
            Mistake(
                "the errors are averaged over the K modes instead of taking the minimum; a"
                " multi-modal prediction is scored by its best mode.",
                lambda pred, target: (
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1).mean(),
                    torch.linalg.vector_norm(pred - target[:, None], dim=-1)[..., -1].mean(),
                ),
            ),
        ),
    )
)

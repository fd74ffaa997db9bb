"""The katas of the lesson `custom-losses.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randint, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")
classification = lazy("lossbook.classification")
trajectory = lazy("lossbook.trajectory")


def _focal_reference(logits, target, gamma, alpha):
    return classification.focal_loss(logits, target, gamma=gamma, alpha=alpha)


def _focal_cases() -> list[Case]:
    g = gen(7)
    cases = [
        Case("random logits N=8, C=5, gamma=2", (randn(g, 8, 5, scale=2.0), randint(g, 5, 8), 2.0, None)),
        Case("one sample, two classes, gamma=2", (randn(g, 1, 2), randint(g, 2, 1), 2.0, None)),
        Case("random logits N=64, C=10, gamma=0.5", (randn(g, 64, 10, scale=3.0), randint(g, 10, 64), 0.5, None)),
        Case(
            "gamma=0 (must equal plain cross entropy)",
            (randn(g, 16, 4), randint(g, 4, 16), 0.0, None),
            hint="with gamma=0 the modulating factor (1 - p_t)^0 is 1: focal loss is cross entropy.",
        ),
    ]
    alpha = torch.tensor([0.25, 1.0, 4.0, 0.5])
    cases.append(
        Case(
            "per-class alpha = [0.25, 1, 4, 0.5], N=32",
            (randn(g, 32, 4, scale=2.0), randint(g, 4, 32), 2.0, alpha),
            hint="with alpha, the mean divides by sum(alpha[target]) (as F.cross_entropy(weight=)"
            " does), not by N, so gamma=0 gives weighted cross entropy exactly.",
        )
    )
    extreme = torch.tensor([[200.0, -200.0, 0.0], [-200.0, 200.0, 0.0], [0.0, 0.0, 0.0]])
    cases.append(
        Case(
            "extreme logits (+-200, the true class the least likely)",
            (extreme, torch.tensor([1, 0, 2]), 2.0, None),
            hint="log(softmax(z)) underflows to log(0) = -inf for a very wrong class; take"
            " log p_t from log_softmax or F.cross_entropy, which stay finite.",
        )
    )
    sure = torch.tensor([[200.0, -200.0, -200.0], [1.0, 0.0, -1.0]])
    cases.append(
        Case(
            "p_t = 1 exactly with gamma=0.5: the gradient must stay finite",
            (sure, torch.tensor([0, 2]), 0.5, None),
            grad=("logits",),
            hint="d/dp (1 - p)^gamma is infinite at p = 1 when gamma < 1, and 0 * inf = NaN;"
            " clamp 1 - p_t away from 0 (e.g. clamp_min(1e-12)) before the power.",
        )
    )
    cases.append(
        Case(
            "gradient with respect to the logits, N=6, C=4, alpha",
            (randn(g, 6, 4, scale=2.0), randint(g, 4, 6), 2.0, alpha),
            grad=("logits",),
        )
    )
    return cases


register(
    Kata(
        name="focal_loss",
        title="Focal loss (softmax, multi-class)",
        signature="focal_loss(logits, target, gamma=2.0, alpha=None)",
        returns="the mean focal loss over the batch, a scalar tensor",
        task=(
            "Implement the multi-class focal loss of Lin et al. (2017): the cross entropy of each"
            " sample scaled by (1 - p_t)^gamma, where p_t is the softmax probability of the true"
            " class. alpha is None or a tensor of per-class weights; with alpha the mean divides"
            " by the sum of alpha[target] (the convention of F.cross_entropy(weight=)), without"
            " it by N. It must stay finite for extreme logits and have a finite gradient at"
            " p_t = 1."
        ),
        shapes=(
            "logits: [N, C] float, unnormalised scores",
            "target: [N] int64, class indices in [0, C)",
            "alpha:  [C] float or None",
            "output: [] scalar",
        ),
        hint=(
            "Get log p_t in one numerically stable step, and p_t from it; the modulating factor"
            " then scales each sample's cross entropy. Never take the log of a softmax."
        ),
        library="lossbook.focal_loss",
        reference=_focal_reference,
        cases=_focal_cases,
        lesson="custom-losses.md#focal-loss",
        mistakes=(
            Mistake(
                "the result is plain cross entropy: the modulating factor (1 - p_t)^gamma is"
                " missing.",
                lambda logits, target, gamma, alpha: classification.weighted_cross_entropy(
                    logits, target, alpha
                ),
            ),
            Mistake(
                "the alpha-weighted losses are averaged over N; divide by sum(alpha[target])"
                " instead, so that gamma=0 is weighted cross entropy.",
                lambda logits, target, gamma, alpha: (
                    alpha[target]
                    * classification.focal_loss(logits, target, gamma=gamma, reduction="none")
                ).mean(),
            ),
            Mistake(
                "the losses are summed; the kata asks for the mean.",
                lambda logits, target, gamma, alpha: classification.focal_loss(
                    logits, target, gamma=gamma, alpha=alpha, reduction="sum"
                ),
            ),
            Mistake(
                "the factor uses p_t^gamma; it is (1 - p_t)^gamma, small for easy examples.",
                lambda logits, target, gamma, alpha: (
                    -torch.exp(-torch.nn.functional.cross_entropy(logits, target, reduction="none"))
                    .pow(gamma)
                    * -torch.nn.functional.cross_entropy(logits, target, reduction="none")
                ).mean(),
            ),
        ),
    )
)


def _wce_reference(logits, target, class_weights):
    return classification.weighted_cross_entropy(logits, target, class_weights)


def _wce_cases() -> list[Case]:
    g = gen(11)
    w3 = torch.tensor([0.2, 1.0, 5.0])
    cases = [
        Case("random N=8, C=3, weights [0.2, 1, 5]", (randn(g, 8, 3), randint(g, 3, 8), w3)),
        Case("equal weights (plain cross entropy), N=20, C=6",
             (randn(g, 20, 6, scale=2.0), randint(g, 6, 20), torch.ones(6))),
        Case(
            "rare class weighted x50, N=64, C=2",
            (randn(g, 64, 2), (torch.rand(64, generator=g) < 0.1).long(), torch.tensor([0.5051, 50.0])),
            hint="the mean is sum(w[y_i] * ce_i) / sum(w[y_i]), not / N: that is what"
            " F.cross_entropy(weight=) returns.",
        ),
    ]
    padded = randint(g, 3, 10)
    padded[[2, 7]] = -100
    cases.append(
        Case(
            "targets with -100 (padding, to be ignored), N=10",
            (randn(g, 10, 3), padded, w3),
            hint="-100 is F.cross_entropy's default ignore_index: padded rows contribute nothing"
            " to the sum nor to the denominator.",
        )
    )
    cases.append(
        Case("extreme logits (+-300)", (torch.tensor([[300.0, -300.0, 0.0], [0.0, 300.0, -300.0]]),
                                        torch.tensor([1, 2]), w3),
             hint="use log_softmax / F.cross_entropy, never log(softmax(z))."))
    cases.append(Case("gradient with respect to the logits", (randn(g, 5, 3), randint(g, 3, 5), w3),
                      grad=("logits",)))
    return cases


register(
    Kata(
        name="weighted_cross_entropy",
        title="Weighted cross entropy (the one-line call, and what its mean means)",
        signature="weighted_cross_entropy(logits, target, class_weights)",
        returns="the weighted mean cross entropy, a scalar tensor",
        task=(
            "Return the class-weighted cross entropy as PyTorch defines it: each sample's cross"
            " entropy times the weight of its true class, summed, divided by the sum of the"
            " weights of the targets. Targets equal to -100 are padding and are ignored."
        ),
        shapes=(
            "logits:        [N, C] float",
            "target:        [N] int64 in [0, C), or -100 to ignore",
            "class_weights: [C] float, non-negative",
            "output:        [] scalar",
        ),
        hint="One call to F.cross_entropy does all of it, if you pass the weights by keyword.",
        library="lossbook.weighted_cross_entropy",
        reference=_wce_reference,
        cases=_wce_cases,
        lesson="custom-losses.md#weighted-cross-entropy",
        mistakes=(
            Mistake(
                "the weighted losses are averaged over N; F.cross_entropy(weight=) divides by the"
                " sum of the target weights.",
                lambda logits, target, w: classification.weighted_cross_entropy(
                    logits, target, w, reduction="sum"
                ) / (target != -100).sum(),
            ),
            Mistake(
                "the class weights are not applied (plain cross entropy).",
                lambda logits, target, w: classification.weighted_cross_entropy(logits, target),
            ),
        ),
    )
)


def _class_weights_reference(counts, scheme, beta):
    return classification.class_weights(counts, scheme=scheme, beta=beta)


def _class_weights_cases() -> list[Case]:
    return [
        Case("inverse, counts [990, 10]", (torch.tensor([990, 10]), "inverse", 0.999)),
        Case("inverse, five classes", (torch.tensor([500, 120, 40, 9, 1]), "inverse", 0.999)),
        Case("sqrt_inverse, five classes", (torch.tensor([500, 120, 40, 9, 1]), "sqrt_inverse", 0.999)),
        Case(
            "effective_number, beta=0.99",
            (torch.tensor([500, 120, 40, 9, 1]), "effective_number", 0.99),
            hint="effective number of samples (Cui et al. 2019): raw weight (1 - beta) /"
            " (1 - beta^n_c), then the same normalisation.",
        ),
        Case("balanced counts give weights of 1", (torch.tensor([7, 7, 7]), "inverse", 0.999),
             hint="normalise so that the weights average 1 over the samples:"
             " w = raw * N / sum(n_c * raw_c)."),
    ]


register(
    Kata(
        name="class_weights",
        title="Class weights from class counts",
        signature="class_weights(counts, scheme='inverse', beta=0.999)",
        returns="a float tensor of per-class weights that average 1 over the samples",
        task=(
            "Turn class counts into per-class loss weights. scheme is 'inverse' (1/n_c),"
            " 'sqrt_inverse' (1/sqrt(n_c)) or 'effective_number' ((1 - beta)/(1 - beta^n_c)), then"
            " scale the raw weights so that the average weight over the training samples is 1:"
            " sum_c n_c w_c = sum_c n_c. The loss then keeps the scale of plain cross entropy."
        ),
        shapes=("counts: [C] int, all positive", "output: [C] float"),
        hint="Compute raw weights in float64, then multiply by N / sum(n_c * raw_c).",
        library="lossbook.class_weights",
        reference=_class_weights_reference,
        cases=_class_weights_cases,
        lesson="custom-losses.md#choosing-the-weights",
        mistakes=(
            Mistake(
                "the raw weights are not normalised; scale them so they average 1 over the"
                " samples (the loss keeps its scale and the learning rate stays right).",
                lambda counts, scheme, beta: 1.0 / counts.double()
                if scheme == "inverse" else counts.double().rsqrt(),
            ),
            Mistake(
                "the weights are normalised to average 1 over the classes; average them over"
                " the samples instead: sum_c n_c w_c = N.",
                lambda counts, scheme, beta: (1.0 / counts.double())
                / (1.0 / counts.double()).mean(),
            ),
        ),
    )
)


def _wta_reference(pred, mode_logits, target, cls_weight):
    return trajectory.wta_trajectory_loss(pred, mode_logits, target, cls_weight=cls_weight)


def _wta_cases() -> list[Case]:
    g = gen(23)
    cases = [
        Case("random B=4, K=3, T=5", (randn(g, 4, 3, 5, 2), randn(g, 4, 3), randn(g, 4, 5, 2), 1.0)),
        Case("B=2, K=6, T=12, cls_weight=0.5",
             (randn(g, 2, 6, 12, 2, scale=3.0), randn(g, 2, 6), randn(g, 2, 12, 2, scale=3.0), 0.5)),
        Case("a single mode (K=1)", (randn(g, 3, 1, 4, 2), randn(g, 3, 1), randn(g, 3, 4, 2), 1.0)),
    ]
    target = randn(g, 2, 6, 2, scale=4.0)
    pred = randn(g, 2, 3, 6, 2, scale=4.0)
    pred[0, 2] = target[0]
    pred[1, 0] = target[1] + 0.1
    cases.append(
        Case(
            "one mode is (almost) exactly right",
            (pred, randn(g, 2, 3), target, 1.0),
            hint="only the closest mode (the winner) is regressed; the mode classifier's target"
            " is the winner's index.",
        )
    )
    far = randn(g, 2, 4, 8, 2)
    far[:, 1:] += 50.0  # three modes far away: averaging over modes is visibly wrong
    cases.append(
        Case(
            "three of four modes far away",
            (far, randn(g, 2, 4), randn(g, 2, 8, 2), 1.0),
            hint="take the minimum over modes of the per-mode error; averaging over modes pulls"
            " every mode to the mean of the futures (the collapse WTA avoids).",
        )
    )
    cases.append(
        Case(
            "gradients with respect to pred and mode_logits",
            (randn(g, 3, 4, 6, 2), randn(g, 3, 4), randn(g, 3, 6, 2), 1.0),
            grad=("pred", "mode_logits"),
            hint="only the winning mode gets a regression gradient; the cross entropy over modes"
            " gives every mode logit a gradient.",
        )
    )
    return cases


register(
    Kata(
        name="wta_trajectory_loss",
        title="Multi-modal trajectory loss (winner-takes-all + mode classification)",
        signature="wta_loss(pred, mode_logits, target, cls_weight=1.0)",
        returns="the loss averaged over the batch, a scalar tensor",
        task=(
            "A model predicts K candidate futures and a score per mode. For each sample, the"
            " winner is the mode with the smallest mean (over time steps) squared L2 error to the"
            " logged future. The loss is that error of the winner plus cls_weight times the cross"
            " entropy of the mode logits with the winner as the class, averaged over the batch."
        ),
        shapes=(
            "pred:        [B, K, T, 2] float, K futures of T (x, y) points",
            "mode_logits: [B, K] float",
            "target:      [B, T, 2] float",
            "output:      [] scalar",
        ),
        hint=(
            "Score every mode by its error against the logged future, pick the best mode per"
            " sample (the choice itself has no gradient), regress only that mode, and train the"
            " mode scores as a classifier whose label is the winner."
        ),
        library="lossbook.wta_trajectory_loss",
        reference=_wta_reference,
        cases=_wta_cases,
        lesson="custom-losses.md#winner-takes-all-multi-modal-loss",
        mistakes=(
            Mistake(
                "the error is averaged over the K modes instead of taking the winner: every mode"
                " is pulled to the mean future, the collapse WTA exists to avoid.",
                lambda pred, logits, target, w: (
                    (pred - target[:, None]).square().sum(-1).mean(-1).mean(-1)
                    + w * torch.nn.functional.cross_entropy(
                        logits, (pred - target[:, None]).square().sum(-1).mean(-1).argmin(1)
                    )
                ).mean(),
            ),
            Mistake(
                "the squared error is summed over time; the kata (and the library) average it"
                " over steps, so that cls_weight means the same at any horizon.",
                lambda pred, logits, target, w: trajectory.wta_trajectory_loss(
                    pred, logits, target, cls_weight=0.0, reduction="none"
                ).mul(target.shape[1]).mean()
                + w * torch.nn.functional.cross_entropy(
                    logits, (pred - target[:, None]).square().sum(-1).mean(-1).argmin(1)
                ),
            ),
            Mistake(
                "the mode classification term is missing.",
                lambda pred, logits, target, w: trajectory.wta_trajectory_loss(
                    pred, logits, target, cls_weight=0.0
                ),
            ),
        ),
    )
)


def _mixture_reference(pred, log_sigma, mode_logits, target):
    return trajectory.mixture_nll(pred, log_sigma, mode_logits, target)


def _mixture_cases() -> list[Case]:
    g = gen(31)
    cases = [
        Case("random B=4, K=3, T=5", (randn(g, 4, 3, 5, 2), randn(g, 4, 3, 5, 2, scale=0.3),
                                       randn(g, 4, 3), randn(g, 4, 5, 2))),
        Case("a single mode (K=1): a plain Gaussian NLL",
             (randn(g, 2, 1, 6, 2), randn(g, 2, 1, 6, 2, scale=0.3), randn(g, 2, 1), randn(g, 2, 6, 2))),
    ]
    cases.append(
        Case(
            "every mode 100 m from the target (likelihoods underflow)",
            (randn(g, 2, 3, 8, 2) + 100.0, torch.zeros(2, 3, 8, 2), randn(g, 2, 3), randn(g, 2, 8, 2)),
            hint="stay in log space: logsumexp over modes of log_softmax(mode_logits) + the"
            " per-mode log-likelihood; exp(log_lik) underflows to 0 and log(0) = -inf.",
        )
    )
    cases.append(
        Case(
            "gradients with respect to pred, log_sigma and mode_logits",
            (randn(g, 3, 2, 4, 2), randn(g, 3, 2, 4, 2, scale=0.3), randn(g, 3, 2), randn(g, 3, 4, 2)),
            grad=("pred", "log_sigma", "mode_logits"),
        )
    )
    return cases


register(
    Kata(
        name="mixture_nll",
        title="Gaussian mixture NLL over K trajectory modes",
        signature="mixture_nll(pred, log_sigma, mode_logits, target)",
        returns="the negative log-likelihood averaged over the batch, a scalar tensor",
        task=(
            "Each mode k is a product of independent Gaussians over steps and coordinates, mean"
            " pred[:, k] and standard deviation exp(log_sigma[:, k]); the mixture weights are"
            " softmax(mode_logits). Return -log p(target) averaged over the batch, computed"
            " without ever leaving log space."
        ),
        shapes=(
            "pred, log_sigma: [B, K, T, 2] float",
            "mode_logits:     [B, K] float",
            "target:          [B, T, 2] float",
            "output:          [] scalar",
        ),
        hint=(
            "Work with log-probabilities throughout: a mode's log-likelihood is a sum of Gaussian"
            " log-densities over steps and coordinates, and mixing the modes is a logsumexp of"
            " log weight plus log-likelihood."
        ),
        library="lossbook.mixture_nll",
        reference=_mixture_reference,
        cases=_mixture_cases,
        lesson="custom-losses.md#mixture-negative-log-likelihood",
    )
)

def _sigmoid_focal_reference(logits, target, alpha, gamma):
    return classification.sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma)


def _sigmoid_focal_cases() -> list[Case]:
    g = gen(5)
    x = torch.log(torch.tensor([9.0]))
    return [
        Case("p = 0.9 on a positive (torchvision check value 2.634e-4)",
             (x, torch.tensor([1.0]), 0.25, 2.0)),
        Case("random multi-label N=8, C=5",
             (randn(g, 8, 5, scale=2.0), (torch.rand(8, 5, generator=g) < 0.3).float(), 0.25, 2.0)),
        Case(
            "alpha=-1 disables the class balancing, gamma=1",
            (randn(g, 6, 3), (torch.rand(6, 3, generator=g) < 0.5).float(), -1.0, 1.0),
            hint="a negative alpha means no alpha_t factor at all (torchvision's convention).",
        ),
        Case(
            "extreme logits (+-100)",
            (torch.tensor([[100.0, -100.0], [-100.0, 100.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
             0.25, 2.0),
            hint="take the cross entropy from F.binary_cross_entropy_with_logits (stable), not"
            " log(sigmoid(x)), which is log(0) for a very wrong logit.",
        ),
        Case("gradient with respect to the logits",
             (randn(g, 4, 3), (torch.rand(4, 3, generator=g) < 0.5).float(), 0.25, 2.0),
             grad=("logits",)),
    ]


register(
    Kata(
        name="sigmoid_focal_loss",
        title="Sigmoid focal loss (binary / multi-label, RetinaNet)",
        signature="sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0)",
        returns="the focal loss averaged over every element, a scalar tensor",
        task=(
            "Implement torchvision's sigmoid focal loss: per element, p = sigmoid(x), p_t = p if"
            " the target is 1 else 1 - p, loss = alpha_t (1 - p_t)^gamma BCE(x, y) with alpha_t ="
            " alpha for positives and 1 - alpha for negatives; a negative alpha disables alpha_t."
            " Average over all elements."
        ),
        shapes=("logits: [N, C] float (any shape)", "target: same shape, 0./1. floats",
                "output: [] scalar"),
        hint="Start from the per-element BCE with logits; p_t and alpha_t are blends of the"
        " positive and negative cases weighted by the target.",
        library="lossbook.sigmoid_focal_loss",
        reference=_sigmoid_focal_reference,
        cases=_sigmoid_focal_cases,
        lesson="custom-losses.md#multi-label-and-detection-the-sigmoid-form",
        mistakes=(
            Mistake(
                "alpha is applied to every element; alpha_t is alpha on positives and 1 - alpha"
                " on negatives.",
                lambda x, y, alpha, gamma: alpha
                * classification.sigmoid_focal_loss(x, y, alpha=-1.0, gamma=gamma),
            ),
            Mistake(
                "the modulating factor (1 - p_t)^gamma is missing.",
                lambda x, y, alpha, gamma: classification.sigmoid_focal_loss(
                    x, y, alpha=alpha, gamma=0.0
                ),
            ),
        ),
    )
)

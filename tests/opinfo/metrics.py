"""lossbook.metrics."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, classes, rand, randn, set_first

K, T = 3, 4
_SIZE = "its output size depends on the data ({})"


def _labels(g, b, **kwargs):
    n = 2 * b + 2 if b else 0
    return S(classes(g, n, n=3), torch.arange(n) % 3, **kwargs)


def _binary(g, b, dt):
    """Scores and labels with both classes present."""
    n = b + 3 if b else 0
    return S(randn(g, n, dt=dt), torch.arange(n) % 2)


def _probs(g, b, dt):
    n = 2 * b + 2 if b else 0
    return S(torch.softmax(randn(g, n, 3, dt=dt, scale=2.0), dim=1), classes(g, n, n=3), n_bins=4)


def _logits(g, b, dt):
    """Mostly, not always, right: a finite temperature exists."""
    n = 4 * b + 4 if b else 0
    target = classes(g, n, n=3)
    logits = randn(g, n, 3, dt=dt, scale=2.0)
    logits[torch.arange(n), target] += 1.5
    return S(logits, target)


def _modes(g, b, dt, **kwargs):
    return S(randn(g, b, K, T, 2, dt=dt), randn(g, b, T, 2, dt=dt), **kwargs)


LABEL_ERRORS = [
    E("target", r"\[0, 2\].*got 5", {"target": lambda a: set_first(5)(a["target"]), "num_classes": 3}),
    E("pred", "got -1", {"pred": lambda a: set_first(-1)(a["pred"])}),
    E("num_classes", "got 0", {"num_classes": 0}),
    E("pred", r"torch\.float32", {"pred": lambda a: a["pred"].float()}, TypeError),
]
BINARY_ERRORS = [
    E("target", "value 2", {"target": lambda a: set_first(2)(a["target"])}),
    E("target", r"torch\.float32", {"target": lambda a: a["target"].float()}, TypeError),
    E("target", "positive", {"target": lambda a: torch.zeros_like(a["target"])}),
]
PROB_ERRORS = [
    E("probs", r"\[0, 1\].*1\.5", {"probs": lambda a: set_first(1.5)(a["probs"])}),
    E("probs", "sums to", {"probs": lambda a: a["probs"] * 0.5}),
    E("target", r"\[0, 2\].*got 3", {"target": lambda a: set_first(3)(a["target"])}),
    E("n_bins", "got 0", {"n_bins": 0}),
]
MODE_MASK = E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())})

ENTRIES = [
    OpInfo(lossbook.confusion_matrix, sample=lambda g, b, dt: _labels(g, b), errors=LABEL_ERRORS,
           empty="target", meta=_SIZE.format("the number of classes, when not given")),
    OpInfo(
        lossbook.precision_recall_f1,
        sample=lambda g, b, dt: _labels(g, b, average="macro"),
        errors=[*LABEL_ERRORS, E("average", "'samples'", {"average": "samples"}),
                E("zero_division", r"1\.5", {"zero_division": 1.5})],
        empty="target",
        meta=_SIZE.format("the number of classes, when not given"),
    ),
    *(
        OpInfo(fn, sample=_binary, nan=("scores",), errors=BINARY_ERRORS, empty="scores",
               meta=_SIZE.format("one point per distinct score"))
        for fn in (lossbook.precision_recall_curve, lossbook.average_precision)
    ),
    *(
        OpInfo(fn, sample=_binary, nan=("scores",),
               errors=[*BINARY_ERRORS,
                       E("target", "negative", {"target": lambda a: torch.ones_like(a["target"])})],
               empty="scores", meta=_SIZE.format("one point per distinct score"),
               finite=fn is not lossbook.roc_curve)  # its first threshold is +inf (sklearn's)
        for fn in (lossbook.roc_curve, lossbook.roc_auc)
    ),
    *(
        OpInfo(fn, sample=_probs, errors=PROB_ERRORS, empty="probs",
               meta=_SIZE.format("bin counts by torch.bincount"))
        for fn in (lossbook.reliability_bins, lossbook.expected_calibration_error)
    ),
    OpInfo(  # the binary form: probs [N] of the positive class
        lossbook.expected_calibration_error,
        name="expected_calibration_error",
        sample=lambda g, b, dt: S(rand(g, b + 2, dt=dt), torch.arange(b + 2) % 2),
        errors=[E("target", "value 2", {"target": lambda a: set_first(2)(a["target"])})],
        nan=("probs",),
        any_shape=("probs",),  # [N, 1] is the multi-class form, refused by its row sums
        empty=None,
        meta=_SIZE.format("bin counts by torch.bincount"),
    ),
    OpInfo(
        lossbook.fit_temperature,
        sample=lambda g, b, dt: _logits(g, b, dt),
        nan=("logits",),
        errors=[
            E("target", r"\[0, 2\].*got 3", {"target": lambda a: set_first(3)(a["target"])}),
            E("max_iter", "got 0", {"max_iter": 0}),
            E("logits", "ranks its true class first",
              {"logits": lambda a: torch.nn.functional.one_hot(a["target"], 3).float()}),
            E("logits", "no higher than average",
              {"logits": lambda a: -torch.nn.functional.one_hot(a["target"], 3).float()}),
        ],
        empty="logits",
        meta="returns the temperature as a Python float (a root search that reads the data)",
    ),
    OpInfo(
        lossbook.min_ade,
        sample=lambda g, b, dt: _modes(g, b, dt, mask=bools(g, b, T), mode="argoverse"),
        grad=("pred",),
        nan=("target", "pred"),
        errors=[E("mode", "'nuscenes'", {"mode": "nuscenes"}), MODE_MASK],
        empty="pred",
        mean_over=lambda a: (a["mask"].sum(dim=1) > 0).sum(),
    ),
    OpInfo(lossbook.min_fde, sample=lambda g, b, dt: _modes(g, b, dt), grad=("pred",),
           nan=("target",), empty="pred"),
    OpInfo(lossbook.miss_rate, sample=lambda g, b, dt: _modes(g, b, dt, threshold=1.5),
           nan=("target",), errors=[E("threshold", r"-1\.0", {"threshold": -1.0})], empty="pred"),
    OpInfo(
        lossbook.brier_min_fde,
        sample=lambda g, b, dt: S(randn(g, b, K, T, 2, dt=dt),
                                  torch.softmax(randn(g, b, K, dt=dt), dim=1),
                                  randn(g, b, T, 2, dt=dt)),
        grad=("pred", "probs"),
        nan=("target",),
        errors=[
            E("probs", "sums to", {"probs": lambda a: a["probs"] * 0.5}),
            E("probs", r"\[0, 1\].*1\.5", {"probs": lambda a: set_first(1.5)(a["probs"])}),
        ],
        empty="pred",
    ),
    OpInfo(
        lossbook.waymo_miss_thresholds,
        sample=lambda g, b, dt: S(rand(g, b, dt=dt, high=15.0), seconds=5),
        grad=("speed",),
        nan=("speed",),
        errors=[E("seconds", "got 4", {"seconds": 4}),
                E("speed", r"-1\.0", {"speed": lambda a: set_first(-1.0)(a["speed"])})],
        empty=OK,
    ),
    OpInfo(
        lossbook.waymo_miss_rate,
        sample=lambda g, b, dt: S(randn(g, b, K, 2, dt=dt, scale=3.0), randn(g, b, 2, dt=dt),
                                  randn(g, b, dt=dt), rand(g, b, dt=dt, high=15.0)),
        nan=("target", "heading", "speed"),
        errors=[E("seconds", "got 4", {"seconds": 4})],
        empty="pred",
    ),
    OpInfo(
        lossbook.precision_at_k,
        sample=lambda g, b, dt: S(randn(g, b, 5, dt=dt), classes(g, b, 5, n=2), k=3),
        errors=[
            E("k", "got 0", {"k": 0}),
            E("k", "got 6", {"k": 6}),
            E("relevance", r"0\.5", {"relevance": lambda a: set_first(0.5)(a["relevance"].float())}),
            E("scores", r"\[2, 0\]", {"scores": torch.zeros(2, 0), "relevance": torch.zeros(2, 0),
                                      "k": 1}),  # no item to rank
        ],
        int_ok=("relevance",),
        empty="scores",
    ),
    OpInfo(
        lossbook.ndcg,
        sample=lambda g, b, dt: S(randn(g, b, 5, dt=dt), classes(g, b, 5, n=4).float(), k=3,
                                  gain="exponential"),
        nan=("relevance",),
        errors=[
            E("k", "got 0", {"k": 0}),
            E("gain", "'log'", {"gain": "log"}),
            E("relevance", r"-1\.0", {"relevance": lambda a: set_first(-1.0)(a["relevance"])}),
        ],
        int_ok=("relevance",),
        empty="scores",
    ),
]


# ------------------------------------------------------------------------------ detection


def _boxes(g, n, dt=torch.float32):
    xy = rand(g, n, 2, dt=torch.float64, high=8.0)
    wh = rand(g, n, 2, dt=torch.float64, low=1.0, high=4.0)
    return torch.cat([xy, xy + wh], dim=1).to(dt)


def _flip_first(name):
    """The first box with x2 < x1."""
    def change(a):
        x = a[name].clone()
        x[0, 2] = x[0, 0] - 1
        return x
    return change


def _ranked(g, b, dt):
    hits = torch.rand(b + 2, generator=g) < 0.6
    hits[0] = True
    tp = torch.cumsum(hits, 0).to(torch.float64)
    return S((tp / torch.arange(1, b + 3)).to(dt), (tp / (b + 3)).to(dt), method="coco")


def _detections(g, b, dt):
    n_gt = b + 2
    gt = _boxes(g, n_gt, dt)
    dets = (gt[: max(b, 0)] + rand(g, max(b, 0), 4, dt=torch.float64, high=0.3).to(dt)) if b else gt[:0]
    return S(dets, rand(g, b, dt=dt), gt, pred_images=torch.arange(b) % 2,
             gt_images=torch.arange(n_gt) % 2, pred_labels=torch.arange(b) % 2,
             gt_labels=torch.arange(n_gt) % 2, iou_thresholds=[0.5, 0.75], method="coco")


_GREEDY = "greedy matching reads the IoUs one detection at a time"

ENTRIES += [
    OpInfo(
        lossbook.box_iou,
        sample=lambda g, b, dt: S(_boxes(g, b, dt), _boxes(g, b + 1, dt)),
        grad=("boxes1", "boxes2"),
        nan=("boxes1", "boxes2"),
        free_size=("boxes2",),
        errors=[E("boxes1", "x2 >= x1", {"boxes1": lambda a: _flip_first("boxes1")(a)}),
                E("boxes2", "x2 >= x1", {"boxes2": lambda a: _flip_first("boxes2")(a)})],
        empty=OK,
    ),
    OpInfo(
        lossbook.match_detections,
        sample=lambda g, b, dt: S(_boxes(g, b, dt), rand(g, b, dt=dt), _boxes(g, b + 1, dt),
                                  iou_threshold=0.3),
        nan=("scores", "gt_boxes"),
        free_size=("gt_boxes",),
        errors=[E("iou_threshold", "got 0.0", {"iou_threshold": 0.0}),
                E("iou_threshold", "got 1.5", {"iou_threshold": 1.5}),
                E("pred_boxes", "x2 >= x1", {"pred_boxes": lambda a: _flip_first("pred_boxes")(a)})],
        empty=OK,
        meta=_GREEDY,
    ),
    OpInfo(
        lossbook.interpolated_average_precision,
        sample=_ranked,
        nan=("precision", "recall"),
        errors=[E("method", "'11point'", {"method": "11point"}),
                E("recall", "non-decreasing", {"recall": lambda a: a["recall"].flip(0)}),
                E("precision", r"1\.5", {"precision": lambda a: set_first(1.5)(a["precision"])})],
        empty=OK,
        meta="its value checks read the data (recall must not decrease)",
    ),
    OpInfo(
        lossbook.detection_average_precision,
        sample=_detections,
        nan=("scores", "gt_boxes"),
        free_size=("gt_boxes",),
        errors=[
            E("iou_thresholds", "got 0.0", {"iou_thresholds": [0.5, 0.0]}),
            E("iou_thresholds", "empty", {"iou_thresholds": []}),
            E("method", "'voc'", {"method": "voc"}),
            E("max_detections", "got 0", {"max_detections": 0}),
            E("gt_labels", "got -1", {"gt_labels": lambda a: set_first(-1)(a["gt_labels"])}),
            E("pred_images", "gt_images", {"pred_images": None}),
            E("gt_boxes", r"\[0, 4\]", {"gt_boxes": torch.zeros(0, 4), "gt_images": torch.zeros(0, dtype=torch.long),
                                        "gt_labels": torch.zeros(0, dtype=torch.long)}),
        ],
        empty=OK,
        meta=_GREEDY,
    ),
]


# ------------------------------------------------------------------------------ uncertainty


def _recall_sample(g, b, dt):
    n = 4 * b + 4 if b else 0
    return S(classes(g, n, n=2), torch.ones(n, dtype=torch.long), groups=torch.arange(n) // 2,
             n_resamples=50)


ENTRIES += [
    OpInfo(
        lossbook.bootstrap_recall_ci,
        sample=_recall_sample,
        errors=[
            E("target", "value 2", {"target": lambda a: set_first(2)(a["target"])}),
            E("target", "got none", {"target": lambda a: torch.zeros_like(a["target"])}),
            E("groups", "all in one", {"groups": lambda a: torch.zeros_like(a["groups"])}),
            E("groups", r"torch\.float32", {"groups": lambda a: a["groups"].float()}, TypeError),
            E("confidence", "got 1.0", {"confidence": 1.0}),
            E("n_resamples", "got 0", {"n_resamples": 0}),
            E("seed", "float", {"seed": 1.5}, TypeError),
        ],
        int_ok=("pred", "target", "groups"),
        empty="target",
        meta="draws its resamples from a generator on the data's device (there is no meta generator)",
    ),
    OpInfo(
        lossbook.calibration_error,
        sample=lambda g, b, dt: S(*_probs(g, b, dt).args, n_bins=4, binning="mass", classwise=True),
        errors=[*PROB_ERRORS, E("binning", "'quantile'", {"binning": "quantile"}),
                E("classwise", "str", {"classwise": "yes"}, TypeError)],
        empty="probs",
    ),
    OpInfo(
        lossbook.brier_score,
        sample=lambda g, b, dt: S(*_probs(g, b, dt).args),
        grad=("probs",),
        errors=PROB_ERRORS[:3],
        empty="probs",
    ),
]


# ------------------------------------------------------------------------------ motion (Waymo mAP)

ENTRIES += [
    OpInfo(
        lossbook.motion_average_precision,
        sample=lambda g, b, dt: S(rand(g, b, 4, dt=dt), bools(g, b, 4, p=0.4),
                                  classes(g, b, n=8), soft=True),
        nan=("scores",),
        errors=[
            E("trajectory_type", "got 8", {"trajectory_type": lambda a: set_first(8)(a["trajectory_type"])}),
            E("matched", r"torch\.int64", {"matched": lambda a: a["matched"].long()}, TypeError),
            E("soft", "str", {"soft": "yes"}, TypeError),
        ],
        int_ok=("trajectory_type",),
        empty="scores",
        meta="ranks every object's predictions and pools them per bucket (data-dependent sizes)",
    ),
    OpInfo(
        lossbook.overlap_rate,
        sample=lambda g, b, dt: _overlap_scene(g, b, dt),
        nan=("scores", "boxes"),
        errors=[
            E("object_index", "got 9", {"object_index": lambda a: set_first(9)(a["object_index"])}),
            E("object_index", r"torch\.float32", {"object_index": lambda a: a["object_index"].float()},
              TypeError),
            E("boxes", "non-negative", {"boxes": lambda a: _negative_length(a["boxes"])}),
            E("boxes", r"\[5, 3, 5\]", {"boxes": lambda a: a["boxes"][:, :-1],
                                        "valid": lambda a: a["valid"][:, :-1]}),  # T + 1 steps
            E("pred", r"\[3, 3, 1, 2\]", {"pred": lambda a: a["pred"][:, :, :1],
                                          "boxes": lambda a: a["boxes"][:, :2],
                                          "valid": lambda a: a["valid"][:, :2]}),  # no heading
            E("valid", r"torch\.int64", {"valid": lambda a: a["valid"].long()}, TypeError),
            E("measurement_step", "got 3", {"measurement_step": 3}),
            E("measurement_step", "got -1", {"measurement_step": -1}),
            E("measurement_step", "float", {"measurement_step": 1.0}, TypeError),
        ],
        free_size=("boxes",),  # the scene's objects, not the predicted ones
        empty="pred",
    ),
]


def _overlap_scene(g, b, dt):
    """b predicted objects (K modes, T steps) in a scene of b + 2 logged objects."""
    n_objects = b + 2
    boxes = torch.cat([randn(g, n_objects, T, 2, dt=dt, scale=3.0),
                       rand(g, n_objects, T, 2, dt=dt, low=1.0, high=4.0),
                       rand(g, n_objects, T, 1, dt=dt, high=6.0)], dim=-1)  # 1 + (T - 1) steps
    pred = randn(g, b, K, T - 1, 2, dt=dt, scale=3.0)
    index = torch.randperm(n_objects, generator=g)[:b]
    return S(pred, rand(g, b, K, dt=dt), index, boxes, bools(g, n_objects, T, p=0.8))


def _negative_length(boxes):
    boxes = boxes.clone()
    boxes[0, 0, 2] = -1.0
    return boxes

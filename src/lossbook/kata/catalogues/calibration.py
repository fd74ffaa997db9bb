"""The katas of the lesson `calibration.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _scene_bootstrap_reference(pred, target, scene, n_resamples, seed):
    from ... import metrics

    return metrics.bootstrap_recall_ci(pred, target, groups=scene, n_resamples=n_resamples,
                                       seed=seed)


def _by_frame(pred, target, scene, n_resamples, seed):
    """Frames resampled as if independent."""
    from ... import metrics

    return metrics.bootstrap_recall_ci(pred, target, n_resamples=n_resamples, seed=seed)


def _without_replacement(pred, target, scene, n_resamples, seed):
    """Every 'resample' is a permutation of the scenes: the same data, the same recall."""
    recall = (pred * target).sum().double() / target.sum().double()
    return recall, recall.clone()


def _mean_of_scene_recalls(pred, target, scene, n_resamples, seed):
    """Each resample averages the recalls of its scenes instead of pooling their counts."""
    n = int(scene.max()) + 1
    tp = torch.zeros(n, dtype=torch.float64).index_add_(0, scene, (pred * target).double())
    pos = torch.zeros(n, dtype=torch.float64).index_add_(0, scene, target.double())
    idx = torch.randint(0, n, (n_resamples, n), generator=torch.Generator().manual_seed(seed))
    per_scene = tp[idx] / pos[idx]
    recall = per_scene.nanmean(1)
    low, high = torch.nanquantile(recall, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return low, high


def _scenes(g, n_scenes, frames, *, rate=0.5, p_low=0.3):
    scene = torch.arange(n_scenes).repeat_interleave(frames)
    difficulty = p_low + (1 - p_low) * torch.rand(n_scenes, generator=g)
    target = (torch.rand(len(scene), generator=g) < rate).long()
    target[::frames] = 1  # every scene has the class at least once
    pred = (torch.rand(len(scene), generator=g) < difficulty[scene]).long()
    return pred, target, scene


def _scene_bootstrap_cases() -> list[Case]:
    g = gen(83)
    uneven = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 3])
    return [
        Case("10 scenes x 8 frames", (*_scenes(g, 10, 8), 400, 0)),
        Case(
            "20 scenes x 15 frames, frames of a scene alike",
            (*_scenes(g, 20, 15, rate=1.0), 500, 1),
            hint="resample scenes, not frames: draw n_scenes scene indices per resample and pool"
            " every frame of each drawn scene.",
        ),
        Case(
            "scenes of different sizes (pool the counts)",
            (torch.tensor([1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1]),
             torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1]), uneven, 600, 2),
            hint="a resample's recall is (sum of its scenes' hits) / (sum of their positives), not"
            " the mean of per-scene recalls: a big scene weighs more.",
        ),
        Case("5 scenes, 1000 resamples", (*_scenes(g, 5, 6), 1000, 3)),
    ]


register(
    Kata(
        name="scene_bootstrap_ci",
        title="Bootstrap CI of a rare class's recall, resampled by scene",
        signature="scene_bootstrap_ci(pred, target, scene, n_resamples=1000, seed=0)",
        returns="a tuple (low, high) of scalar tensors: the 95% percentile interval of recall",
        task=(
            "Frames come from S scenes (scene ids 0..S-1, S = scene.max() + 1). Return the 95%"
            " percentile bootstrap interval of recall = sum(pred * target) / sum(target),"
            " resampling whole scenes with replacement. Draw the resamples as"
            " idx = torch.randint(0, S, (n_resamples, S), generator=torch.Generator().manual_seed(seed))"
            " (row b lists the scenes of resample b), so that the check can reproduce them; skip"
            " a resample without any positive; the interval is torch.quantile of the resampled"
            " recalls at 0.025 and 0.975."
        ),
        shapes=("pred, target: [N] int64 0/1", "scene: [N] int64 in [0, S)",
                "n_resamples, seed: int", "output: (low, high), scalars"),
        hint="Count hits and positives per scene once (index_add_ or bincount); a resample is then"
        " a gather of those counts with idx and a sum over its row.",
        library="lossbook.metrics.bootstrap_recall_ci",
        reference=_scene_bootstrap_reference,
        cases=_scene_bootstrap_cases,
        lesson="calibration.md#bootstrap-confidence-intervals-by-scene",
        imports="import torch",
        mistakes=(
            Mistake("the frames were resampled: frames of one scene are not independent, so the"
                    " interval is too narrow. Draw scene indices and keep each scene's frames"
                    " together.", _by_frame),
            Mistake("the scenes were drawn without replacement (a permutation): every resample is"
                    " the original data set and the interval has zero width. Draw with"
                    " replacement (torch.randint).", _without_replacement),
            Mistake("each resample averaged per-scene recalls: pool the hits and the positives of"
                    " the drawn scenes, then divide once.", _mean_of_scene_recalls),
        ),
    )
)

"""Interview snippets of the calibration lesson: the scene bootstrap of recall, the Brier score."""

# --8<-- [start:scene_bootstrap]
import torch


def scene_bootstrap_ci(pred, target, scene, n_scenes, n_resamples=1000, confidence=0.95,
                       generator=None):
    """Percentile bootstrap CI of recall, resampling whole scenes with replacement.

    pred, target: [N] 0/1; scene: [N] scene index in [0, n_scenes).
    """
    dev = pred.device
    hit = (pred * target).double()
    tp = torch.zeros(n_scenes, dtype=torch.float64, device=dev).index_add_(0, scene, hit)
    pos = torch.zeros(n_scenes, dtype=torch.float64, device=dev).index_add_(0, scene, target.double())
    idx = torch.randint(0, n_scenes, (n_resamples, n_scenes), generator=generator, device=dev)
    tp_b, pos_b = tp[idx].sum(1), pos[idx].sum(1)  # pool the counts of the drawn scenes
    recall = tp_b / pos_b  # NaN where a resample drew no positive: nanquantile skips it
    alpha = (1 - confidence) / 2
    q = torch.tensor([alpha, 1 - alpha], dtype=torch.float64, device=dev)
    low, high = torch.nanquantile(recall, q)
    return low, high
# --8<-- [end:scene_bootstrap]


# --8<-- [start:brier_score]
import torch


def brier_score(probs, target):
    """Mean over samples of the squared distance to the one-hot label: [N, C], [N] -> scalar."""
    onehot = torch.nn.functional.one_hot(target, probs.shape[1]).to(probs.dtype)
    return (probs - onehot).square().sum(1).mean()
# --8<-- [end:brier_score]

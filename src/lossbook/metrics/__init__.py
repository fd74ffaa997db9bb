"""Evaluation metrics: classification, ranking curves, calibration, multi-modal trajectories, ranking.

Every function takes tensors, validates them, and returns tensors. Classification and ranking
metrics are computed in float64 and equal scikit-learn's definitions (ties included); trajectory
metrics follow the Waymo Open Motion and Argoverse 2 conventions, named in each docstring.

The package, by concern (every public name is importable from ``lossbook.metrics``):

- ``classification``: confusion matrix, precision / recall / F1, PR and ROC curves, average
  precision, ROC-AUC;
- ``calibration``: reliability bins, expected calibration error, temperature scaling;
- ``trajectory``: minADE, minFDE, miss rates (Argoverse 2 and Waymo), Brier-minFDE;
- ``ranking``: precision@k and NDCG;
- ``detection``: box IoU, greedy matching by score, interpolated AP, COCO-style detection mAP;
- ``uncertainty``: bootstrap intervals by group, equal-width / equal-mass and classwise
  calibration error, the Brier score;
- ``motion``: Waymo's motion-forecasting mAP, Soft mAP and overlap rate.
"""

# In the order of the concerns (the API reference lists the members in this order).
# isort: off
from .classification import (
    confusion_matrix,
    precision_recall_f1,
    precision_recall_curve,
    roc_curve,
    average_precision,
    roc_auc,
)
from .calibration import reliability_bins, expected_calibration_error, fit_temperature
from .trajectory import (
    min_ade,
    min_fde,
    miss_rate,
    brier_min_fde,
    waymo_miss_thresholds,
    waymo_miss_rate,
)
from .ranking import precision_at_k, ndcg
from .detection import (
    box_iou,
    match_detections,
    interpolated_average_precision,
    detection_average_precision,
)
from .uncertainty import bootstrap_recall_ci, calibration_error, brier_score
from .motion import motion_average_precision, overlap_rate
# isort: on

__all__ = [
    "average_precision",
    "bootstrap_recall_ci",
    "box_iou",
    "brier_min_fde",
    "brier_score",
    "calibration_error",
    "confusion_matrix",
    "detection_average_precision",
    "expected_calibration_error",
    "fit_temperature",
    "interpolated_average_precision",
    "match_detections",
    "min_ade",
    "min_fde",
    "motion_average_precision",
    "miss_rate",
    "ndcg",
    "overlap_rate",
    "precision_at_k",
    "precision_recall_curve",
    "precision_recall_f1",
    "reliability_bins",
    "roc_auc",
    "roc_curve",
    "waymo_miss_rate",
    "waymo_miss_thresholds",
]

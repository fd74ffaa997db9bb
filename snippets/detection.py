"""Interview snippets of the detection-metrics lesson: box IoU and single-image detection AP."""

# --8<-- [start:detection_ap]
import torch


def box_iou(a, b):
    """IoU of every pair of boxes (x1, y1, x2, y2): [N, 4], [M, 4] -> [N, M]."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def detection_ap(boxes, scores, gt_boxes, iou_threshold=0.5):
    """All-point interpolated AP of one class in one image (VOC 2010+)."""
    order = torch.argsort(scores, descending=True, stable=True)  # 1. rank by score
    iou = box_iou(boxes[order], gt_boxes)
    gt_index = torch.arange(len(gt_boxes), device=boxes.device)
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool, device=boxes.device)
    tp = iou.new_zeros(len(order))  # 1.0 where a detection is a true positive
    for d in range(len(order)):  # 2. greedy: the best still-free ground truth
        best, g = iou[d].masked_fill(taken, -1.0).max(0)
        hit = best >= iou_threshold
        taken |= (gt_index == g) & hit  # a matched object cannot be matched again
        tp[d] = hit
    hits = tp.cumsum(0)
    precision = hits / torch.arange(1, len(tp) + 1, device=tp.device)
    recall = hits / len(gt_boxes)
    envelope = precision.flip(0).cummax(0).values.flip(0)  # 3. max precision to the right
    return (torch.diff(recall, prepend=recall.new_zeros(1)) * envelope).sum()
# --8<-- [end:detection_ap]

"""Interview snippets of the detection-metrics lesson: box IoU and single-image detection AP,
Waymo's motion mAP / Soft mAP, and Waymo's overlap rate."""

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


# --8<-- [start:motion_map]
import torch


def motion_map(scores, matched, types, soft=False):
    """Waymo's mAP (or Soft mAP) over trajectory-type buckets: [B, K], [B, K] bool, [B]."""
    order = scores.argsort(dim=1, descending=True, stable=True)  # each object's modes by score
    conf, hit = scores.gather(1, order), matched.gather(1, order)
    tp = hit & (hit.cumsum(1) == 1)  # the first matching mode is the true positive
    keep = (~hit | tp) if soft else torch.ones_like(hit)  # Soft mAP skips later matches
    types = torch.where(types == 6, 7, types)  # right U-turns count as right turns
    aps = []
    for t in types.unique():  # one all-point AP per bucket
        c, p = conf[keep & (types == t)[:, None]], tp[keep & (types == t)[:, None]]
        rank = p.argsort(stable=True)  # false positives first among equal scores,
        rank = rank[c[rank].argsort(descending=True, stable=True)]  # then by score
        hits = p[rank].to(c.dtype).cumsum(0)
        precision = hits / torch.arange(1, len(hits) + 1, device=c.device)
        recall = hits / (types == t).sum()
        envelope = precision.flip(0).cummax(0).values.flip(0)
        aps.append((torch.diff(recall, prepend=recall.new_zeros(1)) * envelope).sum())
    return torch.stack(aps).mean()
# --8<-- [end:motion_map]


# --8<-- [start:overlap_rate]
import torch


def box_corners(b):
    """(x, y, length, width, heading) [..., 5] -> corners [..., 4, 2]."""
    c, s = torch.cos(b[..., 4:]), torch.sin(b[..., 4:])
    along = b.new_tensor([1.0, -1.0, -1.0, 1.0]) * b[..., 2:3] / 2
    across = b.new_tensor([1.0, 1.0, -1.0, -1.0]) * b[..., 3:4] / 2
    return torch.stack([b[..., :1] + along * c - across * s, b[..., 1:2] + along * s + across * c], -1)


def boxes_overlap(a, b):
    """Separating axes: disjoint iff an edge direction separates the corners (touching: no)."""
    ca, cb = torch.broadcast_tensors(box_corners(a), box_corners(b))  # [..., 4, 2]
    axes = torch.stack([ca[..., 0, :] - ca[..., 1, :], ca[..., 1, :] - ca[..., 2, :],
                        cb[..., 0, :] - cb[..., 1, :], cb[..., 1, :] - cb[..., 2, :]], -1)
    pa, pb = ca @ axes, cb @ axes  # [..., 4 corners, 4 axes]
    return ~((pa.amax(-2) <= pb.amin(-2)) | (pb.amax(-2) <= pa.amin(-2))).any(-1)


def overlap_rate(pred, scores, index, boxes, valid):
    """pred [B, K, T, 2]; boxes [A, 1 + T, 5] and valid [A, 1 + T] from the prediction time."""
    path = pred[torch.arange(len(pred), device=pred.device), scores.argmax(1)]  # [B, T, 2]
    step = path.diff(dim=1)
    angle = torch.atan2(step[..., 1], step[..., 0])  # the direction of each move
    ahead, behind = torch.cat([angle, angle[:, -1:]], 1), torch.cat([angle[:, :1], angle], 1)
    heading = torch.atan2(ahead.sin() + behind.sin(), ahead.cos() + behind.cos())
    own = torch.cat([path, boxes[index, 1:, 2:4], heading[..., None]], -1)  # [B, T, 5]
    hit = boxes_overlap(own[:, None], boxes[None, :, 1:])  # [B, A, T]
    present = valid[:, 1:] & valid[:, :1]  # valid at the step and at the prediction time
    others = index[:, None] != torch.arange(len(boxes), device=index.device)  # [B, A]
    return (hit & present & others[..., None]).flatten(1).any(1).to(pred.dtype).mean()
# --8<-- [end:overlap_rate]

r"""Simulation metrics for driving scenes: safety checks, map checks, physics checks, realism.

Conventions used throughout:

- A box is `(x, y, length, width, heading)` in metres and radians, heading measured
  counter-clockwise from +x (the Waymax / Waymo Open convention); boxes are `[..., 5]`.
- A scene is `[A, T]`: A agents over T steps of `dt` seconds (0.1 s in Waymax and WOSAC);
  leading dimensions (e.g. R rollouts) broadcast where a function says so.
- Thresholds default to Waymax's (`waymax/metrics/`, checked at commit 48b33d7): kinematic
  infeasibility at $|a| > 10.4$ m/s² or $|\kappa| > 0.3$ 1/m, wrong-way 3.5 m from a valid path.
- Realism follows the Waymo Open Sim Agents Challenge (WOSAC): the likelihood of the logged value
  under a histogram of the simulated ones, `exp` of the mean log-likelihood per feature, a weighted
  sum over features ([WOSAC_2025_WEIGHTS][lossbook.simulation.WOSAC_2025_WEIGHTS]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from ._checks import (
    check_device,
    check_finite,
    check_nonempty,
    check_number,
    check_reduction,
    check_same_shape,
    check_tensor,
    has_values,
    masked_reduce,
)

__all__ = [
    "WOSAC_2025_WEIGHTS",
    "box_corners",
    "box_overlap",
    "collision",
    "histogram_log_likelihood",
    "inverse_bicycle",
    "kinematic_infeasibility",
    "log_divergence",
    "nearest_object_distance",
    "offroad",
    "point_in_polygon",
    "realism_score",
    "signed_distance_to_road_edges",
    "toy_rollouts",
    "toy_scene",
    "wrong_way",
]

WOSAC_2025_WEIGHTS: dict[str, float] = {
    "linear_speed": 0.05,
    "linear_acceleration": 0.05,
    "angular_speed": 0.05,
    "angular_acceleration": 0.05,
    "distance_to_nearest_object": 0.10,
    "collision": 0.25,
    "time_to_collision": 0.10,
    "distance_to_road_edge": 0.05,
    "offroad": 0.25,
    "traffic_light_violation": 0.05,
}
"""Feature weights of the 2025 WOSAC realism meta-metric; they sum to 1. Collision and offroad
carry half of the total, the four kinematic features 0.05 each."""


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_last_dim(name: str, x: object, size: int, what: str) -> torch.Tensor:
    check_tensor(name, x, kind="float")
    if x.ndim < 1 or x.shape[-1] != size:
        shape = "[" + ", ".join(str(s) for s in x.shape) + "]"
        raise ValueError(f"{name}: expected shape [..., {size}] ({what}), got {shape}")
    return x


def _check_boxes(name: str, boxes: object, *, min_ndim: int = 1) -> torch.Tensor:
    _check_last_dim(name, boxes, 5, "x, y, length, width, heading")
    if boxes.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} dimensions [..., A, T, 5], got shape"
            f" {list(boxes.shape)}"
        )
    check_finite(name, boxes, always=False)
    if has_values(boxes) and bool((boxes[..., 2:4] < 0).any()):
        raise ValueError(f"{name}: expected non-negative length and width (columns 2, 3)")
    return boxes


def _check_polyline(name: str, line: object, *, min_points: int) -> torch.Tensor:
    check_tensor(name, line, kind="float")
    if line.ndim != 2 or line.shape[1] != 2 or line.shape[0] < min_points:
        raise ValueError(
            f"{name}: expected shape [P, 2] with P >= {min_points}, got {list(line.shape)}"
        )
    check_finite(name, line)
    return line


def _segments(name: str, polylines: object, like_name: str, like: torch.Tensor) -> torch.Tensor:
    """A polyline `[P, 2]` or a sequence of them -> segments `[S, 2, 2]` (start, end)."""
    if isinstance(polylines, torch.Tensor):
        polylines = [polylines]
    if not isinstance(polylines, Sequence) or not polylines:
        raise TypeError(
            f"{name}: expected a [P, 2] tensor or a non-empty list of them,"
            f" got {type(polylines).__name__}"
        )
    parts = []
    for i, line in enumerate(polylines):
        line = _check_polyline(f"{name}[{i}]", line, min_points=2)
        check_device(f"{name}[{i}]", line, like_name, like)
        parts.append(torch.stack([line[:-1], line[1:]], dim=1))
    return torch.cat(parts)


def _check_mask(
    name: str, mask: torch.Tensor | None, shape: torch.Size, ref: str, like: torch.Tensor
) -> None:
    if mask is None:
        return
    check_tensor(name, mask, kind="bool")
    if mask.shape != shape:
        raise ValueError(
            f"{name}: expected a bool mask of shape {list(shape)} (as {ref}), got"
            f" {list(mask.shape)}"
        )
    check_device(name, mask, ref, like)


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    """Wrap to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------
# boxes and collisions


def box_corners(boxes: torch.Tensor) -> torch.Tensor:
    r"""The four corners of oriented boxes, counter-clockwise from front-left.

    $$c = (x, y) + R(\theta)\,(\pm \tfrac{l}{2}, \pm \tfrac{w}{2})$$

    Args:
        boxes: `(x, y, length, width, heading)`.

    Shape:
        - boxes: `[..., 5]`
        - output: `[..., 4, 2]`: front-left, rear-left, rear-right, front-right

    Example:
        >>> box_corners(torch.tensor([1.0, 0.0, 4.0, 2.0, 0.0]))
        tensor([[ 3.,  1.],
                [-1.,  1.],
                [-1., -1.],
                [ 3., -1.]])
    """
    _check_boxes("boxes", boxes)
    x, y, half_l, half_w, yaw = (
        boxes[..., 0], boxes[..., 1], boxes[..., 2] / 2, boxes[..., 3] / 2, boxes[..., 4]
    )
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    signs = boxes.new_tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])  # [4, 2]
    along = signs[:, 0] * half_l[..., None]  # [..., 4]
    across = signs[:, 1] * half_w[..., None]
    cx = x[..., None] + along * cos[..., None] - across * sin[..., None]
    cy = y[..., None] + along * sin[..., None] + across * cos[..., None]
    return torch.stack([cx, cy], dim=-1)


def _separated_on_axes_of(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """True where one of box ``a``'s two edge normals separates ``a`` from ``b``."""
    ca, sa = torch.cos(a[..., 4]), torch.sin(a[..., 4])
    cb, sb = torch.cos(b[..., 4]), torch.sin(b[..., 4])
    dx, dy = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    # (no torch.broadcast_shapes here or below: its first call imports sympy, about 1 s)
    separated = []
    # axis 1: a's heading (ca, sa), a's half-extent l/2; axis 2: (-sa, ca), a's half-extent w/2
    for ux, uy, own in ((ca, sa, a[..., 2] / 2), (-sa, ca, a[..., 3] / 2)):
        centre_gap = (dx * ux + dy * uy).abs()
        # half-extent of b projected on u: l_b/2 |u . e1_b| + w_b/2 |u . e2_b|
        other = b[..., 2] / 2 * (ux * cb + uy * sb).abs() + b[..., 3] / 2 * (-ux * sb + uy * cb).abs()
        separated.append(centre_gap >= own + other)
    return separated[0] | separated[1]


def box_overlap(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    r"""Whether two oriented boxes overlap, by the separating axis theorem.

    Two convex polygons are disjoint if and only if some edge normal of one of them separates
    their projections. For rectangles there are four candidate axes $u$ (two per box); on each,

    $$\text{separated}_u \iff |(c_b - c_a)\cdot u| \ge r_a(u) + r_b(u),\qquad
      r(u) = \tfrac{l}{2}|u\cdot e_1| + \tfrac{w}{2}|u\cdot e_2|$$

    with $e_1, e_2$ a box's heading and its normal. Boxes that only **touch** (a shared edge or
    corner, zero overlap area) are not an overlap. Exact ties between rotated boxes depend on
    float rounding.

    Args:
        boxes_a: `(x, y, length, width, heading)`.
        boxes_b: the same; broadcast against `boxes_a` (use `unsqueeze` for all pairs).

    Shape:
        - boxes_a, boxes_b: `[..., 5]`, broadcastable
        - output: `[...]` bool

    Example:
        >>> a = torch.tensor([0.0, 0.0, 4.0, 2.0, 0.0])
        >>> box_overlap(a, torch.tensor([[4.0, 0.0, 4.0, 2.0, 0.0],   # touching end to end
        ...                              [3.9, 0.0, 4.0, 2.0, 0.0]]))  # 0.1 m of overlap
        tensor([False,  True])
    """
    _check_boxes("boxes_a", boxes_a)
    _check_boxes("boxes_b", boxes_b)
    check_device("boxes_b", boxes_b, "boxes_a", boxes_a)
    try:
        torch.broadcast_tensors(boxes_a[..., 0], boxes_b[..., 0])  # views: no data touched
    except RuntimeError:
        raise ValueError(
            f"boxes_b: shape {list(boxes_b.shape)} does not broadcast with boxes_a"
            f" {list(boxes_a.shape)}"
        ) from None
    return ~(_separated_on_axes_of(boxes_a, boxes_b) | _separated_on_axes_of(boxes_b, boxes_a))


def collision(boxes: torch.Tensor, *, valid: torch.Tensor | None = None) -> torch.Tensor:
    r"""Per agent and step: does this agent's box overlap another valid agent's box?

    $$\text{collision}_{a,t} = \bigvee_{b \ne a,\ \text{valid}_{b,t}}
      \text{overlap}(\text{box}_{a,t}, \text{box}_{b,t})$$

    All pairs are checked at once ([box_overlap][lossbook.simulation.box_overlap] on an
    `[A, A, T]` grid); an agent never collides with itself, and an invalid agent neither collides
    nor is collided with. Waymax's overlap metric. Memory grows as $A^2 T$; for hundreds of agents
    over long horizons, chunk over time or prune pairs with a cheap broad phase (bounding circles)
    first.

    Args:
        boxes: `(x, y, length, width, heading)` per agent and step.
        valid: `True` where the agent exists at that step; default all.

    Shape:
        - boxes: `[..., A, T, 5]` (leading dims, e.g. rollouts, are kept)
        - valid: `[..., A, T]` bool
        - output: `[..., A, T]` bool

    Example:
        >>> boxes = torch.tensor([[[0.0, 0.0, 4.0, 2.0, 0.0]],
        ...                       [[3.0, 0.5, 4.0, 2.0, 0.0]],
        ...                       [[20.0, 0.0, 4.0, 2.0, 0.0]]])  # A = 3 agents, T = 1 step
        >>> collision(boxes)[:, 0]
        tensor([ True,  True, False])
    """
    _check_boxes("boxes", boxes, min_ndim=3)
    _check_mask("valid", valid, boxes.shape[:-1], "boxes[..., 0]", boxes)
    hit = box_overlap(boxes.unsqueeze(-3), boxes.unsqueeze(-4))  # [..., A, A, T]
    num_agents = boxes.shape[-3]
    eye = torch.eye(num_agents, dtype=torch.bool, device=boxes.device)[..., None]  # [A, A, 1]
    hit = hit & ~eye
    if valid is not None:
        hit = hit & valid.unsqueeze(-2) & valid.unsqueeze(-3)
    return hit.any(dim=-2)


def nearest_object_distance(
    xy: torch.Tensor, *, valid: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Distance from each agent's centre to the nearest other valid agent's centre.

    $$d_{a,t} = \min_{b \ne a,\ \text{valid}_{b,t}} \lVert p_{a,t} - p_{b,t} \rVert_2$$

    A centre-to-centre simplification of WOSAC's box-to-box distance feature; `inf` where no
    other agent is valid.

    Args:
        xy: positions.
        valid: `True` where the agent exists; default all.

    Shape:
        - xy: `[..., A, T, 2]`
        - valid: `[..., A, T]` bool
        - output: `[..., A, T]`

    Example:
        >>> xy = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]], [[9.0, 4.0]]])
        >>> nearest_object_distance(xy)[:, 0]
        tensor([5., 5., 6.])
    """
    _check_last_dim("xy", xy, 2, "x, y")
    if xy.ndim < 3:
        raise ValueError(f"xy: expected shape [..., A, T, 2], got {list(xy.shape)}")
    _check_mask("valid", valid, xy.shape[:-1], "xy[..., 0]", xy)
    dist = (xy.unsqueeze(-3) - xy.unsqueeze(-4)).norm(dim=-1)  # [..., A, A, T]
    num_agents = xy.shape[-3]
    blocked = torch.eye(num_agents, dtype=torch.bool, device=xy.device)[..., None]
    if valid is not None:
        blocked = blocked | ~valid.unsqueeze(-3)  # other agent b invalid
    dist = dist.masked_fill(blocked, float("inf"))
    return dist.amin(dim=-2)


# ---------------------------------------------------------------------------------------------
# the map: offroad and wrong-way


def point_in_polygon(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    r"""Whether points lie inside a simple polygon (even-odd ray casting).

    A horizontal ray from the point crosses the boundary an odd number of times if and only if
    the point is inside. Vertices in either orientation; do not repeat the first vertex. Points
    exactly on the boundary may fall either way.

    Args:
        points: query points.
        polygon: the polygon's vertices.

    Shape:
        - points: `[..., 2]`
        - polygon: `[P, 2]`, P >= 3
        - output: `[...]` bool

    Example:
        >>> square = torch.tensor([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
        >>> point_in_polygon(torch.tensor([[1.0, 1.0], [3.0, 1.0]]), square)
        tensor([ True, False])
    """
    _check_last_dim("points", points, 2, "x, y")
    _check_polyline("polygon", polygon, min_points=3)
    check_device("polygon", polygon, "points", points)
    polygon = polygon.to(points.dtype)
    px, py = points[..., 0, None], points[..., 1, None]  # [..., 1]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = polygon.roll(-1, 0)[:, 0], polygon.roll(-1, 0)[:, 1]
    straddles = (y0 > py) != (y1 > py)  # the edge crosses the ray's height
    dy = torch.where(y1 == y0, torch.ones_like(y1), y1 - y0)
    x_cross = x0 + (py - y0) * (x1 - x0) / dy
    crossings = (straddles & (px < x_cross)).sum(-1)
    return crossings % 2 == 1


def _nearest_segment(points: torch.Tensor, segments: torch.Tensor):
    """Distance to the nearest segment and (normalised) cross product with that segment."""
    a, b = segments[:, 0].to(points.dtype), segments[:, 1].to(points.dtype)  # [S, 2]
    d = b - a
    length_sq = (d * d).sum(-1)
    rel = points[..., None, :] - a  # [..., S, 2]
    t = ((rel * d).sum(-1) / length_sq.clamp_min(1e-12)).clamp(0.0, 1.0)
    dist = (rel - t[..., None] * d).norm(dim=-1)  # [..., S]
    cross = (d[:, 0] * rel[..., 1] - d[:, 1] * rel[..., 0]) / length_sq.clamp_min(1e-12).sqrt()
    return dist, cross


def signed_distance_to_road_edges(
    points: torch.Tensor, road_edges: torch.Tensor | Sequence[torch.Tensor]
) -> torch.Tensor:
    r"""Signed distance to the nearest road edge: positive off the road, negative on it.

    Convention (Waymax's): each road edge is a directed polyline with the drivable area on its
    **left**, so the edges of a drivable region run counter-clockwise around it. The sign comes
    from the cross product with the nearest segment,

    $$s = -\operatorname{sign}\big(d \times (p - a)\big)\,\min_{\text{segments}} \lVert p - q \rVert$$

    At a vertex shared by two segments the one with the larger $|d \times (p-a)|$ decides,
    so a point on the extension of an edge past a corner is still classified.

    Args:
        points: query points.
        road_edges: one polyline `[P, 2]` or a list of them (a closed boundary repeats its
            first vertex at the end).

    Shape:
        - points: `[..., 2]`
        - output: `[...]`

    Example:
        >>> edge = torch.tensor([[0.0, 0.0], [10.0, 0.0]])  # road on the left: y > 0
        >>> signed_distance_to_road_edges(torch.tensor([[5.0, 2.0], [5.0, -1.5]]), edge)
        tensor([-2.0000,  1.5000])
    """
    _check_last_dim("points", points, 2, "x, y")
    segments = _segments("road_edges", road_edges, "points", points)
    dist, cross = _nearest_segment(points, segments)
    nearest = dist.amin(dim=-1, keepdim=True)
    # segments sharing the nearest vertex tie up to rounding (float32 map coordinates are large)
    tied = dist <= nearest + torch.finfo(dist.dtype).eps ** 0.5 * (1.0 + nearest)
    decisive = torch.where(tied, cross, torch.zeros_like(cross))
    pick = decisive.abs().argmax(dim=-1, keepdim=True)
    side = decisive.gather(-1, pick).squeeze(-1)
    return -torch.sign(side) * nearest.squeeze(-1)


def offroad(
    boxes: torch.Tensor,
    *,
    drivable_area: torch.Tensor | None = None,
    road_edges: torch.Tensor | Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    r"""Whether any corner of a box leaves the road.

    Give the map in one of two forms:

    - `drivable_area`: a polygon; a box is offroad when a corner lies outside it
      ([point_in_polygon][lossbook.simulation.point_in_polygon]).
    - `road_edges`: directed polylines with the road on their left; a box is offroad when a corner
      has a positive [signed distance][lossbook.simulation.signed_distance_to_road_edges]
      (Waymax's rule).

    $$\text{offroad} = \bigvee_{c \in \text{corners}} \big[c \notin \text{drivable area}\big]$$

    Args:
        boxes: `(x, y, length, width, heading)`.
        drivable_area: polygon vertices.
        road_edges: a polyline or a list of polylines.

    Shape:
        - boxes: `[..., 5]`
        - drivable_area: `[P, 2]`
        - output: `[...]` bool

    Example:
        >>> road = torch.tensor([[0.0, -4.0], [100.0, -4.0], [100.0, 4.0], [0.0, 4.0]])
        >>> boxes = torch.tensor([[50.0, 0.0, 4.0, 2.0, 0.0],    # centred in the road
        ...                       [50.0, 3.5, 4.0, 2.0, 0.0]])   # left corners at y = 4.5
        >>> offroad(boxes, drivable_area=road)
        tensor([False,  True])
    """
    if (drivable_area is None) == (road_edges is None):
        raise ValueError("drivable_area, road_edges: expected exactly one of them, got "
                         + ("both" if drivable_area is not None else "neither"))
    corners = box_corners(boxes)  # validates boxes
    if drivable_area is not None:
        _check_polyline("drivable_area", drivable_area, min_points=3)
        check_device("drivable_area", drivable_area, "boxes", boxes)
        return (~point_in_polygon(corners, drivable_area)).any(dim=-1)
    return (signed_distance_to_road_edges(corners, road_edges) > 0).any(dim=-1)


def wrong_way(
    xy: torch.Tensor,
    heading: torch.Tensor,
    lanes: torch.Tensor | Sequence[torch.Tensor],
    *,
    max_distance: float = 3.5,
    max_heading_error: float = math.pi / 2,
) -> torch.Tensor:
    r"""Whether an agent is farther than `max_distance` from every lane that goes its way.

    $$\text{wrong-way} = \min_{\text{segments } s:\ |\operatorname{wrap}(\theta - \phi_s)|
       \le \Delta_{\max}} \operatorname{dist}(p, s) > d_{\max}$$

    `lanes` are directed centre-line polylines. A segment counts only if its direction $\phi_s$ is
    within `max_heading_error` ($\Delta_{\max}$, default 90°) of the agent's heading; the agent is
    wrong-way when the nearest such segment is more than `max_distance` away (3.5 m, Waymax's
    threshold). With `max_heading_error=math.pi` every segment counts, close to Waymax's rule,
    which measures the self-driving car's distance to the nearest point of its valid paths and
    flags 3.5 m or more. Driving in the opposite lane, or off every lane,
    is flagged; a lane change is not, as long as a same-direction lane is near.

    Args:
        xy: agent positions.
        heading: agent headings (radians).
        lanes: one directed polyline `[P, 2]` or a list of them.
        max_distance: $d_{\max}$ in metres.
        max_heading_error: $\Delta_{\max}$ in radians, in $[0, \pi]$.

    Shape:
        - xy: `[..., 2]`
        - heading: `[...]`
        - output: `[...]` bool

    Example:
        >>> lanes = [torch.tensor([[0.0, -2.0], [100.0, -2.0]]),   # eastbound
        ...          torch.tensor([[100.0, 2.0], [0.0, 2.0]])]     # westbound
        >>> xy = torch.tensor([[50.0, -2.0], [50.0, -2.0]])
        >>> wrong_way(xy, torch.tensor([0.0, 3.1416]), lanes)      # east ok, west in the east lane
        tensor([False,  True])
    """
    _check_last_dim("xy", xy, 2, "x, y")
    check_tensor("heading", heading, kind="float")
    check_same_shape("heading", heading, "xy[..., 0]", xy[..., 0])
    check_number("max_distance", max_distance, low=0.0)
    check_number("max_heading_error", max_heading_error, low=0.0, high=math.pi)
    segments = _segments("lanes", lanes, "xy", xy)
    dist, _ = _nearest_segment(xy, segments)  # [..., S]
    d = (segments[:, 1] - segments[:, 0]).to(xy.dtype)
    lane_dir = torch.atan2(d[:, 1], d[:, 0])  # [S]
    agrees = _wrap(heading[..., None] - lane_dir).abs() <= max_heading_error
    dist = dist.masked_fill(~agrees, float("inf"))
    return dist.amin(dim=-1) > max_distance


# ---------------------------------------------------------------------------------------------
# physics: inverse bicycle model


def inverse_bicycle(
    speed: torch.Tensor, heading: torch.Tensor, *, dt: float = 0.1, min_speed: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Recover the controls (acceleration, curvature) that move a bicycle model step to step.

    $$a_t = \frac{v_{t+1} - v_t}{\Delta t},\qquad
      \kappa_t = \frac{\operatorname{wrap}(\theta_{t+1} - \theta_t)}
                      {v_t \Delta t + \tfrac12 a_t \Delta t^2}$$

    The denominator is the distance travelled in the step. Curvature is set to 0 where either
    speed is below `min_speed` (0.6 m/s, as Waymax): at a crawl, heading noise divided by a tiny
    distance would read as an absurd turn.

    Args:
        speed: speed per step (m/s).
        heading: heading per step (rad).
        dt: step length in seconds.
        min_speed: below this speed the curvature is 0.

    Shape:
        - speed, heading: `[..., T]`, T >= 2
        - output: `(accel, curvature)`, each `[..., T - 1]`

    Example:
        >>> speed = torch.tensor([10.0, 11.0, 11.0])
        >>> heading = torch.tensor([0.0, 0.0, 0.105])
        >>> accel, curvature = inverse_bicycle(speed, heading)
        >>> accel, curvature
        (tensor([10.,  0.]), tensor([0.0000, 0.0955]))
    """
    check_tensor("speed", speed, kind="float")
    check_tensor("heading", heading, kind="float")
    check_same_shape("heading", heading, "speed", speed)
    if speed.ndim < 1 or speed.shape[-1] < 2:
        raise ValueError(f"speed: expected shape [..., T] with T >= 2, got {list(speed.shape)}")
    check_number("dt", dt, low=0.0, low_inclusive=False)
    check_number("min_speed", min_speed, low=0.0)
    check_finite("speed", speed, always=False)
    v0, v1 = speed[..., :-1], speed[..., 1:]
    accel = (v1 - v0) / dt
    travelled = v0 * dt + 0.5 * accel * dt**2  # = (v0 + v1) / 2 * dt
    slow = (v0.abs() < min_speed) | (v1.abs() < min_speed)
    safe = torch.where(slow, torch.ones_like(travelled), travelled)
    curvature = torch.where(slow, torch.zeros_like(safe), _wrap(heading.diff(dim=-1)) / safe)
    return accel, curvature


def kinematic_infeasibility(
    speed: torch.Tensor,
    heading: torch.Tensor,
    *,
    dt: float = 0.1,
    max_accel: float = 10.4,
    max_curvature: float = 0.3,
    min_speed: float = 0.6,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Per step: is the motion impossible for a car (Waymax's kinematic infeasibility)?

    $$\text{infeasible}_t = |a_t| > a_{\max} \;\lor\; |\kappa_t| > \kappa_{\max}$$

    with $a_t, \kappa_t$ from [inverse_bicycle][lossbook.simulation.inverse_bicycle]; defaults
    $a_{\max} = 10.4$ m/s² (about 1 g) and $\kappa_{\max} = 0.3$ 1/m (a 3.3 m turning radius).

    Args:
        speed: speed per step (m/s).
        heading: heading per step (rad).
        dt: step length in seconds.
        max_accel: acceleration limit (m/s²).
        max_curvature: curvature limit (1/m).
        min_speed: below this speed the curvature is 0.
        valid: `True` where the state exists; a transition counts only if both ends are valid.

    Shape:
        - speed, heading, valid: `[..., T]`
        - output: `[..., T - 1]` bool

    Example:
        >>> speed = torch.tensor([10.0, 12.0, 12.0])   # +2 m/s in 0.1 s = 20 m/s^2
        >>> kinematic_infeasibility(speed, torch.zeros(3))
        tensor([ True, False])
    """
    accel, curvature = inverse_bicycle(speed, heading, dt=dt, min_speed=min_speed)
    check_number("max_accel", max_accel, low=0.0)
    check_number("max_curvature", max_curvature, low=0.0)
    _check_mask("valid", valid, speed.shape, "speed", speed)
    bad = (accel.abs() > max_accel) | (curvature.abs() > max_curvature)
    if valid is not None:
        bad = bad & valid[..., :-1] & valid[..., 1:]
    return bad


# ---------------------------------------------------------------------------------------------
# imitation and realism


def log_divergence(
    sim_xy: torch.Tensor,
    log_xy: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""L2 distance between simulated and logged positions (Waymax's log divergence).

    $$\delta_t = \lVert p^{\text{sim}}_t - p^{\text{log}}_t \rVert_2$$

    It measures imitation, not quality: a safe, realistic rollout that differs from the one
    logged future scores badly.

    Args:
        sim_xy: simulated positions.
        log_xy: logged positions.
        mask: `True` where both exist; `"mean"` averages over these only.
        reduction: `"mean"`, `"sum"` or `"none"` (per step, 0 where masked).

    Shape:
        - sim_xy, log_xy: `[..., 2]`
        - mask: `[...]` bool
        - output: scalar, or `[...]` with `reduction="none"`

    Example:
        >>> log_divergence(torch.tensor([[3.0, 4.0], [1.0, 0.0]]), torch.zeros(2, 2))
        tensor(3.)
    """
    check_reduction(reduction)
    _check_last_dim("sim_xy", sim_xy, 2, "x, y")
    check_tensor("log_xy", log_xy, kind="float")
    check_same_shape("log_xy", log_xy, "sim_xy", sim_xy)
    _check_mask("mask", mask, sim_xy.shape[:-1], "sim_xy[..., 0]", sim_xy)
    check_nonempty("sim_xy", sim_xy, reduction)
    dist = (sim_xy - log_xy).norm(dim=-1)
    if mask is None:
        mask = torch.ones_like(dist, dtype=torch.bool)
    return masked_reduce(dist.flatten(), mask.flatten(), reduction).reshape(
        dist.shape if reduction == "none" else ()
    )


def histogram_log_likelihood(
    sim: torch.Tensor,
    log: torch.Tensor,
    *,
    low: float,
    high: float,
    n_bins: int = 20,
    smoothing: float = 0.1,
    pool_time: bool = True,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Log-likelihood of each logged value under a histogram of the simulated rollouts (WOSAC).

    For each agent, the R rollouts' values (pooled over all T steps when `pool_time`, else per
    step) fill `n_bins` equal bins on `[low, high]` (values outside are clipped into the end bins).
    Each bin gets `smoothing` extra counts so an unseen bin has small, not zero, probability:

    $$\hat p_j = \frac{n_j + \alpha}{\sum_k (n_k + \alpha)},\qquad
      \ell_{a,t} = \log \hat p_{\text{bin}(x^{\log}_{a,t})}$$

    The 2025 WOSAC configuration uses $\alpha = 0.1$ for its histogram features; its Bernoulli
    events (collision, offroad) are two bins on `[0, 1]` with the default $\alpha = 0.001$
    (waymo-open-dataset `sim_agents_metrics`, checked at commit 99a4cb3).

    Args:
        sim: simulated values.
        log: logged values.
        low: lower end of the histogram range.
        high: upper end of the histogram range.
        n_bins: number of bins.
        smoothing: $\alpha > 0$, pseudo-count per bin.
        pool_time: one histogram per agent over all steps (True) or one per agent and step.
        mask: `True` where the logged value is valid (the agent exists at that step). Invalid
            steps may hold anything (NaN padding included); their log-likelihood is 0, so
            average with `ll.sum() / mask.sum()`, as WOSAC averages over the valid steps only
            (waymo-open-dataset `sim_agents_metrics/metrics.py`, `_reduce_average_with_validity`,
            checked at commit 62b97ad). The simulated values of every step still fill the
            histogram, as in WOSAC's estimator.

    Shape:
        - sim: `[R, A, T]`
        - log: `[A, T]`
        - mask: `[A, T]`, bool
        - output: `[A, T]`

    Example:
        >>> sim = torch.tensor([[[0.0]], [[0.0]], [[1.0]]])     # R = 3 rollouts, A = 1, T = 1
        >>> ll = histogram_log_likelihood(sim, torch.tensor([[0.0]]), low=0, high=1, n_bins=2)
        >>> round(ll.exp().item(), 4)                            # (2 + 0.1) / (3 + 0.2)
        0.6562
    """
    check_tensor("sim", sim, kind="float")
    check_tensor("log", log, kind="float")
    if sim.ndim != 3 or log.ndim != 2 or sim.shape[1:] != log.shape or sim.shape[0] < 1:
        raise ValueError(
            f"sim, log: expected sim [R, A, T] and log [A, T] with matching A, T, got sim"
            f" {list(sim.shape)} and log {list(log.shape)}"
        )
    low = check_number("low", low)
    high = check_number("high", high)
    if not high > low:
        raise ValueError(f"high: expected high > low = {low:g}, got {high:g}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins: expected a positive int, got {n_bins!r}")
    check_number("smoothing", smoothing, low=0.0, low_inclusive=False)
    check_device("log", log, "sim", sim)
    check_finite("sim", sim)
    if mask is not None:
        _check_mask("mask", mask, log.shape, "log", log)
        log = torch.where(mask, log, torch.full((), low, dtype=log.dtype, device=log.device))
    check_finite("log", log)

    def bin_index(x: torch.Tensor) -> torch.Tensor:
        scaled = torch.floor((x - low) / (high - low) * n_bins)
        return scaled.clamp(0, n_bins - 1).long()

    one_hot = torch.nn.functional.one_hot(bin_index(sim), n_bins).to(sim.dtype)  # [R, A, T, n]
    counts = one_hot.sum(dim=0)  # [A, T, n]
    if pool_time:
        counts = counts.sum(dim=1, keepdim=True).expand_as(counts)  # [A, T, n]
    probs = (counts + smoothing) / (counts + smoothing).sum(-1, keepdim=True)
    ll = probs.gather(-1, bin_index(log)[..., None]).squeeze(-1).log()
    if mask is not None:
        ll = torch.where(mask, ll, torch.zeros((), dtype=ll.dtype, device=ll.device))
    return ll


def realism_score(
    log_likelihoods: Mapping[str, torch.Tensor],
    *,
    weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    r"""WOSAC-style realism meta-metric: a weighted mean of per-feature likelihoods.

    $$\text{score} = \frac{\sum_f w_f \exp\big(\overline{\ell_f}\big)}{\sum_f w_f}$$

    where $\overline{\ell_f}$ is the mean log-likelihood of feature $f$ over agents and steps
    (from [histogram_log_likelihood][lossbook.simulation.histogram_log_likelihood]). Each term
    lies in (0, 1], so the score does too. With all ten WOSAC features and the 2025 weights the
    denominator is 1; with a subset the weights are renormalised over the features given.

    Args:
        log_likelihoods: feature name -> log-likelihoods of the logged values.
        weights: feature name -> weight; default
            [WOSAC_2025_WEIGHTS][lossbook.simulation.WOSAC_2025_WEIGHTS].

    Shape:
        - each log-likelihood tensor: any shape, at least one element
        - output: scalar

    Example:
        >>> ll = {"collision": torch.tensor([0.0, 0.0]),            # likelihood 1
        ...       "offroad": torch.log(torch.tensor([0.5, 0.5]))}   # likelihood 0.5
        >>> realism_score(ll)                                       # (0.25 * 1 + 0.25 * 0.5) / 0.5
        tensor(0.7500)
    """
    weights = WOSAC_2025_WEIGHTS if weights is None else weights
    if not isinstance(log_likelihoods, Mapping) or not log_likelihoods:
        raise TypeError("log_likelihoods: expected a non-empty mapping feature -> tensor")
    total, norm = None, 0.0
    for name, ll in log_likelihoods.items():
        if name not in weights:
            raise ValueError(
                f"log_likelihoods: feature {name!r} has no weight; expected one of"
                f" {sorted(weights)}"
            )
        w = check_number(f"weights[{name!r}]", weights[name], low=0.0)
        check_tensor(f"log_likelihoods[{name!r}]", ll, kind="float")
        if ll.numel() == 0:
            raise ValueError(
                f"log_likelihoods[{name!r}]: expected at least one value, got shape"
                f" {list(ll.shape)}"
            )
        check_finite(f"log_likelihoods[{name!r}]", ll)
        if has_values(ll) and bool((ll > 1e-6).any()):
            raise ValueError(
                f"log_likelihoods[{name!r}]: expected log-likelihoods <= 0 (a histogram"
                f" probability is at most 1), got {ll.max().item():g}"
            )
        term = w * ll.mean().exp()
        total = term if total is None else total + term
        norm += w
    if norm <= 0:
        raise ValueError("weights: expected a positive total weight over the features given")
    return total / norm


# ---------------------------------------------------------------------------------------------
# a small generated scene for the lesson, the figures and the tests

_ROAD = [[-20.0, -4.0], [130.0, -4.0], [130.0, 4.0], [-20.0, 4.0]]
# agent: x0, y0, heading, speed; all 4.5 m x 2.0 m cars
_LOG_AGENTS = [
    (10.0, -2.0, 0.0, 10.0),  # 0: eastbound
    (-5.0, -2.0, 0.0, 10.0),  # 1: eastbound, follows 0 at 15 m
    (70.0, 2.0, math.pi, 8.0),  # 2: westbound
    (75.0, -2.0, 0.0, 6.0),  # 3: eastbound
    (40.0, 2.0, math.pi, 6.0),  # 4: westbound
    (90.0, 2.0, math.pi, 7.0),  # 5: westbound
]


def _road_map() -> dict:
    road = torch.tensor(_ROAD)
    lanes = [torch.tensor([[-20.0, -2.0], [130.0, -2.0]]), torch.tensor([[130.0, 2.0], [-20.0, 2.0]])]
    return {"drivable_area": road, "road_edges": [torch.cat([road, road[:1]])], "lanes": lanes}


def _integrate(x0, y0, vx, vy, dt):
    """Positions from per-step velocities [..., T]: p_t = p_0 + sum_{s < t} v_s dt."""
    steps = torch.cumsum(torch.cat([torch.zeros_like(vx[..., :1]), vx[..., :-1]], -1), -1) * dt
    lateral = torch.cumsum(torch.cat([torch.zeros_like(vy[..., :1]), vy[..., :-1]], -1), -1) * dt
    return torch.stack([x0[..., None] + steps, y0[..., None] + lateral], dim=-1)


def toy_scene(*, violations: bool = True, num_steps: int = 31, dt: float = 0.1) -> dict:
    """A two-lane road with six cars, logged (`violations=False`) or generated with planted bugs.

    The road runs along x in [-20, 130] m, y in [-4, 4] m; eastbound traffic keeps right
    (y = -2), westbound at y = +2. With `violations=True` four agents misbehave: agent 1 drives
    16 m/s into agent 0 (both collide), agent 2 drifts north off the road, agent 3 drives west in
    the eastbound lane (wrong-way), and agent 4 jumps from 6 to 8 m/s in one step (infeasible
    acceleration). Agent 5 is clean.

    Returns:
        A dict with `xy [A, T, 2]`, `heading [A, T]`, `speed [A, T]`, `boxes [A, T, 5]`,
        `drivable_area [P, 2]`, `road_edges` (a list with one closed polyline), `lanes` (two
        directed polylines) and `dt`.

    Example:
        >>> scene = toy_scene()
        >>> scene["boxes"].shape
        torch.Size([6, 31, 5])
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"num_steps: expected an int >= 2, got {num_steps!r}")
    check_number("dt", dt, low=0.0, low_inclusive=False)
    agents = [list(a) for a in _LOG_AGENTS]
    vy = torch.zeros(len(agents), num_steps)
    speed = torch.tensor([a[3] for a in agents])[:, None].repeat(1, num_steps)
    if violations:
        speed[1] = 16.0  # rear-ends agent 0
        vy[2] = 1.0  # drifts north, off the road
        agents[3][2] = math.pi  # westbound in the eastbound lane
        speed[4, 10:] = 8.0  # +2 m/s in one 0.1 s step
    heading = torch.tensor([a[2] for a in agents])[:, None].repeat(1, num_steps)
    vx = speed * torch.cos(heading)
    heading = torch.atan2(vy, vx)
    speed = torch.sqrt(vx**2 + vy**2)
    x0, y0 = torch.tensor([a[0] for a in agents]), torch.tensor([a[1] for a in agents])
    xy = _integrate(x0, y0, vx, vy, dt)
    size = torch.tensor([4.5, 2.0]).expand(len(agents), num_steps, 2)
    boxes = torch.cat([xy, size, heading[..., None]], dim=-1)
    return {"xy": xy, "heading": heading, "speed": speed, "boxes": boxes, "dt": dt, **_road_map()}


def toy_rollouts(
    n_rollouts: int = 32,
    *,
    speed_scale: float = 1.0,
    speed_noise: float = 0.1,
    accel_noise: float = 0.5,
    lateral_noise: float = 0.15,
    num_steps: int = 31,
    dt: float = 0.1,
    seed: int = 0,
) -> dict:
    r"""Sample rollouts of a toy sim-agent policy around the logged [toy_scene][lossbook.simulation.toy_scene].

    Each rollout starts from the logged initial states. Agent speed is the logged speed times
    `speed_scale` times $(1 + \sigma_v \epsilon)$, plus a random walk of accelerations with
    standard deviation `accel_noise` (m/s²); a lateral velocity with standard deviation
    `lateral_noise` (m/s) is constant per rollout. A biased policy (`speed_scale != 1`) is less
    realistic; the realism score should say so.

    Returns:
        The same keys as `toy_scene`, with a leading rollout dimension: `xy [R, A, T, 2]`,
        `heading`, `speed [R, A, T]`, `boxes [R, A, T, 5]`.

    Example:
        >>> toy_rollouts(4)["xy"].shape
        torch.Size([4, 6, 31, 2])
    """
    if isinstance(n_rollouts, bool) or not isinstance(n_rollouts, int) or n_rollouts < 1:
        raise ValueError(f"n_rollouts: expected a positive int, got {n_rollouts!r}")
    check_number("speed_scale", speed_scale, low=0.0)
    for name, value in (("speed_noise", speed_noise), ("accel_noise", accel_noise),
                        ("lateral_noise", lateral_noise)):
        check_number(name, value, low=0.0)
    log = toy_scene(violations=False, num_steps=num_steps, dt=dt)
    gen = torch.Generator().manual_seed(seed)
    num_agents = log["xy"].shape[0]
    shape = (n_rollouts, num_agents, num_steps)
    base = log["speed"][:, 0] * speed_scale  # [A]
    factor = 1 + speed_noise * torch.randn(n_rollouts, num_agents, 1, generator=gen)
    walk = torch.cumsum(accel_noise * dt * torch.randn(*shape, generator=gen), dim=-1)
    speed_along = (base[:, None] * factor + walk - walk[..., :1]).clamp_min(0.0)  # [R, A, T]
    direction = torch.cos(log["heading"][:, 0])[:, None]  # +1 east, -1 west
    vx = speed_along * direction
    vy = lateral_noise * torch.randn(n_rollouts, num_agents, 1, generator=gen).expand(shape)
    xy = _integrate(log["xy"][:, 0, 0].expand(n_rollouts, -1), log["xy"][:, 0, 1].expand(
        n_rollouts, -1), vx, vy, dt)
    heading = torch.atan2(vy, vx)
    speed = torch.sqrt(vx**2 + vy**2)
    size = torch.tensor([4.5, 2.0]).expand(*shape, 2)
    boxes = torch.cat([xy, size, heading[..., None]], dim=-1)
    return {"xy": xy, "heading": heading, "speed": speed, "boxes": boxes, "dt": dt, **_road_map()}

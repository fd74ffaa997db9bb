"""lossbook.simulation against hand-computed geometry and independent slow references."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbook.simulation import (
    WOSAC_2025_WEIGHTS,
    box_corners,
    box_overlap,
    collision,
    histogram_log_likelihood,
    inverse_bicycle,
    kinematic_infeasibility,
    log_divergence,
    nearest_object_distance,
    offroad,
    point_in_polygon,
    realism_score,
    signed_distance_to_road_edges,
    toy_rollouts,
    toy_scene,
    wrong_way,
)


def box(x, y, length=4.0, width=2.0, heading=0.0):
    return torch.tensor([x, y, length, width, heading], dtype=torch.float64)


# ------------------------------------------------------------------ independent references


def clip_area(subject, clipper):
    """Area of convex polygon `subject` clipped by convex CCW polygon `clipper` (Sutherland-Hodgman)."""

    def inside(p, a, b):
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0

    def cut(p, q, a, b):
        x1, y1, x2, y2 = p[0], p[1], q[0], q[1]
        x3, y3, x4, y4 = a[0], a[1], b[0], b[1]
        den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
        if den == 0:  # the edge lies on the clipping line (within rounding): keep the end inside
            return p if inside(p, a, b) else q
        t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
        return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))

    out = list(subject)
    for i in range(len(clipper)):
        a, b = clipper[i], clipper[(i + 1) % len(clipper)]
        points, out = out, []
        for j in range(len(points)):
            p, q = points[j], points[(j + 1) % len(points)]
            if inside(q, a, b):
                if not inside(p, a, b):
                    out.append(cut(p, q, a, b))
                out.append(q)
            elif inside(p, a, b):
                out.append(cut(p, q, a, b))
        if not out:
            return 0.0
    return 0.5 * abs(sum(out[k][0] * out[k - 1][1] - out[k - 1][0] * out[k][1] for k in range(len(out))))


def rect(x, y, length, width, heading):
    """Corners CCW, computed independently of the library."""
    c, s = math.cos(heading), math.sin(heading)
    local = [(length / 2, width / 2), (-length / 2, width / 2), (-length / 2, -width / 2),
             (length / 2, -width / 2)]
    return [(x + u * c - v * s, y + u * s + v * c) for u, v in local]


def winding_number(p, polygon):
    """Sum of signed angles subtended by the edges: 2 pi inside, 0 outside."""
    total = 0.0
    for i in range(len(polygon)):
        a, b = polygon[i], polygon[(i + 1) % len(polygon)]
        a1 = math.atan2(a[1] - p[1], a[0] - p[0])
        b1 = math.atan2(b[1] - p[1], b[0] - p[0])
        d = b1 - a1
        while d > math.pi:
            d -= 2 * math.pi
        while d < -math.pi:
            d += 2 * math.pi
        total += d
    return round(total / (2 * math.pi))


def segment_distance(p, a, b):
    ax, ay = b[0] - a[0], b[1] - a[1]
    t = max(0.0, min(1.0, ((p[0] - a[0]) * ax + (p[1] - a[1]) * ay) / (ax * ax + ay * ay)))
    return math.hypot(p[0] - a[0] - t * ax, p[1] - a[1] - t * ay)


def star_polygon(rng, n=9):
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(1.0, 4.0, n)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


# ------------------------------------------------------------------ boxes and collisions


def test_box_corners_rotated_90():
    corners = box_corners(box(1.0, 2.0, 4.0, 2.0, math.pi / 2))
    expected = torch.tensor([[0.0, 4.0], [0.0, 0.0], [2.0, 0.0], [2.0, 4.0]], dtype=torch.float64)
    torch.testing.assert_close(corners, expected)


@pytest.mark.parametrize(
    "other, hit",
    [
        (box(4.0, 0.0), False),  # end to end, touching along an edge
        (box(3.999, 0.0), True),  # 1 mm of overlap
        (box(4.0, 2.0), False),  # touching at a single corner
        (box(0.0, 2.0), False),  # side by side, touching
        (box(0.0, 1.99), True),
        (box(10.0, 0.0), False),
    ],
)
def test_axis_aligned_cases(other, hit):
    assert bool(box_overlap(box(0.0, 0.0), other)) is hit
    assert bool(box_overlap(other, box(0.0, 0.0))) is hit  # symmetric


def test_rotated_diamond_reaches_into_box():
    # a 2 x 2 square rotated 45 degrees reaches sqrt(2) from its centre along x
    diamond = lambda x: box(x, 0.0, 2.0, 2.0, math.pi / 4)
    assert bool(box_overlap(box(0.0, 0.0), diamond(2.0 + math.sqrt(2) - 0.01)))
    assert not bool(box_overlap(box(0.0, 0.0), diamond(2.0 + math.sqrt(2) + 0.01)))


def test_separated_on_one_axis_only():
    # Thin boxes: axis-aligned bounding boxes overlap, yet a rotated edge normal separates them.
    a = box(0.0, 0.0, 10.0, 0.5, math.pi / 4)
    b = box(3.0, -3.0, 10.0, 0.5, math.pi / 4)  # parallel, offset 4.24 m across
    corners_a, corners_b = box_corners(a), box_corners(b)
    lo_a, hi_a = corners_a.amin(0), corners_a.amax(0)
    lo_b, hi_b = corners_b.amin(0), corners_b.amax(0)
    assert bool(((lo_a < hi_b) & (lo_b < hi_a)).all())  # bounding boxes do overlap
    assert not bool(box_overlap(a, b))
    assert clip_area(rect(*a.tolist()), rect(*b.tolist())) == 0.0


def test_box_overlap_matches_polygon_clipping():
    rng = np.random.default_rng(0)
    n = 400
    a = np.column_stack([rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(0.5, 5, n),
                         rng.uniform(0.5, 3, n), rng.uniform(-4, 4, n)])
    b = np.column_stack([rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(0.5, 5, n),
                         rng.uniform(0.5, 3, n), rng.uniform(-4, 4, n)])
    got = box_overlap(torch.tensor(a), torch.tensor(b)).numpy()
    checked = 0
    for i in range(n):
        area = clip_area(rect(*a[i]), rect(*b[i]))
        if 0 < area < 1e-6:
            continue  # touching within rounding: either answer is fine
        assert got[i] == (area > 0), (a[i], b[i], area)
        checked += 1
    assert checked > 390
    assert 0.2 < got.mean() < 0.8  # both outcomes well represented


def test_collision_scene_and_validity():
    boxes = torch.stack([
        torch.stack([box(0, 0), box(0, 0)]),
        torch.stack([box(3, 0.5), box(30, 0)]),
        torch.stack([box(20, 0), box(31, 0)]),
    ]).float()  # [A=3, T=2, 5]
    torch.testing.assert_close(
        collision(boxes), torch.tensor([[True, False], [True, True], [False, True]])
    )
    valid = torch.tensor([[True, True], [True, True], [True, False]])
    torch.testing.assert_close(
        collision(boxes, valid=valid), torch.tensor([[True, False], [True, False], [False, False]])
    )
    # leading rollout dimension
    assert collision(boxes.expand(4, -1, -1, -1)).shape == (4, 3, 2)


def test_collision_matches_pairwise_clipping_loop():
    rng = np.random.default_rng(7)
    A, T = 6, 5
    boxes = np.concatenate([rng.uniform(-4, 4, (A, T, 2)), rng.uniform(1, 4.5, (A, T, 1)),
                            rng.uniform(0.8, 2, (A, T, 1)), rng.uniform(-3, 3, (A, T, 1))], -1)
    valid = rng.random((A, T)) < 0.8
    got = collision(torch.tensor(boxes), valid=torch.tensor(valid)).numpy()
    want = np.zeros((A, T), dtype=bool)
    for t in range(T):
        for a in range(A):
            for b in range(A):
                if a != b and valid[a, t] and valid[b, t]:
                    want[a, t] |= clip_area(rect(*boxes[a, t]), rect(*boxes[b, t])) > 1e-9
    np.testing.assert_array_equal(got, want)
    assert 0.2 < want.mean() < 0.9


def test_nearest_object_distance_with_invalid():
    xy = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]], [[100.0, 0.0]]])
    valid = torch.tensor([[True], [False], [True]])
    torch.testing.assert_close(nearest_object_distance(xy, valid=valid)[:, 0],
                               torch.tensor([100.0, 5.0, 100.0]))


# ------------------------------------------------------------------ map


def test_point_in_polygon_matches_winding_number():
    rng = np.random.default_rng(1)
    for _ in range(5):
        poly = star_polygon(rng)
        points = rng.uniform(-4.5, 4.5, (300, 2))
        got = point_in_polygon(torch.tensor(points), torch.tensor(poly)).numpy()
        want = np.array([winding_number(p, poly) != 0 for p in points])
        np.testing.assert_array_equal(got, want)
    # orientation does not matter
    flipped = point_in_polygon(torch.tensor(points), torch.tensor(poly[::-1].copy())).numpy()
    np.testing.assert_array_equal(flipped, want)


def test_signed_distance_matches_brute_force_and_inside_test():
    rng = np.random.default_rng(2)
    poly = star_polygon(rng, 7)
    if sum(poly[i - 1, 0] * poly[i, 1] - poly[i, 0] * poly[i - 1, 1] for i in range(7)) < 0:
        poly = poly[::-1].copy()  # counter-clockwise: road on the left
    edge = torch.tensor(np.vstack([poly, poly[:1]]))
    points = rng.uniform(-5, 5, (300, 2))
    got = signed_distance_to_road_edges(torch.tensor(points), edge).numpy()
    inside = np.array([winding_number(p, poly) != 0 for p in points])
    brute = np.array([min(segment_distance(p, poly[i], poly[(i + 1) % 7]) for i in range(7))
                      for p in points])
    np.testing.assert_allclose(np.abs(got), brute, atol=1e-9)
    np.testing.assert_array_equal(got > 0, ~inside)


def test_signed_distance_past_a_corner():
    square = torch.tensor([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]])
    # (12, 0) is on the bottom edge's extension: collinear, but off the road past the corner
    got = signed_distance_to_road_edges(torch.tensor([[12.0, 0.0], [5.0, 5.0]]), square)
    torch.testing.assert_close(got, torch.tensor([2.0, -5.0]))


def test_signed_distance_past_a_corner_far_from_the_origin_float32():
    # map coordinates in the thousands of metres, float32: the corner tie must survive rounding
    square = torch.tensor([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]])
    offset = torch.tensor([5123.7, -2871.3])
    points = torch.tensor([[12.0, 0.0], [10.0, 13.0], [-0.5, 10.0], [5.0, 9.0]]) + offset
    got = signed_distance_to_road_edges(points, square + offset)
    torch.testing.assert_close(got, torch.tensor([2.0, 3.0, 0.5, -1.0]), atol=2e-3, rtol=0)


def test_offroad_two_map_forms_agree():
    road = torch.tensor([[0.0, -4.0], [50.0, -4.0], [50.0, 4.0], [20.0, 4.0], [20.0, 10.0],
                         [10.0, 10.0], [10.0, 4.0], [0.0, 4.0]], dtype=torch.float64)
    assert point_in_polygon(torch.tensor([15.0, 8.0], dtype=torch.float64), road)  # the side road
    g = torch.Generator().manual_seed(3)
    n = 500
    boxes = torch.stack([torch.rand(n, generator=g) * 60 - 5, torch.rand(n, generator=g) * 18 - 6,
                         torch.full((n,), 4.5), torch.full((n,), 2.0),
                         torch.rand(n, generator=g) * 6.3], 1).double()
    by_polygon = offroad(boxes, drivable_area=road)
    by_edges = offroad(boxes, road_edges=torch.cat([road, road[:1]]))
    torch.testing.assert_close(by_polygon, by_edges)
    assert 0.2 < by_polygon.float().mean() < 0.9


def test_offroad_corner_not_centre():
    road = torch.tensor([[0.0, -4.0], [100.0, -4.0], [100.0, 4.0], [0.0, 4.0]])
    # centre on the road, but rotated 90 degrees a 4.5 m car pokes 2.25 m out of a 4 m half-road
    boxes = torch.tensor([[50.0, 2.0, 4.5, 2.0, math.pi / 2], [50.0, 2.0, 4.5, 2.0, 0.0]])
    torch.testing.assert_close(offroad(boxes, drivable_area=road), torch.tensor([True, False]))


LANES = [torch.tensor([[0.0, -2.0], [100.0, -2.0]]), torch.tensor([[100.0, 2.0], [0.0, 2.0]])]


@pytest.mark.parametrize(
    "x, y, heading, flagged",
    [
        (50.0, -2.0, 0.0, False),  # eastbound in the eastbound lane
        (50.0, -2.0, math.pi, True),  # westbound in the eastbound lane: 4 m from the west lane
        (50.0, 0.0, math.pi, False),  # westbound crossing the centre line: 2 m from its lane
        (50.0, -2.0, 0.3, False),  # changing lanes at 17 degrees
        (50.0, 2.0, 0.0, True),  # eastbound in the westbound lane
        (50.0, -6.0, 0.0, True),  # 4 m beyond its own lane
    ],
)
def test_wrong_way_cases(x, y, heading, flagged):
    got = wrong_way(torch.tensor([x, y]), torch.tensor(heading), LANES)
    assert bool(got) is flagged


def test_wrong_way_waymax_distance_rule():
    xy = torch.tensor([[50.0, -2.0], [50.0, -6.0]])
    # max_heading_error = pi: heading ignored, only distance to the paths given
    got = wrong_way(xy, torch.tensor([math.pi, 0.0]), LANES, max_heading_error=math.pi)
    torch.testing.assert_close(got, torch.tensor([False, True]))


# ------------------------------------------------------------------ physics


def forward_bicycle(v0, yaw0, accel, curvature, dt):
    """Integrate the bicycle model the way its inverse assumes; returns speed, heading [T + 1]."""
    v, yaw = [v0], [yaw0]
    for a, k in zip(accel, curvature):
        travelled = v[-1] * dt + 0.5 * a * dt * dt
        v.append(v[-1] + a * dt)
        yaw.append(yaw[-1] + k * travelled)
    return torch.tensor(v, dtype=torch.float64), torch.tensor(yaw, dtype=torch.float64)


def test_inverse_bicycle_recovers_forward_controls():
    rng = np.random.default_rng(4)
    accel = rng.uniform(-3, 3, 20)
    curvature = rng.uniform(-0.2, 0.2, 20)
    speed, heading = forward_bicycle(8.0, 3.0, accel, curvature, 0.1)  # heading wraps past pi
    got_a, got_k = inverse_bicycle(speed, heading)
    np.testing.assert_allclose(got_a.numpy(), accel, atol=1e-9)
    np.testing.assert_allclose(got_k.numpy(), curvature, atol=1e-9)


def test_inverse_bicycle_heading_wrap_and_slow_zero():
    speed = torch.tensor([10.0, 10.0, 0.5, 0.5], dtype=torch.float64)
    heading = torch.tensor([3.1, -3.1, 0.0, 1.0], dtype=torch.float64)
    accel, curvature = inverse_bicycle(speed, heading)
    # 3.1 -> -3.1 is a left turn of 2 pi - 6.2 = 0.0832 rad over 1 m, not -6.2 rad
    torch.testing.assert_close(curvature, torch.tensor([2 * math.pi - 6.2, 0.0, 0.0],
                                                       dtype=torch.float64))
    torch.testing.assert_close(accel, torch.tensor([0.0, -95.0, 0.0], dtype=torch.float64))


def test_kinematic_thresholds_and_valid():
    speed = torch.tensor([10.0, 11.0, 12.1, 12.1, 12.1])  # accel 10, 11, 0, 0
    heading = torch.tensor([0.0, 0.0, 0.0, 0.25, 0.25 + 0.4 * 1.21])  # kappa 0, 0, 0.207, 0.4
    torch.testing.assert_close(kinematic_infeasibility(speed, heading),
                               torch.tensor([False, True, False, True]))
    valid = torch.tensor([True, True, False, True, True])
    torch.testing.assert_close(kinematic_infeasibility(speed, heading, valid=valid),
                               torch.tensor([False, False, False, True]))


def test_inverse_bicycle_gradcheck():
    speed = torch.tensor([[5.0, 6.0, 6.5]], dtype=torch.float64, requires_grad=True)
    heading = torch.tensor([[0.1, 0.2, 0.25]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, h: inverse_bicycle(v, h), (speed, heading))


# ------------------------------------------------------------------ imitation and realism


def test_log_divergence_reductions_and_mask():
    sim = torch.tensor([[[3.0, 4.0], [0.0, 1.0]], [[6.0, 8.0], [0.0, 0.0]]])
    log = torch.zeros(2, 2, 2)
    torch.testing.assert_close(log_divergence(sim, log, reduction="none"),
                               torch.tensor([[5.0, 1.0], [10.0, 0.0]]))
    mask = torch.tensor([[True, True], [True, False]])
    torch.testing.assert_close(log_divergence(sim, log, mask=mask), torch.tensor(16.0 / 3))
    torch.testing.assert_close(log_divergence(sim, log, reduction="sum"), torch.tensor(16.0))


def test_log_divergence_gradcheck():
    sim = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    log = torch.zeros(3, 4, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: log_divergence(s, log), (sim.requires_grad_(),))


def test_histogram_matches_numpy_histogram():
    rng = np.random.default_rng(5)
    sim = rng.normal(0, 2, (16, 3, 10))
    log = rng.normal(0, 3, (3, 10))  # some outside [-5, 5]: clipped into the end bins
    got = histogram_log_likelihood(torch.tensor(sim), torch.tensor(log), low=-5, high=5,
                                   n_bins=10, smoothing=0.1).numpy()
    edges = np.linspace(-5, 5, 11)
    for a in range(3):
        counts, _ = np.histogram(np.clip(sim[:, a].ravel(), -5, 5), bins=edges)
        probs = (counts + 0.1) / (counts + 0.1).sum()
        index = np.clip(np.searchsorted(edges, log[a], side="right") - 1, 0, 9)
        np.testing.assert_allclose(got[a], np.log(probs[index]), rtol=1e-12)


def test_histogram_per_step_and_bernoulli():
    sim = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]])  # R=4, A=1, T=2
    log = torch.tensor([[1.0, 1.0]])
    ll = histogram_log_likelihood(sim, log, low=0, high=1, n_bins=2, smoothing=0.001,
                                  pool_time=False)
    torch.testing.assert_close(ll.exp(), torch.tensor([[2.001 / 4.002, 0.001 / 4.002]]))
    pooled = histogram_log_likelihood(sim, log, low=0, high=1, n_bins=2, smoothing=0.001)
    torch.testing.assert_close(pooled.exp(), torch.full((1, 2), 2.001 / 8.002))


def test_realism_weights_and_score():
    assert math.isclose(sum(WOSAC_2025_WEIGHTS.values()), 1.0)
    assert WOSAC_2025_WEIGHTS["collision"] == WOSAC_2025_WEIGHTS["offroad"] == 0.25
    ll = {name: torch.full((2, 3), math.log(0.5)) for name in WOSAC_2025_WEIGHTS}
    torch.testing.assert_close(realism_score(ll), torch.tensor(0.5))
    ll = {"linear_speed": torch.log(torch.tensor([0.2, 0.8])), "offroad": torch.zeros(3)}
    expected = (0.05 * math.exp(0.5 * (math.log(0.2) + math.log(0.8))) + 0.25) / 0.30
    torch.testing.assert_close(realism_score(ll), torch.tensor(expected))


# ------------------------------------------------------------------ the toy scene


def test_toy_scene_planted_violations():
    scene = toy_scene()
    flags = {
        "collision": collision(scene["boxes"]),
        "offroad": offroad(scene["boxes"], drivable_area=scene["drivable_area"]),
        "wrong_way": wrong_way(scene["xy"], scene["heading"], scene["lanes"]),
        "infeasible": kinematic_infeasibility(scene["speed"], scene["heading"]),
    }
    per_agent = {k: v.any(-1).tolist() for k, v in flags.items()}
    assert per_agent == {
        "collision": [True, True, False, False, False, False],
        "offroad": [False, False, True, False, False, False],
        "wrong_way": [False, False, False, True, False, False],
        "infeasible": [False, False, False, False, True, False],
    }
    log = toy_scene(violations=False)
    for value in (collision(log["boxes"]), offroad(log["boxes"], road_edges=log["road_edges"]),
                  wrong_way(log["xy"], log["heading"], log["lanes"]),
                  kinematic_infeasibility(log["speed"], log["heading"])):
        assert not bool(value.any())


def test_toy_rollouts_statistics():
    log = toy_scene(violations=False)
    for scale in (1.0, 1.3):
        sims = toy_rollouts(64, seed=2, speed_scale=scale)
        assert sims["xy"].shape == (64, 6, 31, 2)
        torch.testing.assert_close(sims["xy"][:, :, 0], log["xy"][:, 0].expand(64, -1, -1))
        mean_speed = sims["speed"][:, :, 0].mean(0)  # initial speeds: logged speed x scale
        torch.testing.assert_close(mean_speed, log["speed"][:, 0] * scale, atol=0.05 * scale * 10,
                                   rtol=0)
    # positions integrate the velocities: one step moves by speed * dt
    step = (sims["xy"][:, :, 1] - sims["xy"][:, :, 0]).norm(dim=-1)
    torch.testing.assert_close(step, sims["speed"][:, :, 0] * 0.1)


def test_realism_prefers_the_unbiased_policy():
    log = toy_scene(violations=False)

    def score(**kwargs):
        sims = toy_rollouts(32, seed=1, **kwargs)
        ll = histogram_log_likelihood(sims["speed"], log["speed"], low=0, high=25, n_bins=20)
        return realism_score({"linear_speed": ll})

    assert score() > score(speed_scale=1.3) + 0.1


# ------------------------------------------------------------------ bad input


# ------------------------------------------------------------------ properties

finite = st.floats(-5.0, 5.0, allow_nan=False)
size = st.floats(0.3, 5.0, allow_nan=False)
angle = st.floats(-math.pi, math.pi, allow_nan=False)


@settings(max_examples=40)
@given(st.tuples(finite, finite, size, size, angle), st.tuples(finite, finite, size, size, angle),
       finite, finite, angle)
def test_overlap_symmetric_and_invariant_to_rigid_motion(a, b, tx, ty, rot):
    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    area = clip_area(rect(*a.tolist()), rect(*b.tolist()))
    if 0 < area < 1e-6:
        return  # touching within rounding

    def move(box):
        c, s = math.cos(rot), math.sin(rot)
        x, y = box[0].item(), box[1].item()
        return torch.tensor([c * x - s * y + tx, s * x + c * y + ty, box[2], box[3], box[4] + rot],
                            dtype=torch.float64)

    hit = bool(box_overlap(a, b))
    assert hit == bool(box_overlap(b, a)) == (area > 0)
    assert bool(box_overlap(move(a), move(b))) == hit


@settings(max_examples=30)
@given(st.tuples(finite, finite, size, size, angle), st.floats(1.0, 3.0))
def test_offroad_monotone_in_box_size(box, grow):
    road = torch.tensor([[-4.0, -4.0], [4.0, -4.0], [4.0, 4.0], [-4.0, 4.0]], dtype=torch.float64)
    small = torch.tensor(box, dtype=torch.float64)
    big = small.clone()
    big[2:4] *= grow
    if bool(offroad(small, drivable_area=road)):
        assert bool(offroad(big, drivable_area=road))  # a bigger box cannot be more on the road


def test_histogram_mask_scores_valid_steps_only():
    """Invalid logged steps (NaN padding here) score 0 and leave the valid ones unchanged; the
    simulated values of every step still fill the histogram (as WOSAC's estimator does)."""
    g = torch.Generator().manual_seed(0)
    sim = 20 * torch.rand(16, 2, 5, generator=g)
    log = 20 * torch.rand(2, 5, generator=g)
    mask = torch.tensor([[True, True, False, True, False], [False, True, True, True, True]])
    padded = torch.where(mask, log, torch.full_like(log, float("nan")))
    for pool_time in (True, False):
        full = histogram_log_likelihood(sim, log, low=0, high=20, n_bins=5, pool_time=pool_time)
        masked = histogram_log_likelihood(sim, padded, low=0, high=20, n_bins=5,
                                          pool_time=pool_time, mask=mask)
        torch.testing.assert_close(masked[mask], full[mask])
        assert bool((masked[~mask] == 0).all()) and bool((full[mask] < 0).all())

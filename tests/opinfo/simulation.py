"""lossbook.simulation."""

import math

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, rand, randn, set_first

T = 4
SQUARE = torch.tensor([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]])
EDGE = torch.tensor([[-10.0, -4.0], [10.0, -4.0], [10.0, 4.0]])


def _boxes(g, *shape, dt):
    """Boxes x, y, length, width, heading: 4.5 m x 2 m cars near the origin."""
    xy = randn(g, *shape, 2, dt=dt, scale=4.0)
    size = torch.tensor([4.5, 2.0], dtype=dt).expand(*shape, 2)
    return torch.cat([xy, size, rand(g, *shape, 1, dt=dt, low=-3.0, high=3.0)], dim=-1)


NEGATIVE_LENGTH = E("boxes", "non-negative", {"boxes": lambda a: a["boxes"] * -1.0})


def _lanes():
    return [torch.tensor([[-20.0, -2.0], [20.0, -2.0]]), torch.tensor([[20.0, 2.0], [-20.0, 2.0]])]


ENTRIES = [
    OpInfo(
        lossbook.box_corners,
        sample=lambda g, b, dt: S(_boxes(g, b, 2, dt=dt)),
        grad=("boxes",),
        errors=[NEGATIVE_LENGTH, E("boxes", r"\[3, 2, 4\]", {"boxes": lambda a: a["boxes"][..., :4]})],
        empty=OK,  # no box, no corner
    ),
    OpInfo(
        lossbook.box_overlap,
        # [b, 1, 5] against [1, 3, 5]: every box of a against every box of b, by broadcasting
        sample=lambda g, b, dt: S(_boxes(g, b, 1, dt=dt), _boxes(g, 1, 3, dt=dt)),
        errors=[E("boxes_b", r"\[2, 3, 5\]", {"boxes_b": lambda a: a["boxes_b"].expand(2, 3, 5)})],
        free_size=("boxes_b",),  # boxes_b broadcasts against boxes_a
        empty=OK,
    ),
    OpInfo(
        lossbook.collision,
        sample=lambda g, b, dt: S(_boxes(g, b, 3, T, dt=dt), valid=bools(g, b, 3, T)),
        errors=[
            E("boxes", r"\[3, 5\]", {"boxes": lambda a: a["boxes"][:, 0, 0], "valid": None}),
            E("valid", r"torch\.float32", {"valid": lambda a: a["valid"].float()}, TypeError),
            NEGATIVE_LENGTH,
        ],
        empty=OK,  # no scene, no collision
    ),
    OpInfo(
        lossbook.nearest_object_distance,
        sample=lambda g, b, dt: S(randn(g, b, 3, T, 2, dt=dt, scale=5.0),
                                  valid=torch.ones(b, 3, T, dtype=torch.bool)),
        grad=("xy",),
        errors=[
            E("xy", r"\[3, 2\]", {"xy": lambda a: a["xy"][:, 0, 0], "valid": None}),
            E("valid", r"torch\.float32", {"valid": lambda a: a["valid"].float()}, TypeError),
        ],
        empty=OK,
    ),
    OpInfo(
        lossbook.point_in_polygon,
        sample=lambda g, b, dt: S(randn(g, b, 3, 2, dt=dt, scale=6.0), SQUARE.to(dt)),
        nan=("polygon",),
        errors=[E("polygon", r"\[2, 2\]", {"polygon": SQUARE[:2]})],
        free_size=("polygon",),  # any number of vertices >= 3
        empty=OK,
    ),
    OpInfo(
        lossbook.signed_distance_to_road_edges,
        sample=lambda g, b, dt: S(randn(g, b, 3, 2, dt=dt, scale=6.0), EDGE.to(dt)),
        grad=("points",),
        nan=("road_edges",),
        errors=[
            E("road_edges", r"\[1, 2\]", {"road_edges": EDGE[:1]}),
            E("road_edges", "list", {"road_edges": []}, TypeError),
            E("road_edges[1]", "meta", {"road_edges": [EDGE, EDGE.to("meta")]}),
        ],
        free_size=("road_edges",),
        empty=OK,
    ),
    OpInfo(
        lossbook.offroad,
        sample=lambda g, b, dt: S(_boxes(g, b, T, dt=dt), drivable_area=SQUARE.to(dt)),
        errors=[
            E("drivable_area", "both", {"road_edges": EDGE}),
            E("drivable_area", "neither", {"drivable_area": None}),
            E("drivable_area", r"\[2, 2\]", {"drivable_area": SQUARE[:2]}),
            NEGATIVE_LENGTH,
        ],
        free_size=("drivable_area",),
        empty=OK,
    ),
    OpInfo(
        lossbook.offroad,
        name="offroad",
        sample=lambda g, b, dt: S(_boxes(g, b, T, dt=dt), road_edges=[EDGE.to(dt)]),
        errors=[E("road_edges[0]", r"\[1, 2\]", {"road_edges": [EDGE[:1]]})],
        empty=OK,
    ),
    OpInfo(
        lossbook.wrong_way,
        sample=lambda g, b, dt: S(randn(g, b, T, 2, dt=dt, scale=3.0),
                                  rand(g, b, T, dt=dt, low=-math.pi, high=math.pi), _lanes()),
        errors=[
            E("max_heading_error", r"4\.0", {"max_heading_error": 4.0}),
            E("max_distance", r"-1\.0", {"max_distance": -1.0}),
            E("lanes", "int", {"lanes": 3}, TypeError),
        ],
        any_device=("lanes",),  # a list: its device check is named lanes[i] (next entry)
        empty=OK,
    ),
    OpInfo(
        lossbook.wrong_way,
        name="wrong_way",
        sample=lambda g, b, dt: S(randn(g, b, T, 2, dt=dt, scale=3.0),
                                  rand(g, b, T, dt=dt, low=-math.pi, high=math.pi), _lanes()[0]),
        empty=OK,
    ),
    OpInfo(
        lossbook.inverse_bicycle,
        sample=lambda g, b, dt: S(rand(g, b, T, dt=dt, low=3.0, high=10.0),
                                  randn(g, b, T, dt=dt, scale=0.05)),
        grad=("speed", "heading"),
        errors=[
            E("speed", r"\[3, 1\]", {"speed": lambda a: a["speed"][:, :1],
                                     "heading": lambda a: a["heading"][:, :1]}),
            E("dt", r"0\.0", {"dt": 0.0}),
            E("min_speed", r"-1\.0", {"min_speed": -1.0}),
        ],
        empty=OK,
    ),
    OpInfo(
        lossbook.kinematic_infeasibility,
        sample=lambda g, b, dt: S(rand(g, b, T, dt=dt, low=0.0, high=10.0),
                                  randn(g, b, T, dt=dt, scale=0.3), valid=bools(g, b, T)),
        errors=[
            E("max_accel", r"-1\.0", {"max_accel": -1.0}),
            E("max_curvature", r"-1\.0", {"max_curvature": -1.0}),
            E("valid", r"torch\.int64", {"valid": lambda a: a["valid"].long()}, TypeError),
        ],
        empty=OK,
    ),
    OpInfo(
        lossbook.log_divergence,
        sample=lambda g, b, dt: S(randn(g, b, T, 2, dt=dt), randn(g, b, T, 2, dt=dt),
                                  mask=bools(g, b, T)),
        grad=("sim_xy",),
        errors=[E("mask", r"torch\.int64", {"mask": lambda a: a["mask"].long()}, TypeError)],
        mean_over=lambda a: a["mask"].sum(),
    ),
    OpInfo(
        lossbook.histogram_log_likelihood,
        sample=lambda g, b, dt: S(rand(g, 5, b, T, dt=dt, high=20.0),
                                  rand(g, b, T, dt=dt, high=20.0), low=0.0, high=20.0, n_bins=4,
                                  mask=bools(g, b, T)),
        nan=("sim",),
        errors=[
            E("high", r"got 0\b", {"high": 0.0}),
            E("low", "str", {"low": "0"}, TypeError),
            E("n_bins", "got 0", {"n_bins": 0}),
            E("smoothing", r"0\.0", {"smoothing": 0.0}),
            E("mask", r"torch\.int64", {"mask": lambda a: a["mask"].long()}, TypeError),
            E("log", r"(?i)nan", {"log": lambda a: set_first(float("nan"))(a["log"]), "mask": None}),
            E("sim", r"\[0, 3, 4\]", {"sim": lambda a: a["sim"][:0]}),  # no rollout
        ],
        empty=OK,  # no agent: nothing to score
        free_size=("log",),  # [A, T] against sim [R, A, T]: dimension 0 is A, not a batch
    ),
    OpInfo(
        lossbook.realism_score,
        sample=lambda g, b, dt: S({"collision": -rand(g, b, 3, dt=dt, high=2.0),
                                   "offroad": -rand(g, b, 3, dt=dt, high=2.0)}),
        errors=[
            E("log_likelihoods", "'jerk'", {"log_likelihoods": {"jerk": -torch.ones(2)}}),
            E("log_likelihoods['collision']", r"0\.5", {"log_likelihoods": {"collision": torch.tensor([0.5])}}),
            E("log_likelihoods", "mapping", {"log_likelihoods": {}}, TypeError),
            E("log_likelihoods['offroad']", r"(?i)nan",
              {"log_likelihoods": {"offroad": torch.tensor([-0.5, float("nan")])}}),
            E("log_likelihoods['collision']", r"torch\.int64",
              {"log_likelihoods": {"collision": torch.zeros(2, dtype=torch.long)}}, TypeError),
            E("weights", "total", {"weights": {"collision": 0.0, "offroad": 0.0}}),
            E("weights['collision']", r"-1\.0", {"weights": {"collision": -1.0, "offroad": 1.0}}),
        ],
        empty="log_likelihoods['collision']",
    ),
    OpInfo(
        lossbook.toy_scene,
        sample=lambda g, b, dt: S(violations=True, num_steps=T),
        errors=[E("num_steps", "got 1", {"num_steps": 1}), E("dt", r"0\.0", {"dt": 0.0})],
        empty=None,
        meta="takes no tensor: builds the lesson's scene on the CPU",
    ),
    OpInfo(
        lossbook.toy_rollouts,
        sample=lambda g, b, dt: S(b, num_steps=T, seed=b),
        errors=[E("speed_noise", r"-1\.0", {"speed_noise": -1.0}),
                E("speed_scale", r"-1\.0", {"speed_scale": -1.0})],
        empty="n_rollouts",
        meta="takes no tensor: simulates the lesson's rollouts on the CPU",
    ),
]

"""The katas of the lesson `simulation-metrics.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _bicycle_reference(speed, heading, dt):
    from ... import simulation

    return simulation.inverse_bicycle(speed, heading, dt=dt)


def _kinematic_reference(speed, heading, dt):
    from ... import simulation

    return simulation.kinematic_infeasibility(speed, heading, dt=dt)


def _kinematic_cases() -> list[Case]:
    g = gen(53)
    cruise = 10.0 + torch.randn(4, 12, generator=g).cumsum(-1) * 0.05
    heading = torch.randn(4, 12, generator=g).cumsum(-1) * 0.01
    return [
        Case("smooth driving, 4 agents x 12 steps", (cruise, heading, 0.1)),
        Case(
            "a hard brake: 12 -> 10 m/s in 0.1 s",
            (torch.tensor([12.0, 12.0, 10.0, 10.0]), torch.zeros(4), 0.1),
        ),
        Case(
            "heading crossing +-pi (3.1 -> -3.1 rad is a small left turn)",
            (torch.full((4,), 8.0), torch.tensor([3.05, 3.1, -3.1, -3.05]), 0.1),
            hint="wrap the heading change into [-pi, pi) before dividing: 3.1 -> -3.1 is a"
            " 0.083 rad turn, not -6.2 rad.",
        ),
        Case(
            "a tight turn at constant speed: 0.5 rad over 1 m",
            (torch.full((4,), 10.0), torch.tensor([0.0, 0.1, 0.6, 0.7]), 0.1),
            hint="the curvature counts too: |heading change| / distance above 0.3 1/m is"
            " infeasible even when the speed does not change.",
        ),
        Case(
            "crawling below 0.6 m/s: curvature is 0",
            (torch.tensor([0.2, 0.3, 0.5, 2.0, 2.0]), torch.tensor([0.0, 0.5, 1.0, 1.0, 1.02]), 0.1),
            hint="below min_speed = 0.6 m/s (at either end of the step) the curvature is 0: heading"
            " noise over a tiny distance is not a turn.",
        ),
        Case(
            "dt = 0.5 s, 2 x 3 agents",
            (10.0 + randn(g, 2, 3, 6, scale=2.0), randn(g, 2, 3, 6, scale=0.3), 0.5),
            hint="acceleration is (v[t+1] - v[t]) / dt; the distance of a step is"
            " (v[t] + v[t+1]) / 2 * dt.",
        ),
    ]


def _bicycle_cases() -> list[Case]:
    g = gen(57)
    speed = 6.0 + torch.rand(3, 8, generator=g) * 4.0
    speed[0, 2:4] = 0.3  # a crawl: its curvature is 0 and gets no gradient
    return _kinematic_cases() + [
        Case(
            "gradient with respect to speed and heading (a differentiable comfort penalty)",
            (speed, randn(g, 3, 8, scale=0.2), 0.1),
            grad=("speed", "heading"),
            hint="keep the slow steps out of the division (torch.where on a safe denominator),"
            " or their gradient is NaN even where the value is masked.",
        )
    ]


_KINEMATIC_TASK = (
    "From speed (m/s) and heading (rad) per step, recover the controls of a bicycle model"
    " between consecutive steps: acceleration a = (v[t+1] - v[t]) / dt and curvature kappa ="
    " wrap(heading[t+1] - heading[t]) / ((v[t] + v[t+1]) / 2 * dt), the heading change per metre"
    " travelled, with the angle difference wrapped into [-pi, pi). Where either speed is below"
    " 0.6 m/s the curvature is 0."
)

register(
    Kata(
        name="inverse_bicycle",
        title="Acceleration and curvature from speed and heading (inverse bicycle model)",
        signature="inverse_bicycle(speed, heading, dt=0.1)",
        returns="a tuple (accel, curvature) of [..., T - 1] float tensors",
        task=_KINEMATIC_TASK,
        shapes=("speed, heading: [..., T] float", "dt: float seconds",
                "output: (accel [..., T-1], curvature [..., T-1])"),
        hint="Differences along the last axis (diff(dim=-1)); torch.where for the slow steps,"
        " with a safe denominator so no division by ~0 happens.",
        library="lossbook.simulation.inverse_bicycle",
        reference=_bicycle_reference,
        cases=_bicycle_cases,
        lesson="simulation-metrics.md#kinematic-infeasibility-the-inverse-bicycle-model",
        imports="import math\n\nimport torch",
        mistakes=(
            Mistake(
                "the heading difference is not wrapped into [-pi, pi).",
                lambda speed, heading, dt: (
                    speed.diff(dim=-1) / dt,
                    torch.where(
                        (speed[..., :-1] < 0.6) | (speed[..., 1:] < 0.6),
                        0.0,
                        heading.diff(dim=-1) / ((speed[..., :-1] + speed[..., 1:]) / 2 * dt),
                    ),
                ),
            ),
        ),
    )
)

register(
    Kata(
        name="kinematic_check",
        title="Kinematic feasibility check (|accel| > 10.4 m/s^2 or |curvature| > 0.3 1/m)",
        signature="kinematic_infeasibility(speed, heading, dt=0.1)",
        returns="a [..., T - 1] bool tensor, True where the step is impossible for a car",
        task=_KINEMATIC_TASK
        + " A step is kinematically infeasible when |a| > 10.4 m/s^2 or |kappa| > 0.3 1/m"
        " (Waymax's limits; strictly greater).",
        shapes=("speed, heading: [..., T] float", "dt: float seconds",
                "output: [..., T-1] bool"),
        hint="Compute acceleration and curvature as in the inverse_bicycle kata, then compare"
        " their absolute values with the limits.",
        library="lossbook.simulation.kinematic_infeasibility",
        reference=_kinematic_reference,
        cases=_kinematic_cases,
        lesson="simulation-metrics.md#kinematic-infeasibility-the-inverse-bicycle-model",
        imports="import math\n\nimport torch",
        mistakes=(
            Mistake(
                "only the acceleration is checked; the curvature limit (0.3 1/m) counts too.",
                lambda speed, heading, dt: _bicycle_reference(speed, heading, dt)[0].abs() > 10.4,
            ),
        ),
    )
)

"""Composition, registry and configuration: weighted sums of loss objects built from a config."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._checks import check_choice, check_number
from .interface import LossFunction, LossType
from .losses import BradleyTerryLoss, ClippedPGLoss, DPOLoss, NLLLoss

__all__ = [
    "LOSS_REGISTRY",
    "Component",
    "ComposedLoss",
    "LossRegistry",
    "build_loss",
]


@dataclass(frozen=True)
class Component:
    """One term of a [ComposedLoss][lossbook.patterns.ComposedLoss]: a name (the metrics prefix),
    a loss object and a non-negative weight."""

    name: str
    loss: LossFunction
    weight: float = 1.0


class ComposedLoss:
    r"""A weighted sum of loss objects that all see the same model output and batch.

    $$L = \sum_k w_k L_k,\qquad w_k \ge 0$$

    Each component normalises itself with the global count that fits its own
    [LossType][lossbook.patterns.LossType] (both counts are passed to every component), so the sum
    stays exact under gradient accumulation even when token- and sequence-level terms are mixed.
    Metrics are reported per component as `"<name>/<metric>"` plus `"<name>/weight"` and the
    total `"loss"`. A component that returns NaN or Inf raises `FloatingPointError` naming it.

    Args:
        components: [Component][lossbook.patterns.Component]s or `(name, loss, weight)` tuples;
            names must be distinct, weights finite and non-negative.
        loss_type: what the composite declares; defaults to the components' common type and
            must be given when they mix token- and sequence-level losses.

    Example:
        >>> logprobs = torch.log(torch.tensor([[0.5, 0.25]]))
        >>> data = {"token_mask": torch.ones(1, 2)}
        >>> loss_fn = ComposedLoss([("sft", NLLLoss(), 0.5), ("sft_again", NLLLoss(), 1.5)])
        >>> loss, metrics = loss_fn(logprobs, data, None, None)
        >>> round(loss.item(), 4), round(metrics["sft/loss"], 4), metrics["sft_again/weight"]
        (2.0794, 1.0397, 1.5)
    """

    def __init__(
        self,
        components: Sequence[Component | tuple[str, LossFunction, float]],
        *,
        loss_type: LossType | None = None,
    ) -> None:
        if isinstance(components, (str, bytes)) or not isinstance(components, Sequence):
            raise TypeError(
                f"components: expected a list of Component, got {type(components).__name__}"
            )
        if not components:
            raise ValueError("components: expected at least one component, got an empty list")
        parsed: list[Component] = []
        for i, item in enumerate(components):
            if not isinstance(item, Component):
                if not (isinstance(item, tuple) and len(item) == 3):
                    raise TypeError(
                        f"components[{i}]: expected a Component or a (name, loss, weight) tuple,"
                        f" got {item!r}"
                    )
                item = Component(*item)
            if not isinstance(item.name, str) or not item.name:
                raise ValueError(
                    f"components[{i}].name: expected a non-empty str, got {item.name!r}"
                )
            if not isinstance(item.loss, LossFunction):
                raise TypeError(
                    f"components[{i}].loss: expected a loss object with `loss_type` and"
                    f" __call__, got {type(item.loss).__name__}"
                )
            weight = check_number(f"components[{i}].weight ({item.name!r})", item.weight, low=0.0)
            if any(c.name == item.name for c in parsed):
                raise ValueError(f"components[{i}].name: duplicate component name {item.name!r}")
            parsed.append(Component(item.name, item.loss, weight))
        self.components = tuple(parsed)
        types = {c.loss.loss_type for c in parsed}
        if loss_type is None:
            if len(types) > 1:
                raise ValueError(
                    "loss_type: the components mix token- and sequence-level losses; pass"
                    " loss_type=LossType.TOKEN_LEVEL or LossType.SEQUENCE_LEVEL to declare"
                    " what the composite reports"
                )
            loss_type = types.pop()
        if not isinstance(loss_type, LossType):
            raise TypeError(f"loss_type: expected a LossType, got {loss_type!r}")
        self.loss_type = loss_type

    def __call__(
        self,
        next_token_logits_or_logprobs: torch.Tensor,
        data: Mapping[str, torch.Tensor],
        global_valid_seqs: torch.Tensor | float | None = None,
        global_valid_toks: torch.Tensor | float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total: torch.Tensor | None = None
        metrics: dict[str, float] = {}
        for c in self.components:
            value, sub = c.loss(next_token_logits_or_logprobs, data, global_valid_seqs,
                                global_valid_toks)
            if not bool(torch.isfinite(value).all()):
                raise FloatingPointError(
                    f"loss component {c.name!r} ({type(c.loss).__name__}) returned"
                    f" {value.item()} (weight {c.weight:g})"
                )
            term = c.weight * value
            total = term if total is None else total + term
            metrics.update({f"{c.name}/{k}": v for k, v in sub.items()})
            metrics[f"{c.name}/weight"] = c.weight
        assert total is not None
        metrics["loss"] = total.item()
        return total, metrics


class LossRegistry:
    """Names to loss factories, so a loss can be chosen in a config file.

    `register(name)` is a decorator (or `register(name, factory)` a call); `create(name,
    **options)` builds one, with a clear error for an unknown name (with the closest match) or an
    option the factory does not take.

    Example:
        >>> registry = LossRegistry()
        >>> _ = registry.register("nll", NLLLoss)
        >>> type(registry.create("nll")).__name__
        'NLLLoss'
        >>> registry.create("nl")
        Traceback (most recent call last):
        ...
        ValueError: type: unknown loss 'nl'; did you mean 'nll'? Registered: ['nll']
    """

    def __init__(self) -> None:
        self._factories: dict[str, Callable[..., LossFunction]] = {}

    def register(self, name: str, factory: Callable[..., LossFunction] | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: expected a non-empty str, got {name!r}")

        def add(f: Callable[..., LossFunction]) -> Callable[..., LossFunction]:
            if not callable(f):
                raise TypeError(f"factory: expected a class or a callable, got {f!r}")
            if name in self._factories:
                raise ValueError(
                    f"name: {name!r} is already registered (to {self._factories[name].__name__})"
                )
            self._factories[name] = f
            return f

        return add if factory is None else add(factory)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def create(self, name: str, **options: Any) -> LossFunction:
        if name not in self._factories:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise ValueError(f"type: unknown loss {name!r}{hint} Registered: {self.names()}")
        factory = self._factories[name]
        params = inspect.signature(factory).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY,
                                                                   p.POSITIONAL_OR_KEYWORD)]
            unknown = sorted(set(options) - set(accepted))
            if unknown:
                raise ValueError(
                    f"{name}: unknown option(s) {unknown}; {name!r} accepts {accepted}"
                )
        return factory(**options)


LOSS_REGISTRY = LossRegistry()
"""The registry [build_loss][lossbook.patterns.build_loss] reads by default, holding `"nll"`,
`"clipped_pg"`, `"dpo"` and `"bradley_terry"`."""
LOSS_REGISTRY.register("nll", NLLLoss)
LOSS_REGISTRY.register("clipped_pg", ClippedPGLoss)
LOSS_REGISTRY.register("dpo", DPOLoss)
LOSS_REGISTRY.register("bradley_terry", BradleyTerryLoss)

_CONFIG_KEYS = ("type", "weight", "name")


def _component_from_config(where: str, spec: object, registry: LossRegistry) -> Component:
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}: expected a mapping with a 'type', got {type(spec).__name__}")
    if "type" not in spec:
        raise ValueError(f"{where}: expected a 'type' key, got keys {sorted(spec)}")
    options = {k: v for k, v in spec.items() if k not in _CONFIG_KEYS}
    name = spec.get("name", spec["type"])
    weight = check_number(f"{where}['weight']", spec.get("weight", 1.0), low=0.0)
    try:
        loss = registry.create(spec["type"], **options)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return Component(name, loss, weight)


def build_loss(
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    registry: LossRegistry | None = None,
) -> LossFunction:
    """Build a loss from a configuration (a dict parsed from YAML / JSON).

    - `{"type": "nll"}`: one registered loss; the other keys are its options.
    - `[{"type": ..., "weight": ..., "name": ...}, ...]` or
      `{"type": "composed", "components": [...]}`: a
      [ComposedLoss][lossbook.patterns.ComposedLoss]; `weight` defaults to 1 and `name` to the
      type (give distinct names to use one type twice). A composite that mixes token- and
      sequence-level losses declares its own with `"loss_type": "token_level"` (or
      `"sequence_level"`) next to `"components"`.

    A single mapping with a `weight` becomes a one-component composite, so the weight is never
    silently dropped. Unknown types, unknown options and negative or non-finite weights raise
    `ValueError` naming the offending entry.

    Example:
        >>> loss_fn = build_loss([{"type": "nll", "weight": 1.0},
        ...                       {"type": "clipped_pg", "weight": 0.5, "eps_high": 0.28}])
        >>> {c.name: c.weight for c in loss_fn.components}
        {'nll': 1.0, 'clipped_pg': 0.5}
        >>> build_loss({"type": "nll", "weight": -1})
        Traceback (most recent call last):
        ...
        ValueError: config['weight']: expected a finite number in [0, inf), got -1.0
    """
    registry = LOSS_REGISTRY if registry is None else registry
    loss_type = None
    if isinstance(config, Mapping) and config.get("type") == "composed":
        extra = sorted(set(config) - {"type", "components", "loss_type"})
        if extra:
            raise ValueError(
                f"config: unknown key(s) {extra} for a composed loss; expected 'components'"
                " and optionally 'loss_type'"
            )
        if "loss_type" in config:
            values = [t.value for t in LossType]
            check_choice("config['loss_type']", config["loss_type"], values)
            loss_type = LossType(config["loss_type"])
        components = config.get("components")
        where = "config['components']"
    elif isinstance(config, Mapping):
        component = _component_from_config("config", config, registry)
        if "weight" not in config and "name" not in config:
            return component.loss
        return ComposedLoss([component])
    else:
        components, where = config, "config"
    if isinstance(components, (str, bytes)) or not isinstance(components, Sequence):
        raise TypeError(
            f"{where}: expected a list of loss configs, got {type(components).__name__}"
        )
    if not components:
        raise ValueError(f"{where}: expected at least one loss config, got an empty list")
    parsed = []
    for i, spec in enumerate(components):
        component = _component_from_config(f"{where}[{i}]", spec, registry)
        if any(c.name == component.name for c in parsed):
            raise ValueError(
                f"{where}[{i}]: duplicate component name {component.name!r}; give each a"
                " distinct 'name'"
            )
        parsed.append(component)
    return ComposedLoss(parsed, loss_type=loss_type)

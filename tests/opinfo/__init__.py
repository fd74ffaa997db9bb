"""The table of every public function, in the style of PyTorch's OpInfo (read by
``tests/test_opinfo.py``).

How to add a function
=====================

Each module ``tests/opinfo/<domain>.py`` exports ``ENTRIES``, a list of :class:`OpInfo`, one per
public function of ``lossbook.<domain>``::

    OpInfo(
        lossbook.focal_loss,
        sample=lambda g, b, dt: S(randn(g, b, 3, dt=dt), classes(g, b, 3), gamma=2.0),
        grad=("logits",),
        nan=("alpha",),
        errors=[
            E("target", r"got 3", {"target": lambda a: a["target"].fill_(3)}),
            E("gamma", r"-1\\.0", {"gamma": -1.0}),
        ],
    )

- ``sample(g, b, dt)`` returns valid inputs ``S(*args, **kwargs)`` built with the CPU generator
  ``g`` (seeded by the test), batch size ``b`` and float dtype ``dt``. The tests call it with
  ``b = 1`` (valid run), 2 (gradcheck), 3 (error inputs, meta run), 4 (low precision,
  reductions) and 0 (the empty batch). Keep the inputs small: every test runs on them.
- ``grad``: the differentiable arguments (float tensors). They get a float64 ``gradcheck`` and
  finite values and gradients in float32 / bfloat16 / float16 (``dtypes``), on ``extreme``
  inputs when given (e.g. logits of +-1e4).
- ``finite=False``: the outputs may hold infinities by design (a ROC curve's first threshold).
- A loss object (``NLLLoss(**config)(x, data, ...)``) gets an entry through a function that
  builds and calls it, with ``name`` and ``public`` naming the class. ``run=False`` skips the
  valid-sample run of a function too slow for the table (it spawns processes), with the test
  that runs it.
- ``errors``: the bad inputs no generated check covers, one per bad-input class that applies
  (a target out of range, a negative or out-of-range hyper-parameter, an unknown option, a bad
  value in a mask...). ``E(arg, got, changes, exc=ValueError)`` starts from a valid sample
  (``b = 3``, float32), applies ``changes`` (argument name -> new value; a ``lambda a: ...`` is
  called with the bound arguments, a dict, and returns the new value; to pass a lambda itself,
  return it from one), calls the function and expects ``exc`` with a message that names ``arg``
  and matches the regular expression ``got`` (what was passed).

Generated for every entry, so not written in the table:

- ``reduction="avg"`` (when the function has a ``reduction`` argument): ``ValueError``;
- a Python list in place of the first tensor argument, and a string in place of each argument
  whose default is a float: ``TypeError`` (unless listed in ``any_type``);
- an integer tensor in place of each float tensor argument: ``TypeError`` naming it (unless
  listed in ``int_ok``, e.g. counts);
- an extra trailing dimension of size 1 on each tensor argument (``[B]`` becomes ``[B, 1]``,
  the silent-broadcast case), and one row fewer on each tensor argument after the first (a
  batch-size mismatch): ``ValueError`` naming it and its shape, unless listed in ``any_shape``
  (both) or ``free_size`` (the row count is independent, e.g. extra negatives);
- each tensor argument after the first moved to the ``meta`` device (mismatched devices):
  ``ValueError`` naming it and ``meta``, unless listed in ``any_device``;
- NaN in each argument listed in ``nan`` (targets, weights, float masks): ``ValueError``;
- an empty batch (``b = 0``): ``ValueError`` naming the argument ``empty`` (default: the first
  tensor argument) and a size 0, because a mean over nothing is NaN (``check_nonempty(name, x,
  reduction)`` lets ``"sum"`` and ``"none"`` through: the loss objects of ``lossbook.patterns``
  reduce empty microbatches themselves). ``empty=OK`` when an empty batch is valid (the outputs
  must then be finite), ``empty=None`` when the function has no batch;
- ``reduction`` ``"none"``, ``"sum"`` and ``"mean"`` agree (not for ``random=True``: a function
  that draws its own noise gives a new value at every call, so it gets no gradcheck either): sum = none.sum() and
  mean = none.sum() / ``mean_over(a)`` (default: the number of elements of ``"none"``);
- a run with every tensor on the ``meta`` device: a tensor created on the CPU inside the function
  (``torch.arange(n)`` without ``device=``) then fails, as it would on a GPU. ``meta="why"``
  exempts a function that cannot run without data, with the reason; ``stay_on_cpu`` lists
  arguments documented to live on the CPU whatever the data's device (a diffusion schedule).

Interview snippets get the meta-device run too: ``SNIPPETS`` in ``tests/opinfo/snippets.py`` maps
each torch snippet function included on the site to its sample inputs.

A public name of ``lossbook`` with no entry fails ``test_every_public_function_has_an_entry``;
names that are not functions of tensors (classes, constants, switches) are listed in
``NOT_FUNCTIONS`` with the reason.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

OK = "ok"  # ``empty=OK``: an empty batch is valid input


class Keep:
    """A sample value that stays on the CPU in the meta-device run (``to_device`` unwraps it)."""

    def __init__(self, value: Any) -> None:
        self.value = value


class S:
    """One call's arguments: ``S(*args, **kwargs)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


@dataclass
class E:
    """One error input: ``changes`` applied to a valid sample must raise ``exc`` with a message
    that names ``arg`` and matches the regex ``got``."""

    arg: str
    got: str
    changes: dict[str, Any]
    exc: type[Exception] = ValueError


@dataclass
class OpInfo:
    fn: Callable[..., Any]
    sample: Callable[[torch.Generator, int, torch.dtype], S]
    grad: tuple[str, ...] = ()
    errors: list[E] = field(default_factory=list)
    nan: tuple[str, ...] = ()
    any_shape: tuple[str, ...] = ()
    free_size: tuple[str, ...] = ()
    any_type: tuple[str, ...] = ()
    int_ok: tuple[str, ...] = ()
    any_device: tuple[str, ...] = ()
    empty: str | None = ""  # "" -> the first tensor argument
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16, torch.float16)
    extreme: Callable[[torch.Generator, int, torch.dtype], S] | None = None
    mean_over: Callable[[dict[str, Any]], Any] | None = None
    meta: bool | str = True
    stay_on_cpu: tuple[str, ...] = ()
    random: bool = False
    finite: bool = True
    run: bool = True
    public: Any = None
    gradcheck_atol: float = 1e-5
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.fn.__name__
        self.public = self.fn if self.public is None else self.public

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    def bind(self, s: S) -> inspect.BoundArguments:
        return self.signature.bind(*s.args, **s.kwargs)


# ------------------------------------------------------------------------------ input makers


def randn(g: torch.Generator, *shape: int, dt: torch.dtype = torch.float32, scale: float = 1.0):
    return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dt)


def rand(g: torch.Generator, *shape: int, dt: torch.dtype = torch.float32, low=0.0, high=1.0):
    return (low + (high - low) * torch.rand(*shape, generator=g, dtype=torch.float64)).to(dt)


def classes(g: torch.Generator, *shape: int, n: int) -> torch.Tensor:
    """Integer class indices in [0, n)."""
    return torch.randint(0, n, shape, generator=g)


def bools(g: torch.Generator, *shape: int, p: float = 0.7) -> torch.Tensor:
    """A bool mask, true with probability ``p``; the first entry is always true."""
    m = torch.rand(*shape, generator=g) < p
    if m.numel():
        m.view(-1)[0] = True
    return m


def set_first(value: float) -> Callable[[Any], torch.Tensor]:
    """``changes`` value: set the first element of the argument (a copy) to ``value``."""

    def change(x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x.view(-1)[0] = value
        return x

    return change


# ------------------------------------------------------------------------------ tree helpers


def tensors_in(x: Any) -> list[torch.Tensor]:
    """The tensors in ``x``: itself, or inside lists, tuples and dicts."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, Mapping):
        return [t for v in x.values() for t in tensors_in(v)]
    if isinstance(x, Sequence) and not isinstance(x, str):
        return [t for v in x for t in tensors_in(v)]
    return []


def to_device(x: Any, device: str | torch.device) -> Any:
    """``x`` with every tensor (also in lists, tuples, dicts and modules) moved to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device).requires_grad_(x.requires_grad)
    if isinstance(x, Keep):
        return x.value
    if isinstance(x, torch.device):  # "the data's device" in a sample
        return torch.device(device)
    if isinstance(x, torch.nn.Module):
        return copy.deepcopy(x).to(device)
    if isinstance(x, Mapping):
        return type(x)({k: to_device(v, device) for k, v in x.items()}) if isinstance(
            x, dict) else {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device) for v in x)
    return x


def sample_to(s: S, device: str | torch.device, entry: OpInfo | None = None) -> S:
    """``s`` with its tensors on ``device``, except the arguments ``entry.stay_on_cpu``."""
    if entry is None or not entry.stay_on_cpu:
        return S(*to_device(list(s.args), device), **to_device(dict(s.kwargs), device))
    ba = entry.bind(s)
    for name, value in ba.arguments.items():
        if name not in entry.stay_on_cpu:
            ba.arguments[name] = to_device(value, device)
    return S(*ba.args, **ba.kwargs)


# The float inputs each function scans for NaN / Inf in debug mode (``lossbook.debug_mode()``:
# the opt-in ``check_finite(..., always=False)`` on large tensors); test_opinfo puts a NaN in
# each and expects the error. Inputs checked always are in the entries' ``nan`` instead.
DEBUG_NAN: dict[str, tuple[str, ...]] = {
    "BradleyTerryLoss": ('rewards',),
    "balanced_softmax_cross_entropy": ('logits',),
    "box_corners": ('boxes',),
    "bradley_terry_loss": ('chosen_rewards', 'rejected_rewards'),
    "brier_min_fde": ('pred', 'probs'),
    "brier_score": ('probs',),
    "clip_loss": ('image', 'logit_scale', 'text'),
    "cql_regularizer": ('q_values',),
    "diffusion_loss": ('x0',),
    "distillation_loss": ('student_logits',),
    "dpo_loss": ('policy_chosen_logps', 'policy_rejected_logps'),
    "elbo_loss": ('logvar', 'mu'),
    "focal_loss": ('logits',),
    "gan_discriminator_loss": ('fake_logits', 'real_logits'),
    "gan_generator_loss": ('fake_logits',),
    "gaussian_kl": ('logvar', 'mu'),
    "grpo_loss": ('logprobs',),
    "gspo_loss": ('logprobs',),
    "huber_loss": ('pred',),
    "info_nce": ('key', 'query', 'temperature'),
    "inverse_bicycle": ('speed',),
    "iql_expectile_loss": ('values',),
    "kl_penalty": ('logp',),
    "kto_loss": ('policy_logps',),
    "l1_penalty": ('params',),
    "l2_penalty": ('params',),
    "label_smoothing_cross_entropy": ('logits',),
    "load_balancing_loss": ('router_logits',),
    "logit_adjusted_cross_entropy": ('logits',),
    "min_fde": ('pred',),
    "mixture_nll": ('log_scale', 'pred'),
    "multiclass_hinge_loss": ('logits',),
    "next_token_cross_entropy": ('logits',),
    "ohem_cross_entropy": ('logits',),
    "overlap_rate": ('pred',),
    "perplexity": ('logits',),
    "posthoc_logit_adjustment": ('logits',),
    "ppo_clip_loss": ('logprobs',),
    "ppo_value_loss": ('values',),
    "q_sample": ('x0',),
    "quantile_huber_loss": ('quantiles',),
    "quantile_loss": ('pred',),
    "reinforce_loss": ('logprobs',),
    "router_z_loss": ('router_logits',),
    "sac_actor_loss": ('log_probs', 'q_values'),
    "siglip_loss": ('image', 'logit_bias', 'logit_scale', 'text'),
    "sigmoid_focal_loss": ('logits',),
    "simpo_loss": ('policy_chosen_logps', 'policy_rejected_logps'),
    "td_loss": ('values',),
    "weighted_cross_entropy": ('logits',),
    "wgan_critic_loss": ('fake_scores', 'real_scores'),
    "wgan_generator_loss": ('fake_scores',),
    "wta_trajectory_loss": ('pred',),
}


# ------------------------------------------------------------------------------ the table


DOMAINS = ("alignment", "classification", "contrastive", "debugging", "diffusion", "generative",
           "language", "metrics", "patterns", "policy_gradient", "probabilistic", "regression",
           "regularization", "rl",
           "sim_agents", "simulation", "trajectory")


def _entries() -> list[OpInfo]:
    """Every module's ``ENTRIES``."""
    import importlib

    return [e for d in DOMAINS for e in importlib.import_module(f"opinfo.{d}").ENTRIES]

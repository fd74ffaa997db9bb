"""Generic tests driven by the OpInfo table (tests/opinfo/): every public function refuses every
kind of bad input with a clear error, has correct gradients, stays finite in low precision,
reduces consistently and runs on any device (proven on ``meta`` tensors, without a GPU)."""

from __future__ import annotations

import functools
import re
import runpy
from pathlib import Path

import pytest
import torch
from opinfo import DEBUG_NAN, OK, E, OpInfo, S, _entries, sample_to, tensors_in, to_device
from opinfo.snippets import NOT_FUNCTIONS, SNIPPETS, site_snippet_functions

import lossbook

ENTRIES = _entries()
BY_NAME = {e.name: e for e in ENTRIES}
ROOT = Path(__file__).resolve().parent.parent


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _call(entry: OpInfo, s: S):
    return entry.fn(*s.args, **s.kwargs)


def _float_outputs(out) -> list[torch.Tensor]:
    return [t for t in tensors_in(out if not isinstance(out, dict) else list(out.values()))
            if t.is_floating_point()]


def _tensor_args(entry: OpInfo, s: S) -> list[str]:
    """Argument names holding tensors (or lists of tensors), in signature order."""
    bound = entry.bind(s).arguments
    return [name for name, v in bound.items()
            if isinstance(v, torch.Tensor)
            or (isinstance(v, (list, tuple)) and v and all(isinstance(t, torch.Tensor) for t in v))]


def _apply(entry: OpInfo, s: S, changes: dict) -> S:
    ba = entry.bind(s)
    params = entry.signature.parameters
    for name, value in changes.items():
        if callable(value) and getattr(value, "__name__", "") == "<lambda>":
            value = value(ba.arguments)
        if name in params:
            ba.arguments[name] = value
        else:  # an option of a loss object's constructor, passed through **config
            var = next(p.name for p in params.values() if p.kind is p.VAR_KEYWORD)
            ba.arguments[var] = {**ba.arguments.get(var, {}), name: value}
    return S(*ba.args, **ba.kwargs)


def _generated_errors(entry: OpInfo, s: S) -> list[E]:
    """The error inputs every entry gets without writing them (see tests/opinfo/__init__.py)."""
    errors = []
    params = entry.signature.parameters
    if "reduction" in params:
        errors.append(E("reduction", r"'avg'", {"reduction": "avg"}))
    for name, p in params.items():  # a number that is not a number
        if isinstance(p.default, float) and name not in entry.any_type:
            errors.append(E(name, "str", {name: "0.5"}, TypeError))
    bound = entry.bind(s).arguments
    names = _tensor_args(entry, s)
    for name in names:  # an integer tensor for a float one
        value = bound[name]
        if isinstance(value, torch.Tensor) and value.is_floating_point() and (
            name not in entry.int_ok
        ):
            errors.append(E(name, r"torch\.int64", {name: value.detach().round().long()},
                            TypeError))
    if names and names[0] not in entry.any_type and isinstance(bound[names[0]], torch.Tensor):
        errors.append(E(names[0], "list", {names[0]: bound[names[0]].tolist()}, TypeError))
    for i, name in enumerate(names):
        value = bound[name]
        if name in entry.any_shape or not isinstance(value, torch.Tensor) or value.ndim < 1:
            continue
        bad = value.unsqueeze(-1)
        errors.append(E(name, re.escape(str(list(bad.shape))), {name: bad}))
        if i > 0 and name not in entry.free_size and value.shape[0] >= 2:
            bad = value[:-1]
            errors.append(E(name, re.escape(str(list(bad.shape))), {name: bad}))
    for name in names[1:]:
        if name not in entry.any_device:
            errors.append(E(name, "meta", {name: to_device(bound[name], "meta")}))
    for name in entry.nan:
        value = bound[name].clone()
        value.view(-1)[0] = float("nan")
        errors.append(E(name, r"(?i)nan", {name: value}))
    return errors


def _check_error(entry: OpInfo, s: S, error: E) -> str | None:
    """None if ``error`` raises as declared, else what went wrong."""
    bad = _apply(entry, s, error.changes)
    label = f"{error.arg} <- {', '.join(error.changes)}"
    try:
        _call(entry, bad)
    except error.exc as exc:
        message = str(exc)
        if error.arg not in message or not re.search(error.got, message):
            return f"{label}: message {message!r} must name {error.arg!r} and match {error.got!r}"
        return None
    except Exception as exc:  # noqa: BLE001 - reported below
        return f"{label}: expected {error.exc.__name__}, got {type(exc).__name__}: {exc}"
    return f"{label}: expected {error.exc.__name__}, nothing raised"


# ---------------------------------------------------------------------------------- the table


def test_every_public_function_has_an_entry():
    missing = [name for name in lossbook.__all__
               if name not in BY_NAME and name not in NOT_FUNCTIONS]
    assert not missing, f"public names without an OpInfo entry (tests/opinfo/): {missing}"
    stale = sorted((set(BY_NAME) | set(NOT_FUNCTIONS)) - set(lossbook.__all__))
    assert not stale, f"entries for names that are not public: {stale}"
    for entry in ENTRIES:
        assert getattr(lossbook, entry.name) is entry.public, entry.name


def test_every_snippet_function_on_the_site_has_an_entry():
    missing = sorted(set(site_snippet_functions()) - set(SNIPPETS))
    assert not missing, f"torch snippet functions on the site without a meta sample: {missing}"


# ---------------------------------------------------------------------------------- per entry


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.run], ids=lambda e: e.name)
def test_valid_samples_run_and_are_finite(entry):
    # batch 1 here; 2 (gradcheck), 3 (errors, meta) and 4 (low precision, reductions) elsewhere
    for b in (1,):
        out = _call(entry, entry.sample(_gen(b), b, torch.float32))
        bad = [t.shape for t in _float_outputs(out) if not bool(torch.isfinite(t).all())]
        assert not bad or not entry.finite, f"{entry.name}: non-finite output for batch {b}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_error_inputs_raise_as_declared(entry):
    s = entry.sample(_gen(3), 3, torch.float32)
    problems = [p for error in _generated_errors(entry, s) + entry.errors
                if (p := _check_error(entry, s, error))]
    assert not problems, f"{entry.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name in DEBUG_NAN],
                         ids=lambda e: e.name)
def test_debug_mode_refuses_nan(entry):
    """The opt-in checks (``lossbook.debug_mode()``) find NaN in the inputs of ``DEBUG_NAN``."""
    s = entry.sample(_gen(19), 3, torch.float32)
    bound = entry.bind(s).arguments
    problems = []
    with lossbook.debug_mode():
        for name in DEBUG_NAN[entry.name]:
            if name not in bound or bound[name].numel() == 0:
                continue  # an input of the function's other entry
            value = bound[name].detach().clone()
            value.view(-1)[0] = float("nan")
            problem = _check_error(entry, s, E(name, r"(?i)nan", {name: value}))
            if problem:
                problems.append(problem)
    assert not problems, f"{entry.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.empty is not None],
                         ids=lambda e: e.name)
def test_empty_batch(entry):
    s = entry.sample(_gen(0), 0, torch.float32)
    if entry.empty == OK:
        out = _call(entry, s)
        assert all(bool(torch.isfinite(t).all()) for t in _float_outputs(out)), entry.name
        return
    name = entry.empty or _tensor_args(entry, s)[0]
    with pytest.raises(ValueError, match=rf"{re.escape(name)}.*\b0\b") as info:
        _call(entry, s)
    assert name in str(info.value)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.grad and not e.random],
                         ids=lambda e: e.name)
def test_gradcheck_float64(entry):
    s = entry.sample(_gen(5), 2, torch.float64)
    ba = entry.bind(s)
    inputs = [ba.arguments[name].detach().clone().requires_grad_(True) for name in entry.grad]

    def fn(*xs):
        for name, x in zip(entry.grad, xs):
            ba.arguments[name] = x
        return tuple(_float_outputs(entry.fn(*ba.args, **ba.kwargs)))

    assert torch.autograd.gradcheck(fn, inputs, atol=entry.gradcheck_atol, fast_mode=True)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.grad], ids=lambda e: e.name)
def test_finite_value_and_gradient_in_low_precision(entry):
    problems = []
    for dtype in entry.dtypes:
        make = entry.extreme or entry.sample
        ba = entry.bind(make(_gen(7), 1 if entry.extreme else 4, dtype))
        names = [n for n in entry.grad if n in ba.arguments]
        for name in names:
            ba.arguments[name] = ba.arguments[name].detach().requires_grad_(True)
        outs = _float_outputs(entry.fn(*ba.args, **ba.kwargs))
        if not all(bool(torch.isfinite(t).all()) for t in outs):
            problems.append(f"{dtype}: non-finite value")
            continue
        total = sum(t.float().sum() for t in outs if t.requires_grad)
        grads = torch.autograd.grad(total, [ba.arguments[n] for n in names],
                                    allow_unused=True)
        if not all(g is None or bool(torch.isfinite(g).all()) for g in grads):
            problems.append(f"{dtype}: non-finite gradient")
    assert not problems, f"{entry.name}: {problems}"


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if "reduction" in e.signature.parameters and not e.random],
    ids=lambda e: e.name,
)
def test_reductions_agree(entry):
    s = entry.sample(_gen(11), 4, torch.float64)
    ba = entry.bind(s)
    ba.arguments["reduction"] = "none"
    none = entry.fn(*ba.args, **ba.kwargs)
    ba.arguments["reduction"] = "sum"
    total = entry.fn(*ba.args, **ba.kwargs)
    ba.arguments["reduction"] = "mean"
    mean = entry.fn(*ba.args, **ba.kwargs)
    assert total.ndim == 0 and mean.ndim == 0 and none.ndim >= 1
    torch.testing.assert_close(total, none.sum())
    count = entry.mean_over(ba.arguments) if entry.mean_over else none.numel()
    torch.testing.assert_close(mean, none.sum() / count)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.meta is True], ids=lambda e: e.name)
def test_runs_on_meta_tensors(entry):
    s = sample_to(entry.sample(_gen(13), 3, torch.float32), "meta", entry)
    out = _call(entry, s)
    assert all(t.is_meta for t in tensors_in(out)), f"{entry.name}: output left the device"


def test_meta_exemptions_give_a_reason():
    for entry in ENTRIES:
        assert entry.meta is True or (isinstance(entry.meta, str) and len(entry.meta) > 20), (
            entry.name
        )


# ---------------------------------------------------------------------------------- snippets


@functools.cache
def _snippet_file(path: str) -> dict:
    return runpy.run_path(str(ROOT / "snippets" / path))


@pytest.mark.parametrize("key", sorted(k for k, v in SNIPPETS.items() if not isinstance(v, str)))
def test_snippet_runs_on_meta_tensors(key):
    path, name = key.split(":")
    fn = _snippet_file(path)[name]
    s = sample_to(SNIPPETS[key](_gen(17)), "meta")
    out = fn(*s.args, **s.kwargs)
    assert all(t.is_meta for t in tensors_in(out)), f"{key}: output left the device"

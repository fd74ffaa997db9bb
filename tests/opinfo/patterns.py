"""lossbook.patterns: the functions, and the loss objects called as functions."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, bools, classes, randn, set_first

T, V = 3, 5
_FLOATS = "returns its metrics as Python floats (.item()): it reads the loss"


def _data(g, b, **extra):
    """A batch of b rows: token ids, a token mask with a valid first token, a sample mask."""
    mask = bools(g, b, T)
    if b:
        mask[:, 0] = True
    return {"target_ids": classes(g, b, T, n=V), "token_mask": mask.long(),
            "sample_mask": torch.ones(b, dtype=torch.long), **extra}


def _two_losses(w):
    return S({"a": (w * 2).sum(), "b": w.square().sum()}, [w])


def _embedding(dt):
    """A one-layer language model: token id -> logits over the vocabulary."""
    torch.manual_seed(0)
    return torch.nn.Embedding(V, V).to(dt)


def _bradley_terry(rewards, data, global_valid_seqs=None, global_valid_toks=None, **config):
    """BradleyTerryLoss as a function; its input is a reward model's scores, named rewards."""
    return lossbook.BradleyTerryLoss(**config)(rewards, data, global_valid_seqs, global_valid_toks)


def _call(cls):
    """The loss object as a function: ``f(x, data, seqs, toks, **config)``."""

    def loss(next_token_logits_or_logprobs, data, global_valid_seqs=None,
             global_valid_toks=None, **config):
        return cls(**config)(next_token_logits_or_logprobs, data, global_valid_seqs,
                             global_valid_toks)

    loss.__name__ = cls.__name__
    return loss


_X = "next_token_logits_or_logprobs"
DATA_ERRORS = [
    E("data", "'token_mask'", {"data": lambda a: {k: v for k, v in a["data"].items() if k != "token_mask"}}),
    E("data['token_mask']", r"2", {"data": lambda a: {**a["data"], "token_mask": set_first(2)(a["data"]["token_mask"])}}),
    E("data['sample_mask']", r"\[2\]", {"data": lambda a: {**a["data"], "sample_mask": a["data"]["sample_mask"][:2]}}),
    E("global_valid_toks", r"got 0\b", {"global_valid_toks": 0.0}),
]
TARGET_IDS = E("data['target_ids']", rf"\[0, {V - 1}\].*got {V}",
               {"data": lambda a: {**a["data"], "target_ids": torch.full_like(a["data"]["target_ids"], V)}})

ENTRIES = [
    OpInfo(
        lossbook.masked_mean,
        sample=lambda g, b, dt: S(randn(g, b, T, dt=dt), bools(g, b, T), dim=1),
        grad=("values",),
        errors=[
            E("mask", r"2", {"mask": lambda a: set_first(2)(a["mask"].long())}),
            E("dim", "global_normalization_factor", {"global_normalization_factor": 100.0}),
        ],
        empty=OK,  # a mean over no row: an empty result
    ),
    OpInfo(  # the global normalisation of a microbatch
        lossbook.masked_mean,
        name="masked_mean",
        sample=lambda g, b, dt: S(randn(g, b, T, dt=dt), bools(g, b, T),
                                  global_normalization_factor=float(4 * T)),
        grad=("values",),
        errors=[
            E("global_normalization_factor", r"got 1\b",
              {"global_normalization_factor": 1.0, "mask": lambda a: torch.ones_like(a["mask"])}),
            E("global_normalization_factor", r"\[2\]", {"global_normalization_factor": torch.ones(2)}),
            E("global_normalization_factor", r"-1\.0", {"global_normalization_factor": -1.0}),
        ],
        empty=OK,  # nothing valid: exactly 0
        meta="compares the microbatch's valid count (read from the mask) with the global one",
    ),
    OpInfo(
        lossbook.global_valid_counts,
        sample=lambda g, b, dt: S(_data(g, b)),
        errors=DATA_ERRORS[:3] + [
            E("data['token_mask']", r"\[3\]", {"data": lambda a: {**a["data"], "token_mask": a["data"]["token_mask"][:, 0]}}),
        ],
        empty=OK,
    ),
    OpInfo(
        lossbook.slice_batch,
        sample=lambda g, b, dt: S(_data(g, b), 0, b // 2),
        errors=[
            E("data", "token_mask", {"data": {"x": torch.ones(3)}}),
            E("stop", "stop=9", {"stop": 9}),
            E("start", "'0'", {"start": "0"}),
        ],
        empty=OK,
    ),
    OpInfo(
        lossbook.stable_contrastive_loss,
        sample=lambda g, b, dt: S(randn(g, b, dt=dt), randn(g, b, 4, dt=dt)),
        grad=("pos_sim", "neg_sim"),
        errors=[E("neg_sim", r"\[B, 0\]", {"neg_sim": lambda a: a["neg_sim"][:, :0]}),
                E("temperature", r"0\.0", {"temperature": 0.0})],
        # similarities / 0.01: logits of +-1e2 to 1e4, far beyond float16's exp range
        extreme=lambda g, b, dt: S(torch.tensor([1.0, -1.0], dtype=dt),
                                   torch.tensor([[-1.0, 1.0], [1.0, 0.5]], dtype=dt),
                                   temperature=0.01),
    ),
    OpInfo(
        _call(lossbook.NLLLoss),
        name="NLLLoss",
        public=lossbook.NLLLoss,
        sample=lambda g, b, dt: S(randn(g, b, T, V, dt=dt), _data(g, b)),
        grad=(_X,),
        errors=[*DATA_ERRORS, TARGET_IDS,
                E(_X, r"\[3, 3, 5, 1\]", {_X: lambda a: a[_X][..., None]}),
                E("data['token_mask']", r"\[3, 2\]", {"data": lambda a: {**a["data"], "token_mask": a["data"]["token_mask"][:, :2]}}),
                E("data", "target_ids", {"data": lambda a: {k: v for k, v in a["data"].items() if k != "target_ids"}})],
        any_shape=(_X,),  # [B, T, V] logits or [B, T] log-probs; other ranks are refused above
        meta=_FLOATS,
        empty=OK,  # no token: loss 0
    ),
    OpInfo(
        _call(lossbook.ClippedPGLoss),
        name="ClippedPGLoss",
        public=lossbook.ClippedPGLoss,
        sample=lambda g, b, dt: S(
            -randn(g, b, T, dt=dt).abs(),
            _data(g, b, prev_logprobs=-randn(g, b, T, dt=dt).abs(), advantages=randn(g, b, T, dt=dt),
                  reference_policy_logprobs=-randn(g, b, T, dt=dt).abs()),
            kl_coef=0.1, eps_high=0.28, token_level=False),
        grad=(_X,),
        errors=[
            *DATA_ERRORS[:3],
            E("global_valid_seqs", r"got 0\b", {"global_valid_seqs": 0.0}),
            E("eps_low", r"1\.0", {"eps_low": 1.0}),
            E("dual_clip", r"0\.5", {"dual_clip": 0.5}),
            E("kl_coef", r"-0\.1", {"kl_coef": -0.1}),
            E("data", "'reference_policy_logprobs'", {"data": lambda a: {k: v for k, v in a["data"].items() if k != "reference_policy_logprobs"}}),
            E("kl_estimator", "'k4'", {"kl_estimator": "k4"}),
            E("token_level", "str", {"token_level": "yes"}, TypeError),
            E("data", "'advantages'", {"data": lambda a: {k: v for k, v in a["data"].items() if k != "advantages"}}),
            E("data['advantages']", r"\[3, 2\]", {"data": lambda a: {**a["data"], "advantages": a["data"]["advantages"][:, :2]}}),
        ],
        any_shape=(_X,),  # [B, T, 1] is logits over a vocabulary of one: refused by the ids
        meta=_FLOATS,
        empty=OK,
    ),
    OpInfo(
        _call(lossbook.DPOLoss),
        name="DPOLoss",
        public=lossbook.DPOLoss,
        sample=lambda g, b, dt: S(randn(g, 2 * b, T, V, dt=dt),
                                  _data(g, 2 * b, reference_policy_logprobs=-randn(g, 2 * b, T, dt=dt).abs()),
                                  sft_weight=0.5, variant="ipo"),
        grad=(_X,),
        errors=[
            E("beta", r"0\.0", {"beta": 0.0}),
            E("variant", "'kto'", {"variant": "kto"}),
            E("sft_weight", r"-1\.0", {"sft_weight": -1.0}),
            E("batch", "got 3", {_X: lambda a: a[_X][:3], "data": lambda a: {k: v[:3] for k, v in a["data"].items()}}),
            E("data['sample_mask']", "both valid",
              {"data": lambda a: {**a["data"], "sample_mask": set_first(0)(a["data"]["sample_mask"])}}),
            TARGET_IDS,
        ],
        any_shape=(_X,),
        meta=_FLOATS,
        empty=OK,
    ),
    OpInfo(
        _bradley_terry,
        name="BradleyTerryLoss",
        public=lossbook.BradleyTerryLoss,
        sample=lambda g, b, dt: S(randn(g, 2 * b, dt=dt), {"sample_mask": torch.ones(2 * b, dtype=torch.long)},
                                  margin=0.5),
        grad=("rewards",),
        errors=[E("margin", r"-1\.0", {"margin": -1.0})],
        meta=_FLOATS,
        empty=OK,
    ),
    OpInfo(
        lossbook.build_loss,
        sample=lambda g, b, dt: S([{"type": "nll"}, {"type": "clipped_pg", "weight": 0.5}]),
        errors=[
            E("config", "empty list", {"config": []}),
            E("config[0]", "'type'", {"config": [{"weight": 1.0}]}),
            E("type", "'focal'", {"config": {"type": "focal"}}),
            E("config[0]['weight']", r"-1\.0", {"config": [{"type": "nll", "weight": -1.0}]}),
            E("config[1]", "duplicate", {"config": [{"type": "nll"}, {"type": "nll"}]}),
            E("config", "'extra'", {"config": {"type": "composed", "components": [], "extra": 1}}),
            E("config", "int", {"config": 3}, TypeError),
            E("type", "did you mean", {"config": [{"type": "nll"}, {"type": "dop"}]}),
            E("config", "'betta'", {"config": {"type": "dpo", "betta": 0.1}}),
            E("config['loss_type']", "'tokens'", {"config": {"type": "composed", "loss_type": "tokens", "components": [{"type": "nll"}]}}),
        ],
        empty=None,
        meta="takes no tensor: builds loss objects from a configuration",
    ),
    OpInfo(
        lossbook.check_finite_losses,
        sample=lambda g, b, dt: S({"nll": randn(g, 1, dt=dt)[0], "kl": 0.5}, step=b),
        errors=[
            E("'nll'", "nan", {"losses": {"nll": torch.tensor(float("nan"))}}, FloatingPointError),
            E("'kl'", "inf", {"losses": {"kl": float("inf")}}, FloatingPointError),
            E("losses", "list", {"losses": [1.0]}, TypeError),
        ],
        empty=None,
        meta="reads each loss to test it (its purpose: a host-side check between steps)",
    ),
    OpInfo(
        lossbook.component_grad_norms,
        sample=lambda g, b, dt: _two_losses(randn(g, 3, dt=dt).requires_grad_(True)),
        errors=[
            E("params", "requires grad", {"params": []}),
            E("losses['a']", r"\[3\]", {"losses": lambda a: {"a": a["params"][0] * 2}}),
        ],
        empty=None,
        meta="returns the norms as Python floats (reads every gradient)",
    ),
    OpInfo(
        lossbook.accumulate_microbatches,
        sample=lambda g, b, dt: S(lossbook.NLLLoss(), randn(g, 2 * b, T, V, dt=dt), _data(g, 2 * b),
                                  num_microbatches=2 if b else 1),
        errors=[
            E("num_microbatches", "got 9", {"num_microbatches": 9}),
            E("normalization", "'sum'", {"normalization": "sum"}),
            E("inputs", "scalar", {"inputs": torch.tensor(1.0)}),
        ],
        any_shape=("inputs",),  # the loss function checks each microbatch's shape
        empty=OK,
        meta="counts the valid tokens of the whole batch as Python numbers (reads the masks)",
    ),
    OpInfo(
        lossbook.data_parallel_backward,
        sample=lambda g, b, dt: S(_embedding(dt), lossbook.NLLLoss(), _data(g, 2 * b, input_ids=classes(g, 2 * b, T, n=V)),
                                  num_microbatches=2 if b else 1),
        errors=[
            E("inputs_key", "'tokens'", {"inputs_key": "tokens"}),
            E("num_microbatches", "got 9", {"num_microbatches": 9}),
            E("normalization", "'sum'", {"normalization": "sum"}),
        ],
        empty=OK,
        meta="returns the loss and metrics as Python floats (.item())",
    ),
    OpInfo(
        lossbook.ddp_demo,
        sample=lambda g, b, dt: S(2, num_microbatches=2),
        errors=[
            E("world_size", "got 5", {"world_size": 5}),
            E("num_microbatches", "got 3", {"num_microbatches": 3}),
            E("timeout", r"0\.0", {"timeout": 0.0}),
        ],
        empty=None,
        run=False,  # spawns processes (seconds): tests/test_patterns_ddp.py runs it
        meta="takes no tensor: runs its own toy model in spawned processes",
    ),
]

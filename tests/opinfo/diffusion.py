"""lossbook.diffusion and the toy model of the simulation lesson (lossbook.diffusion_toy)."""

import torch

import lossbook
from opinfo import OK, E, OpInfo, S, classes, rand, randn, set_first

T = 6
AB = lossbook.alphas_cumprod(lossbook.cosine_beta_schedule(T))  # float64, on the CPU

NOT_A_CUMPROD = E("alphas_cumprod", r"alphas_cumprod\[0\] = 1\.0",
                  {"alphas_cumprod": lambda a: torch.cat([torch.ones(1, dtype=AB.dtype), AB[1:]])})
NOT_DECREASING = E("alphas_cumprod", "non-increasing",
                   {"alphas_cumprod": lambda a: AB.flip(0)})
T_RANGE = E("t", rf"\[0, {T - 1}\].*got {T}", {"t": lambda a: torch.full_like(a["t"], T)})
T_FLOAT = E("t", r"torch\.float32", {"t": lambda a: a["t"].float()}, TypeError)
# The schedule is a small float64 table kept on the CPU; timesteps may come from the CPU too:
# both are moved to the data's device inside.
_SCHEDULE = {"any_device": ("alphas_cumprod", "t"), "stay_on_cpu": ("alphas_cumprod",),
             "free_size": ("alphas_cumprod",)}


def _model(x, t, cond=None):
    """A parameter-free denoiser: works on any device."""
    return 0.5 * x if cond is None else 0.5 * x + cond[:, :1]


def _pair(g, b, dt, other_first=False):
    x = randn(g, b, 2, dt=dt)
    t = classes(g, b, n=T)
    other = randn(g, b, 2, dt=dt)
    return S(x, other, t, AB) if other_first else S(x, t, other, AB)


def _schedule_entry(fn, errors, **kwargs):
    return OpInfo(
        fn,
        sample=lambda g, b, dt: S(b + 3),
        errors=[E("T", "got 0", {"T": 0}), E("T", "float", {"T": 2.5}, TypeError), *errors],
        empty=None,
        meta="takes no tensor: a float64 schedule on the CPU, which every function accepts "
             "whatever the device of the data",
        **kwargs,
    )


ENTRIES = [
    _schedule_entry(lossbook.linear_beta_schedule, [
        E("beta_start", r"0\.0", {"beta_start": 0.0}), E("beta_end", r"1\.5", {"beta_end": 1.5})]),
    _schedule_entry(lossbook.cosine_beta_schedule, [
        E("s", r"-0\.1", {"s": -0.1}), E("max_beta", r"1\.0", {"max_beta": 1.0})]),
    OpInfo(
        lossbook.alphas_cumprod,
        sample=lambda g, b, dt: S(rand(g, b + 2 if b else 0, dt=dt, low=0.01, high=0.3)),
        grad=("betas",),
        nan=("betas",),
        errors=[E("betas", r"betas\[0\] = 1\.0", {"betas": lambda a: torch.cat([torch.ones(1), a["betas"][1:]])})],
    ),
    OpInfo(
        lossbook.q_sample,
        sample=lambda g, b, dt: S(randn(g, b, 2, dt=dt), classes(g, b, n=T), randn(g, b, 2, dt=dt), AB),
        grad=("x0", "noise"),
        errors=[T_RANGE, T_FLOAT, NOT_A_CUMPROD, NOT_DECREASING],
        **_SCHEDULE,
    ),
    *(
        OpInfo(
            fn,
            sample=lambda g, b, dt: _pair(g, b, dt),
            grad=("x_t", other),
            errors=[T_RANGE, T_FLOAT, NOT_A_CUMPROD],
            empty="x_t",
            **_SCHEDULE,
        )
        for fn, other in ((lossbook.x0_from_eps, "eps"), (lossbook.eps_from_x0, "x0"),
                          (lossbook.x0_from_v, "v"), (lossbook.eps_from_v, "v"))
    ),
    OpInfo(
        lossbook.v_from_x0_eps,
        sample=lambda g, b, dt: _pair(g, b, dt, other_first=True),
        grad=("x0", "eps"),
        errors=[T_RANGE, T_FLOAT, NOT_A_CUMPROD],
        **_SCHEDULE,
    ),
    OpInfo(
        lossbook.diffusion_loss,
        sample=lambda g, b, dt: S(_model, randn(g, b, 2, dt=dt), AB, t=classes(g, b, n=T),
                                  noise=randn(g, b, 2, dt=dt), parameterization="v"),
        grad=("x0", "noise"),
        errors=[
            T_RANGE, T_FLOAT, NOT_A_CUMPROD,
            E("parameterization", "'score'", {"parameterization": "score"}),
            E("model", r"\[3, 1\]", {"model": lambda a: (lambda x, t: x[:, :1])}),
        ],
        empty="x0",
        **_SCHEDULE,
    ),
    OpInfo(  # t and noise drawn inside, from a CPU generator, conditioned model
        lossbook.diffusion_loss,
        name="diffusion_loss",
        sample=lambda g, b, dt: S(_model, randn(g, b, 2, dt=dt), AB, cond=randn(g, b, 1, dt=dt),
                                  generator=torch.Generator().manual_seed(b)),
        grad=("x0",),
        random=True,
        any_shape=("x0", "cond"),  # data of any shape [B, ...]; the condition is the model's
        empty="x0",
        **_SCHEDULE, int_ok=("cond",),
    ),
    OpInfo(
        lossbook.flow_matching_loss,
        sample=lambda g, b, dt: S(_model, randn(g, b, 2, dt=dt), x0=randn(g, b, 2, dt=dt),
                                  t=rand(g, b, dt=dt)),
        grad=("x1", "x0"),
        nan=("t",),
        errors=[
            E("t", r"\[0, 1\].*1\.5", {"t": lambda a: torch.full_like(a["t"], 1.5)}),
            E("model", r"\[3, 1\]", {"model": lambda a: (lambda x, t: x[:, :1])}),
        ],
        empty="x1",
    ),
    OpInfo(
        lossbook.flow_matching_loss,
        name="flow_matching_loss",
        sample=lambda g, b, dt: S(_model, randn(g, b, 2, dt=dt),
                                  generator=torch.Generator().manual_seed(b)),
        grad=("x1",),
        random=True,
        any_shape=("x1",),  # data of any shape [B, ...]
        empty="x1",
    ),
    OpInfo(
        lossbook.cfg_combine,
        sample=lambda g, b, dt: S(randn(g, b, 2, dt=dt), randn(g, b, 2, dt=dt), 3.0),
        grad=("eps_cond", "eps_uncond"),
        errors=[E("scale", r"-1\.0", {"scale": -1.0}),
                E("scale", "str", {"scale": "3"}, TypeError)],
        empty=OK,  # element-wise: an empty batch gives an empty result
    ),
    OpInfo(
        lossbook.ddpm_step,
        sample=lambda g, b, dt: S(randn(g, b, 2, dt=dt), randn(g, b, 2, dt=dt), 3, AB,
                                  noise=randn(g, b, 2, dt=dt), variance="posterior"),
        grad=("eps", "x_t", "noise"),
        errors=[
            E("t", rf"\[0, {T - 1}\].*got {T}", {"t": T}),
            E("t", "float", {"t": 1.5}, TypeError),
            E("variance", "'fixed'", {"variance": "fixed"}),
            NOT_A_CUMPROD,
        ],
        empty="x_t",
        **_SCHEDULE,
    ),
    OpInfo(
        lossbook.ddpm_sample,
        sample=lambda g, b, dt: S(_model, (b, 2), AB, cond=randn(g, b, 1, dt=dt),
                                  uncond=torch.zeros(b, 1, dtype=dt), guidance_scale=2.0,
                                  generator=torch.Generator().manual_seed(b), dtype=dt),
        errors=[
            E("shape", r"\(0, 2\)", {"shape": (0, 2)}),
            E("guidance_scale", r"-1\.0", {"guidance_scale": -1.0}),
            E("cost_scale", r"-1\.0", {"cost_scale": -1.0}),
            E("cost_scale", "is 0", {"cost": lambda a: (lambda x: x.sum(1))}),
            E("variance", "'fixed'", {"variance": "fixed"}),
            E("uncond", "uncond=None", {"uncond": None}),
            E("cond", r"\[2, 1\]", {"cond": lambda a: a["cond"][:2]}),
            E("cond", "meta", {"device": "meta"}),
            NOT_A_CUMPROD,
        ],
        empty="shape",
        any_shape=("cond", "uncond"),  # conditions are the model's business
        **_SCHEDULE, int_ok=("cond", "uncond"),
    ),
    OpInfo(  # cost guidance, unconditional model, explicit device
        lossbook.ddpm_sample,
        name="ddpm_sample",
        sample=lambda g, b, dt: S(_model, (b, 2), AB, cost=lambda x: x.square().sum(1),
                                  cost_scale=0.5, generator=torch.Generator().manual_seed(b),
                                  device=torch.device("cpu")),
        errors=[E("cost", r"\[3, 2\]", {"cost": lambda a: (lambda x: x)})],
        empty="shape",
        **_SCHEDULE,
    ),
    OpInfo(
        lossbook.flow_matching_sample,
        sample=lambda g, b, dt: S(_model, (b, 2), steps=3, cond=randn(g, b, 1, dt=dt),
                                  generator=torch.Generator().manual_seed(b), dtype=dt),
        errors=[
            E("steps", "got 0", {"steps": 0}),
            E("cond", r"\[2, 1\]", {"cond": lambda a: a["cond"][:2]}),
        ],
        empty="shape",
        any_shape=("cond",), int_ok=("cond",),  # conditions are the model's business
    ),
    # the toy model of the simulation lesson
    OpInfo(
        lossbook.toy_intersection,
        sample=lambda g, b, dt: S(b * 5, seed=b),
        errors=[E("p_left", r"1\.5", {"p_left": 1.5}), E("seed", "str", {"seed": "0"}, TypeError)],
        empty="n",
        meta="takes no tensor: generates the lesson's data set on the CPU",
    ),
    OpInfo(
        lossbook.toy_condition,
        sample=lambda g, b, dt: S(b, speed=7.0, route="left"),
        errors=[E("route", "'right'", {"route": "right"}), E("speed", r"-1\.0", {"speed": -1.0}),
                E("red", "str", {"red": "yes"}, TypeError)],
        empty="n",
        meta="takes no tensor: builds the lesson's condition rows on the CPU",
    ),
    OpInfo(
        lossbook.toy_modes,
        sample=lambda g, b, dt: S(randn(g, b, 8, 2, dt=dt, scale=5.0)),
        errors=[E("future", r"\[3, 7, 2\]", {"future": lambda a: a["future"][:, :7]})],
        empty=OK,  # no trajectory, no mode
    ),
    OpInfo(
        lossbook.train_toy_baselines,
        sample=lambda g, b, dt: S(seed=0, steps=2, n_data=16 * b),
        errors=[E("steps", "got 0", {"steps": 0})],
        empty="n_data",
        meta="takes no tensor: trains the lesson's baselines on the CPU",
    ),
    OpInfo(
        lossbook.train_toy_trajectory_model,
        sample=lambda g, b, dt: S(seed=0, steps=2, n_data=16 * b, parameterization="eps"),
        errors=[E("steps", "got 0", {"steps": 0}),
                E("parameterization", "'score'", {"parameterization": "score"})],
        empty="n_data",
        meta="takes no tensor: trains the lesson's denoiser on the CPU",
    ),
]


# DDIM and loss weighting (lossbook.diffusion.ddim, lossbook.diffusion.weighting)


def _schedule(g, b, dt):
    """A valid alphas_cumprod of length b (+2): sorted descending in (0.05, 0.95)."""
    n = b + 2 if b else 0
    return rand(g, n, dt=torch.float64, low=0.05, high=0.95).sort(descending=True).values.to(dt)


ENTRIES += [
    OpInfo(
        lossbook.respaced_timesteps,
        sample=lambda g, b, dt: S(10, b + 1, spacing="leading", offset=1),
        errors=[
            E("T", "got 0", {"T": 0}),
            E("steps", r"\[1, 10\].*got 11", {"steps": 11}),
            E("steps", "float", {"steps": 2.0}, TypeError),
            E("spacing", "'uniform'", {"spacing": "uniform"}),
            E("offset", "-1", {"offset": -1}),
            E("offset", "'trailing'", {"spacing": "trailing"}),  # an offset only with "leading"
            E("offset", r"below T = 10, got 15", {"offset": 9}),  # pushes timesteps past T - 1
        ],
        empty=None,
        meta="takes no tensor: returns the int64 timesteps on the CPU, like the schedules",
    ),
    OpInfo(
        lossbook.ddim_step,
        sample=lambda g, b, dt: S(randn(g, b, 2, dt=dt), randn(g, b, 2, dt=dt), 3, 1, AB,
                                  eta=0.5, noise=randn(g, b, 2, dt=dt), parameterization="v"),
        grad=("pred", "x_t", "noise"),
        errors=[
            E("t", rf"\[0, {T - 1}\].*got {T}", {"t": T}),
            E("t", "float", {"t": 1.5}, TypeError),
            E("t_prev", r"\[-1, 3\).*got 3", {"t_prev": 3}),  # not earlier than t
            E("t_prev", "got -2", {"t_prev": -2}),
            E("eta", r"-1\.0", {"eta": -1.0}),
            E("parameterization", "'score'", {"parameterization": "score"}),
            NOT_A_CUMPROD, NOT_DECREASING,
        ],
        empty="x_t",
        **_SCHEDULE,
    ),
    OpInfo(  # eta > 0 without noise: drawn inside from a CPU generator and moved
        lossbook.ddim_step,
        name="ddim_step",
        sample=lambda g, b, dt: S(randn(g, b, 2, dt=dt), randn(g, b, 2, dt=dt), 4, -1, AB,
                                  eta=1.0, generator=torch.Generator().manual_seed(b)),
        grad=("pred", "x_t"),
        random=True,
        empty="x_t",
        **_SCHEDULE,
    ),
    OpInfo(
        lossbook.ddim_sample,
        sample=lambda g, b, dt: S(_model, (b, 2), AB, steps=3, spacing="trailing", eta=0.5,
                                  parameterization="eps",
                                  generator=torch.Generator().manual_seed(b), dtype=dt,
                                  device=torch.device("cpu")),
        errors=[
            E("shape", r"\(0, 2\)", {"shape": (0, 2)}),
            E("steps", "got 0", {"steps": 0}),
            E("steps", rf"\[1, {T}\].*got {T + 1}", {"steps": T + 1}),
            E("spacing", "'uniform'", {"spacing": "uniform"}),
            E("eta", r"-1\.0", {"eta": -1.0}),
            E("parameterization", "'score'", {"parameterization": "score"}),
            E("model", r"\[3, 1\]", {"model": lambda a: (lambda x, t: x[:, :1])}),
            NOT_A_CUMPROD,
        ],
        empty="shape",
        **_SCHEDULE,
    ),
    OpInfo(
        lossbook.snr,
        sample=lambda g, b, dt: S(_schedule(g, b, dt)),
        grad=("alphas_cumprod",),
        nan=("alphas_cumprod",),
        errors=[
            E("alphas_cumprod", r"\[0\] = 1\.0", {"alphas_cumprod": lambda a: set_first(1.0)(a["alphas_cumprod"])}),
            E("alphas_cumprod", "non-increasing",
              {"alphas_cumprod": lambda a: a["alphas_cumprod"].flip(0)}),
        ],
        # gradcheck needs float64 inputs; bf16 rounds 0.95 to 0.953 and 1 - a loses digits,
        # but the value stays finite: the low-precision check runs in every dtype
    ),
    OpInfo(
        lossbook.min_snr_weight,
        sample=lambda g, b, dt: S(rand(g, b, dt=dt, low=0.1, high=20.0), gamma=5.0,
                                  parameterization="v"),
        grad=("snr",),
        nan=("snr",),
        errors=[
            E("snr", r"got 0\.0", {"snr": lambda a: set_first(0.0)(a["snr"])}),
            E("gamma", r"got 0\.0|0\.0", {"gamma": 0.0}),
            E("parameterization", "'score'", {"parameterization": "score"}),
        ],
        any_shape=("snr",),  # element-wise: a weight per SNR, whatever the shape
        empty=OK,  # element-wise: no SNR, no weight
    ),
    *(
        OpInfo(
            fn,
            sample=lambda g, b, dt: S((0.5 * randn(g, b, dt=torch.float64)).exp().to(dt),
                                      sigma_data=0.5),
            grad=("sigma",),
            nan=("sigma",),
            errors=[
                E("sigma", r"got 0\.0", {"sigma": lambda a: set_first(0.0)(a["sigma"])}),
                E("sigma", r"got -1\.0", {"sigma": lambda a: set_first(-1.0)(a["sigma"])}),
                E("sigma_data", r"0\.0", {"sigma_data": 0.0}),
            ],
            # EDM's noise range (sigma_max = 80). The weight 1/c_out^2 at sigma_min = 0.002 is
            # 2.5e5, past float16's largest value (65504), and the backward of its quotient
            # overflows float16 below sigma ~ 0.1: the loss weight's extremes stop at 0.1
            extreme=lambda g, b, dt, lo=lo: S(torch.tensor([lo, 0.5, 80.0], dtype=dt)),
            any_shape=("sigma",),  # element-wise: coefficients per noise level
            empty=OK,  # element-wise: no noise level, no coefficient
        )
        for fn, lo in ((lossbook.edm_precondition, 0.002), (lossbook.edm_loss_weight, 0.1))
    ),
]

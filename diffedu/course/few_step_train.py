r"""Few-step generation (chapter 13), the experiments: train consistency distillation, consistency training,
progressive distillation and MeanFlow on the 2-D mixture under rectified flow, sample each with 1, 2 and 4 network
calls, and measure the error against the exact flow map and the sliced Wasserstein distance to exact samples.

The losses and samplers are in :mod:`diffedu.course.few_step`; the exact flow map (a tight RK4 solve with the exact
velocity) is computed once per (n, seed) and cached.
"""
from __future__ import annotations

import copy
from functools import lru_cache

import torch
from torch import Tensor

from ..checks import require_in_range, require_integer
from ..integrators import dpmpp_2m
from ..metrics import sliced_wasserstein
from ..nets import MLP
from ..processes import Process, RectifiedFlow
from ..runtime import one_thread
from ..timers import uniform
from ..toys import GaussianMixture, gmm_2d
from .few_step import (AverageVelocityMLP, ConsistencyModel, cd_loss, consistency_sample, ct_loss, ddim_x0_sample,
                       flow_map, meanflow_loss, meanflow_sample, pd_loss, teacher_step)
from .fit import fit

__all__ = ["data_std", "exact_pairs", "grid_size", "train_consistency", "train_progressive", "train_meanflow", "few_step_samples",
           "map_error", "play_few_step", "METHODS"]

METHODS = ("consistency distillation", "consistency training", "progressive distillation", "MeanFlow")


def data_std(gmm: GaussianMixture) -> float:
    r"""$\sigma_{data}$: the root mean per-coordinate variance of the mixture, $\sqrt{\mathrm{tr}\,\mathrm{Cov}/D}$ (exact)."""
    w, mu = gmm.weights, gmm.means
    mean = w @ mu  # (D,)
    second = (w[:, None, None] * (gmm.covs + mu[:, :, None] * mu[:, None, :])).sum(0)  # E[x xᵀ]
    return float(((torch.trace(second) - mean @ mean) / gmm.dim).sqrt())


@lru_cache(maxsize=8)
def _pairs(n: int, seed: int, n_steps: int) -> tuple[Tensor, Tensor]:
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with one_thread():
        return x_T, flow_map(gmm_2d(), x_T, 1.0, 0.0, RectifiedFlow(), n_steps)


def exact_pairs(n: int, seed: int = 0, n_steps: int = 128) -> tuple[Tensor, Tensor]:
    r"""$(x_T, \Phi_{1\to0}(x_T))$ for ``n`` standard normal $x_T$ on ``gmm_2d`` under rectified flow (cached)."""
    x_T, x_0 = _pairs(require_integer("n", n), int(seed), require_integer("n_steps", n_steps))
    return x_T.clone(), x_0.clone()


def _init(generator: torch.Generator | None) -> None:
    if generator is not None:
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))  # reproducible initial weights


def _draw(gmm: GaussianMixture, batch: int, g: torch.Generator | None) -> tuple[Tensor, Tensor]:
    x0 = gmm.sample(batch, generator=g)
    return x0, torch.randn(x0.shape, generator=g, dtype=x0.dtype)


def _grid_pair(n_grid: int, batch: int, g) -> tuple[Tensor, Tensor]:
    """Adjacent times t = k/N, s = (k−1)/N with k uniform in 1..N (the discretisation of Song et al. 2023)."""
    k = torch.randint(1, n_grid + 1, (batch,), generator=g).float()
    return k / n_grid, (k - 1) / n_grid


def grid_size(k: int, steps: int, n_grid: int, curriculum: bool = True) -> int:
    r"""The grid size N at training step k: with ``curriculum``, doubling from 2 up to ``n_grid`` in equal stages (as
    improved CT grows N, Song & Dhariwal 2024): a coarse grid first carries the boundary x₀ up to t = 1 in few
    links, a fine one then removes the teacher's bias."""
    if not curriculum:
        return n_grid
    stages = max(1, n_grid.bit_length() - 1)  # 2, 4, …, n_grid (n_grid a power of two)
    return min(n_grid, 2 ** (1 + k * stages // max(steps, 1)))


def train_consistency(steps: int, n_grid: int = 16, teacher: str | None = "heun", batch: int = 256, lr: float = 3e-3,
                      hidden: int = 64, curriculum: bool = True, ema: float = 0.99,
                      generator: torch.Generator | None = None) -> ConsistencyModel:
    r"""A consistency model $f_\theta$ on ``gmm_2d`` (rectified flow, up to N = ``n_grid`` equal steps, see
    :func:`grid_size`): distilled from the exact velocity with one ``teacher`` ('euler' or 'heun') step, or trained
    without a teacher (``teacher=None``). The target network θ⁻ is an exponential moving average of θ with decay
    ``ema`` (Song et al. 2023, Algorithms 2–3: θ⁻ ← sg(μθ⁻ + (1 − μ)θ); ``ema=0`` is θ⁻ = θ)."""
    steps, n_grid = require_integer("steps", steps, 0), require_integer("n_grid", n_grid, 1, 1024)
    if n_grid & (n_grid - 1):
        raise ValueError(f"n_grid must be a power of two; got {n_grid}")
    process, gmm = RectifiedFlow(), gmm_2d(torch.float32)
    step = None if teacher is None else teacher_step(gmm, process, teacher)
    _init(generator)
    ema = require_in_range("ema", ema, 0.0, 1.0)
    f, k = ConsistencyModel(MLP(hidden=hidden), process, data_std(gmm_2d())), iter(range(steps))
    f_target = copy.deepcopy(f).requires_grad_(False)  # θ⁻

    def batch_loss(g):
        x0, eps = _draw(gmm, batch, g)
        t, s = _grid_pair(grid_size(next(k), steps, n_grid, curriculum), batch, g)
        if step is None:
            return ct_loss(f, x0, eps, t, s, process, f_target=f_target)
        return cd_loss(f, x0, eps, t, s, step, process, f_target=f_target)

    @torch.no_grad()
    def update_target(_step, _loss):
        for p_target, p in zip(f_target.parameters(), f.parameters()):
            p_target.mul_(ema).add_(p, alpha=1 - ema)  # θ⁻ ← μθ⁻ + (1 − μ)θ

    with one_thread():
        fit(f, batch_loss, steps, lr, generator=generator, callback=update_target)
    return f.requires_grad_(False)


def train_progressive(steps_per_round: int, start: int = 8, batch: int = 256, lr: float = 3e-3, hidden: int = 64,
                      generator: torch.Generator | None = None) -> dict[int, ConsistencyModel]:
    r"""Progressive distillation from the exact denoiser at 2·``start`` DDIM steps: students of ``start``, start/2, …,
    1 steps, each initialised from and taught by the one before (Salimans & Ho 2022, Algorithm 2)."""
    start = require_integer("start", start)
    if start & (start - 1):
        raise ValueError(f"start must be a power of two; got {start}")
    process, gmm = RectifiedFlow(), gmm_2d(torch.float32)
    teacher = lambda x, t: gmm.denoiser(x, t, process)  # noqa: E731 — the exact x̂₀
    _init(generator)
    student, students, n = ConsistencyModel(MLP(hidden=hidden), process, data_std(gmm_2d())), {}, start
    while n >= 1:
        def batch_loss(g, student=student, teacher=teacher, n=n):
            x0, eps = _draw(gmm, batch, g)
            t, s = _grid_pair(n, batch, g)
            return pd_loss(student, teacher, x0, eps, t, s, process)

        with one_thread():
            fit(student.requires_grad_(True), batch_loss, steps_per_round, lr, generator=generator)
        students[n] = copy.deepcopy(student).requires_grad_(False)
        teacher, n = students[n], n // 2
    return students


def train_meanflow(steps: int, p_equal: float = 0.5, batch: int = 256, lr: float = 3e-3, hidden: int = 64,
                   generator: torch.Generator | None = None) -> AverageVelocityMLP:
    r"""MeanFlow on ``gmm_2d`` (Geng et al. 2025): (r, t) the sorted pair of two uniform times, with r = t for a
    fraction ``p_equal`` of the batch (there the loss is flow matching)."""
    process, gmm = RectifiedFlow(), gmm_2d(torch.float32)
    _init(generator)
    u = AverageVelocityMLP(hidden=hidden)

    def batch_loss(g):
        x0, eps = _draw(gmm, batch, g)
        a, b = torch.rand(batch, generator=g), torch.rand(batch, generator=g)
        t, r = torch.maximum(a, b), torch.minimum(a, b)
        r = torch.where(torch.rand(batch, generator=g) < p_equal, t, r)
        return meanflow_loss(u, x0, eps, r, t, process)

    with one_thread():
        fit(u, batch_loss, require_integer("steps", steps, 0), lr, generator=generator)
    return u.requires_grad_(False)


def _f64(model):
    """A float32 network called from float64 samplers."""
    return lambda *args: model(*(a.float() for a in args)).double()


def few_step_samples(method: str, model, x_T: Tensor, n_steps: int, process: Process | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
    """``n_steps``-NFE samples of a trained ``model`` of ``method`` (a name of :data:`METHODS`, or 'DPM-Solver++(2M)'
    with ``model`` a ``GaussianMixture``: its exact denoiser) from ``x_T`` on the equal grid of rectified flow."""
    process = process or RectifiedFlow()
    ts = uniform(process, require_integer("n_steps", n_steps))
    with one_thread():
        if method in METHODS[:2]:
            return consistency_sample(_f64(model), x_T, ts, process, generator=generator)
        if method == "progressive distillation":
            return ddim_x0_sample(_f64(model[n_steps]), x_T, ts, process)
        if method == "MeanFlow":
            return meanflow_sample(_f64(model), x_T, ts, process)
        if method == "DPM-Solver++(2M)":
            return dpmpp_2m(x_T, ts, model.predictor(process), process)
    raise ValueError(f"method must be one of {METHODS + ('DPM-Solver++(2M)',)}; got {method!r}")


def map_error(x: Tensor, x_exact: Tensor) -> float:
    r"""Mean distance to the exact flow map, $\frac1N\sum_i\lVert x^{(i)} - \Phi_{1\to0}(x_T^{(i)})\rVert$."""
    if x.shape != x_exact.shape:
        raise ValueError(f"x and x_exact must have the same shape; got {tuple(x.shape)}, {tuple(x_exact.shape)}")
    return (x.double() - x_exact.double()).norm(dim=1).mean().item()


@lru_cache(maxsize=16)
def trained_consistency(train_steps: int, teacher_steps: int, seed: int) -> ConsistencyModel:
    """``train_consistency`` with the panel's settings, trained on the first call per setting and kept (the NFE slider
    and revisits train nothing; the training is seeded, so a kept model is the one a retraining would give)."""
    return train_consistency(train_steps, n_grid=teacher_steps, generator=torch.Generator().manual_seed(seed))


def play_few_step(n_steps: int = 1, teacher_steps: int = 16, train_steps: int = 600, n_samples: int = 500,
                  seed: int = 0) -> dict:
    r"""Chapter 13's panel: consistency distillation with a Heun teacher on ``teacher_steps`` equal steps, trained for
    ``train_steps`` Adam steps, sampled with ``n_steps`` NFE from cached noise; the error to the exact flow map (1 NFE:
    the map itself; more: the multistep sampler re-noises, so only the distribution is comparable) and SW₂."""
    n_steps = require_integer("n_steps", n_steps, 1, 8)
    f = trained_consistency(require_integer("train_steps", train_steps, 1, 5000), int(teacher_steps), int(seed))
    x_T, x_exact = exact_pairs(n_samples, seed)
    x = few_step_samples("consistency distillation", f, x_T, n_steps, generator=torch.Generator().manual_seed(seed))
    one = few_step_samples("consistency distillation", f, x_T, 1)
    sw = lambda a: sliced_wasserstein(a, x_exact, generator=torch.Generator().manual_seed(seed)).item()  # noqa: E731
    floor = sw(gmm_2d().sample(n_samples, generator=torch.Generator().manual_seed(seed + 1)))
    return dict(samples=x, exact=x_exact, map_error=map_error(one, x_exact), sw=sw(x), sw_floor=floor,
                n_steps=n_steps, teacher_steps=teacher_steps, train_steps=train_steps)

r"""EDM's design space measured on the exact Gaussian mixture (chapter 09): preconditioning variances, the loss
weight, and the sampler ablation (Euler vs Heun, uniform vs ρ grid, churn) at a fixed budget of network evaluations.

The preconditioning formulas themselves live in ``diffedu.nets.edm_preconditioning``. Reference: Karras, Aittala,
Aila & Laine (2022) *Elucidating the Design Space of Diffusion-Based Generative Models*.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import torch
from torch import Tensor

from ..checks import require_in_range, require_integer, require_positive
from ..integrators import euler, euler_step, heun, heun_step, steps_for_nfe
from ..metrics import mmd
from ..nets import edm_preconditioning
from ..parametrization import Counting
from ..processes import EDM
from ..runtime import one_thread
from ..timers import karras, uniform
from ..toys import GaussianMixture, gmm_1d, gmm_2d
from .animation import FONT, opening_axes
from .churn import GAMMA_MAX, churn_gamma, s_churn_for_gamma
from .noise_floor import floor_band

__all__ = ["heun_frames", "heun_opening", "precond_variances", "loss_weight_gap", "loss_weight",
           "lognormal_sigma_density", "sample_edm", "ABLATION", "ablation", "play_edm", "mmd_floor"]


def precond_variances(x0: Tensor, sigmas: Tensor, sigma_data: float, generator: torch.Generator | None = None
                      ) -> tuple[Tensor, Tensor]:
    r"""Per-coordinate variance of the network input $c_{in}x_t$ and of its target $F^* = (x_0 - c_{skip}x_t)/c_{out}$.

    $x_t = x_0 + \sigma n$; EDM chose $c_{in}, c_{skip}, c_{out}$ so that both are 1 when $\mathrm{Var}\,x_0 = \sigma_{data}^2$.
    Returns two tensors of shape (len(sigmas),).
    """
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (N, D); got {tuple(x0.shape)}")
    sigma_data = require_positive("sigma_data", sigma_data)
    v_in, v_target = [], []
    for sigma in sigmas.tolist():
        n = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        x_t = x0 + sigma * n  # (N, D)
        c_skip, c_out, c_in, _ = (c.item() for c in edm_preconditioning(torch.tensor([sigma], dtype=torch.float64),
                                                                        sigma_data))
        v_in.append((c_in * x_t).var(0).mean())
        v_target.append(((x0 - c_skip * x_t) / c_out).var(0).mean())
    return torch.stack(v_in), torch.stack(v_target)


def loss_weight_gap(x0: Tensor, sigmas: Tensor, sigma_data: float, generator: torch.Generator | None = None
                    ) -> tuple[Tensor, Tensor]:
    r"""$\lambda(\sigma)\lVert D_x - x_0\rVert^2 - \lVert F_x - F^*\rVert^2$ per sample, and $\lVert F_x - F^*\rVert^2$, for
    an arbitrary network output $F_x = \sin(3c_{in}x + c_{noise})$, $D_x = c_{skip}x + c_{out}F_x$ and the effective
    target $F^* = (x_0 - c_{skip}x)/c_{out}$; ``sigmas`` (N, 1) pairs one noise level with each row of ``x0`` (N, D).
    The gap is 0 exactly when $\lambda = 1/c_{out}^2$ (Karras et al. 2022, §5)."""
    if x0.ndim != 2 or sigmas.shape != (x0.shape[0], 1):
        raise ValueError(f"x0 must be (N, D) and sigmas (N, 1); got {tuple(x0.shape)} and {tuple(sigmas.shape)}")
    x = x0 + sigmas * torch.randn(x0.shape, generator=generator, dtype=x0.dtype)  # (N, D)
    c_skip, c_out, c_in, c_noise = edm_preconditioning(sigmas, sigma_data)  # each (N, 1)
    F_x = torch.sin(3 * c_in * x + c_noise)  # any function of the network's inputs will do
    D_x = c_skip * x + c_out * F_x
    F_star = (x0 - c_skip * x) / c_out
    plain = ((F_x - F_star) ** 2).sum(1)  # (N,)
    return loss_weight(sigmas[:, 0], sigma_data) * ((D_x - x0) ** 2).sum(1) - plain, plain


def loss_weight(sigma: Tensor, sigma_data: float = 0.5) -> Tensor:
    r"""$\lambda(\sigma) = (\sigma^2 + \sigma_{data}^2)/(\sigma\sigma_{data})^2 = 1/c_{out}^2$: the F-loss then has unit weight."""
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be > 0")
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def lognormal_sigma_density(sigma: Tensor, p_mean: float = -1.2, p_std: float = 1.2) -> Tensor:
    r"""Density of $\ln\sigma \sim \mathcal N(P_{mean}, P_{std}^2)$ in σ: $\frac{1}{\sigma P_{std}\sqrt{2\pi}}e^{-(\ln\sigma - P_{mean})^2/2P_{std}^2}$."""
    if bool((sigma <= 0).any()) or p_std <= 0:
        raise ValueError("sigma and p_std must be > 0")
    return torch.exp(-((sigma.log() - p_mean) ** 2) / (2 * p_std**2)) / (sigma * p_std * math.sqrt(2 * math.pi))


@torch.no_grad()
def sample_edm(gmm: GaussianMixture, x_T: Tensor, integrator: str, timer: str, nfe: int, rho: float = 7.0,
               s_churn: float = 0.0, s_noise: float = 1.0, s_tmin: float = 0.0, s_tmax: float = math.inf,
               generator: torch.Generator | None = None, process: EDM | None = None,
               predictor: Callable[..., Tensor] | None = None) -> Tensor:
    r"""Sample the exact mixture's PF-ODE (or Heun with churn) on EDM's process at a budget of ``nfe`` evaluations.

    ``integrator`` is 'euler' or 'heun'; ``timer`` is 'uniform' (equal steps in σ) or 'karras' (ρ-spaced,
    σ_min = 0.002). Churn (Heun only) acts where $S_{tmin} \le \sigma_i \le S_{tmax}$ (Karras et al. 2022, Algorithm 2).
    ``predictor`` defaults to the mixture's exact one (pass a ``Counting`` predictor to count evaluations).
    """
    if integrator not in ("euler", "heun"):
        raise ValueError(f"integrator must be 'euler' or 'heun'; got {integrator!r}")
    if timer not in ("uniform", "karras"):
        raise ValueError(f"timer must be 'uniform' or 'karras'; got {timer!r}")
    process = process or EDM()
    pred = predictor if predictor is not None else gmm.predictor(process)
    n_steps = steps_for_nfe(integrator, nfe, final_jump=True)  # EDM's grids end at σ = 0
    ts = karras(process, n_steps, rho) if timer == "karras" else uniform(process, n_steps)
    if integrator == "euler":
        if s_churn:
            raise ValueError(f"s_churn applies to the 'heun' integrator only; got s_churn = {s_churn} with 'euler'")
        return euler(x_T, ts, pred, process)
    return heun(x_T, ts, pred, process, s_churn=s_churn, s_noise=s_noise, s_tmin=s_tmin, s_tmax=s_tmax,
                generator=generator)


ABLATION = [  # (label, integrator, timer, S_churn, S_tmin, S_tmax, S_noise)
    ("Euler, uniform σ grid", "euler", "uniform", 0.0, 0.0, math.inf, 1.0),
    ("Euler, ρ = 7 grid", "euler", "karras", 0.0, 0.0, math.inf, 1.0),
    ("Heun, uniform σ grid", "heun", "uniform", 0.0, 0.0, math.inf, 1.0),
    ("Heun, ρ = 7 grid", "heun", "karras", 0.0, 0.0, math.inf, 1.0),
    ("Heun, ρ = 7, S_churn = 1", "heun", "karras", 1.0, 0.0, math.inf, 1.0),
    ("Heun, ρ = 7, S_churn = 40 (γ capped)", "heun", "karras", 40.0, 0.0, math.inf, 1.0),
    ("Heun, ρ = 7, S_churn = 40, σ ∈ [0.05, 50], S_noise = 1.003", "heun", "karras", 40.0, 0.05, 50.0, 1.003),
]


@torch.no_grad()
def ablation(nfe: int = 31, n: int = 4000, seed: int = 0, n_ref_steps: int = 128, bandwidth: float = 0.5) -> list[dict]:
    r"""EDM's sampler choices one at a time, each at the same budget ``nfe``, on ``gmm_2d`` (the rows of ``ABLATION``).

    Each row: the configuration, the NFE actually spent, the ODE error (mean ‖x − x_ref‖ against an ``n_ref_steps`` Heun
    solution from the same $x_T$; NaN for stochastic samplers, which do not follow the ODE) and the distribution error
    $\mathrm{MMD}^2$ (unbiased, Gaussian kernel of width ``bandwidth``) between the ``n`` samples and ``n`` exact data
    samples. Unbiased means a perfect sampler scores 0 up to noise; a last row, "exact samples (MMD² floor)", measures
    that noise with ``n`` further exact samples.
    """
    with one_thread():  # small 2-D work: one thread is far cheaper than two
        return _ablation(nfe, n, seed, n_ref_steps, bandwidth)


def _ablation(nfe, n, seed, n_ref_steps, bandwidth) -> list[dict]:
    gmm, process = gmm_2d(), EDM()
    g = torch.Generator().manual_seed(seed)
    x_T = process.sigma_max * torch.randn(n, 2, generator=g, dtype=torch.float64)
    data = gmm.sample(n, generator=g)
    x_ref = sample_edm(gmm, x_T, "heun", "karras", 2 * n_ref_steps - 1)
    rows = []
    for label, integrator, timer, churn, s_tmin, s_tmax, s_noise in ABLATION:
        pred = Counting(gmm.predictor(process))
        x = sample_edm(gmm, x_T, integrator, timer, nfe, s_churn=churn, s_tmin=s_tmin, s_tmax=s_tmax, s_noise=s_noise,
                       generator=torch.Generator().manual_seed(seed + 1), predictor=pred)
        spent = pred.nfe
        ode_err = (x - x_ref).norm(dim=1).mean().item() if churn == 0 else float("nan")
        rows.append(dict(config=label, nfe=spent, ode_error=ode_err, mmd2=mmd(x, data, bandwidth).item()))
    rows.append(dict(config="exact samples (MMD² floor)", nfe=0, ode_error=float("nan"),
                     mmd2=mmd(gmm.sample(n, generator=g), data, bandwidth).item()))
    return rows


@lru_cache(maxsize=4)
@torch.no_grad()
def _play_setup(n: int, seed: int):
    """What the panel's sliders do not change, computed once per (n, seed): the mixture, the process, the start x_T,
    the exact data and the fine ODE solution from x_T (64 Heun steps). The tensors are only read, never modified."""
    gmm, process = gmm_2d(), EDM()
    g = torch.Generator().manual_seed(seed)
    x_T = process.sigma_max * torch.randn(n, 2, generator=g, dtype=torch.float64)
    data = gmm.sample(n, generator=g)
    with one_thread():
        x_ref = sample_edm(gmm, x_T, "heun", "karras", 127)  # 64 Heun steps
    return gmm, process, x_T, data, x_ref


@lru_cache(maxsize=4)
@torch.no_grad()
def mmd_floor(n: int, seed: int, bandwidth: float) -> dict:
    """The noise band of the panel's unbiased MMD² (``noise_floor.floor_band``): fresh exact sets of size n against
    the panel's exact data. Its mean is ≈ 0 (the estimate is unbiased); its spread is what "0 up to noise" means."""
    gmm, _, _, data, _ = _play_setup(n, seed)
    with one_thread():
        return floor_band(lambda m, g: gmm.sample(m, generator=g), data, lambda a, b: mmd(a, b, bandwidth).item(),
                          n_draws=6)


@torch.no_grad()
def play_edm(rho: float, nfe: int, s_churn: float, s_noise: float, n: int = 1000, seed: int = 0,
             bandwidth: float = 0.5) -> dict:
    r"""Chapter 09's panel: Heun on the ρ grid with churn, on the exact mixture. Returns the samples, the exact data,
    the grid's σ, the mean distance to a fine ODE solution from the same $x_T$ (the ODE error when S_churn = 0) and
    the unbiased $\mathrm{MMD}^2$ to ``n`` exact samples (for every setting; 0 up to noise for a perfect sampler) with
    its noise band (``mmd_floor``), and the churn γ = min(S_churn/N, √2 − 1) with the S_churn where it saturates.
    """
    for name, value, lo, hi in (("rho", rho, 0.5, 20.0), ("s_churn", s_churn, 0.0, 100.0), ("s_noise", s_noise, 0.5, 1.5)):
        require_in_range(name, value, lo, hi)
    nfe = require_integer("nfe", nfe, 1, 100)
    gmm, process, x_T, data, x_ref = _play_setup(int(n), int(seed))
    with one_thread():
        x = sample_edm(gmm, x_T, "heun", "karras", nfe, rho=rho, s_churn=s_churn, s_noise=s_noise,
                       generator=torch.Generator().manual_seed(seed + 1))
        mmd2 = mmd(x, data, bandwidth).item()
    sigmas = karras(process, steps_for_nfe("heun", nfe, final_jump=True), rho)
    n_steps = len(sigmas) - 1
    return dict(samples=x, data=data, sigmas=sigmas, ode_error=(x - x_ref).norm(dim=1).mean().item(),
                mmd2=mmd2, band=mmd_floor(int(n), int(seed), float(bandwidth)), gamma=churn_gamma(s_churn, n_steps),
                churn_saturates_at=s_churn_for_gamma(GAMMA_MAX, n_steps))


def heun_frames(n_steps: int = 10, n: int = 12, rho: float = 7.0, seed: int = 0) -> dict:
    r"""Chapter 09's opening: Heun on EDM's ρ grid (Karras et al. 2022, Alg. 1) for ``n`` paths of ``gmm_1d`` with the
    exact denoiser, and the exact ODE paths (200 Heun steps) behind. Returns ``sigmas`` (the grid down to σ_min; the
    final Euler jump to 0 is left out of the picture), ``x`` (len(sigmas), n) Heun's states, ``trial`` (len − 1, n) its
    Euler trial points, ``fine_sigmas``/``fine`` the reference paths."""
    process, gmm = EDM(), gmm_1d()
    pred = gmm.predictor(process)
    x = gmm.marginal(process.t_max, process).sample(n, generator=torch.Generator().manual_seed(seed))  # (n, 1)
    sigmas = karras(process, require_integer("n_steps", n_steps), rho=rho).tolist()[:-1]  # σ_0 … σ_min
    states, trials = [x], []
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        trials.append(euler_step(states[-1], s, s_next, pred, process)[0])  # Euler trial x̃
        states.append(heun_step(states[-1], s, s_next, pred, process)[0])  # corrected with the slope at x̃
    fine_sigmas = karras(process, 200, rho=rho).tolist()[:-1]
    fine = [x]
    heun(x, fine_sigmas, pred, process, callback=lambda info: fine.append(info["x"]))
    return {"sigmas": sigmas, "x": torch.cat(states, 1).T, "trial": torch.cat(trials, 1).T,
            "fine_sigmas": fine_sigmas, "fine": torch.cat(fine, 1).T}


def heun_opening(n_steps: int = 10, n: int = 12, seed: int = 0):
    """Chapter 09's opening animation as (fig, update, n_frames): ``heun_frames`` step by step — each step first its
    Euler trial (dashed), then Heun's corrected point — on a log σ axis, the x values divided by √(σ² + 1)."""
    fr = heun_frames(n_steps, n, seed=seed)
    sig, fine_sig = torch.tensor(fr["sigmas"]), torch.tensor(fr["fine_sigmas"])
    scale = lambda v, s: v / (s**2 + 1).sqrt()  # noqa: E731  (keeps x at σ = 80 and at σ = 0.002 on one axis)
    fig, axes = opening_axes(1, height=3.8)
    ax = axes[0]

    def update(k: int):
        ax.clear()
        done, half = k // 2, k % 2  # steps completed; half = 1: the next step's Euler trial is shown
        ax.plot(fine_sig, scale(fr["fine"], fine_sig[:, None]), color="0.8", lw=1)
        for s in fr["sigmas"]:
            ax.axvline(s, color="0.55", lw=0.9, ls=":")
        ax.plot(sig[: done + 1], scale(fr["x"][: done + 1], sig[: done + 1, None]), "o-", color="C0", ms=4)
        if half and done < len(sig) - 1:
            s2 = sig[done: done + 2]
            trial = torch.stack([fr["x"][done], fr["trial"][done]])
            ax.plot(s2, scale(trial, s2[:, None]), "--", color="C3", lw=1.2)
        ax.set(xscale="log", xlim=(100, 1e-3), ylim=(-2.5, 2.5), xlabel="σ (log scale; the ρ = 7 grid dotted)",
               ylabel="x / √(σ² + 1)")
        ax.xaxis.label.set_fontsize(FONT)
        ax.yaxis.label.set_fontsize(FONT)
        what = "Euler trial (red, dashed)" if half else "Heun: average of the two slopes"
        ax.set_title(f"Heun on EDM's ρ grid, step {min(done + half, len(sig) - 1)} of {len(sig) - 1}: {what}"
                     " — grey: the exact ODE paths", fontsize=FONT)

    return fig, update, 2 * (len(sig) - 1) + 1

r"""EDM's design space measured on the exact Gaussian mixture (chapter 09): preconditioning variances, the loss
weight, and the sampler ablation (Euler vs Heun, uniform vs ρ grid, churn) at a fixed budget of network evaluations.

The preconditioning formulas themselves live in ``diffedu.nets.edm_preconditioning``. Reference: Karras, Aittala,
Aila & Laine (2022) *Elucidating the Design Space of Diffusion-Based Generative Models*.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .integrators import euler, heun
from .metrics import sliced_wasserstein
from .nets import edm_preconditioning
from .parametrization import Predictor
from .processes import EDM
from .timers import karras, uniform
from .toys import GaussianMixture, gmm_2d

__all__ = ["precond_variances", "loss_weight", "lognormal_sigma_density", "sample_edm", "ablation", "play_edm"]


def precond_variances(x0: Tensor, sigmas: Tensor, sigma_data: float, generator: torch.Generator | None = None
                      ) -> tuple[Tensor, Tensor]:
    r"""Per-coordinate variance of the network input $c_{in}x_t$ and of its target $F^* = (x_0 - c_{skip}x_t)/c_{out}$.

    $x_t = x_0 + \sigma n$; EDM chose $c_{in}, c_{skip}, c_{out}$ so that both are 1 when $\mathrm{Var}\,x_0 = \sigma_{data}^2$.
    Returns two tensors of shape (len(sigmas),).
    """
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (N, D); got {tuple(x0.shape)}")
    v_in, v_target = [], []
    for sigma in sigmas.tolist():
        n = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        x_t = x0 + sigma * n  # (N, D)
        c_skip, c_out, c_in, _ = (c.item() for c in edm_preconditioning(torch.tensor([sigma], dtype=torch.float64),
                                                                        sigma_data))
        v_in.append((c_in * x_t).var(0).mean())
        v_target.append(((x0 - c_skip * x_t) / c_out).var(0).mean())
    return torch.stack(v_in), torch.stack(v_target)


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


def _steps_for(solver: str, nfe: int) -> int:
    """Steps that spend ``nfe`` evaluations: Euler 1 per step, Heun 2 per step but 1 on the last."""
    return nfe if solver == "euler" else (nfe + 1) // 2


@torch.no_grad()
def sample_edm(gmm: GaussianMixture, x_T: Tensor, solver: str, grid: str, nfe: int, rho: float = 7.0,
               s_churn: float = 0.0, s_noise: float = 1.0, generator: torch.Generator | None = None,
               process: EDM | None = None) -> Tensor:
    r"""Sample the exact mixture's PF-ODE (or Heun with churn) on EDM's process at a budget of ``nfe`` evaluations.

    ``grid`` is 'uniform' (equal steps in σ) or 'karras' (ρ-spaced, σ_min = 0.002).
    """
    if solver not in ("euler", "heun"):
        raise ValueError(f"solver must be 'euler' or 'heun'; got {solver!r}")
    if grid not in ("uniform", "karras"):
        raise ValueError(f"grid must be 'uniform' or 'karras'; got {grid!r}")
    if isinstance(nfe, bool) or int(nfe) != nfe or nfe < 1:
        raise ValueError(f"nfe must be an integer ≥ 1; got {nfe!r}")
    process = process or EDM()
    pred = Predictor(lambda x, t: gmm.denoiser(x, t, process), "x0", process)
    n_steps = _steps_for(solver, int(nfe))
    ts = karras(process, n_steps, rho) if grid == "karras" else uniform(process, n_steps)
    if solver == "euler":
        return euler(x_T, ts, pred, process)
    return heun(x_T, ts, pred, process, s_churn=s_churn, s_noise=s_noise, generator=generator)


@torch.no_grad()
def ablation(nfe: int = 31, n: int = 1000, seed: int = 0, n_ref_steps: int = 128) -> list[dict]:
    r"""EDM's sampler choices one at a time, each at the same budget ``nfe``, on ``gmm_2d``.

    Each row: the configuration, the NFE actually spent, the ODE error (mean ‖x − x_ref‖ against an ``n_ref_steps`` Heun
    solution from the same $x_T$; NaN for stochastic samplers, which do not follow the ODE) and the sliced
    Wasserstein distance to exact data samples (it has a sampling floor of a few hundredths at n = 1000).
    """
    gmm, process = gmm_2d(), EDM()
    g = torch.Generator().manual_seed(seed)
    x_T = process.sigma_max * torch.randn(n, 2, generator=g, dtype=torch.float64)
    data = gmm.sample(n, generator=g)
    x_ref = sample_edm(gmm, x_T, "heun", "karras", 2 * n_ref_steps - 1)
    configs = [("Euler, uniform σ grid", "euler", "uniform", 0.0), ("Euler, ρ = 7 grid", "euler", "karras", 0.0),
               ("Heun, uniform σ grid", "heun", "uniform", 0.0), ("Heun, ρ = 7 grid", "heun", "karras", 0.0),
               ("Heun, ρ = 7, S_churn = 1", "heun", "karras", 1.0), ("Heun, ρ = 7, S_churn = 40 (γ capped)", "heun", "karras", 40.0)]
    rows = []
    for label, solver, grid, churn in configs:
        x = sample_edm(gmm, x_T, solver, grid, nfe, s_churn=churn, generator=torch.Generator().manual_seed(seed + 1))
        steps = _steps_for(solver, nfe)
        spent = steps if solver == "euler" else 2 * steps - 1
        ode_err = (x - x_ref).norm(dim=1).mean().item() if churn == 0 else float("nan")
        sw = sliced_wasserstein(x, data, generator=torch.Generator().manual_seed(seed + 2)).item()
        rows.append(dict(config=label, nfe=spent, ode_error=ode_err, sw=sw))
    return rows


@torch.no_grad()
def play_edm(rho: float, nfe: int, s_churn: float, s_noise: float, n: int = 500, seed: int = 0) -> dict:
    r"""Chapter 09's panel: Heun on the ρ grid with churn, on the exact mixture; returns the samples, the grid's σ,
    the ODE error against a fine reference from the same $x_T$ (meaningful at S_churn = 0) and the sliced
    Wasserstein distance to exact samples (for every setting).
    """
    for name, value, lo, hi in (("rho", rho, 0.5, 20.0), ("s_churn", s_churn, 0.0, 100.0), ("s_noise", s_noise, 0.5, 1.5)):
        if not lo <= value <= hi:
            raise ValueError(f"{name} must lie in [{lo}, {hi}]; got {value!r}")
    if isinstance(nfe, bool) or int(nfe) != nfe or not 1 <= nfe <= 100:
        raise ValueError(f"nfe must be an integer in [1, 100]; got {nfe!r}")
    gmm, process = gmm_2d(), EDM()
    g = torch.Generator().manual_seed(seed)
    x_T = process.sigma_max * torch.randn(n, 2, generator=g, dtype=torch.float64)
    data = gmm.sample(n, generator=g)
    x = sample_edm(gmm, x_T, "heun", "karras", int(nfe), rho=rho, s_churn=s_churn, s_noise=s_noise,
                   generator=torch.Generator().manual_seed(seed + 1))
    x_ref = sample_edm(gmm, x_T, "heun", "karras", 127)  # 64 Heun steps
    sigmas = karras(process, _steps_for("heun", int(nfe)), rho)
    sw = sliced_wasserstein(x, data, generator=torch.Generator().manual_seed(seed + 2)).item()
    return dict(samples=x, data=data, sigmas=sigmas, ode_error=(x - x_ref).norm(dim=1).mean().item(), sw=sw)

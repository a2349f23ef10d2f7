r"""Compute functions of chapters 00 and 01: the exact moments of the Euler–Maruyama chain, the schedules side by
side, and the Play panels' compute functions (the simulator itself, and DDPM → VP, are ``course.sdes``).

Forward SDE (Song et al. 2021): $dx = f(t)\,x\,dt + g(t)\,dW$, whose marginal from a fixed $x_0$ is
$\mathcal N(\alpha_t x_0, \sigma_t^2 I)$ with $\alpha_t = \exp\int_0^t f$ and $\sigma_t^2 = \alpha_t^2\int_0^t g^2/\alpha^2$.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import require_integer
from ..processes import EDM, VE, VP, CosineVP, Process, RectifiedFlow
from ..toys import sample_2d

__all__ = ["mix", "log_snr_of", "em_moments", "schedule_curves", "play_mix", "play_noising", "PLAY_PROCESSES"]


def mix(x0: Tensor, eps: Tensor, alpha_t: float, sigma_t: float) -> Tensor:
    r"""$x_t = \alpha_t x_0 + \sigma_t\varepsilon$ for scalar coefficients (chapter 00's first formula)."""
    if x0.shape != eps.shape:
        raise ValueError(f"x0 and eps must have the same shape; got {tuple(x0.shape)} and {tuple(eps.shape)}")
    return alpha_t * x0 + sigma_t * eps


def log_snr_of(alpha_t: float, sigma_t: float) -> float:
    r"""$\lambda = \log(\alpha_t^2/\sigma_t^2)$; α = 0 gives −∞ and σ = 0 gives +∞ (explicit branches)."""
    if alpha_t < 0 or sigma_t < 0:
        raise ValueError(f"alpha_t and sigma_t must be ≥ 0; got alpha_t={alpha_t}, sigma_t={sigma_t}")
    if alpha_t == 0 and sigma_t == 0:
        raise ValueError("alpha_t and sigma_t cannot both be 0: the SNR 0/0 is undefined")
    if sigma_t == 0:
        return math.inf
    if alpha_t == 0:
        return -math.inf
    return 2 * (math.log(alpha_t) - math.log(sigma_t))


def _grid(process: Process, t_end: float, n_steps: int) -> Tensor:
    n_steps = require_integer("n_steps", n_steps)
    t_end = float(process.require_t(t_end, "t_end"))
    return torch.linspace(process.t_min, t_end, n_steps + 1, dtype=torch.float64)


def em_moments(process: Process, x0: float, t_end: float, n_steps: int) -> tuple[float, float]:
    r"""The exact mean and variance of the Euler–Maruyama chain (its own law, not the SDE's), per coordinate.

    $m_{k+1} = (1 + f_k\Delta t)\,m_k$, $v_{k+1} = (1 + f_k\Delta t)^2 v_k + g_k^2\Delta t$, started at
    $(\alpha_{t_{min}}x_0, \sigma_{t_{min}}^2)$. Its distance to $(\alpha_t x_0, \sigma_t^2)$ is the EM bias, O(Δt).
    """
    ts = _grid(process, t_end, n_steps)
    m, v = float(process.alpha(ts[0])) * x0, float(process.sigma(ts[0])) ** 2
    for t_k, t_next in zip(ts[:-1], ts[1:]):
        dt = float(t_next - t_k)
        a = 1 + float(process.f(t_k)) * dt
        m, v = a * m, a * a * v + float(process.g2(t_k)) * dt
    return m, v


PLAY_PROCESSES = ("vp", "cosine", "ve", "edm", "flow")


def _play_processes(beta_min: float, beta_max: float, sigma_max: float, s: float) -> dict[str, Process]:
    return {"vp": VP(beta_min, beta_max), "cosine": CosineVP(s), "ve": VE(0.01, sigma_max), "edm": EDM(sigma_max),
            "flow": RectifiedFlow()}


def schedule_curves(processes: dict[str, Process], n: int = 200, margin: float = 1e-3) -> dict[str, dict[str, Tensor]]:
    r"""$\alpha_t$, $\sigma_t$ and $\lambda_t$ of each process on a grid of u = (t − t_min)/(t_max − t_min) ∈ [margin, 1 − margin].

    Time is normalised so that processes with different t_max (EDM: t_max = σ_max) share one axis; the margin keeps
    λ finite (it is ±∞ at the ends of VP, cosine and rectified flow).
    """
    if not 0 < margin < 0.5:
        raise ValueError(f"margin must lie in (0, 0.5); got {margin}")
    u = torch.linspace(margin, 1 - margin, n, dtype=torch.float64)
    out = {}
    for name, p in processes.items():
        t = p.t_min + u * (p.t_max - p.t_min)
        out[name] = {"u": u, "t": t, "alpha_t": p.alpha(t), "sigma_t": p.sigma(t), "lambda_t": p.log_snr(t)}
    return out


def play_mix(alpha_t: float, sigma_t: float, dataset: str = "moons", n: int = 1000, seed: int = 0) -> dict:
    r"""Chapter 00's Play: $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ on a 2-D set, with the SNR and log-SNR."""
    g = torch.Generator().manual_seed(seed)
    x0 = sample_2d(dataset, n, generator=g)
    eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
    lam = log_snr_of(alpha_t, sigma_t)
    snr = math.exp(lam) if math.isfinite(lam) else (math.inf if lam > 0 else 0.0)
    return {"x0": x0, "x_t": mix(x0, eps, alpha_t, sigma_t), "snr": snr, "log_snr": lam}


def play_noising(beta_min: float, beta_max: float, sigma_max: float, s: float, u: float,
                 dataset: str = "moons", n: int = 800, seed: int = 0) -> dict:
    r"""Chapter 01's Play: every process at the same normalised time u ∈ [0, 1] (t = t_min + u(t_max − t_min)).

    Returns the shared data x0, for each process the noised points $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ (same ε for
    all) with α_t, σ_t, and the schedule curves.
    """
    if not 0 <= u <= 1:
        raise ValueError(f"u must lie in [0, 1]; got {u}")
    processes = _play_processes(beta_min, beta_max, sigma_max, s)
    g = torch.Generator().manual_seed(seed)
    x0 = sample_2d(dataset, n, generator=g)
    eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
    points = {}
    for name, p in processes.items():
        t = p.t_min + u * (p.t_max - p.t_min)
        alpha_t, sigma_t = p.alpha(t).item(), p.sigma(t).item()
        points[name] = {"t": t, "alpha_t": alpha_t, "sigma_t": sigma_t, "x_t": p.noise(x0, t, eps)}
    return {"x0": x0, "points": points, "curves": schedule_curves(processes), "u": u}

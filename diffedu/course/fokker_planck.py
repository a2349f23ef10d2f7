r"""Densities that evolve: the heat equation, the 1-D Fokker–Planck equation on a grid, and the family of reverse
processes between the probability-flow ODE and the reverse SDE (chapter 03).

* Heat equation (the derivation of the ODE in Karras et al. 2022, App. B): $p(x;\sigma) = \int\mathcal N(x; x_0, \sigma^2 I)\,q(x_0)\,dx_0$
  satisfies $\partial p/\partial\sigma = \sigma\,\nabla^2 p$.
* Fokker–Planck for $dx = f(t)x\,dt + g(t)\,dW$ in 1-D:
  $\partial_t p = -\partial_x\big(f(t)\,x\,p\big) + \tfrac12 g(t)^2\,\partial_x^2 p$.
* The reverse family (Song et al. 2021, eq. 6 and App. D.1; Karras et al. 2022, eq. 6): for any $\eta \ge 0$,
  $dx = [f x - \tfrac{1+\eta^2}{2} g^2\nabla\log p_t]\,dt + \eta\,g\,d\bar W$ has the marginals $p_t$ when run backwards;
  η = 0 is the probability-flow ODE, η = 1 the reverse SDE.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..checks import require_integer, require_output_shape
from ..processes import EDM, VP, Process
from ..toys import GaussianMixture, gmm_1d
from .sdes import simulate_forward

__all__ = ["heat_density", "heat_equation_sides", "fokker_planck_1d", "reverse_family", "play_density",
           "play_paths"]


def heat_density(gmm: GaussianMixture, x: Tensor, sigma: float) -> Tensor:
    r"""$p(x;\sigma) = \sum_k \pi_k\,\mathcal N(x; \mu_k, \Sigma_k + \sigma^2 I)$ — a mixture smoothed by the heat kernel."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma!r}")
    return gmm.log_prob(x, float(sigma), EDM(sigma_max=max(80.0, float(sigma)))).exp()


def heat_equation_sides(gmm: GaussianMixture, x: Tensor, sigma: float, h: float = 1e-4) -> tuple[Tensor, Tensor]:
    r"""Both sides of $\partial p/\partial\sigma = \sigma\,\nabla^2 p$ at the points x (N, D), by central differences of
    the exact density (step h in σ and in each coordinate; truncation error O(h²), round-off O(ε/h²))."""
    if not 0 < h < sigma:
        raise ValueError(f"h must lie in (0, sigma = {sigma}); got {h!r}")
    x = x.to(torch.float64)
    lhs = (heat_density(gmm, x, sigma + h) - heat_density(gmm, x, sigma - h)) / (2 * h)  # ∂p/∂σ, (N,)
    p = heat_density(gmm, x, sigma)
    lap = torch.zeros_like(p)
    for d in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, d] = h
        lap = lap + (heat_density(gmm, x + e, sigma) - 2 * p + heat_density(gmm, x - e, sigma)) / h**2  # ∂²p/∂x_d²
    return lhs, sigma * lap


def fokker_planck_1d(p0: Tensor, x: Tensor, ts, process: Process) -> Tensor:
    r"""Solve $\partial_t p = -\partial_x(f(t)\,x\,p) + \tfrac12 g(t)^2\partial_x^2 p$ on the uniform grid x (M,) with
    p = 0 beyond both ends, by Crank–Nicolson (second order in time and space) over the increasing times ``ts``.

    p0 is the density at ts[0] on the grid; returns p at every time of ``ts``, shape (len(ts), M).
    The grid must be wide enough that p is negligible at its ends.
    """
    x, p = x.to(torch.float64), p0.to(torch.float64)
    if x.ndim != 1 or p.shape != x.shape or x.shape[0] < 3:
        raise ValueError(f"x and p0 must be 1-D of the same length ≥ 3; got {tuple(x.shape)} and {tuple(p0.shape)}")
    dx = (x[1] - x[0]).item()
    if not dx > 0 or not torch.allclose(x[1:] - x[:-1], torch.full_like(x[1:], dx)):
        raise ValueError("x must be a uniform, increasing grid")
    ts = [float(t) for t in ts]
    if any(b <= a for a, b in zip(ts[:-1], ts[1:])):
        raise ValueError("ts must be strictly increasing")
    process.require_t(torch.tensor(ts, dtype=torch.float64), "ts")
    M = x.shape[0]
    # Central-difference operators: A p ≈ −∂x(x p), B p ≈ ∂x² p  (Dirichlet zeros outside the grid)
    A = (torch.diag(x[:-1], -1) - torch.diag(x[1:], 1)) / (2 * dx)  # (M, M): row i = (x_{i−1}p_{i−1} − x_{i+1}p_{i+1})/2dx
    B = (torch.diag(torch.ones(M - 1, dtype=torch.float64), -1) + torch.diag(torch.ones(M - 1, dtype=torch.float64), 1)
         - 2 * torch.eye(M, dtype=torch.float64)) / dx**2  # (M, M)
    eye = torch.eye(M, dtype=torch.float64)
    out = [p]
    for t, t_next in zip(ts[:-1], ts[1:]):
        dt = t_next - t
        t_mid = torch.tensor(0.5 * (t + t_next), dtype=torch.float64)
        L = process.f(t_mid).item() * A + 0.5 * process.g2(t_mid).item() * B  # generator at the midpoint
        # Crank–Nicolson step: (I − dt/2 L) p_next = (I + dt/2 L) p
        p = torch.linalg.solve(eye - 0.5 * dt * L, (eye + 0.5 * dt * L) @ p)
        out.append(p)
    return torch.stack(out)


ScoreFn = Callable[[Tensor, float], Tensor]


def reverse_family(x: Tensor, ts, score: ScoreFn, process: Process, eta: float = 1.0,
                   generator: torch.Generator | None = None, return_path: bool = False) -> Tensor:
    r"""Integrate $dx = [f_t x - \tfrac{1+\eta^2}{2}g_t^2\,\nabla\log p_t(x)]\,dt + \eta\,g_t\,d\bar W$ backwards over the
    decreasing grid ``ts`` (Euler–Maruyama; η = 0 is Euler on the probability-flow ODE, η = 1 the reverse SDE).

    ``score(x, t)`` returns $\nabla\log p_t(x)$; it is never called at the last time. Needs finite f (α_t > 0)."""
    if not (eta >= 0 and math.isfinite(eta)):
        raise ValueError(f"eta must be a finite number ≥ 0; got {eta!r}")
    ts = [float(t) for t in ts]
    if len(ts) < 2 or any(b >= a for a, b in zip(ts[:-1], ts[1:])):
        raise ValueError("ts must be a strictly decreasing grid of at least 2 times (noise → data)")
    process.require_t(torch.tensor(ts, dtype=torch.float64), "ts")
    if process.at(ts[0])[0] == 0:
        raise ValueError(f"reverse_family needs α_t > 0 on the grid (f = α̇/α is infinite where α = 0, at t = {ts[0]:g} "
                         f"for the {process.name} process); start the grid below t_max")
    path = [x]
    process.memoise(ts)  # every step's (α, σ, α̇, σ̇) in one vectorised call
    for t, t_next in zip(ts[:-1], ts[1:]):
        alpha_t, _, d_alpha_t, _ = process.at(t)
        f_t, g2_t = d_alpha_t / alpha_t, process.g2_at(t)  # f = α̇/α (process.f), g² (memoised)
        dt = t_next - t  # < 0
        drift = f_t * x - 0.5 * (1 + eta**2) * g2_t * require_output_shape(score(x, t), x, "score")  # (B, D)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x = x + drift * dt + eta * math.sqrt(g2_t * -dt) * z  # Euler–Maruyama step, backwards in time
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x


def play_density(t: float, process: Process | None = None, gmm: GaussianMixture | None = None,
                 n_grid: int = 201, n_samples: int = 4000, generator_seed: int = 0) -> dict:
    """Chapter 03 panel: the exact p_t of the 1-D mixture, the Fokker–Planck grid solution and forward-SDE samples."""
    process = process if process is not None else VP()
    gmm = gmm if gmm is not None else gmm_1d()
    t = float(process.require_t(t).item())
    x = torch.linspace(-5, 5, n_grid, dtype=torch.float64)
    exact = gmm.log_prob(x[:, None], t, process).exp() if t > 0 else gmm.log_prob(x[:, None]).exp()
    n_t = max(2, int(math.ceil(100 * t)) + 1)
    ts = torch.linspace(0, t, n_t).tolist() if t > 0 else [0.0]
    p0 = gmm.log_prob(x[:, None]).exp()
    fp = fokker_planck_1d(p0, x, ts, process)[-1] if t > 0 else p0
    g = torch.Generator().manual_seed(generator_seed)
    x0 = gmm.sample(n_samples, generator=g)
    xs = simulate_forward(x0, ts, process, generator=g) if t > 0 else x0
    dx = (x[1] - x[0]).item()
    return {"x": x, "exact": exact, "fp": fp, "samples": xs[:, 0], "t": t,
            "l1_fp": (fp - exact).abs().sum().item() * dx}


def play_paths(n_paths: int, eta: float, n_steps: int = 100, process: Process | None = None,
               gmm: GaussianMixture | None = None, t_end: float = 1e-3, generator_seed: int = 0) -> dict:
    """Chapter 03 panel: reverse-family paths from the same x_T for η = 0 (ODE) and the chosen η, with the exact score."""
    n_paths = require_integer("n_paths", n_paths)
    process = process if process is not None else VP()
    gmm = gmm if gmm is not None else gmm_1d()
    ts = torch.linspace(process.t_max, t_end, n_steps + 1).tolist()
    x_T = gmm.sample(n_paths, ts[0], process, generator=torch.Generator().manual_seed(generator_seed))
    score = lambda x, t: gmm.score(x, t, process)  # noqa: E731
    ode = reverse_family(x_T, ts, score, process, eta=0.0, return_path=True)
    sde = reverse_family(x_T, ts, score, process, eta=float(eta),
                         generator=torch.Generator().manual_seed(generator_seed + 1), return_path=True)
    return {"ts": torch.tensor(ts), "ode": ode[..., 0], "sde": sde[..., 0]}  # paths (n_steps + 1, n_paths)

r"""Lab of chapter 03: the 1-D Fokker–Planck equation $\partial_t p = -\partial_x(f(t)\,x\,p) + \tfrac12 g(t)^2\partial_x^2 p$
solved on a grid by finite differences.

The student writes ``fokker_planck(p0, x, ts, process)``: from the density ``p0`` on the uniform grid ``x`` (M,) at
``ts[0]``, the density at every time of the increasing ``ts``, shape (len(ts), M), with p = 0 beyond the grid. Any
stable, consistent scheme passes (explicit Euler with central differences and enough sub-steps, Crank–Nicolson, …).
Graded against the exact marginal $p_t$ of the 1-D mixture (closed form: each component stays Gaussian) in L1 on VP
and on VE (diffusion alone), and for conservation of mass and positivity.

``ANSWERS`` names the package functions that would pass this grader if a student called them.
"""
from __future__ import annotations

import math

import torch

from ..processes import VE, VP, Process
from ..toys import gmm_1d
from .grading import Lab, Part, Verdict, call, expect
from .think import Question

__all__ = ["check_fokker_planck", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("course.fokker_planck.fokker_planck_1d",)

_TOL = 5e-3  # L1 distance to the exact p_t; an explicit or implicit scheme with Δx = 0.05 stays well below it


def _grid(process: Process):
    x = torch.linspace(-7.0, 7.0, 281, dtype=torch.float64)  # Δx = 0.05
    ts = [process.t_min if process.t_min > 0 else 0.0, 0.1, 0.3, 1.0]
    return x, ts


def _linear_density(x, t0: float, t: float, process: Process, drift: float, rate):
    r"""Exact density at t of $dx = \text{drift}\cdot f\,x\,dt + \sqrt{\text{rate}(s)}\,dW$ started from the mixture's
    $p_{t_0}$: each component stays Gaussian, scaled by $A = e^{\text{drift}\int f}$ and widened by
    $\int \text{rate}(s)\,e^{2\,\text{drift}\int_s^t f}\,ds$ (trapezoid on 4001 points). With drift = 1, rate = g² it is $p_t$."""
    gmm = gmm_1d()
    s = torch.linspace(t0, t, 4001, dtype=torch.float64)
    F = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumulative_trapezoid(drift * process.f(s), s)])  # ∫_t0^s
    A = math.exp(F[-1].item())
    S2 = torch.trapezoid(rate(s) * torch.exp(2 * (F[-1] - F)), s).item()
    alpha0, sigma0 = (c.item() for c in process.coefficients(torch.tensor(t0, dtype=torch.float64))[:2])
    mean = A * alpha0 * gmm.means[:, 0]  # (K,)
    var = A**2 * (alpha0**2 * gmm.covs[:, 0, 0] + sigma0**2) + S2  # (K,)
    dens = torch.exp(-0.5 * (x[:, None] - mean) ** 2 / var) / torch.sqrt(2 * math.pi * var)  # (M, K)
    return dens @ gmm.weights


def _l1(p, q, x) -> float:
    return ((p - q).abs().sum() * (x[1] - x[0])).item()


def _solve(fn, process: Process):
    x, ts = _grid(process)
    p0 = gmm_1d().log_prob(x[:, None], ts[0], process).exp()
    got = call(fn, p0.clone(), x.clone(), list(ts), process)
    shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
    got = expect(got, (len(ts), x.shape[0]), f"return the density at every time of ts, p0 included: shape "
                                             f"({len(ts)}, {x.shape[0]}); got {shape}")
    return x, ts, got.double()


def _unstable(got) -> bool:
    return not bool(torch.isfinite(got).all()) or got.abs().max().item() > 100


_CFL = ("your solution blew up: an explicit step is stable only if ½g²Δt/Δx² ≤ ½, i.e. Δt ≤ Δx²/g(t)² — take "
        "several sub-steps between the times in ts (g² reaches 20 on VP, and more on VE)")


def _accuracy(fn, process: Process) -> Verdict:
    """L1 distance to the exact p_t at every time of ts (after the first), and the likely mistake if it is too large."""
    x, ts, got = _solve(fn, process)
    if _unstable(got):
        return Verdict(False, "not finite, or huge", _CFL)
    errors = [_l1(got[i], gmm_1d().log_prob(x[:, None], t, process).exp(), x) for i, t in enumerate(ts) if i]
    worst = max(errors)
    if worst <= _TOL:
        return Verdict(True, f"largest L1(yours, exact p_t) = {worst:.1e}")
    i, t = len(ts) - 1, ts[-1]
    if process.name == "vp":
        i, t = 1, ts[1]  # a flipped drift makes VP's density grow like e^(+∫β/2): compare early, while it fits
    wrong = [(_linear_density(x, ts[0], t, process, 1.0, lambda s: 2 * process.g2(s)),
              "the spread is too wide: the diffusion term is ½·g²·∂²p — did you drop the ½?"),
             (_linear_density(x, ts[0], t, process, 1.0, process.g),
              "the diffusion coefficient is g(t)² (process.g2), not g(t)"),
             (_linear_density(x, ts[0], t, process, -1.0, process.g2),
              "the drift term is −∂x(f·x·p): check its sign (on VP, f < 0 pulls the density towards 0)")]
    right = _l1(got[i], gmm_1d().log_prob(x[:, None], t, process).exp(), x)
    found = min(wrong, key=lambda w: _l1(got[i], w[0], x))
    hint = (found[1] if _l1(got[i], found[0], x) < right else
            "compare one step of yours with p ← p + Δt·(−∂x(f·x·p) + ½g²∂²p), central differences, p = 0 outside")
    return Verdict(False, f"largest L1(yours, exact p_t) = {worst:.1e}", hint)


def _mass(fn) -> Verdict:
    """Conservation and positivity on VP: ∫p dx within 1e-3 of 1 and p ≥ −1e-6·max p at every time."""
    x, _, got = _solve(fn, VP())
    if _unstable(got):
        return Verdict(False, "not finite, or huge", _CFL)
    mass = (got.sum(1) * (x[1] - x[0])).sub(1).abs().max().item()
    low = (got.min() / got.max()).item()
    ok = mass < 1e-3 and low > -1e-6
    return Verdict(ok, f"largest |∫p − 1| = {mass:.1e}, smallest p / max p = {low:.1e}",
                   "mass leaks or p turns negative: write the drift as a difference of fluxes, −(Φ_(i+1) − Φ_(i−1))/2Δx "
                   "with Φ = f·x·p, and keep Δt within the stability limit Δx²/g²")


LAB = Lab("03 · the Fokker–Planck equation on a grid", [
    Part("VP: drift and diffusion", 4, f"L1 to the exact p_t ≤ {_TOL:g} at t = 0.1, 0.3, 1",
         lambda fn: _accuracy(fn, VP())),
    Part("VE: diffusion alone (f = 0)", 3, f"L1 to the exact p_t ≤ {_TOL:g} at t = 0.1, 0.3, 1",
         lambda fn: _accuracy(fn, VE(0.02, 2.0))),
    Part("mass is conserved and p stays ≥ 0", 3, "|∫p − 1| < 1e-3 and p ≥ −1e-6·max p", _mass),
], hints=[
    "Replace each derivative by a difference on the grid and march in time: p at the next time is p plus Δt times "
    "the right-hand side. An explicit scheme needs small enough time steps — more than the few times in ts.",
    "Central differences: ∂x(f x p) ≈ (Φ_(i+1) − Φ_(i−1))/(2Δx) with Φ = f(t)·x·p, and ∂²p ≈ (p_(i+1) − 2p_i + "
    "p_(i−1))/Δx², with p = 0 beyond both ends (pad with zeros). Stability: Δt ≤ Δx²/g(t)².",
    "Between ts[j] and ts[j+1] take n = ceil((ts[j+1] − ts[j])·g²_max/Δx²) + 1 sub-steps of Δt; in each, "
    "p = p + Δt·(−dΦ + 0.5·process.g2(t)·d²p) with the central differences above; append p at each ts[j+1].",
])


def check_fokker_planck(fn) -> None:
    """Grade ``fokker_planck(p0, x, ts, process)`` (chapter 03's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 03's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 03's Think questions
    Question("Your explicit solver is stable with Δx = 0.05 and Δt. You halve Δx to 0.025 for accuracy. By what "
             "factor must Δt shrink to stay stable?",
             answer=4.0, tolerance=0.01,
             explanation="The CFL condition of the diffusion term is Δt ≤ Δx²/g²: halving Δx quarters the largest stable "
                         "Δt, so the number of time steps grows fourfold (and the work eightfold in all)."),
    Question("Pure diffusion (f = 0, g constant) from one point: how does the standard deviation of p_t grow with t?",
             choices=("Like t", "Like √t", "Like t²"), answer=1,
             explanation="∂t p = ½g²∂²p is the heat equation: p_t is a Gaussian of variance g²t, so its width grows "
                         "like g√t — the same √Δt scaling as an Euler–Maruyama step's noise."),
    Question("The probability-flow ODE and the reverse SDE (η = 1) start from the same p_1. At t = 0.5, which has "
             "the right marginal p_0.5 (with the exact score)?",
             choices=("Only the ODE", "Only the SDE", "Both"), answer=2,
             explanation="Every member of the reverse family solves the same Fokker–Planck equation backwards, so all "
                         "share the marginals p_t; they differ only in how individual paths move (Check 3)."),
)

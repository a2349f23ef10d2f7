r"""Lab of chapter 01: the forward SDE $dx = f(t)\,x\,dt + g(t)\,dW$ by Euler–Maruyama, and the kernel it recovers.

The student writes ``em_forward(x0, ts, process, z)``: from ``x0`` at ``ts[0]``, one Euler–Maruyama step per interval
of the increasing grid ``ts``, the k-th step using the standard normal draws ``z[k]`` (shape of x0):
$x_{k+1} = x_k + f(t_k)\,x_k\,\Delta t_k + g(t_k)\sqrt{\Delta t_k}\,z_k$. Graded against the same recursion written
here (exact, same draws) and against the closed-form kernel $x_t\mid x_0 \sim \mathcal N(\alpha_t x_0, \sigma_t^2 I)$
by Monte Carlo with a stated tolerance.

``ANSWERS`` names the package functions that would pass this grader if a student called them: none here
(``course.sdes.simulate_forward``, which chapter 01's "Check it" uses, draws its own noise and cannot reproduce the
grader's draws).
"""
from __future__ import annotations

import math

import torch

from ..processes import VE, VP, Process
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_em_forward", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ()


def _reference(x0, ts, process: Process, z, *, drift=1.0, noise="sqrt", at="start"):
    """The Euler–Maruyama recursion, or (with the keyword set otherwise) one typical mistake made on purpose."""
    x = x0
    for k in range(len(ts) - 1):
        t = ts[k] if at == "start" else ts[k + 1]
        dt = ts[k + 1] - ts[k]
        scale = {"sqrt": process.g(t) * dt.sqrt(), "no_sqrt": process.g(t) * dt, "g2": process.g2(t) * dt.sqrt()}[noise]
        x = x + drift * process.f(t) * x * dt + scale * z[k]
    return x


def _case(process: Process, n_steps: int, n: int, seed: int, t_end: float):
    g = torch.Generator().manual_seed(seed)
    ts = torch.linspace(process.t_min, t_end, n_steps + 1, dtype=torch.float64)
    x0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    z = torch.randn(n_steps, n, 2, generator=g, dtype=torch.float64)
    return x0, ts, z


def _one_path(fn) -> Verdict:
    """Exact: the recursion with the grader's draws, on VP (drift and noise) and VE (noise only), 7 steps."""
    for process in (VP(), VE(0.02, 20.0)):
        x0, ts, z = _case(process, 7, 5, seed=1, t_end=0.9 * process.t_max)
        got = call(fn, x0.clone(), ts.clone(), process, z.clone())
        want = _reference(x0, ts, process, z)
        if not close(got, want, rtol=1e-8, atol=1e-10):
            mistakes = [(_reference(x0, ts, process, z, noise="no_sqrt"),
                         "the noise of one step has standard deviation g·√Δt, not g·Δt (variance g²Δt)"),
                        (_reference(x0, ts, process, z, noise="g2"),
                         "multiply the draw by g(t), the diffusion coefficient — not by g² (that is the variance rate)"),
                        (_reference(x0, ts, process, z, drift=-1.0), "the drift is +f(t)·x·Δt (f is already negative "
                                                                     "for VP): check its sign"),
                        (_reference(x0, ts, process, z, at="end"), "evaluate f and g at the start of each step, t_k — "
                                                                   "Euler–Maruyama is explicit"),
                        (x0 + 0 * want, "your loop never changed x: update x inside the loop and return it")]
            return Verdict(False, f"differs from the recursion on {process.name.upper()}",
                           diagnose(got, mistakes, "follow x ← x + f(t)·x·Δt + g(t)·√Δt·z[k] for k = 0, …, len(ts) − 2"))
    return Verdict(True, "equal on VP and VE")


def _kernel(fn, which: str) -> Verdict:
    """Monte Carlo: 20 000 paths from one point x0 over 200 steps to t = 0.3 on VP (α_t ≈ 0.63, σ_t ≈ 0.78); the sample mean must match
    α_t x0 and the sample standard deviation σ_t, within 5 standard errors plus Euler–Maruyama's O(Δt) bias (0.01)."""
    process, n, n_steps = VP(), 20_000, 200
    _, ts, z = _case(process, n_steps, n, seed=2, t_end=0.3)
    x0 = torch.tensor([[1.5, -0.5]], dtype=torch.float64).expand(n, 2)
    x_t = call(fn, x0.clone(), ts.clone(), process, z)
    x_t = expect(x_t, x0.shape, f"return the final state, shape {tuple(x0.shape)} like x0")
    alpha_t, sigma_t = process.alpha(ts[-1]).item(), process.sigma(ts[-1]).item()
    x_t = x_t.double()
    if which == "mean":
        err, se = (x_t.mean(0) - alpha_t * x0[0]).abs().max().item(), sigma_t / math.sqrt(n)
        ok = err <= 5 * se + 0.01
        return Verdict(ok, f"|mean − α_t·x0| = {err:.4f} (α_t = {alpha_t:.3f})",
                       "the mean decays like α_t = exp(∫f): is the drift f(t)·x, with the right sign?")
    err = (x_t.std(0) - sigma_t).abs().max().item()
    ok = err <= 5 * sigma_t / math.sqrt(2 * n) + 0.01
    return Verdict(ok, f"|std − σ_t| = {err:.4f} (σ_t = {sigma_t:.3f})",
                   "the spread grows like σ_t: the noise of one step has standard deviation g·√Δt")


LAB = Lab("01 · the forward SDE by Euler–Maruyama", [
    Part("step by step with the given draws", 4, "equal to 1e-8", _one_path),
    Part("the mean of x_t recovers α_t·x0", 3, "within 5 SE + 0.01", lambda fn: _kernel(fn, "mean")),
    Part("the spread of x_t recovers σ_t", 3, "within 5 SE + 0.01", lambda fn: _kernel(fn, "std")),
], hints=[
    "Walk along the grid: for each interval [t_k, t_{k+1}] update x once, using only what you know at t_k.",
    "One step is x ← x + (drift)·Δt + (noise). The drift of this SDE is f(t)·x; the noise has variance g(t)²·Δt.",
    "With dt = ts[k+1] − ts[k]: x = x + process.f(ts[k]) * x * dt + process.g(ts[k]) * dt.sqrt() * z[k].",
])


def check_em_forward(fn) -> None:
    """Grade ``em_forward(x0, ts, process, z)`` (chapter 01's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 01's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 01's Think questions
    Question("In one Euler–Maruyama step the noise is multiplied by √Δt, not Δt. What happens to the simulated "
             "variance at time t if you use Δt instead, as Δt → 0?",
             choices=("It converges to σ_t² anyway", "It goes to 0: the paths become deterministic",
                      "It blows up"), answer=1,
             explanation="N steps each add variance g²Δt² = g²(t/N)², which sums to g²t²/N → 0. Brownian increments "
                         "have variance Δt, so their size is √Δt."),
    Question("VP with β from 0.1 to 20 has α_t = exp(−½∫β). At t = 0.3, what is α_t (to two digits)?",
             answer=0.628, tolerance=0.02,
             explanation="∫₀^0.3 β = 0.1·0.3 + ½·19.9·0.09 = 0.926, so α = e^(−0.463) ≈ 0.63."),
    Question("Two processes have the same log-SNR λ_t at every t but different (α_t, σ_t). Are their denoising "
             "problems at a given t the same up to a rescaling of x_t?",
             choices=("Yes: x_t/α_t = x_0 + (σ_t/α_t)ε depends on λ alone", "No: the scale α_t changes the problem"),
             answer=0,
             explanation="Dividing by α_t gives x_0 plus noise of standard deviation e^{−λ/2}: the information about "
                         "x_0 is set by λ alone (Kingma et al. 2021)."),
)

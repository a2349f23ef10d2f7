r"""Lab of chapter 10: DPM-Solver++(2M), the multistep second-order exponential integrator (Lu et al. 2022, Alg. 2).

The student writes ``dpmpp_2m(x, ts, predictor, process)``: from ``x`` at ``ts[0]`` down the decreasing grid ``ts``
(ending where σ = 0), one evaluation ``x0_hat = predictor(x, t)`` per step and, with $\lambda = \log(\alpha^2/\sigma^2)$,
$h = (\lambda_s - \lambda_t)/2$ and $r = h_{prev}/h$,
$x_s = \tfrac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h} - 1)D$, $D = (1 + \tfrac1{2r})\hat x_0^{(i)} - \tfrac1{2r}\hat x_0^{(i-1)}$;
the first step uses $D = \hat x_0$ (no history) and the last step into σ = 0 is $x = \hat x_0$.
Graded against the package's ``integrators.dpmpp_2m`` on the grader's own problems (exact), by the number of
evaluations, and by the convergence order measured against the closed-form flow of a Gaussian.

``ANSWERS``: ``dpmpp_2m`` and the tables that hold it (``INTEGRATORS``, ``SAMPLERS``, ``get_integrator``) and the
``Denoiser`` front end that runs them; chapter 10 imports none of them above the lab (its figures run samplers by
name through ``course.samplers.run_sampler``, which takes a mixture, not a predictor).
"""
from __future__ import annotations

import math

import torch

from ..integrators import dpmpp_2m
from ..parametrization import Counting
from ..processes import Process, make_process
from ..timers import make_grid
from ..toys import GaussianMixture
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_dpmpp_2m", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("dpmpp_2m", "INTEGRATORS", "SAMPLERS", "get_integrator", "Denoiser")


def _reference(x, ts, predictor, process: Process, *, r_inverted=False, no_half=False, full_lambda=False,
               first_order=False):
    """DPM-Solver++(2M), or (with a keyword set) one typical mistake made on purpose."""
    x0_prev, h_prev = None, None
    for t, t_next in zip(ts[:-1].tolist(), ts[1:].tolist()):
        x0_hat = predictor(x, t)
        alpha_t, sigma_t = process.at(t)[:2]
        alpha_s, sigma_s = process.at(t_next)[:2]
        if sigma_s == 0:  # explicit last step into data
            return x0_hat
        lam_t, lam_s = 2 * math.log(alpha_t / sigma_t), 2 * math.log(alpha_s / sigma_s)
        h = (lam_s - lam_t) / (1 if full_lambda else 2)
        D = x0_hat
        if x0_prev is not None and not first_order:
            r = h / h_prev if r_inverted else h_prev / h
            c = 1 / r if no_half else 1 / (2 * r)
            D = (1 + c) * x0_hat - c * x0_prev  # 2nd-order extrapolation of x̂₀ in λ
        x = sigma_s / sigma_t * x - alpha_s * math.expm1(-h) * D
        x0_prev, h_prev = x0_hat, h
    return x


def _mixture(seed: int) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    means = 2 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    scales = 0.2 + torch.rand(3, 2, generator=g, dtype=torch.float64)
    return GaussianMixture(torch.tensor([0.5, 0.3, 0.2]), means, torch.diag_embed(scales**2))


def _cases():
    """(process, grid): VP on its log-SNR grid, EDM on the ρ grid, rectified flow from t = 0.99 on a uniform grid."""
    for name, timer, n, kw in (("vp", "log_snr", 9, {}), ("edm", "karras", 8, {}),
                               ("flow", "uniform", 7, dict(t_start=0.99))):
        process = make_process(name)
        yield process, make_grid(timer, process, n, **kw)


def _same_as_package(fn) -> Verdict:
    """Exact: the package's dpmpp_2m from the same start on three processes and grids, tolerance 1e-8."""
    gmm = _mixture(3)
    for process, ts in _cases():
        x = gmm.marginal(float(ts[0]), process).sample(6, generator=torch.Generator().manual_seed(4))
        predictor = gmm.predictor(process)
        got = call(fn, x.clone(), ts.clone(), predictor, process)
        want = dpmpp_2m(x, ts, predictor, process)
        if not close(got, want, rtol=1e-8, atol=1e-10):
            return Verdict(False, f"differs from DPM-Solver++(2M) on {process.name.upper()}", _diagnose(
                got, x, ts, predictor, process, want))
    return Verdict(True, "equals the package's dpmpp_2m on VP, EDM and flow grids to 1e-8")


def _diagnose(got, x, ts, predictor, process, want) -> str:
    if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()):
        return ("your samples contain inf or NaN: the step into σ = 0 has λ = ∞ — make it its own branch "
                "(x = x̂₀) instead of the exponential formula")
    ref = lambda **kw: _reference(x, ts, predictor, process, **kw)  # noqa: E731
    mistakes = [(ref(first_order=True), "that is DPM-Solver++(1) (= DDIM): from the second step on, extrapolate x̂₀ "
                                        "with the previous one, D = (1 + 1/(2r))·x̂₀ − 1/(2r)·x̂₀_prev"),
                (ref(r_inverted=True), "r is the ratio of the previous step to this one, r = h_prev/h (not h/h_prev)"),
                (ref(no_half=True), "the extrapolation weight is 1/(2r), not 1/r: D = (1 + 1/(2r))·x̂₀ − 1/(2r)·x̂₀_prev"),
                (ref(full_lambda=True), "h is half the change of λ = log(α²/σ²): h = (λ_s − λ_t)/2 = log(α_s/σ_s) − "
                                        "log(α_t/σ_t); with the full λ every exponential e^{−h} is off"),
                (x + 0 * want, "your loop never changed x: update x at every step and return it")]
    return diagnose(got, mistakes,
                    "compare one step at a time with x_s = (σ_s/σ_t)·x − α_s·(e^{−h} − 1)·D; the first step uses "
                    "D = x̂₀ and the last step (σ_s = 0) returns x̂₀")


def _nfe(fn) -> Verdict:
    """Exact: one predictor call per step, N calls on an N-step grid (VP, 12 steps)."""
    process = make_process("vp")
    ts = make_grid("log_snr", process, 12)
    gmm = _mixture(5)
    predictor = Counting(gmm.predictor(process))
    x = gmm.marginal(float(ts[0]), process).sample(4, generator=torch.Generator().manual_seed(6))
    call(fn, x, ts, predictor, process)
    ok = predictor.nfe == 12
    hint = ("2M is a multistep method: each step calls the predictor once and keeps x̂₀ for the next step"
            if predictor.nfe > 12 else "call the predictor once per step, including the last step into σ = 0")
    return Verdict(ok, f"{predictor.nfe} evaluations for 12 steps", "" if ok else hint)


def _gaussian(process: Process, x_T: torch.Tensor, t_end: float, mu, s) -> torch.Tensor:
    r"""The exact probability-flow ODE of $x_0 \sim \mathcal N(\mu, \mathrm{diag}(s^2))$ from $t_{max}$ to ``t_end``:
    $x_t - \alpha_t\mu = \sqrt{\alpha_t^2s^2 + \sigma_t^2}\,/\sqrt{\alpha_T^2s^2 + \sigma_T^2}\,(x_T - \alpha_T\mu)$."""
    a_T, s_T = process.at(process.t_max)[:2]
    a_t, s_t = process.at(t_end)[:2]
    return a_t * mu + ((a_t**2 * s**2 + s_t**2) / (a_T**2 * s**2 + s_T**2)).sqrt() * (x_T - a_T * mu)


def _order(fn) -> Verdict:
    """Measured: the error against the closed-form Gaussian flow at N = 20, 40, 80, 160 on VP's log-SNR grid; the
    fitted log-log slope must be 2 ± 0.25. The shared last step (x̂₀ at the last positive level) is applied to the
    exact flow too, so only the ODE part is measured."""
    process = make_process("vp")
    mu, s = torch.tensor([1.0, -0.5], dtype=torch.float64), torch.tensor([0.5, 1.5], dtype=torch.float64)
    gauss = GaussianMixture(torch.ones(1), mu[None], torch.diag(s**2)[None])
    predictor = gauss.predictor(process)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    ns, errors = (20, 40, 80, 160), []
    for n in ns:
        ts = make_grid("log_snr", process, n)
        exact = predictor(_gaussian(process, x_T, float(ts[-2]), mu, s), float(ts[-2]))
        got = call(fn, x_T.clone(), ts.clone(), predictor, process)
        got = expect(got, x_T.shape, f"return the final state, shape {tuple(x_T.shape)} like x")
        errors.append((got.double() - exact).norm(dim=1).mean().item())
    if not all(math.isfinite(e) and e > 0 for e in errors):
        return Verdict(False, f"errors {errors}", "the errors must be finite: is the last step its own branch?")
    slope = -torch.linalg.lstsq(torch.tensor([[math.log(n), 1.0] for n in ns], dtype=torch.float64),
                                torch.tensor(errors, dtype=torch.float64).log()[:, None]).solution[0, 0].item()
    ok = abs(slope - 2) <= 0.25
    hint = ("order about 1: the extrapolation is missing or wrong (a first-order method halves its error when N "
            "doubles; 2M quarters it)" if 0.7 < slope < 1.75 else
            "the error must fall like 1/N² as N doubles; yours does not — check h and the update against hint(2)")
    return Verdict(ok, f"measured order {slope:.2f} (errors {errors[0]:.1e} → {errors[-1]:.1e})", "" if ok else hint)


LAB = Lab("10 · DPM-Solver++(2M)", [
    Part("the same samples as the package's dpmpp_2m", 5, "equal to 1e-8 on VP, EDM and flow", _same_as_package),
    Part("one network evaluation per step", 2, "NFE = N", _nfe),
    Part("second order on a Gaussian", 3, "fitted slope 2 ± 0.25 over N = 20–160", _order),
], hints=[
    "Keep two things from one step to the next: the previous x̂₀ and the previous h. The first step has no history "
    "and the last step (σ = 0, λ = ∞) needs its own branch.",
    "Per step: x0_hat = predictor(x, t); with α, σ from process.coefficients, h = log(α_s/σ_s) − log(α_t/σ_t) (half "
    "the change of λ = log(α²/σ²)). Then x ← (σ_s/σ_t)·x − α_s·(e^{−h} − 1)·D with D = x̂₀ on the first step.",
    "From the second step on, r = h_prev/h and D = (1 + 1/(2r))·x0_hat − 1/(2r)·x0_prev; into σ_s = 0 return x0_hat. "
    "Update x0_prev and h_prev at the end of each step.",
])


def check_dpmpp_2m(fn) -> None:
    """Grade ``dpmpp_2m(x, ts, predictor, process)`` (chapter 10's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 10's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 10's Think questions
    Question("A sampler's endpoint error is 0.08 at 20 NFE. About what error do you expect at 80 NFE if the "
             "method is DPM-Solver++(2M) (second order) in its asymptotic range?",
             answer=0.005, tolerance=0.05,
             explanation="Four times the NFE means a step four times smaller; a second-order error falls by 4² = 16: "
                         "0.08/16 = 0.005. A first-order method would reach 0.02."),
    Question("DPM-Solver++(2M) and Heun are both second order. At the same number of network evaluations, which "
             "takes more steps?",
             choices=("2M: one evaluation per step, twice Heun's steps", "Heun: its steps are cheaper",
                      "The same number of steps"), answer=0,
             explanation="Heun evaluates twice per step (once on the last step into σ = 0); 2M once, reusing the "
                         "previous x̂₀. At equal NFE 2M's steps are about half as long, and its error about four "
                         "times smaller if the constants were equal."),
    Question("Why does every exponential integrator here (DDIM, DPM-Solver++) take the last step into σ = 0 as "
             "x = x̂₀ instead of its formula?",
             choices=("λ = log(α²/σ²) is infinite at σ = 0, so h and e^{−h} cannot be evaluated as numbers",
                      "Because x̂₀ is exact at σ = 0", "To save one network evaluation"), answer=0,
             explanation="At σ_s = 0 the formula's limit is x_s = α_s·D (σ_s/σ_t → 0, e^{−h} → 0), but computing it "
                         "means log 0, and 2M's r = h_prev/h → 0 would blow up the extrapolation. The explicit "
                         "branch takes the limit by hand, with D = x̂₀ (and α = 1 at t = 0)."),
)

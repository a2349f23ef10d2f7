r"""Lab of chapter 05: the DDIM sampler with η, and DDIM inversion, on the 2-D mixture with its exact denoiser.

The student writes ``ddim_sample(x, ts, x0_hat, process, eta, z)``: from ``x`` at ``ts[0]``, one DDIM update per
interval of the grid ``ts`` (Song, Meng & Ermon 2021, eq. 12, in (α, σ) form),
$x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,\hat\varepsilon + c\,z_k$ with $\hat x_0 = $ ``x0_hat(x_t, t)``,
$\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$ and
$c = \eta\,\sigma_s\sqrt{1 - \alpha_t^2\sigma_s^2/(\alpha_s^2\sigma_t^2)}$.
With η = 0 (c = 0) the same loop walks an increasing grid: DDIM inversion (§4.3 of the paper).

Graded against the package's ``integrators.ddim_step`` run with the same draws (exact, decreasing grids, η = 0 and
η > 0), against the η = 0 update run forward (exact, increasing grid), and by the round trip data → code → data.

``ANSWERS`` names the package functions that would earn a part if a student called them: DDIM itself and its
deterministic twins (DPM-Solver++'s first-order step is DDIM at η = 0), and the inversion of ``course.elbo``.
"""
from __future__ import annotations

import math

import torch

from ..integrators import ddim_step
from ..processes import VP, DiscreteDDPM, Process
from ..timers import uniform
from ..toys import gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_ddim_sample", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("ddim", "ddim_step", "ddim_invert", "dpmpp_1", "dpmpp_1_step", "dpm_first_order")

_GMM = gmm_2d()


def _x0_hat(process: Process):
    r"""The exact mixture denoiser $E[x_0\mid x_t]$ as the student sees it: ``x0_hat(x, t)``."""
    return lambda x, t: _GMM.denoiser(x, t, process)


def _package(x, ts, process: Process, eta: float, seed: int):
    """The package's DDIM: ``ddim_step`` over the grid with a generator whose draws are the student's ``z``."""
    predictor, generator = _GMM.predictor(process), torch.Generator().manual_seed(seed)
    for t, s in zip(ts[:-1].tolist(), ts[1:].tolist()):
        x, _ = ddim_step(x, t, s, predictor, process, eta=eta, generator=generator)
    return x


def _draws(n_steps: int, x, seed: int):
    """The draws ``ddim_step`` takes from ``Generator(seed)``: one (N, D) tensor per step, in order."""
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randn(x.shape, generator=generator, dtype=x.dtype) for _ in range(n_steps)])


def _update(x, ts, process: Process, eta: float, z, *, c_form="right", direction="right", at="t"):
    """The DDIM loop written here, or (with a keyword set otherwise) one typical mistake made on purpose."""
    for k in range(len(ts) - 1):
        t, s = ts[k], ts[k + 1]
        alpha_t, sigma_t, alpha_s, sigma_s = (p.item() for p in (process.alpha(t), process.sigma(t),
                                                                 process.alpha(s), process.sigma(s)))
        x0 = _GMM.denoiser(x, s if at == "s" else t, process)
        eps = (x - alpha_t * x0) / sigma_t
        r2 = (alpha_t * sigma_s / (alpha_s * sigma_t)) ** 2 if eta > 0 else 0.0
        c = {"right": eta * sigma_s * math.sqrt(max(1 - r2, 0.0)), "no_factor": eta * sigma_s,
             "variance": eta**2 * sigma_s**2 * max(1 - r2, 0.0)}[c_form]
        weight = sigma_s if direction == "sigma_s" else math.sqrt(max(sigma_s**2 - c**2, 0.0))
        x = alpha_s * x0 + weight * eps + c * z[k]
    return x


_UPHILL = ("NaN on an increasing grid: there 1 − α_t²σ_s²/(α_s²σ_t²) < 0. With η = 0, c = 0 — set it without "
           "taking that square root (compute c only when η > 0)")


def _nan_hint(got) -> str:
    if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()):
        return ("your answer holds NaN or inf: a square root of a negative number (is the ratio "
                "α_t²σ_s²/(α_s²σ_t²) upside down?) or a division by σ = 0 (ε̂ divides by σ_t, the current time's, "
                "never by σ_s)")
    return ""


def _deterministic(fn) -> Verdict:
    """Exact: η = 0 on DDPM (10 steps, T → 0) and VP (8 steps, 1 → 0), against ``ddim_step``, to 1e-8."""
    for process, n_steps in ((DiscreteDDPM(1000), 10), (VP(), 8)):
        x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        ts, z = uniform(process, n_steps), torch.zeros(n_steps, 64, 2, dtype=torch.float64)
        got = call(fn, x.clone(), ts.clone(), _x0_hat(process), process, 0.0, z)
        want = _package(x, ts, process, 0.0, seed=0)
        if not close(got, want, rtol=1e-8, atol=1e-8):
            mistakes = [(_update(x, ts, process, 0.0, z, at="s"), "evaluate the denoiser where you are, at (x_t, t) "
                         "— not at the next time s: the step uses only what is known at t"),
                        (x + 0 * want, "your loop never changed x: update x inside the loop and return it")]
            return Verdict(False, f"differs from ddim_step on {process.name.upper()}",
                           _nan_hint(got) or diagnose(got, mistakes, "with η = 0: x_s = α_s·x̂₀ + σ_s·ε̂, with x̂₀ "
                                                      "and ε̂ taken at (x_t, t) — the last step lands on σ = 0"))
    return Verdict(True, "equals ddim_step (η = 0) on DDPM and VP to 1e-8")


def _stochastic(fn) -> Verdict:
    """Exact: η = 0.3 and η = 1 on DDPM (10 steps, T → 0), against ``ddim_step`` with the same draws, to 1e-8."""
    process, n_steps = DiscreteDDPM(1000), 10
    ts = uniform(process, n_steps)
    for eta in (0.3, 1.0):
        x = torch.randn(64, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        z = _draws(n_steps, x, seed=3)
        got = call(fn, x.clone(), ts.clone(), _x0_hat(process), process, eta, z.clone())
        want = _package(x, ts, process, eta, seed=3)
        if not close(got, want, rtol=1e-8, atol=1e-8):
            mistakes = [(_update(x, ts, process, eta, z, c_form="no_factor"),
                         "c is not η·σ_s: DDPM's posterior standard deviation is σ_s·√(1 − α_t²σ_s²/(α_s²σ_t²)), and "
                         "c(η) is η times that"),
                        (_update(x, ts, process, eta, z, c_form="variance"),
                         "c multiplies z, so it is a standard deviation: η·σ_s·√(1 − …), not its square"),
                        (_update(x, ts, process, eta, z, direction="sigma_s"),
                         "the direction term has weight √(σ_s² − c²), so that its variance plus c² stays σ_s²"),
                        (_update(x, ts, process, eta, z, at="s"), "evaluate the denoiser at (x_t, t), not at s"),
                        (_update(x, ts, process, 0.0, z), "η > 0 adds fresh noise c·z[k] at step k: yours has none")]
            return Verdict(False, f"differs from ddim_step at η = {eta}",
                           _nan_hint(got) or diagnose(got, mistakes, "x_s = α_s·x̂₀ + √(σ_s² − c²)·ε̂ + c·z[k], with "
                                                      "c = η·σ_s·√(1 − α_t²σ_s²/(α_s²σ_t²)) and the k-th draw z[k]"))
    return Verdict(True, "equals ddim_step with the same draws (η = 0.3, 1) to 1e-8")


def _inversion_case(n_steps: int, n: int = 300):
    """Mixture samples taken as x at t = 1 (σ ≈ 0.01), and the DDPM grid from t = 1 up to T (increasing)."""
    process = DiscreteDDPM(1000)
    x0 = _GMM.sample(n, generator=torch.Generator().manual_seed(4))
    return process, x0, uniform(process, n_steps, t_end=1.0).flip(0)


def _encode(fn) -> Verdict:
    """Exact: η = 0 on an increasing grid (t = 1 → T, 50 steps) equals the update run forward, to 1e-8."""
    process, x0, ts_up = _inversion_case(50)
    z = torch.zeros(50, *x0.shape, dtype=x0.dtype)
    got = call(fn, x0.clone(), ts_up.clone(), _x0_hat(process), process, 0.0, z)
    want = _update(x0, ts_up, process, 0.0, z)
    if close(got, want, rtol=1e-8, atol=1e-8):
        return Verdict(True, "the code x_T equals the η = 0 update run forward, to 1e-8")
    nan = _nan_hint(got) and _UPHILL
    return Verdict(False, "differs from the η = 0 update run forward",
                   nan or diagnose(got, [(_update(x0, ts_up, process, 0.0, z, at="s"),
                                          "evaluate the denoiser at (x_t, t), the time you are at")],
                                   "inversion is the same update with s > t: x_s = α_s·x̂₀ + σ_s·ε̂ (no special case)"))


def _round_trip(fn) -> Verdict:
    """Round trip: encode 300 mixture samples (t = 1 → T, 200 steps), decode on the same grid (T → 1); the mean
    distance to the start must be below 0.05 (the data spread is about 2; the exact update gives about 0.01)."""
    process, x0, ts_up = _inversion_case(200)
    z = torch.zeros(200, *x0.shape, dtype=x0.dtype)
    code = call(fn, x0.clone(), ts_up.clone(), _x0_hat(process), process, 0.0, z)
    back = call(fn, code.clone(), ts_up.flip(0).clone(), _x0_hat(process), process, 0.0, z)
    back = expect(back, x0.shape, f"return the final state, shape {tuple(x0.shape)} like x")
    err = (back.double() - x0).norm(dim=1).mean().item()
    ok = math.isfinite(err) and err < 0.05
    return Verdict(ok, f"mean |decode(encode(x)) − x| = {err:.3f}",
                   (_nan_hint(back) and _UPHILL)
                   or "encoding and decoding must be the same η = 0 update, run up and down the grid")


LAB = Lab("05 · the DDIM sampler with η, and inversion", [
    Part("η = 0: the deterministic map", 3, "equal to ddim_step to 1e-8", _deterministic),
    Part("η > 0: with the given draws", 4, "equal to ddim_step to 1e-8", _stochastic),
    Part("inversion: the code x_T", 2, "equal to the η = 0 update run forward to 1e-8", _encode),
    Part("inversion: the round trip x → x_T → x", 1, "mean error < 0.05", _round_trip),
], hints=[
    "Walk along the grid: at each time t you hold x_t; ask the denoiser once for x̂₀, turn it into ε̂, and rebuild x "
    "at the next time s from these two plus (if η > 0) some fresh noise.",
    "The update has three parts — predicted x₀, direction to x_t, noise: x_s = α_s·x̂₀ + √(σ_s² − c²)·ε̂ + c·z[k], "
    "with ε̂ = (x_t − α_t·x̂₀)/σ_t. With η = 0, c = 0; otherwise c = η·σ_s·√(1 − α_t²σ_s²/(α_s²σ_t²)).",
    "For k in range(len(ts) − 1): t, s = ts[k], ts[k+1]; a_t, s_t, a_s, s_s = process.alpha(t), process.sigma(t), "
    "process.alpha(s), process.sigma(s); x0 = x0_hat(x, t); eps = (x − a_t·x0)/s_t; c = eta·s_s·"
    "(1 − (a_t·s_s/(a_s·s_t))²).sqrt() if eta > 0 else 0.0; x = a_s·x0 + (s_s² − c²)^½·eps + c·z[k].",
])


def check_ddim_sample(fn) -> None:
    """Grade ``ddim_sample(x, ts, x0_hat, process, eta, z)`` (chapter 05's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 05's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 05's Think questions
    Question("The data is a single point μ (a Dirac), so the exact denoiser is x̂₀ = μ everywhere. How many DDIM steps "
             "(η = 0) from t = T land exactly on μ at t = 0?", answer=1.0, tolerance=0.01,
             explanation="With x̂₀ = μ, ε̂ = (x_t − α_t μ)/σ_t, and x/α − μ = (σ/α)·ε̂ keeps ε̂ constant along the "
                         "path: Euler on dx̄/dρ = ε̂ is exact, and one step to σ = 0 returns x̂₀ = μ."),
    Question("DDIM's last step goes to σ_s = 0. What does it return?",
             choices=("The denoiser's output x̂₀ at the last grid time", "x_t minus the predicted noise σ_t·ε̂",
                      "Noise: c is largest there"), answer=0,
             explanation="At σ_s = 0, c = 0 and √(σ_s² − c²) = 0, so x_s = α_s x̂₀ = x̂₀: the sample is the last "
                         "denoiser call. (x_t − σ_t ε̂ = α_t x̂₀ differs by the factor α_t.)"),
    Question("Inversion encodes with the update from t up to s > t, decoding runs it from s down to t. With the exact "
             "denoiser, why is the round trip not exact?",
             choices=("The encoder evaluates x̂₀ at (x_t, t), the decoder at (x_s, s): each step's first-order error "
                      "does not cancel", "Because DDIM adds noise", "Round-off in float64"), answer=0,
             explanation="Both passes are Euler steps of the same ODE, taken from opposite ends of each interval; "
                         "the errors shrink like 1/N, which is why the round trip improves with more steps."),
)

r"""Lab of chapter 09: EDM's sampler around a raw network — the preconditioning and Algorithm 1 of Karras et al. (2022).

The student writes ``edm_sampler(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho)``: the denoiser
$D(x;\sigma) = c_{skip}x + c_{out}F(c_{in}x;\ c_{noise})$ with Table 1's coefficients, the ρ grid
$\sigma_i = (\sigma_{max}^{1/\rho} + \tfrac{i}{N-1}(\sigma_{min}^{1/\rho} - \sigma_{max}^{1/\rho}))^\rho$, $\sigma_N = 0$,
the start $x = \sigma_0 z$, and Heun's steps on $dx/d\sigma = (x - D(x;\sigma))/\sigma$ with the last step (into
σ = 0) Euler's. Graded against the package's ``integrators.heun`` on the ``timers.karras`` grid with the exact mixture
denoiser (exact), against ``nets.edm_preconditioning`` with an arbitrary network (exact), and by the number of
evaluations of F (2N − 1).

``ANSWERS``: ``edm_preconditioning`` and ``EDMPrecond`` (the preconditioning) and ``heun`` with the tables and front end
that run it (``INTEGRATORS``, ``SAMPLERS``, ``get_integrator``, ``Denoiser``); chapter 09 imports none of them above the
lab (its figures and checks get the coefficients through ``course.edm_design``, which returns curves and gaps, not
a denoiser). ``karras`` builds only the grid — chapter 09's warm-up — and is not enough to pass.
"""
from __future__ import annotations

import torch

from ..integrators import heun
from ..nets import edm_preconditioning
from ..processes import EDM
from ..timers import karras
from ..toys import GaussianMixture
from .grading import Lab, Part, Verdict, call, close, diagnose
from .think import Question

__all__ = ["check_edm_sampler", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("edm_preconditioning", "EDMPrecond", "heun", "INTEGRATORS", "SAMPLERS", "get_integrator",
                            "Denoiser")
_WIDE = EDM(sigma_max=1e30)  # decodes any σ a (possibly wrong) c_noise stands for


class _Network:
    """The raw network F(c_in·x; c_noise) that makes D exact for ``gmm``: F = (D_exact(x; σ) − c_skip·x)/c_out with
    σ = exp(4·c_noise), x = x_in/c_in. Counts its calls and records the σ of each."""

    def __init__(self, gmm: GaussianMixture | None, sigma_data: float):
        self.gmm, self.sigma_data, self.sigmas = gmm, sigma_data, []

    def __call__(self, x_in, c_noise):
        if not isinstance(x_in, torch.Tensor) or x_in.ndim != 2:
            raise ValueError(f"F takes the scaled input c_in·x of shape (N, D); got {type(x_in).__name__}")
        c = torch.as_tensor(c_noise, dtype=x_in.dtype).reshape(-1)
        if c.numel() not in (1, x_in.shape[0]):
            raise ValueError(f"c_noise must be a number or one per sample; got shape {tuple(c.shape)}")
        sigma = (4 * c).exp().expand(x_in.shape[0])  # (N,)
        self.sigmas.append(sigma[0].item())
        if not bool(torch.isfinite(c).all()):
            raise ZeroDivisionError("F was called with c_noise = ¼ ln σ at σ = 0")
        if self.gmm is None:  # an arbitrary network: any smooth function of its inputs
            return torch.sin(1.3 * x_in + c.reshape(-1, 1)) + 0.1 * x_in
        c_skip, c_out, c_in, _ = (v[:, None] for v in edm_preconditioning(sigma, self.sigma_data))
        x = x_in / c_in
        return (self.gmm.denoiser(x, sigma, _WIDE) - c_skip * x) / c_out


def _reference(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho, *, grid="rho", final_zero=True, start="scaled",
               second_order=True, c_noise="quarter", c_out="sqrt"):
    """EDM's Algorithm 1 with D from F, or (with a keyword set otherwise) one typical mistake made on purpose."""
    i = torch.arange(n_steps, dtype=torch.float64)
    frac = i / n_steps if grid == "i_over_n" else i / (n_steps - 1)
    p = 1.0 if grid == "uniform" else 1 / rho
    sigmas = (sigma_max**p + frac * (sigma_min**p - sigma_max**p)) ** (1 / p)
    sigmas = torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)]) if final_zero else sigmas

    def D(x, sigma):
        s = sigma**2 + sigma_data**2
        out = sigma * sigma_data / (s.sqrt() if c_out == "sqrt" else s)
        noise = sigma.log() / (4 if c_noise == "quarter" else 1)
        return sigma_data**2 / s * x + out * F(x / s.sqrt(), noise)

    x = sigmas[0] * z if start == "scaled" else z
    for k in range(len(sigmas) - 1):
        s, s_next = sigmas[k], sigmas[k + 1]
        d_cur = (x - D(x, s)) / s
        x_next = x + (s_next - s) * d_cur  # Euler step
        if second_order and s_next > 0:
            d_prime = (x_next - D(x_next, s_next)) / s_next
            x_next = x + (s_next - s) * 0.5 * (d_cur + d_prime)  # 2nd-order correction
        x = x_next
    return x


_CONFIGS = ((6, 0.002, 80.0, 7.0), (4, 0.01, 10.0, 3.0))  # (N, σ_min, σ_max, ρ)


def _mixture() -> GaussianMixture:
    g = torch.Generator().manual_seed(9)
    means = 1.5 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    return GaussianMixture(torch.tensor([0.4, 0.35, 0.25]), means, 0.1 * torch.eye(2, dtype=torch.float64).expand(3, 2, 2))


def _mistakes(F, z, sigma_data, config) -> list[tuple[torch.Tensor, str]]:
    wrong = lambda **kw: _reference(F, z, sigma_data, *config, **kw)  # noqa: E731
    return [(wrong(grid="uniform"), "the grid is uniform in σ: space σ^(1/ρ) evenly between σ_max^(1/ρ) and "
                                    "σ_min^(1/ρ), then raise each to the power ρ"),
            (wrong(grid="i_over_n"), "an off-by-one in the grid: i/(N − 1) for i = 0 … N − 1, so that the N-th level "
                                     "before 0 is exactly σ_min"),
            (wrong(final_zero=False), "the samples stop at σ_min: append σ_N = 0 and take one more (Euler) step into it"),
            (wrong(start="plain"), "z is standard normal: start at x = σ_0·z, noise of standard deviation σ_max"),
            (wrong(second_order=False), "that is Euler's method: correct each step (except the last) with the slope "
                                        "at the arrival point, x_next = x + (σ_next − σ)·(d_cur + d_prime)/2"),
            (wrong(c_noise="ln"), "c_noise is ¼·ln σ (Table 1), not ln σ"),
            (wrong(c_out="no_sqrt"), "c_out = σ·σ_data/√(σ² + σ_data²): the target's standard deviation, with the root")]


def _verdict(fn, gmm: GaussianMixture | None, what: str) -> Verdict:
    sigma_data = 0.5
    for n_steps, sigma_min, sigma_max, rho in _CONFIGS:
        z = torch.randn(8, 2, generator=torch.Generator().manual_seed(n_steps), dtype=torch.float64)
        got = call(fn, _Network(gmm, sigma_data), z.clone(), sigma_data, n_steps, sigma_min, sigma_max, rho)
        if gmm is not None:  # the package's sampler with the exact denoiser
            process = EDM(sigma_max=sigma_max)
            want = heun(sigma_max * z, karras(process, n_steps, rho, sigma_min=sigma_min), gmm.predictor(process), process)
        else:  # the package's preconditioning
            want = _reference(_Network(None, sigma_data), z, sigma_data, n_steps, sigma_min, sigma_max, rho)
        if not close(got, want, rtol=1e-8, atol=1e-10):
            if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()):
                hint = ("inf or NaN in your samples: on the last step, into σ = 0, do not evaluate the slope at σ = 0 "
                        "(it divides by σ; c_noise = ¼ ln 0): take the Euler step only")
            else:
                hint = diagnose(got, _mistakes(_Network(gmm, sigma_data), z, sigma_data,
                                               (n_steps, sigma_min, sigma_max, rho)),
                                "compare with Algorithm 1 line by line: the grid, x = σ_0·z, D from F with Table 1's "
                                "coefficients, Heun's correction on every step but the last")
            return Verdict(False, f"differs with N = {n_steps}, σ_max = {sigma_max:g}, ρ = {rho:g}", hint)
    return Verdict(True, f"equals {what} to 1e-8 (N = 6 and 4, ρ = 7 and 3)")


def _nfe(fn) -> Verdict:
    """Exact: N = 5 steps cost 2N − 1 = 9 evaluations of F."""
    F = _Network(_mixture(), 0.5)
    call(fn, F, torch.zeros(3, 2, dtype=torch.float64), 0.5, 5, 0.002, 80.0, 7.0)
    n = len(F.sigmas)
    hint = {10: "Heun's last step into σ = 0 is Euler's: 1 evaluation, so 2N − 1 in all",
            5: "Heun evaluates F twice per step (at σ_i and at σ_(i+1)), except on the last step"}.get(
        n, "Heun costs 2 evaluations per step and 1 on the last: 2N − 1")
    return Verdict(n == 9, f"{n} evaluations of F for N = 5", "" if n == 9 else hint)


LAB = Lab("09 · EDM's sampler: preconditioning and Algorithm 1", [
    Part("exact denoiser: the samples of heun on the karras grid", 5, "equal to 1e-8",
         lambda fn: _verdict(fn, _mixture(), "the package's heun on the karras grid")),
    Part("an arbitrary network: Table 1's preconditioning", 3, "equal to 1e-8",
         lambda fn: _verdict(fn, None, "Algorithm 1 with edm_preconditioning")),
    Part("network evaluations", 2, "NFE = 2N − 1", _nfe),
], hints=[
    "Three pieces, in this order: a function D(x, σ) built from F with c_skip, c_out, c_in, c_noise; the N levels "
    "σ_0 > … > σ_(N−1) plus a final 0; a loop of Heun steps on dx/dσ = (x − D(x; σ))/σ that starts at σ_0·z.",
    "D(x, σ) = c_skip·x + c_out·F(c_in·x, c_noise) with s = σ² + σ_data²: c_skip = σ_data²/s, c_out = σσ_data/√s, "
    "c_in = 1/√s, c_noise = ¼ ln σ. The grid is your warm-up's karras_sigmas with torch.zeros(1) appended.",
    "Per step: d_cur = (x − D(x, σ))/σ; x_next = x + (σ_next − σ)·d_cur; if σ_next > 0: d_prime = (x_next − "
    "D(x_next, σ_next))/σ_next and x_next = x + (σ_next − σ)·(d_cur + d_prime)/2.",
])


def check_edm_sampler(fn) -> None:
    """Grade ``edm_sampler(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho)`` (chapter 09's lab) and print the
    score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 09's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 09's Think questions
    Question("EDM's Heun sampler with N = 18 noise levels: how many network evaluations does one sample cost?",
             answer=35, tolerance=0.001,
             explanation="Two per step for the 17 steps between positive levels, one for the last step into σ = 0 "
                         "(Euler: the slope at σ = 0 would divide by zero): 2·18 − 1 = 35."),
    Question("At σ = 0.002, with σ_data = 0.5, which term dominates the denoiser D = c_skip·x + c_out·F?",
             choices=("c_skip·x: the input is kept almost unchanged, the network adds a tiny correction",
                      "c_out·F: the network predicts x₀ afresh", "Both equally"), answer=0,
             explanation="c_skip = 0.25/(0.25 + 4e−6) ≈ 1 and c_out ≈ σ = 0.002: the noise is tiny, so D ≈ x and the "
                         "network's errors are scaled down by c_out. At σ = 80 it is the other way round."),
    Question("Going from ρ = 1 to ρ = 7 at the same N, where do the steps get shorter?",
             choices=("Near σ_min (close to data)", "Near σ_max (pure noise)", "Nowhere: only the end points move"),
             answer=0,
             explanation="Spacing σ^(1/ρ) evenly crowds the levels where σ is small: the last steps near the data are "
                         "short, the first ones at large σ long — where the denoiser barely changes."),
)

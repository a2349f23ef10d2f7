r"""Lab of chapter 02: the exact posterior mean $E[x_0\mid x_t]$ of a Gaussian mixture, written from Bayes' rule.

The student writes ``posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs)`` for data
$q(x_0) = \sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$ and $x_t = \alpha_t x_0 + \sigma_t\varepsilon$: with
$C_k = \alpha_t^2\Sigma_k + \sigma_t^2 I$, the responsibilities $r_k \propto \pi_k\,\mathcal N(x_t; \alpha_t\mu_k, C_k)$ and
$E[x_0\mid x_t] = \sum_k r_k\,\big(\mu_k + \alpha_t\Sigma_k C_k^{-1}(x_t - \alpha_t\mu_k)\big)$ (Bishop 2006, §2.3.3).
Graded against ``GaussianMixture.denoiser`` (closed form) on VP, VE, EDM and rectified flow to 1e-8, far from the
data where a responsibility underflows, and against a Monte Carlo posterior mean (self-normalised importance
sampling, 4.5 standard errors).

``ANSWERS`` names the package functions that would pass this grader if a student called them.
"""
from __future__ import annotations

import math

import torch

from ..course.tweedie import posterior_mean_mc
from ..processes import EDM, VE, VP, Process, RectifiedFlow
from ..toys import GaussianMixture, gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_posterior_mean", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("GaussianMixture.denoiser", "GaussianMixture.predictor")

_CASES = ((VP(), 0.3), (VE(0.02, 20.0), 0.4), (EDM(), 1.2), (RectifiedFlow(), 0.6))


def _reference(x_t, alpha_t, sigma_t, weights, means, covs, mistake: str = ""):
    r"""$\sum_k r_k(\mu_k + \alpha\Sigma_k C_k^{-1}(x_t - \alpha\mu_k))$, or one typical mistake made on purpose."""
    a2 = alpha_t if mistake == "alpha" else alpha_t**2
    s2 = sigma_t if mistake == "sigma" else sigma_t**2
    C = a2 * covs + s2 * torch.eye(covs.shape[-1], dtype=covs.dtype)  # (K, D, D)
    diff = x_t[:, None, :] - alpha_t * means  # (N, K, D)
    sol = torch.linalg.solve(C, diff.unsqueeze(-1)).squeeze(-1)  # (N, K, D) = C_k⁻¹(x − αμ_k)
    log_like = -0.5 * ((diff * sol).sum(-1) + torch.logdet(C) + covs.shape[-1] * math.log(2 * math.pi))  # (N, K)
    log_joint = torch.log(weights) + log_like
    r = {"prior": weights.expand_as(log_joint), "unnormalised": log_joint.exp()}.get(mistake, log_joint.softmax(-1))
    gain = 1.0 if mistake == "no_alpha" else alpha_t
    m_k = means + gain * (covs @ sol.unsqueeze(-1)).squeeze(-1)  # (N, K, D) per-component posterior means
    return (r.unsqueeze(-1) * m_k).sum(1)


def _mistakes(x_t, alpha_t, sigma_t, w, mu, cov, want):
    score = (alpha_t * want - x_t) / sigma_t**2  # Tweedie read backwards: what a score-based route would use
    return [(_reference(x_t, alpha_t, sigma_t, w, mu, cov, "alpha"),
             "the covariance of x_t given component k is α²Σ_k + σ²I: the data's covariance scales with α², not α"),
            (_reference(x_t, alpha_t, sigma_t, w, mu, cov, "sigma"),
             "the noise adds σ²I to the covariance (σ is a standard deviation; its variance is σ²)"),
            (_reference(x_t, alpha_t, sigma_t, w, mu, cov, "unnormalised"),
             "the responsibilities must sum to 1 over k: divide π_k·N_k by Σ_j π_j·N_j (torch.softmax of the logs)"),
            (_reference(x_t, alpha_t, sigma_t, w, mu, cov, "prior"),
             "you weighted the components by π_k alone: the responsibilities are π_k·N(x_t; αμ_k, C_k), normalised"),
            (_reference(x_t, alpha_t, sigma_t, w, mu, cov, "no_alpha"),
             "the per-component posterior mean is μ_k + α·Σ_k C_k⁻¹(x_t − αμ_k): the gain has a factor α"),
            ((x_t - sigma_t**2 * score) / alpha_t, "Tweedie is (x_t + σ²·score)/α: the score points uphill — check "
                                                   "its sign"),
            (x_t + sigma_t**2 * score, "Tweedie divides by α at the end: x̂₀ = (x_t + σ²·score)/α")]


def _exact(fn, gmm: GaussianMixture, cases, n: int = 8) -> Verdict:
    """Exact: the student's posterior mean equals the closed form at points drawn from p_t, case by case."""
    g = torch.Generator().manual_seed(3)
    for process, t in cases:
        x_t = gmm.sample(n, t, process, generator=g)
        alpha_t, sigma_t = (c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
        want = gmm.denoiser(x_t, t, process)
        got = call(fn, x_t.clone(), alpha_t, sigma_t, gmm.weights.clone(), gmm.means.clone(), gmm.covs.clone())
        if not close(got, want, rtol=1e-8, atol=1e-8):
            args = (x_t, alpha_t, sigma_t, gmm.weights, gmm.means, gmm.covs)
            return Verdict(False, f"differs from the closed form on {process.name.upper()} at t = {t}",
                           diagnose(got, _mistakes(*args, want), "E[x0|x_t] = Σ_k r_k·(per-component posterior "
                                                                  "mean): check each factor against the Theory"))
    names = ", ".join(p.name.upper() for p, _ in cases)
    return Verdict(True, f"equals the closed form on {names} to 1e-8")


def _one_component(fn) -> Verdict:
    """One elongated, rotated Gaussian: the mixture's posterior mean is the Gaussian posterior mean itself."""
    c, s = math.cos(0.6), math.sin(0.6)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    cov = rot @ torch.diag(torch.tensor([0.9, 0.05], dtype=torch.float64)) @ rot.T
    return _exact(fn, GaussianMixture([1.0], [[0.5, -1.0]], cov[None]), ((VP(), 0.5),))


def _far(fn) -> Verdict:
    """Far from every component at a small noise level the responsibilities underflow in exp(): the answer must be
    finite and exact (computed in log space)."""
    gmm, process, t = gmm_2d(), EDM(), 0.05
    x_t = torch.tensor([[60.0, -50.0], [0.0, 80.0], [-90.0, 10.0]], dtype=torch.float64)  # every π_k N_k < 1e-320
    got = call(fn, x_t.clone(), 1.0, t, gmm.weights.clone(), gmm.means.clone(), gmm.covs.clone())
    want = gmm.denoiser(x_t, t, process)
    if close(got, want, rtol=1e-8, atol=1e-8):
        return Verdict(True, "finite and exact where exp() underflows")
    bad = isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all())
    return Verdict(False, "not finite" if bad else "differs from the closed form far from the data",
                   "far from the data every π_k·N_k underflows to 0 and 0/0 = nan: normalise in log space "
                   "(torch.softmax or torch.logsumexp of log π_k + log N_k)" if bad else
                   "check the responsibilities: compute log π_k + log N(x_t; αμ_k, C_k) and normalise with softmax")


def _monte_carlo(fn) -> Verdict:
    """Monte Carlo: self-normalised importance sampling from q(x_0) (20 000 draws); every coordinate within 4.5 SE."""
    gmm, process, t = gmm_2d(), VP(), 0.4
    g = torch.Generator().manual_seed(4)
    x_t = gmm.sample(4, t, process, generator=g)
    alpha_t, sigma_t = (c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
    got = call(fn, x_t.clone(), alpha_t, sigma_t, gmm.weights.clone(), gmm.means.clone(), gmm.covs.clone())
    got = expect(got, x_t.shape, f"return one posterior mean per row of x_t: shape {tuple(x_t.shape)}")
    mc, se = posterior_mean_mc(gmm, x_t, t, process, 20_000, generator=g)
    z = ((got.double() - mc) / se).abs().max().item()
    return Verdict(z < 4.5, f"largest |yours − MC| = {z:.1f} standard errors",
                   "your answer is not the average of x_0 over the posterior: recheck the responsibilities")


LAB = Lab("02 · the exact posterior mean of a Gaussian mixture", [
    Part("one Gaussian: the posterior mean", 2, "equal to the closed form to 1e-8", _one_component),
    Part("the 2-D mixture on VP, VE, EDM and flow", 4, "equal to GaussianMixture.denoiser to 1e-8",
         lambda fn: _exact(fn, gmm_2d(), _CASES)),
    Part("far from the data, at small σ", 2, "finite and equal to the closed form to 1e-8", _far),
    Part("agrees with a Monte Carlo posterior mean", 2, "within 4.5 standard errors", _monte_carlo),
], hints=[
    "Condition on the component first: given k, x_0 and x_t are jointly Gaussian, so E[x_0 | x_t, k] is a Gaussian "
    "posterior mean. Then average over k with the probability that x_t came from component k.",
    "Given k: x_t ~ N(α μ_k, C_k) with C_k = α²Σ_k + σ²I, and E[x_0 | x_t, k] = μ_k + αΣ_k C_k⁻¹(x_t − αμ_k). "
    "The responsibilities r_k ∝ π_k N(x_t; αμ_k, C_k) must sum to 1 — normalise in log space.",
    "C = alpha_t**2 * covs + sigma_t**2 * torch.eye(D); diff = x_t[:, None] − alpha_t * means; "
    "sol = torch.linalg.solve(C, diff[..., None])[..., 0]; log r = log π − ½(diff·sol + logdet C) then softmax over k; "
    "answer = Σ_k r_k (means + alpha_t * (covs @ sol[..., None])[..., 0]).",
])


def check_posterior_mean(fn) -> None:
    """Grade ``posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs)`` (chapter 02's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 02's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 02's Think questions
    Question("Data: one Gaussian N(0, 1) in 1-D. With α_t = 1 and σ_t = 1, what is E[x₀ | x_t = 2]?",
             answer=1.0, tolerance=0.02,
             explanation="The posterior mean is αΣ/(α²Σ + σ²)·x_t = 1/(1 + 1)·2 = 1: halfway, because signal and noise "
                         "have the same variance. Tweedie agrees: the score of N(0, 2) at 2 is −1, and 2 + 1·(−1) = 1."),
    Question("As σ_t grows (α_t fixed), where does the exact denoiser's output E[x₀ | x_t] go, for any x_t?",
             choices=("To x_t/α_t", "To the mean of the data, Σ_k π_k μ_k", "To the nearest component's mean μ_k"),
             answer=1,
             explanation="With huge noise x_t says almost nothing: the responsibilities return to the prior weights π_k "
                         "and each component's gain αΣ_kC_k⁻¹ goes to 0, so the posterior mean is the prior mean."),
    Question("Near data (σ_t → 0, α_t ≈ 1) an ε-predicting network is off by δ in ε̂. By how much is the x̂₀ "
             "recovered from it, x̂₀ = (x_t − σ_t ε̂)/α_t, off?",
             choices=("By (σ_t/α_t)·δ: small", "By δ/σ_t: huge", "By δ exactly"), answer=0,
             explanation="The ε-error is multiplied by σ_t/α_t, so near data it is damped. Near noise (α_t → 0) the "
                         "factor blows up — one reason x₀- or velocity-prediction is preferred at the noise end."),
)

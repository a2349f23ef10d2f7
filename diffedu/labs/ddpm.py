r"""Lab of chapter 04: DDPM's ancestral sampler over the discrete posterior $q(x_{n-1}\mid x_n, \hat x_0)$.

The student writes ``ddpm_sample(x_T, betas, eps_model, z)``: ``betas[n - 1]`` is $\beta_n$ (n = 1..T),
``eps_model(x, n)`` predicts ε at step n, and ``z[n - 1]`` (shape of x_T) is the standard normal draw of the step
n → n − 1. Each step is
$x_{n-1} = \frac{1}{\sqrt{a_n}}\big(x_n - \frac{\beta_n}{\sqrt{1-\bar\alpha_n}}\hat\varepsilon\big) + \sqrt{\tilde\beta_n}\,z_{n-1}$
with $\tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\beta_n$ ($\tilde\beta_1 = 0$: no noise on the last step)
(Ho et al. 2020, Algorithm 2 with $\sigma_n^2 = \tilde\beta_n$). Graded against the same recursion written here (same
draws, exact), the steps at which the network is called, and — with the mixture's exact ε as the network — the
samples' sliced Wasserstein distance to exact mixture samples and the components' shares.

``ANSWERS`` names the package functions that would pass this grader if a student called them: none here
(``integrators.ddpm``, which chapter 04's "Check it" uses, draws its own noise and cannot reproduce the grader's draws).
"""
from __future__ import annotations

import torch

from ..metrics import sliced_wasserstein
from ..processes import DiscreteDDPM
from ..toys import gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_ddpm_sample", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ()


def _reference(x_T, betas, eps_model, z, mistake: str = ""):
    r"""The ancestral recursion with $\sigma_n^2 = \tilde\beta_n$, or one typical mistake made on purpose."""
    alpha_bar = torch.cat([torch.ones(1, dtype=betas.dtype), torch.cumprod(1 - betas, 0)])  # ᾱ_0..ᾱ_T
    x = x_T
    for n in range(len(betas), 0, -1):
        beta_n, ab_n, ab_prev = betas[n - 1], alpha_bar[n], alpha_bar[n - 1]
        eps_hat = eps_model(x, n)
        scale = ab_n.sqrt() if mistake == "alpha_bar" else (1 - beta_n).sqrt()
        coef = beta_n / (1 - ab_n) if mistake == "no_sqrt" else beta_n / (1 - ab_n).sqrt()
        mean = (x - coef * eps_hat) / scale  # posterior mean with x̂₀ from ε̂
        var = {"beta": beta_n, "beta_all": beta_n}.get(mistake, (1 - ab_prev) / (1 - ab_n) * beta_n)
        std = var if mistake == "std" else var.sqrt()
        x = mean + std * z[n - 1] if n > 1 or mistake == "beta_all" else mean
    return x


def _chain(T: int, beta_1: float, beta_T: float, n: int, seed: int):
    process, gmm = DiscreteDDPM(T, beta_1, beta_T), gmm_2d()
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, 2, generator=g, dtype=torch.float64)
    z = torch.randn(T, n, 2, generator=g, dtype=torch.float64)

    def eps_model(x, n):
        if not 1 <= float(n) <= T:
            raise IndexError(f"eps_model is defined at n = 1..{T}; it was called at n = {n}")
        return gmm.eps(x, float(n), process)

    return process, gmm, x_T, z, eps_model


def _calls(fn) -> Verdict:
    """The network is called once per step, at n = T, T − 1, …, 1, on the current x (shape (N, 2))."""
    process, _, x_T, z, eps = _chain(10, 1e-2, 0.3, 4, seed=5)
    seen = []

    def spy(x, n):
        seen.append(int(n) if float(n) == int(n) else float(n))
        return eps(x, min(max(round(float(n)), 1), 10))

    call(fn, x_T.clone(), process.betas.clone(), spy, z.clone())
    want = list(range(10, 0, -1))
    if seen == want:
        return Verdict(True, "ε̂ called at n = 10, 9, …, 1")
    if seen == list(range(9, -1, -1)):
        hint = "off by one: step n → n − 1 asks the network about x_n at step n (n = T, …, 1), not n − 1"
    elif len(seen) != len(want):
        hint = f"one network call per step, T = {len(want)} in all: you made {len(seen)}"
    else:
        hint = "walk n from T down to 1 (range(T, 0, -1)) and pass n to eps_model"
    return Verdict(False, f"ε̂ called at n = {seen[:12]}", hint)


def _exact(fn) -> Verdict:
    """Exact: the recursion with the grader's draws on a 10-step chain (β from 0.01 to 0.3), 5 samples."""
    process, _, x_T, z, eps = _chain(10, 1e-2, 0.3, 5, seed=6)
    betas = process.betas
    got = call(fn, x_T.clone(), betas.clone(), eps, z.clone())
    want = _reference(x_T, betas, eps, z)
    if close(got, want, rtol=1e-8, atol=1e-8):
        return Verdict(True, "equals the recursion to 1e-8")
    mistakes = [(_reference(x_T, betas, eps, z, "alpha_bar"),
                 "the mean divides by √a_n = √(1 − β_n), the one-step factor — not by √ᾱ_n"),
                (_reference(x_T, betas, eps, z, "no_sqrt"),
                 "ε̂ is multiplied by β_n/√(1 − ᾱ_n): the noise level σ_n = √(1 − ᾱ_n) is a standard deviation"),
                (_reference(x_T, betas, eps, z, "beta"),
                 "the noise of a step has the posterior variance β̃_n = (1 − ᾱ_(n−1))/(1 − ᾱ_n)·β_n, not β_n"),
                (_reference(x_T, betas, eps, z, "beta_all"),
                 "no noise on the last step (n = 1): it returns the mean; and the variance is β̃_n, not β_n"),
                (_reference(x_T, betas, eps, z, "std"),
                 "multiply z by the standard deviation √β̃_n — β̃_n is a variance"),
                (x_T + 0 * want, "your loop never changed x: update x inside the loop and return it")]
    return Verdict(False, "differs from the recursion",
                   diagnose(got, mistakes, "x ← (x − β_n/√(1 − ᾱ_n)·ε̂)/√a_n + √β̃_n·z[n − 1] for n = T, …, 1"))


def _samples(fn, which: str) -> Verdict:
    """With the exact ε on a T = 100 chain (β from 1e-3 to 0.2), 2000 samples: SW₂ to exact mixture samples within
    1.5× the distance between two exact sample sets (both averaged over 4 fresh sets), or every component's share within 0.03 of its weight."""
    process, gmm, x_T, z, eps = _chain(100, 1e-3, 0.2, 2000, seed=7)
    x0 = call(fn, x_T.clone(), process.betas.clone(), eps, z)
    x0 = expect(x0, x_T.shape, f"return x_0, finite, shape {tuple(x_T.shape)} like x_T", "wrong shape or not finite",
                finite=True)
    x0, g = x0.double(), torch.Generator().manual_seed(8)
    if which == "sw":  # each distance averaged over 4 fresh exact sample sets: one alone varies by ±30 %
        sw = sum(sliced_wasserstein(x0, gmm.sample(2000, generator=g), generator=g).item() for _ in range(4)) / 4
        floor = sum(sliced_wasserstein(gmm.sample(2000, generator=g), gmm.sample(2000, generator=g), generator=g).item()
                    for _ in range(4)) / 4
        return Verdict(sw < 1.5 * floor, f"SW₂ = {sw:.3g} (noise floor {floor:.3f})",
                       "your samples are not distributed like the data: check the mean and the noise of each step")
    share = torch.bincount(gmm.responsibilities(x0).argmax(1), minlength=gmm.n_components) / len(x0)
    err = (share - gmm.weights).abs().max().item()
    return Verdict(err < 0.03, f"largest |share − weight| = {err:.3f}",
                   "some components get too many samples: too little noise along the chain collapses the modes")


LAB = Lab("04 · DDPM's ancestral sampler", [
    Part("ε̂ is asked at n = T, …, 1", 2, "exactly these steps, once each", _calls),
    Part("one chain with the given draws", 4, "equal to the recursion to 1e-8", _exact),
    Part("exact ε̂: samples look like the mixture", 2, "SW₂ < 1.5 × noise floor", lambda fn: _samples(fn, "sw")),
    Part("exact ε̂: each component gets its share", 2, "within 0.03 of its weight", lambda fn: _samples(fn, "share")),
], hints=[
    "Walk down the chain from n = T to n = 1. At each step ask the network for ε̂, turn it into the mean of "
    "p(x_(n−1) | x_n) (the posterior with x_0 replaced by its estimate), then add noise of the posterior's size.",
    "The mean is (x_n − β_n/√(1 − ᾱ_n)·ε̂)/√a_n with a_n = 1 − β_n; the variance is β̃_n = (1 − ᾱ_(n−1))/(1 − ᾱ_n)·β_n. "
    "ᾱ_n is the product of a_1..a_n and ᾱ_0 = 1; betas[n − 1] is β_n and z[n − 1] the draw of step n.",
    "alpha_bar = torch.cat([torch.ones(1), torch.cumprod(1 − betas, 0)]); for n in range(T, 0, −1): eps = "
    "eps_model(x, n); x = (x − betas[n−1]/(1 − alpha_bar[n]).sqrt()·eps)/(1 − betas[n−1]).sqrt() + "
    "((1 − alpha_bar[n−1])/(1 − alpha_bar[n])·betas[n−1]).sqrt()·z[n−1].",
])


def check_ddpm_sample(fn) -> None:
    """Grade ``ddpm_sample(x_T, betas, eps_model, z)`` (chapter 04's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 04's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 04's Think questions
    Question("Ho et al. found σ_n² = β_n and σ_n² = β̃_n give similar samples at T = 1000. At which steps do the two "
             "choices differ most?",
             choices=("The first steps (small n), where β̃_n ≪ β_n", "The last steps (n near T), where ᾱ_n ≈ 0",
                      "Equally everywhere"), answer=0,
             explanation="β̃_n/β_n = (1 − ᾱ_(n−1))/(1 − ᾱ_n) is close to 1 once ᾱ_n ≈ 0, but at n = 1 it is 0 and at "
                         "small n well below 1: the choices differ only near data (see the schedule figure)."),
    Question("An ancestral sampler with T = 100 steps calls the network how many times per sample?",
             answer=100.0, tolerance=0.001,
             explanation="One call per step n = T, …, 1 — at n = 1 too, where the step returns the mean x̂₀(x_1) "
                         "without noise."),
    Question("You sample with the exact denoiser, but the chain's ᾱ_T is 0.5 instead of ≈ 0 (T too small). What goes "
             "wrong?",
             choices=("Nothing: an exact denoiser fixes everything",
                      "x_T ~ N(0, I) is not distributed like q(x_T): the samples inherit the mismatch",
                      "The posterior variance becomes negative"), answer=1,
             explanation="The reverse chain is only exact when started from q(x_T). The prior term L_T of the ELBO "
                         "measures this mismatch; the Play panel shows it with T = 10."),
)

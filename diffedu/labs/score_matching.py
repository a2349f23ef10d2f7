r"""Lab of chapter 06: annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) with the exact mixture score.

The student writes ``annealed_langevin(x, score, sigma_max, sigma_min, tau, z)``: the geometric ladder of L = ``len(z)``
noise levels from $\sigma_1 = \sigma_{max}$ down to $\sigma_L = \sigma_{min}$, and at each level $\sigma_i$ K =
``z.shape[1]`` Langevin steps $x \leftarrow x + \tau_i\,s(x, \sigma_i) + \sqrt{2\tau_i}\,z_{i,k}$ with the step
$\tau_i = \tau\,\sigma_i^2$ (τ is the step relative to the level's variance), ``score(x, sigma)`` the score of
$p(x;\sigma)$, the data convolved with $\mathcal N(0, \sigma^2 I)$.

Graded against the package's ``course.langevin.annealed_langevin`` with the same draws (exact), by the sliced
Wasserstein distance of the samples to exact samples of $p(x;\sigma_{min})$ (against the exact-vs-exact floor), and
by the mode weights of a two-mode mixture, which plain Langevin gets wrong.

``ANSWERS`` names the package functions that would earn a part if a student called them: the package's annealed
Langevin (it draws its own noise, but its samples pass the statistical parts) and the plain Langevin loop it runs.
"""
from __future__ import annotations

import math

import torch

from ..course.langevin import annealed_langevin, mode_fraction, sigma_ladder, two_mode_mixture
from ..metrics import sliced_wasserstein
from ..processes import EDM
from ..toys import gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_annealed_langevin", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("annealed_langevin", "langevin")

_EDM = EDM()
WEIGHT_TOL = 0.06  # the mode-weight part's tolerance: 13 binomial SE at 8000 chains, after the sampler's bias (≈ −0.02)


def _score(gmm):
    """The exact score of $p(x;\\sigma)$ as the student sees it: ``score(x, sigma)``."""
    return lambda x, sigma: gmm.score(x, sigma, _EDM)


def _package(x, gmm, sigma_max, sigma_min, tau, z_shape, seed):
    """The package's annealed Langevin; its step at σ_min is τ·σ_min², its draws come from ``Generator(seed)``."""
    sigmas = sigma_ladder(sigma_max, sigma_min, z_shape[0])
    generator = torch.Generator().manual_seed(seed)
    return annealed_langevin(x, _score(gmm), sigmas, tau * sigma_min**2, z_shape[1], generator)


def _draws(shape, seed: int):
    """The package's draws from ``Generator(seed)``: one (N, D) tensor per step, level after level."""
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.randn(shape[2:], generator=generator, dtype=torch.float64) for _ in range(shape[0] * shape[1])]
    return torch.stack(draws).reshape(shape)


def _mistake(x, gmm, sigma_max, sigma_min, tau, z, *, ladder="geometric", power=2, noise=2.0, drift=1.0, level="i"):
    """Annealed Langevin with one typical mistake made on purpose (the keyword that is not at its default)."""
    L = z.shape[0]
    sigmas = {"geometric": sigma_ladder(sigma_max, sigma_min, L), "linear": torch.linspace(sigma_max, sigma_min, L),
              "reversed": sigma_ladder(sigma_max, sigma_min, L).flip(0)}[ladder].tolist()
    for i, sigma in enumerate(sigmas):
        tau_i = tau * sigma**power
        at = {"i": sigma, "last": sigmas[-1], "next": sigmas[min(i + 1, L - 1)]}[level]
        for k in range(z.shape[1]):
            x = x + drift * tau_i * gmm.score(x, at, _EDM) + math.sqrt(noise * tau_i) * z[i, k]
    return x


def _exact(fn) -> Verdict:
    """Exact: 16 chains, 4 levels from σ = 3 to 0.2, 3 steps each, τ = 0.1, against the package with the same draws."""
    gmm, shape, (sigma_max, sigma_min, tau) = gmm_2d(), (4, 3, 16, 2), (3.0, 0.2, 0.1)
    x = 3.0 * torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = _draws(shape, seed=2)
    got = call(fn, x.clone(), _score(gmm), sigma_max, sigma_min, tau, z.clone())
    want = _package(x, gmm, sigma_max, sigma_min, tau, shape, seed=2)
    if close(got, want, rtol=1e-8, atol=1e-8):
        return Verdict(True, "equals the package's annealed Langevin with the same draws to 1e-8")
    wrong = lambda **kw: _mistake(x, gmm, sigma_max, sigma_min, tau, z, **kw)  # noqa: E731
    mistakes = [(wrong(noise=1.0), "the noise of a Langevin step is √(2τ_i)·z, not √τ_i·z: the factor 2 makes p "
                                   "the stationary law of x + τ∇log p + noise"),
                (wrong(drift=0.5), "this course writes the step x + τ_i·s + √(2τ_i)·z (NCSN's α_i/2·s + √α_i·z is the "
                                   "same with α_i = 2τ_i): drop the ½ in front of the score"),
                (wrong(power=0), "scale the step to the level: τ_i = τ·σ_i², not τ — a big σ needs big steps"),
                (wrong(power=1), "the step is τ·σ_i² (a variance), not τ·σ_i"),
                (wrong(ladder="linear"), "the ladder is geometric: σ_i = σ_max·(σ_min/σ_max)^(i/(L−1)), equal ratios, "
                                         "not equal differences"),
                (wrong(ladder="reversed"), "anneal from the largest σ down to the smallest: σ_1 = σ_max, σ_L = σ_min"),
                (wrong(level="last"), "at level i use the score of p(x; σ_i), the level you are at — not σ_min"),
                (x + 0 * want, "your loop never changed x: update x inside the loop and return it")]
    return Verdict(False, "differs from the package's annealed Langevin",
                   diagnose(got, mistakes, "for each level i and step k: x ← x + τ_i·score(x, σ_i) + √(2τ_i)·z[i, k]"))


def _mixture(fn) -> Verdict:
    """Monte Carlo: 2000 chains from N(0, 5²I), 10 levels from σ = 5 to 0.1, 20 steps, τ = 0.2; SW₂ to 2000 exact
    samples of p(x; 0.1) must stay below the exact-vs-exact floor (8 fresh sets) + 4 sd + 0.02 for Langevin's bias."""
    gmm, n, sigma_min = gmm_2d(), 2000, 0.1
    g = torch.Generator().manual_seed(3)
    x = 5.0 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    z = torch.randn(10, 20, n, 2, generator=g, dtype=torch.float64)
    got = call(fn, x, _score(gmm), 5.0, sigma_min, 0.2, z)
    got = expect(got, x.shape, f"return the final state, shape {tuple(x.shape)} like x")
    ref = gmm.sample(n, sigma_min, _EDM, generator=g)
    sw = lambda a: sliced_wasserstein(a.double(), ref, generator=torch.Generator().manual_seed(7)).item()  # noqa: E731
    floors = torch.tensor([sw(gmm.sample(n, sigma_min, _EDM, generator=g)) for _ in range(8)])
    limit = (floors.mean() + 4 * floors.std()).item() + 0.02
    value = sw(got) if bool(torch.isfinite(got).all()) else math.inf
    return Verdict(value <= limit, f"SW₂ = {value:.3f} (floor {floors.mean().item():.3f}, limit {limit:.3f})",
                   "the samples are far from the mixture: the step at level i is τ·σ_i², the noise √(2τ_i)·z, the "
                   "score that of p(x; σ_i), and the ladder runs down from σ_max")


def _weights(fn) -> Verdict:
    """Monte Carlo: two modes with weights 0.8 / 0.2, 8000 chains from uniform on [−5, 5]², 10 levels from σ = 4 to
    0.05, 30 steps, τ = 0.3: the left-mode share within WEIGHT_TOL of 0.8. The binomial SE is 0.0045; the finite-step
    bias of the reference is about −0.02 (shares 0.772–0.790 over seeds, with 30–200 steps and 10–20 levels), so a
    correct sampler sits at least 7 SE inside, and the mistakes that change the weights land at least 0.12 away (0.92
    with √τ noise, 0.66 with a halved drift, 0.54 without the σ² step scaling, 0.64 on a reversed ladder)."""
    gmm, n = two_mode_mixture(), 8000
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(n, 2, generator=g, dtype=torch.float64) - 0.5) * 10
    z = torch.randn(10, 30, n, 2, generator=g, dtype=torch.float64)
    got = call(fn, x, _score(gmm), 4.0, 0.05, 0.3, z)
    got = expect(got, x.shape, f"return the final state, shape {tuple(x.shape)} like x")
    share = mode_fraction(got)
    if abs(share - 0.5) < 0.1:
        why = ("the chains keep the start's 50/50 split: at the large σ of the first levels the modes merge and chains "
               "move between them — start at σ_max and use the score of each level")
    elif share > 0.8:
        why = "too many chains in the heavy mode: the walk is too cold — is the noise √(2τ_i)·z?"
    else:
        why = "the weights are off: check the ladder (σ_max down to σ_min), the step τ·σ_i² and the noise √(2τ_i)·z"
    return Verdict(abs(share - 0.8) < WEIGHT_TOL, f"left-mode share {share:.3f} (true 0.8)", why)


LAB = Lab("06 · annealed Langevin dynamics", [
    Part("one run with the given draws", 5, "equal to the package to 1e-8", _exact),
    Part("samples of the mixture", 3, "SW₂ ≤ floor + 4 sd + 0.02", _mixture),
    Part("mode weights 0.8 / 0.2", 2, f"left share within {WEIGHT_TOL} of 0.8 (8000 chains)", _weights),
], hints=[
    "Two loops: over the noise levels, from the largest to the smallest, and inside it over the Langevin steps at "
    "that level. Each step moves x up the score of the current level and adds fresh noise.",
    "The ladder is geometric (torch.logspace, or σ_max·(σ_min/σ_max)^(i/(L−1))). At level σ_i the step is "
    "τ_i = τ·σ_i², and a Langevin step is x ← x + τ_i·score(x, σ_i) + √(2τ_i)·z[i, k].",
    "L, K = z.shape[0], z.shape[1]; sigmas = torch.logspace(math.log10(sigma_max), math.log10(sigma_min), L); for i "
    "in range(L): tau_i = tau * sigmas[i]**2; for k in range(K): x = x + tau_i * score(x, sigmas[i]) + "
    "(2 * tau_i).sqrt() * z[i, k].",
])


def check_annealed_langevin(fn) -> None:
    """Grade ``annealed_langevin(x, score, sigma_max, sigma_min, tau, z)`` (chapter 06's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 06's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 06's Think questions
    Question("A network ε̂ trained with DDPM's ε-loss reaches a loss of 0.5 at σ = 0.1. Its score is ŝ = −ε̂/σ. What "
             "is its denoising score matching loss E‖ŝ + ε/σ‖² at that σ?", answer=50.0, tolerance=0.02,
             explanation="ŝ + ε/σ = (ε − ε̂)/σ, so L_DSM = E‖ε − ε̂‖²/σ² = 0.5/0.01 = 50: DSM is the ε-loss divided by "
                         "σ². Same minimiser, a different weight per noise level."),
    Question("Plain Langevin with the EXACT score of two well separated modes (weights 0.8 / 0.2), 1000 chains started "
             "half in each basin. After many steps of small size, what share sits in the heavy mode?",
             choices=("About 0.8: Langevin samples p", "About 0.5: each chain stays in its basin",
                      "About 1: the chains climb to the highest peak"), answer=1,
             explanation="Inside a basin the score is that of the mode alone, whatever its weight; crossing the empty "
                         "gap takes exponentially long. The weights come from the start — annealing fixes that by "
                         "mixing at large σ, where the modes overlap."),
    Question("In annealed Langevin you keep τ_i = τ (no σ_i² factor) with the τ that suits the smallest level. What "
             "goes wrong at the largest levels?",
             choices=("Nothing: the score adapts", "The chains barely move: steps far smaller than the level's width",
                      "The chains explode"), answer=1,
             explanation="At level σ the law has width ≈ σ, and a step of size τ moves x by about √(2τ) ≪ σ: the "
                         "chains need ~σ²/τ steps to mix. Scaling τ_i ∝ σ_i² keeps the mixing time per level fixed."),
)

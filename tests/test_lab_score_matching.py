"""Chapter 06's lab (``diffedu.labs.score_matching``): annealed Langevin dynamics, graded part by part.

Oracles: the package's ``course.langevin.annealed_langevin`` run with the same draws (exact), the sliced Wasserstein
distance to exact samples of p(x; σ_min) against the exact-vs-exact floor (Monte Carlo), and the 0.8 / 0.2 mode
weights of a two-mode mixture; each typical mistake is made on purpose here and must get its own hint.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.labs import score_matching as lab


def make(*, ladder="geometric", power=2, noise=2.0, drift=1.0, level="i"):
    """Annealed Langevin written as a student would, with one mistake where a keyword says so."""
    def annealed_langevin(x, score, sigma_max, sigma_min, tau, z):
        L, K = z.shape[0], z.shape[1]
        sigmas = torch.logspace(math.log10(sigma_max), math.log10(sigma_min), L, dtype=torch.float64)
        sigmas = {"geometric": sigmas, "linear": torch.linspace(sigma_max, sigma_min, L, dtype=torch.float64),
                  "reversed": sigmas.flip(0)}[ladder]
        for i in range(L):
            tau_i = tau * sigmas[i] ** power
            at = sigmas[-1] if level == "last" else sigmas[i]
            for k in range(K):
                x = x + drift * tau_i * score(x, at) + (noise * tau_i).sqrt() * z[i, k]
        return x
    return annealed_langevin


def vectorised_float32(x, score, sigma_max, sigma_min, tau, z):
    """A second correct implementation: float32 state, the ladder as σ_max·r^i with r = (σ_min/σ_max)^(1/(L−1)),
    Python floats for the step sizes."""
    L, K = z.shape[:2]
    r = (sigma_min / sigma_max) ** (1 / (L - 1))
    x = x.float()
    for i in range(L):
        sigma = sigma_max * r**i
        tau_i = tau * sigma * sigma
        for k in range(K):
            x = x + tau_i * score(x.double(), sigma).float() + math.sqrt(2 * tau_i) * z[i, k].float()
    return x


def test_a_float32_implementation_written_differently_gets_full_marks():
    """Oracle: as above; float32 is held to float32's precision by grading.close."""
    score = lab.LAB.grade(vectorised_float32)
    assert score.full_marks, score


@pytest.mark.parametrize("mistake, words", [
    (dict(noise=1.0), "√(2τ_i)·z, not √τ_i·z"),
    (dict(drift=0.5), "drop the ½"),
    (dict(power=0), "τ_i = τ·σ_i², not τ"),
    (dict(power=1), "not τ·σ_i"),
    (dict(ladder="linear"), "geometric"),
    (dict(ladder="reversed"), "from the largest σ down"),
    (dict(level="last"), "the level you are at"),
])
def test_each_typical_mistake_gets_its_own_hint(mistake, words):
    """Oracle: the mistake made on purpose; the exact part fails with the named hint."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[0]["points"] == 0 and words in score.parts[0]["hint"], score


def test_plain_langevin_misses_the_mode_weights():
    """Oracle: the two-mode mixture's true weight 0.8; chains that never anneal keep the start's 50/50 split."""
    def plain(x, score, sigma_max, sigma_min, tau, z):
        for i in range(z.shape[0]):
            for k in range(z.shape[1]):
                x = x + tau * sigma_min**2 * score(x, sigma_min) + math.sqrt(2 * tau) * sigma_min * z[i, k]
        return x

    score = lab.LAB.grade(plain)
    assert score.parts[2]["points"] == 0 and "50/50" in score.parts[2]["hint"]


@pytest.mark.parametrize("mistake", [dict(noise=1.0), dict(drift=0.5), dict(power=0), dict(ladder="reversed"),
                                     dict(level="last")], ids=["sqrt-tau-noise", "half-drift", "no-sigma2", "reversed",
                                                               "last-level"])
def test_the_mode_weight_part_fails_the_mistakes_that_change_the_weights(mistake):
    """Oracle: the true weight 0.8 with the stated tolerance (lab.WEIGHT_TOL); these mistakes put the share at least
    0.12 away (measured: 0.92, 0.66, 0.54, 0.64, 0.00), while the solution sits about 0.02 below 0.8."""
    assert not lab._weights(make(**mistake)).passed
    assert lab._weights(make()).passed


def test_an_exception_inside_the_function_becomes_a_hint():
    """Oracle: grading.explain's meaning of an index error; no traceback escapes."""
    def broken(x, score, sigma_max, sigma_min, tau, z):
        return z[z.shape[0]]

    score = lab.LAB.grade(broken)
    assert score.points == 0 and "off-by-one" in score.parts[0]["hint"]

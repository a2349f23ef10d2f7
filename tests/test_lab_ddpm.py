"""Chapter 04's lab: DDPM's ancestral sampler, graded against the exact recursion with the grader's draws.

Oracle: the closed-form posterior q(x_(n−1) | x_n, x̂_0) step by step with the same draws (1e-8), the steps at which
the network is called, and with the mixture's exact ε the SW₂ and component shares of exact mixture samples.
"""
from __future__ import annotations

import torch

from diffedu.labs.ddpm import ANSWERS, LAB, _reference


def ddpm_sample_x0_form(x_T, betas, eps_model, z):
    """A second correct solution: x̂₀ from ε̂, then the posterior mean μ̃(x_n, x̂₀) as a product of a_i, in float32."""
    x, T = x_T.float(), len(betas)
    for n in range(T, 0, -1):
        a = 1 - betas.float()
        ab_n, ab_prev = torch.prod(a[:n]), torch.prod(a[:n - 1])
        eps = eps_model(x.double(), n).float()
        x0_hat = (x - (1 - ab_n).sqrt() * eps) / ab_n.sqrt()
        mean = ab_prev.sqrt() * betas[n - 1] / (1 - ab_n) * x0_hat + a[n - 1].sqrt() * (1 - ab_prev) / (1 - ab_n) * x
        var = (1 - ab_prev) / (1 - ab_n) * betas[n - 1]
        x = mean + var.sqrt() * z[n - 1].float() if n > 1 else mean
    return x


def test_a_second_correct_solution_gets_full_marks():
    """Oracle: the exact recursion (float32 held to its own precision), the call steps and the mixture's samples, for
    the step written through x̂₀ (the chapter's ε form is graded by tests/test_lab_common.py)."""
    assert LAB.grade(ddpm_sample_x0_form).full_marks


def test_each_typical_mistake_gets_its_own_hint():
    """Oracle: the recursion with the mistake made on purpose; the exact part names it."""
    for mistake, words in [("alpha_bar", "not by √ᾱ_n"), ("no_sqrt", "is a standard deviation"),
                           ("beta", "not β_n"), ("beta_all", "no noise on the last step"),
                           ("std", "β̃_n is a variance")]:
        score = LAB.grade(lambda *a, m=mistake: _reference(*a, mistake=m))
        assert not score.full_marks and words in score.parts[1]["hint"], (mistake, score)


def test_off_by_one_in_n_is_named():
    """Oracle: the network asked at n − 1 (n = T−1, …, 0): the call part says so, the others explain the IndexError."""
    score = LAB.grade(lambda x_T, betas, eps_model, z: _reference(x_T, betas, lambda x, n: eps_model(x, n - 1), z))
    assert score.points == 0 and "off by one" in score.parts[0]["hint"]
    assert "index out of range" in score.parts[1]["hint"]


def test_an_error_inside_the_function_becomes_a_hint():
    """Oracle: a shape error raised inside the student's function is caught and explained, not raised."""
    score = LAB.grade(lambda x_T, betas, eps_model, z: x_T + z)
    assert score.points == 0 and "shape" in score.parts[1]["hint"]


def test_answers_are_declared():
    assert ANSWERS == ()

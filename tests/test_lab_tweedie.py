"""Chapter 02's lab: the exact posterior mean of a Gaussian mixture, graded against the closed form.

Oracle: ``GaussianMixture.denoiser`` (closed form) and a Monte Carlo posterior mean, through ``LAB.grade``; the
typical mistakes are made on purpose and must each get their own hint.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.labs.tweedie import ANSWERS, LAB, _reference


def posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs):
    """The instructor's solution (vectorised, float64, linear solve)."""
    C = alpha_t**2 * covs + sigma_t**2 * torch.eye(x_t.shape[1], dtype=covs.dtype)
    diff = x_t[:, None, :] - alpha_t * means
    sol = torch.linalg.solve(C, diff[..., None])[..., 0]
    r = torch.softmax(torch.log(weights) - 0.5 * ((diff * sol).sum(-1) + torch.logdet(C)), -1)
    return (r[..., None] * (means + alpha_t * (covs @ sol[..., None])[..., 0])).sum(1)


def posterior_mean_looped(x_t, alpha_t, sigma_t, weights, means, covs):
    """A second correct solution: a loop over components, explicit inverse, float32 arithmetic, logsumexp by hand."""
    x = x_t.float()
    eye = torch.eye(x.shape[1])
    logs, ms = [], []
    for w, mu, cov in zip(weights.float(), means.float(), covs.float()):
        C_inv = torch.inverse(alpha_t**2 * cov + sigma_t**2 * eye)
        d = x - alpha_t * mu
        maha = ((d @ C_inv) * d).sum(1)
        logs.append(math.log(w) - 0.5 * maha + 0.5 * torch.logdet(C_inv) - x.shape[1] / 2 * math.log(2 * math.pi))
        ms.append(mu + alpha_t * d @ C_inv @ cov)
    L = torch.stack(logs, 1)
    r = torch.exp(L - L.max(1, keepdim=True).values)
    r = r / r.sum(1, keepdim=True)
    return sum(r[:, k:k + 1] * ms[k] for k in range(len(ms)))


@pytest.mark.parametrize("fn", [posterior_mean, posterior_mean_looped], ids=["vectorised-float64", "looped-float32"])
def test_correct_solutions_get_full_marks(fn):
    """Oracle: the closed form of GaussianMixture.denoiser (1e-8, float32 held to its own precision) and Monte Carlo."""
    score = LAB.grade(fn)
    assert score.full_marks, score


@pytest.mark.parametrize("mistake, words", [
    ("alpha", "scales with α², not α"), ("sigma", "σ is a standard deviation"),
    ("unnormalised", "must sum to 1"), ("prior", "by π_k alone"), ("no_alpha", "the gain has a factor α")])
def test_each_typical_mistake_gets_its_own_hint(mistake, words):
    """Oracle: the reference with the mistake made on purpose; the part on the mixture names it."""
    score = LAB.grade(lambda *a: _reference(*a, mistake=mistake))
    assert not score.full_marks and words in score.parts[1]["hint"]


def test_tweedie_with_the_wrong_sign_is_named():
    """Oracle: Tweedie with −σ²·score, built from the exact score."""
    def wrong(x_t, alpha_t, sigma_t, weights, means, covs):
        x0 = posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs)
        score = (alpha_t * x0 - x_t) / sigma_t**2
        return (x_t - sigma_t**2 * score) / alpha_t
    assert "check its sign" in LAB.grade(wrong).parts[1]["hint"]


def test_exp_without_logs_fails_only_far_from_the_data():
    """Oracle: responsibilities by exp() then division: right near the data, nan where every term underflows."""
    def naive(x_t, alpha_t, sigma_t, weights, means, covs):
        C = alpha_t**2 * covs + sigma_t**2 * torch.eye(2, dtype=covs.dtype)
        diff = x_t[:, None, :] - alpha_t * means
        sol = torch.linalg.solve(C, diff[..., None])[..., 0]
        joint = weights * torch.exp(-0.5 * (diff * sol).sum(-1)) / torch.det(C).sqrt() / (2 * math.pi)
        r = joint / joint.sum(1, keepdim=True)
        return (r[..., None] * (means + alpha_t * (covs @ sol[..., None])[..., 0])).sum(1)
    score = LAB.grade(naive)
    assert [p["points"] == p["out_of"] for p in score.parts] == [True, True, False, True]
    assert "log space" in score.parts[2]["hint"]


def test_an_error_inside_the_function_becomes_a_hint():
    """Oracle: a shape error raised inside the student's function is caught and explained, not raised."""
    score = LAB.grade(lambda x_t, a, s, w, m, c: x_t + m)  # (N, D) + (K, D): fails on the six-component mixture
    assert score.points == 0 and "shapes of two tensors" in score.parts[1]["hint"]


def test_answers_name_the_package_denoiser():
    assert "GaussianMixture.denoiser" in ANSWERS

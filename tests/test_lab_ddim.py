"""Chapter 05's lab (``diffedu.labs.ddim``): the DDIM sampler with η, and inversion, graded part by part.

Oracles: the package's ``integrators.ddim_step`` run with the same draws (the grader's own reference), the η = 0
update run forward on an increasing grid, and the round trip data → code → data; each typical mistake is made on
purpose here and must get its own hint.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.labs import ddim as lab


def make(*, c_form="right", direction="right", at="t", eps_at="t", guard=True):
    """A DDIM loop written as a student would, with one mistake where a keyword says so."""
    def ddim_sample(x, ts, x0_hat, process, eta, z):
        for k in range(len(ts) - 1):
            t, s = ts[k], ts[k + 1]
            alpha_t, sigma_t, alpha_s, sigma_s = process.alpha(t), process.sigma(t), process.alpha(s), process.sigma(s)
            x0 = x0_hat(x, s if at == "s" else t)
            eps = (x - (alpha_s if eps_at == "s" else alpha_t) * x0) / (sigma_s if eps_at == "s" else sigma_t)
            root = (1 - (alpha_t * sigma_s / (alpha_s * sigma_t)) ** 2).sqrt()
            c = {"right": eta * sigma_s * root, "no_factor": eta * sigma_s, "variance": (eta * sigma_s * root) ** 2,
                 "inverted": eta * sigma_s * (1 - (alpha_s * sigma_t / (alpha_t * sigma_s)) ** 2).sqrt()}[c_form]
            if guard and eta == 0:
                c = 0.0
            weight = sigma_s if direction == "sigma_s" else (sigma_s**2 - c**2).sqrt()
            x = alpha_s * x0 + weight * eps + c * z[k]
        return x
    return ddim_sample


def lambda_form(x, ts, x0_hat, process, eta, z):
    """A second correct implementation: float32, per step through the log-SNR (c² = η²σ_s²(1 − e^{λ_t − λ_s})) and
    DPM-Solver's form of the deterministic part, x_s = (σ'_s/σ_t)·x + (α_s − α_t σ'_s/σ_t)·x̂₀, σ'_s = √(σ_s² − c²)."""
    x = x.float()
    for k in range(len(ts) - 1):
        t, s = float(ts[k]), float(ts[k + 1])
        alpha_t, sigma_t, alpha_s, sigma_s = (float(v) for v in (process.alpha(t), process.sigma(t),
                                                                  process.alpha(s), process.sigma(s)))
        x0 = x0_hat(x.double(), ts[k]).float()
        c2 = 0.0
        if eta > 0 and sigma_s > 0:
            lam_t, lam_s = 2 * math.log(alpha_t / sigma_t), 2 * math.log(alpha_s / sigma_s)
            c2 = eta**2 * sigma_s**2 * -math.expm1(lam_t - lam_s)
        sig = math.sqrt(max(sigma_s**2 - c2, 0.0))
        x = sig / sigma_t * x + (alpha_s - alpha_t * sig / sigma_t) * x0 + math.sqrt(c2) * z[k].float()
    return x


def test_a_float32_log_snr_implementation_gets_full_marks():
    """Oracle: as above; an equivalent formula in float32 (held to float32's precision by grading.close)."""
    score = lab.LAB.grade(lambda_form)
    assert score.full_marks, score


@pytest.mark.parametrize("mistake, part, words", [
    (dict(c_form="no_factor"), 1, "c is not η·σ_s"),
    (dict(c_form="variance"), 1, "standard deviation"),
    (dict(direction="sigma_s"), 1, "√(σ_s² − c²)"),
    (dict(at="s"), 0, "not at the next time s"),
    (dict(eps_at="s"), 0, "ε̂ divides by σ_t"),
    (dict(guard=False), 2, "NaN on an increasing grid"),
    (dict(c_form="inverted"), 1, "upside down"),
])
def test_each_typical_mistake_gets_its_own_hint(mistake, part, words):
    """Oracle: the mistake made on purpose in a student-style loop; its part fails with the named hint."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[part]["points"] == 0 and words in score.parts[part]["hint"], score


def test_an_exception_inside_the_function_becomes_a_hint():
    """Oracle: grading.explain's meaning of a shape error; no traceback escapes."""
    def broken(x, ts, x0_hat, process, eta, z):
        return x + torch.zeros(3, 5)

    score = lab.LAB.grade(broken)
    assert score.points == 0 and "shapes" in score.parts[0]["hint"]


def test_the_chapter_s_route_around_the_lab_computes_what_it_says():
    """Oracles for the course functions chapter 05 uses above its lab: ``ddim_paths`` ends where the package's
    ``ddim`` ends from the same start; ``ddim_ddpm_gap`` is round-off (DDIM at η = 1 is the DDPM posterior draw);
    ``ddim_vs_ddpm_images`` with a denoiser answering 0 returns 0 (the last step to σ = 0 returns x̂₀)."""
    from types import SimpleNamespace

    from diffedu import DiscreteDDPM
    from diffedu.course.elbo import ddim_ddpm_gap, ddim_paths, ddim_vs_ddpm_images
    from diffedu.integrators import ddim
    from diffedu.timers import uniform

    process = DiscreteDDPM(1000)
    out = ddim_paths((0.0,), n_steps=5, n_samples=50)
    want = ddim(out["x_T"], uniform(process, 5), lab._GMM.predictor(process), process)
    assert out["paths"][0.0].shape == (6, 50, 2) and torch.equal(out["paths"][0.0][0], out["x_T"])
    assert torch.allclose(out["paths"][0.0][-1], want, rtol=0, atol=1e-12)
    assert ddim_ddpm_gap(300.0, 200.0, n=64) < 1e-12
    model = SimpleNamespace(process=process, predictor=lambda x, t, kind="x0", **cond: torch.zeros_like(x))
    images = ddim_vs_ddpm_images(model, [3], n_img=2)
    assert set(images) == {("DDIM", 3), ("DDPM", 3)} and all(bool((v == 0).all()) for v in images.values())

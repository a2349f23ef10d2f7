"""Chapter 07's lab (``diffedu.labs.sdes``): the predictor–corrector sampler, graded part by part.

Oracles: the package's ``integrators.predictor_corrector`` run with the same draws on VP and VE (exact), and the
calls of the score counted by the grader (2 per step); each typical mistake is made on purpose here and must get its
own hint.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.labs import sdes as lab


def make(*, step=2.0, noise=2.0, norms="batch", sign=1.0, g_power=2, em_noise="sqrt", dt_sign=1.0, order="cp",
         reuse=False, report=None):
    """Predictor–corrector written as a student would, with one mistake where a keyword says so."""
    def pc_sample(x, ts, score, process, snr, z):
        nfe, s = 0, None
        for k in range(len(ts) - 1):
            t, dt = ts[k], ts[k + 1] - ts[k]
            for part in order:
                if part == "c":
                    s = score(x, t)
                    nfe += 1
                    zn, sn = z[k, 0].norm(dim=1), s.norm(dim=1)
                    ratio = zn.mean() / sn.mean() if norms == "batch" else (zn / sn)[:, None]
                    tau = step * (snr * ratio) ** 2
                    x = x + tau * s + (noise * tau).sqrt() * z[k, 0]
                else:
                    if not (reuse and s is not None):
                        s = score(x, t)
                        nfe += 1
                    g2 = process.g2(t)
                    g_term = g2 if g_power == 2 else g2.sqrt()
                    scale = (g2 * -dt).sqrt() if em_noise == "sqrt" else g2.sqrt() * -dt
                    x = x + (process.f(t) * x - sign * g_term * s) * (dt_sign * dt) + scale * z[k, 1]
                    s = None
        return x, (nfe if report is None else report)
    return pc_sample


def in_x0_form_float32(x, ts, score, process, snr, z):
    """A second correct implementation: float32, Python-float coefficients, the predictor through Tweedie's
    x̂₀ = (x + σ²s)/α and the drift written as α̇x̂₀ + σ̇ε̂ + g²ε̂/(2σ) with ε̂ = −σs (the package's form)."""
    x, nfe = x.float(), 0
    for k in range(len(ts) - 1):
        t, t_next = float(ts[k]), float(ts[k + 1])
        s = score(x.double(), ts[k]).float()
        nfe += 1
        eps_size = 2 * (snr * z[k, 0].float().norm(dim=1).mean() / s.norm(dim=1).mean()) ** 2
        x = x + eps_size * s + (2 * eps_size).sqrt() * z[k, 0].float()
        s = score(x.double(), ts[k]).float()
        nfe += 1
        alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.at(t)
        g2 = float(process.g2(ts[k]))
        eps_hat = -sigma_t * s
        x0_hat = (x - sigma_t * eps_hat) / alpha_t
        drift = d_alpha_t * x0_hat + d_sigma_t * eps_hat + 0.5 * g2 / sigma_t * eps_hat
        x = x + drift * (t_next - t) + math.sqrt(g2 * (t - t_next)) * z[k, 1].float()
    return x, nfe


def test_a_float32_x0_form_implementation_gets_full_marks():
    """Oracle: as above; float32 is held to float32's precision by grading.close."""
    score = lab.LAB.grade(in_x0_form_float32)
    assert score.full_marks, score


@pytest.mark.parametrize("mistake, words", [
    (dict(sign=-1.0), "enters with a minus"),
    (dict(dt_sign=-1.0), "Δt = t_{k+1} − t_k is negative"),
    (dict(g_power=1), "not by g"),
    (dict(em_noise="linear"), "g·√|Δt|, not g·|Δt|"),
    (dict(step=1.0), "τ = 2·(r·‖z‖/‖s‖)²"),
    (dict(noise=1.0), "√(2τ)·z, not √τ·z"),
    (dict(norms="sample"), "average the norms over the batch"),
    (dict(order="pc"), "correct first, then predict"),
])
def test_each_typical_mistake_gets_its_own_hint(mistake, words):
    """Oracle: the mistake made on purpose; the VP part fails with the named hint."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[0]["points"] == 0 and words in score.parts[0]["hint"], score


@pytest.mark.parametrize("mistake, words", [
    (dict(reuse=True), "evaluate the score again"),
    (dict(report=10), "count one evaluation for every call"),
])
def test_a_wrong_nfe_gets_its_own_hint(mistake, words):
    """Oracle: the grader's own count of score calls, 2 per step."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[2]["points"] == 0 and words in score.parts[2]["hint"], score


def test_returning_x_alone_is_explained():
    """Oracle: the lab's contract, (x, nfe)."""
    score = lab.LAB.grade(lambda x, ts, score, process, snr, z: x)
    assert score.points == 0 and "return x, nfe" in score.parts[0]["hint"]


def test_an_exception_inside_the_function_becomes_a_hint():
    """Oracle: grading.explain's meaning of a shape error; no traceback escapes."""
    def broken(x, ts, score, process, snr, z):
        return x @ torch.ones(3, 3, dtype=x.dtype), 0

    score = lab.LAB.grade(broken)
    assert score.points == 0 and "shapes" in score.parts[0]["hint"]


def test_answers_is_empty_and_the_package_sampler_does_not_pass():
    """Oracle: the package's predictor_corrector draws its own noise and returns x alone: it earns no part."""
    from diffedu.integrators import predictor_corrector

    def calls_the_package(x, ts, score, process, snr, z):
        predictor = lab._GMM.predictor(process)
        return predictor_corrector(x, ts, predictor, process, snr=snr), 2 * (len(ts) - 1)

    assert lab.ANSWERS == () and lab.LAB.grade(calls_the_package).parts[0]["points"] == 0

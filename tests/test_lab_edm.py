"""Chapter 09's lab (diffedu.labs.edm): EDM's sampler around a raw network — Table 1's preconditioning and
Algorithm 1 — graded against the package's ``heun`` on the ``karras`` grid with the exact mixture denoiser (exact),
against ``edm_preconditioning`` with an arbitrary network (exact), and by counting the evaluations (2N − 1)."""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.integrators import heun
from diffedu.labs import edm as lab
from diffedu.processes import EDM
from diffedu.timers import karras


def solution(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
    """The chapter's instructor solution (vectorised grid, tensors)."""
    def D(x, sigma):
        s = sigma**2 + sigma_data**2
        c_skip, c_out, c_in, c_noise = sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt(), sigma.log() / 4
        return c_skip * x + c_out * F(c_in * x, c_noise)

    i = torch.arange(n_steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + i / (n_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    sigmas = torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])
    x = sigmas[0] * z
    for k in range(n_steps):
        sigma, sigma_next = sigmas[k], sigmas[k + 1]
        d_cur = (x - D(x, sigma)) / sigma
        x_next = x + (sigma_next - sigma) * d_cur
        if sigma_next > 0:
            d_prime = (x_next - D(x_next, sigma_next)) / sigma_next
            x_next = x + (sigma_next - sigma) * 0.5 * (d_cur + d_prime)
        x = x_next
    return x


def written_differently(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
    """A second correct implementation: a Python list of float levels built in a loop, math instead of torch for the
    coefficients, c_noise passed as one value per sample, Heun written as a predictor-corrector on the slope."""
    levels = []
    for i in range(n_steps):
        a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
        levels.append((a + i * (b - a) / (n_steps - 1)) ** rho)
    levels.append(0.0)

    def slope(x, sigma):
        s = sigma * sigma + sigma_data * sigma_data
        c_noise = torch.full((x.shape[0],), 0.25 * math.log(sigma), dtype=x.dtype)
        D = sigma_data**2 / s * x + sigma * sigma_data / math.sqrt(s) * F(x / math.sqrt(s), c_noise)
        return (x - D) / sigma

    x = z * levels[0]
    for sigma, sigma_next in zip(levels[:-1], levels[1:]):
        d = slope(x, sigma)
        x_pred = x + (sigma_next - sigma) * d
        x = x_pred if sigma_next == 0 else x + (sigma_next - sigma) * (d + slope(x_pred, sigma_next)) / 2
    return x


def test_the_grader_reference_is_the_package():
    """Oracle: the package's ``heun`` on the ``karras`` grid with the exact denoiser; the grader's own Algorithm 1
    with the network that makes D exact equals it."""
    gmm = lab._mixture()
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for n, sigma_min, sigma_max, rho in lab._CONFIGS:
        process = EDM(sigma_max=sigma_max)
        want = heun(sigma_max * z, karras(process, n, rho, sigma_min=sigma_min), gmm.predictor(process), process)
        got = lab._reference(lab._Network(gmm, 0.5), z, 0.5, n, sigma_min, sigma_max, rho)
        assert torch.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("fn", [written_differently], ids=["floats-and-loops"])
def test_correct_implementations_get_full_marks(fn):
    """Oracle: heun on the karras grid (exact), edm_preconditioning (exact), NFE = 2N − 1."""
    score = lab.LAB.grade(fn)
    assert score.full_marks, score


def test_float32_gets_full_marks():
    """Oracle: grading.close holds a float32 answer to float32's precision."""
    def in_float32(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
        return solution(lambda x, c: F(x.double(), c.double()).float(), z.float(), sigma_data, n_steps, sigma_min,
                        sigma_max, rho)
    assert lab.LAB.grade(in_float32).full_marks


@pytest.mark.parametrize("kw, words", [(dict(grid="uniform"), "uniform in σ"), (dict(grid="i_over_n"), "off-by-one"),
                                       (dict(final_zero=False), "stop at σ_min"), (dict(start="plain"), "σ_0·z"),
                                       (dict(second_order=False), "Euler's method"), (dict(c_noise="ln"), "¼·ln σ"),
                                       (dict(c_out="no_sqrt"), "with the root")])
def test_each_typical_mistake_gets_its_own_hint(kw, words):
    """Oracle: the mistake made on purpose by the grader's Algorithm 1; its hint names it."""
    score = lab.LAB.grade(lambda *args: lab._reference(*args, **kw))
    assert not score.parts[0]["points"] and words in score.parts[0]["hint"]


def test_correction_at_sigma_zero_and_wrong_nfe_get_hints():
    """Oracle: evaluating the slope at σ = 0 divides by zero (a hint about the last step); 2N evaluations are one too
    many."""
    score = lab.LAB.grade(_heun_everywhere)
    assert score.points == 0 and "σ = 0" in score.parts[0]["hint"]

    def one_extra(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
        F(z, torch.tensor(0.0, dtype=z.dtype))
        return solution(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho)
    verdict = lab._nfe(one_extra)
    assert not verdict.passed and "2N − 1" in verdict.hint


def _heun_everywhere(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
    """Heun's correction on the last step too: D at σ = 0 (c_noise = ¼ ln 0)."""
    def D(x, sigma):
        s = sigma**2 + sigma_data**2
        return sigma_data**2 / s * x + sigma * sigma_data / s.sqrt() * F(x / s.sqrt(), sigma.log() / 4)
    i = torch.arange(n_steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + i / (n_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    sigmas = torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])
    x = sigmas[0] * z
    for k in range(n_steps):
        d_cur = (x - D(x, sigmas[k])) / sigmas[k]
        x_next = x + (sigmas[k + 1] - sigmas[k]) * d_cur
        d_prime = (x_next - D(x_next, sigmas[k + 1])) / sigmas[k + 1]
        x = x + (sigmas[k + 1] - sigmas[k]) * 0.5 * (d_cur + d_prime)
    return x


def test_an_exception_inside_the_function_is_a_hint_not_a_traceback():
    """Oracle: grading.call — a TypeError inside the student's code becomes a part with 0 points and a hint."""
    def broken(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
        return F(z)  # forgot c_noise
    score = lab.LAB.grade(broken)
    assert score.points == 0 and "wrong arguments" in score.parts[0]["hint"]

"""Chapter 10's lab (diffedu.labs.samplers): DPM-Solver++(2M) written by the student, graded against the package's
``integrators.dpmpp_2m`` (exact), the NFE count, and the order measured on a closed-form Gaussian flow."""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.integrators import dpmpp_1, dpmpp_2m
from diffedu.labs import samplers as lab


def solution(x, ts, predictor, process):
    """The chapter's instructor solution (vectorised, tensors from process.coefficients)."""
    x0_prev, h_prev = None, None
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        x0_hat = predictor(x, t)
        alpha_t, sigma_t = process.coefficients(t)[:2]
        alpha_s, sigma_s = process.coefficients(t_next)[:2]
        if sigma_s == 0:
            return x0_hat
        h = torch.log(alpha_s / sigma_s) - torch.log(alpha_t / sigma_t)
        D = x0_hat
        if x0_prev is not None:
            r = h_prev / h
            D = (1 + 1 / (2 * r)) * x0_hat - 1 / (2 * r) * x0_prev
        x = sigma_s / sigma_t * x - alpha_s * torch.expm1(-h) * D
        x0_prev, h_prev = x0_hat, h
    return x


def written_differently(x, ts, predictor, process):
    """A second correct implementation: Python floats, λ = log(α²/σ²) written out and halved, the update in the
    form σ_s/σ_t·x + α_s(1 − e^{−h})·D, D as x̂₀ + (x̂₀ − x̂₀_prev)/(2r), and the list of steps built first."""
    ts = [float(t) for t in ts]
    lam = []
    for t in ts:
        alpha, sigma = (float(c) for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
        lam.append(math.inf if sigma == 0 else math.log(alpha**2 / sigma**2))
    history = []
    for k in range(len(ts) - 1):
        x0_hat = predictor(x, ts[k])
        if math.isinf(lam[k + 1]):
            x = x0_hat
            break
        h = 0.5 * (lam[k + 1] - lam[k])
        D = x0_hat if not history else x0_hat + (x0_hat - history[-1][0]) / (2 * history[-1][1] / h)
        sigma_t = float(process.coefficients(torch.tensor(ts[k], dtype=torch.float64))[1])
        alpha_s, sigma_s = (float(c) for c in process.coefficients(torch.tensor(ts[k + 1], dtype=torch.float64))[:2])
        x = sigma_s / sigma_t * x + alpha_s * (1 - math.exp(-h)) * D
        history.append((x0_hat, h))
    return x


def test_the_grader_reference_is_the_package():
    """Oracle: the package's ``dpmpp_2m``; the grader's own recursion (used to make mistakes on purpose) equals it."""
    gmm = lab._mixture(3)
    for process, ts in lab._cases():
        x = gmm.marginal(float(ts[0]), process).sample(5, generator=torch.Generator().manual_seed(1))
        pred = gmm.predictor(process)
        assert torch.allclose(lab._reference(x, ts, pred, process), dpmpp_2m(x, ts, pred, process), atol=1e-12)


@pytest.mark.parametrize("fn", [written_differently], ids=["floats-and-other-form"])
def test_correct_implementations_get_full_marks(fn):
    """Oracle: the package's dpmpp_2m (exact), NFE = N, and order 2 against the closed-form Gaussian flow."""
    score = lab.LAB.grade(fn)
    assert score.full_marks, score


def test_float32_start_gets_full_marks_on_the_exact_part():
    """Oracle: grading.close holds a float32 answer to float32's precision."""
    def in_float32(x, ts, predictor, process):
        return solution(x.float(), ts, lambda y, t: predictor(y.double(), t).float(), process)
    assert lab._same_as_package(in_float32).passed


def _mistake(**kw):
    return lambda x, ts, predictor, process: lab._reference(x, ts, predictor, process, **kw)


@pytest.mark.parametrize("kw, words", [(dict(first_order=True), "DPM-Solver++(1)"),
                                       (dict(r_inverted=True), "h_prev/h"),
                                       (dict(no_half=True), "1/(2r), not 1/r"),
                                       (dict(full_lambda=True), "half the change of λ")])
def test_each_typical_mistake_gets_its_own_hint(kw, words):
    """Oracle: the mistake made on purpose by the grader's recursion; its hint names it."""
    verdict = lab._same_as_package(_mistake(**kw))
    assert not verdict.passed and words in verdict.hint


def test_first_order_fails_the_order_part():
    """Oracle: DPM-Solver++(1) is first order — its measured slope is about 1, outside 2 ± 0.25."""
    verdict = lab._order(lambda x, ts, pred, process: dpmpp_1(x, ts, pred, process))
    assert not verdict.passed and "order about 1" in verdict.hint


def test_no_last_branch_and_two_evaluations_per_step_get_hints():
    """Oracle: the formula into σ = 0 gives NaN (λ = ∞); re-evaluating the predictor gives 2N calls."""
    def into_zero(x, ts, predictor, process):
        x0_prev, h_prev = None, None
        for i in range(len(ts) - 1):
            x0_hat = predictor(x, ts[i])
            alpha_t, sigma_t = process.coefficients(ts[i])[:2]
            alpha_s, sigma_s = process.coefficients(ts[i + 1])[:2]
            h = torch.log(alpha_s / sigma_s) - torch.log(alpha_t / sigma_t)
            D = x0_hat if x0_prev is None else (1 + h / (2 * h_prev)) * x0_hat - h / (2 * h_prev) * x0_prev
            x = sigma_s / sigma_t * x - alpha_s * torch.expm1(-h) * D
            x0_prev, h_prev = x0_hat, h
        return x
    verdict = lab._same_as_package(into_zero)
    assert not verdict.passed and "σ = 0" in verdict.hint

    def twice(x, ts, predictor, process):
        for i in range(len(ts) - 1):
            predictor(x, ts[i])
        return solution(x, ts, predictor, process)
    verdict = lab._nfe(twice)
    assert not verdict.passed and "once" in verdict.hint


def test_an_exception_inside_the_function_is_a_hint_not_a_traceback():
    """Oracle: grading.call — a shape error inside the student's code becomes a part with 0 points and a hint."""
    def broken(x, ts, predictor, process):
        return x @ torch.ones(3, 3, dtype=x.dtype)
    score = lab.LAB.grade(broken)
    assert score.points == 0 and "shape" in score.parts[0]["hint"]

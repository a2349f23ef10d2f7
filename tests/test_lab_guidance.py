"""Chapter 11's lab (diffedu.labs.guidance): classifier-free guidance and a DPS step on the labelled 2-D mixture.

Oracles: ``ClassifierFreeGuidance`` around the exact ``MixturePredictor`` (every kind), exact mixture laws q(x | y) and
q(x) by sampling (SW₂ within the floor), the DPS step written in the grader with the same prior step and draws, and
the exact Gaussian-mixture posterior (``linear_gaussian_posterior``).
"""
from __future__ import annotations

import pytest
import torch

from diffedu.labs import guidance as lab
from diffedu.labs.grading import Functions
from diffedu.parametrization import convert

LAB = lab.LAB


def Pair(cfg, dps_step):  # noqa: N802 — the lab's two functions, graded as one
    return Functions(cfg=cfg, dps_step=dps_step)


def cfg(predictor, x_t, t, kind, y, w, null_label):
    null = torch.full_like(y, null_label)
    return (1 - w) * predictor(x_t, t, kind, y=null) + w * predictor(x_t, t, kind, y=y)


def dps_step(x_t, t, predictor, A, y, zeta, prior_step):
    x = x_t.detach().requires_grad_(True)
    x0_hat = predictor(x, t, "x0")
    resid2 = ((y - x0_hat @ A.T) ** 2).sum(1)
    (grad,) = torch.autograd.grad(resid2.sum(), x)
    return prior_step(x_t, x0_hat.detach()) - zeta * grad / resid2.detach().sqrt()[:, None]


def cfg_in_x0_then_convert(predictor, x_t, t, kind, y, w, null_label):
    """Guide x̂0, then convert to the asked kind (equal by the affine invariance), in a loop over the two labels."""
    preds = [predictor(x_t, t, "x0", y=labels) for labels in (torch.full_like(y, null_label), y)]
    guided = w * preds[1] + (1 - w) * preds[0]
    return convert(guided, "x0", kind, x_t, t, predictor.process)


def dps_step_looped(x_t, t, predictor, A, y, zeta, prior_step):
    """One sample at a time, with ∇‖r‖ (times 2) instead of ∇‖r‖²/‖r‖."""
    x0_hat = predictor(x_t, t, "x0").detach()
    grads = []
    for i in range(x_t.shape[0]):
        xi = x_t[i:i + 1].detach().clone().requires_grad_(True)
        r = (y - predictor(xi, t, "x0")[0] @ A.T).norm()
        grads.append(2 * torch.autograd.grad(r, xi)[0])
    return prior_step(x_t, x0_hat) - zeta * torch.cat(grads)


def hints(score):
    return [p["hint"] for p in score.parts]


def test_a_second_correct_implementation_gets_full_marks():
    """Oracle: as above — guiding x̂0 then converting, and a looped DPS step with 2ζ∇‖r‖, are the same maths."""
    assert LAB.grade(Pair(cfg_in_x0_then_convert, dps_step_looped)).full_marks


@pytest.mark.parametrize("wrong, words", [
    (lambda p, x, t, k, y, w, n: cfg(p, x, t, k, y, 1 - w, n), "swapped"),
    (lambda p, x, t, k, y, w, n: cfg(p, x, t, k, y, 1 + w, n), "Ho & Salimans"),
    (lambda p, x, t, k, y, w, n: cfg(p, x, t, "x0", y, w, n), "pass `kind` on"),
    (lambda p, x, t, k, y, w, n: p(x, t, k, y=y), "does not depend on w"),
])
def test_each_typical_cfg_mistake_gets_its_own_hint(wrong, words):
    """Oracle: the wrong answer computed on purpose in the grader (w ↔ 1 − w, Ho & Salimans's w′, kind dropped,
    no unconditional call)."""
    verdict = LAB.parts[0].test(Pair(wrong, dps_step))
    assert not verdict.passed and words in verdict.hint


def _dps(**kw):
    def step(x_t, t, predictor, A, y, zeta, prior_step):
        return lab._dps_reference(x_t, t, predictor, A, y, zeta, prior_step, **kw)
    return step


@pytest.mark.parametrize("kw, words", [
    (dict(norm="none"), "no division"), (dict(norm="squared"), "not by ‖r‖²"), (dict(norm="batch"), "own residual"),
    (dict(power=0.5), "twice that"), (dict(wrt="x0"), "respect to x̂0"), (dict(sign=1.0), "wrong sign"),
    (dict(where="before"), "prior step from x_t first"),
])
def test_each_typical_dps_mistake_gets_its_own_hint(kw, words):
    """Oracle: the DPS step with one mistake made on purpose (no normalisation, ‖r‖², a batch norm, ∇‖r‖, the
    gradient in x̂0, the sign, the correction before the prior step)."""
    verdict = LAB.parts[2].test(Pair(cfg, _dps(**kw)))
    assert not verdict.passed and words in verdict.hint


def test_an_error_inside_the_students_function_is_a_hint_not_a_traceback():
    """Oracle: grading.explain's meaning of a shape error, for both functions."""
    def broken(*args):
        raise RuntimeError("size mismatch, got input (2), mat (2x1), vec (2)")
    score = LAB.grade(Pair(broken, broken))
    assert score.points == 0 and all("shapes" in h for h in hints(score))


def test_the_warm_up_checks_answer_errors_and_mistakes_with_hints_that_are_not_the_answer(capsys):
    """Oracle: the student review's attempts — the innovation y − μ (a shape error inside the function) gets a hint,
    not a traceback; the conditional score alone and a flipped sign get their own hints, neither of which spells
    out the answer (gmm.restrict(y).score(...) − gmm.score(...))."""
    from diffedu.course.exercises import check_classifier_grad, check_gaussian_conditioning

    def innovation_y_minus_mu(mu, cov, A, y, sigma_y):
        S = A @ cov @ A.T + sigma_y**2 * torch.eye(A.shape[0], dtype=A.dtype)
        gain = cov @ A.T @ torch.linalg.inv(S)
        return mu + gain @ (y - mu), cov - gain @ A @ cov

    check_gaussian_conditioning(innovation_y_minus_mu)
    assert "shapes do not fit" in capsys.readouterr().out
    for wrong, words in ((lambda gmm, x, t, p, y: gmm.restrict(y).score(x, t, p), "conditional score"),
                         (lambda gmm, x, t, p, y: gmm.score(x, t, p) - gmm.restrict(y).score(x, t, p), "sign")):
        with pytest.raises(AssertionError, match=words) as error:
            check_classifier_grad(wrong)
        assert "restrict" not in str(error.value) and "gmm.score" not in str(error.value)

"""Chapter 13's lab (``diffedu.labs.few_step``): the MeanFlow loss, graded part by part.

Oracles: the package's ``course.few_step.meanflow_loss`` (value and parameter gradient, float64), flow matching where
r = t, and the closed-form average velocity of one data point (loss exactly 0); each typical mistake is made on
purpose here and must get its own hint.
"""
from __future__ import annotations


import pytest
import torch

from diffedu.labs import few_step as lab


def make(*, sign=1.0, tangent=(0.0, 1.0), velocity="path", detach=True, jvp=True):
    """The MeanFlow loss written as a student would, with one mistake where a keyword says so."""
    def meanflow_loss(u_theta, x0, eps, r, t, process):
        alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))
        z_t = alpha_t * x0 + sigma_t * eps
        v = eps - x0 if velocity == "rf" else d_alpha_t * x0 + d_sigma_t * eps
        u, du_dt = torch.func.jvp(u_theta, (z_t, r, t), (v, torch.full_like(r, tangent[0]),
                                                         torch.full_like(t, tangent[1])))
        target = v - sign * (t - r)[:, None] * du_dt if jvp else v
        return ((u - (target.detach() if detach else target)) ** 2).sum(1).mean()
    return meanflow_loss


def finite_difference_form(u_theta, x0, eps, r, t, process):
    """A second correct implementation: du/dt by a central difference along the path (h = 1e-5), float64."""
    alpha, sigma, d_alpha, d_sigma = (c[:, None] for c in process.coefficients(t))
    z, v, h = alpha * x0 + sigma * eps, d_alpha * x0 + d_sigma * eps, 1e-5
    with torch.no_grad():
        du_dt = (u_theta(z + h * v, r, t + h) - u_theta(z - h * v, r, t - h)) / (2 * h)
    target = v - (t - r)[:, None] * du_dt
    return ((u_theta(z, r, t) - target) ** 2).sum(1).mean()


def test_a_finite_difference_implementation_gets_full_marks():
    """Oracle: as above; the total derivative by a central difference (error O(h²) ≈ 1e-10, inside 1e-8)."""
    score = lab.LAB.grade(finite_difference_form)
    assert score.full_marks, score


@pytest.mark.parametrize("mistake, part, words", [
    (dict(sign=-1.0), 1, "check the sign"),
    (dict(tangent=(0.0, 0.0)), 1, "total* derivative"),
    (dict(tangent=(1.0, 0.0)), 1, "belongs to t, not to r"),
    (dict(velocity="rf"), 1, "rectified flow's velocity only"),
    (dict(jvp=False), 1, "flow matching"),
    (dict(detach=False), 3, "detach"),
])
def test_each_typical_mistake_gets_its_own_hint(mistake, part, words):
    """Oracle: the mistake made on purpose in a student-style loss; its part fails with the named hint."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[part]["points"] == 0 and words in score.parts[part]["hint"], score


def test_an_exception_inside_the_function_becomes_a_hint():
    """Oracle: grading.explain's meaning of a shape error; no traceback escapes."""
    def broken(u_theta, x0, eps, r, t, process):
        return (x0 + torch.zeros(3, 5)).sum()

    score = lab.LAB.grade(broken)
    assert score.points == 0 and "shapes" in score.parts[0]["hint"]

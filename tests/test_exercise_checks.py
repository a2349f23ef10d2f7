"""The ``check_…`` functions' own contract (diffedu.course.exercises). Oracle: the documented replies — a correct answer passes
however it is computed (in place, in float32), a wrong one fails with a hint, never a deep traceback."""
from __future__ import annotations

import pytest
import torch

from diffedu.course import exercises


def test_an_answer_computed_in_place_is_accepted():
    """An in-place answer used to change the test's inputs before the reference answer was computed."""
    def in_place(x, f_t, g2_t, score):
        return x.mul_(f_t).sub_(0.5 * g2_t * score)

    exercises.check_pf_drift(in_place)
    exercises.check_dsm_target(lambda x, x0, sigma: x.sub_(x0).div_(-sigma**2))


def test_a_float32_answer_is_held_to_float32_precision():
    exercises.check_noise(lambda x0, eps, alpha_t, sigma_t: (alpha_t * x0 + sigma_t * eps).float())


def test_a_missing_return_gets_a_hint():
    with pytest.raises(AssertionError, match="forget `return`"):
        exercises.check_pf_drift(lambda x, f_t, g2_t, score: None)


def test_edm_preconditioning_needs_all_four_coefficients():
    def three(sigma, sigma_data):
        s = sigma**2 + sigma_data**2
        return sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt()

    with pytest.raises(AssertionError, match="four coefficients"):
        exercises.check_edm_preconditioning(three)

"""Chapters 08 and 09: the compute functions behind their panels at every slider extreme, and the exercise checks."""
import math

import pytest
import torch

from diffedu.course.edm_design import play_edm
from diffedu.course.exercises import (check_edm_precond, check_karras_sigmas, check_rf_conditional_velocity,
                               check_rf_velocity_to_x0)
from diffedu.course.flows import play_flows
from diffedu.nets import edm_preconditioning


@pytest.mark.parametrize("path", ["rectified", "cosine"])
@pytest.mark.parametrize("n_steps", [1, 200])
def test_play_flows_extremes(path, n_steps):
    """Oracle: finite outputs at the slider extremes; 1 Euler step gives a straight path (deviation 0)."""
    out = play_flows(n_steps, path, n_samples=50)
    assert bool(torch.isfinite(out["samples"]).all()) and math.isfinite(out["sw"]) and out["sw_floor"] > 0
    if n_steps == 1:
        assert out["straightness"] < 1e-12


@pytest.mark.parametrize("rho,nfe,s_churn,s_noise", [(0.5, 1, 0.0, 0.5), (20.0, 100, 100.0, 1.5), (7.0, 2, 0.0, 1.0)])
def test_play_edm_extremes(rho, nfe, s_churn, s_noise):
    """Oracle: finite samples and errors at every slider extreme (no exception, no NaN)."""
    out = play_edm(rho, nfe, s_churn, s_noise, n=50)
    assert bool(torch.isfinite(out["samples"]).all()) and math.isfinite(out["ode_error"]) and math.isfinite(out["mmd2"])


def test_checks_reject_wrong_answers():
    """Oracle: the checks' reference formulas; a wrong answer raises AssertionError with a hint, a right one passes."""
    check_rf_conditional_velocity(lambda x0, eps, t: eps - x0)
    with pytest.raises(AssertionError, match="Hint"):
        check_rf_conditional_velocity(lambda x0, eps, t: x0 - eps)
    check_rf_velocity_to_x0(lambda v, x_t, t: x_t - t * v)
    with pytest.raises(AssertionError, match="Hint"):
        check_rf_velocity_to_x0(lambda v, x_t, t: x_t + t * v)
    check_edm_precond(edm_preconditioning)
    with pytest.raises(AssertionError, match="Hint"):
        check_edm_precond(lambda s, sd: (sd**2 / (s**2 + sd**2), s * sd, 1 / (s**2 + sd**2).sqrt(), s.log() / 4))
    with pytest.raises(AssertionError, match="Hint"):
        check_karras_sigmas(lambda n, lo, hi, rho: torch.linspace(hi, lo, n))


def test_play_edm_repeats_exactly():
    """Oracle: the same call twice. The panel caches what its sliders do not change (x_T, the data, the fine ODE
    solution); a second call, after one with other settings, must return the identical samples and errors."""
    first = play_edm(3.0, 9, 5.0, 1.2, n=60)
    play_edm(7.0, 20, 50.0, 0.8, n=60)
    again = play_edm(3.0, 9, 5.0, 1.2, n=60)
    assert torch.equal(first["samples"], again["samples"])
    assert first["ode_error"] == again["ode_error"] and first["mmd2"] == again["mmd2"]

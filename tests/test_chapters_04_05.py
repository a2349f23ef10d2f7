"""The compute functions behind chapters 04 and 05's panels, at every slider's extremes, and the exercise checks."""
import math

import pytest
import torch

from diffedu.course.elbo import play_ddim, play_schedule, steps_sweep
from diffedu.course.exercises import check_alpha_bar, check_ddim_noise_scale, check_ddim_update, check_posterior


@pytest.mark.parametrize("T", [10, 1000])
@pytest.mark.parametrize("beta_1,beta_T", [(1e-5, 1e-3), (1e-2, 0.5), (1e-5, 0.5), (1e-2, 1e-3)])
def test_play_schedule_extremes(T, beta_1, beta_T):
    """Oracle: alpha_bar decreasing from 1 with T+1 entries; samples finite (no exception, no NaN)."""
    out = play_schedule(T, beta_1, beta_T, n_samples=50 if T == 1000 else 200)
    ab = out["alpha_bar"]
    assert ab.shape == (T + 1,) and ab[0] == 1 and bool((ab[1:] < ab[:-1]).all())
    assert bool(torch.isfinite(out["samples"]).all()) and math.isfinite(out["sw"])


def test_play_schedule_bad_prior_is_worse():
    """Oracle: with alpha_bar_T ≈ 1 (T = 10, tiny β) x_T ~ N(0, I) is the wrong prior: SW is far above a good schedule."""
    bad = play_schedule(10, 1e-5, 1e-3, n_samples=400)["sw"]
    good = play_schedule(100, 1e-3, 0.2, n_samples=400)["sw"]
    assert bad > 2 * good


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("n_steps", [1, 200])
def test_play_ddim_extremes(eta, n_steps):
    """Oracle: finite samples of the right shape at every slider extreme (no exception, no NaN)."""
    out = play_ddim(eta, n_steps, n_samples=100)
    assert out["samples"].shape == (100, 2) and bool(torch.isfinite(out["samples"]).all()) and math.isfinite(out["sw"])


def test_play_ddim_one_step_is_the_denoiser():
    """Oracle: one DDIM step from T to 0 returns x̂0(x_T) — the exact posterior mean, close to the mixture mean."""
    out = play_ddim(0.0, 1, n_samples=200)
    assert out["samples"].std(0).max() < 0.5  # a single step collapses onto E[x0 | x_T], nearly one point


def test_steps_sweep_first_order():
    """Oracle: DDIM is first order — the ODE error halves (ratio 1.6–2.6) when the step count doubles."""
    out = steps_sweep([10, 20], n_samples=200, n_ref_steps=200)
    ratio = out["ode_err_ddim"][0] / out["ode_err_ddim"][1]
    assert 1.6 < ratio < 2.6


def test_checks_reject_wrong_answers():
    """Oracle: the checks' own reference formulas; a wrong answer raises AssertionError with a hint."""
    with pytest.raises(AssertionError, match="Hint"):
        check_alpha_bar(lambda b: torch.cumprod(1 - b, 0))  # forgets ᾱ_0 = 1
    with pytest.raises(AssertionError, match="Hint"):
        check_posterior(lambda x_n, x0, n, b: (x_n, float(b[n - 1])))
    with pytest.raises(AssertionError, match="Hint"):
        check_ddim_noise_scale(lambda a_t, s_t, a_s, s_s, eta: eta * s_s)
    with pytest.raises(AssertionError, match="Hint"):
        check_ddim_update(lambda x_t, x0_hat, a_t, s_t, a_s, s_s, c, z: a_s * x0_hat + s_s * x_t + c * z)


def test_checks_accept_right_answers():
    """Oracle: closed forms written independently here."""
    ab = lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)])
    check_alpha_bar(ab)

    def post(x_n, x0, n, b):
        a = ab(b)
        return (a[n - 1].sqrt() * b[n - 1] / (1 - a[n]) * x0 + (1 - b[n - 1]).sqrt() * (1 - a[n - 1]) / (1 - a[n]) * x_n,
                ((1 - a[n - 1]) / (1 - a[n]) * b[n - 1]).item())
    check_posterior(post)
    check_ddim_noise_scale(lambda a_t, s_t, a_s, s_s, eta: eta * s_s * math.sqrt(1 - (a_t * s_s / (a_s * s_t)) ** 2))
    check_ddim_update(lambda x_t, x0_hat, a_t, s_t, a_s, s_s, c, z:
                    a_s * x0_hat + math.sqrt(s_s**2 - c**2) * (x_t - a_t * x0_hat) / s_t + c * z)

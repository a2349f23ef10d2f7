"""Chapters 00–02: the compute functions behind the panels (at every slider's extremes), the forward-SDE simulation,
the Tweedie Monte Carlo, and the exercise checks (right answer passes, wrong answers fail with a hint)."""
import itertools
import math

import pytest
import torch

from diffedu import EDM, VE, VP, CosineVP, DiscreteDDPM, RectifiedFlow, gmm_2d
from diffedu.course.exercises import check_em_step, check_log_snr, check_noise, check_tweedie, check_velocity, check_vp_alpha
from diffedu.course.noising import em_moments, log_snr_of, play_mix, play_noising, schedule_curves
from diffedu.course.sdes import simulate_forward
from diffedu.course.tweedie import play_tweedie, posterior_mean_mc, roundtrip_errors, tweedie_gap

ALL = [(VP(), 0.5), (CosineVP(), 0.5), (VE(), 0.5), (EDM(), 1.0), (RectifiedFlow(), 0.5), (DiscreteDDPM(1000), 500.0)]


# --- chapter 00 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha_t,sigma_t", list(itertools.product([0.0, 1.5], [0.05, 3.0])))
def test_play_mix_extremes(alpha_t, sigma_t):
    """Oracle: x_t = α x0 + σ ε by hand; SNR and log-SNR consistent and never NaN (α = 0 gives SNR 0, λ = −∞)."""
    out = play_mix(alpha_t, sigma_t, n=200)
    assert bool(torch.isfinite(out["x_t"]).all())
    assert not math.isnan(out["snr"]) and not math.isnan(out["log_snr"])
    assert out["snr"] == pytest.approx(alpha_t**2 / sigma_t**2, rel=1e-12)
    # the same seed gives the same ε: recover it and check the formula
    eps = (out["x_t"] - alpha_t * out["x0"]) / sigma_t
    assert abs(eps.std().item() - 1) < 0.15


def test_log_snr_of_branches_and_bad_input():
    """Oracle: closed form 2 log(α/σ); explicit ±∞ branches; 0/0 and negative scales raise ValueError naming them."""
    assert log_snr_of(0.8, 0.6) == pytest.approx(2 * math.log(0.8 / 0.6), rel=1e-14)
    assert log_snr_of(1.0, 0.0) == math.inf and log_snr_of(0.0, 1.0) == -math.inf
    with pytest.raises(ValueError, match="alpha_t and sigma_t"):
        log_snr_of(0.0, 0.0)
    with pytest.raises(ValueError, match="alpha_t and sigma_t"):
        log_snr_of(-1.0, 1.0)


def test_check_noise_and_log_snr():
    """Oracle: the right formulas pass; typical mistakes raise AssertionError with a hint."""
    check_noise(lambda x0, eps, a, s: a * x0 + s * eps)
    with pytest.raises(AssertionError, match="Hint"):
        check_noise(lambda x0, eps, a, s: a * x0 + s**2 * eps)
    with pytest.raises(AssertionError, match="Hint"):
        check_noise(lambda x0, eps, a, s: x0 + s * eps)
    check_log_snr(lambda a, s: 2 * (a.log() - s.log()))
    with pytest.raises(AssertionError, match="twice"):
        check_log_snr(lambda a, s: a.log() - s.log())
    with pytest.raises(AssertionError, match="natural log"):
        check_log_snr(lambda a, s: a**2 / s**2)


# --- chapter 01 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta_min,beta_max,sigma_max,s,u",
                         list(itertools.product([0.0, 2.0], [5.0, 40.0], [1.0, 100.0], [1e-3, 0.2], [0.0, 1.0])))
def test_play_noising_extremes(beta_min, beta_max, sigma_max, s, u):
    """Oracle: every slider corner gives finite points and curves (no exception, no NaN), and α_t, σ_t as the process."""
    out = play_noising(beta_min, beta_max, sigma_max, s, u, n=50)
    assert set(out["points"]) == {"vp", "cosine", "ve", "edm", "flow"}
    for name, p in out["points"].items():
        assert bool(torch.isfinite(p["x_t"]).all()), name
        assert math.isfinite(p["alpha_t"]) and math.isfinite(p["sigma_t"]), name
    for name, c in out["curves"].items():
        for key in ("alpha_t", "sigma_t", "lambda_t"):
            assert bool(torch.isfinite(c[key]).all()), (name, key)
    assert out["points"]["flow"]["alpha_t"] == pytest.approx(1 - u)


def test_play_noising_bad_u():
    """Oracle: u outside [0, 1] raises a ValueError naming u."""
    with pytest.raises(ValueError, match="u must lie in"):
        play_noising(0.1, 20, 50, 0.008, 1.5)


def test_schedule_curves_log_snr_decreases():
    """Oracle: λ_t strictly decreases in t for every process (the definition of a forward process)."""
    curves = schedule_curves({"vp": VP(), "cosine": CosineVP(), "ve": VE(), "edm": EDM(), "flow": RectifiedFlow()})
    for name, c in curves.items():
        assert bool((c["lambda_t"][1:] < c["lambda_t"][:-1]).all()), name


def test_em_moments_closed_form_edm():
    """Oracle: for EDM (f = 0, g² = 2t) the EM variance is the left Riemann sum of ∫2t dt = t²(1 − 1/N), exactly."""
    for N in (1, 10, 250):
        mean, var = em_moments(EDM(), 1.5, 2.0, N)
        assert mean == 1.5 and var == pytest.approx(4.0 * (1 - 1 / N), rel=1e-12)


@pytest.mark.parametrize("process,t", ALL)
def test_em_bias_is_first_order(process, t):
    """Oracle: EM is a first-order method — the exact EM-law variance error halves when the step count doubles
    (ratio within [1.7, 2.3]) and tends to the exact σ_t²."""
    exact = process.sigma(torch.tensor(t, dtype=torch.float64)).item() ** 2
    b1, b2 = (abs(em_moments(process, 1.0, t, N)[1] - exact) for N in (200, 400))
    assert 1.7 < b1 / b2 < 2.3


@pytest.mark.parametrize("process,t", ALL)
def test_simulate_forward_matches_em_law(process, t):
    """Oracle: chapter 01's simulation (an exact draw at t_min, then simulate_forward on N equal steps): the paths'
    mean and variance equal the EM chain's exact moments (em_moments) within 4.5 Monte Carlo standard errors (√(v/n)
    for the mean, v√(2/(n−1)) for the variance), n = 20 000."""
    g = torch.Generator().manual_seed(5)
    n, N = 20_000, 50
    x_start = process.noise(torch.full((n, 1), 1.5, dtype=torch.float64), process.t_min,
                            torch.randn(n, 1, generator=g, dtype=torch.float64))
    x = simulate_forward(x_start, torch.linspace(process.t_min, t, N + 1, dtype=torch.float64), process, generator=g)
    mean_em, var_em = em_moments(process, 1.5, t, N)
    assert abs(x.mean().item() - mean_em) < 4.5 * math.sqrt(var_em / n)
    assert abs(x.var().item() - var_em) < 4.5 * var_em * math.sqrt(2 / (n - 1))


def test_em_moments_bad_input():
    """Oracle: bad step counts and t_end outside the process's range raise, naming the argument."""
    with pytest.raises(ValueError, match="n_steps"):
        em_moments(VP(), 1.5, 0.5, 0)
    with pytest.raises(ValueError, match="t_end"):
        em_moments(VP(), 1.5, 1.5, 10)


def test_check_vp_alpha_and_em_step():
    """Oracle: the right answers pass; forgetting the ½, the integral, or √Δt raises AssertionError with a hint."""
    check_vp_alpha(lambda t, b0, b1: torch.exp(-0.5 * (b0 * t + 0.5 * (b1 - b0) * t**2)))
    with pytest.raises(AssertionError, match="ᾱ"):
        check_vp_alpha(lambda t, b0, b1: torch.exp(-(b0 * t + 0.5 * (b1 - b0) * t**2)))
    with pytest.raises(AssertionError, match="integrate"):
        check_vp_alpha(lambda t, b0, b1: torch.exp(-0.5 * (b0 + t * (b1 - b0)) * t))

    def em_step(x, t, dt, z, process):
        t = torch.tensor(t, dtype=x.dtype)
        return x + process.f(t) * x * dt + process.g(t) * math.sqrt(dt) * z

    def em_step_no_sqrt(x, t, dt, z, process):
        t = torch.tensor(t, dtype=x.dtype)
        return x + process.f(t) * x * dt + process.g(t) * dt * z

    check_em_step(em_step)
    with pytest.raises(AssertionError, match="√Δt"):
        check_em_step(em_step_no_sqrt)
    with pytest.raises(AssertionError, match="Hint"):
        check_em_step(lambda x, t, dt, z, process: x + math.sqrt(dt) * z)


# --- chapter 02 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("x,y,sigma", list(itertools.product([-4.0, 4.0], [-4.0, 4.0], [0.05, 5.0])) + [(0.0, 0.0, 0.5)])
def test_play_tweedie_extremes(x, y, sigma):
    """Oracle: responsibilities sum to 1; x̂0 = x_t + σ² score (Tweedie with α = 1, from two separate formulas);
    nothing NaN at any slider corner."""
    out = play_tweedie(x, y, sigma, grid=30)
    assert out["resp"].sum().item() == pytest.approx(1.0, abs=1e-12)
    for key in ("resp", "x0_hat", "score", "log_p"):
        assert bool(torch.isfinite(out[key]).all()), key
    assert torch.allclose(out["x0_hat"], out["x_t"] + sigma**2 * out["score"], rtol=1e-9, atol=1e-9)


def test_play_tweedie_bad_sigma():
    """Oracle: σ ≤ 0 raises a ValueError naming sigma."""
    with pytest.raises(ValueError, match="sigma"):
        play_tweedie(0.0, 0.0, 0.0)


@pytest.mark.parametrize("t", [0.2, 0.5])
def test_posterior_mean_mc_agrees_with_exact(t):
    """Oracle: exact GMM posterior mean vs self-normalised importance sampling (n = 40 000); every coordinate within
    4.5 delta-method standard errors (a correct formula fails with probability < 1e-4 over 8 coordinates)."""
    g = torch.Generator().manual_seed(7)
    gmm, process = gmm_2d(), VP()
    t_ = torch.tensor(t, dtype=torch.float64)
    x_t = gmm.sample(4, t_, process, generator=g)
    mc, se = posterior_mean_mc(gmm, x_t, t_, process, 40_000, generator=g)
    assert ((mc - gmm.denoiser(x_t, t_, process)).abs() / se).max() < 4.5


def test_posterior_mean_mc_detects_a_wrong_answer():
    """Oracle: the MC check has power — the exact mean at a different time is many standard errors away."""
    g = torch.Generator().manual_seed(8)
    gmm, process = gmm_2d(), VP()
    x_t = gmm.sample(4, 0.3, process, generator=g)
    mc, se = posterior_mean_mc(gmm, x_t, 0.3, process, 40_000, generator=g)
    assert ((mc - gmm.denoiser(x_t, 0.6, process)).abs() / se).max() > 10


def test_posterior_mean_mc_bad_input():
    """Oracle: n < 2 and σ_t = 0 raise ValueError naming n / sigma_t."""
    gmm, x_t = gmm_2d(), torch.zeros(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="n must"):
        posterior_mean_mc(gmm, x_t, 0.5, VP(), 1)
    with pytest.raises(ValueError, match="sigma_t"):
        posterior_mean_mc(gmm, x_t, 0.0, VP(), 100)


@pytest.mark.parametrize("process,t", ALL)
def test_roundtrips_and_tweedie_every_process(process, t):
    """Oracle: float64 round trips for all 12 ordered pairs (≤ 1e-12 relative); score = (α x̂0 − x_t)/σ² with score and
    denoiser from separate formulas (≤ 1e-9)."""
    g = torch.Generator().manual_seed(9)
    gmm = gmm_2d()
    t_ = torch.tensor(t, dtype=torch.float64)
    x_t = gmm.sample(32, t_, process, generator=g)
    errors = roundtrip_errors(x_t, t_, process, gmm.denoiser(x_t, t_, process))
    assert len(errors) == 12 and max(errors.values()) < 1e-12
    assert tweedie_gap(gmm, x_t, t_, process) < 1e-9


def test_check_tweedie_and_velocity():
    """Oracle: the right formulas pass; σ instead of σ², a missing 1/α, or v = α̇ x̂0 + σ̇ x_t raise with a hint."""
    check_tweedie(lambda score, x_t, a, s: (x_t + s**2 * score) / a)
    with pytest.raises(AssertionError, match="σ²"):
        check_tweedie(lambda score, x_t, a, s: (x_t + s * score) / a)
    with pytest.raises(AssertionError, match="Hint"):
        check_tweedie(lambda score, x_t, a, s: x_t + s**2 * score)
    check_velocity(lambda x0, x_t, a, s, da, ds: da * x0 + ds * (x_t - a * x0) / s)
    with pytest.raises(AssertionError, match="ε̂"):
        check_velocity(lambda x0, x_t, a, s, da, ds: da * x0 + ds * x_t)

"""Chapter 13's module (``diffedu.course.few_step``): the exact flow map, the consistency boundary and the four
few-step losses, each against a closed form (one Gaussian or one data point) or a finer solve of the same ODE."""
from __future__ import annotations

import pytest
import torch

from diffedu import VE, CosineVP, RectifiedFlow, gmm_2d
from diffedu.course.few_step import (ConsistencyModel, cd_loss, consistency_sample, ct_loss, ddim_x0_step,
                                     exact_velocity, flow_map, gaussian_average_velocity, gaussian_flow_map,
                                     gaussian_velocity, meanflow_loss, meanflow_target, pd_loss, pd_target,
                                     teacher_step)
from diffedu.course.few_step_train import (data_std, exact_pairs, few_step_samples, map_error, play_few_step,
                                           train_consistency, trained_consistency)
from diffedu.nets import MLP
from diffedu.toys import GaussianMixture

RF = RectifiedFlow()
MU, S = torch.tensor([0.5, -1.0], dtype=torch.float64), 0.7
ONE = GaussianMixture([1.0], MU[None], [S])  # one Gaussian N(μ, s² I): closed forms exist


def draws(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 2, generator=g, dtype=torch.float64) for _ in range(2))


def test_flow_map_against_the_closed_form_and_a_finer_solve():
    """Oracles: the Gaussian's closed-form map (z = (x − m_t)/sd_t is constant along the PF-ODE), to 1e-7; on gmm_2d,
    RK4 at 64 steps against 256 steps (order 4: the gap is the coarse solve's error), to 1e-4."""
    x, _ = draws(200)
    for t, r in ((1.0, 0.0), (0.8, 0.3)):
        assert (flow_map(ONE, x, t, r, RF, 64) - gaussian_flow_map(x, t, r, MU, S, RF)).abs().max() < 1e-7
    gmm = gmm_2d()
    gap = (flow_map(gmm, x[:100], 1.0, 0.0, RF, 64) - flow_map(gmm, x[:100], 1.0, 0.0, RF, 256)).norm(dim=1).max()
    assert gap < 1e-4, gap


def test_exact_velocity_is_the_mixture_s_velocity_and_finite_at_both_ends():
    """Oracles: GaussianMixture.velocity where σ, α > 0 (1e-12); at t = 0, v = α̇·x̂₀ = −x (the denoiser is the
    identity on data); the Gaussian's closed-form velocity (1e-12)."""
    x, _ = draws()
    gmm = gmm_2d()
    assert torch.allclose(exact_velocity(gmm, x, 0.4, RF), gmm.velocity(x, 0.4, RF), atol=1e-12)
    assert torch.allclose(exact_velocity(gmm, x, 0.0, RF), -x, atol=1e-12)
    assert torch.isfinite(exact_velocity(gmm, x, 1.0, RF)).all()
    assert torch.allclose(exact_velocity(ONE, x, 0.6, RF), gaussian_velocity(x, 0.6, MU, S, RF), atol=1e-12)


def test_the_boundary_condition_holds_for_any_network_and_bad_processes_are_refused():
    """Oracle: c_skip(t_min) = 1 and c_out(t_min) = 0 exactly, so f(x, t_min) = x bit for bit."""
    torch.manual_seed(0)
    x, _ = draws()
    for process in (RF, CosineVP()):
        f = ConsistencyModel(MLP(hidden=16).double(), process, 1.3)
        assert torch.equal(f(x, torch.zeros(len(x), dtype=torch.float64)), x)
    with pytest.raises(ValueError, match="t_min"):
        ConsistencyModel(MLP(hidden=16), VE(), 1.0)
    with pytest.raises(ValueError, match="t must lie"):
        f(x, torch.full((len(x),), 1.5, dtype=torch.float64))


def exact_f(x, t):
    return gaussian_flow_map(x, t, 0.0, MU, S, RF)  # the exact consistency function of one Gaussian


def test_cd_loss_is_zero_at_the_exact_consistency_function_and_its_euler_bias_is_fourth_order():
    """Oracles: with the exact teacher step (the closed-form map t → s) the CD loss at the exact f is 0 (< 1e-24);
    with an Euler teacher its value is (local error)² = O(Δt⁴): halving Δt divides it by 16 (within 12–20)."""
    x0, eps = draws(2000)
    x0 = MU + S * x0
    exact_step = lambda x, t, s: gaussian_flow_map(x, t, s, MU, S, RF)  # noqa: E731
    t = torch.full((2000,), 0.6, dtype=torch.float64)
    assert cd_loss(exact_f, x0, eps, t, t - 0.1, exact_step, RF) < 1e-24
    euler = teacher_step(ONE, RF, "euler")
    ratio = cd_loss(exact_f, x0, eps, t, t - 0.04, euler, RF) / cd_loss(exact_f, x0, eps, t, t - 0.02, euler, RF)
    assert 12 < ratio < 20, ratio
    heun = teacher_step(ONE, RF, "heun")
    assert cd_loss(exact_f, x0, eps, t, t - 0.04, heun, RF) < cd_loss(exact_f, x0, eps, t, t - 0.04, euler, RF) / 10


def test_ct_loss_at_the_exact_consistency_function_is_second_order():
    """Oracle: x_s on the conditional path differs from the ODE path by O(Δt), so the CT loss at the exact f is
    O(Δt²): halving Δt divides it by 4 (within 3.3–4.7, common random numbers, 4000 draws)."""
    x0, eps = draws(4000, seed=1)
    x0 = MU + S * x0
    t = torch.full((4000,), 0.6, dtype=torch.float64)
    ratio = ct_loss(exact_f, x0, eps, t, t - 0.02, RF) / ct_loss(exact_f, x0, eps, t, t - 0.01, RF)
    assert 3.3 < ratio < 4.7, ratio


def test_the_pd_target_makes_one_step_equal_two_teacher_steps():
    """Oracles: float64 algebra — one DDIM step t → s with x̃₀ lands on two teacher DDIM steps t → m → s (1e-12);
    for data on one point μ the exact denoiser is μ and DDIM is exact, so the student ≡ μ has PD loss 0."""
    x_t, eps = draws()
    gmm = gmm_2d()
    teacher = lambda x, t: gmm.denoiser(x, t, RF)  # noqa: E731
    t, s = torch.full((256,), 0.7, dtype=torch.float64), torch.full((256,), 0.2, dtype=torch.float64)
    m = (t + s) / 2
    two = ddim_x0_step(ddim_x0_step(x_t, t, m, teacher(x_t, t), RF), m, s, teacher(ddim_x0_step(
        x_t, t, m, teacher(x_t, t), RF), m), RF)
    assert torch.allclose(ddim_x0_step(x_t, t, s, pd_target(teacher, x_t, t, s, RF), RF), two, atol=1e-12)
    dirac = lambda x, t: MU.expand_as(x)  # noqa: E731
    assert pd_loss(dirac, dirac, MU.expand(256, 2), eps, t, s, RF) < 1e-24


def test_the_meanflow_identity_holds_for_the_exact_average_velocity():
    """Oracles: the closed-form average velocity of one Gaussian satisfies u = v − (t − r)·du/dt (1e-10); for data on
    one point the conditional velocity is the marginal one, so the MeanFlow loss at the exact u is 0 (1e-20); at r = t
    the loss is flow matching's."""
    z, eps = draws()
    g = torch.Generator().manual_seed(3)
    t = 0.1 + 0.9 * torch.rand(256, generator=g, dtype=torch.float64)
    r = 0.05 + (t - 0.05) * torch.rand(256, generator=g, dtype=torch.float64)
    exact = lambda z, r, t: gaussian_average_velocity(z, r, t, MU, S, RF)  # noqa: E731
    u, target = meanflow_target(exact, z, gaussian_velocity(z, t, MU, S, RF), r, t)
    assert (u - target).abs().max() < 1e-10
    point = lambda z, r, t: gaussian_average_velocity(z, r, t, MU, 0.0, RF)  # noqa: E731
    assert meanflow_loss(point, MU.expand(256, 2), eps, r, t, RF) < 1e-20
    x0 = MU + S * z
    cfm = ((exact(x0 * (1 - t[:, None]) + t[:, None] * eps, t, t) - (eps - x0)) ** 2).sum(1).mean()
    assert torch.allclose(meanflow_loss(exact, x0, eps, t, t, RF), cfm, rtol=1e-12)


def test_bad_input_gets_clear_errors():
    """Oracle: the documented ValueErrors — zero steps, times outside [t_min, t_max], r ≥ t, a foreign teacher."""
    x, eps = draws(8)
    with pytest.raises(ValueError, match="r must be < t"):
        flow_map(ONE, x, 0.3, 0.5, RF)
    with pytest.raises(ValueError, match="t must lie"):
        flow_map(ONE, x, 1.2, 0.0, RF)
    with pytest.raises(ValueError, match="n_steps"):
        few_step_samples("MeanFlow", None, x, 0)
    with pytest.raises(ValueError, match="teacher was built for"):
        teacher_step(ONE.predictor(CosineVP()), RF)
    with pytest.raises(ValueError, match="every s must be < t"):
        ct_loss(exact_f, x, eps, torch.full((8,), 0.2), torch.full((8,), 0.3), RF)
    with pytest.raises(ValueError, match="decreasing"):
        consistency_sample(exact_f, x, [0.5, 0.5], RF)


def test_data_std_map_error_and_the_play_panel():
    """Oracles: data_std of one Gaussian is s; map_error of x against x + (3, 4) is 5; the panel's compute function
    returns finite numbers of the stated shapes (a 30-step training, 200 points)."""
    assert abs(data_std(ONE) - S) < 1e-12
    x, _ = draws(10)
    assert abs(map_error(x + torch.tensor([3.0, 4.0], dtype=torch.float64), x) - 5) < 1e-12
    out = play_few_step(n_steps=2, teacher_steps=8, train_steps=30, n_samples=200)
    assert out["samples"].shape == (200, 2) and torch.isfinite(out["samples"]).all()
    assert out["map_error"] > 0 and out["sw"] > 0 and 0 < out["sw_floor"] < 0.5


def test_the_warm_up_check_accepts_the_pd_target_and_hints_at_a_wrong_one():
    """Oracle: the package's pd_target algebra (one DDIM step with x̃₀ lands on x_s); returning x_s itself is right only
    at s = 0, so it fails with the hint."""
    from diffedu.course.exercises import check_pd_target

    def right(x_t, x_s, t, s, process):
        (alpha_t, sigma_t), (alpha_s, sigma_s) = process.at(t)[:2], process.at(s)[:2]
        return (x_s - sigma_s / sigma_t * x_t) / (alpha_s - sigma_s / sigma_t * alpha_t)

    check_pd_target(right)
    with pytest.raises(AssertionError, match="solve it for x̃₀"):
        check_pd_target(lambda x_t, x_s, t, s, process: x_s)


def test_the_play_panel_trains_once_per_setting():
    """Oracle: the seeded training itself — a kept model (trained_consistency's cache) gives the same samples as a
    fresh train_consistency with the same seed, and moving the NFE slider trains nothing (no new cache entry)."""
    out = play_few_step(n_steps=1, teacher_steps=8, train_steps=20, n_samples=100)
    misses = trained_consistency.cache_info().misses
    play_few_step(n_steps=3, teacher_steps=8, train_steps=20, n_samples=100)
    assert trained_consistency.cache_info().misses == misses
    fresh = train_consistency(20, n_grid=8, generator=torch.Generator().manual_seed(0))
    x_T, _ = exact_pairs(100, 0)
    again = few_step_samples("consistency distillation", fresh, x_T, 1, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out["samples"], again, atol=1e-6)

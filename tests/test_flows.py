"""The flows (chapter 08) and edm_design (chapter 09) modules: oracles are the exact Gaussian mixture and closed forms."""
import pytest
import torch

from diffedu import RectifiedFlow, gmm_2d
from diffedu import EDM
from diffedu.course.edm_design import loss_weight, precond_variances, sample_edm
from diffedu.course.flows import (cfm_loss, conditional_path, conditional_velocity, course_time, excess_length,
                           marginal_fm_loss, marginal_velocity_mc, straightness, train_velocity,
                           velocity_trajectories)
from diffedu.nets import MLP, edm_preconditioning


def test_course_time_flips():
    """Oracle: t = 1 − τ; τ outside [0, 1] is refused."""
    assert torch.allclose(course_time(torch.tensor([0.0, 0.25, 1.0])), torch.tensor([1.0, 0.75, 0.0]))
    with pytest.raises(ValueError, match="tau"):
        course_time(1.5)


def test_marginal_velocity_mc_matches_exact():
    """Oracle: the mixture's exact velocity. Self-normalised MC with 20 000 data samples in 2-D: error ≪ 5 % of |u|."""
    gmm, p, g = gmm_2d(), RectifiedFlow(), torch.Generator().manual_seed(0)
    x = gmm.sample(200, t=0.6, process=p, generator=g)
    mc = marginal_velocity_mc(x, 0.6, p, gmm.sample(20000, generator=g))
    exact = gmm.velocity(x, 0.6, p)
    assert (mc - exact).norm(dim=1).mean() < 0.05 * exact.norm(dim=1).mean()


def test_cfm_minus_marginal_is_constant():
    """Oracle: L_CFM − L_FM = C = E|u(x_t|x0) − u(x_t)|² for every field (Lipman et al. 2023, Thm 2); the sample
    estimate differs from C by the cross term 2E[(u_θ − u)·(u − u(·|x0))], zero in expectation: within 4 standard
    errors (N = 20 000), for fields whose marginal losses differ by more than 5."""
    gmm, p, g = gmm_2d(), RectifiedFlow(), torch.Generator().manual_seed(1)
    n = 20000
    x0 = gmm.sample(n, generator=g)
    eps, t = torch.randn(n, 2, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01
    x_t, u_cond = conditional_path(x0, eps, t, p), conditional_velocity(x0, eps, t, p)
    u_marg = gmm.velocity(x_t, t, p)
    const = ((u_cond - u_marg) ** 2).sum(-1).mean().item()
    torch.manual_seed(0)
    fields = [MLP(hidden=32).double(), lambda x, s: torch.zeros_like(x), lambda x, s: x, lambda x, s: -gmm.velocity(x, s, p)]
    fm_losses = []
    with torch.no_grad():
        for field in fields:
            c, m = cfm_loss(field, x0, eps, t, p).item(), marginal_fm_loss(field, x0, eps, t, p, gmm).item()
            se = (2 * ((field(x_t, t) - u_marg) * (u_marg - u_cond)).sum(-1)).std().item() / n**0.5
            assert abs(c - m - const) < 4 * se
            fm_losses.append(m)
    assert max(fm_losses) - min(fm_losses) > 5


def test_exact_flow_euler_is_first_order():
    """Oracle: Euler's global error is O(h). On the exact mixture velocity, the error against a 1024-step solution
    from the same noise halves (ratio 0.4–0.6) when the steps double from 32 to 64."""
    gmm, p = gmm_2d(), RectifiedFlow()
    x_T = torch.randn(200, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ref = velocity_trajectories(gmm, x_T, 1024, p)[-1]
    e32, e64 = ((velocity_trajectories(gmm, x_T, n, p)[-1] - ref).norm(dim=1).mean().item() for n in (32, 64))
    assert 0.4 < e64 / e32 < 0.6, (e32, e64)


def test_training_leaves_thread_count_alone():
    """Oracle: the thread count before training. The 2-D trainer runs on one thread and restores the setting."""
    before = torch.get_num_threads()
    data = gmm_2d().sample(64, generator=torch.Generator().manual_seed(4))
    train_velocity(data, RectifiedFlow(), 2, batch=16, generator=torch.Generator().manual_seed(5))
    assert torch.get_num_threads() == before


def test_straightness_of_a_line_is_zero():
    """Oracle: a straight path at constant speed has zero chord deviation and zero excess length."""
    s = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None, None]
    a, b = torch.randn(1, 5, 2, dtype=torch.float64), torch.randn(1, 5, 2, dtype=torch.float64)
    traj = (1 - s) * a + s * b
    assert straightness(traj).item() < 1e-12 and abs(excess_length(traj).item()) < 1e-12


def test_precond_unit_variance():
    """Oracle: the construction of c_in, c_skip, c_out. 4000 samples in 2-D: variance within ±10 % of 1."""
    g = torch.Generator().manual_seed(2)
    x0 = gmm_2d().sample(4000, generator=g)
    sd = x0.std().item()
    v_in, v_t = precond_variances(x0, torch.tensor([0.01, 1.0, 80.0], dtype=torch.float64), sd, generator=g)
    assert bool(((v_in - 1).abs() < 0.1).all()) and bool(((v_t - 1).abs() < 0.1).all())


def test_loss_weight_is_inverse_c_out_squared():
    """Oracle: λ(σ) c_out(σ)² = 1 exactly (float64)."""
    sigma = torch.logspace(-3, 2, 20, dtype=torch.float64)
    c_out = edm_preconditioning(sigma, 0.5)[1]
    assert torch.allclose(loss_weight(sigma, 0.5) * c_out**2, torch.ones_like(sigma))


def test_churn_outside_its_sigma_range_is_plain_heun():
    """Oracle: Algorithm 2 of Karras et al. (2022) adds noise only where S_tmin ≤ σ_i ≤ S_tmax; with that range above
    σ_max no step churns and the result equals the deterministic Heun sampler exactly (float64)."""
    gmm, process = gmm_2d(), EDM()
    x_T = process.sigma_max * torch.randn(100, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    plain = sample_edm(gmm, x_T, "heun", "karras", 15)
    off = sample_edm(gmm, x_T, "heun", "karras", 15, s_churn=40.0, s_tmin=100.0, s_tmax=200.0,
                     generator=torch.Generator().manual_seed(7))
    on = sample_edm(gmm, x_T, "heun", "karras", 15, s_churn=40.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(plain, off) and not torch.allclose(plain, on)
    with pytest.raises(ValueError, match="s_churn"):
        sample_edm(gmm, x_T, "euler", "karras", 15, s_churn=1.0)

"""Heat equation, 1-D Fokker–Planck solver and the reverse η-family (diffedu.course.fokker_planck)."""
import math

import pytest
import torch

from diffedu import VP, gmm_1d, gmm_2d
from diffedu.course.fokker_planck import (fokker_planck_1d, heat_equation_sides, play_density, play_paths,
                                   reverse_family)


@pytest.mark.parametrize("gmm", [gmm_1d(), gmm_2d()], ids=["1d", "2d"])
def test_heat_equation(gmm):
    """Oracle: ∂p/∂σ = σ∇²p for the exact smoothed mixture, by central differences (h = 1e-3, error O(h²) ≈ 1e-6)."""
    x = gmm.sample(50, generator=torch.Generator().manual_seed(0))
    lhs, rhs = heat_equation_sides(gmm, x, 0.4, h=1e-3)
    assert (lhs - rhs).abs().max() < 1e-5 * lhs.abs().max()


def test_heat_equation_fails_for_wrong_sign():
    """Oracle: the same sides do NOT match ∂p/∂σ = −σ∇²p (the check can fail)."""
    lhs, rhs = heat_equation_sides(gmm_1d(), torch.linspace(-3, 3, 31, dtype=torch.float64)[:, None], 0.4)
    assert (lhs + rhs).abs().max() > 0.1 * lhs.abs().max()


def test_fokker_planck_matches_exact_marginal():
    """Oracle: the exact VP marginal of the mixture; Crank–Nicolson L1 error < 1e-3 on 201 points, 100 steps."""
    proc, gmm = VP(), gmm_1d()
    x = torch.linspace(-5, 5, 201, dtype=torch.float64)
    p = fokker_planck_1d(gmm.log_prob(x[:, None]).exp(), x, torch.linspace(0, 0.5, 101).tolist(), proc)
    exact = gmm.log_prob(x[:, None], 0.5, proc).exp()
    assert ((p[-1] - exact).abs().sum() * (x[1] - x[0])).item() < 1e-3
    assert abs(p[-1].sum().item() * 0.05 - 1) < 1e-3  # mass conserved


def test_fokker_planck_second_order_in_space():
    """Oracle: halving Δx (and Δt) cuts the L1 error by about 4 (ratio in 2.5–6): a second-order scheme."""
    proc, gmm = VP(), gmm_1d()
    errs = []
    for m, k in ((51, 26), (101, 51)):
        x = torch.linspace(-5, 5, m, dtype=torch.float64)
        p = fokker_planck_1d(gmm.log_prob(x[:, None]).exp(), x, torch.linspace(0, 0.2, k).tolist(), proc)
        errs.append(((p[-1] - gmm.log_prob(x[:, None], 0.2, proc).exp()).abs().sum() * (x[1] - x[0])).item())
    assert 2.5 < errs[0] / errs[1] < 6


def test_reverse_family_ode_is_deterministic_and_keeps_marginal():
    """Oracle: η = 0 uses no noise (two generators give identical results); the result matches the exact p_0.01 in
    1-D W2 within 3× the exact-vs-exact floor (2000 samples)."""
    proc, gmm = VP(), gmm_1d()
    g = torch.Generator().manual_seed(0)
    x_T = gmm.sample(2000, 1.0, proc, generator=g)
    ts = torch.linspace(1.0, 0.01, 301).tolist()
    score = lambda x, t: gmm.score(x, t, proc)  # noqa: E731
    a = reverse_family(x_T, ts, score, proc, eta=0.0, generator=torch.Generator().manual_seed(1))
    b = reverse_family(x_T, ts, score, proc, eta=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    ref, ref2 = gmm.sample(2000, 0.01, proc, generator=g), gmm.sample(2000, 0.01, proc, generator=g)
    w = lambda u, v: (u.sort(0).values - v.sort(0).values).pow(2).mean().sqrt().item()  # noqa: E731
    assert w(a, ref) < 3 * w(ref2, ref)


def test_reverse_family_bad_input():
    """Oracle: the documented contract (η ≥ 0, decreasing grid)."""
    score = lambda x, t: -x  # noqa: E731
    with pytest.raises(ValueError, match="eta"):
        reverse_family(torch.zeros(2, 1), [1.0, 0.5], score, VP(), eta=-1.0)
    with pytest.raises(ValueError, match="decreasing"):
        reverse_family(torch.zeros(2, 1), [0.5, 1.0], score, VP())


@pytest.mark.parametrize("t", [0.0, 1.0])
def test_play_density_extremes(t):
    """Oracle: the slider's ends run, are finite, and the grid solution stays within 1e-3 (L1) of the exact p_t."""
    out = play_density(t, n_samples=200)
    assert bool(torch.isfinite(out["fp"]).all() and torch.isfinite(out["samples"]).all()) and out["l1_fp"] < 1e-3


@pytest.mark.parametrize("n_paths,eta", [(1, 0.0), (200, 2.0)])
def test_play_paths_extremes(n_paths, eta):
    """Oracle: finite paths of shape (steps + 1, n_paths) at the slider's ends; identical start for ODE and SDE."""
    out = play_paths(n_paths, eta)
    assert out["ode"].shape == (101, n_paths) and bool(torch.isfinite(out["sde"]).all())
    assert torch.equal(out["ode"][0], out["sde"][0]) and math.isfinite(out["ode"].sum().item())


def test_reverse_family_refuses_a_grid_that_starts_where_alpha_is_zero():
    """Oracle: f = α̇/α is infinite where α = 0 (rectified flow at t = 1); the drift would be NaN, so it raises."""
    from diffedu.course.fokker_planck import reverse_family
    from diffedu.processes import make_process
    with pytest.raises(ValueError, match="α_t > 0"):
        reverse_family(torch.zeros(3, 1, dtype=torch.float64), [1.0, 0.5], lambda x, t: x, make_process("flow"))


def test_reverse_family_with_memoised_coefficients_matches_the_tensor_formula():
    """Oracle: the same Euler–Maruyama loop written with process.f(t) and process.g2(t) evaluated as tensors at each
    step (the formula before the coefficients were memoised): equal to float64 rounding (1e-12), for η = 0 and 2."""
    process, gmm = VP(), gmm_1d()
    ts = torch.linspace(process.t_max, 1e-3, 41).tolist()
    x_T = gmm.sample(30, ts[0], process, generator=torch.Generator().manual_seed(0))
    for eta in (0.0, 2.0):
        got = reverse_family(x_T, ts, lambda x, t: gmm.score(x, t, process), process, eta=eta,
                             generator=torch.Generator().manual_seed(1))
        g, x = torch.Generator().manual_seed(1), x_T
        for t, t_next in zip(ts[:-1], ts[1:]):
            t_ = torch.tensor(t, dtype=torch.float64)
            f_t, g2_t = process.f(t_).item(), process.g2(t_).item()
            drift = f_t * x - 0.5 * (1 + eta**2) * g2_t * gmm.score(x, t_, process)
            x = x + drift * (t_next - t) + eta * math.sqrt(g2_t * (t - t_next)) * torch.randn(x.shape, generator=g,
                                                                                                 dtype=x.dtype)
        assert torch.allclose(got, x, rtol=1e-12, atol=1e-12)

"""Sub-VP SDE, forward simulation, closed-form moments, DDPM as a discretized VP SDE (diffedu.course.sdes)."""
import math

import pytest
import torch

from diffedu import VE, VP
from diffedu.processes import SubVP
from diffedu.course.sdes import ddpm_vs_vp, forward_moments, play_pc, simulate_forward


def test_subvp_g2_matches_song_formula():
    """Oracle: Song et al.'s closed form g² = β(1 − e^(−2B)) against Process.g2 derived from (α, σ); float64 round-off."""
    p = SubVP()
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.allclose(p.g2(t), p.g2_formula(t), rtol=1e-10, atol=1e-12)
    assert torch.allclose(p.f(t), -0.5 * p.beta(t), rtol=1e-12)


def test_subvp_variance_below_vp_and_log_snr_inverse():
    """Oracle: σ_subVP = 1 − α² ≤ sqrt(1 − α²) = σ_VP (equal only at t = 0); t_of_log_snr inverts log_snr (float64)."""
    p, vp = SubVP(), VP()
    t = torch.linspace(0.01, 1, 50, dtype=torch.float64)
    assert bool((p.sigma(t) < vp.sigma(t)).all()) and torch.allclose(p.alpha(t), vp.alpha(t))
    t = t[:-1]  # t_of_log_snr's range check is exact at t_max; stay inside
    assert torch.allclose(p.t_of_log_snr(p.log_snr(t)), t, atol=1e-9)


def test_subvp_bad_input():
    """Oracle: the documented ranges; a bad t or β names the argument."""
    with pytest.raises(ValueError, match="t must lie"):
        SubVP().sigma(1.5)
    with pytest.raises(ValueError, match="beta_max"):
        SubVP(1.0, 0.5)


@pytest.mark.parametrize("proc", [VP(), SubVP(), VE(0.01, 5.0)], ids=["vp", "subvp", "ve"])
def test_forward_simulation_matches_moments(proc):
    """Oracle: closed-form m_t = α m0, v_t = α² v0 + σ²; Monte Carlo with 20 000 paths (5 SE on the mean; variance
    within 5·sqrt(2/n) ≈ 0.05 relative, which also covers EM's O(Δt) bias on 400 steps)."""
    g = torch.Generator().manual_seed(0)
    n = 20_000
    x0 = 1.5 + 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    x1 = simulate_forward(x0, torch.linspace(0, 0.6, 401).tolist(), proc, generator=g)
    m, v = forward_moments(proc, 0.6, 1.5, 0.25)
    assert abs(x1.mean() - m) < 5 * math.sqrt(v / n) + 0.01
    assert abs(x1.var() / v - 1) < 0.05


def test_ddpm_vs_vp_converges_first_order():
    """Oracle: DDPM(T, β_min/T, β_max/T) is the VP SDE discretised, so ᾱ_n → α²_{n/T} = e^(−B(n/T)) at first order:
    the error ratio between T = 100 and 1000 is ≈ 10 (7–13), and T × max|√ᾱ_n − α_{n/T}| stays within a factor 1.3
    between T = 100 and 3000."""
    err = lambda out: (out["alpha_bar"] - out["alpha_t"] ** 2).abs().max().item()  # noqa: E731
    assert 7 < err(ddpm_vs_vp(VP(), 100)) / err(ddpm_vs_vp(VP(), 1000)) < 13
    gap = lambda T: (lambda o: (o["alpha_bar"].sqrt() - o["alpha_t"]).abs().max().item())(ddpm_vs_vp(VP(), T))  # noqa: E731
    assert 1 / 1.3 < 100 * gap(100) / (3000 * gap(3000)) < 1.3
    out = ddpm_vs_vp(VP(), 1000)
    assert out["alpha_bar"][0] == 1 and out["alpha_bar"].shape == out["alpha_t"].shape == out["t"].shape == (1001,)
    with pytest.raises(ValueError, match="T must be"):
        ddpm_vs_vp(VP(), 10)  # β_T = 20/10 > 1
    with pytest.raises(TypeError, match="VP"):
        ddpm_vs_vp(VE(), 1000)


def test_simulate_forward_bad_input():
    """Oracle: the documented contract: a strictly increasing grid of ≥ 2 times inside the process's range, a tensor x0."""
    with pytest.raises(ValueError, match="increasing"):
        simulate_forward(torch.zeros(3, 1), [0.5, 0.1], VP())
    with pytest.raises(ValueError, match="increasing"):
        simulate_forward(torch.zeros(3, 1), [0.5], VP())
    with pytest.raises(ValueError, match="ts"):
        simulate_forward(torch.zeros(3, 1), [0.5, 1.5], VP())
    with pytest.raises(TypeError, match="x0"):
        simulate_forward([0.0], [0.1, 0.5], VP())


@pytest.mark.parametrize("n_steps,snr", [(1, 0.01), (1, 1.0), (500, 0.01), (500, 1.0)])
def test_play_pc_extremes(n_steps, snr):
    """Oracle: finite samples and distances at every slider extreme (no exception, no NaN)."""
    out = play_pc(n_steps, snr, n_samples=100)
    assert bool(torch.isfinite(out["em"]).all() and torch.isfinite(out["pc"]).all())
    assert all(math.isfinite(out[k]) for k in ("sw_em", "sw_pc", "floor"))


def test_forward_moments_solve_the_moment_odes_for_ve_too():
    """Oracle: the moment ODE v' = 2 f v + g² integrated by a fine trapezoid rule from v(t_min) = v_0 (float64, 20 000
    steps). VE starts at σ_min > 0, so its variance is v_0 + σ_t² − σ_min² (Song et al. 2021, eq. 29), not v_0 + σ_t²."""
    for proc in (VE(sigma_min=0.5, sigma_max=5.0), VP(), SubVP()):
        ts = torch.linspace(0, 0.8, 20_001, dtype=torch.float64)
        f, g2 = proc.f(ts), proc.g2(ts)
        v = torch.tensor(0.25, dtype=torch.float64)
        for i in range(len(ts) - 1):  # Heun on v' = 2 f v + g²
            h = ts[i + 1] - ts[i]
            k1 = 2 * f[i] * v + g2[i]
            k2 = 2 * f[i + 1] * (v + h * k1) + g2[i + 1]
            v = v + h / 2 * (k1 + k2)
        assert abs(forward_moments(proc, 0.8, 1.5, 0.25)[1].item() - v.item()) < 1e-6 * (1 + v.item()), proc


def test_weak_error_log_q_closed_form():
    """Oracle: a one-component mixture q = N(μ, s²I) in d = 2 has E_q[log q] = −log(2πs²) − 1 in closed form, and
    samples of N(μ, (2s)²I) have E[log q] = −log(2πs²) − 4, so Δ = −3 exactly; Monte Carlo, n = 20 000, within 4 SE.
    The reported SE is the sample sd of log q over sqrt(n)."""
    from diffedu.course.sdes import weak_error_log_q
    from diffedu.toys import GaussianMixture
    mu, s, n = torch.tensor([[0.5, -1.0]], dtype=torch.float64), 0.7, 20_000
    q = GaussianMixture(torch.ones(1), mu, (s**2 * torch.eye(2, dtype=torch.float64))[None])
    h = -math.log(2 * math.pi * s**2) - 1  # E_q[log q]
    g = torch.Generator().manual_seed(0)
    exact = mu + s * torch.randn(n, 2, generator=g, dtype=torch.float64)
    wide = mu + 2 * s * torch.randn(n, 2, generator=g, dtype=torch.float64)
    d0, se0 = weak_error_log_q(exact, q, h)
    d1, se1 = weak_error_log_q(wide, q, h)
    assert abs(d0) < 4 * se0 and abs(d1 + 3) < 4 * se1, (d0, se0, d1, se1)
    assert se0 == pytest.approx(q.log_prob(exact).std().item() / math.sqrt(n))
    with pytest.raises(ValueError, match="at least 2"):
        weak_error_log_q(exact[:1], q, h)


def test_pc_vs_em_equal_nfe_and_exact_start():
    """Oracle: the exact mixture density. (a) Exact samples of gmm_2d (what a perfect sampler returns) have Δ within
    4 SE of 0 against pc_vs_em's own E_q[log q] estimate; (b) chapter 07's claim at 20 NFE, n = 2000 (about 1 s):
    Euler–Maruyama with 20 steps beats predictor–corrector with 10 steps by more than 4 SE of the difference (the
    measured gap is ≈ 0.8, SE ≈ 0.05), and every row carries (Δ, SE) pairs with SE > 0."""
    from diffedu.course.sdes import pc_vs_em, weak_error_log_q
    from diffedu.toys import gmm_2d
    rows = pc_vs_em(steps=(10,), n_samples=2000)
    (row,) = rows
    assert row["steps"] == 10 and all(row[k][1] > 0 for k in ("em", "pc", "em_2n", "pc_big"))
    gap, se = row["em_2n"][0] - row["pc"][0], math.hypot(row["em_2n"][1], row["pc"][1])
    assert gap > 4 * se, (gap, se)
    gmm, g = gmm_2d(), torch.Generator().manual_seed(5)
    log_q_exact = gmm.log_prob(gmm.sample(40_000, generator=g)).mean().item()
    d, se = weak_error_log_q(gmm.sample(2000, generator=g), gmm, log_q_exact)
    assert abs(d) < 4 * se, (d, se)
    with pytest.raises(ValueError, match="n_samples"):
        pc_vs_em(n_samples=1)

"""Tests for diffedu.course.elbo: DDPM posterior, composed kernels, ELBO two ways, DDIM family and inversion."""
import math

import pytest
import torch

from diffedu import DiscreteDDPM, gmm_2d
from diffedu.course.elbo import (require_step, ddim_invert, ddim_sigma_path, elbo_terms, elbo_trajectory, forward_by_composition,
                          gaussian_kl, gaussian_log_prob, posterior, posterior_coefficients, posterior_regression,
                          reverse_mean, train_eps_mlp)
from diffedu.integrators import ddim, ddpm_step
from diffedu.timers import uniform


@pytest.fixture
def proc():
    return DiscreteDDPM(50, 1e-3, 0.2)


def test_composition_equals_closed_form(proc):
    """Oracle: closed form q(x_n|x0) = N(sqrt(ab_n) x0, 1 - ab_n), float64 round-off (1e-12)."""
    m, v = forward_by_composition(proc.betas)
    assert torch.allclose(m, proc.alpha_bar.sqrt(), atol=1e-12, rtol=0)
    assert torch.allclose(v, 1 - proc.alpha_bar, atol=1e-12, rtol=0)


def test_posterior_is_bayes_product(proc):
    """Oracle: the product of Gaussians q(x_n|x_{n-1}) q(x_{n-1}|x0) normalised on a fine 1-D grid (mean/var 1e-6)."""
    x0, x_n = 0.7, -0.3
    for n in (2, 10, 50):
        ab_prev, beta_n = proc.alpha_bar[n - 1].item(), proc.betas[n - 1].item()
        mean, var = posterior(torch.tensor([[x_n]], dtype=torch.float64), torch.tensor([[x0]], dtype=torch.float64),
                              n, proc)
        grid = torch.linspace(-4, 4, 400_001, dtype=torch.float64)
        logw = (-(x_n - math.sqrt(1 - beta_n) * grid) ** 2 / (2 * beta_n)
                - (grid - math.sqrt(ab_prev) * x0) ** 2 / (2 * (1 - ab_prev)))
        w = torch.softmax(logw, 0)
        m_grid = (w * grid).sum().item()
        v_grid = (w * (grid - m_grid) ** 2).sum().item()
        assert abs(mean.item() - m_grid) < 1e-6 and abs(var - v_grid) < 1e-6 * max(1, var / 1e-4)


def test_posterior_first_step_has_zero_variance(proc):
    """Oracle: ab_0 = 1 gives c_0 = 1, c_n = 0, beta~_1 = 0 exactly."""
    c0, cn, bt = posterior_coefficients(proc, 1)
    assert c0 == pytest.approx(1.0, abs=1e-15) and cn == 0.0 and bt == 0.0


def test_posterior_regression_matches(proc):
    """Oracle: closed-form posterior; Monte Carlo regression with 2e5 residuals (SE < 5e-4), tolerance 3e-3 / 3 %."""
    g = torch.Generator().manual_seed(0)
    x0 = gmm_2d().sample(100_000, generator=g)
    for n in (3, 30):
        c0, cn, bt = posterior_coefficients(proc, n)
        f0, fn, fv = posterior_regression(x0, n, proc, generator=g)
        assert abs(f0 - c0) < 3e-3 and abs(fn - cn) < 3e-3 and abs(fv / bt - 1) < 0.03


def test_reverse_mean_with_true_eps_is_posterior_mean(proc):
    """Oracle: mu_theta with the true ε equals mu~(x_n, x0) (Ho et al. eq. 10), float64 round-off."""
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
    for n in (2, 25, 50):
        ab = proc.alpha_bar[n].item()
        x_n = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
        assert torch.allclose(reverse_mean(x_n, eps, n, proc), posterior(x_n, x0, n, proc)[0], atol=1e-12)


def test_gaussian_kl_and_log_prob_against_torch():
    """Oracle: torch.distributions Normal KL and log_prob (float64, 1e-10)."""
    g = torch.Generator().manual_seed(2)
    mq, mp = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    D = torch.distributions
    ref = D.kl_divergence(D.Normal(mq, math.sqrt(0.3)), D.Normal(mp, math.sqrt(0.7))).sum(1)
    assert torch.allclose(gaussian_kl(mq, 0.3, mp, 0.7), ref, atol=1e-10)
    assert torch.allclose(gaussian_log_prob(mq, mp, 0.7), D.Normal(mp, math.sqrt(0.7)).log_prob(mq).sum(1), atol=1e-10)


def test_elbo_two_ways_agree_and_bound_exact_model(proc):
    """Oracles: the term-by-term and the trajectory ELBO estimate the same number (Monte Carlo, 4 combined SE);
    with the exact mixture ε the ELBO lies below the exact E log p(x0) (Jensen), up to 4 SE."""
    gmm = gmm_2d()
    g = torch.Generator().manual_seed(3)
    eps_model = lambda x, n: gmm.eps(x, n, proc)  # exact ε̂ = E[ε | x_n]
    x0 = gmm.sample(2000, generator=g)
    terms = elbo_terms(eps_model, x0, proc, generator=g)
    traj = elbo_trajectory(eps_model, x0, proc, generator=g)
    total = -(terms["prior"] + terms["transitions"].sum(0) + terms["reconstruction"])
    assert torch.allclose(total, terms["total"], atol=1e-10)
    se = math.sqrt(terms["total"].var().item() / 2000 + traj.var().item() / 2000)
    assert abs(terms["total"].mean().item() - traj.mean().item()) < 4 * se
    assert terms["total"].mean().item() < gmm.log_prob(x0).mean().item() + 4 * se
    assert bool((terms["transitions"] >= 0).all()) and bool((terms["prior"] >= 0).all())


def test_train_eps_mlp_learns(proc):
    """Oracle: the ε-loss of a trained model falls well below 2 (= E||ε||² in 2-D, the loss of predicting 0)."""
    gmm = gmm_2d()
    g = torch.Generator().manual_seed(4)
    _, losses = train_eps_mlp(lambda b, gen: gmm.sample(b, generator=gen), proc, 300, batch=256, hidden=64,
                              generator=g)
    assert sum(losses[-50:]) / 50 < 1.2


def test_ddim_family_keeps_marginals():
    """Oracle: q(x_s|x0) = N(alpha_s x0, sigma_s²); Monte Carlo with 2e4 samples, mean 0.03 / variance 0.05 (≥ 4 SE)."""
    proc = DiscreteDDPM(200)
    x0 = gmm_2d().sample(20_000, generator=torch.Generator().manual_seed(5))
    ts = uniform(proc, 5, t_end=10.0)
    for eta in (0.0, 1.0):
        path = ddim_sigma_path(x0, ts, proc, eta, generator=torch.Generator().manual_seed(6))
        for x_s, s in zip(path, ts.tolist()):
            alpha_s, sigma_s = (c.item() for c in proc.coefficients(torch.tensor(s, dtype=torch.float64))[:2])
            r = (x_s - alpha_s * x0) / sigma_s
            assert r.mean(0).abs().max() < 0.03 and (r.var(0) - 1).abs().max() < 0.05


def test_ddim_eta1_is_ddpm_step():
    """Oracle: ancestral DDPM step with the same noise, float64 round-off (1e-12)."""
    proc, gmm = DiscreteDDPM(100), gmm_2d()
    pred = gmm.predictor(proc)
    from diffedu.integrators import ddim_step
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    a, _ = ddim_step(x, 60.0, 30.0, pred, proc, eta=1.0, generator=torch.Generator().manual_seed(8))
    b, _ = ddpm_step(x, 60.0, 30.0, pred, proc, generator=torch.Generator().manual_seed(8))
    assert torch.allclose(a, b, atol=1e-12)


def test_ddim_inversion_reconstructs():
    """Oracle: the data point itself; error falls with the step count and is < 0.1 at 100 steps (exact denoiser)."""
    proc, gmm = DiscreteDDPM(1000), gmm_2d()
    pred = gmm.predictor(proc)
    x0 = gmm.sample(200, generator=torch.Generator().manual_seed(9))
    errs = []
    for N in (10, 100):
        grid = uniform(proc, N)
        x_rec = ddim(ddim_invert(x0, grid.flip(0), pred, proc), grid, pred, proc)
        errs.append((x_rec - x0).norm(dim=1).mean().item())
    assert errs[1] < errs[0] and errs[1] < 0.1


def test_bad_inputs(proc):
    """Oracle: the documented errors (ValueError/TypeError naming the argument)."""
    with pytest.raises(ValueError, match="n must be an integer step"):
        posterior_coefficients(proc, 0)
    with pytest.raises(ValueError, match="n must be an integer step"):
        require_step(proc, 2.5)
    with pytest.raises(TypeError, match="DiscreteDDPM"):
        require_step(object(), 1)
    with pytest.raises(ValueError, match="var_q and var_p"):
        gaussian_kl(torch.zeros(1, 2), 0.0, torch.zeros(1, 2), 1.0)
    with pytest.raises(ValueError, match="increasing grid"):
        ddim_invert(torch.zeros(2, 2), [3.0, 1.0], None, proc)
    with pytest.raises(ValueError, match="steps"):
        train_eps_mlp(lambda b, g: torch.zeros(b, 2), proc, 0)


def test_clipped_x0_clamps_and_refuses_other_kinds():
    """Oracle: torch.clamp of the wrapped prediction; ddpm/ddim through it stay inside [lo, hi] at the last step."""
    from diffedu.course.elbo import ClippedX0
    from diffedu.integrators import ddim
    proc = DiscreteDDPM(100)
    raw = lambda x, t, kind="x0": 5 * x  # noqa: E731  an x̂0 far outside [-1, 1]
    clipped = ClippedX0(raw)
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(clipped(x, 50.0), (5 * x).clamp(-1, 1))
    out = ddim(x, torch.tensor([100.0, 50.0, 0.0], dtype=torch.float64), clipped, proc, eta=0.0)
    assert float(out.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="kind"):
        clipped(x, 50.0, "eps")
    with pytest.raises(ValueError, match="lo"):
        ClippedX0(raw, 1.0, -1.0)

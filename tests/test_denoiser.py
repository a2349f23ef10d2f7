"""Tests of diffedu.denoiser.Denoiser. Oracles: the integrator called directly on the same grid and start (the
Denoiser must add nothing); the prior's law N(0, σ(t_max)² I) by its sample standard deviation (Monte Carlo,
4000 × 2 draws: 5 % tolerance is > 6 standard errors); the callback/trajectory contract."""
from __future__ import annotations

import pytest
import torch

from diffedu import Denoiser, gmm_2d, make_process
from diffedu.integrators import ddim, heun
from diffedu.timers import make_grid


def setup(process_name="edm"):
    gmm, process = gmm_2d(), make_process(process_name)
    return gmm, process, gmm.predictor(process)


def test_sample_equals_integrator_on_timer_grid():
    """Oracle: heun() on karras(ρ = 5) from the same x_T, bit for bit."""
    gmm, process, pred = setup()
    x_T = 80 * torch.randn(32, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sampler = Denoiser(process, pred, "heun", "karras", timer_kwargs=dict(rho=5.0))
    want = heun(x_T, make_grid("karras", process, 12, rho=5.0), pred, process)
    assert torch.equal(sampler.sample(x_T, 12), want)


def test_trajectory_and_callback():
    """Oracle: the contract — n_steps + 1 states starting at x_T and ending at the sample; one callback per step."""
    gmm, process, pred = setup("vp")
    seen = []
    sampler = Denoiser(process, pred, "ddim", "log_snr", eta=0.5)
    x0, traj = sampler.sample(16, 8, shape=(2,), generator=torch.Generator().manual_seed(1), return_trajectory=True,
                              callback=seen.append)
    assert traj.shape == (9, 16, 2) and torch.equal(traj[-1], x0)
    assert [d["i"] for d in seen] == list(range(8)) and set(seen[0]) == {"i", "t", "t_next", "x", "x0_hat"}
    # reproducible with the same generator
    again = sampler.sample(16, 8, shape=(2,), generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, x0)


def test_prior_scale():
    """Oracle: Monte Carlo std of N(0, σ_T² I) draws within 5 % of σ_T (VE: σ_max = 50)."""
    _, process, pred = setup("ve")
    x = Denoiser(process, pred).prior(4000, (2,), torch.Generator().manual_seed(2))
    assert x.shape == (4000, 2)
    assert abs(x.std().item() / 50.0 - 1) < 0.05


def test_ddim_by_name_and_bad_input():
    """Oracle: ddim() directly; and the documented errors for unknown names, a missing shape and n < 1."""
    gmm, process, pred = setup("flow")
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.equal(Denoiser(process, pred, "ddim", "uniform").sample(x_T, 5),
                       ddim(x_T, make_grid("uniform", process, 5), pred, process))
    with pytest.raises(ValueError, match="unknown integrator"):
        Denoiser(process, pred, "rk4")
    with pytest.raises(ValueError, match="unknown timer"):
        Denoiser(process, pred, "heun", "linear")
    with pytest.raises(ValueError, match="shape"):
        Denoiser(process, pred).sample(10, 5)
    with pytest.raises(ValueError, match="n must be"):
        Denoiser(process, pred).prior(0, (2,))
    with pytest.raises(ValueError, match="n_steps"):
        Denoiser(process, pred).sample(x_T, 0)
    with pytest.raises(TypeError, match="process"):
        Denoiser("vp", pred)


def test_a_keyword_of_another_sampler_is_refused_naming_both():
    """Oracle: the integrators' own signatures. η belongs to DDIM and S_churn to Heun; handing one to a sampler that
    does not take it raises a ValueError naming the keyword and its sampler (it used to reach the network as
    conditioning and fail there), while the sampler's own keywords are accepted."""
    process = make_process("vp")
    gmm = gmm_2d()
    pred = gmm.predictor(process)
    with pytest.raises(ValueError, match="heun does not take eta .*belongs to ddim"):
        Denoiser(process, pred, "heun", eta=0.5)
    with pytest.raises(ValueError, match="euler does not take s_churn"):
        Denoiser(process, pred, "euler", s_churn=1.0)
    Denoiser(process, pred, "ddim", eta=0.5)
    Denoiser(process, pred, "heun", s_churn=1.0)

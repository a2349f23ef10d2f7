"""Tests of diffedu.integrators.

Oracles: the closed-form PF-ODE solution for Gaussian data (x_t − α_t μ scales with sqrt(α_t² s² + σ_t²)), used to
measure convergence orders; algebraic identities the theory promises, checked step by step in float64 (DDIM η = 1 vs
the ancestral posterior; DDIM η = 0 vs DPM-Solver++ first order; Euler vs DDIM where α = 1 or for rectified flow);
exact GMM samples with a sliced-Wasserstein noise floor for the SDE samplers.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu import GaussianMixture, gmm_2d
from diffedu.integrators import (INTEGRATORS, SAMPLERS, ddim, ddim_step, ddpm, ddpm_step, dpmpp_1, euler, euler_step,
                                 get_integrator, heun, heun_step, langevin_corrector, nfe_per_step, steps_for_nfe)
from diffedu.parametrization import Counting
from diffedu.metrics import sliced_wasserstein
from diffedu.processes import PROCESSES, make_process
from diffedu.timers import TIMERS, make_grid

MU, S2 = torch.tensor([0.7, -0.4], dtype=torch.float64), 0.3


def gaussian_setup(process_name: str, n: int = 16):
    gauss = GaussianMixture([1.0], MU[None], (torch.eye(2, dtype=torch.float64) * S2)[None])
    process = make_process(process_name)
    pred = gauss.predictor(process)
    x_T = process.sigma(process.t_max).item() * torch.randn(n, 2, generator=torch.Generator().manual_seed(0),
                                                              dtype=torch.float64)
    alpha_T, sigma_T = (c.item() for c in process.coefficients(process.t_max)[:2])
    alpha_0, sigma_0 = (c.item() for c in process.coefficients(process.t_min)[:2])
    exact = alpha_0 * MU + math.sqrt(alpha_0**2 * S2 + sigma_0**2) * (x_T - alpha_T * MU) / math.sqrt(alpha_T**2 * S2
                                                                                                        + sigma_T**2)
    return process, pred, x_T, exact


@pytest.mark.parametrize("process_name,timer", [("edm", "karras"), ("cosine", "log_snr")])
@pytest.mark.parametrize("method,order", [("euler", 1), ("ddim", 1), ("heun", 2), ("dpmpp_2s", 2), ("dpmpp_2m", 2)])
def test_convergence_order_on_gaussian(process_name, timer, method, order):
    """Oracle: the closed-form PF-ODE endpoint for Gaussian data; the measured order over N = 16 → 64 (log2 of the
    error ratio per doubling, averaged) must lie within ±0.25 of the theory."""
    process, pred, x_T, exact = gaussian_setup(process_name)
    errs = [(INTEGRATORS[method](x_T, make_grid(timer, process, n), pred, process) - exact).norm(dim=1).mean().item()
            for n in (16, 32, 64)]
    measured = math.log2(errs[0] / errs[2]) / 2
    assert abs(measured - order) <= 0.25, (errs, measured)


@pytest.mark.parametrize("process_name", ["vp", "cosine", "edm", "flow", "ddpm"])
def test_ddim_eta1_equals_ancestral_step_by_step(process_name):
    """Oracle: DDIM(η = 1) and the ancestral posterior q(x_s | x_t, x̂₀) are the same Gaussian; with the same noise
    stream the two implementations agree at every step to float64 round-off (atol 1e-9 at data scale)."""
    gmm, process = gmm_2d(), make_process(process_name)
    pred = gmm.predictor(process)
    x_T = gmm.marginal(process.t_max, process).sample(32, generator=torch.Generator().manual_seed(0))
    ts = make_grid("uniform", process, 12)
    steps_a, steps_b = [], []
    out_a = ddim(x_T, ts, pred, process, eta=1.0, generator=torch.Generator().manual_seed(5),
                 callback=lambda d: steps_a.append(d["x"]))
    out_b = ddpm(x_T, ts, pred, process, generator=torch.Generator().manual_seed(5),
                 callback=lambda d: steps_b.append(d["x"]))
    for a, b in zip(steps_a, steps_b):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * process.sigma(process.t_max).item())
    torch.testing.assert_close(out_a, out_b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("process_name", sorted(PROCESSES))
def test_ddim_eta0_equals_dpmpp_first_order(process_name):
    """Oracle: DDIM(η = 0) in (α, σ) form and DPM-Solver++(1) in λ form (with expm1) are the same update
    (Lu et al. 2022, §4); agreement to 1e-9 relative over a log-SNR grid."""
    gmm, process = gmm_2d(), make_process(process_name)
    pred = gmm.predictor(process)
    x_T = process.sigma(process.t_max).item() * torch.randn(32, 2, generator=torch.Generator().manual_seed(1),
                                                              dtype=torch.float64)
    ts = make_grid("log_snr", process, 15)
    torch.testing.assert_close(ddim(x_T, ts, pred, process), dpmpp_1(x_T, ts, pred, process), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("process_name", ["edm", "flow", "ve"])
def test_euler_equals_ddim_when_alpha_is_affine(process_name):
    """Oracle: for α = 1 (EDM, VE) and for rectified flow the PF-ODE's Euler step is exactly DDIM(η = 0)
    (algebra: x + (s − t)(α̇x̂₀ + σ̇ε̂) = α_s x̂₀ + σ_s ε̂ when α, σ are affine in t; VE is affine in log σ only — so
    VE is checked on a grid where it is not, expecting a visible difference)."""
    gmm, process = gmm_2d(), make_process(process_name)
    pred = gmm.predictor(process)
    x = gmm.marginal(0.6 * process.t_max, process).sample(16, generator=torch.Generator().manual_seed(2))
    a, _ = euler_step(x, 0.6 * process.t_max, 0.3 * process.t_max, pred, process)
    b, _ = ddim_step(x, 0.6 * process.t_max, 0.3 * process.t_max, pred, process)
    if process_name == "ve":
        assert (a - b).abs().max().item() > 1e-3
    else:
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_heun_step_is_trapezoid_and_euler_into_zero():
    """Oracle: Heun = Euler with the average of the two end-point velocities; into σ = 0 it is Euler (no evaluation
    at σ = 0), here EDM where Euler into σ = 0 returns x̂₀."""
    gmm, process = gmm_2d(), make_process("edm")
    pred = gmm.predictor(process)
    x = gmm.marginal(2.0, process).sample(8, generator=torch.Generator().manual_seed(3))
    x_euler, _ = euler_step(x, 2.0, 1.0, pred, process)
    d_cur = (x - pred(x, 2.0)) / 2.0
    d_prime = (x_euler - pred(x_euler, 1.0)) / 1.0
    torch.testing.assert_close(heun_step(x, 2.0, 1.0, pred, process)[0], x - 0.5 * (d_cur + d_prime))
    torch.testing.assert_close(heun_step(x, 0.01, 0.0, pred, process)[0], pred(x, 0.01))


def test_churn_reproducible_and_zero_churn_is_deterministic():
    """Oracle: the same generator seed gives the same churned sample; s_churn = 0 ignores the generator."""
    gmm, process = gmm_2d(), make_process("edm")
    pred = gmm.predictor(process)
    x_T = 80 * torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = make_grid("karras", process, 10)
    a = heun(x_T, ts, pred, process, s_churn=20, generator=torch.Generator().manual_seed(4))
    b = heun(x_T, ts, pred, process, s_churn=20, generator=torch.Generator().manual_seed(4))
    c = heun(x_T, ts, pred, process)
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max().item() > 1e-6
    torch.testing.assert_close(heun(x_T, ts, pred, process, generator=torch.Generator().manual_seed(9)), c)


@pytest.mark.parametrize("method", ["euler_maruyama", "ddpm", "pc", "heun_churn"])
def test_sde_samplers_match_exact_mixture(method):
    """Oracle: exact samples of gmm_2d. Sliced W2 (1500 samples, 64 fixed directions) of the sampler's output to an
    exact set must be below 1.5 × the exact-vs-exact distance plus 0.02 (the floor measured with the same sizes:
    about 0.05; the margin allows Monte Carlo spread and the O(1/N) discretisation bias at N = 100 steps)."""
    gmm, process = gmm_2d(), make_process("vp")
    g = torch.Generator().manual_seed(0)
    exact, exact2 = gmm.sample(1500, generator=g), gmm.sample(1500, generator=g)
    x_T = gmm.marginal(process.t_max, process).sample(1500, generator=g)
    pred = gmm.predictor(process)
    noise = torch.Generator().manual_seed(1)
    if method == "heun_churn":
        x0 = heun(x_T, make_grid("uniform", process, 50), pred, process, s_churn=30, generator=noise)
    else:
        x0 = INTEGRATORS[method](x_T, make_grid("uniform", process, 100), pred, process, generator=noise)
    sw = sliced_wasserstein(x0, exact, 64, generator=torch.Generator().manual_seed(2)).item()
    floor = sliced_wasserstein(exact2, exact, 64, generator=torch.Generator().manual_seed(2)).item()
    assert sw < 1.5 * floor + 0.02, (sw, floor)


def _closed_form_gaussian(process):
    """The exact x̂₀ and score of N(MU, S2·I) at any t, as a plain function of (x, t, kind): the sweep's predictor,
    cheap enough (process.at is memoised) to run every grid of every sampler."""
    def predictor(x, t, kind="x0", **cond):
        alpha_t, sigma_t, _, _ = process.at(t)
        var = alpha_t**2 * S2 + sigma_t**2  # Var[x_t] per coordinate
        if kind == "score":
            return -(x - alpha_t * MU) / var
        return MU + alpha_t * S2 / var * (x - alpha_t * MU)
    return predictor


SWEEP_STEPS = (*range(1, 51), *range(60, 201, 10), 199)


@pytest.mark.slow
@pytest.mark.parametrize("process_name", sorted(PROCESSES))
def test_no_nan_for_any_step_count(process_name):
    """Oracle: finiteness. Every sampler × every timer × the step counts of ``SWEEP_STEPS`` (every N from 1 to 50,
    where grids change shape fastest and the few-step edge cases live, then every 10th to 200, and 199) on this
    process returns finite samples from an exact x_T, with the exact Gaussian denoiser as predictor. (Every N up to
    200 cost 7 minutes of CI; the Hypothesis suite in test_reliability_properties.py draws other N in 1–200.)"""
    process = make_process(process_name)
    predictor = _closed_form_gaussian(process)
    x_T = process.at(process.t_max)[1] * torch.randn(4, 2, generator=torch.Generator().manual_seed(0),
                                                     dtype=torch.float64)
    failures, runs = [], 0
    for timer in sorted(TIMERS):
        grids = {n_steps: make_grid(timer, process, n_steps) for n_steps in SWEEP_STEPS}
        for method in sorted(INTEGRATORS):
            for n_steps, ts in grids.items():
                x0 = INTEGRATORS[method](x_T, ts, predictor, process, generator=torch.Generator().manual_seed(n_steps))
                runs += 1
                if not bool(torch.isfinite(x0).all()):
                    failures.append((timer, method, n_steps))
    assert runs == len(TIMERS) * len(INTEGRATORS) * len(SWEEP_STEPS)
    assert not failures, f"non-finite samples for (timer, method, N): {failures[:10]}"


def test_no_nan_with_the_mixture_denoiser():
    """Oracle: finiteness. The exhaustive sweep above uses a Gaussian's denoiser; here the 6-component mixture's
    (posterior weights that saturate near data) drives every sampler × process × timer at N = 1, 2, 7 and 50."""
    gmm = gmm_2d()
    for process_name in sorted(PROCESSES):
        process = make_process(process_name)
        pred = gmm.predictor(process)
        x_T = process.at(process.t_max)[1] * torch.randn(4, 2, generator=torch.Generator().manual_seed(1),
                                                         dtype=torch.float64)
        for timer in sorted(TIMERS):
            for method in sorted(INTEGRATORS):
                for n_steps in (1, 2, 7, 50):
                    x0 = INTEGRATORS[method](x_T, make_grid(timer, process, n_steps), pred, process,
                                             generator=torch.Generator().manual_seed(n_steps))
                    assert bool(torch.isfinite(x0).all()), (process_name, timer, method, n_steps)


def test_float32_works():
    """Oracle: float32 inputs give float32, finite outputs within 1e-3 of the float64 run (round-off only)."""
    gmm, process = gmm_2d(), make_process("vp")
    pred64 = gmm.predictor(process)
    x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = make_grid("log_snr", process, 20)
    y64 = INTEGRATORS["dpmpp_2m"](x_T, ts, pred64, process)
    y32 = INTEGRATORS["dpmpp_2m"](x_T.float(), ts, pred64, process)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), y64, rtol=1e-3, atol=1e-3)


def test_bad_input():
    """Oracle: the documented errors — unknown names, η outside [0, 1], increasing grids, zero-step grids, non-tensors."""
    gmm, process = gmm_2d(), make_process("vp")
    pred = gmm.predictor(process)
    x = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown integrator"):
        get_integrator("rk45")
    with pytest.raises(ValueError, match="eta"):
        ddim(x, make_grid("uniform", process, 5), pred, process, eta=-0.1)
    with pytest.raises(ValueError, match="eta"):
        ddim_step(x, 0.5, 0.4, pred, process, eta=1.5)
    with pytest.raises(ValueError, match="strictly decreasing"):
        euler(x, torch.linspace(0, 1, 5, dtype=torch.float64), pred, process)
    with pytest.raises(ValueError, match="at least 2"):
        heun(x, torch.tensor([1.0]), pred, process)
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        euler([[0.0, 0.0]], make_grid("uniform", process, 5), pred, process)
    with pytest.raises(ValueError, match="s_churn"):
        heun(x, make_grid("uniform", process, 5), pred, process, s_churn=-1)
    with pytest.raises(ValueError, match="σ_t > 0"):
        langevin_corrector(x, 0.0, pred, process)
    with pytest.raises(ValueError, match="snr"):
        langevin_corrector(x, 0.5, pred, process, snr=0)


@pytest.mark.gpu
def test_follows_cuda_device():
    """Oracle: the CPU run. On CUDA, Heun and DDIM(η = 0.5) return CUDA tensors close to the CPU answer (Heun) and finite."""
    gmm, process = gmm_2d(), make_process("edm")
    gmm_cuda = gmm.to(device="cuda")
    pred = gmm.predictor(process)
    pred_cuda = gmm_cuda.predictor(process)
    x_T = 80 * torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = make_grid("karras", process, 18)
    y = heun(x_T.cuda(), ts, pred_cuda, process)
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), heun(x_T, ts, pred, process), rtol=1e-6, atol=1e-6)
    z = ddim(x_T.cuda(), ts, pred_cuda, process, eta=0.5, generator=torch.Generator(device="cuda").manual_seed(0))
    assert bool(torch.isfinite(z).all())


@pytest.mark.slow
def test_euler_maruyama_is_weak_order_one():
    """Oracle: the exact mixture density. The weak error Δ(N) = mean log q(x0) over 20 000 samples minus E_q[log q]
    (200 000 exact samples) on VP with the uniform grid: Euler–Maruyama is weak order 1 (Kloeden & Platen 1992), so
    the slope of log|Δ| between N = 20 and N = 80 lies in [0.7, 1.7] (measured 1.23; the standard error of Δ(80) is
    0.007 against |Δ(80)| ≈ 0.04, i.e. ±0.15 on the slope), and the samples are too spread (Δ < 0) at N = 20."""
    gmm, process = gmm_2d(), make_process("vp")
    pred = gmm.predictor(process)
    g = torch.Generator().manual_seed(0)
    log_q_exact = gmm.log_prob(gmm.sample(200_000, generator=g)).mean().item()
    x_T = gmm.marginal(process.t_max, process).sample(20_000, generator=g)
    delta = {}
    for n_steps in (20, 80):
        x0 = INTEGRATORS["euler_maruyama"](x_T, make_grid("uniform", process, n_steps), pred, process,
                                           generator=torch.Generator().manual_seed(n_steps))
        delta[n_steps] = gmm.log_prob(x0).mean().item() - log_q_exact
    slope = math.log(abs(delta[20]) / abs(delta[80])) / math.log(4)
    assert delta[20] < 0 and 0.7 <= slope <= 1.7, (delta, slope)


@pytest.mark.parametrize("method", ["ddim", "dpmpp_1", "dpmpp_2s", "dpmpp_2m", "ddpm"])
def test_final_step_into_sigma_zero_is_the_explicit_branch(method):
    """Oracle: the definition of the branch — into σ = 0 (λ = +∞, where log σ would be log 0) the sampler returns
    the last x̂₀ exactly, for VP on the log-SNR grid, which ends with the jump σ_min → 0."""
    gmm, process = gmm_2d(), make_process("vp")
    pred = gmm.predictor(process)
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    seen = []
    x0 = INTEGRATORS[method](x_T, make_grid("log_snr", process, 6), pred, process,
                             generator=torch.Generator().manual_seed(1), callback=seen.append)
    assert seen[-1]["t_next"] == 0.0 and torch.equal(x0, seen[-1]["x0_hat"])


@pytest.mark.parametrize("method", sorted(INTEGRATORS))
def test_every_integrator_takes_generator_and_callback(method):
    """Oracle: the contract — one callback per step with (i, t, t_next, x, x0_hat), the last x equal to the output,
    and the same generator seed giving the same samples (for stochastic and deterministic samplers alike)."""
    gmm, process = gmm_2d(), make_process("cosine")
    pred = gmm.predictor(process)
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = make_grid("uniform", process, 5)
    seen = []
    a = INTEGRATORS[method](x_T, ts, pred, process, generator=torch.Generator().manual_seed(3), callback=seen.append)
    b = INTEGRATORS[method](x_T, ts, pred, process, generator=torch.Generator().manual_seed(3))
    assert [d["i"] for d in seen] == list(range(5)) and set(seen[0]) == {"i", "t", "t_next", "x", "x0_hat"}
    assert torch.equal(seen[-1]["x"], a) and torch.equal(a, b)


def test_grid_outside_the_process_range_is_refused():
    """Oracle: the documented error — a time outside [t_min, t_max] names the range, for every integrator."""
    gmm, process = gmm_2d(), make_process("vp")
    pred = gmm.predictor(process)
    x = torch.randn(4, 2, dtype=torch.float64)
    for method in sorted(INTEGRATORS):
        with pytest.raises(ValueError, match=r"t_min, t_max\] = \[0, 1\]"):
            INTEGRATORS[method](x, torch.tensor([1.5, 0.5, 0.0], dtype=torch.float64), pred, process)


def test_ddim_and_ddpm_steps_refuse_to_step_away_from_data():
    """Oracle: the documented contract. Their noise scale √(σ_s² − c²) and posterior variance need t_next < t; a
    step with t_next ≥ t raises a ValueError naming t_next instead of silently clipping a variance to 0."""
    process, pred, x, _ = gaussian_setup("vp", n=4)
    for step in (ddim_step, ddpm_step):
        with pytest.raises(ValueError, match="t_next must be < t"):
            step(x, 0.3, 0.6, pred, process)
        with pytest.raises(ValueError, match="t_next must be < t"):
            step(x, 0.3, 0.3, pred, process)


def test_a_prediction_of_the_wrong_shape_is_refused():
    """Oracle: the contract that a predictor returns x's shape. A (B, 1) answer for (B, 2) points used to broadcast
    into a plausible-looking sample; every sampler now raises a ValueError naming both shapes."""
    process = make_process("vp")
    x = torch.randn(8, 2, dtype=torch.float64)
    for method in sorted(INTEGRATORS):
        with pytest.raises(ValueError, match=r"x's shape \(8, 2\)"):
            INTEGRATORS[method](x, make_grid("uniform", process, 3), lambda x, t, kind="x0", **c: x[:, :1], process,
                                generator=torch.Generator().manual_seed(0))


def test_langevin_corrector_skips_a_zero_score():
    """Oracle: the step rule τ = 2(r‖z‖/‖s‖)² is undefined at ‖s‖ = 0 (it used to give NaN); the corrector leaves x
    unchanged there."""
    process = make_process("vp")
    x = torch.zeros(1, 2, dtype=torch.float64)
    out = langevin_corrector(x, 0.5, lambda x, t, kind="x0", **c: torch.zeros_like(x), process,
                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


def test_an_ode_step_cannot_start_at_sigma_zero():
    """Oracle: ε̂ = (x − α x̂₀)/σ is undefined at σ_t = 0 (it used to raise ZeroDivisionError); the step says why."""
    process, pred, x, _ = gaussian_setup("vp", n=4)
    for step in (euler_step, heun_step):
        with pytest.raises(ValueError, match="σ_t > 0"):
            step(x, 0.0, 0.5, pred, process)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("process_name", ["edm", "ve"])  # EDM's grids end at σ = 0 (a final jump), VE's at σ_min > 0
def test_steps_for_nfe_matches_counted_evaluations(name, process_name):
    """Oracle: the predictor's own call count (``Counting``). For every sampler in the table, the steps that
    ``steps_for_nfe`` allows spend at most the budget, and one step more would exceed it; with the final jump into
    σ = 0 Heun and DPM-Solver++(2S) spend 1 evaluation on their last step."""
    gmm, process = gmm_2d(), make_process(process_name)
    final_jump = process.sigma(process.t_min).item() == 0
    pred = Counting(gmm.predictor(process))
    x_T = gmm.marginal(process.t_max, process).sample(4, generator=torch.Generator().manual_seed(0))

    def spent(n_steps):
        pred.nfe = 0
        INTEGRATORS[name](x_T, make_grid("karras", process, n_steps), pred, process,
                          generator=torch.Generator().manual_seed(1))
        return pred.nfe

    for nfe in (2, 5, 20):
        n_steps = steps_for_nfe(name, nfe, final_jump=final_jump)
        assert spent(n_steps) <= nfe < spent(n_steps + 1), (name, nfe, n_steps)


def test_the_sampler_table():
    """Oracle: the papers — Heun and DPM-Solver++(2S) evaluate twice per step, predictor–corrector 1 + corrector_steps
    times, the rest once; ODE orders 1 (Euler, DDIM, DPM-Solver++ 1) and 2 (Heun, DPM-Solver++ 2S/2M); None for the
    SDE samplers. Hand-counted budgets; too small a budget is a ValueError naming nfe."""
    assert {name: nfe_per_step(name) for name in SAMPLERS} == {
        "euler": 1, "ddim": 1, "heun": 2, "dpmpp_1": 1, "dpmpp_2s": 2, "dpmpp_2m": 1, "euler_maruyama": 1, "ddpm": 1,
        "pc": 2}
    assert nfe_per_step("pc", corrector_steps=3) == 4 and steps_for_nfe("pc", 20, corrector_steps=3) == 5
    assert {name: s.order for name, s in SAMPLERS.items()} == {
        "euler": 1, "ddim": 1, "heun": 2, "dpmpp_1": 1, "dpmpp_2s": 2, "dpmpp_2m": 2, "euler_maruyama": None,
        "ddpm": None, "pc": None}
    assert steps_for_nfe("heun", 19, final_jump=True) == 10 and steps_for_nfe("dpmpp_2s", 20) == 10
    assert steps_for_nfe("heun", 19) == 9 and steps_for_nfe("euler", 20, final_jump=True) == 20
    assert SAMPLERS["ddim"].options == ("eta",) and SAMPLERS["euler"].options == ()
    for name, nfe in [("heun", 1), ("euler", 0), ("euler", 2.5), ("euler", True)]:
        with pytest.raises(ValueError, match="nfe"):
            steps_for_nfe(name, nfe)
    with pytest.raises(ValueError, match="unknown integrator"):
        steps_for_nfe("rk45", 10)


def test_heun_skips_its_correction_only_past_the_gain_bound():
    """Oracle: EDM's 2-step grid [80, 0.002, 0] (correction gain ½(r − 1) ≈ 20 000, then σ = 0) and its 10-step grid
    (gains ½(σ_i/σ_{i+1} − 1) < 10, computed here from the grid itself); a step past the bound equals ``euler_step``
    bit for bit, and ``max_correction_gain = inf`` is the default Algorithm 1 bit for bit."""
    from diffedu.integrators import euler_step, heun_corrects
    process, pred, x_T, _ = gaussian_setup("edm")
    two = make_grid("karras", process, 2)
    assert [heun_corrects(process, a, b, 10.0) for a, b in zip(two[:-1].tolist(), two[1:].tolist())] == [False, False]
    assert heun_corrects(process, two[0].item(), two[1].item())  # Algorithm 1 corrects there
    ten = make_grid("karras", process, 10).tolist()
    gains = [0.5 * (a / b - 1) for a, b in zip(ten[:-2], ten[1:-1])]
    assert max(gains) < 10 and all(heun_corrects(process, a, b, 10.0) for a, b in zip(ten[:-2], ten[1:-1]))
    assert not heun_corrects(process, ten[-3], ten[-2], 0.99 * max(gains))
    step, _ = heun_step(x_T, two[0].item(), two[1].item(), pred, process, max_correction_gain=10.0)
    assert torch.equal(step, euler_step(x_T, two[0].item(), two[1].item(), pred, process)[0])
    grid = torch.tensor(ten, dtype=torch.float64)
    assert torch.equal(heun(x_T, grid, pred, process, max_correction_gain=math.inf), heun(x_T, grid, pred, process))
    for bad in (0.0, float("nan"), True, "a"):
        with pytest.raises(ValueError, match="max_correction_gain"):
            heun(x_T, grid, pred, process, max_correction_gain=bad)


@pytest.mark.parametrize("process_name,timer", [("edm", "karras"), ("cosine", "log_snr")])
def test_heun_with_a_gain_bound_keeps_order_two(process_name, timer):
    """Oracle: the closed-form PF-ODE endpoint for Gaussian data (as above); with ``max_correction_gain = 10`` (what
    ``Pretrained.sample`` uses) the measured order over N = 16 → 64 stays within ±0.25 of 2."""
    process, pred, x_T, exact = gaussian_setup(process_name)
    errs = [(heun(x_T, make_grid(timer, process, n), pred, process, max_correction_gain=10.0) - exact)
            .norm(dim=1).mean().item() for n in (16, 32, 64)]
    assert abs(math.log2(errs[0] / errs[2]) / 2 - 2) <= 0.25, errs

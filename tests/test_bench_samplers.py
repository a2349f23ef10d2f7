"""Tests of the samplers bench. Oracles: an exact power law for fit_order; the NFE accounting of each method
(counted by the predictor, not assumed); the grids' definitions (fixed_map); the closed-form PF-ODE of a Gaussian
(Richardson reference); and the bench's own measured numbers against the theory's orders, with the documented
exceptions asserted as what they are."""
from __future__ import annotations

import json
import math

import pytest
import torch

from diffedu import GaussianMixture, make_process
from diffedu.course.samplers import (_richardson_heun, endpoint_errors, fit_order, fixed_map, log_factor, main,
                                    sde_distances)
from diffedu.integrators import INTEGRATORS
from diffedu.parametrization import Counting
from diffedu.timers import make_grid
from diffedu.toys import gmm_2d


def test_fit_order_recovers_power_law():
    """Oracle: e = 3 · NFE^(−1.7) exactly gives order 1.7."""
    nfes = [10, 20, 50, 100]
    assert fit_order(nfes, [3 * n ** -1.7 for n in nfes]) == pytest.approx(1.7, abs=1e-12)


def test_fixed_map():
    """Oracle: the definition — noise-level grids are not fixed maps exactly where α(t_max) = 0 (flow, cosine)."""
    assert fixed_map(make_process("edm"), "karras") and fixed_map(make_process("vp"), "log_snr")
    assert fixed_map(make_process("flow"), "uniform") and fixed_map(make_process("cosine"), "cosine")
    assert not fixed_map(make_process("flow"), "karras") and not fixed_map(make_process("cosine"), "log_snr")


def test_log_factor_marks_the_grids_with_fixed_lambda_steps_near_data():
    """Oracle: the definition (DPM-Solver++, uniform grid in t, σ linear in t at the data end: flow and EDM)."""
    flow, edm, vp = make_process("flow"), make_process("edm"), make_process("vp")
    assert log_factor(flow, "uniform", "dpmpp_2m") and log_factor(edm, "uniform", "dpmpp_2s")
    assert not any([log_factor(flow, "uniform", "ddim"), log_factor(flow, "uniform", "heun"),
                    log_factor(flow, "karras", "dpmpp_2m"), log_factor(edm, "karras", "dpmpp_2m"),
                    log_factor(vp, "uniform", "dpmpp_2m")])  # VP: σ ∝ √t near data, another rate


def test_dpmpp_rate_on_flow_uniform_is_log_n_over_n_squared():
    """Oracle: the closed-form PF-ODE of a Gaussian N(μ, s²I) on rectified flow (x_0 = μ + s·x_1 exactly). On the
    uniform grid DPM-Solver++(2M)'s error follows ln N / N² (``log_factor``): the slope of error / ln N over
    N = 100…800 is 2 ± 0.25, while the plain slope stays below 1.9, so the ln N is really there. Heun on the same
    grid, a control, has plain slope 2 ± 0.1."""
    mu, s = torch.tensor([1.0, -0.5], dtype=torch.float64), 0.3
    gauss, process = GaussianMixture([1.0], mu[None], [s]), make_process("flow")
    x_T = torch.randn(32, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact, pred = mu + s * x_T, Counting(gauss.predictor(process))
    steps = [100, 200, 400, 800]

    def errors(method):
        return [(INTEGRATORS[method](x_T, make_grid("uniform", process, n), pred, process) - exact).norm(dim=1)
                .median().item() for n in steps]

    e_2m, e_heun = errors("dpmpp_2m"), errors("heun")
    assert abs(fit_order(steps, [e / math.log(n) for e, n in zip(e_2m, steps)]) - 2) <= 0.25
    assert fit_order(steps, e_2m) < 1.9
    assert abs(fit_order(steps, e_heun) - 2) <= 0.1


def test_richardson_reference_is_tight():
    """Oracle: the closed-form PF-ODE endpoint of Gaussian data, x0 = μ + s (x_T − α_T μ)/√(α_T² s² + σ_T²) under
    EDM's Karras grid ending with the jump σ_min = 0.002 → 0 (which maps x to x̂₀). Richardson extrapolation removes
    Heun's h² term, so what is left is third order: the reference from 200/400 steps is ≥ 5× closer than from 100/200
    (8× in theory), below 3e-6, and ≥ 20× closer than Heun with 400 steps alone."""
    mu, s2 = torch.tensor([0.7, -0.4], dtype=torch.float64), 0.3
    gauss = GaussianMixture([1.0], mu[None], (torch.eye(2, dtype=torch.float64) * s2)[None])
    process = make_process("edm")
    pred = Counting(gauss.predictor(process))
    x_T = 80 * torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x_min = mu + math.sqrt(s2 + 0.002**2) * (x_T - mu) / math.sqrt(s2 + 80.0**2)  # exact solution at σ_min
    exact = mu + s2 / (s2 + 0.002**2) * (x_min - mu)  # the final jump: x̂₀(x, σ_min)

    def err(x):
        return (x - exact).norm(dim=1).max().item()

    err_100, err_200 = (err(_richardson_heun(x_T, process, "karras", m, pred)) for m in (100, 200))
    err_heun = err(INTEGRATORS["heun"](x_T, make_grid("karras", process, 400), pred, process))
    assert err_100 / err_200 > 5 and err_200 < 3e-6 and err_200 < err_heun / 20, (err_100, err_200, err_heun)


def test_endpoint_errors_orders_on_flow_uniform():
    """Oracle: Euler order 1 and Heun order 2 on rectified flow with the uniform grid (a fixed map), fitted over
    NFE 100–400 with 16 starts, within ±0.25; and the row bookkeeping (counted NFE, finite errors)."""
    res = endpoint_errors(gmm_2d(), make_process("flow"), "uniform", n_points=16, nfes=(20, 100, 200, 400),
                          methods=("euler", "heun"), ref_steps=400, check_ref=False)
    for name in ("euler", "heun"):
        m = res["methods"][name]
        assert abs(m["order"] - m["theory"]) <= 0.25 and m["order_ok"], (name, m["order"])
        assert [r["nfe"] for r in m["rows"]] == ([20, 100, 200, 400] if name == "euler" else [19, 99, 199, 399])
        assert m["fit_nfes"] == [r["nfe"] for r in m["rows"][1:]]
    assert res["second_order_beats_euler"] == {"heun": True} and res["fixed_map"]


@pytest.mark.slow
def test_default_bench_meets_the_theory(tmp_path, capsys):
    """Oracle: the theory's orders (Euler, DDIM 1; Heun, DPM-Solver++(2S), (2M) 2) within ±0.25 over NFE ≥ 100 on
    every fixed-map configuration of the quick bench — for DPM-Solver++ on flow's uniform grid, the slope of
    error / ln N, the theory's rate there (``log_factor``; the plain slope, below 2, is kept too). Second-order methods
    beat Euler at every NFE ≥ 50 everywhere, and at every NFE ≥ 20 except Heun on EDM's Karras grid (pre-asymptotic:
    documented in chapter 10). Euler–Maruyama reaches the weak-error floor by NFE 500. Every printed error is in the
    JSON."""
    path = tmp_path / "bench.json"
    assert main(["--quick", "--json", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    data = json.loads(path.read_text())
    assert len(data["ode"]) == 6 and len(data["sde"]) == 2
    for r in data["ode"]:
        euler = {row["nfe_target"]: row["error"] for row in r["methods"]["euler"]["rows"]}
        for name, m in r["methods"].items():
            for row in m["rows"]:
                assert f"{row['error']:.2e}" in out
                if m["theory"] == 2 and row["nfe_target"] >= 50:
                    assert row["error"] < euler[row["nfe_target"]], (r["process"], r["timer"], name, row)
            if not r["fixed_map"]:
                assert m["order"] < m["theory"]  # the log-N loss of a grid whose top level grows with N
            else:
                assert m["order_ok"], (r["process"], r["timer"], r["dim"], name, m["order"])
                assert m["log_factor"] == ((r["process"], r["timer"]) == ("flow", "uniform")
                                           and name in ("dpmpp_2s", "dpmpp_2m"))
                assert m["order_plain"] <= m["order"] if m["log_factor"] else m["order_plain"] == m["order"]
        expected = {k: not (k == "heun" and r["process"] == "edm") for k in r["second_order_beats_euler"]}
        assert r["second_order_beats_euler"] == expected, (r["process"], r["timer"], r["second_order_beats_euler"])
    for r in data["sde"]:
        assert r["floor"] > 0 and r["floor_sd"] > 0
        assert r["methods"]["euler_maruyama"]["nfe_to_floor"] is not None


def test_sde_distances_bookkeeping():
    """Oracle: the definitions — PC spends 2 NFE per step; the weak error's standard error is the sample std of
    log q over √n; the floor is positive; 'NFE to floor' is the first NFE from which on |Δ| ≤ 2 SE."""
    res = sde_distances(gmm_2d(), make_process("vp"), "uniform", n_samples=200, nfes=(10, 20),
                        methods=("euler_maruyama", "pc"))
    assert [r["nfe"] for r in res["methods"]["pc"]["rows"]] == [10, 20]
    for m in res["methods"].values():
        ok = [abs(r["delta_log_q"]) <= 2 * r["se_log_q"] for r in m["rows"]]
        want = 10 if all(ok) else (20 if ok[1] else None)
        assert m["nfe_to_floor"] == want
        assert all(r["se_log_q"] > 0 and math.isfinite(r["sw"]) for r in m["rows"])


@pytest.mark.parametrize("nfe,rho,eta,churn", [(1, 1.0, 0.0, 0.0), (200, 15.0, 1.0, 80.0), (2, 15.0, 1.0, 80.0),
                                               (200, 1.0, 0.0, 0.0), (200, 7.0, 0.0, 0.0)])
def test_play_samplers_extremes(nfe, rho, eta, churn):
    """Oracle: finiteness at every slider's extreme values; with η = 0, churn = 0, ρ = 7 and NFE 200 the Heun endpoint
    is within 1e-2 of the exact ODE answer (Richardson-extrapolated Heun; Heun at NFE 200 is accurate to ~1e-3 here)."""
    from diffedu.course.samplers import play_samplers
    out = play_samplers(nfe, rho, eta, churn, n_points=32)
    for name in ("heun", "ddim"):
        assert bool(torch.isfinite(out[name]["x0"]).all())
        assert math.isfinite(out[name]["ode_error"]) and math.isfinite(out[name]["sw"])
    if nfe == 200 and rho == 7.0 and churn == 0 and eta == 0:
        assert out["heun"]["ode_error"] < 1e-2


@pytest.mark.gpu
def test_bench_runs_on_cuda_and_agrees_with_the_cpu():
    """Oracle: the CPU run of the same measurement. On CUDA (float64) every ODE method's endpoint errors match the
    CPU's to 1e-6 relative (only reduction order differs), and the SDE samplers return finite distances."""
    gmm, process = gmm_2d(), make_process("edm")
    kw = dict(n_points=16, nfes=(5, 20, 100), ref_steps=200, check_ref=False)
    cpu = endpoint_errors(gmm, process, "karras", device=torch.device("cpu"), **kw)
    cuda = endpoint_errors(gmm, process, "karras", device=torch.device("cuda"), **kw)
    for name, m in cpu["methods"].items():
        for row_cpu, row_cuda in zip(m["rows"], cuda["methods"][name]["rows"]):
            assert row_cuda["error"] == pytest.approx(row_cpu["error"], rel=1e-6), (name, row_cpu["nfe"])
    sde = sde_distances(gmm, make_process("vp"), "uniform", n_samples=500, nfes=(20,), device=torch.device("cuda"))
    assert all(math.isfinite(m["rows"][0]["sw"]) for m in sde["methods"].values())

"""Tests of the samplers bench. Oracles: an exact power law for fit_order; the NFE accounting of each method
(counted by the predictor, not assumed); the quick bench's own numbers (finite, orders of the first-order methods
within ±0.25 of 1) and its JSON holding every printed number."""
from __future__ import annotations

import json
import math

import pytest
import torch

from diffedu.bench_samplers import fit_order, main, steps_for_nfe


def test_fit_order_recovers_power_law():
    """Oracle: e = 3 · NFE^(−1.7) exactly gives order 1.7."""
    nfes = [10, 20, 50, 100]
    assert fit_order(nfes, [3 * n ** -1.7 for n in nfes]) == pytest.approx(1.7, abs=1e-12)


def test_steps_for_nfe():
    """Oracle: Heun/DPM++2S cost 2 per step except 1 on the final jump to σ = 0; the rest cost 1."""
    assert steps_for_nfe("heun", 19) == 10 and steps_for_nfe("dpmpp_2s", 20, final_jump=False) == 10
    assert steps_for_nfe("euler", 20) == 20


def test_quick_bench_writes_every_number(tmp_path, capsys):
    """Oracle: the quick run's JSON; Euler and DDIM orders within ±0.25 of 1 on flow/uniform (DDIM = Euler there)."""
    path = tmp_path / "bench.json"
    assert main(["--quick", "--json", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    data = json.loads(path.read_text())
    ode = data["ode"][0]
    for name in ("euler", "ddim"):
        assert abs(ode["methods"][name]["order"] - 1) <= 0.25
        for row in ode["methods"][name]["rows"]:
            assert f"{row['error']:.2e}" in out
    assert data["sde"][0]["floor"] > 0


@pytest.mark.parametrize("nfe,rho,eta,churn", [(1, 1.0, 0.0, 0.0), (200, 15.0, 1.0, 80.0), (2, 15.0, 1.0, 80.0),
                                               (200, 1.0, 0.0, 0.0), (200, 7.0, 0.0, 0.0)])
def test_play_samplers_extremes(nfe, rho, eta, churn):
    """Oracle: finiteness at every slider's extreme values; with η = 0, churn = 0, ρ = 7 and NFE 200 the Heun endpoint is within
    1e-2 of the exact ODE answer (a 200-step Heun solution; Heun at ~100 steps is accurate to about 1e-3 there)."""
    from diffedu.bench_samplers import play_samplers
    out = play_samplers(nfe, rho, eta, churn, n_points=32)
    for name in ("heun", "ddim"):
        assert bool(torch.isfinite(out[name]["x0"]).all())
        assert math.isfinite(out[name]["ode_error"]) and math.isfinite(out[name]["sw"])
    if nfe == 200 and rho == 7.0 and churn == 0 and eta == 0:
        assert out["heun"]["ode_error"] < 1e-2

"""Tests of diffedu.timers: the sampling grids.

Oracles: the grids' definitions recomputed independently (Karras et al. 2022 eq. 5 in σ for EDM; equal steps in the
process's own log-SNR); the invariants every sampler relies on (length, dtype, strict decrease, end points).
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from diffedu.processes import EDM, PROCESSES, VP, DiscreteDDPM, make_process
from diffedu.processes import SubVP
from diffedu.timers import TIMERS, require_grid, karras, log_snr, make_grid, noise_level, uniform

from _level_grid_cases import FIXTURE, cases

NAMES = sorted(PROCESSES)


@pytest.mark.parametrize("process_name", NAMES)
@pytest.mark.parametrize("timer", sorted(TIMERS))
def test_grid_invariants(process_name, timer):
    """Oracle: the grid contract — N+1 finite float64 times, strictly decreasing, from t_max to t_min, for every
    N = 1..200."""
    process = make_process(process_name)
    for n_steps in range(1, 201):
        ts = make_grid(timer, process, n_steps)
        assert ts.dtype == torch.float64 and ts.shape == (n_steps + 1,)
        assert bool((ts[1:] < ts[:-1]).all())
        assert ts[0].item() == process.t_max and ts[-1].item() == process.t_min
        require_grid(ts, process)


def test_karras_matches_closed_form_for_edm():
    """Oracle: Karras et al. (2022) eq. 5 written out in σ for EDM (α = 1, σ = t), then the jump to σ = 0."""
    process, n, rho = EDM(), 10, 7.0
    ts = karras(process, n, rho=rho)
    i = torch.arange(n, dtype=torch.float64)
    expected = (80.0 ** (1 / rho) + i / (n - 1) * (0.002 ** (1 / rho) - 80.0 ** (1 / rho))) ** rho
    torch.testing.assert_close(ts[:-1], expected, rtol=1e-12, atol=1e-14)
    assert ts[-1].item() == 0.0


@pytest.mark.parametrize("process_name", ["vp", "cosine", "ve", "ddpm"])
def test_log_snr_grid_is_uniform_in_lambda(process_name):
    """Oracle: the process's own λ(t) at the grid's interior points has equal differences (float64, rtol 1e-8)."""
    process = make_process(process_name)
    ts = log_snr(process, 12)
    lam = process.log_snr(ts[1:-1])  # α = 0 at t_max for cosine; σ = 0 at t_min for most: skip the ends
    steps = lam[1:] - lam[:-1]
    torch.testing.assert_close(steps, steps.mean().expand_as(steps), rtol=1e-8, atol=1e-10)
    assert bool((steps > 0).all())


def test_uniform_is_linspace_and_noise_level():
    """Oracle: torch.linspace; the noise level σ/α of EDM is t itself and +inf where α = 0 (flow at t = 1)."""
    process = make_process("vp")
    torch.testing.assert_close(uniform(process, 4), torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64))
    assert noise_level(EDM(), 3.5).item() == pytest.approx(3.5)
    assert math.isinf(noise_level(make_process("flow"), 1.0).item())


def test_bad_input():
    """Oracle: the documented errors — zero steps, unknown names, bad ρ, reversed interval, increasing grids."""
    process = make_process("vp")
    with pytest.raises(ValueError, match="n_steps"):
        make_grid("uniform", process, 0)
    with pytest.raises(ValueError, match="n_steps"):
        make_grid("karras", process, 2.5)
    with pytest.raises(ValueError, match="unknown timer"):
        make_grid("linear-ish", process, 10)
    with pytest.raises(ValueError, match="rho"):
        karras(process, 10, rho=0.0)
    with pytest.raises(ValueError, match="t_start"):
        uniform(process, 10, t_start=0.2, t_end=0.5)
    with pytest.raises(ValueError, match="strictly decreasing"):
        require_grid(torch.tensor([0.1, 0.5, 1.0]), process)
    with pytest.raises(ValueError, match="at least 2"):
        require_grid(torch.tensor([1.0]), process)
    with pytest.raises(ValueError, match="t_min, t_max"):
        require_grid(torch.tensor([1.5, 0.5]), process)


@pytest.mark.parametrize("process", [VP(1.0, 20.0), VP(0.0, 20.0), DiscreteDDPM(200), SubVP()],
                         ids=["vp-1-20", "vp-0-20", "ddpm-200", "subvp"])
@pytest.mark.parametrize("timer", ["karras", "log_snr"])
def test_noise_level_grids_work_for_every_schedule(process, timer):
    """Oracle: the grid invariants (float64, strictly decreasing, from t_max to t_min) and the float64 round trip
    t_of_log_snr(log_snr(t)) = t at both ends. The range check used to compare float64 levels against float32 bounds,
    and these schedules failed by one rounding."""
    for n_steps in (1, 2, 18, 200):
        ts = require_grid(make_grid(timer, process, n_steps), process)
        assert ts[0] == process.t_max and ts[-1] == process.t_min and len(ts) == n_steps + 1
    ends = torch.tensor([process.t_max, process.t_min], dtype=torch.float64)
    assert torch.allclose(process.t_of_log_snr(process.log_snr(ends)), ends, rtol=1e-9, atol=1e-12)


def test_level_grids_are_bit_identical_to_the_recorded_ones():
    """Oracle: the grids and error messages of ``karras`` and ``log_snr`` recorded (float64, to the last bit) from
    ``_level_grid`` before it was cut into named steps, for every process, ρ = 7 and 3, default and explicit ends,
    sigma_min/sigma_max, N ∈ {1, 2, 3, 5, 12} in full and a sha256 of every default grid for N = 1..200
    (``tests/_level_grid_cases.py`` records them)."""
    recorded = json.loads(FIXTURE.read_text())
    now = cases()
    assert now.keys() == recorded.keys()
    differ = [key for key in recorded if now[key] != recorded[key]]
    assert not differ, f"{len(differ)} grids changed, e.g. {differ[:5]}"

"""Langevin, annealed Langevin, ESM − DSM constant, score training (diffedu.course.langevin)."""
import math

import pytest
import torch

from diffedu import gmm_2d
from diffedu.course.langevin import (annealed_langevin, esm_dsm_gap, langevin, play_langevin, relative_score_error,
                              sigma_ladder, train_score)


def test_langevin_samples_a_gaussian():
    """Oracle: N(1, 0.5²) in 1-D; 4000 chains, 400 steps of τ = 0.01: the discretized chain's stationary variance is
    0.25/(1 − τ/0.5) ≈ 0.255 — mean within 0.05 and variance within 0.03 (≈ 4 SE)."""
    g = torch.Generator().manual_seed(0)
    x = langevin(torch.zeros(4000, 1, dtype=torch.float64), lambda x: -(x - 1) / 0.25, 0.01, 400, generator=g)
    assert abs(x.mean().item() - 1) < 0.05 and abs(x.var().item() - 0.255) < 0.03


def test_esm_dsm_gap_is_constant():
    """Oracle: Vincent's theorem, L_ESM − L_DSM = E‖∇log p_σ‖² − d/σ² for any score; 100 000 samples, 5 SE."""
    gmm = gmm_2d()
    for fn in (lambda x: -x, lambda x: 3 * torch.sin(x), lambda x: torch.zeros_like(x)):
        r = esm_dsm_gap(fn, gmm, 0.5, 100_000, generator=torch.Generator().manual_seed(1))
        assert abs(r["gap"] - r["constant"]) < 5 * r["se"]


def test_dsm_training_learns_the_score():
    """Oracle: the exact mixture score at σ = 0.5; 300 steps take the relative error from ≈ 1 to below 0.3."""
    gmm = gmm_2d()
    untrained = relative_score_error(train_score("dsm", gmm, 0.5, 0), gmm, 0.5, n=2000)
    trained = relative_score_error(train_score("dsm", gmm, 0.5, 300), gmm, 0.5, n=2000)
    assert untrained > 0.6 and trained < 0.3


def test_sigma_ladder_and_bad_input():
    """Oracle: a geometric ladder (constant ratio) from σ_max to σ_min; documented argument errors."""
    s = sigma_ladder(4.0, 0.05, 10)
    assert math.isclose(s[0].item(), 4.0) and math.isclose(s[-1].item(), 0.05)
    assert torch.allclose(s[1:] / s[:-1], (s[1] / s[0]).expand(9))
    with pytest.raises(ValueError, match="tau"):
        langevin(torch.zeros(2, 2), lambda x: x, 0.0, 3)
    with pytest.raises(ValueError, match="loss"):
        train_score("mse", gmm_2d(), 0.5, 1)


def test_annealed_langevin_recovers_weights():
    """Oracle: the true left-mode weight 0.8 of the two-mode mixture; 1000 chains (binomial SE ≈ 0.013): annealed within
    0.06, plain Langevin from a uniform start stuck near 0.5 (off by > 0.2)."""
    out = play_langevin(0.3, 30, 10, n_samples=1000)
    assert abs(out["frac_annealed"] - 0.8) < 0.06 and abs(out["frac_plain"] - 0.8) > 0.2


@pytest.mark.parametrize("tau,n_steps,n_levels", [(0.01, 1, 1), (1.0, 1, 1), (0.01, 100, 20), (1.0, 100, 20)])
def test_play_langevin_extremes(tau, n_steps, n_levels):
    """Oracle: finite samples at every slider extreme (no exception, no NaN)."""
    out = play_langevin(tau, n_steps, n_levels, n_samples=100)
    assert bool(torch.isfinite(out["plain"]).all() and torch.isfinite(out["annealed"]).all())

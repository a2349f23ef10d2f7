"""Chapter 12's sampler panel: its positions stay in the pixel range, and its budget buys the documented steps.

Cost: about 10 s of CPU (2 samples per position, 3 budgets × 5 samplers × 3 checkpoints + guided and unlabelled
positions); the sweep over every budget 8–24 is ``tools/range_table``'s job (reported in issue 20).
"""
from __future__ import annotations

import pytest
import torch

from diffedu.course import mnist_demos
from diffedu.course.mnist_demos import PANEL_NFE, PANEL_SAMPLERS, panel_steps, play_mnist
from diffedu.mnist import pretrained

NAMES = ("mnist-edm", "mnist-ddpm", "mnist-flow")


def _in_range(x: torch.Tensor) -> bool:
    return not bool(torch.isnan(x).any()) and float((x.abs() <= 1.1).float().mean()) >= 0.99


@pytest.mark.parametrize("name", NAMES)
def test_panel_positions_stay_in_the_pixel_range(name):
    """Oracle: the data range [−1, 1]; at least 99 % of pixels in [−1.1, 1.1] and no NaN at each sampler × budget
    (both ends and the fewest-but-one), unguided, guided at both ends of w, and without a label."""
    if name not in pretrained.available():
        pytest.skip(f"{name} not shipped")
    for integrator in PANEL_SAMPLERS:
        for nfe in (PANEL_NFE[0], PANEL_NFE[0] + 1, PANEL_NFE[1]):
            out = play_mnist(name, integrator, panel_steps(integrator, nfe), 3, n=2)
            assert _in_range(out["x"]), (integrator, nfe)
    for nfe, label, w in ((PANEL_NFE[0], 7, 6.0), (PANEL_NFE[1], 0, 0.0), (PANEL_NFE[0], 10, 1.0)):
        out = play_mnist(name, "heun", panel_steps("heun", nfe, guided=label != 10 and w != 1), label, n=2, w=w)
        assert _in_range(out["x"]), (nfe, label, w)


def test_panel_budget_buys_the_documented_steps():
    """Oracle: steps_for_nfe's rule (N − 1)·k + k_last ≤ NFE by hand: Heun 2 NFE per step and 1 for the final jump,
    the others 1; guidance halves the budget but never below the unguided lower end; budgets off the slider refused."""
    assert [panel_steps("heun", n) for n in (10, 11, 24)] == [5, 6, 12]
    assert [panel_steps("dpmpp_2m", n) for n in (10, 24)] == [10, 24]
    assert panel_steps("heun", 24, guided=True) == 6 and panel_steps("heun", 10, guided=True) == 5
    assert panel_steps("euler", 12, guided=True) == 10
    for bad in (PANEL_NFE[0] - 1, PANEL_NFE[1] + 1, 2.5):
        with pytest.raises(ValueError, match="nfe"):
            panel_steps("heun", bad)
    assert mnist_demos.expected_poor("heun", 5) and not mnist_demos.expected_poor("heun", 10)
    assert mnist_demos.expected_poor("ddpm", 12) and not mnist_demos.expected_poor("ddpm", 24)

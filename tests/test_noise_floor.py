"""The noise band of a sample distance (``course.noise_floor``), EDM's churn map (``course.churn``) and the panel
machinery's busy line and error line (``ui.widgets.panel``).

Oracles: a distance with a known sampling law (the mean of n standard normals: mean 0, sd 1/√n), Monte Carlo with a
stated tolerance; the integrator itself (Heun with churn gives the same samples for every S_churn past the
saturation point γN = (√2 − 1)N, and different ones below it); the widget values seen from inside a draw.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from diffedu.course.churn import GAMMA_MAX, churn_gamma, heun_steps, s_churn_for_gamma  # noqa: E402
from diffedu.course.edm_design import play_edm  # noqa: E402
from diffedu.course.noise_floor import floor_band, reading  # noqa: E402
from diffedu.ui import widgets  # noqa: E402


def test_floor_band_matches_a_known_sampling_law():
    """d(X, ref) = mean(X) for X of n = 100 standard normals: the draws have mean 0 and sd 0.1. With 400 draws the
    sample mean lies within 4 standard errors (4 × 0.1/20 = 0.02) and the sd within 15 % (its standard error ≈ 3.5 %)."""
    ref = torch.zeros(100, 1)
    band = floor_band(lambda n, g: torch.randn(n, 1, generator=g), ref, lambda a, b: a.mean().item(), n_draws=400)
    assert band["n"] == 100 and abs(band["mean"]) < 0.02
    assert abs(band["sd"] - 0.1) < 0.015
    assert band["lo"] == pytest.approx(band["mean"] - 2 * band["sd"]) and band["hi"] == pytest.approx(
        band["mean"] + 2 * band["sd"])


def test_reading_says_within_or_above_noise():
    band = {"mean": 0.1, "sd": 0.02, "hi": 0.14}
    assert reading(0.13, band) == "within noise"
    assert reading(-0.001, band) == "within noise (< 0)"  # an unbiased estimate below zero
    assert reading(0.15, band) == "above noise"


def test_churn_gamma_and_its_inverse():
    """γ = min(S_churn/N, √2 − 1) (EDM Algorithm 2) and S_churn = γN, round trip below the cap."""
    assert churn_gamma(2.0, 8) == pytest.approx(0.25)
    assert churn_gamma(100.0, 8) == pytest.approx(math.sqrt(2) - 1)
    for gamma in (0.0, 0.1, 0.3, GAMMA_MAX):
        assert churn_gamma(s_churn_for_gamma(gamma, 8), 8) == pytest.approx(gamma)
    with pytest.raises(ValueError, match="gamma"):
        s_churn_for_gamma(0.5, 8)


def test_s_churn_past_saturation_changes_nothing():
    """Oracle: the integrator. Past S_churn = (√2 − 1)N the samples are identical; below it they differ; the panel's
    γ and saturation point agree with the grid's N."""
    n_steps = heun_steps(15)
    sat = s_churn_for_gamma(GAMMA_MAX, n_steps)
    a, b = play_edm(7.0, 15, sat, 1.0, n=200), play_edm(7.0, 15, min(3 * sat, 100.0), 1.0, n=200)
    c = play_edm(7.0, 15, 0.5 * sat, 1.0, n=200)
    assert torch.equal(a["samples"], b["samples"]) and not torch.equal(a["samples"], c["samples"])
    assert len(a["sigmas"]) - 1 == n_steps and a["churn_saturates_at"] == pytest.approx(sat)
    assert c["gamma"] == pytest.approx(GAMMA_MAX / 2) and a["gamma"] == pytest.approx(GAMMA_MAX)


def test_panel_shows_busy_while_drawing_and_the_error_if_one():
    """The busy line says 'computing' while draw runs (read from inside draw), is empty after, and shows the error
    of a failing draw."""
    seen, box = [], []

    def draw(x):
        if box:
            seen.append(box[0].children[-2].value)
        if x > 0.9:
            raise ValueError("x too large")
        plt.plot([0, x])

    box.append(widgets.panel(draw, x=widgets.slider(0.5, 0.0, 1.0, 0.1, "x")))
    busy, image, control = box[0].children[-2], box[0].children[-1], box[0].children[0].children[0]
    first = image.value
    control.value = 0.2
    assert "computing" in seen[-1] and busy.value == "" and image.value != first and image.value[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        control.value = 1.0
    assert "could not draw" in busy.value and "x too large" in busy.value
    assert not plt.get_fignums()  # the panel's figures are closed after each draw

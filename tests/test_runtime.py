"""Tests of diffedu.runtime: device choice, seeding, the quick/full switch and the banner.

Oracles: torch's own availability flags (device), bit-identical draws after re-seeding (seed), the documented meaning
of DIFFEDU_QUICK (quick), and the banner's documented content.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import diffedu
from diffedu import runtime


def test_device_follows_availability():
    """Oracle: CUDA if torch sees it, else MPS if available, else CPU."""
    dev = runtime.device()
    if torch.cuda.is_available():
        assert dev.type == "cuda"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        assert dev.type == "mps"
    else:
        assert dev == torch.device("cpu")


def test_seed_makes_every_generator_repeat():
    """Oracle: re-seeding repeats Python's, NumPy's, torch's global draws and the returned generator's draws."""
    g = runtime.seed(123)
    draws = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=g))
    g = runtime.seed(123)
    again = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=g))
    assert draws[0] == again[0] and draws[1] == again[1]
    assert torch.equal(draws[2], again[2]) and torch.equal(draws[3], again[3])
    assert isinstance(g, torch.Generator)


def test_seed_bad_value():
    """Oracle: a negative or fractional seed raises ValueError naming the seed value."""
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="seed value must be a non-negative integer"):
            runtime.seed(bad)


def test_quick_mode_switch(monkeypatch):
    """Oracle: DIFFEDU_QUICK=1 → quick, =0 → full, unset → quick exactly when there is no GPU, anything else →
    ValueError naming DIFFEDU_QUICK."""
    monkeypatch.setenv("DIFFEDU_QUICK", "1")
    assert runtime.quick() is True and "quick mode" in runtime.banner()
    monkeypatch.setenv("DIFFEDU_QUICK", "0")
    assert runtime.quick() is False and "full mode" in runtime.banner()
    monkeypatch.delenv("DIFFEDU_QUICK")
    assert runtime.quick() is (runtime.device().type == "cpu")
    monkeypatch.setenv("DIFFEDU_QUICK", "yes")
    with pytest.raises(ValueError, match="DIFFEDU_QUICK must be '0' or '1'"):
        runtime.quick()


def test_banner_names_mode_device_and_torch(monkeypatch):
    """Oracle: one line with the mode, the device type and torch's version."""
    monkeypatch.setenv("DIFFEDU_QUICK", "1")
    line = diffedu.banner()
    assert "\n" not in line and runtime.device().type in line and torch.__version__.split("+")[0] in line


def test_flat_api():
    """Oracle: the names GUIDE §2 promises are importable from the package top level."""
    for name in ["device", "seed", "quick", "banner", "VP", "CosineVP", "VE", "EDM", "RectifiedFlow", "DiscreteDDPM",
                 "make_process", "convert", "Predictor", "GaussianMixture", "gmm_2d", "sample_2d"]:
        assert hasattr(diffedu, name), name

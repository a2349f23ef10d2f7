"""diffedu.checks: every argument check says the argument's name and the allowed range, and returns the value in
the form the caller computes with. Oracle: the allowed sets, written out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffedu.checks import (require_device, require_float_tensor, require_in_range, require_integer,
                            require_output_path, require_positive, require_real)


def test_integers():
    assert require_integer("n", 3) == 3 and require_integer("n", 3.0) == 3 and require_integer("n", np.int64(3)) == 3
    assert require_integer("k", 0, lo=0) == 0 and require_integer("label", 9, 0, 9) == 9
    for bad in (True, 2.5, math.nan, math.inf, "3", None, 0, torch.tensor(3)):
        with pytest.raises(ValueError, match=r"n must be an integer ≥ 1; got"):
            require_integer("n", bad)
    with pytest.raises(ValueError, match="label must be an integer in 0–9; got 10"):
        require_integer("label", 10, 0, 9)


def test_reals_and_ranges():
    assert require_real("w", 2) == 2.0 and require_real("w", torch.tensor(0.5)) == 0.5
    for bad in (True, math.nan, -math.inf, "1", 1j, torch.tensor([1.0, 2.0])):
        with pytest.raises(ValueError, match="w must be a finite real number"):
            require_real("w", bad)
    assert require_positive("tau", 0.1) == 0.1 and require_positive("s", 0, allow_zero=True) == 0.0
    for bad in (0, -1, math.inf, math.nan, "x", None):
        with pytest.raises(ValueError, match=r"tau must be > 0 and finite"):
            require_positive("tau", bad)
    assert require_in_range("p", 0.5, 0, 1) == 0.5
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]; got 1.5"):
        require_in_range("p", 1.5, 0, 1)


def test_tensors_devices_and_paths(tmp_path):
    x = torch.zeros(2)
    assert require_float_tensor("x", x) is x
    with pytest.raises(TypeError, match="x must be a torch tensor \\(the start\\)"):
        require_float_tensor("x", [0.0], "the start")
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        require_float_tensor("x", torch.zeros(2, dtype=torch.long))
    assert require_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="device"):
        require_device("tpu")
    assert require_output_path(tmp_path / "a.json", "--json") == tmp_path / "a.json"
    with pytest.raises(ValueError, match="--json: the folder"):
        require_output_path(tmp_path / "missing" / "a.json", "--json")

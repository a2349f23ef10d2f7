r"""The noise floor of a sample distance, as a band, and a reading of a distance against it (issue 17).

A distance $d(\hat X, Y)$ between n samples $\hat X$ and n reference samples $Y$ is not 0 for a perfect sampler: two
exact sample sets differ by sampling noise. The floor is the same distance for fresh *exact* sets of the same size n,
drawn a few times; its band mean ± 2 sd says how far a perfect sampler's distance may fall. A distance inside the band
(or an unbiased estimate such as $\mathrm{MMD}^2_u$ below zero) is "within noise": the sampler cannot be told from an
exact one at this n.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..checks import require_integer

__all__ = ["floor_band", "reading"]


def floor_band(sample: Callable[[int, torch.Generator], Tensor], ref: Tensor, distance: Callable[[Tensor, Tensor], float],
               n_draws: int = 8, seed: int = 1000) -> dict:
    """``distance(X, ref)`` for ``n_draws`` fresh exact sets X = ``sample(len(ref), generator)``: their mean, sd and
    the band [mean − 2 sd, mean + 2 sd]."""
    n_draws = require_integer("n_draws", n_draws, 2)
    g = torch.Generator().manual_seed(seed)
    draws = torch.tensor([float(distance(sample(ref.shape[0], g), ref)) for _ in range(n_draws)], dtype=torch.float64)
    mean, sd = draws.mean().item(), draws.std().item()
    return {"mean": mean, "sd": sd, "lo": mean - 2 * sd, "hi": mean + 2 * sd, "n": int(ref.shape[0]),
            "draws": draws}


def reading(value: float, band: dict) -> str:
    """'within noise' when ``value`` ≤ the band's top (an unbiased estimate below 0 included), else 'above noise':
    the words a student reads next to the number (the band itself is shown beside the exact samples)."""
    if value <= band["hi"]:
        return "within noise" + (" (< 0)" if value < 0 else "")
    return "above noise"

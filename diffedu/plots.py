"""Figures only: no math lives here (it comes from the core modules). Each function returns the matplotlib Figure.

Sections below belong to chapters; add a chapter's figure functions under its own header.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

PROCESS_COLORS = {"vp": "C0", "cosine": "C1", "ve": "C2", "edm": "C3", "flow": "C4", "ddpm": "C5"}


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, any dtype) or array as a float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def scatter2d(ax, x, title: str | None = None, lim: float = 3.5, **kwargs):
    """Scatter 2-D points on ``ax`` with equal aspect and a fixed window [-lim, lim]²."""
    x = to_numpy(x)
    kwargs.setdefault("s", 2)
    kwargs.setdefault("alpha", 0.5)
    ax.scatter(x[:, 0], x[:, 1], **kwargs)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def figure(ncols: int = 1, nrows: int = 1, size: float = 3.2, **kwargs):
    """A figure with a grid of square-ish axes, ``size`` inches each, laid out tightly."""
    return plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained",
                        **kwargs)


# --- 00–02: noising, Tweedie -------------------------------------------------------------------------


# --- 03, 06, 07: Fokker–Planck, score matching, SDEs -------------------------------------------------


# --- 04, 05: DDPM, DDIM ------------------------------------------------------------------------------


# --- 08, 09: flows, EDM ------------------------------------------------------------------------------


# --- 10: samplers -------------------------------------------------------------------------------------


# --- 11: guidance -------------------------------------------------------------------------------------


# --- 12: MNIST ----------------------------------------------------------------------------------------

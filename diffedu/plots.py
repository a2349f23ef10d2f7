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
def error_vs_nfe(result: dict, ax=None, title: str | None = None):
    """Chapter 10: log-log endpoint error against NFE for each ODE method (``bench_samplers.endpoint_errors``), with
    dashed reference slopes 1 and 2 anchored at each method's last point."""
    if ax is None:
        fig, axes = figure(1, size=4.6)
        ax = axes[0, 0]
    for i, (name, m) in enumerate(result["methods"].items()):
        nfe = np.array([r["nfe"] for r in m["rows"]], dtype=float)
        err = np.array([r["error"] for r in m["rows"]])
        ax.loglog(nfe, err, "o-", color=f"C{i}", label=f"{name} (order {m['order']:.2f}, theory {m['theory']})")
        ax.loglog(nfe, err[-1] * (nfe / nfe[-1]) ** -float(m["theory"]), "--", color=f"C{i}", lw=0.8, alpha=0.6)
    ax.set(xlabel="NFE (network evaluations)", ylabel="mean endpoint error",
           title=title or f"{result['process']} process, {result['timer']} grid (dashed: slopes 1, 2)")
    ax.legend(fontsize=7)
    return ax.figure


def time_grids(process, n_steps: int, grids: dict, ax=None):
    """Chapter 10: the noise level σ/α of each grid's points against the step index (log scale)."""
    from .timers import noise_level
    if ax is None:
        fig, axes = figure(1, size=4.6)
        ax = axes[0, 0]
    for name, ts in grids.items():
        level = to_numpy(noise_level(process, ts))
        ax.semilogy(np.arange(len(level))[np.isfinite(level) & (level > 0)],
                    level[np.isfinite(level) & (level > 0)], "o-", ms=3, label=name)
    ax.set(xlabel="step i", ylabel=r"noise level $\sigma_t/\alpha_t$", title=f"{n_steps}-step grids, {process.name}")
    ax.legend(fontsize=8)
    return ax.figure




# --- 11: guidance -------------------------------------------------------------------------------------


# --- 12: MNIST ----------------------------------------------------------------------------------------

"""ipywidgets panels: controls + a figure redrawn on every change. No math here: compute functions live in the
core modules (or in a chapter) and are tested on their own; a panel only wires sliders to them.

Keep Jupyter's inline matplotlib backend (never force Agg): ``panel`` redraws by calling ``draw(**values)``, which
must create a figure and call ``plt.show()``.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt

__all__ = ["panel", "slider", "int_slider", "log_slider", "dropdown"]


def slider(value: float, lo: float, hi: float, step: float, description: str, **kwargs) -> W.FloatSlider:
    """A float slider with a readable label and continuous_update off (one redraw per release)."""
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description, continuous_update=False,
                         style={"description_width": "initial"}, **kwargs)


def int_slider(value: int, lo: int, hi: int, description: str, step: int = 1, **kwargs) -> W.IntSlider:
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description, continuous_update=False,
                       style={"description_width": "initial"}, **kwargs)


def log_slider(value: float, lo: float, hi: float, description: str, **kwargs) -> W.FloatLogSlider:
    """A slider over [lo, hi] on a log scale (base 10)."""
    import math
    return W.FloatLogSlider(value=value, min=math.log10(lo), max=math.log10(hi), step=0.05, description=description,
                            continuous_update=False, style={"description_width": "initial"}, **kwargs)


def dropdown(options, value, description: str) -> W.Dropdown:
    return W.Dropdown(options=options, value=value, description=description, style={"description_width": "initial"})


def panel(draw: Callable[..., None], **controls: W.ValueWidget) -> W.VBox:
    """Controls in a row above an output area in which ``draw(**values)`` draws its figure; returns the panel.

    ``draw`` is called once at once and again whenever a control changes.
    """
    out = W.interactive_output(_showing(draw), controls)
    rows = [W.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
    return W.VBox([*rows, out])


def _showing(draw):
    def run(**values):
        draw(**values)
        plt.show()
    return run


# --- Chapter-specific panels go below, each under its chapter's header ---------------------------------

# --- 00–02 ---

# --- 03, 06, 07 ---

# --- 04, 05 ---

# --- 08, 09 ---

# --- 10 ---

# --- 11 ---

# --- 12 ---

"""Tests of diffedu.ui.widgets' drawing machinery: a panel that keeps its figure between redraws (``kept_axes``) and
a reused constrained layout must send the same picture as the first draw did.

Oracle: the PNG of the panel's first draw at its defaults (a fresh figure, laid out by constrained layout); after the
controls move away and back, the kept figure's PNG must be byte for byte the same (no stale artist, no drift).
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib
import pytest

from diffedu.ui import bench, widgets


@pytest.mark.parametrize("name,label,value", [("langevin", "steps/level", 2), ("pc", "steps", 3),
                                              ("edm", "NFE", 1), ("samplers", "NFE", 1), ("cfg_mixture", "class y", 1),
                                              ("mix", "σ_t", 3.0)])
def test_a_redraw_back_at_the_defaults_sends_the_first_picture(name, label, value):
    """A kept-figure panel (langevin, pc, edm, samplers, cfg_mixture) and a re-made one (mix, which reuses its
    constrained layout): moved to a cheap position and back, the PNG equals the first one."""
    matplotlib.use("Agg")
    box = bench.PANELS[name][1]()
    image = next(c for c in box.children if isinstance(c, W.Image))
    control = bench.controls(box)[label]
    first, default = image.value, control.value
    control.value = value
    assert image.value != first  # the move changed the picture
    control.value = default
    assert image.value == first


def test_kept_axes_makes_the_figure_once():
    """Oracle: identity — the second call returns the same figure and axes and says it is not new."""
    state = {}
    fig, axes, new = widgets.kept_axes(state, 3, 2.0)
    assert new and len(axes) == 3 and tuple(fig.get_size_inches()) == (6.0, 2.0)
    fig2, axes2, new2 = widgets.kept_axes(state, 3, 2.0)
    assert fig2 is fig and axes2 is axes and not new2

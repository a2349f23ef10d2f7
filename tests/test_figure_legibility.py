"""Figures readable where JupyterLab shows them (issue 17): no text under 10 px, no colliding titles.

Oracle: matplotlib's own text artists, measured after a draw — a font's size in points at the figure's dpi, times the
factor by which JupyterLab shrinks the PNG into its ~1,000-px output area (``ui.legibility``); and the drawn boxes of
the titles. Every figure function of ``ui.plots`` that makes a figure is drawn with quick inputs, and every 2-D panel
of ``ui.widgets`` at its defaults (the figure it hands to ``widgets.figure_png``). Agg backend; about 15 s in all.
"""
from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from diffedu.course.noising import schedule_curves  # noqa: E402
from diffedu.course.tweedie import play_tweedie  # noqa: E402
from diffedu.processes import EDM, VE, VP, CosineVP, RectifiedFlow, SubVP  # noqa: E402
from diffedu.timers import make_grid  # noqa: E402
from diffedu.ui import bench, plots, widgets  # noqa: E402
from diffedu.ui.legibility import MIN_TEXT_PX, overlapping_titles, smallest_text  # noqa: E402

AX_LEVEL = {"to_numpy", "scatter2d", "figure", "density_contours", "digit_grid", "precond_curves"}  # draw on an ax


def _result(process: str, timer: str) -> dict:
    rows = lambda p: [{"nfe": n, "error": n ** -p} for n in (5, 10, 20, 50, 100)]  # noqa: E731
    methods = {"euler": (1.0, 1), "heun": (2.0, 2), "dpmpp_2m": (2.0, 2), "ddim": (1.0, 1), "dpmpp_2s": (2.0, 2)}
    return {"process": process, "timer": timer,
            "methods": {k: {"order": o, "theory": t, "rows": rows(o), "log_factor": k == "ddim"}
                        for k, (o, t) in methods.items()}}


def _score_fields():
    u = torch.linspace(-3.5, 3.5, 21, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    return plots.score_fields(u, {name: torch.randn(441, 2, generator=g, dtype=torch.float64)
                                  for name in ("exact", "ESM (learned)", "SSM (learned)", "DSM (learned)")}, "title")


def _sde_scales():
    tt = torch.linspace(0, 1, 201, dtype=torch.float64)
    procs = {"VP": VP(), "sub-VP": SubVP(), "VE": VE(0.01, 5.0)}
    path = torch.randn(201, 30, generator=torch.Generator().manual_seed(0))
    return plots.sde_scales(tt, {k: (p.alpha(tt), p.sigma(tt)) for k, p in procs.items()},
                            {"VP": (tt, path), "sub-VP": (tt, path)})


FIGURES = {  # figure function → a call with quick inputs, returning its Figure
    "schedules": lambda: plots.schedules(schedule_curves({"vp": VP(), "cosine": CosineVP(), "ve": VE(), "edm": EDM(),
                                                          "flow": RectifiedFlow()}, n=50)),
    "tweedie_view": lambda: plots.tweedie_view(play_tweedie(0.5, 0.5, 0.5, grid=30)),
    "error_vs_nfe": lambda: plots.error_vs_nfe(_result("edm", "karras")),
    "convergence_figure": lambda: plots.convergence_figure({k: _result(*k) for k in
                                                            (("edm", "karras"), ("vp", "log_snr"), ("flow", "uniform"))}),
    "time_grids": lambda: plots.time_grids(EDM(), 10, {n: make_grid(n, EDM(), 10) for n in ("karras", "uniform")}),
    "score_fields": _score_fields,
    "sde_scales": _sde_scales,
    "ddim_vs_ddpm_figure": lambda: plots.ddim_vs_ddpm_figure(
        {(s, n): torch.rand(8, 1, 28, 28) * 2 - 1 for s in ("DDIM", "DDPM") for n in (10, 20, 50, 100)},
        [10, 20, 50, 100]),
}


def _assert_legible(fig, what: str):
    px, text = smallest_text(fig)
    assert px >= MIN_TEXT_PX, f"{what}: text {text!r} is {px:.1f} px where JupyterLab shows it (< {MIN_TEXT_PX})"
    assert not overlapping_titles(fig), f"{what}: titles collide: {overlapping_titles(fig)}"


def test_every_figure_function_is_measured():
    """Oracle: the module's own list of functions; each one that makes a whole figure has a case above."""
    made_here = {name for name, f in inspect.getmembers(plots, inspect.isfunction)
                 if f.__module__ == plots.__name__ and not name.startswith("_")}
    assert made_here - AX_LEVEL == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_static_figure_is_legible(name):
    fig = FIGURES[name]()
    try:
        _assert_legible(fig, name)
    finally:
        plt.close("all")


@pytest.mark.parametrize("name", sorted(n for n, (_, _, kind) in bench.PANELS.items() if kind == "2-D"))
def test_panel_figure_is_legible(name, monkeypatch):
    """Each 2-D panel at its defaults: the figure it saves for the browser."""
    seen = []
    original = widgets.figure_png

    def spy(fig):
        seen.append((smallest_text(fig), overlapping_titles(fig)))
        return original(fig)

    monkeypatch.setattr(widgets, "figure_png", spy)
    torch.set_num_threads(1)
    bench.PANELS[name][1]()
    assert seen, "the panel drew no figure"
    (px, text), overlaps = seen[0]
    assert px >= MIN_TEXT_PX, f"{name} panel: text {text!r} is {px:.1f} px where JupyterLab shows it"
    assert not overlaps, f"{name} panel: titles collide: {overlaps}"

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

def ddpm_schedule_panel() -> W.VBox:
    """Chapter 04: sliders for T and the β range; draws ᾱ_n and exact-denoiser ancestral samples (elbo.play_schedule)."""
    from .elbo import play_schedule
    from .plots import figure, scatter2d

    def draw(T, beta_1, beta_T):
        out = play_schedule(T, beta_1, beta_T, n_samples=300)
        fig, axes = figure(2, size=3.6)
        ax = axes[0, 0]
        ax.plot(range(T + 1), out["alpha_bar"].numpy(), label=r"$\bar\alpha_n$")
        ax.plot(range(T + 1), (1 - out["alpha_bar"]).numpy(), label=r"$1-\bar\alpha_n$")
        ax.set(xlabel="step n", ylabel="value", ylim=(-0.02, 1.02),
               title=rf"$\bar\alpha_T$ = {out['alpha_bar'][-1].item():.3g}")
        ax.legend()
        scatter2d(axes[0, 1], out["samples"], title=f"ancestral samples (SW₂ = {out['sw']:.2f})")

    return panel(draw, T=int_slider(200, 10, 1000, "T", step=10),
                 beta_1=log_slider(5e-4, 1e-5, 1e-2, "β_1"), beta_T=log_slider(0.1, 1e-3, 0.5, "β_T"))


def ddim_eta_panel() -> W.VBox:
    """Chapter 05: sliders for η and the step count; draws DDIM(η) samples from the same x_T (elbo.play_ddim)."""
    from .elbo import play_ddim
    from .plots import figure, scatter2d

    def draw(eta, n_steps):
        out = play_ddim(eta, n_steps, n_samples=400)
        fig, axes = figure(2, size=3.6)
        scatter2d(axes[0, 0], out["x_T"], title=r"start $x_T \sim N(0, I)$")
        scatter2d(axes[0, 1], out["samples"], title=f"η = {eta:.2f}, {n_steps} steps: SW₂ = {out['sw']:.2f}")

    return panel(draw, eta=slider(0.0, 0.0, 1.0, 0.05, "η"), n_steps=int_slider(20, 1, 200, "steps"))


# --- 08, 09 ---

# --- 10 ---

def samplers_panel() -> W.VBox:
    """Chapter 10: NFE, ρ, η and churn sliders; Heun (churn) and DDIM (η) samples and their live error against the
    exact answer (``bench_samplers.play_samplers``)."""
    from .bench_samplers import play_samplers
    from .plots import figure, scatter2d

    def draw(nfe, rho, eta, churn):
        out = play_samplers(nfe, rho, eta, churn)
        fig, axes = figure(3, size=3.4)
        scatter2d(axes[0, 0], out["exact"], title=f"exact data (floor SW₂ {out['floor']:.3f})", color="gray")
        for ax, name, knob in ((axes[0, 1], "heun", f"churn {churn:g}"), (axes[0, 2], "ddim", f"η {eta:g}")):
            r = out[name]
            scatter2d(ax, r["x0"], title=f"{name}, {knob}, NFE {r['nfe']}\nODE error {r['ode_error']:.2e}, "
                      f"SW₂ {r['sw']:.3f}")

    return panel(draw, nfe=int_slider(20, 1, 200, "NFE"), rho=slider(7.0, 1.0, 15.0, 0.5, "ρ"),
                 eta=slider(0.0, 0.0, 1.0, 0.05, "η (DDIM)"), churn=slider(0.0, 0.0, 80.0, 1.0, "S_churn (Heun)"))


# --- 11 ---

# --- 12 ---

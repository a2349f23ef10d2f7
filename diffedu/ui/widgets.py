"""ipywidgets panels: controls + a figure redrawn on every change. No math here: compute functions live in the
core modules (or in a chapter) and are tested on their own; a panel only wires sliders to them.

A panel's ``draw(**values)`` makes one matplotlib figure; ``panel`` saves it as a PNG into an image widget and closes
it, so the panel shows its figure under any backend (never force Agg in a notebook: the chapters' static figures
need the inline one).
"""
from __future__ import annotations

import html
import io
import math
from typing import Callable

import ipywidgets as W
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from ..course.discrete_sampling import play_discrete
from ..course.churn import GAMMA_MAX, heun_steps, s_churn_for_gamma
from ..course.edm_design import play_edm
from ..course.elbo import play_ddim, play_schedule
from ..course.few_step_train import play_few_step
from ..course.flows import play_flows
from ..course.fokker_planck import play_density, play_paths
from ..course.guidance_demos import cfg_mixture
from ..course.langevin import play_langevin
from ..course.mnist_demos import PANEL_NFE, PANEL_SAMPLERS, expected_poor, panel_steps, play_guidance, play_mnist
from ..course.noise_floor import reading
from ..course.noising import play_mix, play_noising
from ..course.samplers import play_samplers
from ..course.sdes import play_pc
from ..course.tweedie import play_tweedie
from .plots import PROCESS_COLORS, density_contours, digit_grid, figure, scatter2d, schedules, to_numpy, tweedie_view

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
    return W.FloatLogSlider(value=value, min=math.log10(lo), max=math.log10(hi), step=0.05, description=description,
                            continuous_update=False, style={"description_width": "initial"}, **kwargs)


def dropdown(options, value, description: str) -> W.Dropdown:
    return W.Dropdown(options=options, value=value, description=description, style={"description_width": "initial"})


NO_CONTROLS = ("[An interactive panel is here, but its controls did not load. Run this cell again (Shift+Enter); "
               "if this line stays, open the chapter in JupyterLab (make lab), where ipywidgets draws the sliders.]")


class Panel(W.VBox):
    """A VBox whose plain-text form, what a front end shows when it cannot draw the controls (the widget manager not
    ready yet, or a viewer without ipywidgets), is a sentence saying so instead of ``VBox(children=(…))``."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = NO_CONTROLS
        return bundle


def panel(draw: Callable[..., None], **controls: W.ValueWidget) -> W.VBox:
    """Controls in rows of three, a busy line and the figure that ``draw(**values)`` draws; returns the panel.

    ``draw`` is called once at once and again whenever a control changes. While it runs, the busy line says so (the
    previous figure stays until the new one is ready); an error in ``draw`` is shown there too, not lost in a log.
    The figure goes to the browser as a PNG in an image widget (``figure_png``).
    """
    image = W.Image(format="png", layout=W.Layout(max_width="100%"))
    busy = W.HTML(value="", layout=W.Layout(height="1.6em", margin="0"))
    layouts = {}  # the axes' positions that constrained layout found at the first draw, reused by the next ones

    def redraw(change=None):
        busy.value = BUSY_HTML
        try:
            png = _drawn_png(draw, {name: c.value for name, c in controls.items()}, layouts)
            image.value = png
            image.layout.width = f"{int.from_bytes(png[16:20], 'big')}px"  # the PNG's own width: never stretched
        except Exception as e:
            busy.value = f"<span style='color:#b00'>could not draw: {html.escape(f'{type(e).__name__}: {e}')}</span>"
            raise
        busy.value = ""

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    rows = [W.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
    return Panel([*rows, busy, image])


BUSY_HTML = ("<span style='color:#a15c00;font-weight:bold'>⏳ computing… "
             "(the figure below still shows the last settings)</span>")


def figure_png(fig) -> bytes:
    """The PNG of ``fig`` at its dpi as the inline backend would send it; a figure with a layout engine is saved as
    laid out (one draw), one without is trimmed to its contents (``bbox_inches="tight"``, two draws) unless its
    ``fixed_layout`` attribute says that it was laid out by hand."""
    buf = io.BytesIO()
    laid_out = fig.get_layout_engine() is not None or getattr(fig, "fixed_layout", False)
    tight = None if laid_out else "tight"
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches=tight, facecolor="white")
    return buf.getvalue()


def _drawn_png(draw, values: dict, layouts: dict) -> bytes:
    """Call ``draw(**values)``, return the PNG of the figure it made and close that figure (a callback's figures are
    not shown by the inline backend, which flushes only after a cell runs); or, when ``draw`` returns a Figure that it
    keeps and updates between calls, that figure's PNG. A constrained-layout figure of a shape
    seen before (size, number of axes) takes the axes' positions found then instead of solving the layout again."""
    before = set(plt.get_fignums())
    try:
        kept = draw(**values)
        if isinstance(kept, Figure):  # a figure the panel keeps and updates: saved, not closed
            png = figure_png(kept)
            if isinstance(kept.get_layout_engine(), ConstrainedLayoutEngine):  # laid out once: positions kept
                kept.set_layout_engine(None)
                kept.fixed_layout = True
            return png
        new = [n for n in plt.get_fignums() if n not in before]
        if not new:
            raise RuntimeError("the panel's draw function made no figure")
        fig = plt.figure(new[-1])
        key = (tuple(fig.get_size_inches()), len(fig.axes))
        constrained = isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
        if constrained and key in layouts:
            fig.set_layout_engine(None)  # None, not "none": a placeholder engine would cost savefig a dry draw
            fig.fixed_layout = True  # figure_png: saved as placed here, not trimmed (a second draw)
            for ax, position in zip(fig.axes, layouts[key]):
                ax.set_position(position)
        png = figure_png(fig)
        if constrained and key not in layouts:
            layouts[key] = [ax.get_position() for ax in fig.axes]
        return png
    finally:
        for n in plt.get_fignums():
            if n not in before:
                plt.close(n)


def kept_axes(state: dict, ncols: int, size: float) -> tuple[Figure, list, bool]:
    """The figure of a panel that keeps it between redraws and only updates its artists: made on the first call (a
    row of ``ncols`` axes, ``size`` inches each, as ``plots.figure``; off pyplot, so no backend shows or closes it;
    laid out by constrained layout at its first save, then fixed by ``_drawn_png``). Returns (fig, axes, new)."""
    if state:
        return state["fig"], state["axes"], False
    fig = Figure(figsize=(size * ncols, size), layout="constrained")
    FigureCanvasAgg(fig)
    state.update(fig=fig, axes=[fig.add_subplot(1, ncols, k + 1) for k in range(ncols)])
    return state["fig"], state["axes"], True


# --- Chapter-specific panels go below, each under its chapter's header ---------------------------------

# --- 00–02 ---

def mix_panel() -> W.VBox:
    """Chapter 00: sliders for α_t and σ_t; draws x_t = α_t x0 + σ_t ε on the moons and prints the SNR (noising.play_mix)."""

    def draw(alpha_t, sigma_t):
        out = play_mix(alpha_t, sigma_t)
        fig, axes = figure(2, size=3.4)
        scatter2d(axes[0, 0], out["x0"], title=r"data $x_0$ (moons)", lim=4)
        scatter2d(axes[0, 1], out["x_t"], lim=4, color="C3",
                  title=rf"$x_t$: SNR = {out['snr']:.3g}, $\lambda$ = {out['log_snr']:.2f}")
        for ax in axes[0]:
            ax.set(xlabel="$x_1$", ylabel="$x_2$")

    return panel(draw, alpha_t=slider(0.8, 0.0, 1.5, 0.05, "α_t"), sigma_t=slider(0.5, 0.05, 3.0, 0.05, "σ_t"))


def noising_panel() -> W.VBox:
    """Chapter 01: schedule parameters and the normalised time u; draws every process at u on the moons (top) and
    the schedule curves with u marked (bottom) (noising.play_noising). One 10-inch figure, laid out by hand and built
    once; each redraw only moves its points, curves and texts (``_noising_figure``, ``_noising_update``)."""
    state = {}

    def draw(beta_min, beta_max, sigma_max, s, u):
        out = play_noising(beta_min, beta_max, sigma_max, s, u, n=600)
        if not state:
            state.update(_noising_figure(out))
        _noising_update(state, out, u)
        return state["fig"]

    return panel(draw, beta_min=slider(0.1, 0.0, 2.0, 0.05, "β_min"), beta_max=slider(20.0, 5.0, 40.0, 0.5, "β_max"),
                 sigma_max=log_slider(50.0, 1.0, 100.0, "σ_max"), s=log_slider(0.008, 1e-3, 0.2, "cosine s"),
                 u=slider(0.3, 0.0, 1.0, 0.01, "u = t/t_max"))


def _noising_figure(out: dict) -> dict:
    """The chapter 01 panel's figure and the artists a redraw moves: a scatter per process (top, no ticks: each
    states its window), the three schedule panels (bottom) with a dashed line at u."""
    fig = Figure(figsize=(10, 6.4))
    FigureCanvasAgg(fig)  # drawn off-screen; never handed to pyplot, so no backend shows or closes it
    fig.fixed_layout = True  # figure_png: saved as laid out here
    top = fig.add_gridspec(1, 6, left=0.01, right=0.99, top=0.9, bottom=0.6, wspace=0.08)
    bottom = fig.add_gridspec(1, 3, left=0.07, right=0.85, top=0.5, bottom=0.09, wspace=0.36)
    scatters = []
    for k, name in enumerate(["data", *out["points"]]):
        ax = fig.add_subplot(top[0, k])
        scatters.append(ax.scatter([], [], s=1.5, alpha=0.5, color=PROCESS_COLORS.get(name, "0.3")))
        ax.set_aspect("equal")
        ax.set_xticks([]), ax.set_yticks([])
    axes = [fig.add_subplot(bottom[0, k]) for k in range(3)]
    schedules(out["curves"], axes=axes)
    axes[0].get_legend().remove()  # one legend for the three panels, right of them, where it covers no curve
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.855, 0.3), fontsize=9,
               frameon=False)
    vlines = [ax.axvline(0, color="k", lw=1.2, ls="--") for ax in axes]
    return {"fig": fig, "scatters": scatters, "axes": axes, "vlines": vlines}


def _noising_update(state: dict, out: dict, u: float) -> None:
    panels = [("data $x_0$", out["x0"], 4.0)]
    panels += [(f"{name}\nα {p['alpha_t']:.2f}, σ {p['sigma_t']:.3g}", p["x_t"], max(4.0, 3 * p["sigma_t"]))
               for name, p in out["points"].items()]
    for sc, (title, x, lim) in zip(state["scatters"], panels):
        sc.set_offsets(to_numpy(x))
        sc.axes.set(xlim=(-lim, lim), ylim=(-lim, lim))
        sc.axes.set_title(title, fontsize=10)
        sc.axes.set_xlabel(f"window ±{lim:.3g}", fontsize=9, labelpad=2)
    for ax, key in zip(state["axes"], ("alpha_t", "sigma_t", "lambda_t")):
        for line, c in zip(ax.get_lines(), out["curves"].values()):  # the curves, in schedules' order
            line.set_data(to_numpy(c["u"]), to_numpy(c[key]))
        ax.relim()
        ax.autoscale_view()
    for line in state["vlines"]:
        line.set_xdata([u, u])
    state["fig"].suptitle(f"every process at u = t/t_max = {u:.2f} (dashed line below), same data, same ε",
                          fontsize=12)


def tweedie_panel() -> W.VBox:
    """Chapter 02: the point x_t = (x, y) and σ; draws log p_t, x̂₀, the score arrow and P(k | x_t) (tweedie.play_tweedie)."""

    def draw(x, y, sigma):
        tweedie_view(play_tweedie(x, y, sigma))

    return panel(draw, x=slider(0.5, -4.0, 4.0, 0.1, "x"), y=slider(0.5, -4.0, 4.0, 0.1, "y"),
                 sigma=log_slider(0.5, 0.05, 5.0, "σ"))


# --- 03, 06, 07 ---

def fokker_planck_panel() -> W.VBox:
    """Chapter 03: a time slider; the exact p_t of the 1-D mixture, the Fokker–Planck grid solution and a histogram of
    forward-SDE samples (``fokker_planck.play_density``)."""

    def draw(t):
        out = play_density(t, n_samples=3000)
        fig, axes = figure(1, size=4.2)
        ax = axes[0, 0]
        ax.hist(to_numpy(out["samples"]), bins=60, range=(-5, 5), density=True, color="0.8", label="forward-SDE samples")
        ax.plot(to_numpy(out["x"]), to_numpy(out["exact"]), "C0", lw=2, label="exact $p_t$")
        ax.plot(to_numpy(out["x"]), to_numpy(out["fp"]), "C3--", label="Fokker–Planck grid")
        ax.set(xlabel="x", ylabel="density", title=f"VP, t = {t:.2f}: L1(grid, exact) = {out['l1_fp']:.1e}")
        ax.legend(fontsize=8)

    return panel(draw, t=slider(0.3, 0.0, 1.0, 0.02, "t"))


def ode_sde_paths_panel() -> W.VBox:
    """Chapter 03: number of paths and noise level η; PF-ODE (η = 0) and reverse-family paths from the same x_T with
    the exact score (``fokker_planck.play_paths``)."""

    def draw(n_paths, eta):
        out = play_paths(n_paths, eta)
        fig, axes = figure(2, size=3.8, sharey=True)
        for ax, key, title in ((axes[0, 0], "ode", "probability-flow ODE (η = 0)"),
                               (axes[0, 1], "sde", f"reverse family, η = {eta:.2f}")):
            ts, paths = to_numpy(out["ts"]), to_numpy(out[key])  # (T,), (T, n_paths)
            segments = np.stack([np.broadcast_to(ts[:, None], paths.shape), paths], -1).transpose(1, 0, 2)
            colors = [f"C{k % 10}" for k in range(paths.shape[1])]  # one artist for all paths: cheap to draw
            ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.7, alpha=0.7))
            ax.autoscale_view()
            ax.set(xlabel="t (noise → data, right to left)", ylabel="x", title=title, xlim=(1, 0))

    return panel(draw, n_paths=int_slider(20, 1, 200, "paths"), eta=slider(1.0, 0.0, 2.0, 0.1, "noise level η"))


def langevin_panel() -> W.VBox:
    """Chapter 06: τ, steps per level and number of noise levels; plain vs annealed Langevin on two separated modes
    (``langevin.play_langevin``)."""

    state = {}  # the figure, drawn once with its contours; a redraw moves the points and retitles

    def draw(tau, n_steps, n_levels):
        out = play_langevin(tau, n_steps, n_levels, n_samples=400)
        fig, axes, new = kept_axes(state, 2, 3.6)
        if new:
            for ax, key, color in zip(axes, ("plain", "annealed"), ("C0", "C1")):
                density_contours(ax, out["gmm"], lim=5, n=71)
                state[key] = scatter2d(ax, out[key], lim=5, color=color).collections[-1]
                ax.set(xlabel="$x_1$", ylabel="$x_2$")
        for key in ("plain", "annealed"):
            state[key].set_offsets(to_numpy(out[key]))
        axes[0].set_title(f"Langevin, {n_steps * n_levels} steps\nleft-mode share {out['frac_plain']:.2f} (true 0.80)")
        axes[1].set_title(f"annealed, {n_levels} levels × {n_steps}\nleft-mode share {out['frac_annealed']:.2f} "
                          "(true 0.80)")
        return fig

    return panel(draw, tau=log_slider(0.3, 0.01, 1.0, "τ (× local variance)"), n_steps=int_slider(20, 1, 100, "steps/level"),
                 n_levels=int_slider(10, 1, 20, "noise levels"))


def pc_panel() -> W.VBox:
    """Chapter 07: step count and corrector SNR; Euler–Maruyama vs predictor–corrector with the exact score, each SW₂
    read against the noise band of exact samples of the same size (``sdes.play_pc``)."""

    state = {}  # the figure, made once; a redraw moves the points and retitles

    def draw(n_steps, snr):
        out = play_pc(n_steps, snr, n_samples=500)
        band = out["band"]
        fig, axes, new = kept_axes(state, 3, 3.3)
        if new:
            for ax, key, color in zip(axes, ("exact", "em", "pc"), ("gray", "C0", "C1")):
                state[key] = scatter2d(ax, out[key], color=color).collections[-1]
        for key in ("exact", "em", "pc"):
            state[key].set_offsets(to_numpy(out[key]))
        weak = lambda d: f"Δ log q {d[0]:+.2f} ± {d[1]:.2f}"  # noqa: E731
        axes[0].set_title(f"exact samples (n = {band['n']})\nnoise: SW₂ {band_text(band)}")
        axes[1].set_title(f"EM, {n_steps} steps: SW₂ {out['sw_em']:.3f}\n{reading(out['sw_em'], band)}; "
                          f"{weak(out['weak_em'])}")
        axes[2].set_title(f"PC, r = {snr:.2f}: SW₂ {out['sw_pc']:.3f}\n{reading(out['sw_pc'], band)}; "
                          f"{weak(out['weak_pc'])}")
        return fig

    return panel(draw, n_steps=int_slider(50, 1, 200, "steps"), snr=log_slider(0.16, 0.01, 1.0, "corrector SNR r"))


def at_cap(gamma: float) -> float:
    """A churn slider's value, its top end (γ rounded to the slider's 0.001) read as the cap √2 − 1 itself."""
    return GAMMA_MAX if gamma >= round(GAMMA_MAX, 3) else gamma


def band_text(band: dict, scale: float = 1.0, fmt: str = ".3f") -> str:
    """'0.14 ± 0.09': a noise band (``noise_floor.floor_band``) as mean ± 2 sd, times ``scale``."""
    return f"{scale * band['mean']:{fmt}} ± {2 * scale * band['sd']:{fmt}}"


# --- 04, 05 ---

def ddpm_schedule_panel() -> W.VBox:
    """Chapter 04: sliders for T and the β range; draws ᾱ_n and exact-denoiser ancestral samples (elbo.play_schedule)."""

    def draw(T, beta_1, beta_T):
        out = play_schedule(T, beta_1, beta_T, n_samples=200)
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

    def draw(eta, n_steps):
        out = play_ddim(eta, n_steps, n_samples=400)
        fig, axes = figure(2, size=3.6)
        scatter2d(axes[0, 0], out["x_T"], title=r"start $x_T \sim N(0, I)$")
        scatter2d(axes[0, 1], out["samples"], title=f"η = {eta:.2f}, {n_steps} steps: SW₂ = {out['sw']:.2f}")

    return panel(draw, eta=slider(0.0, 0.0, 1.0, 0.05, "η"), n_steps=int_slider(20, 1, 200, "steps"))


# --- 08, 09 ---

def flows_panel() -> W.VBox:
    """Chapter 08: Euler steps and the path (rectified vs cosine VP); draws the trajectories on the exact marginal
    velocity of the same mixture from the same noise, with straightness and error (flows.play_flows)."""

    def draw(n_steps, path):
        out = play_flows(n_steps, path, n_samples=300)
        fig, axes = figure(2, size=3.6)
        traj = to_numpy(out["traj"])
        for j in range(0, traj.shape[1], 6):
            axes[0, 0].plot(traj[:, j, 0], traj[:, j, 1], lw=0.6, color="C4", alpha=0.6)
        scatter2d(axes[0, 0], out["samples"], lim=3.5, color="C3", s=4,
                  title=f"{path}: {n_steps} Euler steps\ndeviation from chord {out['straightness']:.3f}")
        scatter2d(axes[0, 1], out["data"], lim=3.5, color="C0", s=4, label="exact data")
        scatter2d(axes[0, 1], out["samples"], lim=3.5, color="C3", s=4,
                  title=f"samples vs data: SW₂ {out['sw']:.3f}, {reading(out['sw'], out['band'])}\n"
                  f"(exact samples: {band_text(out['band'])})", label="samples")
        axes[0, 1].legend(loc="lower right", fontsize=9, markerscale=3)
        for ax in axes[0]:
            ax.set(xlabel="$x_1$", ylabel="$x_2$")

    return panel(draw, n_steps=int_slider(4, 1, 50, "Euler steps"),
                 path=dropdown(["rectified", "cosine"], "rectified", "path"))


def few_step_panel() -> W.VBox:
    """Chapter 13: sampling steps, the teacher's grid and the training budget of consistency distillation; trains a
    model on the first visit to a (teacher N, Adam steps) setting, keeps it, and shows its samples beside the exact
    flow map (few_step_train.play_few_step)."""

    def draw(n_steps, teacher_steps, train_steps):
        out = play_few_step(n_steps, teacher_steps, train_steps)
        fig, axes = figure(1, size=4.0)
        scatter2d(axes[0, 0], out["exact"], lim=3.5, color="C0", s=4, label="exact flow map")
        scatter2d(axes[0, 0], out["samples"], lim=3.5, color="C3", s=4, label=f"CD, {n_steps} NFE",
                  title=f"1-NFE error to the exact map {out['map_error']:.3f}\n"
                        f"SW₂ {out['sw']:.3f} (exact samples: {out['sw_floor']:.3f})")
        axes[0, 0].legend(loc="lower right", fontsize=9)
        axes[0, 0].set(ylabel="$x_2$")
        axes[0, 0].set_xlabel("$x_1$\n(the first visit to a setting trains: about 1 s\nper 100 Adam steps; the "
                              "model is kept, so\nrevisits and the NFE slider are instant)", fontsize=9)

    return panel(draw, n_steps=int_slider(1, 1, 8, "NFE"),
                 teacher_steps=dropdown([4, 8, 16, 32, 64], 16, "teacher N"),
                 train_steps=int_slider(600, 50, 2000, "Adam steps", step=50))


def edm_panel() -> W.VBox:
    """Chapter 09: ρ, NFE, the churn γ and S_noise; Heun on the ρ grid on the exact mixture with its exact errors
    (edm_design.play_edm). The slider moves γ itself over [0, √2 − 1] (``course.churn``): S_churn saturates there."""
    state = {}  # the figure, made once; a redraw moves the samples and the grid's curve and retitles

    def draw(rho, nfe, gamma, s_noise):
        gamma = at_cap(gamma)
        n_steps = heun_steps(nfe)
        s_churn = s_churn_for_gamma(gamma, n_steps)
        out = play_edm(rho, nfe, s_churn, s_noise)
        fig, axes, new = kept_axes(state, 2, 4.2)
        s = to_numpy(out["sigmas"])
        if new:
            scatter2d(axes[0], out["data"], lim=3.5, color="C0", s=3, label="exact data")
            state["dots"] = scatter2d(axes[0], out["samples"], lim=3.5, color="C3", s=3,
                                      label="Heun samples").collections[-1]
            axes[0].legend(loc="lower right", fontsize=9, markerscale=3)
            axes[0].set(xlabel="$x_1$", ylabel="$x_2$")
            state["grid"], = axes[1].semilogy(range(len(s) - 1), s[:-1], "o-", ms=3)
            axes[1].set(xlabel="step i", ylabel=r"$\sigma_i$")
        state["dots"].set_offsets(to_numpy(out["samples"]))
        state["grid"].set_data(range(len(s) - 1), s[:-1])
        axes[1].relim()
        axes[1].autoscale_view()
        error = (f"ODE error {out['ode_error']:.3f}" if gamma == 0 else
                 f"distance to the ODE solution {out['ode_error']:.3f}")
        mmd = f"MMD² × 10³ = {1e3 * out['mmd2']:.2f}: {reading(out['mmd2'], out['band'])}"
        axes[0].set_title(f"{error}\n{mmd}\n(noise band: {band_text(out['band'], 1e3, '.2f')})")
        cap = " (the cap)" if gamma == GAMMA_MAX else ""
        axes[1].set_title(f"ρ = {rho:g} grid, {n_steps} Heun steps\nγ = {gamma:.2f}{cap} ⇔ S_churn = {s_churn:.1f}"
                          f"\n(S_churn saturates at {out['churn_saturates_at']:.1f})"
                          f"\nS_noise = {s_noise:.2f}{': no effect at γ = 0' if gamma == 0 else ''}")
        return fig

    return panel(draw, rho=slider(7.0, 0.5, 20.0, 0.5, "ρ"), nfe=int_slider(15, 1, 100, "NFE"),
                 gamma=slider(0.0, 0.0, round(GAMMA_MAX, 3), 0.01, "churn γ (≤ √2−1)"),
                 s_noise=slider(1.0, 0.5, 1.5, 0.01, "S_noise"))


# --- 10 ---

def samplers_panel() -> W.VBox:
    """Chapter 10: NFE, ρ, η and the churn γ; Heun (churn) and DDIM (η) samples, their distance to the exact ODE
    answer (an ODE error only when the sampler is deterministic) and SW₂ read against its noise band
    (``samplers.play_samplers``; γ as in ``course.churn``)."""
    state = {}  # the figure, made once; a redraw moves the points and retitles

    def draw(nfe, rho, eta, gamma):
        gamma = at_cap(gamma)
        churn = s_churn_for_gamma(gamma, heun_steps(nfe))
        out = play_samplers(nfe, rho, eta, churn)
        fig, axes, new = kept_axes(state, 3, 3.3)
        if new:
            state["dots"] = [scatter2d(ax, x, color=color).collections[-1] for ax, x, color in
                             zip(axes, (out["exact"], out["heun"]["x0"], out["ddim"]["x0"]), ("gray", "C0", "C0"))]
        for dots, x in zip(state["dots"], (out["exact"], out["heun"]["x0"], out["ddim"]["x0"])):
            dots.set_offsets(to_numpy(x))
        axes[0].set_title(f"exact data (n = {out['band']['n']})\nnoise: SW₂ {band_text(out['band'])}")
        for ax, name, knob, stochastic in ((axes[1], "heun", f"γ {gamma:.2f} (S_churn {churn:.1f})", gamma > 0),
                                           (axes[2], "ddim", f"η {eta:g}", eta > 0)):
            r = out[name]
            what = "distance to ODE answer" if stochastic else "ODE error"
            ax.set_title(f"{name}, {knob}, NFE {r['nfe']}\n{what} {r['ode_error']:.2e}\n"
                         f"SW₂ {r['sw']:.3f}: {reading(r['sw'], out['band'])}")
        return fig

    return panel(draw, nfe=int_slider(20, 1, 200, "NFE"), rho=slider(7.0, 1.0, 15.0, 0.5, "ρ"),
                 eta=slider(0.0, 0.0, 1.0, 0.05, "η (DDIM)"),
                 gamma=slider(0.0, 0.0, round(GAMMA_MAX, 3), 0.01, "churn γ, Heun (≤ √2−1)"))


# --- 11 ---

def cfg_mixture_panel() -> W.VBox:
    """Chapter 11: guidance scale w and class; CFG samples of the 2-D mixture with the exact models against the exact
    conditional law and the tilted density q(x|y)^w q(x)^(1−w) (``guidance.cfg_mixture``)."""

    state = {}  # the figure, made once; a redraw moves the points and retitles

    def draw(w, label):
        out = cfg_mixture(w, label, n=600, n_steps=20)
        fig, axes, new = kept_axes(state, 3, 3.3)
        if new:
            for ax, key, color in zip(axes, ("x", "exact", "tilted"), ("C0", "gray", "tab:green")):
                state[key] = scatter2d(ax, out[key], s=2, color=color).collections[-1]
        for key in ("x", "exact", "tilted"):
            state[key].set_offsets(to_numpy(out[key]))
        axes[0].set_title(f"CFG, w = {w:g}, class {label}\nmass per component " + " / ".join(f"{m:.2f}"
                                                                                        for m in out["mass"]))
        axes[1].set_title(f"exact q(x | y): SW {out['sw_exact']:.3f}\n(floor {out['floor_exact']:.3f}; exact mass "
                          + " / ".join(f"{m:.2f}" for m in out["exact_mass"]) + ")")
        axes[2].set_title(r"tilted $q(x|y)^w\,q(x)^{1-w}$" + f"\nSW {out['sw_tilted']:.3f} "
                          f"(floor {out['floor_tilted']:.3f})")
        return fig

    return panel(draw, w=slider(2.0, 0.0, 8.0, 0.25, "guidance scale w"), label=int_slider(0, 0, 2, "class y"))


def mnist_guidance_panel(name: str = "mnist-flow") -> W.VBox:
    """Chapter 11: guidance scale w and digit; 8 guided samples of a shipped checkpoint (``guidance.play_guidance``)."""

    def draw(w, digit):
        out = play_guidance(name, w, digit, n=8, n_steps=6)
        fig, ax = plt.subplots(figsize=(6, 1.9))
        digit_grid(ax, out["x"], nrow=8, title=f"{name}: digit {digit}, guidance scale w = {w:g}")

    return panel(draw, w=slider(1.0, 0.0, 8.0, 0.5, "guidance scale w"), digit=int_slider(3, 0, 9, "digit"))


# --- 12 ---

def mnist_sampler_panel(names=("mnist-edm", "mnist-ddpm", "mnist-flow")) -> W.VBox:
    """Sample the shipped checkpoints: checkpoint, sampler, a budget of network evaluations (NFE), label (10 = no
    label) and guidance scale w. Each position is computed once per kernel (revisits are instant); the title says
    how many digits the evaluation classifier reads as the label and when the budget is expected to be poor."""
    cache: dict[tuple, dict] = {}

    def draw(name, integrator, nfe, label, w):
        guided = label != 10 and w != 1
        n_steps = panel_steps(integrator, nfe, guided)
        key = (name, integrator, n_steps, label, w)
        if key not in cache:
            if len(cache) >= 256:  # about 13 MB of digits: start again
                cache.clear()
            cache[key] = play_mnist(name, integrator, n_steps, label, w=w)
        out = cache[key]
        fig, ax = plt.subplots(figsize=(4.6, 5.0))
        cfg = f"w = {out['w']:g}" if label != 10 else "no label: unguided"
        read = "" if out["read"] is None else f"; classifier reads {out['read']}/16 as a {label}"
        poor = expected_poor(integrator, n_steps)
        poor = f"\n{poor}" if poor else ""
        cost = out["nfe"] * (2 if guided else 1)
        digit_grid(ax, out["x"], title=f"{name}, {integrator}, {n_steps} steps (NFE ≤ {cost})\n{cfg}{read}{poor}")

    return panel(draw, name=dropdown(list(names), names[0], "checkpoint"),
                 integrator=dropdown(list(PANEL_SAMPLERS), "heun", "sampler"),
                 nfe=int_slider(20, *PANEL_NFE, "NFE budget"), label=int_slider(3, 0, 10, "label (10 = none)"),
                 w=slider(1.0, 0.0, 6.0, 0.5, "guidance w"))



# --- 14 ---

def discrete_panel() -> W.VBox:
    """Chapter 14: noise (mask / uniform), schedule, sampler and steps; the exact sampler output against the data,
    with the live KL (``discrete_sampling.play_discrete``)."""

    def draw(kind, schedule, sampler, n_steps):
        if sampler == "euler" and kind == "uniform":  # a figure that says why there is none
            fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
            ax.text(0.5, 0.5, "Euler needs finite rates at t = 1; with uniform noise β(1) = ∞.\n"
                    "Pick the 'posterior' sampler, or mask noise.", ha="center", va="center", fontsize=13)
            ax.set_axis_off()
            return
        out = play_discrete(kind, schedule, n_steps, sampler)
        top = out["p_data"].argsort(descending=True)[:24]
        fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
        ax.bar(range(24), to_numpy(out["p_data"][top]), width=0.4, label="data p(x)")
        ax.bar([i + 0.4 for i in range(24)], to_numpy(out["p_sampler"][top]), width=0.4, label="sampler output")
        ax.set_xticks(range(24), ["".join(map(str, s.tolist())) for s in out["states"][top]], rotation=90, fontsize=9)
        ax.set(ylabel="probability", title=f"{kind} noise, {schedule}, {sampler}, {n_steps} steps: "
                                            f"KL(data ‖ sampler) = {out['kl']:.4f} nats")
        ax.legend()

    return panel(draw, kind=dropdown(["mask", "uniform"], "mask", "noise"),
                 schedule=dropdown(["linear", "cosine"], "linear", "schedule"),
                 sampler=dropdown(["posterior", "euler"], "posterior", "sampler"),
                 n_steps=int_slider(4, 1, 64, "steps"))

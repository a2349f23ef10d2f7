"""ipywidgets panels: controls + a figure redrawn on every change. No math here: compute functions live in the
core modules (or in a chapter) and are tested on their own; a panel only wires sliders to them.

Keep Jupyter's inline matplotlib backend (never force Agg): ``panel`` redraws by calling ``draw(**values)``, which
must create a figure and call ``plt.show()``.
"""
from __future__ import annotations

import math
from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt

from ..course.discrete_sampling import play_discrete
from ..course.edm_design import play_edm
from ..course.elbo import play_ddim, play_schedule
from ..course.few_step_train import play_few_step
from ..course.flows import play_flows
from ..course.fokker_planck import play_density, play_paths
from ..course.guidance_demos import cfg_mixture
from ..course.langevin import play_langevin
from ..course.mnist_demos import PANEL_NFE, PANEL_SAMPLERS, expected_poor, panel_steps, play_guidance, play_mnist
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
    """Controls in a row above an output area in which ``draw(**values)`` draws its figure; returns the panel.

    ``draw`` is called once at once and again whenever a control changes.
    """
    out = W.interactive_output(_showing(draw), controls)
    rows = [W.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
    return Panel([*rows, out])


def _showing(draw):
    def run(**values):
        draw(**values)
        plt.show()
    return run


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
    """Chapter 01: schedule parameters and the normalised time u; draws every process at u on the moons and the
    schedule curves (noising.play_noising)."""

    def draw(beta_min, beta_max, sigma_max, s, u):
        out = play_noising(beta_min, beta_max, sigma_max, s, u, n=600)
        fig = plt.figure(figsize=(15, 6.2), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.05, 1])
        axes = top.subplots(1, 6)
        scatter2d(axes[0], out["x0"], title="data $x_0$", lim=4)
        for ax, (name, p) in zip(axes[1:], out["points"].items()):
            lim = max(4.0, 3 * p["sigma_t"])
            scatter2d(ax, p["x_t"], lim=lim, color=PROCESS_COLORS[name],
                      title=f"{name}: α={p['alpha_t']:.2f}, σ={p['sigma_t']:.2g}")
        schedules(out["curves"], axes=bottom.subplots(1, 3))
        for ax in bottom.axes:
            ax.axvline(u, color="k", lw=0.8, ls=":")

    return panel(draw, beta_min=slider(0.1, 0.0, 2.0, 0.05, "β_min"), beta_max=slider(20.0, 5.0, 40.0, 0.5, "β_max"),
                 sigma_max=log_slider(50.0, 1.0, 100.0, "σ_max"), s=log_slider(0.008, 1e-3, 0.2, "cosine s"),
                 u=slider(0.3, 0.0, 1.0, 0.01, "u = t/t_max"))


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
            ax.plot(to_numpy(out["ts"]), to_numpy(out[key]), lw=0.7, alpha=0.7)
            ax.set(xlabel="t (noise → data, right to left)", ylabel="x", title=title, xlim=(1, 0))

    return panel(draw, n_paths=int_slider(20, 1, 200, "paths"), eta=slider(1.0, 0.0, 2.0, 0.1, "noise level η"))


def langevin_panel() -> W.VBox:
    """Chapter 06: τ, steps per level and number of noise levels; plain vs annealed Langevin on two separated modes
    (``langevin.play_langevin``)."""

    def draw(tau, n_steps, n_levels):
        out = play_langevin(tau, n_steps, n_levels, n_samples=600)
        fig, axes = figure(2, size=3.6)
        for ax in axes[0]:
            density_contours(ax, out["gmm"], lim=5)
        scatter2d(axes[0, 0], out["plain"], lim=5, color="C0",
                  title=f"Langevin, {n_steps * n_levels} steps\nleft-mode share {out['frac_plain']:.2f} (true 0.80)")
        scatter2d(axes[0, 1], out["annealed"], lim=5, color="C1",
                  title=f"annealed, {n_levels} levels × {n_steps}\nleft-mode share {out['frac_annealed']:.2f} (true 0.80)")
        for ax in axes[0]:
            ax.set(xlabel="$x_1$", ylabel="$x_2$")

    return panel(draw, tau=log_slider(0.3, 0.01, 1.0, "τ (× local variance)"), n_steps=int_slider(20, 1, 100, "steps/level"),
                 n_levels=int_slider(10, 1, 20, "noise levels"))


def pc_panel() -> W.VBox:
    """Chapter 07: step count and corrector SNR; Euler–Maruyama vs predictor–corrector with the exact score
    (``sdes.play_pc``)."""

    def draw(n_steps, snr):
        out = play_pc(n_steps, snr)
        fig, axes = figure(3, size=3.3)
        scatter2d(axes[0, 0], out["exact"], color="gray", title=f"exact (floor SW₂ {out['floor']:.3f})")
        weak = lambda d: f"Δ log q {d[0]:+.2f} ± {d[1]:.2f}"  # noqa: E731
        scatter2d(axes[0, 1], out["em"], color="C0",
                  title=f"EM, {n_steps} steps: SW₂ {out['sw_em']:.3f}\n{weak(out['weak_em'])}")
        scatter2d(axes[0, 2], out["pc"], color="C1",
                  title=f"PC, r = {snr:.2f}: SW₂ {out['sw_pc']:.3f}\n{weak(out['weak_pc'])}")

    return panel(draw, n_steps=int_slider(50, 1, 500, "steps"), snr=log_slider(0.16, 0.01, 1.0, "corrector SNR r"))


# --- 04, 05 ---

def ddpm_schedule_panel() -> W.VBox:
    """Chapter 04: sliders for T and the β range; draws ᾱ_n and exact-denoiser ancestral samples (elbo.play_schedule)."""

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
                  title=f"samples vs data: SW = {out['sw']:.3f}\n(exact samples: {out['sw_floor']:.3f})",
                  label="samples")
        axes[0, 1].legend(loc="lower right", fontsize=7)
        for ax in axes[0]:
            ax.set(xlabel="$x_1$", ylabel="$x_2$")

    return panel(draw, n_steps=int_slider(4, 1, 50, "Euler steps"),
                 path=dropdown(["rectified", "cosine"], "rectified", "path"))


def few_step_panel() -> W.VBox:
    """Chapter 13: sampling steps, the teacher's grid and the training budget of consistency distillation; trains a
    fresh model and shows its samples beside the exact flow map (few_step_train.play_few_step)."""

    def draw(n_steps, teacher_steps, train_steps):
        out = play_few_step(n_steps, teacher_steps, train_steps)
        fig, axes = figure(1, size=4.0)
        scatter2d(axes[0, 0], out["exact"], lim=3.5, color="C0", s=4, label="exact flow map")
        scatter2d(axes[0, 0], out["samples"], lim=3.5, color="C3", s=4, label=f"CD, {n_steps} NFE",
                  title=f"1-NFE error to the exact map {out['map_error']:.3f}\n"
                        f"SW₂ {out['sw']:.3f} (exact samples: {out['sw_floor']:.3f})")
        axes[0, 0].legend(loc="lower right", fontsize=7)
        axes[0, 0].set(xlabel="$x_1$", ylabel="$x_2$")

    return panel(draw, n_steps=int_slider(1, 1, 8, "NFE"),
                 teacher_steps=dropdown([4, 8, 16, 32, 64], 16, "teacher N"),
                 train_steps=int_slider(600, 50, 2000, "Adam steps", step=50))


def edm_panel() -> W.VBox:
    """Chapter 09: ρ, NFE, S_churn and S_noise; Heun on the ρ grid on the exact mixture with its exact errors
    (edm_design.play_edm)."""

    def draw(rho, nfe, s_churn, s_noise):
        out = play_edm(rho, nfe, s_churn, s_noise)
        fig, axes = figure(2, size=3.6)
        scatter2d(axes[0, 0], out["data"], lim=3.5, color="C0", s=3, label="exact data")
        scatter2d(axes[0, 0], out["samples"], lim=3.5, color="C3", s=3, label="Heun samples",
                  title=(f"ODE error {out['ode_error']:.3f}" if s_churn == 0 else
                         f"distance to the ODE solution {out['ode_error']:.3f}")
                  + f"\nMMD² × 10³ = {1e3 * out['mmd2']:.2f} (exact sampler: 0 ± 0.5)")
        axes[0, 0].legend(loc="lower right", fontsize=7)
        axes[0, 0].set(xlabel="$x_1$", ylabel="$x_2$")
        s = to_numpy(out["sigmas"])
        axes[0, 1].semilogy(range(len(s) - 1), s[:-1], "o-", ms=3)
        axes[0, 1].set(title=f"ρ = {rho:g} grid ({len(s) - 1} steps)", xlabel="step i", ylabel=r"$\sigma_i$")

    return panel(draw, rho=slider(7.0, 0.5, 20.0, 0.5, "ρ"), nfe=int_slider(15, 1, 100, "NFE"),
                 s_churn=slider(0.0, 0.0, 100.0, 1.0, "S_churn"), s_noise=slider(1.0, 0.5, 1.5, 0.01, "S_noise"))


# --- 10 ---

def samplers_panel() -> W.VBox:
    """Chapter 10: NFE, ρ, η and churn sliders; Heun (churn) and DDIM (η) samples and their live error against the
    exact answer (``bench_samplers.play_samplers``)."""

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

def cfg_mixture_panel() -> W.VBox:
    """Chapter 11: guidance scale w and class; CFG samples of the 2-D mixture with the exact models against the exact
    conditional law and the tilted density q(x|y)^w q(x)^(1−w) (``guidance.cfg_mixture``)."""

    def draw(w, label):
        out = cfg_mixture(w, label, n=1000, n_steps=20)
        fig, axes = figure(3, size=3.3)
        scatter2d(axes[0, 0], out["x"], title=f"CFG, w = {w:g}, class {label}\nmass per component "
                  + " / ".join(f"{m:.2f}" for m in out["mass"]), s=2)
        scatter2d(axes[0, 1], out["exact"], title=f"exact q(x | y): SW {out['sw_exact']:.3f}\n(floor "
                  f"{out['floor_exact']:.3f}; exact mass " + " / ".join(f"{m:.2f}" for m in out["exact_mass"]) + ")",
                  s=2, color="gray")
        scatter2d(axes[0, 2], out["tilted"], title=f"tilted q(x|y)^w q(x)^(1−w)\nSW {out['sw_tilted']:.3f} "
                  f"(floor {out['floor_tilted']:.3f})", s=2, color="tab:green")

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
            print(f"sampling 16 digits: {name}, {integrator}, {n_steps} steps …", flush=True)  # busy indicator
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
        if sampler == "euler" and kind == "uniform":
            print("Euler needs finite rates at t = 1; with uniform noise β(1) = ∞: pick 'posterior'.")
            return
        out = play_discrete(kind, schedule, n_steps, sampler)
        top = out["p_data"].argsort(descending=True)[:24]
        fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
        ax.bar(range(24), to_numpy(out["p_data"][top]), width=0.4, label="data p(x)")
        ax.bar([i + 0.4 for i in range(24)], to_numpy(out["p_sampler"][top]), width=0.4, label="sampler output")
        ax.set_xticks(range(24), ["".join(map(str, s.tolist())) for s in out["states"][top]], rotation=90, fontsize=7)
        ax.set(ylabel="probability", title=f"{kind} noise, {schedule}, {sampler}, {n_steps} steps: "
                                            f"KL(data ‖ sampler) = {out['kl']:.4f} nats")
        ax.legend()

    return panel(draw, kind=dropdown(["mask", "uniform"], "mask", "noise"),
                 schedule=dropdown(["linear", "cosine"], "linear", "schedule"),
                 sampler=dropdown(["posterior", "euler"], "posterior", "sampler"),
                 n_steps=int_slider(4, 1, 64, "steps"))

"""Figures only: no math lives here (it comes from the core modules). Each function returns the matplotlib Figure.

Sections below belong to chapters; add a chapter's figure functions under its own header.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..nets import edm_preconditioning
from ..timers import noise_level

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
def schedules(curves: dict, axes=None, title_suffix: str = ""):
    """Three panels of ``noising.schedule_curves`` output: α_t, σ_t (log scale) and the log-SNR λ_t against u = t/t_max."""
    if axes is None:
        fig, axes = figure(3, size=3.3)
        axes = axes[0]
    names = {"vp": "VP (linear β)", "cosine": "cosine VP", "ve": "VE", "edm": "EDM (σ = t)", "flow": "rectified flow",
             "ddpm": "DDPM"}
    for name, c in curves.items():
        kw = dict(color=PROCESS_COLORS.get(name), label=names.get(name, name))
        axes[0].plot(to_numpy(c["u"]), to_numpy(c["alpha_t"]), **kw)
        axes[1].plot(to_numpy(c["u"]), to_numpy(c["sigma_t"]), **kw)
        axes[2].plot(to_numpy(c["u"]), to_numpy(c["lambda_t"]), **kw)
    axes[0].set(xlabel=r"$u = t/t_{max}$", ylabel=r"$\alpha_t$", title=r"signal scale $\alpha_t$" + title_suffix)
    axes[1].set(xlabel=r"$u = t/t_{max}$", ylabel=r"$\sigma_t$", yscale="log", title=r"noise scale $\sigma_t$")
    axes[2].set(xlabel=r"$u = t/t_{max}$", ylabel=r"$\lambda_t$", title=r"log-SNR $\lambda_t$")
    axes[0].legend(fontsize=9, handlelength=1.5, borderaxespad=0.3)
    return axes[0].figure


def tweedie_view(out: dict, axes=None):
    """Chapter 02's picture from ``tweedie.play_tweedie``: log p_t with the point x_t, x̂₀ and the score arrow; a bar
    chart of the responsibilities P(k | x_t) coloured by class."""
    if axes is None:
        fig, axes = figure(2, size=3.8)
        axes = axes[0]
    ax = axes[0]
    xs = to_numpy(out["xs"])
    ax.contourf(xs, xs, to_numpy(out["log_p"]).clip(min=-12), levels=20, cmap="Blues")
    means = to_numpy(out["means"])
    ax.scatter(means[:, 0], means[:, 1], marker="+", color="gray", s=40, label=r"means $\mu_k$")
    x_t, x0_hat, score = to_numpy(out["x_t"]), to_numpy(out["x0_hat"]), to_numpy(out["score"])
    ax.scatter(*x_t, color="C3", s=40, zorder=3, label=r"$x_t$")
    ax.scatter(*x0_hat, color="C1", marker="*", s=120, zorder=3, label=r"$\hat x_0 = E[x_0\mid x_t]$")
    sigma = out["sigma"]
    # the arrow σ²∇log p_t: by Tweedie it ends exactly at α x̂₀ (α = 1 here)
    ax.annotate("", xy=x_t + sigma**2 * score, xytext=x_t,
                arrowprops=dict(arrowstyle="->", color="C3", lw=1.5))
    ax.plot([], [], color="C3", label=r"$\sigma^2\nabla\log p_t(x_t)$")
    lim = float(xs[-1])
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
           title=rf"$\log p_t$ at $\sigma$ = {sigma:.2f}")
    ax.legend(fontsize=8.5, loc="lower left")
    ax = axes[1]
    resp = to_numpy(out["resp"])
    labels = out["labels"].tolist() if out["labels"] is not None else [0] * len(resp)
    ax.bar(range(len(resp)), resp, color=[f"C{l}" for l in labels])
    ax.set(xlabel="component k (colour = class)", ylabel=r"$P(k\mid x_t)$", ylim=(0, 1),
           title="posterior over components", xticks=range(len(resp)))
    return axes[0].figure



# --- 03, 06, 07: Fokker–Planck, score matching, SDEs -------------------------------------------------
def density_contours(ax, gmm, lim: float = 5.0, n: int = 121, **kwargs):
    """Contour lines of a 2-D ``GaussianMixture``'s exact density on [-lim, lim]² (levels at 1/3, 1/10, 1/30, 1/100
    of its peak on the grid), on ``ax``."""
    u = torch.linspace(-lim, lim, n, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(u, u, indexing="xy"), -1)  # (n, n, 2)
    dens = gmm.log_prob(grid.reshape(-1, 2)).exp().reshape(n, n)
    peak = dens.max().item()
    kwargs.setdefault("colors", "0.35")
    kwargs.setdefault("linewidths", 0.7)
    ax.contour(to_numpy(u), to_numpy(u), to_numpy(dens), levels=[peak / 100, peak / 30, peak / 10, peak / 3], **kwargs)
    return ax


# --- 10: samplers -------------------------------------------------------------------------------------
def error_vs_nfe(result: dict, ax=None, title: str | None = None, legend: bool = True):
    """Chapter 10: log-log endpoint error against NFE for each ODE method (``bench_samplers.endpoint_errors``), with
    dotted reference slopes of each method's theory order anchored at its last point."""
    if ax is None:
        fig, axes = figure(1, size=4.6)
        ax = axes[0, 0]
    for i, (name, m) in enumerate(result["methods"].items()):
        nfe = np.array([r["nfe"] for r in m["rows"]], dtype=float)
        err = np.array([r["error"] for r in m["rows"]])
        of = "*" if m.get("log_factor") else ""  # * : the theory's rate there is ln N / N^p, fitted to err/ln N
        ax.loglog(nfe, err, "o-", color=f"C{i}", ms=4, label=f"{name} ({m['order']:.2f}{of}; {m['theory']})")
        ax.loglog(nfe, err[-1] * (nfe / nfe[-1]) ** -float(m["theory"]), ":", color=f"C{i}", lw=1.6)
    ax.set(xlabel="NFE", ylabel="median endpoint error",
           title=title or f"{result['process']}, {result['timer']} grid")
    if legend:
        ax.legend(fontsize=9)
    return ax.figure


def time_grids(process, n_steps: int, grids: dict, ax=None):
    """Chapter 10: the noise level σ/α of each grid's points against the step index (log scale)."""
    if ax is None:
        fig, axes = figure(1, size=4.6)
        ax = axes[0, 0]
    for name, ts in grids.items():
        level = to_numpy(noise_level(process, ts))
        ax.semilogy(np.arange(len(level))[np.isfinite(level) & (level > 0)],
                    level[np.isfinite(level) & (level > 0)], "o-", ms=3, label=name)
    ax.set(xlabel="step i", ylabel=r"noise level $\sigma_t/\alpha_t$", title=f"{n_steps}-step grids, {process.name}")
    ax.legend(fontsize=9)
    return ax.figure


# --- 11, 12: guidance, MNIST --------------------------------------------------------------------------
def digit_grid(ax, x, nrow: int | None = None, title: str | None = None):
    """Show images x (N, 1, 28, 28) in [−1, 1] as one grayscale grid (clamped to [−1, 1] for display only)."""
    x = torch.as_tensor(x).detach().float().cpu().clamp(-1, 1)
    n = x.shape[0]
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    canvas = -np.ones((ncol * 29 + 1, nrow * 29 + 1))
    for k in range(n):
        r, c = divmod(k, nrow)
        canvas[1 + r * 29:1 + r * 29 + 28, 1 + c * 29:1 + c * 29 + 28] = x[k, 0].numpy()
    ax.imshow(canvas, cmap="gray", vmin=-1, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax



# --- 09 · EDM ---------------------------------------------------------------------------------------------------------
def precond_curves(ax, sigma, sigma_data: float):
    """EDM's c_skip, c_out and c_in (``nets.edm_preconditioning``) against σ on log-log axes."""
    c_skip, c_out, c_in, _ = edm_preconditioning(sigma, sigma_data)
    for y, label in ((c_skip, "$c_{skip}$"), (c_out, "$c_{out}$"), (c_in, "$c_{in}$")):
        ax.loglog(to_numpy(sigma), to_numpy(y), label=label)
    ax.set(title=rf"preconditioning ($\sigma_{{data}}$ = {sigma_data:g})", xlabel=r"$\sigma$", ylabel="coefficient")
    ax.legend()
    return ax


# --- Redesigned for a 1,000-px notebook and a projector (issue 17): ≥ 10 px text where JupyterLab shows it -------------
def score_fields(u, fields: dict, title: str = ""):
    """Chapter 06: score fields on the grid ``u`` × ``u`` (``fields``: name → (n², 2), the exact one first). The exact
    panel is coloured by |s|; each learned one by its error |s − s_exact| on one shared scale; arrows (every second
    grid point, unit length) show the direction only."""
    u = to_numpy(u)
    n = len(u)
    names = list(fields)
    exact = to_numpy(fields[names[0]]).reshape(n, n, 2)
    errors = {k: np.linalg.norm(to_numpy(v).reshape(n, n, 2) - exact, axis=-1) for k, v in fields.items()}
    vmax = max(float(e.max()) for k, e in errors.items() if k != names[0]) or 1.0
    fig, axes = figure(len(names), size=2.5)
    for k, (ax, name) in enumerate(zip(axes[0], names)):
        s = to_numpy(fields[name]).reshape(n, n, 2)
        shade, cmap, lo, hi = (np.linalg.norm(s, axis=-1), "Blues", 0, None) if k == 0 else (errors[name], "Reds", 0, vmax)
        im = ax.pcolormesh(u, u, shade, cmap=cmap, vmin=lo, vmax=hi, shading="nearest")
        d = s[::2, ::2] / np.maximum(np.linalg.norm(s[::2, ::2], axis=-1, keepdims=True), 1e-12)
        ax.quiver(u[::2], u[::2], d[..., 0], d[..., 1], angles="xy", pivot="mid", scale=14, width=0.008, color="k")
        label = "|s|" if k == 0 else f"error, mean {errors[name].mean():.2f}"
        ax.set(title=f"{name}\n{label}", aspect="equal", xticks=[-3, 0, 3], yticks=[-3, 0, 3])
        if k in (0, 1):
            fig.colorbar(im, ax=axes[0, 0] if k == 0 else list(axes[0, 1:]), shrink=0.8, pad=0.02)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def sde_scales(tt, curves: dict, paths: dict):
    """Chapter 07: α_t and σ_t of each SDE (``curves``: name → (α, σ) on ``tt``) and forward paths (``paths``: name →
    (ts, (len(ts), n))). VP and sub-VP share α exactly, so sub-VP is drawn dashed with markers over VP's thick line."""
    fig, axes = figure(4, size=2.5)
    style = {"VP": dict(lw=3.5, alpha=0.5), "sub-VP": dict(ls="--", marker="o", ms=3, markevery=20, lw=1.3),
             "VE": dict(lw=1.5)}
    for i, (name, (alpha, sigma)) in enumerate(curves.items()):
        kw = dict(color=f"C{i}", label=name, **style.get(name, {}))
        axes[0, 0].plot(to_numpy(tt), to_numpy(alpha), **kw)
        axes[0, 1].plot(to_numpy(tt), to_numpy(sigma), **kw)
    axes[0, 0].set(xlabel="t", ylabel=r"$\alpha_t$", title="signal scale\n(VP = sub-VP)")
    axes[0, 1].set(xlabel="t", ylabel=r"$\sigma_t$", title="noise scale", yscale="log")
    axes[0, 1].legend(fontsize=9, loc="lower right")
    for ax, (name, (ts, path)) in zip(axes[0, 2:], paths.items()):
        ax.plot(to_numpy(ts), to_numpy(path), lw=0.6)
        ax.set(xlabel="t", ylabel="x", title=f"{name}: forward\npaths from 1.5")
    return fig


def convergence_figure(results: dict):
    """Chapter 10: ``error_vs_nfe`` for each (process, grid) result, side by side, with one legend below (the
    measured order of each method, and its theory order, which the dotted guides show)."""
    fig, axes = figure(len(results), size=3.3)
    for ax, r in zip(axes[0], results.values()):
        error_vs_nfe(r, ax=ax, legend=False)
        handles, labels = ax.get_legend_handles_labels()  # "name (measured; theory)": this panel's orders only
        ax.legend(handles, [label.split("(")[1].split(";")[0] for label in labels], title="order", fontsize=9,
                  title_fontsize=9, loc="lower left", handlelength=1.2, labelspacing=0.2, borderpad=0.3)
    methods = next(iter(results.values()))["methods"]
    star = any(m.get("log_factor") for r in results.values() for m in r["methods"].values())
    fig.legend(handles, [f"{name} (theory order {m['theory']}, dotted)" for name, m in methods.items()],
               loc="outside lower center", ncol=3, fontsize=9,
               title="* order fitted to err / ln N" if star else None, title_fontsize=9)
    return fig


def ddim_vs_ddpm_figure(images: dict, step_list, name: str = "mnist-ddpm"):
    """Chapter 05: DDIM (η = 0) against DDPM (η = 1) from the same x_T (``images``: (sampler, steps) → (n, 1, 28, 28)):
    one row of digits per step count, the two samplers side by side."""
    fig, axes = plt.subplots(len(step_list), 2, figsize=(10, 0.68 * len(step_list) + 0.7), layout="constrained",
                             squeeze=False)
    for k, n_steps in enumerate(step_list):
        for j, sampler in enumerate(("DDIM", "DDPM")):
            digit_grid(axes[k, j], images[sampler, n_steps], nrow=len(images[sampler, n_steps]))
            axes[k, j].set_ylabel(f"{n_steps} steps", fontsize=10)
    axes[0, 0].set_title("DDIM (η = 0): the same digits at every step count", fontsize=10)
    axes[0, 1].set_title("DDPM (η = 1): new digits for every grid", fontsize=10)
    fig.suptitle(f"{name} from the same $x_T$ ($\\hat x_0$ clipped to [−1, 1])", fontsize=11)
    return fig

r"""Forward SDEs $dx = f(t)\,x\,dt + g(t)\,dW$ and their Gaussian transition kernels (chapters 01, 03 and 07).

VP, sub-VP and VE are ``diffedu.processes``; the **sub-VP** SDE of Song et al. (2021, eq. 12),
$$dx = -\tfrac12\beta(t)\,x\,dt + \sqrt{\beta(t)\,(1 - e^{-2B(t)})}\,dW, \qquad B(t) = \int_0^t\beta(s)\,ds,$$
has its kernel derived below. This module holds the forward Euler–Maruyama simulator for any process (chapters 01,
03 and 07), the closed-form moments of a linear SDE started at a Gaussian, and DDPM read as a discretization of the VP
SDE.

**The sub-VP kernel, derived.** For a linear SDE the mean obeys $\dot m = f m$ and the variance obeys
$\dot v = 2 f v + g^2$. With $f = -\beta/2$: $m_t = e^{-B/2} x_0$, so $\alpha_t = e^{-B/2}$ (as for VP). With
$g^2 = \beta(1 - e^{-2B})$ and $v_0 = 0$, try $v = (1 - e^{-B})^2$: $\dot v = 2(1 - e^{-B})\beta e^{-B}$ and
$2 f v + g^2 = -\beta(1 - e^{-B})^2 + \beta(1 - e^{-B})(1 + e^{-B}) = 2\beta e^{-B}(1 - e^{-B})$. ✓ So
$$q(x_t\mid x_0) = \mathcal N\big(\alpha_t x_0,\ \sigma_t^2 I\big), \qquad \alpha_t = e^{-B/2},\quad
  \sigma_t = 1 - e^{-B} = 1 - \alpha_t^2 \;\le\; \sqrt{1 - \alpha_t^2}\ (\text{VP's}),$$
still of the form $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, but *not* variance preserving: $\alpha_t^2 + \sigma_t^2 < 1$
for $0 < t$, which is where the name comes from. ``Process.g2`` recovers $g^2 = \beta(1 - e^{-2B})$ from (α, σ), and the
tests check it against the formula above.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
from matplotlib.collections import LineCollection
from torch import Tensor

from ..checks import require_float_tensor, require_integer, require_positive
from ..integrators import euler_maruyama, euler_maruyama_step, langevin_corrector, predictor_corrector
from ..metrics import sliced_wasserstein
from ..processes import VP, DiscreteDDPM, Process
from ..timers import uniform
from ..toys import GaussianMixture, gmm_2d
from .animation import FONT, opening_axes
from .noise_floor import floor_band

__all__ = ["simulate_forward", "forward_moments", "ddpm_vs_vp", "play_pc", "weak_error_log_q", "pc_vs_em",
           "pc_frames", "pc_opening", "density_grid"]


def simulate_forward(x0: Tensor, ts, process: Process, generator: torch.Generator | None = None,
                     return_path: bool = False) -> Tensor:
    r"""Euler–Maruyama on the forward SDE $dx = f(t)\,x\,dt + g(t)\,dW$ (Kloeden & Platen 1992; Song et al. 2021):
    $x_{k+1} = x_k + f(t_k)\,x_k\,\Delta t + g(t_k)\sqrt{\Delta t}\,z_k$, $z_k\sim\mathcal N(0, I)$, over the increasing
    grid ``ts`` from the state ``x0`` at ``ts[0]`` (first order in the weak sense). Returns the final state, or the
    path (len(ts), B, ...). To start from the marginal at ``ts[0]`` instead, pass ``process.noise(x0, ts[0], eps)``."""
    require_float_tensor("x0", x0, "the start of the paths")
    ts = [float(t) for t in ts]
    if len(ts) < 2 or any(b <= a for a, b in zip(ts[:-1], ts[1:])):
        raise ValueError("ts must be a strictly increasing grid of at least 2 times (data → noise)")
    process.require_t(torch.tensor(ts, dtype=torch.float64), "ts")
    x, path = x0, [x0]
    for t, t_next in zip(ts[:-1], ts[1:]):
        dt = t_next - t
        t_ = torch.tensor(t, dtype=torch.float64)
        f_t, g_t = process.f(t_).item(), process.g(t_).item()
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x = x + f_t * x * dt + g_t * math.sqrt(dt) * z  # Euler–Maruyama step, forward in time
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x


def forward_moments(process: Process, t, mean0: float, var0: float) -> tuple[Tensor, Tensor]:
    r"""Mean and variance at time t of the forward SDE started at $x_0 \sim \mathcal N(m_0, v_0)$ (per coordinate) at
    $t_{min}$: $m_t = \alpha_t m_0$, $v_t = \alpha_t^2 v_0 + \sigma_t^2 - \alpha_t^2\sigma_{t_{min}}^2$ (every process here has
    $\alpha_{t_{min}} = 1$) — the solution of $\dot m = f m$, $\dot v = 2fv + g^2$. The last term is VE's: it starts at
    $\sigma_{min} > 0$, so its kernel from clean data has variance $\sigma_t^2 - \sigma_{min}^2$ (Song et al. 2021, eq. 29)."""
    if var0 < 0:
        raise ValueError(f"var0 must be ≥ 0; got {var0}")
    alpha_t, sigma_t = process.alpha(t), process.sigma(t)
    sigma_start = process.sigma(process.t_min)
    return alpha_t * mean0, alpha_t**2 * (var0 - sigma_start**2) + sigma_t**2


def ddpm_vs_vp(process: VP, T: int) -> dict[str, Tensor]:
    r"""Discrete DDPM as the VP SDE discretised on T steps (Ho et al. 2020; Song et al. 2021, App. B):
    ``DiscreteDDPM(T, β_min/T, β_max/T)``, with $\bar\alpha_n = \prod_{i\le n}(1-\beta_i)$, against the continuous
    $\alpha_{t_n}^2 = e^{-B(t_n)}$ of ``process`` at $t_n = n/T$.

    $\log\bar\alpha_n = \sum_{i\le n}\log(1-\beta_i) \approx -\sum\beta_i \approx -\int_0^{t_n}\beta(s)\,ds$; both
    approximations are O(1/T). Returns ``t``, ``alpha_bar`` and ``alpha_t``, each of shape (T + 1,).
    Needs T > β_max (every β_n < 1).
    """
    if not isinstance(process, VP):
        raise TypeError(f"process must be a VP; got {type(process).__name__}")
    T = require_integer("T", T, lo=math.floor(process.beta_max) + 1)  # T > β_max: every β_n < 1
    ddpm = DiscreteDDPM(T, process.beta_min / T, process.beta_max / T)
    t = torch.arange(T + 1, dtype=torch.float64) / T
    return {"t": t, "alpha_bar": ddpm.alpha_bar, "alpha_t": process.alpha(t)}


@lru_cache(maxsize=2)
def _pc_setup(n_samples: int, seed: int):
    """What the PC panel's sliders do not change: the mixture, the start x_T, exact samples and their noise floor."""
    process, gmm = VP(), gmm_2d()
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n_samples, 2, generator=g, dtype=torch.float64)
    ref = gmm.sample(n_samples, generator=g)
    band = floor_band(lambda n, gen: gmm.sample(n, generator=gen), ref, _sw)
    log_q_exact = gmm.log_prob(gmm.sample(20 * n_samples, generator=g)).mean().item()  # E_q[log q] for the weak error
    return process, gmm, x_T, ref, band, log_q_exact


def _sw(a: Tensor, b: Tensor) -> float:
    return sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(7)).item()


@lru_cache(maxsize=8)
def _em(n_steps: int, n_samples: int, seed: int) -> Tensor:
    process, gmm, x_T, _, _, _ = _pc_setup(n_samples, seed)
    ts = uniform(process, n_steps)
    return euler_maruyama(x_T, ts, gmm.predictor(process), process, generator=torch.Generator().manual_seed(seed + 1))


def play_pc(n_steps: int, snr: float, n_samples: int = 600, seed: int = 0) -> dict:
    """Chapter 07 panel: Euler–Maruyama and predictor–corrector (Langevin corrector with signal-to-noise ``snr``) on the
    VP SDE with the exact score of ``gmm_2d``, from the same x_T; sliced W₂ of each to exact samples, and the noise
    floor of that distance as a band (``noise_floor.floor_band``: fresh exact sets of the same size);
    ``weak_em``/``weak_pc``: the weak error of log q with its standard error (``weak_error_log_q``)."""
    n_steps = require_integer("n_steps", n_steps)
    process, gmm, x_T, ref, band, log_q_exact = _pc_setup(int(n_samples), int(seed))
    em = _em(n_steps, int(n_samples), int(seed))  # EM does not depend on the corrector's r: cached
    pc = predictor_corrector(x_T, uniform(process, n_steps), gmm.predictor(process), process, snr=float(snr),
                             generator=torch.Generator().manual_seed(seed + 1))
    return {"em": em, "pc": pc, "exact": ref, "sw_em": _sw(em, ref), "sw_pc": _sw(pc, ref), "floor": band["mean"],
            "band": band, "weak_em": weak_error_log_q(em, gmm, log_q_exact),
            "weak_pc": weak_error_log_q(pc, gmm, log_q_exact)}


def weak_error_log_q(x0: Tensor, gmm: GaussianMixture, log_q_exact: float) -> tuple[float, float]:
    r"""Weak error of samples ``x0`` for the test function $\log q$, q the exact mixture density:
    $\Delta = \frac1n\sum_i\log q(x_0^{(i)}) - E_q[\log q]$, with the Monte Carlo standard error of the sample mean,
    $\mathrm{sd}(\log q(x_0))/\sqrt n$. Δ < 0: the samples sit where q is lower than it should be (too spread, or
    between the modes); Δ > 0: too concentrated. ``log_q_exact`` is $E_q[\log q] = -H(q)$ (e.g. from exact samples)."""
    x0 = require_float_tensor("x0", x0, "the samples")
    if x0.shape[0] < 2:
        raise ValueError(f"x0 must hold at least 2 samples; got {x0.shape[0]}")
    log_q = gmm.log_prob(x0)  # (n,)
    return log_q.mean().item() - float(log_q_exact), log_q.std().item() / math.sqrt(x0.shape[0])


def pc_vs_em(steps=(10, 20, 40), snr: float = 0.16, n_samples: int = 10_000, big_snr: float = 0.5,
             seed: int = 0) -> list[dict]:
    r"""Chapter 07: does the Langevin corrector pay? VP SDE, ``gmm_2d``, exact score, exact $x_T\sim p_1$; for each
    step count N the weak error of $\log q$ (``weak_error_log_q``, with its standard error) of Euler–Maruyama with N
    steps (N NFE), predictor–corrector with N steps and r = ``snr`` (2N NFE: equal steps) and Euler–Maruyama with 2N
    steps (2N NFE: equal cost); for the largest N also PC with r = ``big_snr``. $E_q[\log q]$ from 20 n exact samples.
    Returns one dict per N: ``em``, ``pc``, ``em_2n``, (``pc_big``), each a pair (Δ, SE)."""
    n_samples = require_integer("n_samples", n_samples, lo=2)
    snr, big_snr = require_positive("snr", snr), require_positive("big_snr", big_snr)
    steps = [require_integer("steps", n) for n in steps]
    process, gmm = VP(), gmm_2d()
    exact = gmm.predictor(process)
    g = torch.Generator().manual_seed(seed)
    log_q_exact = gmm.log_prob(gmm.sample(20 * n_samples, generator=g)).mean().item()  # SE ≈ SE(Δ)/4.5
    x_T = gmm.marginal(process.t_max, process).sample(n_samples, generator=g)  # exact start: only the sampler errs
    noise = lambda: torch.Generator().manual_seed(seed + 1)  # noqa: E731
    weak = lambda x: weak_error_log_q(x, gmm, log_q_exact)  # noqa: E731
    em = {n: weak(euler_maruyama(x_T, uniform(process, n), exact, process, generator=noise()))
          for n in sorted(set(steps) | {2 * n for n in steps})}
    rows = []
    for n in steps:
        pc = predictor_corrector(x_T, uniform(process, n), exact, process, snr=snr, generator=noise())
        rows.append({"steps": n, "em": em[n], "pc": weak(pc), "em_2n": em[2 * n]})
    pc_big = predictor_corrector(x_T, uniform(process, max(steps)), exact, process, snr=big_snr, generator=noise())
    rows[steps.index(max(steps))]["pc_big"] = weak(pc_big)
    return rows


def pc_frames(n: int = 300, n_steps: int = 8, snr: float = 0.16, seed: int = 0) -> dict:
    r"""Chapter 07's opening: Euler–Maruyama and predictor–corrector on VP with the exact score of ``gmm_2d``, from the
    same exact $x_T$, recorded sub-step by sub-step. Returns ``ts``, ``em`` and ``pc`` (each a list of 2·n_steps + 1
    states: start, then per step the state after the corrector (EM: unchanged) and after the predictor)."""
    process, gmm = VP(), gmm_2d()
    exact = gmm.predictor(process)
    g = torch.Generator().manual_seed(seed)
    x_T = gmm.marginal(process.t_max, process).sample(n, generator=g)
    ts = uniform(process, require_integer("n_steps", n_steps)).tolist()
    em, pc = [x_T], [x_T]
    g_em, g_pc = torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(seed + 2)
    for t, t_next in zip(ts[:-1], ts[1:]):
        pc.append(langevin_corrector(pc[-1], t, exact, process, snr=snr, generator=g_pc))  # corrector at t
        em.append(em[-1])
        pc.append(euler_maruyama_step(pc[-1], t, t_next, exact, process, g_pc)[0])  # predictor t → t_next
        em.append(euler_maruyama_step(em[-1], t, t_next, exact, process, g_em)[0])
    return {"ts": ts, "em": em, "pc": pc, "gmm": gmm, "process": process, "snr": snr}


def density_grid(gmm: GaussianMixture, t: float, process, lim: float = 3.2, size: int = 80) -> Tensor:
    """The exact density $p_t$ of the noised mixture on a size × size grid over [−lim, lim]² (rows: x₂, columns: x₁)."""
    u = torch.linspace(-lim, lim, size, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2)  # (size², 2)
    log_p = gmm.log_prob(grid, t, process) if t > 0 else gmm.log_prob(grid)
    return log_p.exp().reshape(size, size)


def pc_opening(n: int = 300, n_steps: int = 8, snr: float = 0.16, seed: int = 0):
    """Chapter 07's opening animation as (fig, update, n_frames) for ``animation.animation_html``: EM beside PC, the
    exact density $p_t$ behind, PC's corrector moves drawn as short segments."""
    fr = pc_frames(n, n_steps, snr, seed)
    fig, axes = opening_axes(2, width=8.0, height=4.3)
    lim = 3.2
    dens = {t: density_grid(fr["gmm"], t, fr["process"], lim).numpy() for t in fr["ts"]}
    grid_u = torch.linspace(-lim, lim, 80, dtype=torch.float64).numpy()

    def update(k: int):
        step, sub = (k + 1) // 2, k % 2  # odd k: after the corrector; even k: after the predictor
        t = fr["ts"][step] if sub == 0 else fr["ts"][step - 1]
        for ax, name in zip(axes, ("em", "pc")):
            ax.clear()
            ax.contour(grid_u, grid_u, dens[t], levels=5, colors="0.6", linewidths=0.8)
            x = fr[name][k]
            if name == "pc" and sub == 1:  # corrector move: from the previous state to this one
                segments = torch.stack([fr["pc"][k - 1][:100], x[:100]], 1).numpy()  # (100, 2, 2)
                ax.add_collection(LineCollection(segments, colors="C3", linewidths=1.2))
            ax.scatter(x[:, 0], x[:, 1], s=6, color="C0" if name == "em" else "C1")
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
        what = f"after the corrector (red: its moves, r = {fr['snr']:g})" if sub == 1 else "after the predictor step"
        axes[0].set_title(f"Euler–Maruyama, t = {t:.2f}\n(one score call per step)", fontsize=FONT)
        axes[1].set_title(f"predictor–corrector, t = {t:.2f}\n{what}", fontsize=FONT)

    return fig, update, len(fr["pc"])

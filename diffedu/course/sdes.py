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
from torch import Tensor

from ..checks import require_float_tensor, require_integer
from ..integrators import euler_maruyama, predictor_corrector
from ..metrics import sliced_wasserstein
from ..processes import VP, DiscreteDDPM, Process
from ..timers import uniform
from .noise_floor import floor_band
from ..toys import gmm_2d

__all__ = ["simulate_forward", "forward_moments", "ddpm_vs_vp", "play_pc"]


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
    return process, gmm, x_T, ref, band


def _sw(a: Tensor, b: Tensor) -> float:
    return sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(7)).item()


@lru_cache(maxsize=8)
def _em(n_steps: int, n_samples: int, seed: int) -> Tensor:
    process, gmm, x_T, _, _ = _pc_setup(n_samples, seed)
    ts = uniform(process, n_steps)
    return euler_maruyama(x_T, ts, gmm.predictor(process), process, generator=torch.Generator().manual_seed(seed + 1))


def play_pc(n_steps: int, snr: float, n_samples: int = 600, seed: int = 0) -> dict:
    """Chapter 07 panel: Euler–Maruyama and predictor–corrector (Langevin corrector with signal-to-noise ``snr``) on the
    VP SDE with the exact score of ``gmm_2d``, from the same x_T; sliced W₂ of each to exact samples, and the noise
    floor of that distance as a band (``noise_floor.floor_band``: fresh exact sets of the same size)."""
    n_steps = require_integer("n_steps", n_steps)
    process, gmm, x_T, ref, band = _pc_setup(int(n_samples), int(seed))
    em = _em(n_steps, int(n_samples), int(seed))  # EM does not depend on the corrector's r: cached
    pc = predictor_corrector(x_T, uniform(process, n_steps), gmm.predictor(process), process, snr=float(snr),
                             generator=torch.Generator().manual_seed(seed + 1))
    return {"em": em, "pc": pc, "exact": ref, "sw_em": _sw(em, ref), "sw_pc": _sw(pc, ref), "floor": band["mean"],
            "band": band}

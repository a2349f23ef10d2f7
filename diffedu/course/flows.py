r"""Flow matching and rectified flow (chapter 08): conditional paths and velocities, the marginal velocity as a
posterior average, the flow-matching loss against the marginal loss, Euler sampling, straightness and reflow.

Time runs data → noise as everywhere in the course: $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, t = 0 is data.
Flow-matching papers (and the seed notes *Diffusion 101*) run a time $\tau$ from noise ($\tau = 0$) to data
($\tau = 1$); :func:`course_time` is the one place that converts, $t = 1 - \tau$, and their velocity is minus ours.

References: Lipman et al. (2023) *Flow Matching for Generative Modeling*; Liu, Gong & Liu (2023) *Flow Straight and
Fast* (rectified flow, reflow); Albergo & Vanden-Eijnden (2023) *Building Normalizing Flows with Stochastic
Interpolants*.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from ..checks import require_integer
from ..integrators import euler, euler_maruyama
from ..losses import flow_matching_loss
from ..metrics import sliced_wasserstein
from ..nets import MLP
from ..parametrization import Predictor
from ..processes import CosineVP, Process, RectifiedFlow, expand_like
from ..runtime import one_thread
from ..timers import uniform
from ..toys import GaussianMixture, gmm_2d
from .animation import paths_animation
from .fit import fit
from .noise_floor import floor_band

__all__ = ["reflow_opening", "course_time", "conditional_path", "conditional_velocity",
           "marginal_velocity_mc", "cfm_loss", "marginal_fm_loss", "train_velocity", "velocity_trajectories",
           "straightness", "excess_length", "reflow_pairs", "train_velocity_on_pairs", "sde_sample", "play_flows", "PATHS"]

PATHS = {"rectified": RectifiedFlow, "cosine": CosineVP}


# --- time conventions -----------------------------------------------------------------------------------------
def course_time(tau) -> Tensor:
    r"""Flow-matching time $\tau$ (noise at 0 → data at 1) to the course's $t = 1 - \tau$ (data at 0 → noise at 1)."""
    tau = torch.as_tensor(tau, dtype=torch.get_default_dtype() if not isinstance(tau, Tensor) else tau.dtype)
    if bool(((tau < 0) | (tau > 1) | torch.isnan(tau)).any()):
        raise ValueError("tau must lie in [0, 1] (0 = noise, 1 = data in the flow-matching convention)")
    return 1 - tau


# --- conditional paths ---------------------------------------------------------------------------------------
def _t_like(t, x: Tensor, process: Process) -> Tensor:
    t = process.require_t(torch.as_tensor(t, dtype=x.dtype))
    return t


def conditional_path(x0: Tensor, eps: Tensor, t, process: Process) -> Tensor:
    r"""The conditional path $\psi_t(\varepsilon\mid x_0) = \alpha_t x_0 + \sigma_t\varepsilon$ (t scalar or (B,))."""
    t = _t_like(t, x0, process)
    alpha_t, sigma_t = (expand_like(c, x0) for c in process.coefficients(t)[:2])
    return alpha_t * x0 + sigma_t * eps


def conditional_velocity(x0: Tensor, eps: Tensor, t, process: Process) -> Tensor:
    r"""The conditional vector field $u_t(x_t\mid x_0) = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon$ (rectified flow: $\varepsilon - x_0$)."""
    t = _t_like(t, x0, process)
    d_alpha_t, d_sigma_t = (expand_like(c, x0) for c in process.coefficients(t)[2:])
    return d_alpha_t * x0 + d_sigma_t * eps


def marginal_velocity_mc(x_t: Tensor, t: float, process: Process, x0_samples: Tensor) -> Tensor:
    r"""Monte Carlo marginal velocity $u_t(x) = E[u_t(x\mid x_0)\mid x_t = x]$ (Lipman et al. 2023, eq. 8).

    With $x_0^{(i)} \sim q$ (M samples) the posterior is self-normalised by the Gaussian likelihood
    $w_i \propto \mathcal N(x;\ \alpha_t x_0^{(i)}, \sigma_t^2 I)$, and given $x_0$ the noise is
    $\varepsilon = (x - \alpha_t x_0)/\sigma_t$, so
    $\hat u_t(x) = \sum_i w_i\,\big(\dot\alpha_t x_0^{(i)} + \dot\sigma_t (x - \alpha_t x_0^{(i)})/\sigma_t\big)$. Needs σ_t > 0.
    """
    if x_t.ndim != 2 or x0_samples.ndim != 2 or x_t.shape[1] != x0_samples.shape[1]:
        raise ValueError(f"x_t (N, D) and x0_samples (M, D) must share D; got {tuple(x_t.shape)}, {tuple(x0_samples.shape)}")
    if x0_samples.shape[0] == 0:
        raise ValueError("x0_samples must hold at least one data sample (M ≥ 1) to average over")
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.at(t)
    if not sigma_t > 0:
        raise ValueError(f"t must have σ_t > 0 for the posterior average; got t = {t}")
    diff = x_t[:, None, :] - alpha_t * x0_samples[None, :, :]  # (N, M, D)
    log_w = -0.5 * (diff**2).sum(-1) / sigma_t**2  # (N, M), the Gaussian likelihood up to a constant
    w = torch.softmax(log_w, dim=1)  # (N, M) posterior weights
    u_cond = d_alpha_t * x0_samples[None] + d_sigma_t * diff / sigma_t  # (N, M, D) conditional velocities
    return (w[..., None] * u_cond).sum(1)  # (N, D)


# --- losses on fixed samples (to compare networks on common random numbers) -----------------------------------
def cfm_loss(net, x0: Tensor, eps: Tensor, t: Tensor, process: Process) -> Tensor:
    r"""Conditional flow matching $\frac1N\sum\lVert u_\theta(x_t, t) - u_t(x_t\mid x_0)\rVert^2$ on given $(x_0, \varepsilon, t)$."""
    x_t = conditional_path(x0, eps, t, process)
    return ((net(x_t, t) - conditional_velocity(x0, eps, t, process)) ** 2).sum(-1).mean()


def marginal_fm_loss(net, x0: Tensor, eps: Tensor, t: Tensor, process: Process, gmm: GaussianMixture) -> Tensor:
    r"""The intractable marginal loss $\frac1N\sum\lVert u_\theta(x_t, t) - u_t(x_t)\rVert^2$, with the mixture's exact $u_t$."""
    x_t = conditional_path(x0, eps, t, process)
    return ((net(x_t, t) - gmm.velocity(x_t, t, process)) ** 2).sum(-1).mean()


# --- training and sampling ----------------------------------------------------------------------------------
def train_velocity(data: Tensor, process: Process, steps: int, batch: int = 256, lr: float = 3e-3, hidden: int = 64,
                   generator: torch.Generator | None = None) -> MLP:
    r"""Train a 2-D ``MLP`` velocity model $u_\theta$ with ``losses.flow_matching_loss`` on minibatches of ``data``."""
    if data.ndim != 2:
        raise ValueError(f"data must have shape (N, D); got {tuple(data.shape)}")
    return _train(data, None, process, steps, batch, lr, hidden, generator)


def train_velocity_on_pairs(x0: Tensor, eps: Tensor, process: Process, steps: int, batch: int = 256, lr: float = 3e-3,
                            hidden: int = 64, generator: torch.Generator | None = None) -> MLP:
    r"""Reflow's regression (Liu et al. 2023, eq. 6): flow matching on *coupled* pairs $(x_0, \varepsilon)$, not independent ones."""
    if x0.shape != eps.shape:
        raise ValueError(f"x0 and eps must have the same shape; got {tuple(x0.shape)}, {tuple(eps.shape)}")
    return _train(x0, eps, process, steps, batch, lr, hidden, generator)


def _train(x0: Tensor, eps: Tensor | None, process: Process, steps: int, batch: int, lr: float, hidden: int,
           generator: torch.Generator | None) -> MLP:
    """Flow matching on minibatches of the pool ``x0``: independent noise (``eps`` None) or the given coupling."""
    steps = require_integer("steps", steps)
    x0, eps = x0.float(), (None if eps is None else eps.float())
    if generator is not None:
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))  # reproducible initial weights
    net = MLP(dim=x0.shape[1], hidden=hidden, depth=3).to(torch.float32)

    def batch_loss(g: torch.Generator | None) -> Tensor:
        idx = torch.randint(0, x0.shape[0], (batch,), generator=g)  # a minibatch of the pool
        if eps is None:
            return flow_matching_loss(net, x0[idx], process, generator=g)  # independent coupling
        t = torch.rand(batch, generator=g) * (1 - 2e-3) + 1e-3  # t ~ U[1e-3, 1 − 1e-3]
        return cfm_loss(net, x0[idx], eps[idx], t, process)  # the given coupling

    with one_thread():
        fit(net, batch_loss, steps, lr, generator=generator)
    return net.requires_grad_(False)


def _predictor(model, process: Process) -> Predictor:
    """A velocity MLP (float32) as a Predictor that the float64 integrators can call; a mixture as its exact predictor."""
    if isinstance(model, GaussianMixture):
        return model.predictor(process)
    return Predictor(lambda x, t: model(x.float(), t.float()).to(x.dtype), "velocity", process)


@torch.no_grad()
def velocity_trajectories(model, x_T: Tensor, n_steps: int, process: Process) -> Tensor:
    r"""Euler on $dx/dt = u_t(x)$ from $t = 1$ to 0 in ``n_steps`` equal steps; returns all states (n_steps+1, N, D).

    ``model`` is a velocity network or a ``GaussianMixture`` (its exact velocity).
    """
    states = [x_T]
    with one_thread():
        euler(x_T, uniform(process, n_steps), _predictor(model, process), process,
              callback=lambda info: states.append(info["x"]))
    return torch.stack(states)


def straightness(traj: Tensor) -> Tensor:
    r"""Mean deviation from the chord: $\frac1{K+1}\sum_k E\,\lVert x_{t_k} - ((1-s_k)x_1 + s_k x_0)\rVert$, $s_k = k/K$.

    ``traj`` (K+1, N, D) on an equal grid from noise $x_1$ to data $x_0$; 0 exactly when every path is a straight
    line travelled at constant speed (Liu et al. 2023 measure straightness by the velocity's deviation; this is the
    same idea in positions).
    """
    if traj.ndim != 3 or traj.shape[0] < 2:
        raise ValueError(f"traj must have shape (K+1 ≥ 2, N, D); got {tuple(traj.shape)}")
    s = torch.linspace(0, 1, traj.shape[0], dtype=traj.dtype)[:, None, None]  # (K+1, 1, 1)
    chord = (1 - s) * traj[:1] + s * traj[-1:]  # (K+1, N, D)
    return (traj - chord).norm(dim=-1).mean()


def excess_length(traj: Tensor) -> Tensor:
    r"""Path length over chord length minus one, $E[\sum_k\lVert x_{t_{k+1}} - x_{t_k}\rVert / \lVert x_0 - x_1\rVert] - 1$.

    Geometric (blind to the speed along the path): 0 for straight paths whatever the schedule.
    """
    if traj.ndim != 3 or traj.shape[0] < 2:
        raise ValueError(f"traj must have shape (K+1 ≥ 2, N, D); got {tuple(traj.shape)}")
    length = (traj[1:] - traj[:-1]).norm(dim=-1).sum(0)  # (N,)
    chord = (traj[-1] - traj[0]).norm(dim=-1)  # (N,)
    return (length / chord).mean() - 1


@torch.no_grad()
def reflow_pairs(model, n: int, n_steps: int, process: Process, generator: torch.Generator | None = None
                 ) -> tuple[Tensor, Tensor]:
    r"""Reflow's coupling: $\varepsilon \sim \mathcal N(0, I)$ and $x_0 = \mathrm{ODE}_{1\to0}(\varepsilon)$ with the current model."""
    eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    x0 = velocity_trajectories(model, eps, n_steps, process)[-1]
    return x0, eps


@torch.no_grad()
def sde_sample(model, x_T: Tensor, n_steps: int, process: Process, generator: torch.Generator | None = None) -> Tensor:
    r"""The SDE variant: $dx = [u_t(x) - \tfrac12 g_t^2\nabla\log p_t(x)]\,dt + g_t\,d\bar W$ backwards (Euler–Maruyama).

    The score comes from the same velocity model (``Predictor`` converts), so one network serves both samplers.
    Stops one step short of t = 0 and finishes with x̂₀ — a final denoising step (Song et al. 2021, App. G): the
    last Euler–Maruyama step would only add noise of variance g²Δt.
    """
    ts = uniform(process, n_steps, t_end=1.0 / (n_steps + 1))
    pred = _predictor(model, process)
    x = euler_maruyama(x_T, ts, pred, process, generator=generator)
    return pred(x, ts[-1].item(), "x0")


# --- Play ----------------------------------------------------------------------------------------------------
@torch.no_grad()
def _sw(a: Tensor, b: Tensor, seed: int) -> float:
    return sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(seed + 1)).item()


@lru_cache(maxsize=2)
def _flows_setup(n_samples: int, seed: int):
    """What the flows panel's controls do not change: the mixture, the noise x_T, exact data and the noise floor of
    the SW distance to it (``noise_floor.floor_band``, fresh exact sets of the same size)."""
    gmm, g = gmm_2d(), torch.Generator().manual_seed(seed)
    x_T = torch.randn(n_samples, 2, generator=g, dtype=torch.float64)
    data = gmm.sample(n_samples, generator=g)
    return gmm, x_T, data, floor_band(lambda n, gen: gmm.sample(n, generator=gen), data, lambda a, b: _sw(a, b, seed))


def play_flows(n_steps: int, path: str = "rectified", n_samples: int = 400, seed: int = 0) -> dict:
    r"""Chapter 08's panel: Euler with ``n_steps`` on the *exact* marginal velocity of ``gmm_2d`` along ``path``
    ('rectified' or 'cosine'), from the same noise; returns the trajectories, samples, straightness, the sliced
    Wasserstein distance to exact data samples and its sampling floor: ``sw_floor``, the mean, and ``band``, mean ± 2 sd
    of the same distance for fresh exact sets of the same size.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {sorted(PATHS)}; got {path!r}")
    n_steps = require_integer("n_steps", n_steps, 1, 200)
    process, (gmm, x_T, data, band) = PATHS[path](), _flows_setup(int(n_samples), int(seed))
    traj = velocity_trajectories(gmm, x_T, n_steps, process)
    sw = _sw(traj[-1], data, seed)
    return dict(traj=traj, samples=traj[-1], data=data, straightness=straightness(traj).item(),
                excess_length=excess_length(traj).item(), sw=sw, sw_floor=band["mean"], band=band,
                path=path, n_steps=n_steps)


def reflow_opening(n: int = 300, n_frames: int = 16, seed: int = 0):
    r"""Chapter 08's opening animation as (fig, update, n_frames): rectified flow on ``gmm_2d`` with the *exact*
    marginal velocity, Euler from t = 1 to 0 — curved paths — beside the straight lines between the same pairs
    $(x_1, x_0)$, the coupling that reflow trains its next flow on (a perfectly straight 2-rectified flow would move
    along them)."""
    process, gmm = RectifiedFlow(), gmm_2d()
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, 2, generator=g, dtype=torch.float64)
    states = [x_T]
    euler(x_T, uniform(process, n_frames - 1), gmm.predictor(process), process,
          callback=lambda info: states.append(info["x"]))
    curved = torch.stack(states)  # (n_frames, n, 2), t from 1 to 0
    t = torch.linspace(1, 0, n_frames, dtype=torch.float64)[:, None, None]
    straight = t * x_T + (1 - t) * curved[-1]  # the chord from x_1 to the same x_0
    titles = [f"t = {v:.2f}" for v in t.flatten().tolist()]
    return paths_animation([("exact flow: curved paths", curved),
                            ("after reflow: straight, same pairs", straight)], titles,
                           background=gmm.sample(600, generator=g).numpy(), lim=3.2)

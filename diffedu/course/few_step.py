r"""Few-step generation (chapter 13): the exact flow map of the probability-flow ODE, the consistency function and its
boundary parametrisation, and the training losses of consistency distillation and training, progressive distillation
and MeanFlow.

Time runs data → noise (t = 0 is data). The flow map $\Phi_{t\to r}$ carries $x_t$ along the PF-ODE
$dx/dt = v(x, t) = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$ to time $r < t$; the consistency function is
$f(x_t, t) = \Phi_{t\to t_{min}}(x_t)$ and the average velocity is $u(x_t, r, t) = (x_t - \Phi_{t\to r}(x_t))/(t - r)$.

References: Song, Dhariwal, Chen & Sutskever (2023) *Consistency Models*; Salimans & Ho (2022) *Progressive
Distillation for Fast Sampling of Diffusion Models*; Geng, Deng, Bai, Kolter & He (2025) *Mean Flows for One-step
Generative Modeling*; Karras et al. (2022) *EDM* (the c_skip/c_out scalings).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..checks import require_integer, require_positive
from ..nets import time_embedding
from ..parametrization import Predictor
from ..processes import Process, as_tensor
from ..toys import GaussianMixture

__all__ = ["exact_velocity", "flow_map", "gaussian_flow_map", "gaussian_velocity", "gaussian_average_velocity",
           "consistency_scalings", "ConsistencyModel", "AverageVelocityMLP", "teacher_step", "ddim_x0_step",
           "cd_loss", "ct_loss", "pd_target", "pd_loss", "meanflow_target", "meanflow_loss", "consistency_sample",
           "meanflow_sample", "ddim_x0_sample"]


# --- checks -------------------------------------------------------------------------------------------------------
def _times(t, x: Tensor, process: Process, name: str) -> Tensor:
    """t as a tensor in x's dtype, scalar or (N,), inside [t_min, t_max] (else a ValueError naming ``name``)."""
    t = process.require_t(as_tensor(t, like=x), name).to(dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(f"{name} must be a scalar or have shape ({x.shape[0]},); got {tuple(t.shape)}")
    return t


def _col(c: Tensor) -> Tensor:
    return c[:, None]  # (N,) → (N, 1), to scale rows of x (N, D)


def _require_clean_boundary(process: Process) -> None:
    """The boundary f(x, t_min) = x is built into c_skip/c_out only where σ_{t_min} = 0 and α_{t_min} = 1."""
    alpha, sigma = (float(c) for c in process.coefficients(torch.tensor(process.t_min, dtype=torch.float64))[:2])
    if sigma != 0 or alpha != 1:
        raise ValueError(f"the {process.name} process has α = {alpha:g}, σ = {sigma:g} at t_min; the consistency "
                         "boundary here needs α = 1, σ = 0 there (use RectifiedFlow, VP or CosineVP)")


# --- the exact flow map of a Gaussian mixture ---------------------------------------------------------------------
def exact_velocity(gmm: GaussianMixture, x: Tensor, t, process: Process) -> Tensor:
    r"""The PF-ODE velocity $v = \dot\alpha_t\hat x_0 - \dot\sigma_t\sigma_t\nabla\log p_t$ with the exact denoiser and
    score ($\hat\varepsilon = -\sigma_t\nabla\log p_t$, Tweedie): finite at σ = 0 and at α = 0, t scalar or (N,)."""
    t = _times(t, x, process, "t")
    _, sigma_t, d_alpha_t, d_sigma_t = (_col(c) for c in process.coefficients(t))
    return d_alpha_t * gmm.denoiser(x, t, process) - d_sigma_t * sigma_t * gmm.score(x, t, process)


def flow_map(gmm: GaussianMixture, x_t: Tensor, t: float, r: float, process: Process, n_steps: int = 128) -> Tensor:
    r"""$\Phi_{t\to r}(x_t)$: the PF-ODE solved with the exact velocity by classical Runge–Kutta 4 on ``n_steps`` equal
    steps (error O(h⁴); on ``gmm_2d`` 128 steps from t = 1 to 0 agree with 512 to ~2e-6). t > r, both in [t_min, t_max]."""
    n_steps = require_integer("n_steps", n_steps, 1)
    t, r = float(process.require_t(float(t), "t")), float(process.require_t(float(r), "r"))
    if not r < t:
        raise ValueError(f"r must be < t (the map runs towards data); got t = {t:g}, r = {r:g}")
    x, h = x_t, (r - t) / n_steps
    for k in range(n_steps):
        tk = t + k * h
        tn = r if k == n_steps - 1 else tk + h
        k1 = exact_velocity(gmm, x, tk, process)  # RK4 stages
        k2 = exact_velocity(gmm, x + 0.5 * h * k1, tk + 0.5 * h, process)
        k3 = exact_velocity(gmm, x + 0.5 * h * k2, tk + 0.5 * h, process)
        k4 = exact_velocity(gmm, x + h * k3, tn, process)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


# --- closed forms for one Gaussian N(μ, s² I) ----------------------------------------------------------------------
def _gauss(mu: Tensor, s: float, t: Tensor, process: Process) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Mean m_t = α_t μ (N, D), sd_t = √(α_t² s² + σ_t²) (N, 1) and their time derivatives."""
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (_col(c) for c in process.coefficients(t))
    sd = (alpha_t**2 * s**2 + sigma_t**2).sqrt()
    return alpha_t * mu, sd, d_alpha_t * mu, (alpha_t * d_alpha_t * s**2 + sigma_t * d_sigma_t) / sd


def gaussian_flow_map(x_t: Tensor, t, r, mu, s: float, process: Process) -> Tensor:
    r"""Closed-form flow map for data $\mathcal N(\mu, s^2 I)$: the PF-ODE keeps $z = (x - m_t)/\mathrm{sd}_t$ fixed, so
    $\Phi_{t\to r}(x) = m_r + \tfrac{\mathrm{sd}_r}{\mathrm{sd}_t}(x - m_t)$ with $m_t = \alpha_t\mu$,
    $\mathrm{sd}_t^2 = \alpha_t^2 s^2 + \sigma_t^2$."""
    mu = torch.as_tensor(mu, dtype=x_t.dtype)
    m_t, sd_t, _, _ = _gauss(mu, s, _times(t, x_t, process, "t"), process)
    m_r, sd_r, _, _ = _gauss(mu, s, _times(r, x_t, process, "r"), process)
    return m_r + sd_r / sd_t * (x_t - m_t)


def gaussian_velocity(x_t: Tensor, t, mu, s: float, process: Process) -> Tensor:
    r"""The exact PF-ODE velocity for $\mathcal N(\mu, s^2 I)$: $v = \dot m_t + \dot{\mathrm{sd}}_t\,(x - m_t)/\mathrm{sd}_t$."""
    mu = torch.as_tensor(mu, dtype=x_t.dtype)
    m_t, sd_t, d_m, d_sd = _gauss(mu, s, _times(t, x_t, process, "t"), process)
    return d_m + d_sd * (x_t - m_t) / sd_t


def gaussian_average_velocity(x_t: Tensor, r, t, mu, s: float, process: Process) -> Tensor:
    r"""The exact average velocity $u(x_t, r, t) = (x_t - \Phi_{t\to r}(x_t))/(t - r)$ for $\mathcal N(\mu, s^2 I)$;
    where r = t its limit, the velocity $v(x_t, t)$. Differentiable in x_t, r and t (for MeanFlow's identity)."""
    r, t = _times(r, x_t, process, "r"), _times(t, x_t, process, "t")
    if bool((r > t).any()):
        raise ValueError("r must be ≤ t (the average runs from r up to t)")
    same = _col(r == t)
    gap = _col(torch.where(r == t, torch.ones_like(t), t - r))  # avoids 0/0 where r = t
    u = (x_t - gaussian_flow_map(x_t, t, r, mu, s, process)) / gap
    return torch.where(same, gaussian_velocity(x_t, t, mu, s, process), u)


# --- the consistency function: f(x, t_min) = x by construction ------------------------------------------------------
def consistency_scalings(t: Tensor, process: Process, sigma_data: float) -> tuple[Tensor, Tensor, Tensor]:
    r"""EDM's scalings for a general path (Karras et al. 2022, Table 1, with $x_t = \alpha_t x_0 + \sigma_t\varepsilon$):
    $c_{skip} = \alpha_t\sigma_d^2/(\alpha_t^2\sigma_d^2 + \sigma_t^2)$,
    $c_{out} = \sigma_t\sigma_d/\sqrt{\alpha_t^2\sigma_d^2 + \sigma_t^2}$, $c_{in} = 1/\sqrt{\alpha_t^2\sigma_d^2 + \sigma_t^2}$.
    At t_min (α = 1, σ = 0): c_skip = 1 and c_out = 0 exactly — the boundary of Song et al. (2023, eq. 5)."""
    sigma_data = require_positive("sigma_data", sigma_data)
    alpha_t, sigma_t = process.coefficients(t)[:2]
    var = alpha_t**2 * sigma_data**2 + sigma_t**2
    return alpha_t * sigma_data**2 / var, sigma_t * sigma_data / var.sqrt(), 1 / var.sqrt()


class ConsistencyModel(nn.Module):
    r"""$f_\theta(x_t, t) = c_{skip}(t)\,x_t + c_{out}(t)\,F_\theta(c_{in}(t)\,x_t, t)$ (Song et al. 2023, eq. 5):
    the boundary $f_\theta(x, t_{min}) = x$ holds for every θ. Also the x̂₀-model of progressive distillation."""

    def __init__(self, F: nn.Module, process: Process, sigma_data: float):
        super().__init__()
        _require_clean_boundary(process)
        self.F, self.process, self.sigma_data = F, process, require_positive("sigma_data", sigma_data)

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        t = _times(t, x_t, self.process, "t")
        c_skip, c_out, c_in = (_col(c) for c in consistency_scalings(t, self.process, self.sigma_data))
        return c_skip * x_t + c_out * self.F(c_in * x_t, t)


class AverageVelocityMLP(nn.Module):
    r"""$u_\theta(z, r, t)$ for MeanFlow: a residual SiLU MLP on $[z, \mathrm{emb}(t), \mathrm{emb}(t - r)]$."""

    def __init__(self, dim: int = 2, hidden: int = 64, depth: int = 3, t_dim: int = 16):
        super().__init__()
        self.t_dim = t_dim
        self.inp = nn.Linear(dim + 2 * t_dim, hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden)) for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, z: Tensor, r: Tensor, t: Tensor) -> Tensor:
        # low frequencies only (≤ 4 rad per unit time): the target differentiates u in t, and a fast embedding
        # would make ∂u/∂t, hence the target, large and noisy
        emb = [time_embedding(4 * c.to(z.dtype), self.t_dim, max_period=100.0) for c in (t, t - r)]
        h = self.inp(torch.cat([z, *emb], dim=1))  # (B, hidden)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


# --- teachers ---------------------------------------------------------------------------------------------------
def teacher_step(teacher, process: Process, solver: str = "euler") -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    r"""One ODE step $x_t \mapsto \hat x_s$ of a teacher (a ``GaussianMixture``: its exact velocity; or a ``Predictor``
    of the same process), per-sample times: Euler $x + (s-t)v(x,t)$ or Heun (Song et al. 2023, eq. 6)."""
    if solver not in ("euler", "heun"):
        raise ValueError(f"solver must be 'euler' or 'heun'; got {solver!r}")
    if isinstance(teacher, GaussianMixture):
        velocity = lambda x, t: exact_velocity(teacher, x, t, process)  # noqa: E731
    elif isinstance(teacher, Predictor):
        if type(teacher.process) is not type(process) or repr(teacher.process) != repr(process):
            raise ValueError(f"the teacher was built for {teacher.process!r}, not for {process!r}")
        velocity = lambda x, t: teacher(x, t, "velocity")  # noqa: E731
    else:
        raise TypeError(f"teacher must be a GaussianMixture or a Predictor; got {type(teacher).__name__}")

    def step(x: Tensor, t: Tensor, s: Tensor) -> Tensor:
        d_cur = velocity(x, t)
        x_next = x + _col(s - t) * d_cur  # Euler step
        if solver == "euler":
            return x_next
        return x + _col(s - t) * 0.5 * (d_cur + velocity(x_next, s))  # 2nd-order correction
    return step


def ddim_x0_step(x_t: Tensor, t, s, x0_hat: Tensor, process: Process) -> Tensor:
    r"""DDIM (η = 0): $x_s = \alpha_s\hat x_0 + \sigma_s(x_t - \alpha_t\hat x_0)/\sigma_t$ (needs σ_t > 0)."""
    t, s = _times(t, x_t, process, "t"), _times(s, x_t, process, "s")
    alpha_t, sigma_t = (_col(c) for c in process.coefficients(t)[:2])
    alpha_s, sigma_s = (_col(c) for c in process.coefficients(s)[:2])
    return alpha_s * x0_hat + sigma_s * (x_t - alpha_t * x0_hat) / sigma_t


# --- the four losses, on given draws ----------------------------------------------------------------------------
def _pair(x0: Tensor, eps: Tensor, t, s, process: Process) -> tuple[Tensor, Tensor, Tensor]:
    t, s = _times(t, x0, process, "t"), _times(s, x0, process, "s")
    if not bool((s < t).all()):
        raise ValueError("every s must be < t (the step runs towards data)")
    alpha_t, sigma_t = (_col(c) for c in process.coefficients(t)[:2])
    return alpha_t * x0 + sigma_t * eps, t, s


def cd_loss(f_theta, x0: Tensor, eps: Tensor, t, s, step, process: Process, f_target=None) -> Tensor:
    r"""Consistency distillation (Song et al. 2023, eq. 7, squared L2, λ = 1):
    $\lVert f_\theta(x_t, t) - f_{\theta^-}(\hat x_s, s)\rVert^2$ with $\hat x_s$ = ``step(x_t, t, s)`` of the teacher
    and θ⁻ = ``f_target`` (default: θ itself under stop-gradient)."""
    x_t, t, s = _pair(x0, eps, t, s, process)
    with torch.no_grad():
        target = (f_theta if f_target is None else f_target)(step(x_t, t, s), s)  # stop-gradient
    return ((f_theta(x_t, t) - target) ** 2).sum(-1).mean()


def ct_loss(f_theta, x0: Tensor, eps: Tensor, t, s, process: Process, f_target=None) -> Tensor:
    r"""Consistency training (Song et al. 2023, eq. 10): no teacher — $x_s = \alpha_s x_0 + \sigma_s\varepsilon$ with the
    *same* ε: $\lVert f_\theta(x_t, t) - f_{\theta^-}(x_s, s)\rVert^2$."""
    x_t, t, s = _pair(x0, eps, t, s, process)
    alpha_s, sigma_s = (_col(c) for c in process.coefficients(s)[:2])
    with torch.no_grad():
        target = (f_theta if f_target is None else f_target)(alpha_s * x0 + sigma_s * eps, s)  # stop-gradient
    return ((f_theta(x_t, t) - target) ** 2).sum(-1).mean()


def pd_target(teacher_x0, x_t: Tensor, t, s, process: Process) -> Tensor:
    r"""Progressive distillation's target (Salimans & Ho 2022, Algorithm 2): two teacher DDIM steps t → m → s,
    m = (t + s)/2, then the $\tilde x_0$ whose *one* DDIM step t → s lands there:
    $\tilde x_0 = (x_s'' - \tfrac{\sigma_s}{\sigma_t}x_t)/(\alpha_s - \tfrac{\sigma_s}{\sigma_t}\alpha_t)$."""
    t, s = _times(t, x_t, process, "t"), _times(s, x_t, process, "s")
    m = (t + s) / 2
    x_m = ddim_x0_step(x_t, t, m, teacher_x0(x_t, t), process)  # teacher step 1
    x_s = ddim_x0_step(x_m, m, s, teacher_x0(x_m, m), process)  # teacher step 2
    alpha_t, sigma_t = (_col(c) for c in process.coefficients(t)[:2])
    alpha_s, sigma_s = (_col(c) for c in process.coefficients(s)[:2])
    ratio = sigma_s / sigma_t
    return (x_s - ratio * x_t) / (alpha_s - ratio * alpha_t)


def pd_loss(student_x0, teacher_x0, x0: Tensor, eps: Tensor, t, s, process: Process) -> Tensor:
    r"""$\lVert\hat x_\eta(x_t, t) - \tilde x_0\rVert^2$ (Salimans & Ho 2022, Alg. 2, unweighted): one student step
    learns two teacher steps."""
    x_t, t, s = _pair(x0, eps, t, s, process)
    with torch.no_grad():
        target = pd_target(teacher_x0, x_t, t, s, process)
    return ((student_x0(x_t, t) - target) ** 2).sum(-1).mean()


def meanflow_target(u_theta, z_t: Tensor, v: Tensor, r: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    r"""MeanFlow's target (Geng et al. 2025, eqs. 8 and 10): $u_{tgt} = v - (t - r)\,\tfrac{d}{dt}u_\theta$ with the
    total derivative $\tfrac{d}{dt}u_\theta = v\,\partial_z u_\theta + \partial_t u_\theta$, one Jacobian–vector product
    with tangent (v, 0, 1). Returns (u_θ(z_t, r, t), the target, detached)."""
    u, du_dt = torch.func.jvp(u_theta, (z_t, r, t), (v, torch.zeros_like(r), torch.ones_like(t)))
    return u, (v - _col(t - r) * du_dt).detach()


def meanflow_loss(u_theta, x0: Tensor, eps: Tensor, r, t, process: Process) -> Tensor:
    r"""MeanFlow (Geng et al. 2025, eq. 9): $\lVert u_\theta(z_t, r, t) - \mathrm{sg}(u_{tgt})\rVert^2$ with the
    conditional velocity $v = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon$ ($\varepsilon - x_0$ for rectified flow)."""
    r, t = _times(r, x0, process, "r"), _times(t, x0, process, "t")
    if bool((r > t).any()):
        raise ValueError("every r must be ≤ t")
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (_col(c) for c in process.coefficients(t))
    u, target = meanflow_target(u_theta, alpha_t * x0 + sigma_t * eps, d_alpha_t * x0 + d_sigma_t * eps, r, t)
    return ((u - target) ** 2).sum(-1).mean()


# --- few-step samplers ----------------------------------------------------------------------------------------------
def _grid(ts, x: Tensor, process: Process) -> list[float]:
    ts = [float(v) for v in torch.as_tensor(ts, dtype=torch.float64)]
    if len(ts) < 2 or any(b >= a for a, b in zip(ts, ts[1:])):
        raise ValueError(f"ts must be a decreasing grid of ≥ 2 times (n_steps ≥ 1); got {ts}")
    process.require_t(torch.tensor(ts), "ts")
    return ts


@torch.no_grad()
def consistency_sample(f, x_T: Tensor, ts, process: Process, generator: torch.Generator | None = None) -> Tensor:
    r"""Multistep consistency sampling (Song et al. 2023, Algorithm 1): $x = f(x_T, t_0)$, then for each later grid time
    $t_k > t_{min}$: re-noise $x_{t_k} = \alpha_{t_k}x + \sigma_{t_k}z$ and map back, $x = f(x_{t_k}, t_k)$."""
    ts = _grid(ts, x_T, process)
    x = f(x_T, _times(ts[0], x_T, process, "ts"))
    for t in ts[1:-1]:
        alpha_t, sigma_t = (float(c) for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = f(alpha_t * x + sigma_t * z, _times(t, x, process, "ts"))
    return x


@torch.no_grad()
def meanflow_sample(u, x_T: Tensor, ts, process: Process) -> Tensor:
    r"""Few-step MeanFlow sampling: $z_r = z_t - (t - r)\,u(z_t, r, t)$ along the grid (one NFE per step)."""
    ts, z = _grid(ts, x_T, process), x_T
    for t, r in zip(ts[:-1], ts[1:]):
        z = z - (t - r) * u(z, _times(r, z, process, "ts"), _times(t, z, process, "ts"))
    return z


@torch.no_grad()
def ddim_x0_sample(x0_model, x_T: Tensor, ts, process: Process) -> Tensor:
    r"""DDIM (η = 0) with an x̂₀-model along the grid: the progressive-distillation student's sampler."""
    ts, x = _grid(ts, x_T, process), x_T
    for t, s in zip(ts[:-1], ts[1:]):
        x = ddim_x0_step(x, t, s, x0_model(x, _times(t, x, process, "ts")), process)
    return x

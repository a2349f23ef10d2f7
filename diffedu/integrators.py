r"""Integrators of the reverse process: the probability-flow ODE and the reverse SDE, for every process (chapter 10).

Each sampler is one function that runs the whole loop over a grid ``ts`` (from ``diffedu.timers``), and calls
``predictor(x_t, t, kind)`` — a ``diffedu.Predictor`` around a network or an exact denoiser — for $\hat x_0$.
Nothing assumes a VP process: every step is written with $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ only.

* The probability-flow ODE in velocity form (finite where $f = \dot\alpha/\alpha$ is not, e.g. cosine or flow at t = 1):
  $$\frac{dx}{dt} = \dot\alpha_t\,\hat x_0 + \dot\sigma_t\,\hat\varepsilon, \qquad
    \hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t.$$
* The reverse SDE (Anderson 1982; Song et al. 2021), $dx = [f_t x - g_t^2\nabla\log p_t]\,dt + g_t\,d\bar W$, written
  without $f_t$ as $dx = [\hat v + \tfrac{g_t^2}{2\sigma_t}\hat\varepsilon]\,dt + g_t\,d\bar W$ (see :func:`euler_maruyama`).

A step into σ = 0 (the last step of most grids) is an explicit branch: it never evaluates the predictor at σ = 0.
``callback(dict(i, t, t_next, x, x0_hat))`` is called once per step with the state *after* the step.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .checks import require_float_tensor
from .processes import Process
from .timers import require_grid

__all__ = ["euler", "heun", "ddim", "ddpm", "dpmpp_1", "dpmpp_2s", "dpmpp_2m", "euler_maruyama", "langevin_corrector",
           "predictor_corrector", "euler_step", "heun_step", "ddim_step", "ddpm_step", "dpmpp_1_step",
           "euler_maruyama_step", "INTEGRATORS", "get_integrator", "nfe_per_step", "pf_ode_velocity"]

Predictor = Callable[..., Tensor]


# --- helpers ----------------------------------------------------------------------------------------------------
def _coef(process: Process, t: float) -> tuple[float, float, float, float]:
    """(α_t, σ_t, α̇_t, σ̇_t) as Python floats (computed in float64; memoised by the process)."""
    return process.at(t)




def _noise(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise shaped like x, on x's device and dtype, drawn from ``generator``."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _predict(predictor: Predictor, x: Tensor, t: float, kind: str, cond: dict) -> Tensor:
    """One network evaluation, checked: a prediction of another shape than x would broadcast silently."""
    out = predictor(x, t, kind, **cond)
    if not isinstance(out, Tensor) or out.shape != x.shape:
        raise ValueError(f"the predictor must return a tensor of x's shape {tuple(x.shape)}; got "
                         f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__} (kind {kind!r})")
    return out


def _x0_eps(x: Tensor, t: float, predictor: Predictor, process: Process, cond: dict) -> tuple[Tensor, Tensor]:
    r"""One network evaluation: $\hat x_0$ and $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$ (needs σ_t > 0)."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    if sigma_t == 0:
        raise ValueError(f"a step must start where σ_t > 0 (ε̂ divides by σ_t); got t = {t:g}, where σ_t = 0")
    x0_hat = _predict(predictor, x, t, "x0", cond)
    eps_hat = (x - alpha_t * x0_hat) / sigma_t
    return x0_hat, eps_hat


def pf_ode_velocity(x: Tensor, t: float, predictor: Predictor, process: Process, **cond) -> tuple[Tensor, Tensor]:
    r"""The probability-flow velocity $\dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$ and $\hat x_0$ (one NFE)."""
    _, _, d_alpha_t, d_sigma_t = _coef(process, t)
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    return d_alpha_t * x0_hat + d_sigma_t * eps_hat, x0_hat


def _prepare(x, ts, process: Process) -> tuple[Tensor, list[float]]:
    x = require_float_tensor("x", x, "the start x_T")
    ts = require_grid(ts, process)
    return x, ts.tolist()


def _callback(callback, i: int, t: float, t_next: float, x: Tensor, x0_hat: Tensor) -> None:
    if callback is not None:
        callback(dict(i=i, t=t, t_next=t_next, x=x, x0_hat=x0_hat))


# --- Euler -----------------------------------------------------------------------------------------------------
def _euler_step(x, t, t_next, predictor, process, cond):
    d_cur, x0_hat = pf_ode_velocity(x, t, predictor, process, **cond)
    return x + (t_next - t) * d_cur, x0_hat  # Euler step


def euler_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process, **cond) -> Tensor:
    r"""One Euler step of the PF-ODE: $x_{next} = x + (t_{next} - t)\,(\dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon)$."""
    return _euler_step(require_float_tensor("x", x, "the start x_T"), float(t), float(t_next), predictor, process, cond)[0]


def euler(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None, **cond) -> Tensor:
    r"""Euler's method on the probability-flow ODE (first order; 1 NFE per step). ``generator`` is unused."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x, x0_hat = _euler_step(x, t, t_next, predictor, process, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- Heun (EDM, Karras et al. 2022, Algorithm 2) --------------------------------------------------------------------
def _heun_step(x, t, t_next, predictor, process, cond):
    d_cur, x0_hat = pf_ode_velocity(x, t, predictor, process, **cond)
    x_next = x + (t_next - t) * d_cur  # Euler step
    if _coef(process, t_next)[1] > 0:  # 2nd-order correction (skipped into σ = 0: the last step is Euler)
        d_prime, _ = pf_ode_velocity(x_next, t_next, predictor, process, **cond)
        x_next = x + (t_next - t) * 0.5 * (d_cur + d_prime)
    return x_next, x0_hat


def heun_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process, **cond) -> Tensor:
    r"""One Heun step: Euler to $\tilde x$, then $x_{next} = x + (t_{next} - t)\tfrac12(d(x, t) + d(\tilde x, t_{next}))$.

    Into σ = 0 the velocity is not evaluated at the end point and the step is Euler's.
    """
    return _heun_step(require_float_tensor("x", x, "the start x_T"), float(t), float(t_next), predictor, process, cond)[0]


def _churn(x, t, gamma, s_noise, process, generator):
    r"""Raise the noise level s = σ/α by the factor (1 + γ) with the forward transition: returns (x_hat, t_hat)."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    s_hat = sigma_t / alpha_t * (1 + gamma)
    lo = process.log_snr_range()[0]
    lambda_hat = max(-2 * math.log(s_hat), lo)  # never above t_max (documented cap)
    t_hat = min(process.t_of_log_snr(torch.tensor(lambda_hat, dtype=torch.float64)).item(), process.t_max)
    if t_hat <= t:
        return x, t
    alpha_hat, sigma_hat, _, _ = _coef(process, t_hat)
    ratio = alpha_hat / alpha_t  # α_{t̂|t}
    var = sigma_hat**2 - ratio**2 * sigma_t**2  # σ²_{t̂|t}
    x_hat = ratio * x + math.sqrt(max(var, 0.0)) * s_noise * _noise(x, generator)  # forward transition t → t̂
    return x_hat, t_hat


def heun(x: Tensor, ts, predictor: Predictor, process: Process, *, s_churn: float = 0.0, s_tmin: float = 0.0,
         s_tmax: float = math.inf, s_noise: float = 1.0, generator=None, callback=None, **cond) -> Tensor:
    r"""EDM's stochastic Heun sampler (Karras et al. 2022, Algorithm 2) for any process; ``s_churn = 0`` is Algorithm 1.

    Churn: where the noise level $s_t = \sigma_t/\alpha_t \in [s_{tmin}, s_{tmax}]$, raise it to
    $\hat s = (1 + \gamma)s_t$ with $\gamma = \min(S_{churn}/N, \sqrt2 - 1)$ by the forward transition
    $\hat x = \tfrac{\alpha_{\hat t}}{\alpha_t}x + \sqrt{\sigma_{\hat t}^2 - (\alpha_{\hat t}/\alpha_t)^2\sigma_t^2}\,S_{noise}z$,
    then take a Heun step from $\hat t$ to $t_{next}$. ($\hat t$ is capped at t_max.) 2 NFE per step, 1 on the last.

    Order 2 holds on the asymptotic range only: on EDM's grid (Karras ρ = 7) with the course's 2-D mixture, Heun at
    NFE 19 is behind Euler at NFE 20 (median endpoint error 0.24 against 0.13) and ahead from NFE 50 on, because
    steps that shrink σ by 2–3× where x̂₀ switches between components gain nothing from the trapezoid (chapter 10).
    """
    for name, value in (("s_churn", s_churn), ("s_tmin", s_tmin), ("s_noise", s_noise)):
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number ≥ 0; got {value!r}")
    if not s_tmax >= s_tmin:
        raise ValueError(f"s_tmax must be ≥ s_tmin = {s_tmin}; got {s_tmax!r}")
    x, ts = _prepare(x, ts, process)
    n = len(ts) - 1
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        alpha_t, sigma_t, _, _ = _coef(process, t)
        level = sigma_t / alpha_t if alpha_t > 0 else math.inf
        gamma = min(s_churn / n, math.sqrt(2) - 1) if (s_churn > 0 and s_tmin <= level <= s_tmax
                                                        and math.isfinite(level)) else 0.0
        if gamma > 0:
            x, t = _churn(x, t, gamma, s_noise, process, generator)  # increase the noise level
        x, x0_hat = _heun_step(x, t, t_next, predictor, process, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- DDIM and ancestral DDPM ---------------------------------------------------------------------------------------
def _ddim_step(x, t, t_next, predictor, process, eta, generator, cond):
    alpha_t, sigma_t, _, _ = _coef(process, t)
    alpha_s, sigma_s, _, _ = _coef(process, t_next)
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    if sigma_s == 0:  # explicit branch to data
        return x0_hat.clone(), x0_hat
    r2 = (alpha_t * sigma_s / (alpha_s * sigma_t)) ** 2  # e^{2(λ_t − λ_s)} ≤ 1, λ = log(α/σ) as in _lam
    c = eta * sigma_s * math.sqrt(max(1 - r2, 0.0))  # DDIM's σ_t(η) in (α, σ) form
    x_next = alpha_s * x0_hat + math.sqrt(max(sigma_s**2 - c**2, 0.0)) * eps_hat  # deterministic part
    if c > 0:
        x_next = x_next + c * _noise(x, generator)  # fresh noise
    return x_next, x0_hat


def _check_backwards(t, t_next) -> None:
    """DDIM and DDPM steps sample towards data: their noise scale needs t_next < t (else it would be clipped to 0)."""
    if not float(t_next) < float(t):
        raise ValueError(f"t_next must be < t (a step towards data); got t = {float(t):g}, t_next = {float(t_next):g}")


def _check_eta(eta):
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and 0 <= eta <= 1):
        raise ValueError(f"eta must lie in [0, 1] (0: deterministic DDIM, 1: ancestral DDPM); got {eta!r}")


def ddim_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process, eta: float = 0.0,
              generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""One DDIM step (Song, Meng & Ermon 2021, eq. 12) in (α, σ) form, for any process:

    $x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,\hat\varepsilon + c\,z$, with
    $c = \eta\,\sigma_s\sqrt{1 - \alpha_t^2\sigma_s^2/(\alpha_s^2\sigma_t^2)}$ and $z \sim N(0, I)$.
    """
    _check_eta(eta)
    _check_backwards(t, t_next)
    return _ddim_step(require_float_tensor("x", x, "the start x_T"), float(t), float(t_next), predictor, process, float(eta), generator, cond)[0]


def ddim(x: Tensor, ts, predictor: Predictor, process: Process, *, eta: float = 0.0, generator=None, callback=None,
         **cond) -> Tensor:
    r"""DDIM (Song, Meng & Ermon 2021): η = 0 deterministic (a first-order exponential integrator of the PF-ODE),
    η = 1 ancestral sampling. 1 NFE per step."""
    _check_eta(eta)
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x, x0_hat = _ddim_step(x, t, t_next, predictor, process, float(eta), generator, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


def _ddpm_step(x, t, t_next, predictor, process, generator, cond):
    alpha_t, sigma_t, _, _ = _coef(process, t)
    alpha_s, sigma_s, _, _ = _coef(process, t_next)
    x0_hat = _predict(predictor, x, t, "x0", cond)
    if sigma_s == 0:  # posterior at data has zero variance: its mean is x̂₀
        return x0_hat.clone(), x0_hat
    alpha_ts = alpha_t / alpha_s  # α_{t|s}
    sigma2_ts = sigma_t**2 - alpha_ts**2 * sigma_s**2  # σ²_{t|s}
    mean = alpha_ts * sigma_s**2 / sigma_t**2 * x + alpha_s * sigma2_ts / sigma_t**2 * x0_hat  # posterior mean
    std = math.sqrt(max(sigma2_ts * sigma_s**2 / sigma_t**2, 0.0))  # posterior std
    return mean + std * _noise(x, generator), x0_hat


def ddpm_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process,
              generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""One ancestral step: sample $q(x_s\mid x_t, \hat x_0)$ (Ho et al. 2020, eq. 6–7; Kingma et al. 2021, eq. 32):

    mean $\frac{\alpha_{t|s}\sigma_s^2}{\sigma_t^2}x_t + \frac{\alpha_s\sigma_{t|s}^2}{\sigma_t^2}\hat x_0$,
    variance $\sigma_{t|s}^2\sigma_s^2/\sigma_t^2$, with $\alpha_{t|s} = \alpha_t/\alpha_s$,
    $\sigma_{t|s}^2 = \sigma_t^2 - \alpha_{t|s}^2\sigma_s^2$.
    """
    _check_backwards(t, t_next)
    return _ddpm_step(require_float_tensor("x", x, "the start x_T"), float(t), float(t_next), predictor, process, generator, cond)[0]


def ddpm(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None, **cond) -> Tensor:
    """Ancestral DDPM sampling over any grid (equal in law, and step by step with the same noise, to DDIM η = 1)."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x, x0_hat = _ddpm_step(x, t, t_next, predictor, process, generator, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- DPM-Solver++ (Lu et al. 2022), data-prediction form, in λ = log(α/σ) ------------------------------------------
def _lam(process: Process, t: float) -> float:
    r"""$\lambda = \log(\alpha_t/\sigma_t)$ (half the log-SNR): −inf where α = 0, +inf where σ = 0."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    if alpha_t == 0:
        return -math.inf
    if sigma_t == 0:
        return math.inf
    return math.log(alpha_t) - math.log(sigma_t)


def _dpm_first_order(x, t, t_next, D, process):
    r"""$x_s = \tfrac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h} - 1)D$, $h = \lambda_s - \lambda_t$ (σ_s > 0, σ_t > 0)."""
    _, sigma_t, _, _ = _coef(process, t)
    alpha_s, sigma_s, _, _ = _coef(process, t_next)
    h = _lam(process, t_next) - _lam(process, t)  # may be +inf when α_t = 0: expm1(−inf) = −1
    return sigma_s / sigma_t * x - alpha_s * math.expm1(-h) * D


def dpmpp_1_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process, **cond) -> Tensor:
    r"""DPM-Solver++ first order (Lu et al. 2022, eq. 9 with k = 1): $x_s = \tfrac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h}-1)\hat x_0$."""
    x = require_float_tensor("x", x, "the start x_T")
    x0_hat = _predict(predictor, x, float(t), "x0", cond)
    if _coef(process, float(t_next))[1] == 0:
        return x0_hat.clone()  # explicit branch: λ_s = ∞, never log(0)
    return _dpm_first_order(x, float(t), float(t_next), x0_hat, process)


def dpmpp_1(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None, **cond) -> Tensor:
    """DPM-Solver++ first order over a grid (1 NFE per step); algebraically equal to DDIM with η = 0."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x0_hat = _predict(predictor, x, t, "x0", cond)
        x = x0_hat.clone() if _coef(process, t_next)[1] == 0 else _dpm_first_order(x, t, t_next, x0_hat, process)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


def dpmpp_2s(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None,
             **cond) -> Tensor:
    r"""DPM-Solver++(2S) (Lu et al. 2022, Algorithm 1, r = ½): a single-step second-order exponential integrator.

    Midpoint $\lambda_u = \lambda_t + h/2$: $u = $ first-order step to $t_u$; $D_u = \hat x_0(u, t_u)$;
    $x_s = \tfrac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h}-1)D_u$. 2 NFE per step; the last step into σ = 0
    returns $\hat x_0$ (1 NFE); a step from α = 0 (λ = −∞, no midpoint) is first order.
    """
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x0_hat = _predict(predictor, x, t, "x0", cond)
        if _coef(process, t_next)[1] == 0:  # explicit branch to data
            x = x0_hat.clone()
        else:
            lam_t, lam_s = _lam(process, t), _lam(process, t_next)
            if math.isfinite(lam_t):
                lam_u = lam_t + 0.5 * (lam_s - lam_t)  # midpoint in λ
                t_u = process.t_of_log_snr(torch.tensor(2 * lam_u, dtype=torch.float64)).item()
                u = _dpm_first_order(x, t, t_u, x0_hat, process)  # 1st-order step to the midpoint
                D_u = _predict(predictor, u, t_u, "x0", cond)
                x = _dpm_first_order(x, t, t_next, D_u, process)  # full step with the midpoint's x̂₀
            else:
                x = _dpm_first_order(x, t, t_next, x0_hat, process)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


def dpmpp_2m(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None,
             **cond) -> Tensor:
    r"""DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): multistep, second order, 1 NFE per step.

    With $r = h_{prev}/h$: $D = (1 + \tfrac1{2r})\hat x_0^{(i)} - \tfrac1{2r}\hat x_0^{(i-1)}$, then the first-order
    update with D. The first step (no history), a step after α = 0, and the last step into σ = 0 use $\hat x_0$ alone.
    """
    x, ts = _prepare(x, ts, process)
    x0_prev, h_prev = None, None
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x0_hat = _predict(predictor, x, t, "x0", cond)
        if _coef(process, t_next)[1] == 0:  # explicit branch to data
            x = x0_hat.clone()
        else:
            h = _lam(process, t_next) - _lam(process, t)
            if x0_prev is not None and h_prev is not None and math.isfinite(h_prev) and math.isfinite(h):
                r = h_prev / h
                D = (1 + 1 / (2 * r)) * x0_hat - 1 / (2 * r) * x0_prev  # 2nd-order extrapolation of x̂₀ in λ
            else:
                D = x0_hat
            x = _dpm_first_order(x, t, t_next, D, process)
            h_prev = h
        x0_prev = x0_hat
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- the reverse SDE -------------------------------------------------------------------------------------------------
def _em_step(x, t, t_next, predictor, process, generator, cond):
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = _coef(process, t)
    if alpha_t == 0:  # g² = ∞ at α = 0 (cosine, flow at t = 1): take the exact ancestral step instead
        return _ddpm_step(x, t, t_next, predictor, process, generator, cond)
    g2 = process.g2(torch.tensor(t, dtype=torch.float64)).item()
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    v_hat = d_alpha_t * x0_hat + d_sigma_t * eps_hat  # PF-ODE velocity
    drift = v_hat + 0.5 * g2 / sigma_t * eps_hat  # = f x − g² ∇log p  (since ∇log p = −ε̂/σ)
    dt = t_next - t  # < 0
    x_next = x + drift * dt + math.sqrt(g2 * -dt) * _noise(x, generator)  # Euler–Maruyama step, backwards in time
    return x_next, x0_hat


def euler_maruyama_step(x: Tensor, t: float, t_next: float, predictor: Predictor, process: Process,
                        generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""One Euler–Maruyama step of the reverse SDE $dx = [f_t x - g_t^2\nabla\log p_t]dt + g_t d\bar W$, written as
    $dx = [\hat v + \tfrac{g_t^2}{2\sigma_t}\hat\varepsilon]dt + g_t d\bar W$ (no $f_t$, which is infinite at α = 0)."""
    return _em_step(require_float_tensor("x", x, "the start x_T"), float(t), float(t_next), predictor, process, generator, cond)[0]


def euler_maruyama(x: Tensor, ts, predictor: Predictor, process: Process, *, generator=None, callback=None,
                   **cond) -> Tensor:
    """Euler–Maruyama on the reverse SDE (Song et al. 2021): first order in the weak sense, 1 NFE per step."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x, x0_hat = _em_step(x, t, t_next, predictor, process, generator, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


def langevin_corrector(x: Tensor, t: float, predictor: Predictor, process: Process, *, snr: float = 0.16,
                       n_steps: int = 1, generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""Langevin corrector at fixed t (Song et al. 2021, Algorithm 4; their VP version, Algorithm 5, also multiplies ε
    by $\alpha_i = 1 - \beta_i \approx 1$): $x \leftarrow x + \epsilon\nabla\log p_t(x)
    + \sqrt{2\epsilon}\,z$, with $\epsilon = 2(r\,\overline{\|z\|}/\overline{\|\nabla\log p_t\|})^2$ (norms averaged over the batch, as in
    Song et al.'s code; r = ``snr``). Needs σ_t > 0."""
    x = require_float_tensor("x", x, "the start x_T")
    if not (snr > 0 and math.isfinite(snr)):
        raise ValueError(f"snr must be a finite number > 0; got {snr!r}")
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be an integer ≥ 0; got {n_steps!r}")
    t = float(t)
    if _coef(process, t)[1] == 0:
        raise ValueError(f"the Langevin corrector needs σ_t > 0; got t = {t:g} where σ_t = 0")
    for _ in range(int(n_steps)):
        score = _predict(predictor, x, t, "score", cond)
        z = _noise(x, generator)
        z_norm, score_norm = z.flatten(1).norm(dim=1).mean(), score.flatten(1).norm(dim=1).mean()  # batch means
        if score_norm == 0:  # the ratio defines no step (at a mode, or an untrained network's zero output): skip
            continue
        step = 2 * (snr * z_norm / score_norm) ** 2  # step size from the signal-to-noise ratio r
        x = x + step * score + (2 * step).sqrt() * z  # Langevin step
    return x


def predictor_corrector(x: Tensor, ts, predictor: Predictor, process: Process, *, snr: float = 0.16,
                        corrector_steps: int = 1, generator=None, callback=None, **cond) -> Tensor:
    """Predictor–corrector (Song et al. 2021, Algorithm 1): at each t, Langevin corrector steps, then one
    Euler–Maruyama step to t_next. Algorithm 1 writes the predictor first and corrects at the new time; correcting
    first, as here, is the same chain except at the ends (no corrector at σ = 0). 1 + corrector_steps NFE per step."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x = langevin_corrector(x, t, predictor, process, snr=snr, n_steps=corrector_steps, generator=generator, **cond)
        x, x0_hat = _em_step(x, t, t_next, predictor, process, generator, cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


INTEGRATORS = {"euler": euler, "heun": heun, "ddim": ddim, "ddpm": ddpm, "dpmpp_1": dpmpp_1, "dpmpp_2s": dpmpp_2s,
               "dpmpp_2m": dpmpp_2m, "euler_maruyama": euler_maruyama, "pc": predictor_corrector}


def get_integrator(name: str) -> Callable[..., Tensor]:
    """The sampler called ``name``: one of INTEGRATORS' keys."""
    if name not in INTEGRATORS:
        raise ValueError(f"unknown integrator name {name!r}; choose one of {sorted(INTEGRATORS)}")
    return INTEGRATORS[name]


def nfe_per_step(name: str) -> int:
    """Network evaluations per (interior) step: 2 for Heun and DPM-Solver++(2S); 2 for predictor–corrector with its
    default single corrector step (1 + corrector_steps); 1 for the others."""
    get_integrator(name)
    return 2 if name in ("heun", "dpmpp_2s", "pc") else 1

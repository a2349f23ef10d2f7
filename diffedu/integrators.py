r"""Integrators of the reverse process: the probability-flow ODE and the reverse SDE, for every process (chapter 10).

Each method is a step function ``x_step(x, t, t_next, predictor, process, **options) -> (x_next, x0_hat)`` and a
sampler that runs it over a grid ``ts`` (from ``diffedu.timers``): :func:`integrate` for the single-step methods, a
short loop of its own for Heun with churn, DPM-Solver++(2M) and predictor–corrector. ``predictor(x_t, t, kind)`` is a
``diffedu.Predictor`` around a network or an exact denoiser. Nothing assumes a VP process: every step is written
with $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ only. ``SAMPLERS`` is the table of samplers (loop, order,
NFE per step); :func:`steps_for_nfe` is the one rule that turns a budget of network evaluations into steps.

* The probability-flow ODE in velocity form (finite where $f = \dot\alpha/\alpha$ is not, e.g. cosine or flow at t = 1):
  $$\frac{dx}{dt} = \dot\alpha_t\,\hat x_0 + \dot\sigma_t\,\hat\varepsilon, \qquad
    \hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t.$$
* The reverse SDE (Anderson 1982; Song et al. 2021), $dx = [f_t x - g_t^2\nabla\log p_t]\,dt + g_t\,d\bar W$, written
  without $f_t$ as $dx = [\hat v + \tfrac{g_t^2}{2\sigma_t}\hat\varepsilon]\,dt + g_t\,d\bar W$ (see :func:`euler_maruyama`).

A step into σ = 0 (the last step of most grids) is an explicit branch: it never evaluates the predictor at σ = 0.
``callback(dict(i, t, t_next, x, x0_hat))`` is called once per step with the state *after* the step.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from .checks import require_float_tensor, require_in_range, require_integer, require_positive, require_real
from .processes import Process
from .timers import require_grid

__all__ = ["euler", "heun", "ddim", "ddpm", "dpmpp_1", "dpmpp_2s", "dpmpp_2m", "euler_maruyama", "langevin_corrector",
           "predictor_corrector", "euler_step", "heun_step", "heun_corrects", "ddim_step", "ddpm_step", "dpmpp_1_step", "dpmpp_2s_step",
           "dpm_first_order", "euler_maruyama_step", "integrate", "pf_ode_velocity", "Sampler", "SAMPLERS",
           "get_sampler", "sampler_options", "nfe_per_step", "steps_for_nfe", "INTEGRATORS", "get_integrator"]

PredictorFn = Callable[..., Tensor]  # predictor(x_t, t, kind, **cond): a diffedu.Predictor or any such callable


# --- helpers ----------------------------------------------------------------------------------------------------
def _coef(process: Process, t: float) -> tuple[float, float, float, float]:
    """(α_t, σ_t, α̇_t, σ̇_t) as Python floats (computed in float64; memoised by the process)."""
    return process.at(t)


def _log_snr(process: Process, t: float) -> float:
    r"""$\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ (``process.log_snr``) as a float: −inf where α = 0, +inf where σ = 0."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    if alpha_t == 0:
        return -math.inf
    if sigma_t == 0:
        return math.inf
    return 2 * (math.log(alpha_t) - math.log(sigma_t))


def _noise(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise shaped like x, on x's device and dtype, drawn from ``generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _predict(predictor: PredictorFn, x: Tensor, t: float, kind: str, cond: dict) -> Tensor:
    """One network evaluation, checked: a prediction of another shape than x would broadcast silently."""
    if not callable(predictor):
        raise TypeError(f"predictor must be callable as predictor(x_t, t, kind); got {type(predictor).__name__}")
    out = predictor(x, t, kind, **cond)
    if not isinstance(out, Tensor) or out.shape != x.shape:
        raise ValueError(f"the predictor must return a tensor of x's shape {tuple(x.shape)}; got "
                         f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__} (kind {kind!r})")
    return out


def _x0_eps(x: Tensor, t: float, predictor: PredictorFn, process: Process, cond: dict) -> tuple[Tensor, Tensor]:
    r"""One network evaluation: $\hat x_0$ and $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$ (needs σ_t > 0)."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    if sigma_t == 0:
        raise ValueError(f"a step must start where σ_t > 0 (ε̂ divides by σ_t); got t = {t:g}, where σ_t = 0")
    x0_hat = _predict(predictor, x, t, "x0", cond)
    eps_hat = (x - alpha_t * x0_hat) / sigma_t
    return x0_hat, eps_hat


def pf_ode_velocity(x: Tensor, t: float, predictor: PredictorFn, process: Process, **cond) -> tuple[Tensor, Tensor]:
    r"""The probability-flow velocity $\dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$ and $\hat x_0$ (one NFE)."""
    _, _, d_alpha_t, d_sigma_t = _coef(process, t)
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    return d_alpha_t * x0_hat + d_sigma_t * eps_hat, x0_hat


def _prepare(x, ts, process: Process) -> tuple[Tensor, list[float]]:
    if not isinstance(process, Process):
        raise TypeError(f"process must be a diffedu Process; got {type(process).__name__}")
    x = require_float_tensor("x", x, "the start x_T")
    ts = require_grid(ts, process).tolist()
    process.memoise(ts)  # every step's (α, σ, α̇, σ̇) in one vectorised call
    return x, ts


def _callback(callback, i: int, t: float, t_next: float, x: Tensor, x0_hat: Tensor) -> None:
    if callback is not None:
        if not callable(callback):
            raise TypeError(f"callback must be callable as callback(dict(i, t, t_next, x, x0_hat)); got "
                            f"{type(callback).__name__}")
        callback(dict(i=i, t=t, t_next=t_next, x=x, x0_hat=x0_hat))


def integrate(step: Callable[..., tuple[Tensor, Tensor]], x: Tensor, ts, predictor: PredictorFn, process: Process, *,
              callback=None, **options) -> Tensor:
    """The loop of every single-step sampler: ``x, x0_hat = step(x, t, t_next, predictor, process, **options)`` for
    each step of the grid ``ts``, then ``callback``."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x, x0_hat = step(x, t, t_next, predictor, process, **options)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


def _step_args(x, t, t_next) -> tuple[Tensor, float, float]:
    """A step's arguments as the loops pass them: a float tensor x and the two times as Python floats."""
    return require_float_tensor("x", x, "the state x_t"), require_real("t", t), require_real("t_next", t_next)


def _require_backwards(t: float, t_next: float) -> None:
    """DDIM and DDPM steps sample towards data: their noise scale needs t_next < t (else it would be clipped to 0)."""
    if not t_next < t:
        raise ValueError(f"t_next must be < t (a step towards data); got t = {t:g}, t_next = {t_next:g}")


# --- Euler and Heun (EDM, Karras et al. 2022, Algorithms 1 and 2) ---------------------------------------------------
def euler_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
               **cond) -> tuple[Tensor, Tensor]:
    r"""One Euler step of the PF-ODE, $x_{next} = x + (t_{next} - t)(\dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon)$;
    returns $(x_{next}, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    d_cur, x0_hat = pf_ode_velocity(x, t, predictor, process, **cond)
    return x + (t_next - t) * d_cur, x0_hat  # Euler step


def euler(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None,
          **cond) -> Tensor:
    """Euler's method on the probability-flow ODE. ``generator`` is unused."""
    return integrate(euler_step, x, ts, predictor, process, callback=callback, **cond)


def heun_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
              max_correction_gain: float = math.inf, **cond) -> tuple[Tensor, Tensor]:
    r"""One Heun step (Karras et al. 2022, Algorithm 1): Euler to $\tilde x$, then
    $x_{next} = x + (t_{next} - t)\tfrac12(d(x, t) + d(\tilde x, t_{next}))$; into σ = 0 it is Euler's step, and so
    it is where the correction would multiply the predictor's error by more than ``max_correction_gain``
    (:func:`heun_corrects`).
    Returns $(x_{next}, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    d_cur, x0_hat = pf_ode_velocity(x, t, predictor, process, **cond)
    x_next = x + (t_next - t) * d_cur  # Euler step
    if heun_corrects(process, t, t_next, max_correction_gain):  # 2nd-order correction
        d_prime, _ = pf_ode_velocity(x_next, t_next, predictor, process, **cond)
        x_next = x + (t_next - t) * 0.5 * (d_cur + d_prime)
    return x_next, x0_hat


def heun_corrects(process: Process, t: float, t_next: float, max_correction_gain: float = math.inf) -> bool:
    r"""Whether Heun's step t → t_next takes its 2nd-order correction: σ_{t_next} > 0 and the correction's gain on
    the predictor's error at t_next, $G = \tfrac12|t_{next} - t|\,|\dot\alpha\sigma - \dot\sigma\alpha|/\sigma$ (at
    t_next), is at most ``max_correction_gain``.

    Why a bound. The corrected step is $x + \tfrac{\Delta t}2(d + d')$ with $d' = \dot\alpha\hat x_0' +
    \dot\sigma(\tilde x - \alpha\hat x_0')/\sigma$ at t_next, so an error δ of $\hat x_0'$ moves $x_{next}$ by Gδ.
    On EDM (α = 1, σ = t) $G = \tfrac12(r - 1)$ with $r = \sigma_t/\sigma_{t_{next}}$, while the Euler step's own
    gain on its $\hat x_0$ error is $1 - 1/r < 1$; and $\tilde x$ comes from one Euler jump over a factor r, off the
    marginal at t_next, where a network errs most. With an exact denoiser (δ = 0) the correction is harmless at any
    G; with a trained one at few steps it is not: EDM's grid at 2 steps, [80, 0.002, 0], has r = 40 000 (G ≈ 20 000).
    ``inf`` is Algorithm 1 (Karras et al. 2022). EDM's 10-step grid has G ≤ 4.6.
    """
    alpha_next, sigma_next, d_alpha_next, d_sigma_next = _coef(process, t_next)
    if sigma_next == 0:
        return False  # the last step into σ = 0 is Euler (Karras et al. 2022, Algorithm 1, line 6)
    gain = 0.5 * abs(t_next - t) * abs(d_alpha_next * sigma_next - d_sigma_next * alpha_next) / sigma_next
    return gain <= max_correction_gain


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


def _churn_gamma(process: Process, t: float, n_steps: int, s_churn: float, s_tmin: float, s_tmax: float) -> float:
    r"""EDM's $\gamma = \min(S_{churn}/N, \sqrt2 - 1)$ where the noise level $\sigma_t/\alpha_t \in [S_{tmin}, S_{tmax}]$, else 0."""
    alpha_t, sigma_t, _, _ = _coef(process, t)
    level = sigma_t / alpha_t if alpha_t > 0 else math.inf
    in_range = s_tmin <= level <= s_tmax and math.isfinite(level)
    return min(s_churn / n_steps, math.sqrt(2) - 1) if (s_churn > 0 and in_range) else 0.0


def heun(x: Tensor, ts, predictor: PredictorFn, process: Process, *, s_churn: float = 0.0, s_tmin: float = 0.0,
         s_tmax: float = math.inf, s_noise: float = 1.0, max_correction_gain: float = math.inf, generator=None,
         callback=None, **cond) -> Tensor:
    r"""EDM's stochastic Heun sampler (Karras et al. 2022, Algorithm 2) for any process; ``s_churn = 0`` is Algorithm 1.

    Churn raises the noise level $s_t = \sigma_t/\alpha_t \in [s_{tmin}, s_{tmax}]$ to $\hat s = (1 + \gamma)s_t$ by the
    forward transition $\hat x = \tfrac{\alpha_{\hat t}}{\alpha_t}x + \sqrt{\sigma_{\hat t}^2 -
    (\alpha_{\hat t}/\alpha_t)^2\sigma_t^2}\,S_{noise}z$ ($\hat t$ capped at t_max), then takes a Heun step to $t_{next}$.
    A step whose correction would multiply the predictor's error by more than ``max_correction_gain`` is an Euler step
    (:func:`heun_corrects`).
    """
    gain_max = max_correction_gain
    if isinstance(gain_max, bool) or not (isinstance(gain_max, (int, float)) and gain_max > 0):
        raise ValueError(f"max_correction_gain must be a number > 0 (inf: always correct); got {gain_max!r}")
    for name, value in (("s_churn", s_churn), ("s_tmin", s_tmin), ("s_noise", s_noise)):
        require_positive(name, value, allow_zero=True)
    if not s_tmax >= s_tmin:
        raise ValueError(f"s_tmax must be ≥ s_tmin = {s_tmin}; got {s_tmax!r}")
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        gamma = _churn_gamma(process, t, len(ts) - 1, s_churn, s_tmin, s_tmax)
        if gamma > 0:
            x, t = _churn(x, t, gamma, s_noise, process, generator)  # increase the noise level
        x, x0_hat = heun_step(x, t, t_next, predictor, process, max_correction_gain, **cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- DDIM and ancestral DDPM ---------------------------------------------------------------------------------------
def ddim_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process, eta: float = 0.0,
              generator: torch.Generator | None = None, **cond) -> tuple[Tensor, Tensor]:
    r"""One DDIM step (Song, Meng & Ermon 2021, eq. 12) in (α, σ) form: $x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,
    \hat\varepsilon + c\,z$ with $c = \eta\,\sigma_s\sqrt{1 - e^{\lambda_t - \lambda_s}}$; returns $(x_s, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    eta = require_in_range("eta", eta, 0.0, 1.0)
    _require_backwards(t, t_next)
    alpha_t, sigma_t, _, _ = _coef(process, t)
    alpha_s, sigma_s, _, _ = _coef(process, t_next)
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    if sigma_s == 0:  # explicit branch to data
        return x0_hat.clone(), x0_hat
    r2 = (alpha_t * sigma_s / (alpha_s * sigma_t)) ** 2  # e^{λ_t − λ_s} ≤ 1
    c = eta * sigma_s * math.sqrt(max(1 - r2, 0.0))  # DDIM's σ_t(η) in (α, σ) form
    x_next = alpha_s * x0_hat + math.sqrt(max(sigma_s**2 - c**2, 0.0)) * eps_hat  # deterministic part
    if c > 0:
        x_next = x_next + c * _noise(x, generator)  # fresh noise
    return x_next, x0_hat


def ddim(x: Tensor, ts, predictor: PredictorFn, process: Process, *, eta: float = 0.0, generator=None, callback=None,
         **cond) -> Tensor:
    """DDIM (Song, Meng & Ermon 2021): η = 0 deterministic (a first-order exponential integrator), η = 1 ancestral."""
    return integrate(ddim_step, x, ts, predictor, process, callback=callback, eta=eta, generator=generator, **cond)


def ddpm_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
              generator: torch.Generator | None = None, **cond) -> tuple[Tensor, Tensor]:
    r"""One ancestral step: a draw of $q(x_s\mid x_t, \hat x_0)$ (Ho et al. 2020, eq. 6–7; Kingma et al. 2021, eq. 32),
    with $\alpha_{t|s} = \alpha_t/\alpha_s$, $\sigma_{t|s}^2 = \sigma_t^2 - \alpha_{t|s}^2\sigma_s^2$; returns $(x_s, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    _require_backwards(t, t_next)
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


def ddpm(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None, **cond) -> Tensor:
    """Ancestral DDPM sampling (Ho et al. 2020) over any grid; step by step equal to DDIM η = 1 with the same noise."""
    return integrate(ddpm_step, x, ts, predictor, process, callback=callback, generator=generator, **cond)


# --- DPM-Solver++ (Lu et al. 2022), data-prediction form ------------------------------------------------------------
def dpm_first_order(x: Tensor, t: float, t_next: float, D: Tensor, process: Process) -> Tensor:
    r"""$x_s = \tfrac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h} - 1)D$ with $h = (\lambda_s - \lambda_t)/2$ (σ_s, σ_t > 0)."""
    _, sigma_t, _, _ = _coef(process, t)
    alpha_s, sigma_s, _, _ = _coef(process, t_next)
    h = (_log_snr(process, t_next) - _log_snr(process, t)) / 2  # may be +inf when α_t = 0: expm1(−inf) = −1
    return sigma_s / sigma_t * x - alpha_s * math.expm1(-h) * D


def dpmpp_1_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
                 **cond) -> tuple[Tensor, Tensor]:
    r"""DPM-Solver++ first order (Lu et al. 2022, eq. 9 with k = 1): :func:`dpm_first_order` with $D = \hat x_0$."""
    x, t, t_next = _step_args(x, t, t_next)
    x0_hat = _predict(predictor, x, t, "x0", cond)
    if _coef(process, t_next)[1] == 0:  # explicit branch to data: λ_s = ∞, never log(0)
        return x0_hat.clone(), x0_hat
    return dpm_first_order(x, t, t_next, x0_hat, process), x0_hat


def dpmpp_1(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None,
            **cond) -> Tensor:
    """DPM-Solver++ first order (Lu et al. 2022); algebraically equal to DDIM with η = 0."""
    return integrate(dpmpp_1_step, x, ts, predictor, process, callback=callback, **cond)


def dpmpp_2s_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
                  **cond) -> tuple[Tensor, Tensor]:
    r"""One DPM-Solver++(2S) step (Lu et al. 2022, Algorithm 1, r = ½): a first-order step to the midpoint
    $\lambda_u = (\lambda_t + \lambda_s)/2$, then the full step with $D_u = \hat x_0(u, t_u)$. From α = 0 (λ = −∞, no
    midpoint) it is first order; into σ = 0 it returns $\hat x_0$. Returns $(x_s, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    x0_hat = _predict(predictor, x, t, "x0", cond)
    if _coef(process, t_next)[1] == 0:  # explicit branch to data
        return x0_hat.clone(), x0_hat
    lam_t, lam_s = _log_snr(process, t), _log_snr(process, t_next)
    if not math.isfinite(lam_t):  # α_t = 0: first-order step
        return dpm_first_order(x, t, t_next, x0_hat, process), x0_hat
    lam_u = lam_t + 0.5 * (lam_s - lam_t)  # midpoint in λ
    t_u = process.t_of_log_snr(torch.tensor(lam_u, dtype=torch.float64)).item()
    u = dpm_first_order(x, t, t_u, x0_hat, process)  # 1st-order step to the midpoint
    D_u = _predict(predictor, u, t_u, "x0", cond)
    return dpm_first_order(x, t, t_next, D_u, process), x0_hat  # full step with the midpoint's x̂₀


def dpmpp_2s(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None,
             **cond) -> Tensor:
    """DPM-Solver++(2S) (Lu et al. 2022, Algorithm 1): single-step, second order."""
    return integrate(dpmpp_2s_step, x, ts, predictor, process, callback=callback, **cond)


def dpmpp_2m(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None,
             **cond) -> Tensor:
    r"""DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): multistep, second order. With $r = h_{prev}/h$, the update
    uses $D = (1 + \tfrac1{2r})\hat x_0^{(i)} - \tfrac1{2r}\hat x_0^{(i-1)}$; the first step (no history), a step
    after α = 0 and the last step into σ = 0 use $\hat x_0$ alone."""
    x, ts = _prepare(x, ts, process)
    x0_prev, h_prev = None, None
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x0_hat = _predict(predictor, x, t, "x0", cond)
        if _coef(process, t_next)[1] == 0:  # explicit branch to data
            x = x0_hat.clone()
        else:
            h = (_log_snr(process, t_next) - _log_snr(process, t)) / 2
            if x0_prev is not None and h_prev is not None and math.isfinite(h_prev) and math.isfinite(h):
                r = h_prev / h
                D = (1 + 1 / (2 * r)) * x0_hat - 1 / (2 * r) * x0_prev  # 2nd-order extrapolation of x̂₀ in λ
            else:
                D = x0_hat
            x = dpm_first_order(x, t, t_next, D, process)
            h_prev = h
        x0_prev = x0_hat
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- the reverse SDE -------------------------------------------------------------------------------------------------
def euler_maruyama_step(x: Tensor, t: float, t_next: float, predictor: PredictorFn, process: Process,
                        generator: torch.Generator | None = None, **cond) -> tuple[Tensor, Tensor]:
    r"""One Euler–Maruyama step of the reverse SDE (Song et al. 2021) written without $f_t$,
    $dx = [\hat v + \tfrac{g_t^2}{2\sigma_t}\hat\varepsilon]dt + g_t d\bar W$; from α = 0 the exact ancestral step.
    Returns $(x_s, \hat x_0)$."""
    x, t, t_next = _step_args(x, t, t_next)
    _require_backwards(t, t_next)  # the noise scale √(g² (t − t_next)) needs t_next < t
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = _coef(process, t)
    if alpha_t == 0:  # g² = ∞ at α = 0 (cosine, flow at t = 1): take the exact ancestral step instead
        return ddpm_step(x, t, t_next, predictor, process, generator, **cond)
    g2 = process.g2_at(t)
    x0_hat, eps_hat = _x0_eps(x, t, predictor, process, cond)
    v_hat = d_alpha_t * x0_hat + d_sigma_t * eps_hat  # PF-ODE velocity
    drift = v_hat + 0.5 * g2 / sigma_t * eps_hat  # = f x − g² ∇log p  (since ∇log p = −ε̂/σ)
    dt = t_next - t  # < 0
    x_next = x + drift * dt + math.sqrt(g2 * -dt) * _noise(x, generator)  # Euler–Maruyama step, backwards in time
    return x_next, x0_hat


def euler_maruyama(x: Tensor, ts, predictor: PredictorFn, process: Process, *, generator=None, callback=None,
                   **cond) -> Tensor:
    """Euler–Maruyama on the reverse SDE (Song et al. 2021)."""
    return integrate(euler_maruyama_step, x, ts, predictor, process, callback=callback, generator=generator, **cond)


def langevin_corrector(x: Tensor, t: float, predictor: PredictorFn, process: Process, *, snr: float = 0.16,
                       n_steps: int = 1, generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""Langevin corrector at fixed t (Song et al. 2021, Algorithm 4): $x \leftarrow x + \epsilon\nabla\log p_t(x)
    + \sqrt{2\epsilon}\,z$ with $\epsilon = 2(r\,\overline{\|z\|}/\overline{\|\nabla\log p_t\|})^2$, norms averaged over
    the batch as in Song et al.'s code, r = ``snr``. Needs σ_t > 0."""
    x = require_float_tensor("x", x, "the start x_T")
    snr = require_positive("snr", snr)
    if snr > 10:  # Song et al. use r ≈ 0.16; r ≫ 1 takes steps far larger than the noise scale and diverges
        raise ValueError(f"snr must lie in (0, 10] (Song et al. use 0.16); got {snr:g}")
    n_steps = require_integer("n_steps", n_steps, lo=0)
    t = require_real("t", t)
    if _coef(process, t)[1] == 0:
        raise ValueError(f"the Langevin corrector needs σ_t > 0; got t = {t:g} where σ_t = 0")
    for _ in range(n_steps):
        score = _predict(predictor, x, t, "score", cond)
        z = _noise(x, generator)
        z_norm, score_norm = z.flatten(1).norm(dim=1).mean(), score.flatten(1).norm(dim=1).mean()  # batch means
        if score_norm == 0:  # the ratio defines no step (at a mode, or an untrained network's zero output): skip
            continue
        step = 2 * (snr * z_norm / score_norm) ** 2  # step size from the signal-to-noise ratio r
        x = x + step * score + (2 * step).sqrt() * z  # Langevin step
    return x


def predictor_corrector(x: Tensor, ts, predictor: PredictorFn, process: Process, *, snr: float = 0.16,
                        corrector_steps: int = 1, generator=None, callback=None, **cond) -> Tensor:
    """Predictor–corrector (Song et al. 2021, Algorithm 1), corrector first: at each t, Langevin corrector steps, then
    one Euler–Maruyama step to t_next (the same chain as Algorithm 1 except at the ends: no corrector at σ = 0)."""
    x, ts = _prepare(x, ts, process)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x = langevin_corrector(x, t, predictor, process, snr=snr, n_steps=corrector_steps, generator=generator, **cond)
        x, x0_hat = euler_maruyama_step(x, t, t_next, predictor, process, generator, **cond)
        _callback(callback, i, t, t_next, x, x0_hat)
    return x


# --- the sampler table -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampler:
    """One sampler: its loop, its cost in network evaluations (NFE) and its order."""

    run: Callable[..., Tensor]  # run(x, ts, predictor, process, *, generator=None, callback=None, **options, **cond)
    order: int | None  # order of the ODE method (DDIM at η = 0); None for a sampler of the reverse SDE
    nfe_per_step: int | Callable[..., int] = 1  # NFE of a step, or a function of the options that gives it
    last_step_nfe: int | None = None  # NFE of a final step into σ = 0 where it is fewer (no 2nd evaluation there)

    def step_nfe(self, **options) -> int:
        """Network evaluations per step with these options."""
        return self.nfe_per_step(**options) if callable(self.nfe_per_step) else self.nfe_per_step

    @property
    def options(self) -> tuple[str, ...]:
        """The sampler's own keyword options (e.g. ``eta``, ``s_churn``)."""
        return sampler_options(self.run)


def sampler_options(run: Callable) -> tuple[str, ...]:
    """The keyword options of a sampler loop: its parameters beyond x, ts, predictor, process, generator, callback."""
    fixed = ("x", "ts", "predictor", "process", "generator", "callback")
    return tuple(key for key, p in inspect.signature(run).parameters.items()
                 if key not in fixed and p.kind is not inspect.Parameter.VAR_KEYWORD)


def _pc_nfe(corrector_steps: int = 1, **options) -> int:
    return 1 + corrector_steps  # one score per corrector step, one x̂₀ for the Euler–Maruyama step


SAMPLERS = {
    "euler": Sampler(euler, order=1),
    "ddim": Sampler(ddim, order=1),
    "heun": Sampler(heun, order=2, nfe_per_step=2, last_step_nfe=1),
    "dpmpp_1": Sampler(dpmpp_1, order=1),
    "dpmpp_2s": Sampler(dpmpp_2s, order=2, nfe_per_step=2, last_step_nfe=1),
    "dpmpp_2m": Sampler(dpmpp_2m, order=2),
    "euler_maruyama": Sampler(euler_maruyama, order=None),
    "ddpm": Sampler(ddpm, order=None),
    "pc": Sampler(predictor_corrector, order=None, nfe_per_step=_pc_nfe),
}
INTEGRATORS = {name: sampler.run for name, sampler in SAMPLERS.items()}  # name → loop, a view of SAMPLERS


def get_sampler(name: str) -> Sampler:
    """The table's row called ``name``: one of SAMPLERS' keys."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown integrator name {name!r}; choose one of {sorted(SAMPLERS)}")
    return SAMPLERS[name]


def get_integrator(name: str) -> Callable[..., Tensor]:
    """The sampler loop called ``name``: one of SAMPLERS' keys."""
    return get_sampler(name).run


def nfe_per_step(name: str, **options) -> int:
    """Network evaluations per step of the sampler ``name`` with these options (pc: 1 + corrector_steps)."""
    return get_sampler(name).step_nfe(**options)


def steps_for_nfe(name: str, nfe: int, *, final_jump: bool = False, **options) -> int:
    """The most steps N whose cost is at most ``nfe`` evaluations: (N − 1)·k + k_last ≤ nfe with k = NFE per step and
    k_last the last step's NFE — fewer for Heun and DPM-Solver++(2S) when ``final_jump`` (the grid ends at σ = 0)."""
    sampler, k = get_sampler(name), nfe_per_step(name, **options)
    k_last = sampler.last_step_nfe if final_jump and sampler.last_step_nfe is not None else k
    nfe = require_integer(f"nfe (for {name})", nfe, lo=k_last)
    return (nfe - k_last) // k + 1

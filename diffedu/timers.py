r"""Sampling grids $t_0 > t_1 > \dots > t_N$ for the reverse process (chapter 10).

Every grid is a float64 tensor of ``n_steps + 1`` times, strictly decreasing, from ``t_start`` (default
``process.t_max``, noise) to ``t_end`` (default ``process.t_min``, data). Where the process has no noise at
``t_end`` (σ = 0: VP, cosine, flow, EDM, DDPM) the last step of a noise-level grid is an explicit jump from the
smallest positive noise level ``sigma_min`` to ``t_end``; samplers treat that step as a branch to x̂₀ (or Euler).

* ``uniform``: equal steps in t.
* ``cosine``: $t(u) = t_{end} + (t_{start} - t_{end})\,(1 - \cos(\tfrac\pi2 u))$, $u = 1 - i/N$: small steps near data.
* ``karras``: equal steps in $s^{1/\rho}$ for the noise level $s = \sigma_t/\alpha_t = e^{-\lambda_t/2}$
  (Karras et al. 2022, eq. 5), mapped back with ``process.t_of_log_snr``.
* ``log_snr``: equal steps in $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ (Lu et al. 2022, DPM-Solver's "logSNR" grid).

Where the noise level at ``t_start`` is infinite (α = 0: cosine, flow at t = 1), a noise-level grid keeps
``t_start`` as its first point and spaces the rest from ``sigma_max`` (default: the noise level one uniform step
below ``t_start``); its top level then grows with N, so it is not one fixed map $t_i = \varphi(i/N)$ (chapter 10).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .checks import require_integer
from .processes import Process

__all__ = ["uniform", "cosine", "karras", "log_snr", "make_grid", "TIMERS", "noise_level", "require_grid"]

SIGMA_MIN_DEFAULT = 0.002  # EDM's smallest noise level (Karras et al. 2022, Table 1)


def _check_args(process: Process, n_steps: int, t_start, t_end) -> tuple[int, float, float]:
    if not isinstance(process, Process):
        raise TypeError(f"process must be a diffedu Process; got {type(process).__name__}")
    n_steps = require_integer("n_steps", n_steps)
    t_start = process.t_max if t_start is None else float(process.require_t(float(t_start), "t_start"))
    t_end = process.t_min if t_end is None else float(process.require_t(float(t_end), "t_end"))
    if not t_start > t_end:
        raise ValueError(f"t_start must be > t_end (time runs data → noise, sampling runs backwards); "
                         f"got t_start={t_start:g}, t_end={t_end:g}")
    return int(n_steps), t_start, t_end


def require_grid(ts, process: Process, name: str = "ts") -> Tensor:
    """Return ``ts`` as a float64 1-D tensor after checking: ≥ 2 points, finite, strictly decreasing, in range."""
    if not isinstance(ts, Tensor):
        try:
            ts = torch.as_tensor(ts, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a 1-D sequence or tensor of times; got {type(ts).__name__}") from None
    if ts.is_complex():
        raise TypeError(f"{name} must hold real times; got a {ts.dtype} tensor")
    ts = ts.detach().to("cpu", torch.float64)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(f"{name} must be a 1-D grid of at least 2 times (n_steps ≥ 1); got shape {tuple(ts.shape)}")
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"{name} must be finite; got {ts.tolist()}")
    if not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError(f"{name} must be strictly decreasing (from noise t_0 = t_max down to data); got "
                         f"{ts[:6].tolist()}{' …' if ts.numel() > 6 else ''}")
    process.require_t(ts, name)
    return ts


def noise_level(process: Process, t) -> Tensor:
    r"""The noise level $s_t = \sigma_t/\alpha_t = e^{-\lambda_t/2}$ (EDM's σ for α = 1); +inf where α = 0."""
    alpha_t, sigma_t = process.coefficients(torch.as_tensor(t, dtype=torch.float64))[:2]
    return sigma_t / alpha_t


def uniform(process: Process, n_steps: int, *, t_start=None, t_end=None) -> Tensor:
    r"""Equal steps in time: $t_i = t_{start} + \tfrac iN (t_{end} - t_{start})$."""
    n_steps, t_start, t_end = _check_args(process, n_steps, t_start, t_end)
    ts = torch.linspace(t_start, t_end, n_steps + 1, dtype=torch.float64)
    ts[0], ts[-1] = t_start, t_end
    return ts


def cosine(process: Process, n_steps: int, *, t_start=None, t_end=None) -> Tensor:
    r"""$t_i = t_{end} + (t_{start} - t_{end})(1 - \cos(\tfrac\pi2 u_i))$, $u_i = 1 - i/N$: steps shrink near data."""
    n_steps, t_start, t_end = _check_args(process, n_steps, t_start, t_end)
    u = 1 - torch.arange(n_steps + 1, dtype=torch.float64) / n_steps  # (N+1,) from 1 to 0
    ts = t_end + (t_start - t_end) * (1 - torch.cos(0.5 * math.pi * u))
    ts[0], ts[-1] = t_start, t_end
    return ts


def _level_ends(process: Process, n_steps: int, t_start: float, t_end: float, sigma_min: float | None,
                sigma_max: float | None) -> tuple[list[float], tuple[float | None, float], tuple[float | None, float],
                                                  list[float]]:
    """The ends of a noise-level grid: ``(head, (t_hi, s_hi), (t_lo, s_lo), tail)``.

    ``head = [t_start]`` where its level is infinite (α = 0); the levels then start at ``sigma_max`` or, without it,
    one uniform step below t_start. ``tail = [t_end]`` where its level is 0 (σ = 0: the final jump); the levels then
    stop at ``sigma_min`` (default 0.002). ``t_hi``/``t_lo`` is the time an end level came from (None for a level
    given as ``sigma_max``/``sigma_min``)."""
    s_start, s_end = noise_level(process, t_start).item(), noise_level(process, t_end).item()
    if math.isfinite(s_start):
        if sigma_max is not None:
            raise ValueError(f"sigma_max is only used when the noise level at t_start is infinite (α = 0); here it is "
                             f"{s_start:g}: pass t_start instead")
        head, t_hi = [], t_start
    else:
        head, t_hi = [t_start], (t_start - (t_start - t_end) / n_steps if sigma_max is None else None)
    if s_end != 0:
        if sigma_min is not None:
            raise ValueError(f"sigma_min is only used when σ(t_end) = 0; here the noise level at t_end is {s_end:g}: "
                             f"pass t_end instead")
        tail, t_lo = [], t_end
    else:
        tail, t_lo = [t_end], None
    s_hi = float(sigma_max) if t_hi is None else noise_level(process, t_hi).item()
    s_lo = (SIGMA_MIN_DEFAULT if sigma_min is None else float(sigma_min)) if t_lo is None else \
        noise_level(process, t_lo).item()
    return head, (t_hi, s_hi), (t_lo, s_lo), tail


def _level_grid(process: Process, n_steps: int, t_start: float, t_end: float, spacing: Callable[[float, float, int], Tensor],
                sigma_min: float | None, sigma_max: float | None) -> Tensor:
    """A grid built in the noise level s = σ/α: ``spacing(s_hi, s_lo, k)`` gives k decreasing levels from s_hi to s_lo,
    mapped back to times through λ = −2 log s (``process.t_of_log_snr``)."""
    head, (t_hi, s_hi), (t_lo, s_lo), tail = _level_ends(process, n_steps, t_start, t_end, sigma_min, sigma_max)
    k = n_steps + 1 - len(head) - len(tail)  # number of levels to space
    if k <= 0:  # n_steps = 1 with both a head and a tail
        return torch.tensor(head + tail, dtype=torch.float64)
    if not (s_lo > 0 and math.isfinite(s_hi) and s_hi > s_lo):
        raise ValueError(f"the noise levels must satisfy 0 < sigma_min < sigma_max; got sigma_min={s_lo:g}, "
                         f"sigma_max={s_hi:g}")
    # space the levels, then map them back through λ
    lambda_t = -2 * torch.log(spacing(s_hi, s_lo, k))  # (k,) increasing
    lo, hi = process.log_snr_range(slack=True)  # levels computed from t_start/t_end themselves may round outside
    if bool(((lambda_t < lo) | (lambda_t > hi)).any()):
        raise ValueError(f"the noise levels [{s_lo:g}, {s_hi:g}] leave the {process.name} process's range of "
                         f"noise levels [{math.exp(-hi / 2):g}, {math.exp(-lo / 2):g}]")
    middle = process.t_of_log_snr(lambda_t).to(torch.float64)
    # the ends that came from a time are set to that time exactly (no round trip through λ)
    if t_hi is not None:
        middle[0] = t_hi
    if t_lo is not None and k > 1:
        middle[-1] = t_lo
    ts = torch.tensor(head + middle.tolist() + tail, dtype=torch.float64)
    if not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError(f"the grid is not strictly decreasing (sigma_min/sigma_max too close to the ends, or too "
                         f"many steps for float64): {ts.tolist()[:8]}")
    return ts


def karras(process: Process, n_steps: int, rho: float = 7.0, *, t_start=None, t_end=None,
           sigma_min: float | None = None, sigma_max: float | None = None) -> Tensor:
    r"""Karras et al. (2022, eq. 5): $s_i = (s_{max}^{1/\rho} + \tfrac{i}{k-1}(s_{min}^{1/\rho} - s_{max}^{1/\rho}))^\rho$.

    In the noise level $s = \sigma/\alpha$; ρ = 1 is uniform in s, large ρ crowds the steps near data.
    ``sigma_min`` (default 0.002) is the last positive level where σ(t_end) = 0; the grid then ends with a jump to t_end.
    """
    if not (isinstance(rho, (int, float)) and math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0; got {rho!r}")
    n_steps, t_start, t_end = _check_args(process, n_steps, t_start, t_end)

    def spacing(s_hi: float, s_lo: float, k: int) -> Tensor:
        if k == 1:
            return torch.tensor([s_hi], dtype=torch.float64)
        i = torch.arange(k, dtype=torch.float64) / (k - 1)
        return (s_hi ** (1 / rho) + i * (s_lo ** (1 / rho) - s_hi ** (1 / rho))) ** rho

    try:
        return _level_grid(process, n_steps, t_start, t_end, spacing, sigma_min, sigma_max)
    except OverflowError:
        raise ValueError(f"rho = {rho:g} is too small: the levels' 1/ρ-th powers overflow; use ρ ≥ about 0.1") from None


def log_snr(process: Process, n_steps: int, *, t_start=None, t_end=None, sigma_min: float | None = None,
            sigma_max: float | None = None) -> Tensor:
    r"""Equal steps in $\lambda = \log(\alpha^2/\sigma^2)$, i.e. geometric in the noise level s (Lu et al. 2022)."""
    n_steps, t_start, t_end = _check_args(process, n_steps, t_start, t_end)

    def spacing(s_hi: float, s_lo: float, k: int) -> Tensor:
        if k == 1:
            return torch.tensor([s_hi], dtype=torch.float64)
        i = torch.arange(k, dtype=torch.float64) / (k - 1)
        return torch.exp(math.log(s_hi) + i * (math.log(s_lo) - math.log(s_hi)))

    return _level_grid(process, n_steps, t_start, t_end, spacing, sigma_min, sigma_max)


TIMERS = {"uniform": uniform, "cosine": cosine, "karras": karras, "log_snr": log_snr}


def make_grid(name: str, process: Process, n_steps: int, *, t_start=None, t_end=None, **kw) -> Tensor:
    """Build a grid by name ('uniform', 'cosine', 'karras', 'log_snr'); ``kw`` goes to the timer (e.g. ``rho=``)."""
    if name not in TIMERS:
        raise ValueError(f"unknown timer name {name!r}; choose one of {sorted(TIMERS)}")
    return TIMERS[name](process, n_steps, t_start=t_start, t_end=t_end, **kw)

r"""Forward noising processes $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ (chapter 01).

Time runs data → noise: t = 0 is data (or, for VE, the smallest noise level σ_min), t = t_max is noise.
A process is fully described by $\alpha_t$ and $\sigma_t$; everything else is derived from them:

* the forward SDE $dx = f(t)\,x\,dt + g(t)\,dW$ with $f = \dot\alpha/\alpha$ and
  $g^2 = \tfrac{d\sigma^2}{dt} - 2 f \sigma^2$  (Song et al. 2021; Kingma et al. 2021, App. A; Lu et al. 2022, eq. 2.2),
* the log signal-to-noise ratio $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$, strictly decreasing in t.

Every method takes t as a float or a tensor and returns a tensor of t's shape and dtype; values outside
[t_min, t_max] raise a ValueError that names the allowed range.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import softplus

from .checks import require_integer, require_positive

__all__ = ["Process", "VP", "CosineVP", "VE", "EDM", "RectifiedFlow", "DiscreteDDPM", "SubVP", "make_process", "PROCESSES", "as_tensor",
           "same_process"]


def as_tensor(t, like: Tensor | None = None, name: str = "t") -> Tensor:
    """A time (or log-SNR) as a real floating-point tensor (in ``like``'s dtype and device for non-tensors); a complex,
    boolean, string or None value is a TypeError naming ``name`` (a complex t would lose its imaginary part)."""
    if isinstance(t, Tensor):
        if t.is_floating_point():  # the common case first: the samplers pass float tensors on every step
            return t
        if t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be a real number or a real tensor; got a {t.dtype} tensor")
        return t.to(torch.get_default_dtype())
    if type(t) is not float and (t is None or isinstance(t, (str, bytes, bool, complex)) or np.iscomplexobj(t)):
        raise TypeError(f"{name} must be a real number or a real tensor; got {t!r}")
    dtype = like.dtype if like is not None and like.is_floating_point() else torch.get_default_dtype()
    device = like.device if like is not None else None
    try:
        return torch.as_tensor(t, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a real number or a real tensor; got {type(t).__name__} {t!r:.60}") from None


class Process:
    """A forward process defined by $\\alpha_t$, $\\sigma_t$ and their time derivatives on [t_min, t_max]."""

    name = "process"
    t_min: float = 0.0
    t_max: float = 1.0

    # --- to be provided by each process -------------------------------------------------------------
    def _alpha(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def _sigma(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def _d_alpha(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def _d_sigma(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def _t_of_log_snr(self, lambda_t: Tensor) -> Tensor:
        raise NotImplementedError

    def _d_sigma2(self, t: Tensor) -> Tensor:
        r"""$d\sigma_t^2/dt$; variance-preserving processes override it with $-2\alpha_t\dot\alpha_t$, finite at σ = 0."""
        return 2 * self._sigma(t) * self._d_sigma(t)

    # --- public API ------------------------------------------------------------------------------------
    def require_t(self, t, name: str = "t") -> Tensor:
        """Return t as a tensor, raising ValueError if any value lies outside [t_min, t_max] or is NaN."""
        t = as_tensor(t, name=name)
        bad = torch.isnan(t) | (t < self.t_min) | (t > self.t_max)
        if bool(bad.any()):
            raise ValueError(
                f"{name} must lie in [t_min, t_max] = [{self.t_min:g}, {self.t_max:g}] for the "
                f"{self.name} process; got values from {t.min().item():g} to {t.max().item():g}")
        return t

    def alpha(self, t) -> Tensor:
        r"""Signal scale $\alpha_t$."""
        return self._alpha(self.require_t(t))

    def sigma(self, t) -> Tensor:
        r"""Noise scale $\sigma_t$."""
        return self._sigma(self.require_t(t))

    def d_alpha(self, t) -> Tensor:
        r"""$\dot\alpha_t = d\alpha_t/dt$."""
        return self._d_alpha(self.require_t(t))

    def d_sigma(self, t) -> Tensor:
        r"""$\dot\sigma_t = d\sigma_t/dt$."""
        return self._d_sigma(self.require_t(t))

    def f(self, t) -> Tensor:
        r"""Drift coefficient of the forward SDE, $f(t) = \dot\alpha_t / \alpha_t = \tfrac{d}{dt}\log\alpha_t$."""
        t = self.require_t(t)
        return self._d_alpha(t) / self._alpha(t)

    def g2(self, t) -> Tensor:
        r"""Squared diffusion coefficient $g(t)^2 = \tfrac{d\sigma_t^2}{dt} - 2 f(t)\sigma_t^2$ (finite at σ = 0)."""
        t = self.require_t(t)
        return self._d_sigma2(t) - 2 * self._d_alpha(t) / self._alpha(t) * self._sigma(t) ** 2

    def g(self, t) -> Tensor:
        r"""Diffusion coefficient $g(t)$ of the forward SDE $dx = f(t)x\,dt + g(t)\,dW$."""
        return self.g2(t).sqrt()

    def log_snr(self, t) -> Tensor:
        r"""Log signal-to-noise ratio $\lambda_t = \log(\alpha_t^2 / \sigma_t^2)$."""
        t = self.require_t(t)
        return 2 * (self._alpha(t).log() - self._sigma(t).log())

    def t_of_log_snr(self, lambda_t) -> Tensor:
        r"""Inverse of $\lambda_t$: the time at which the log-SNR equals ``lambda_t`` (exact, no root finding)."""
        lambda_t = as_tensor(lambda_t, name="lambda_t")
        lo, hi = self.log_snr_range()
        lo_slack, hi_slack = self.log_snr_range(slack=True)
        bad = torch.isnan(lambda_t) | (lambda_t < lo_slack) | (lambda_t > hi_slack)
        if bool(bad.any()):
            raise ValueError(f"lambda_t must lie in [{lo:g}, {hi:g}] for the {self.name} process")
        return self._t_of_log_snr(lambda_t.clamp(lo, hi))

    def log_snr_range(self, slack: bool = False) -> tuple[float, float]:
        r"""$(\lambda_{t_{max}}, \lambda_{t_{min}})$ in float64: the log-SNRs the process covers (±inf where α or σ is 0).

        ``slack=True`` widens each end by 1e-9 (relative, at least absolute): a level computed from an end time
        itself may land a rounding error outside, and that is not an error. Memoised (:meth:`remember`)."""
        def at_ends():
            return tuple(self.log_snr(torch.tensor([self.t_max, self.t_min], dtype=torch.float64)).tolist())
        lo, hi = self.remember("log_snr_range", at_ends)
        if slack:
            lo, hi = lo - 1e-9 * max(1.0, abs(lo)), hi + 1e-9 * max(1.0, abs(hi))
        return lo, hi

    def noise(self, x0: Tensor, t, eps: Tensor) -> Tensor:
        r"""Sample of $q(x_t \mid x_0)$: $x_t = \alpha_t x_0 + \sigma_t \varepsilon$.

        ``t`` is a scalar or has one entry per sample (shape ``(B,)`` for ``x0`` of shape ``(B, ...)``).
        """
        if not isinstance(x0, Tensor) or not isinstance(eps, Tensor):
            raise TypeError("x0 and eps must be torch tensors")
        if x0.shape != eps.shape:
            raise ValueError(f"x0 and eps must have the same shape; got x0 {tuple(x0.shape)} and eps {tuple(eps.shape)}")
        if not (x0.is_floating_point() and eps.is_floating_point()):
            raise TypeError(f"x0 and eps must be floating-point tensors; got {x0.dtype} and {eps.dtype}")
        t = as_tensor(t, like=x0)
        alpha_t, sigma_t = expand_like(self.alpha(t), x0), expand_like(self.sigma(t), x0)
        return alpha_t * x0 + sigma_t * eps

    def coefficients(self, t) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        r"""$(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ in one call."""
        t = self.require_t(t)
        return self._alpha(t), self._sigma(t), self._d_alpha(t), self._d_sigma(t)

    def remember(self, key, compute: Callable[[], object]):
        r"""``compute()``, memoised under ``key`` until any attribute of the process is set (then every memo is
        forgotten, so a changed parameter is never served a stale value). Bounded: a long run with ever-new keys never
        grows the memo beyond 65536 entries."""
        memo = self.__dict__.setdefault("_at_memo", {})
        if key not in memo:
            if len(memo) >= 65536:
                memo.clear()
            memo[key] = compute()
        return memo[key]

    def at(self, t: float) -> tuple[float, float, float, float]:
        r"""$(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ at one time, as Python floats computed in float64.

        Memoised (:meth:`remember`): a sampler asks for the same few times several times per step."""
        t = float(t)
        as_floats = lambda: tuple(c.item() for c in self.coefficients(torch.tensor(t, dtype=torch.float64)))
        return self.remember(t, as_floats)

    def g2_at(self, t: float) -> float:
        r"""$g(t)^2$ (:meth:`g2`) at one time as a Python float, memoised with :meth:`at`."""
        t = float(t)
        return self.remember(("g2", t), lambda: self.g2(torch.tensor(t, dtype=torch.float64)).item())

    def memoise(self, ts) -> None:
        r"""Fill :meth:`at`'s memo for every time of the grid ``ts`` in one vectorised call, so that a sampler's loop
        finds its times there (the same float64 formulas as :meth:`at`, applied to a vector: equal to rounding)."""
        ts = self.require_t(torch.as_tensor(ts, dtype=torch.float64)).flatten()  # (M,)
        memo = self.__dict__.setdefault("_at_memo", {})
        if len(memo) + ts.numel() > 65536:  # bounded as in at()
            memo.clear()
        columns = [torch.broadcast_to(c, ts.shape).tolist() for c in self.coefficients(ts)]
        for t, values in zip(ts.tolist(), zip(*columns)):
            memo.setdefault(t, values)

    def __setattr__(self, name: str, value) -> None:
        self.__dict__.pop("_at_memo", None)  # a parameter changed: forget the memoised coefficients
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in vars(self).items() if isinstance(v, (int, float)))
        return f"{type(self).__name__}({params})"


def same_process(a: Process, b: Process) -> bool:
    """Whether two processes are the same forward process: the same class with equal parameters (tensors equal
    entry by entry), so that a predictor built for one is right for the other."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    va, vb = ({k: v for k, v in vars(p).items() if not k.startswith("_")} for p in (a, b))
    if va.keys() != vb.keys():
        return False
    return all(torch.equal(va[k], vb[k]) if isinstance(va[k], Tensor) and isinstance(vb[k], Tensor)
               else va[k] == vb[k] for k in va)


def expand_like(coef: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-sample coefficient of shape () or (B,) so that it broadcasts against x of shape (B, ...)."""
    coef = coef.to(device=x.device, dtype=x.dtype)
    if coef.ndim == 0:
        return coef
    if coef.ndim != 1 or coef.shape[0] != x.shape[0]:
        raise ValueError(f"t must be a scalar or have one entry per sample ({x.shape[0]}); got shape {tuple(coef.shape)}")
    return coef.reshape(-1, *([1] * (x.ndim - 1)))


class VP(Process):
    r"""Variance-preserving process with a linear $\beta(t) = \beta_{min} + t(\beta_{max} - \beta_{min})$ on [0, 1].

    $\alpha_t = \exp(-\tfrac12\int_0^t\beta)$, $\sigma_t = \sqrt{1 - \alpha_t^2}$, so $f = -\beta/2$ and $g = \sqrt\beta$
    (Ho et al. 2020 in the continuous limit; Song et al. 2021, VP SDE).
    """

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min = require_positive("beta_min", beta_min, allow_zero=True)
        self.beta_max = require_positive("beta_max", beta_max)
        if self.beta_max < self.beta_min:
            raise ValueError(f"beta_max must be ≥ beta_min = {beta_min}; got {beta_max}")

    def beta(self, t) -> Tensor:
        r"""$\beta(t) = \beta_{min} + t(\beta_{max} - \beta_{min})$."""
        return self.beta_min + self.require_t(t) * (self.beta_max - self.beta_min)

    def _beta(self, t: Tensor) -> Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def _integral_beta(self, t: Tensor) -> Tensor:
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def _alpha(self, t):
        return torch.exp(-0.5 * self._integral_beta(t))

    def _sigma(self, t):
        return (-torch.expm1(-self._integral_beta(t))).sqrt()

    def _d_alpha(self, t):
        return -0.5 * self._beta(t) * self._alpha(t)

    def _d_sigma(self, t):
        d = -self._alpha(t) * self._d_alpha(t) / self._sigma(t)
        if self.beta_min == 0:  # σ ≈ t√(β_max/2) near 0: the 0/0 at t = 0 has this finite limit
            d = torch.where(t == 0, torch.full_like(d, math.sqrt(self.beta_max / 2)), d)
        return d

    def _d_sigma2(self, t):
        return -2 * self._alpha(t) * self._d_alpha(t)  # σ² = 1 − α²

    def _t_of_log_snr(self, lambda_t):
        # alpha^2 = sigmoid(lambda)  =>  ∫β = softplus(-lambda); solve the quadratic in t.
        integral = softplus(-lambda_t)
        slope = self.beta_max - self.beta_min
        if slope == 0:
            return integral / self.beta_min
        return (-self.beta_min + (self.beta_min**2 + 2 * slope * integral).sqrt()) / slope


class SubVP(VP):
    r"""Sub-VP SDE (Song et al. 2021, eq. 12): VP's drift $-\tfrac12\beta x$ with $g^2 = \beta(t)(1 - e^{-2B(t)})$,
    $B(t) = \int_0^t\beta$. Its kernel has $\alpha_t = e^{-B/2}$ (as VP) and $\sigma_t = 1 - e^{-B} = 1 - \alpha_t^2$,
    below VP's $\sqrt{1 - \alpha_t^2}$: not variance preserving (chapter 07 derives the kernel)."""

    name = "subvp"

    def _sigma(self, t):
        return -torch.expm1(-self._integral_beta(t))  # 1 − e^{−B}

    def _d_sigma(self, t):
        return self._beta(t) * torch.exp(-self._integral_beta(t))

    def _d_sigma2(self, t):
        return 2 * self._sigma(t) * self._d_sigma(t)

    def g2_formula(self, t) -> Tensor:
        r"""Song et al.'s $g(t)^2 = \beta(t)(1 - e^{-2B(t)})$, written directly (an independent check of ``g2``)."""
        t = self.require_t(t)
        return self._beta(t) * -torch.expm1(-2 * self._integral_beta(t))

    def _t_of_log_snr(self, lambda_t):
        # λ = log(a / (1 − a)²) with a = α² = e^{−B}: the root of r a² − (2r + 1) a + r = 0 in (0, 1), r = e^λ,
        # written as 2r / ((2r + 1) + √(4r + 1)) (no cancellation at large r; a → 1 as λ → ∞), in float64.
        r = lambda_t.to(torch.float64).exp()
        a = 2 * r / ((2 * r + 1) + (4 * r + 1).sqrt())
        a = torch.where(torch.isinf(r), torch.ones_like(a), a)  # λ = +∞: no noise, t = 0
        integral = -a.log()
        slope = self.beta_max - self.beta_min
        if slope == 0:
            return (integral / self.beta_min).to(lambda_t.dtype)
        return ((-self.beta_min + (self.beta_min**2 + 2 * slope * integral).sqrt()) / slope).to(lambda_t.dtype)


class CosineVP(Process):
    r"""Cosine variance-preserving process (Nichol & Dhariwal 2021) on [0, 1].

    $\alpha_t = \cos(\tfrac\pi2\,\tfrac{t+s}{1+s}) / \cos(\tfrac\pi2\,\tfrac{s}{1+s})$, $\sigma_t = \sqrt{1-\alpha_t^2}$.
    At t = 1, $\alpha_1 = 0$ exactly: the end point is pure noise.
    """

    name = "cosine"

    def __init__(self, s: float = 0.008):
        self.s = require_positive("s", s)

    def _phase(self, t):
        return 0.5 * math.pi * (t + self.s) / (1 + self.s)

    def _alpha(self, t):
        # cos(π/2·(t+s)/(1+s)) written as sin(π/2·(1−t)/(1+s)): the same number, but exactly 0 at t = 1 in any dtype
        return torch.sin(0.5 * math.pi * (1 - t) / (1 + self.s)) / math.cos(0.5 * math.pi * self.s / (1 + self.s))

    def _sigma(self, t):
        return (1 - self._alpha(t) ** 2).clamp_min(0).sqrt()  # in float32 α(0) can round a hair above 1

    def _d_alpha(self, t):
        return -0.5 * math.pi / (1 + self.s) * torch.sin(self._phase(t)) / math.cos(0.5 * math.pi * self.s / (1 + self.s))

    def _d_sigma(self, t):
        return -self._alpha(t) * self._d_alpha(t) / self._sigma(t)

    def _d_sigma2(self, t):
        return -2 * self._alpha(t) * self._d_alpha(t)  # σ² = 1 − α²

    def _t_of_log_snr(self, lambda_t):
        alpha_t = torch.sigmoid(lambda_t).sqrt()
        phase = torch.acos(alpha_t * math.cos(0.5 * math.pi * self.s / (1 + self.s)))
        return phase * (1 + self.s) / (0.5 * math.pi) - self.s


class VE(Process):
    r"""Variance-exploding process (Song et al. 2021): $\alpha_t = 1$, $\sigma_t = \sigma_{min}(\sigma_{max}/\sigma_{min})^t$.

    t runs over [0, 1]; at t = 0 the noise level is $\sigma_{min}$, not zero. $f = 0$, $g = \sigma_t\sqrt{2\log(\sigma_{max}/\sigma_{min})}$.
    """

    name = "ve"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = require_positive("sigma_min", sigma_min)
        self.sigma_max = require_positive("sigma_max", sigma_max)
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min = {sigma_min}; got {sigma_max}")
        if not math.isfinite(self.sigma_max / self.sigma_min):
            raise ValueError(f"sigma_max / sigma_min must be finite (σ_t = σ_min (σ_max/σ_min)^t); got "
                             f"{sigma_max:g} / {sigma_min:g}, which overflows")

    def _alpha(self, t):
        return torch.ones_like(t)

    def _sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def _d_alpha(self, t):
        return torch.zeros_like(t)

    def _d_sigma(self, t):
        return self._sigma(t) * math.log(self.sigma_max / self.sigma_min)

    def _t_of_log_snr(self, lambda_t):
        return (-0.5 * lambda_t - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)


class EDM(Process):
    r"""EDM's process (Karras et al. 2022): $\alpha_t = 1$, $\sigma_t = t$ on [0, σ_max]; time *is* the noise level.

    $f = 0$, $g = \sqrt{2t}$, and $\lambda_t = -2\log t$.
    """

    name = "edm"

    def __init__(self, sigma_max: float = 80.0, sigma_data: float = 0.5):
        self.sigma_max = require_positive("sigma_max", sigma_max)
        self.sigma_data = require_positive("sigma_data", sigma_data)
        self.t_max = self.sigma_max

    def _alpha(self, t):
        return torch.ones_like(t)

    def _sigma(self, t):
        return t.clone()

    def _d_alpha(self, t):
        return torch.zeros_like(t)

    def _d_sigma(self, t):
        return torch.ones_like(t)

    def _t_of_log_snr(self, lambda_t):
        return torch.exp(-0.5 * lambda_t)


class RectifiedFlow(Process):
    r"""Rectified flow / linear interpolation (Liu et al. 2023; Lipman et al. 2023): $\alpha_t = 1-t$, $\sigma_t = t$.

    Flow-matching papers often run time noise → data; here t = 0 is data, as everywhere in the course.
    """

    name = "flow"

    def _alpha(self, t):
        return 1 - t

    def _sigma(self, t):
        return t.clone()

    def _d_alpha(self, t):
        return -torch.ones_like(t)

    def _d_sigma(self, t):
        return torch.ones_like(t)

    def _t_of_log_snr(self, lambda_t):
        return torch.sigmoid(-0.5 * lambda_t)  # (1-t)/t = exp(λ/2)


class DiscreteDDPM(Process):
    r"""Discrete DDPM (Ho et al. 2020): $\beta_1..\beta_T$, $\bar\alpha_n = \prod_{i\le n}(1-\beta_i)$, $\bar\alpha_0 = 1$.

    Time is the step index, t ∈ [0, T]. At integer t = n, $\alpha_t = \sqrt{\bar\alpha_n}$ and $\sigma_t = \sqrt{1-\bar\alpha_n}$
    exactly; between steps $\log\bar\alpha$ is interpolated linearly, which is the continuous process whose forward
    SDE has $f(t) = \tfrac12\log(1-\beta_n)$ on $[n-1, n)$ (at an integer t, the slope of the step above) — close to
    $-\beta_n/2$, the continuous VP limit.
    """

    name = "ddpm"

    def __init__(self, T: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02, betas: Tensor | None = None):
        if betas is None:
            T = require_integer("T", T)
            require_positive("beta_1", beta_1)
            require_positive("beta_T", beta_T)
            betas = torch.linspace(beta_1, beta_T, int(T), dtype=torch.float64)
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() == 0 or bool(((betas <= 0) | (betas >= 1) | torch.isnan(betas)).any()):
            raise ValueError("every beta_t must lie in (0, 1); got "
                             f"min {betas.min().item() if betas.numel() else 'n/a'}, max {betas.max().item() if betas.numel() else 'n/a'}")
        self.betas = betas
        self.T = betas.numel()
        self.t_max = float(self.T)
        self.alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])  # (T+1,)
        self._log_alpha_bar = self.alpha_bar.log()

    def _interp(self, t):
        table = self._log_alpha_bar.to(device=t.device, dtype=t.dtype)
        n = t.floor().clamp(0, self.T - 1).long()
        slope = table[n + 1] - table[n]
        return table[n] + slope * (t - n), slope

    def _alpha(self, t):
        return torch.exp(0.5 * self._interp(t)[0])

    def _sigma(self, t):
        return (-torch.expm1(self._interp(t)[0])).sqrt().abs()  # abs: IEEE −0.0 at t = 0 (log ᾱ = +0.0) becomes +0.0

    def _d_alpha(self, t):
        log_ab, slope = self._interp(t)
        return 0.5 * slope * torch.exp(0.5 * log_ab)

    def _d_sigma(self, t):
        return -self._alpha(t) * self._d_alpha(t) / self._sigma(t)

    def _d_sigma2(self, t):
        return -2 * self._alpha(t) * self._d_alpha(t)  # σ² = 1 − α²

    def _t_of_log_snr(self, lambda_t):
        log_ab = -softplus(-lambda_t)  # log alpha_bar = log sigmoid(lambda)
        table = self._log_alpha_bar.to(device=lambda_t.device, dtype=lambda_t.dtype)
        # table is decreasing; find n with table[n+1] <= log_ab <= table[n]
        n = (torch.searchsorted(-table, -log_ab, right=True) - 1).clamp(0, self.T - 1)
        return n + (log_ab - table[n]) / (table[n + 1] - table[n])

    def __repr__(self) -> str:
        return f"DiscreteDDPM(T={self.T}, beta_1={self.betas[0].item():g}, beta_T={self.betas[-1].item():g})"


PROCESSES = {"vp": VP, "subvp": SubVP, "cosine": CosineVP, "ve": VE, "edm": EDM, "flow": RectifiedFlow, "ddpm": DiscreteDDPM}


def make_process(name: str, **params) -> Process:
    """Build a process by name: one of 'vp', 'subvp', 'cosine', 've', 'edm', 'flow', 'ddpm'."""
    if name not in PROCESSES:
        raise ValueError(f"unknown process name {name!r}; choose one of {sorted(PROCESSES)}")
    return PROCESSES[name](**params)

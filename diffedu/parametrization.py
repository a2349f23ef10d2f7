r"""What a network predicts: ε, x̂₀, the score or the velocity — and why they are one thing (chapter 02).

Given $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, each target is a fixed linear combination $a\,x_0 + b\,\varepsilon$:

| kind       | a            | b                  | meaning                                                   |
|------------|--------------|--------------------|-----------------------------------------------------------|
| ``x0``     | 1            | 0                  | the denoiser $D(x_t) = E[x_0\mid x_t]$                     |
| ``eps``    | 0            | 1                  | the noise predictor $E[\varepsilon\mid x_t]$              |
| ``score``  | 0            | $-1/\sigma_t$      | $\nabla\log p_t(x_t) = -E[\varepsilon\mid x_t]/\sigma_t$ (Tweedie) |
| ``velocity``| $\dot\alpha_t$ | $\dot\sigma_t$   | the probability-flow velocity $dx_t/dt$                    |

Predicting the conditional mean of one target is predicting all of them: with $x_t$ known, two linear equations
($x_t = \alpha x_0 + \sigma\varepsilon$ and $\text{pred} = a x_0 + b\varepsilon$) pin down $(\hat x_0, \hat\varepsilon)$
wherever their determinant $a\sigma_t - b\alpha_t$ (``determinant``) is finite and non-zero: $\sigma_t$ (x0),
$-\alpha_t$ (eps), $\alpha_t/\sigma_t$ (score), $\dot\alpha_t\sigma_t - \dot\sigma_t\alpha_t = \tfrac12\alpha_t\sigma_t\dot\lambda_t$
(velocity; $\dot\alpha_t\sigma_t \ne 0$ where $\alpha_t = 0$).

Exactly which conversions fail at the ends (``convert`` raises there and nowhere else):

- $\sigma_t = 0$ (data end): $x_t = \alpha_t x_0$ says nothing about ε, and the score's $b = -1/\sigma_t$ is infinite.
  Every pair with ``score`` fails, and so do x0 → eps and x0 → velocity. eps → x0 works ($x_0 = x_t/\alpha_t$);
  eps ↔ velocity and velocity → x0 work where $\dot\sigma_t$ is finite (sub-VP, flow, EDM), not where
  $\sigma_t \propto \sqrt t$ makes it infinite (VP, cosine, DDPM).
- $\alpha_t = 0$ (noise end of cosine and flow): $x_t = \sigma_t\varepsilon$ says nothing about $x_0$. eps or score →
  x0 or velocity fail; eps ↔ score works (score $= -\varepsilon/\sigma_t$ needs no $x_0$); from x0 and from the velocity
  (determinant $\dot\alpha_t\sigma_t$) every conversion works.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .processes import Process, as_tensor, expand_like

__all__ = ["KINDS", "coefficients", "conversion", "convert", "eps_to_x0", "x0_to_eps", "x0_to_score", "score_to_x0",
           "eps_to_score", "score_to_eps", "x0_to_velocity", "velocity_to_x0", "determinant", "Predictor", "ClippedPredictor",
           "Counting"]

KINDS = ("x0", "eps", "score", "velocity")


def require_kind(kind: str, name: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"{name} must be one of {KINDS}; got {kind!r}")


def coefficients(kind: str, t, process: Process) -> tuple[Tensor, Tensor]:
    r"""The pair (a, b) with target $= a\,x_0 + b\,\varepsilon$ for a kind of prediction at time t."""
    require_kind(kind, "kind")
    return _pair(kind, process.coefficients(t), torch)


def _pair(kind: str, coefs: tuple, xp) -> tuple:
    r"""(a, b) of ``kind`` from the process's $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$, as tensors (``xp`` =
    torch) or as NumPy float64 scalars (``xp`` = numpy)."""
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = coefs
    one, zero = xp.ones_like(alpha_t), xp.zeros_like(alpha_t)
    return {"x0": (one, zero), "eps": (zero, one), "score": (zero, -1 / sigma_t),
            "velocity": (d_alpha_t, d_sigma_t)}[kind]


def determinant(kind: str, t, process: Process) -> Tensor:
    r"""$a\sigma_t - b\alpha_t$: the determinant of $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, pred $= a x_0 + b\varepsilon$.

    $\sigma_t$ (x0), $-\alpha_t$ (eps), $\alpha_t/\sigma_t$ (score), $\dot\alpha_t\sigma_t - \dot\sigma_t\alpha_t$ (velocity).
    """
    require_kind(kind, "kind")
    coefs = process.coefficients(t)
    a, b = _pair(kind, coefs, torch)
    return a * coefs[1] - b * coefs[0]


def conversion(src: str, dst: str, t, process: Process) -> tuple:
    r"""The pair (P, Q) with dst $= P\,\text{pred} + Q\,x_t$ for a prediction of kind ``src`` at times ``t`` (chapter 02).

    $P(a, b) + Q(\alpha_t, \sigma_t) = (c, d)$, (a, b) and (c, d) the coefficients of ``src`` and ``dst``:
    $P = (c\sigma_t - d\alpha_t)/\det$, $Q = (ad - bc)/\det$, $\det = a\sigma_t - b\alpha_t$. Where $\det = 0$ (pred tells
    nothing beyond $x_t$) dst is still determined if it is a multiple of src (eps ↔ score at $\alpha_t = 0$). It raises
    a ValueError exactly where dst is not determined or a coefficient is infinite (the list in the module docstring).
    A time given as a Python float is answered in NumPy float64 scalars from the process's memoised coefficients
    (``Process.at``): the same lines, without a pass of one-element tensors per new time.
    """
    require_kind(src, "src")
    require_kind(dst, "dst")
    if type(t) is float:
        xp, t = np, np.float64(t)
        coefs = tuple(np.float64(c) for c in process.at(t))
    else:
        xp, t = torch, as_tensor(t)
        coefs = process.coefficients(t)
    alpha_t, sigma_t = coefs[:2]
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy: 1/0 is inf here, as in torch, and checked below
        (a, b), (c, d) = _pair(src, coefs, xp), _pair(dst, coefs, xp)
        finite = xp.isfinite(a) & xp.isfinite(b) & xp.isfinite(c) & xp.isfinite(d)
        det, num_p, num_q = a * sigma_t - b * alpha_t, c * sigma_t - d * alpha_t, a * d - b * c
        solvable = det != 0
        if not bool((finite & (solvable | (num_p == 0))).all()):
            raise ValueError(f"cannot convert {src!r} to {dst!r} at t = {t.min().item():g}…{t.max().item():g} for "
                             f"the {process.name} process: there x_t and a {src} prediction do not determine {dst} "
                             "(σ_t = 0 leaves ε and the score undetermined, α_t = 0 leaves x0; see parametrization's "
                             "docstring); samplers take an explicit branch there instead")
        one = xp.ones_like(det)
        ratio = xp.where(a != 0, c / xp.where(a != 0, a, one), d / xp.where(b != 0, b, one))  # dst = ratio·src
        p_coef = xp.where(solvable, num_p / xp.where(solvable, det, one), ratio)
        q_coef = xp.where(solvable, num_q / xp.where(solvable, det, one), xp.zeros_like(det))
    return p_coef, q_coef


def convert(pred: Tensor, src: str, dst: str, x_t: Tensor, t, process: Process) -> Tensor:
    r"""Convert a prediction of kind ``src`` into kind ``dst`` at $(x_t, t)$: $P\,\text{pred} + Q\,x_t$ (``conversion``).

    ``t`` is a scalar or has one entry per sample. A Python float (one time, as the samplers pass it) has its (P, Q)
    computed once in float64 and memoised by the process (``Process.remember``): the same formulas, without redoing
    them per call.
    """
    require_kind(src, "src")
    require_kind(dst, "dst")
    if not isinstance(pred, Tensor) or not isinstance(x_t, Tensor):
        raise TypeError("pred and x_t must be torch tensors")
    if pred.shape != x_t.shape:
        raise ValueError(f"pred and x_t must have the same shape; got pred {tuple(pred.shape)} and x_t {tuple(x_t.shape)}")
    if src == dst:
        return pred
    if type(t) is float:
        def as_floats():
            return tuple(c.item() for c in conversion(src, dst, t, process))
        p_coef, q_coef = process.remember(("convert", src, dst, t), as_floats)
        return p_coef * pred + q_coef * x_t
    p_coef, q_coef = (expand_like(c, x_t) for c in conversion(src, dst, as_tensor(t, like=x_t), process))
    return p_coef * pred + q_coef * x_t


def eps_to_x0(eps: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""$\hat x_0 = (x_t - \sigma_t\hat\varepsilon)/\alpha_t$."""
    return convert(eps, "eps", "x0", x_t, t, process)


def x0_to_eps(x0: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""$\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$."""
    return convert(x0, "x0", "eps", x_t, t, process)


def x0_to_score(x0: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""Tweedie: $\nabla\log p_t(x_t) = (\alpha_t\hat x_0 - x_t)/\sigma_t^2$."""
    return convert(x0, "x0", "score", x_t, t, process)


def score_to_x0(score: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""Tweedie: $\hat x_0 = (x_t + \sigma_t^2\nabla\log p_t)/\alpha_t$."""
    return convert(score, "score", "x0", x_t, t, process)


def eps_to_score(eps: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""$\nabla\log p_t = -\hat\varepsilon/\sigma_t$."""
    return convert(eps, "eps", "score", x_t, t, process)


def score_to_eps(score: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""$\hat\varepsilon = -\sigma_t\nabla\log p_t$."""
    return convert(score, "score", "eps", x_t, t, process)


def x0_to_velocity(x0: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""Probability-flow velocity $\hat v = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$."""
    return convert(x0, "x0", "velocity", x_t, t, process)


def velocity_to_x0(v: Tensor, x_t: Tensor, t, process: Process) -> Tensor:
    r"""$\hat x_0 = (\sigma_t\hat v - \dot\sigma_t x_t)/(\dot\alpha_t\sigma_t - \dot\sigma_t\alpha_t)$."""
    return convert(v, "velocity", "x0", x_t, t, process)


class Predictor:
    """Wraps a network ``net(x_t, t, **cond)`` that predicts one kind, and answers in any kind.

    ``t`` is passed to the network as a tensor of shape (B,), on the input's device and dtype — or, with
    ``float_time=True`` and a time given as a Python float (as every sampler passes it), as that float: for an exact
    answer that computes one time faster as a scalar (``GaussianMixture.predictor``), whose conversion to other kinds
    is then memoised too (``convert``).
    """

    def __init__(self, net: Callable[..., Tensor], kind: str, process: Process, float_time: bool = False):
        require_kind(kind, "kind")
        if not callable(net):
            raise TypeError(f"net must be callable; got {type(net).__name__}")
        if not isinstance(process, Process):
            raise TypeError(f"process must be a diffedu Process (e.g. diffedu.EDM()); got {process!r}")
        self.net, self.kind, self.process, self.float_time = net, kind, process, bool(float_time)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        require_kind(kind, "kind")
        if not isinstance(x_t, Tensor) or x_t.ndim < 1:
            raise ValueError("x_t must be a tensor with a batch dimension, shape (B, ...)")
        if self.float_time and type(t) is float and self.process.t_min <= t <= self.process.t_max:
            return convert(self.net(x_t, t, **cond), self.kind, kind, x_t, t, self.process)
        t = self.process.require_t(as_tensor(t, like=x_t).to(x_t.device))
        t_batch = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        if t_batch.shape != (x_t.shape[0],):
            raise ValueError(f"t must be a scalar or have one entry per sample ({x_t.shape[0]}); got shape "
                             f"{tuple(t.shape)}")
        pred = self.net(x_t, t_batch, **cond)
        return convert(pred, self.kind, kind, x_t, t_batch, self.process)

    def x0_hat(self, x_t: Tensor, t, **cond) -> Tensor:
        return self(x_t, t, "x0", **cond)

    def eps_hat(self, x_t: Tensor, t, **cond) -> Tensor:
        return self(x_t, t, "eps", **cond)

    def score(self, x_t: Tensor, t, **cond) -> Tensor:
        return self(x_t, t, "score", **cond)

    def velocity(self, x_t: Tensor, t, **cond) -> Tensor:
        return self(x_t, t, "velocity", **cond)


class ClippedPredictor:
    r"""A predictor whose $\hat x_0$ is clipped to the data range [lo, hi], answering in any kind.

    What Ho et al.'s (2020) image sampler does at every step (``clip_denoised``): pixels lie in [−1, 1], and a
    briefly trained network extrapolates $\hat x_0$ far outside at high noise ($\hat x_0 = (x_t - \sigma_t\hat
    \varepsilon)/\alpha_t$ multiplies the ε̂ error by $1/\alpha_t$) or after a large step. Other kinds are converted
    from the clipped $\hat x_0$ (``convert``), so a sampler asking for ε̂ or the velocity sees the same clipped answer.
    Where $\hat x_0$ already lies in [lo, hi] it changes nothing. For data with a known range only (images).
    """

    def __init__(self, predictor: Callable[..., Tensor], lo: float = -1.0, hi: float = 1.0):
        if not callable(predictor):
            raise TypeError(f"predictor must be callable; got {type(predictor).__name__}")
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo < hi):
            raise ValueError(f"lo must be < hi (two numbers); got lo = {lo!r}, hi = {hi!r}")
        self.predictor, self.lo, self.hi = predictor, float(lo), float(hi)
        self.process = getattr(predictor, "process", None)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        require_kind(kind, "kind")
        x0_hat = self.predictor(x_t, t, "x0", **cond).clamp(self.lo, self.hi)
        if kind == "x0":
            return x0_hat
        if self.process is None:
            raise ValueError(f"a ClippedPredictor answers kind {kind!r} only around a predictor with a .process")
        return convert(x0_hat, "x0", kind, x_t, t, self.process)


class Counting:
    """A predictor that counts its evaluations: ``pred = Counting(gmm.predictor(process))``, sample, read ``pred.nfe``
    (the number of network calls; a call on a batch counts once)."""

    def __init__(self, predictor: Callable[..., Tensor]):
        if not callable(predictor):
            raise TypeError(f"predictor must be callable; got {type(predictor).__name__}")
        self.predictor, self.nfe = predictor, 0
        self.process = getattr(predictor, "process", None)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        self.nfe += 1
        return self.predictor(x_t, t, kind, **cond)

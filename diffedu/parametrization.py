r"""What a network predicts: ε, x̂₀, the score or the velocity — and why they are one thing (chapter 02).

Given $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, each target is a fixed linear combination $a\,x_0 + b\,\varepsilon$:

| kind       | a            | b                  | meaning                                                   |
|------------|--------------|--------------------|-----------------------------------------------------------|
| ``x0``     | 1            | 0                  | the denoiser $D(x_t) = E[x_0\mid x_t]$                     |
| ``eps``    | 0            | 1                  | the noise predictor $E[\varepsilon\mid x_t]$              |
| ``score``  | 0            | $-1/\sigma_t$      | $\nabla\log p_t(x_t) = -E[\varepsilon\mid x_t]/\sigma_t$ (Tweedie) |
| ``velocity``| $\dot\alpha_t$ | $\dot\sigma_t$   | the probability-flow velocity $dx_t/dt$                    |

Predicting the conditional mean of one target is predicting all of them: with $x_t$ known, two linear equations
($x_t = \alpha x_0 + \sigma\varepsilon$ and $\text{pred} = a x_0 + b\varepsilon$) pin down $(\hat x_0, \hat\varepsilon)$.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .processes import Process, as_tensor, expand_like

__all__ = ["KINDS", "coefficients", "convert", "eps_to_x0", "x0_to_eps", "x0_to_score", "score_to_x0",
           "eps_to_score", "score_to_eps", "x0_to_velocity", "velocity_to_x0", "Predictor", "Counting"]

KINDS = ("x0", "eps", "score", "velocity")


def require_kind(kind: str, name: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"{name} must be one of {KINDS}; got {kind!r}")


def coefficients(kind: str, t, process: Process) -> tuple[Tensor, Tensor]:
    r"""The pair (a, b) with target $= a\,x_0 + b\,\varepsilon$ for a kind of prediction at time t."""
    require_kind(kind, "kind")
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.coefficients(t)
    one, zero = torch.ones_like(alpha_t), torch.zeros_like(alpha_t)
    return {"x0": (one, zero), "eps": (zero, one), "score": (zero, -1 / sigma_t),
            "velocity": (d_alpha_t, d_sigma_t)}[kind]


def convert(pred: Tensor, src: str, dst: str, x_t: Tensor, t, process: Process) -> Tensor:
    r"""Convert a prediction of kind ``src`` into kind ``dst`` at $(x_t, t)$.

    Solves $x_t = \alpha x_0 + \sigma\varepsilon$, $\text{pred} = a x_0 + b\varepsilon$ for $(x_0, \varepsilon)$:
    $x_0 = (\sigma\,\text{pred} - b\,x_t)/(a\sigma - b\alpha)$, $\varepsilon = (a\,x_t - \alpha\,\text{pred})/(a\sigma - b\alpha)$,
    then returns $c\,x_0 + d\,\varepsilon$ with (c, d) the coefficients of ``dst``. Where the system is singular
    (σ_t = 0 or α_t = 0, the ends of the process) it raises a ValueError instead of dividing by zero.
    """
    require_kind(src, "src")
    require_kind(dst, "dst")
    if not isinstance(pred, Tensor) or not isinstance(x_t, Tensor):
        raise TypeError("pred and x_t must be torch tensors")
    if pred.shape != x_t.shape:
        raise ValueError(f"pred and x_t must have the same shape; got pred {tuple(pred.shape)} and x_t {tuple(x_t.shape)}")
    if src == dst:
        return pred
    t = as_tensor(t, like=x_t)
    alpha_t, sigma_t = (expand_like(c, x_t) for c in process.coefficients(t)[:2])
    a, b = (expand_like(c, x_t) for c in coefficients(src, t, process))
    c, d = (expand_like(c, x_t) for c in coefficients(dst, t, process))
    det = a * sigma_t - b * alpha_t
    if not bool((det != 0).all() & torch.isfinite(det).all() & torch.isfinite(c).all() & torch.isfinite(d).all()):
        raise ValueError(f"cannot convert {src!r} to {dst!r} at t = {t.min().item():g}…{t.max().item():g} for the "
                         f"{process.name} process: where σ_t = 0 or α_t = 0 (the ends of [t_min, t_max]) x_t does not "
                         "determine both x0 and ε; samplers take an explicit branch there instead")
    x0 = (sigma_t * pred - b * x_t) / det
    eps = (a * x_t - alpha_t * pred) / det
    if dst == "x0":
        return x0
    if dst == "eps":
        return eps
    return c * x0 + d * eps


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

    ``t`` is passed to the network as a tensor of shape (B,), on the input's device and dtype.
    An exact denoiser (e.g. ``GaussianMixture.denoiser``-style callables) wraps the same way with ``kind='x0'``.
    """

    def __init__(self, net: Callable[..., Tensor], kind: str, process: Process):
        require_kind(kind, "kind")
        if not callable(net):
            raise TypeError(f"net must be callable; got {type(net).__name__}")
        if not isinstance(process, Process):
            raise TypeError(f"process must be a diffedu Process (e.g. diffedu.EDM()); got {process!r}")
        self.net, self.kind, self.process = net, kind, process

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        require_kind(kind, "kind")
        if not isinstance(x_t, Tensor) or x_t.ndim < 1:
            raise ValueError("x_t must be a tensor with a batch dimension, shape (B, ...)")
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

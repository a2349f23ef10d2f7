r"""Guidance and conditional sampling (chapter 11): classifier-free guidance, classifier guidance, and posterior
sampling for linear inverse problems.

Every object here is a *predictor*: a callable ``(x_t, t, kind="x0", **cond)`` like ``diffedu.Predictor``, so any
integrator of ``diffedu.integrators`` (and ``diffedu.Denoiser``) samples with it unchanged.

* Classifier-free guidance (Ho & Salimans 2022): $\tilde u = (1-w)\,u(x_t\mid\varnothing) + w\,u(x_t\mid c)$.
  Every conversion between kinds is affine in the prediction, $u' = A_t u + B_t x_t$, so the same combination holds
  in every kind: CFG does not depend on what the network predicts.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .parametrization import _check_kind

__all__ = ["ClassifierFreeGuidance", "MixturePredictor"]


def _check_w(w, name: str = "w") -> float:
    """A finite real number (bools and complex numbers are refused)."""
    if isinstance(w, bool) or not isinstance(w, (int, float)) and not (isinstance(w, Tensor) and w.numel() == 1):
        raise ValueError(f"{name} must be a finite real number; got {w!r}")
    w = float(w)
    if not math.isfinite(w):
        raise ValueError(f"{name} must be a finite real number; got {w!r}")
    return w


def _labels(y, batch: int, device) -> Tensor:
    """Labels as a long tensor of shape (batch,): an int is repeated, a tensor must have one label per sample."""
    if isinstance(y, bool) or y is None:
        raise ValueError(f"y must be an integer label or a tensor of shape ({batch},); got {y!r}")
    if isinstance(y, int):
        return torch.full((batch,), y, dtype=torch.long, device=device)
    if not isinstance(y, Tensor) or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must be an integer label or an integer tensor of shape ({batch},); got {y!r}")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},), one label per sample; got {tuple(y.shape)}")
    return y.to(device=device, dtype=torch.long)


class ClassifierFreeGuidance:
    r"""Classifier-free guidance around a label-conditional predictor (Ho & Salimans 2022).

    $$\tilde u(x_t, t\mid y) = (1-w)\,u(x_t, t\mid\varnothing) + w\,u(x_t, t\mid y)$$

    for a prediction u of any kind ('x0', 'eps', 'score', 'velocity'): the result is the same field whichever kind the
    network predicts (conversions are affine in u with weights summing to one). w = 1 is the conditional model,
    w = 0 the unconditional one, w > 1 pushes away from the unconditional prediction.

    Args:
        predictor: callable ``predictor(x_t, t, kind, *, y, **cond)``, where ``y = null_label`` asks for the
            unconditional prediction (the label that label dropout trained it with).
        w: the guidance scale, a finite real number.
        null_label: the "no label" class (10 for the shipped MNIST models).

    The two predictions come from one call on the concatenated batch $[x_t; x_t]$ with labels $[\varnothing; y]$;
    for w = 0 and w = 1 only the needed half is evaluated.
    """

    def __init__(self, predictor: Callable[..., Tensor], w: float, null_label: int = 10):
        if not callable(predictor):
            raise TypeError(f"predictor must be callable as predictor(x_t, t, kind, y=...); got {type(predictor).__name__}")
        if isinstance(null_label, bool) or not isinstance(null_label, int):
            raise ValueError(f"null_label must be an integer label; got {null_label!r}")
        self.predictor, self.w, self.null_label = predictor, _check_w(w), null_label
        self.process = getattr(predictor, "process", None)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y, **cond) -> Tensor:
        _check_kind(kind, "kind")
        if not isinstance(x_t, Tensor):
            raise TypeError(f"x_t must be a torch tensor; got {type(x_t).__name__}")
        n = x_t.shape[0]
        y = _labels(y, n, x_t.device)
        null = torch.full_like(y, self.null_label)
        if self.w == 1.0:  # the conditional model itself
            return self.predictor(x_t, t, kind, y=y, **cond)
        if self.w == 0.0:  # the unconditional model itself
            return self.predictor(x_t, t, kind, y=null, **cond)
        t2 = torch.cat([t, t]) if isinstance(t, Tensor) and t.ndim == 1 else t  # one time per sample: repeat it
        pred = self.predictor(torch.cat([x_t, x_t]), t2, kind, y=torch.cat([null, y]), **cond)  # (2B, ...)
        u_null, u_cond = pred[:n], pred[n:]
        return (1 - self.w) * u_null + self.w * u_cond  # the guided field

    def __repr__(self) -> str:
        return f"ClassifierFreeGuidance(w={self.w}, null_label={self.null_label})"


# --- the labelled Gaussian mixture: every conditional model in closed form ------------------------------------------
class MixturePredictor:
    r"""The exact label-conditional model of a labelled ``GaussianMixture``: a predictor ``(x_t, t, kind, *, y=None)``.

    For a sample with label y it answers with the exact prediction of $q(x_0\mid y)$ (the components labelled y,
    ``gmm.restrict(y)``); for ``y = null_label`` (or ``y=None``) with the whole mixture $q(x_0)$ — what a network
    trained with label dropout learns in the limit.
    """

    def __init__(self, gmm, process, null_label: int = -1):
        if gmm.labels is None:
            raise ValueError("gmm must have labels (GaussianMixture(..., labels=...))")
        if int(null_label) in set(gmm.labels.tolist()):
            raise ValueError(f"null_label must differ from the mixture's labels {sorted(set(gmm.labels.tolist()))}; "
                             f"got {null_label}")
        self.gmm, self.process, self.null_label = gmm, process, int(null_label)
        self.parts = {int(c): gmm.restrict(int(c)) for c in gmm.labels.unique()}

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y=None) -> Tensor:
        from .parametrization import convert
        from .processes import _as_tensor
        _check_kind(kind, "kind")
        n = x_t.shape[0]
        y = torch.full((n,), self.null_label, dtype=torch.long) if y is None else _labels(y, n, x_t.device)
        t = self.process.check_t(_as_tensor(t, like=x_t))
        t_batch = t.expand(n) if t.ndim == 0 else t
        x0_hat = torch.empty_like(x_t)
        for label in y.unique().tolist():
            rows = y == label
            if label == self.null_label:
                part = self.gmm
            elif label in self.parts:
                part = self.parts[label]
            else:
                raise ValueError(f"y must hold labels in {sorted(self.parts)} or {self.null_label} (no label); got {label}")
            x0_hat[rows] = part.denoiser(x_t[rows], t_batch[rows], self.process)
        return convert(x0_hat, "x0", kind, x_t, t_batch, self.process)

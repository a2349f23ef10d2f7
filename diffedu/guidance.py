r"""Guidance and conditional sampling (chapter 11): classifier-free guidance, classifier guidance, and posterior
sampling for linear inverse problems.

Every object here is a *predictor*: a callable ``(x_t, t, kind="x0", **cond)`` like ``diffedu.Predictor``, so any
integrator of ``diffedu.integrators`` (and ``diffedu.Denoiser``) samples with it unchanged.

* Classifier-free guidance (Ho & Salimans 2022): $\tilde u = (1-w)\,u(x_t\mid\varnothing) + w\,u(x_t\mid c)$ — our w
  is their 1 + w′ (they write $(1+w')\varepsilon_c - w'\varepsilon_\varnothing$).
  Every conversion between kinds is affine in the prediction, $u' = A_t u + B_t x_t$, so the same combination holds
  in every kind: CFG does not depend on what the network predicts.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .checks import require_float_tensor, require_output_shape, require_real
from .denoiser import Denoiser
from .integrators import ddim_step
from .parametrization import convert, require_kind
from .timers import require_grid
from .toys import GaussianMixture

__all__ = ["CondDenoiser", "ClassifierFreeGuidance", "ClassifierGuidance", "Matrix", "Mask", "linear_gaussian_posterior",
           "dps", "Projection", "parse_guidance", "as_labels"]



def parse_guidance(value) -> float:
    """Classifier-free guidance scale w as a finite float ≥ 0, from a number or a command-line string (w = 1: the
    conditional model; w = 0: the unconditional one)."""
    try:
        w = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"guidance must be a finite number ≥ 0; got {value!r}") from None
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"guidance must be a finite number ≥ 0; got {value!r}")
    return w


def as_labels(y, batch: int, device) -> Tensor:
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
    w = 0 the unconditional one, w > 1 pushes away from the unconditional prediction. (Ho & Salimans's w′ is w − 1.)

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
        self.predictor, self.w, self.null_label = predictor, require_real("w", w), null_label
        self.process = getattr(predictor, "process", None)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y=None, **cond) -> Tensor:
        require_kind(kind, "kind")
        if y is None:
            raise TypeError("classifier-free guidance needs labels: sample with y= (an int 0–9 or one label per "
                            "sample), e.g. Denoiser.sample(..., y=3)")
        if not isinstance(x_t, Tensor):
            raise TypeError(f"x_t must be a torch tensor; got {type(x_t).__name__}")
        n = x_t.shape[0]
        y = as_labels(y, n, x_t.device)
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


# --- classifier guidance -------------------------------------------------------------------------------------------


class ClassifierGuidance:
    r"""Classifier guidance (Sohl-Dickstein et al. 2015; Dhariwal & Nichol 2021) around an unconditional predictor:

    $$\tilde s(x_t, t\mid y) = \nabla\log p_t(x_t) + \gamma\,\nabla_{x_t}\log p_t(y\mid x_t).$$

    With γ = 1 and exact ingredients this is the conditional score $\nabla\log p_t(x_t\mid y)$ (Bayes' rule).

    Args:
        predictor: unconditional, ``predictor(x_t, t, kind, **cond)``.
        classifier_grad: ``classifier_grad(x_t, t, y)`` → $\nabla_{x_t}\log p_t(y\mid x_t)$, same shape as x_t.
        process: the forward process (to convert between the score and other kinds).
        scale: γ, a finite real number.
    """

    def __init__(self, predictor: Callable[..., Tensor], classifier_grad: Callable[..., Tensor], process,
                 scale: float = 1.0):
        if not callable(predictor) or not callable(classifier_grad):
            raise TypeError("predictor and classifier_grad must be callable")
        self.predictor, self.classifier_grad, self.process = predictor, classifier_grad, process
        self.scale = require_real("scale", scale)

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y=None, **cond) -> Tensor:
        require_kind(kind, "kind")
        if y is None:
            raise TypeError("classifier guidance needs labels: sample with y= (what classifier_grad(x_t, t, y) takes)")
        score = self.predictor(x_t, t, "score", **cond)
        grad = require_output_shape(self.classifier_grad(x_t, t, y), x_t, "classifier_grad")
        guided = score + self.scale * grad  # the guided score
        return convert(guided, "score", kind, x_t, t, self.process)


# --- linear inverse problems y = A x0 + σ_y z -------------------------------------------------------------------------
class Matrix:
    r"""A measurement operator $x_0 \mapsto A x_0$ for flat samples x0 of shape (D,): A has shape (M, D)."""

    def __init__(self, A):
        A = torch.as_tensor(A)
        if A.ndim != 2 or not A.is_floating_point():
            raise ValueError(f"A must be a real matrix of shape (M, D); got {tuple(A.shape)} of dtype {A.dtype}")
        if not bool(torch.isfinite(A).all()):
            raise ValueError("A must be finite; it holds NaN or ±inf")
        self.A = A

    def check(self, shape) -> None:
        if tuple(shape) != (self.A.shape[1],):
            raise ValueError(f"the measurement operator A has shape {tuple(self.A.shape)}, so samples must have shape "
                             f"({self.A.shape[1]},); got samples of shape {tuple(shape)}")

    def __call__(self, x: Tensor) -> Tensor:
        self.check(x.shape[1:])
        return x @ self.A.to(x).T  # (N, M)

    def pinv(self, y: Tensor) -> Tensor:
        """$A^+ y$ (Moore–Penrose pseudo-inverse)."""
        return y @ torch.linalg.pinv(self.A.to(y)).T  # (N, D)


class Mask:
    r"""Inpainting: $x_0 \mapsto m \odot x_0$ with a 0/1 mask m of one sample's shape (1 = observed pixel).

    The measurement keeps the image's shape (unobserved entries are 0); $A^+ = A$ (a projection)."""

    def __init__(self, mask):
        mask = torch.as_tensor(mask)
        if bool(((mask != 0) & (mask != 1)).any()):
            raise ValueError("mask must hold only 0 (unknown) and 1 (observed)")
        self.mask = mask

    def check(self, shape) -> None:
        if tuple(shape) != tuple(self.mask.shape):
            raise ValueError(f"mask shape {tuple(self.mask.shape)} does not match the image shape {tuple(shape)}")

    def __call__(self, x: Tensor) -> Tensor:
        self.check(x.shape[1:])
        return x * self.mask.to(x)  # (N, *shape)

    def pinv(self, y: Tensor) -> Tensor:
        return y * self.mask.to(y)


def _check_measurement(operator, y: Tensor) -> None:
    if not isinstance(operator, (Matrix, Mask)):
        raise TypeError(f"operator must be a diffedu.guidance.Matrix or Mask; got {type(operator).__name__}")
    want = (operator.A.shape[0],) if isinstance(operator, Matrix) else tuple(operator.mask.shape)
    if not isinstance(y, Tensor) or tuple(y.shape[-len(want):]) != want or y.ndim > len(want) + 1:
        raise ValueError(f"the measurement y must have shape {want} (or (N, *{want})) for this operator; "
                         f"got {tuple(getattr(y, 'shape', ())) or type(y).__name__}")


def _check_sigma_y(sigma_y, allow_zero: bool) -> float:
    sigma_y = require_real("sigma_y", sigma_y)
    if sigma_y < 0 or (sigma_y == 0 and not allow_zero):
        raise ValueError(f"sigma_y must be {'≥' if allow_zero else '>'} 0; got {sigma_y}")
    return sigma_y


def linear_gaussian_posterior(gmm, A, y: Tensor, sigma_y: float):
    r"""The exact posterior $p(x_0\mid y)$ of a mixture prior under $y = A x_0 + \sigma_y z$: again a Gaussian mixture.

    Component k, with $S_k = A\Sigma_kA^\top + \sigma_y^2 I$ and gain $K_k = \Sigma_kA^\top S_k^{-1}$:
    $\mu_k' = \mu_k + K_k(y - A\mu_k)$, $\Sigma_k' = \Sigma_k - K_kA\Sigma_k$ (Gaussian conditioning), and weight
    $\pi_k' \propto \pi_k\,\mathcal N(y;\ A\mu_k,\ S_k)$ (the component's evidence).
    """
    op = A if isinstance(A, Matrix) else Matrix(A)
    op.check((gmm.dim,))
    _check_measurement(op, y)
    if y.ndim != 1:
        raise ValueError(f"y must be one measurement of shape ({op.A.shape[0]},); got {tuple(y.shape)}")
    sigma_y = _check_sigma_y(sigma_y, allow_zero=False)
    A, y = op.A.to(gmm.means), y.to(gmm.means)
    M = A.shape[0]
    S = A @ gmm.covs @ A.T + sigma_y**2 * torch.eye(M, dtype=A.dtype)  # (K, M, M)
    gain = gmm.covs @ A.T @ torch.linalg.inv(S)  # (K, D, M)
    resid = y - gmm.means @ A.T  # (K, M)
    means = gmm.means + torch.einsum("kdm,km->kd", gain, resid)
    covs = gmm.covs - gain @ A @ gmm.covs
    covs = 0.5 * (covs + covs.transpose(-1, -2))
    chol = torch.linalg.cholesky(S)
    log_evidence = (-0.5 * (resid * torch.cholesky_solve(resid[..., None], chol)[..., 0]).sum(-1)
                    - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1) - 0.5 * M * math.log(2 * math.pi))
    log_w = torch.log(gmm.weights) + log_evidence
    weights = torch.softmax(log_w, 0)
    return GaussianMixture(weights, means, covs, gmm.labels, dtype=gmm.means.dtype)


def dps(x: Tensor, ts, predictor: Callable[..., Tensor], process, *, operator, measurement: Tensor, zeta: float = 1.0,
        eta: float = 1.0, generator: torch.Generator | None = None, callback=None, **cond) -> Tensor:
    r"""Diffusion posterior sampling (Chung et al. 2023, Algorithm 1) over a grid ``ts``, for any process.

    Each step is a DDIM(η) step (η = 1: ancestral, as in the paper) from $\hat x_0(x_t)$, followed by the measurement
    correction with the paper's normalised step size $\zeta_t = \zeta/\lVert y - A\hat x_0\rVert$ (per sample):
    $$x_{next} \leftarrow x_{next} - \frac{\zeta}{\lVert y - A\hat x_0(x_t)\rVert}\,
      \nabla_{x_t}\lVert y - A\,\hat x_0(x_t)\rVert^2 .$$
    DPS approximates $p_t(y\mid x_t)$ by $p(y\mid x_0 = \hat x_0(x_t))$; the gradient flows through the denoiser by
    autograd (one backward pass per step). Same signature as ``diffedu.integrators`` (``Denoiser(..., integrator=dps,
    operator=..., measurement=...)`` works).

    Args:
        operator: a ``Matrix`` or a ``Mask``; measurement: y, one measurement or one per sample.
        zeta: ζ > 0, the step size (the authors' code steps by scale·∇‖y − A x̂₀‖, so its scale is 2ζ);
            eta: DDIM's η in [0, 1].
    """
    _check_measurement(operator, measurement)
    zeta = require_real("zeta", zeta)
    if zeta <= 0:
        raise ValueError(f"zeta must be > 0; got {zeta}")
    x = require_float_tensor("x", x, "the start x_T")
    operator.check(x.shape[1:])
    ts = require_grid(ts, process).tolist()
    y = measurement.to(x)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            x0_hat = predictor(x_in, t, "x0", **cond)
            resid2 = ((y - operator(x0_hat)) ** 2).flatten(1).sum(1)  # (N,) ‖y − A x̂0‖²
            (grad,) = torch.autograd.grad(resid2.sum(), x_in)  # ∇_{x_t} ‖y − A x̂0(x_t)‖², per sample
        x0_hat = x0_hat.detach()
        x, _ = ddim_step(x, t, t_next, lambda *a, **k: x0_hat, process, eta=eta, generator=generator)  # prior step
        norm = resid2.detach().sqrt().view(-1, *[1] * (x.ndim - 1))  # ‖y − A x̂0‖, (N, 1, ...)
        fits = norm > 0  # a sample that fits y exactly has a zero gradient: no correction
        x = x - torch.where(fits, zeta * grad / torch.where(fits, norm, 1.0), 0.0)  # measurement correction
        if callback is not None:
            callback(dict(i=i, t=t, t_next=t_next, x=x, x0_hat=x0_hat))
    return x


class Projection:
    r"""Range–null-space projection (DDNM, Wang et al. 2023) as a predictor: the denoiser's estimate is made to agree
    with a noiseless measurement,
    $$\hat x_0 \leftarrow A^+y + (I - A^+A)\,\hat x_0,$$
    and the integrator continues from it (with DDIM at η > 0 the observed part is re-noised each step). For
    inpainting this is "replace the known pixels of $\hat x_0$". It treats y as exact (σ_y = 0).
    """

    def __init__(self, predictor: Callable[..., Tensor], process, operator, y: Tensor):
        _check_measurement(operator, y)
        self.predictor, self.process, self.operator, self.y = predictor, process, operator, y

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        require_kind(kind, "kind")
        self.operator.check(x_t.shape[1:])
        x0_hat = self.predictor(x_t, t, "x0", **cond)
        y = self.y.to(x0_hat)
        x0_hat = self.operator.pinv(y) + x0_hat - self.operator.pinv(self.operator(x0_hat))  # A⁺y + (I − A⁺A) x̂0
        return convert(x0_hat, "x0", kind, x_t, t, self.process)


# --- one object for conditional sampling ------------------------------------------------------------------------------
def CondDenoiser(process, predictor: Callable[..., Tensor], *, w: float | None = None, null_label: int = 10,
                 classifier_grad: Callable[..., Tensor] | None = None, scale: float = 1.0, operator=None,
                 measurement: Tensor | None = None, method: str = "dps", zeta: float = 1.0,
                 integrator: str | Callable = "ddim", timer: str = "karras", **kwargs):
    r"""A ``diffedu.Denoiser`` that samples $p(x_0\mid y)$: the base predictor wrapped by one kind of conditioning.

    * ``w=`` — classifier-free guidance (``ClassifierFreeGuidance``); pass the labels as ``sample(..., y=labels)``.
    * ``classifier_grad=`` — classifier guidance with scale γ = ``scale`` (``ClassifierGuidance``); labels as above.
    * ``operator=``, ``measurement=`` — a linear inverse problem $y = A x_0 + $ noise, solved with ``method='dps'``
      (``dps`` as the integrator, step ``zeta``) or ``method='projection'`` (``Projection`` with ``integrator``).

    Exactly one kind of conditioning must be given. Returns the ``Denoiser`` (``.sample``, ``.grid`` as usual).
    """
    given = [name for name, v in (("w", w), ("classifier_grad", classifier_grad), ("operator", operator))
             if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of w, classifier_grad or operator (with measurement); got {given or 'none'}")
    if w is not None:
        return Denoiser(process, ClassifierFreeGuidance(predictor, w, null_label), integrator, timer, **kwargs)
    if classifier_grad is not None:
        return Denoiser(process, ClassifierGuidance(predictor, classifier_grad, process, scale), integrator, timer,
                        **kwargs)
    if measurement is None:
        raise ValueError("operator needs its measurement: CondDenoiser(..., operator=A, measurement=y)")
    if method == "dps":
        return Denoiser(process, predictor, dps, timer, operator=operator, measurement=measurement, zeta=zeta,
                        **kwargs)
    if method == "projection":
        return Denoiser(process, Projection(predictor, process, operator, measurement), integrator, timer, **kwargs)
    raise ValueError(f"method must be 'dps' or 'projection'; got {method!r}")


# --- what CFG samples on the mixture; MNIST with a guidance scale ----------------------------------------------------



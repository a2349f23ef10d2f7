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

from .parametrization import _check_kind

__all__ = ["CondDenoiser", "ClassifierFreeGuidance", "MixturePredictor", "mixture_classifier", "mixture_classifier_grad",
           "ClassifierGuidance", "Matrix", "Mask", "linear_gaussian_posterior", "dps", "Projection",
           "tilted_samples", "cfg_mixture", "cfg_sample", "within_class_diversity", "guidance_table", "play_guidance", "inpaint",
           "parse_guidance"]


def _check_w(w, name: str = "w") -> float:
    """A finite real number (bools and complex numbers are refused)."""
    if isinstance(w, bool) or not isinstance(w, (int, float)) and not (isinstance(w, Tensor) and w.numel() == 1):
        raise ValueError(f"{name} must be a finite real number; got {w!r}")
    w = float(w)
    if not math.isfinite(w):
        raise ValueError(f"{name} must be a finite real number; got {w!r}")
    return w


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


# --- classifier guidance -------------------------------------------------------------------------------------------
def mixture_classifier(gmm, x_t: Tensor, t, process) -> Tensor:
    r"""The exact noisy classifier of a labelled mixture: $\log p_t(y\mid x_t)$ for every label, shape (N, C).

    $p_t(y\mid x_t) = \sum_{k:\,\ell_k = y} P(k\mid x_t)$ — the responsibilities of the noised mixture grouped by label
    (labels in increasing order: column c is the c-th smallest label).
    """
    if gmm.labels is None:
        raise ValueError("gmm must have labels (GaussianMixture(..., labels=...))")
    log_joint = gmm._components(x_t, t, process)[0]  # (N, K) log π_k N(x_t; α μ_k, α² Σ_k + σ² I)
    log_post = log_joint - torch.logsumexp(log_joint, -1, keepdim=True)  # log P(k | x_t)
    labels = gmm.labels.to(x_t.device)
    return torch.stack([torch.logsumexp(log_post[:, labels == c], -1) for c in labels.unique()], -1)


def mixture_classifier_grad(gmm, x_t: Tensor, t, process, y) -> Tensor:
    r"""Exact $\nabla_{x_t}\log p_t(y\mid x_t) = \nabla\log p_t(x_t\mid y) - \nabla\log p_t(x_t)$ (Bayes' rule), (N, D).

    The first score is that of the components labelled y (``gmm.restrict(y)``), the second that of the whole mixture.
    """
    n = x_t.shape[0]
    y = _labels(y, n, x_t.device)
    grad = -gmm.score(x_t, t, process)
    t = torch.as_tensor(t, dtype=x_t.dtype)
    for label in y.unique().tolist():
        rows = y == label
        t_rows = t[rows] if t.ndim == 1 else t
        grad[rows] += gmm.restrict(label).score(x_t[rows], t_rows, process)
    return grad


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
        self.scale = _check_w(scale, "scale")

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y, **cond) -> Tensor:
        from .parametrization import convert
        _check_kind(kind, "kind")
        score = self.predictor(x_t, t, "score", **cond)
        guided = score + self.scale * self.classifier_grad(x_t, t, y)  # the guided score
        return convert(guided, "score", kind, x_t, t, self.process)


# --- linear inverse problems y = A x0 + σ_y z -------------------------------------------------------------------------
class Matrix:
    r"""A measurement operator $x_0 \mapsto A x_0$ for flat samples x0 of shape (D,): A has shape (M, D)."""

    def __init__(self, A):
        A = torch.as_tensor(A)
        if A.ndim != 2 or not A.is_floating_point():
            raise ValueError(f"A must be a real matrix of shape (M, D); got {tuple(A.shape)} of dtype {A.dtype}")
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
    sigma_y = _check_w(sigma_y, "sigma_y")
    if sigma_y < 0 or (sigma_y == 0 and not allow_zero):
        raise ValueError(f"sigma_y must be {'≥' if allow_zero else '>'} 0; got {sigma_y}")
    return sigma_y


def linear_gaussian_posterior(gmm, A, y: Tensor, sigma_y: float):
    r"""The exact posterior $p(x_0\mid y)$ of a mixture prior under $y = A x_0 + \sigma_y z$: again a Gaussian mixture.

    Component k, with $S_k = A\Sigma_kA^\top + \sigma_y^2 I$ and gain $K_k = \Sigma_kA^\top S_k^{-1}$:
    $\mu_k' = \mu_k + K_k(y - A\mu_k)$, $\Sigma_k' = \Sigma_k - K_kA\Sigma_k$ (Gaussian conditioning), and weight
    $\pi_k' \propto \pi_k\,\mathcal N(y;\ A\mu_k,\ S_k)$ (the component's evidence).
    """
    from .toys import GaussianMixture
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
    from .integrators import _check_x, ddim_step
    from .timers import check_grid
    _check_measurement(operator, measurement)
    zeta = _check_w(zeta, "zeta")
    if zeta <= 0:
        raise ValueError(f"zeta must be > 0; got {zeta}")
    x = _check_x(x)
    operator.check(x.shape[1:])
    ts = check_grid(ts, process).tolist()
    y = measurement.to(x)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            x0_hat = predictor(x_in, t, "x0", **cond)
            resid2 = ((y - operator(x0_hat)) ** 2).flatten(1).sum(1)  # (N,) ‖y − A x̂0‖²
            (grad,) = torch.autograd.grad(resid2.sum(), x_in)  # ∇_{x_t} ‖y − A x̂0(x_t)‖², per sample
        x0_hat = x0_hat.detach()
        x = ddim_step(x, t, t_next, lambda *a, **k: x0_hat, process, eta=eta, generator=generator)  # prior step
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
        from .parametrization import convert
        _check_kind(kind, "kind")
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
    from .denoiser import Denoiser
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
def tilted_samples(gmm, label: int, w: float, n: int, generator: torch.Generator | None = None,
                   half_width: float = 6.0, cells: int = 300) -> Tensor:
    r"""n samples of the tilted density $q(x\mid y)^w q(x)^{1-w}$ (normalised) of a 2-D labelled mixture.

    Not a mixture for w ≠ 0, 1: it is tabulated on a grid of ``cells``² cells over $[-h, h]^2$, a cell is drawn with
    probability ∝ density × area and the point uniformly inside it (error: the cell size, 2h/cells = 0.04 by default).
    """
    if gmm.dim != 2:
        raise ValueError(f"gmm must be 2-D; got dim {gmm.dim}")
    w = _check_w(w)
    edges = torch.linspace(-half_width, half_width, cells + 1, dtype=torch.float64)
    centres = 0.5 * (edges[1:] + edges[:-1])
    grid = torch.cartesian_prod(centres, centres)  # (cells², 2)
    log_density = w * gmm.restrict(label).log_prob(grid) + (1 - w) * gmm.log_prob(grid)
    cell = torch.multinomial(torch.softmax(log_density, 0), n, replacement=True, generator=generator)
    h = edges[1] - edges[0]
    return grid[cell] + h * (torch.rand(n, 2, generator=generator, dtype=torch.float64) - 0.5)


def cfg_mixture(w: float, label: int = 0, n: int = 2000, n_steps: int = 30, process_name: str = "edm",
                seed: int = 0) -> dict:
    r"""Compute function of chapter 11's 2-D panel: CFG samples of a ``gmm_2d`` class with the exact models.

    Returns dict(x (n, 2) CFG samples, exact (n, 2) samples of $q(x_0\mid y)$, tilted (n, 2) samples of
    $q(x_0\mid y)^w q(x_0)^{1-w}$, sw_exact, sw_tilted (SW of the CFG samples to each), floor_exact, floor_tilted
    (SW between two sets of size n of the same law), sw_tilted_exact (tilted vs conditional), mass (the
    fraction of samples nearest, by responsibility, to each component of the class)).
    """
    from .denoiser import Denoiser
    from .metrics import sliced_wasserstein
    from .processes import make_process
    from .toys import gmm_2d
    gmm, process = gmm_2d(), make_process(process_name)
    if int(label) != label or label not in (0, 1, 2):
        raise ValueError(f"label must be 0, 1 or 2 (the classes of gmm_2d); got {label!r}")
    w = _check_w(w)
    g = torch.Generator().manual_seed(seed)
    cfg = ClassifierFreeGuidance(MixturePredictor(gmm, process, null_label=3), w, null_label=3)
    timer = "karras" if process_name in ("edm", "ve") else "log_snr"
    x = Denoiser(process, cfg, "heun", timer).sample(n, n_steps, shape=(2,), generator=g, y=int(label))
    part = gmm.restrict(int(label))
    exact, exact2 = part.sample(n, generator=g), part.sample(n, generator=g)
    tilted, tilted2 = tilted_samples(gmm, int(label), w, n, generator=g), tilted_samples(gmm, int(label), w, n, generator=g)

    def sw(a, b):
        return float(sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(seed)))

    mass = torch.bincount(part.responsibilities(x).argmax(1), minlength=part.n_components).double() / n
    return dict(x=x, exact=exact, tilted=tilted, sw_exact=sw(x, exact), sw_tilted=sw(x, tilted),
                floor_exact=sw(exact2, exact), floor_tilted=sw(tilted2, tilted), sw_tilted_exact=sw(tilted, exact),
                mass=mass.tolist(), exact_mass=part.weights.tolist())


def cfg_sample(model, w: float, y: Tensor, n_steps: int = 8, integrator: str = "euler", timer: str = "karras",
               generator: torch.Generator | None = None) -> Tensor:
    """Class-conditional samples (len(y), 1, 28, 28) of a shipped checkpoint with classifier-free guidance scale w."""
    from .denoiser import Denoiser
    cfg = ClassifierFreeGuidance(model.predictor, w, null_label=10)
    den = Denoiser(model.process, cfg, integrator, timer, shape=(1, 28, 28))
    x_T = den.prior(len(y), (1, 28, 28), generator, dtype=torch.float32)
    with torch.no_grad():
        return den.sample(x_T, n_steps, generator=generator, y=y).float()


def within_class_diversity(features: Tensor, y: Tensor) -> float:
    """Mean Euclidean distance between the features of two different samples of the same class, over all classes."""
    dists = []
    for c in y.unique():
        f = features[y == c]
        if len(f) >= 2:
            d = torch.cdist(f, f)
            dists.append(d[~torch.eye(len(f), dtype=torch.bool)])
    if not dists:
        raise ValueError("need at least two samples of one class")
    return float(torch.cat(dists).mean())


def guidance_table(model, classifier, ws, n_per_class: int = 4, n_steps: int = 8, seed: int = 0) -> list[dict]:
    """For each w: conditional accuracy (the classifier reads the asked-for label) and within-class diversity (mean
    pairwise distance of classifier features) of 10·n_per_class guided samples; the same noise for every w."""
    from .metrics import classifier_features, conditional_accuracy
    y = torch.arange(10).repeat_interleave(n_per_class)
    rows = []
    for w in ws:
        x = cfg_sample(model, w, y, n_steps, generator=torch.Generator().manual_seed(seed))
        rows.append(dict(w=float(w), accuracy=conditional_accuracy(classifier, x, y),
                         diversity=within_class_diversity(classifier_features(classifier, x), y), x=x))
    return rows


def play_guidance(name: str = "mnist-flow", w: float = 2.0, label: int = 3, n: int = 8, n_steps: int = 8,
                  seed: int = 0) -> dict:
    """Compute function of chapter 11's MNIST panel: n samples of one digit at guidance scale w (0 ≤ w ≤ 8).

    Returns dict(x (n, 1, 28, 28), w, label)."""
    from .pretrained import _CACHE, load
    w = _check_w(w)
    if not 0 <= w <= 8:
        raise ValueError(f"w must lie in [0, 8]; got {w}")
    if isinstance(label, bool) or int(label) != label or not 0 <= label <= 9:
        raise ValueError(f"label must be an integer in 0–9; got {label!r}")
    model = _CACHE.get(name) or _CACHE.setdefault(name, load(name))
    y = torch.full((int(n),), int(label), dtype=torch.long)
    x = cfg_sample(model, w, y, n_steps, generator=torch.Generator().manual_seed(seed))
    return dict(x=x, w=w, label=int(label))


def inpaint(model, x0: Tensor, mask: Tensor, method: str = "dps", n_steps: int = 20, zeta: float = 1.0,
            eta: float = 1.0, timer: str = "karras", generator: torch.Generator | None = None) -> Tensor:
    """Fill in the unobserved pixels of images x0 (N, 1, 28, 28) seen through ``mask`` (1, 28, 28) (1 = observed) with a
    shipped checkpoint: ``method`` 'dps' (Chung et al. 2023) or 'projection' (DDNM-style replacement, DDIM(η))."""
    from .denoiser import Denoiser
    op = Mask(mask)
    op.check(x0.shape[1:])
    y = op(x0)  # the measurement: observed pixels, zeros elsewhere
    if method == "dps":
        den = Denoiser(model.process, model.predictor, dps, timer, operator=op, measurement=y, zeta=zeta, eta=eta)
    elif method == "projection":
        den = Denoiser(model.process, Projection(model.predictor, model.process, op, y), "ddim", timer, eta=eta)
    else:
        raise ValueError(f"method must be 'dps' or 'projection'; got {method!r}")
    x_T = den.prior(len(x0), tuple(x0.shape[1:]), generator, dtype=torch.float32)
    return den.sample(x_T, n_steps, generator=generator).float()

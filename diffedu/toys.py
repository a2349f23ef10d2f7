r"""Toy problems: a Gaussian mixture with exact answers at every t, and sample-only 2-D data sets.

Under any process, a mixture $q(x_0) = \sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$ stays a mixture:
$p_t(x) = \sum_k \pi_k\,\mathcal N(x;\ \alpha_t\mu_k,\ \alpha_t^2\Sigma_k + \sigma_t^2 I)$.
So its density, score, denoiser $E[x_0\mid x_t]$, ε-prediction and velocity are known in closed form (chapter 02).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .checks import require_integer, require_positive
from .parametrization import Predictor, convert
from .processes import Process, as_tensor

__all__ = ["GaussianMixture", "gmm_2d", "gmm_1d", "gmm_nd", "sample_2d", "DATASETS_2D"]


class GaussianMixture:
    r"""$\sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$ in D dimensions, with exact quantities at any t of any process.

    Args:
        weights: (K,) non-negative, normalised here.
        means: (K, D).
        covs: (K, D, D) positive definite, or (K,) standard deviations of isotropic components.
        labels: optional (K,) integer class of each component (for conditional sampling).
    """

    def __init__(self, weights, means, covs, labels=None, dtype=torch.float64):
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64 (the exact answers need them); got {dtype}")
        means = torch.as_tensor(means, dtype=dtype)
        if means.ndim != 2 or 0 in means.shape:
            raise ValueError(f"means must have shape (K, D) with K, D ≥ 1; got {tuple(means.shape)}")
        K, D = means.shape
        weights = torch.as_tensor(weights, dtype=dtype)
        if not bool(torch.isfinite(means).all()):
            raise ValueError("means must be finite")
        if weights.shape != (K,) or not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) \
                or weights.sum() <= 0:
            raise ValueError(f"weights must be {K} non-negative numbers with a positive sum; got {weights.tolist()}")
        covs = torch.as_tensor(covs, dtype=dtype)
        if covs.shape == (K,):
            if bool((covs <= 0).any()):
                raise ValueError("isotropic standard deviations (covs of shape (K,)) must be > 0")
            covs = covs[:, None, None] ** 2 * torch.eye(D, dtype=dtype)
        if covs.shape != (K, D, D):
            raise ValueError(f"covs must have shape (K,) or (K, D, D) = ({K}, {D}, {D}); got {tuple(covs.shape)}")
        if not bool(torch.isfinite(covs).all()) or not torch.allclose(covs, covs.transpose(-1, -2), rtol=1e-10,
                                                                        atol=1e-12) \
                or not torch.linalg.cholesky_ex(covs).info.eq(0).all():
            raise ValueError("every covariance in covs must be symmetric positive definite")
        self.weights, self.means, self.covs = weights / weights.sum(), means, covs
        if labels is not None and (torch.as_tensor(labels).is_floating_point() or torch.as_tensor(labels).is_complex()):
            raise TypeError(f"labels must be integers; got {labels!r}")
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        if self.labels is not None and self.labels.shape != (K,):
            raise ValueError(f"labels must have shape ({K},); got {tuple(self.labels.shape)}")

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def to(self, dtype=None, device=None) -> "GaussianMixture":
        """A copy in another dtype (float32 or float64) / on another device."""
        if dtype is not None and dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
        new = object.__new__(GaussianMixture)
        for name in ("weights", "means", "covs"):
            setattr(new, name, getattr(self, name).to(dtype=dtype, device=device))
        new.labels = None if self.labels is None else self.labels.to(device=device)
        return new

    def restrict(self, label: int) -> "GaussianMixture":
        """The mixture of the components whose label is ``label`` (the class-conditional $q(x_0\\mid y)$)."""
        if self.labels is None:
            raise ValueError("this mixture has no labels")
        keep = self.labels == label
        if not bool(keep.any()):
            raise ValueError(f"label must be one of {sorted(set(self.labels.tolist()))}; got {label}")
        return GaussianMixture(self.weights[keep], self.means[keep], self.covs[keep], self.labels[keep],
                               dtype=self.means.dtype).to(device=self.means.device)

    # --- exact quantities at time t ----------------------------------------------------------------
    def _check_x(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch tensor; got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}); got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
        return x

    def _spectrum(self, dtype: torch.dtype, device) -> tuple[Tensor, Tensor | None]:
        r"""$\Sigma_k = Q_k\,\mathrm{diag}(e_k)\,Q_k^\top$, computed once in float64 and cached per dtype/device:
        (e (K, D), Q (K, D, D)), with Q = None when every covariance is diagonal (then e is the diagonal)."""
        cache = self.__dict__.setdefault("_spectrum_cache", {})
        key = (dtype, str(device))
        if key not in cache:
            covs = self.covs.detach().to(device="cpu", dtype=torch.float64)
            diag = torch.diagonal(covs, dim1=-2, dim2=-1)  # (K, D)
            if bool((covs == torch.diag_embed(diag)).all()):
                evals, evecs = diag, None
            else:
                evals, evecs = torch.linalg.eigh(covs)
            cache[key] = (evals.to(dtype=dtype, device=device),
                          None if evecs is None else evecs.to(dtype=dtype, device=device))
        return cache[key]

    def _components(self, x_t: Tensor, t, process: Process | None):
        r"""Per-component quantities of $p_t$, in each component's eigenbasis (no factorisation per call).

        With $C_k = \alpha^2\Sigma_k + \sigma^2 I = Q_k\,\mathrm{diag}(\ell_k)\,Q_k^\top$, $\ell_k = \alpha^2 e_k + \sigma^2$
        and $y_k = Q_k^\top(x - \alpha\mu_k)$, returns log-weights + log-densities (N, K), $z_k = y_k/\ell_k$
        (so that $C_k^{-1}(x - \alpha\mu_k) = Q_k z_k$) (N, K, D), the eigenvalues e (K, D), Q or None, and α.
        """
        x_t = self._check_x(x_t)
        if (t is None) != (process is None):
            raise ValueError("t and process must be given together (both None means the data distribution q(x0))")
        dtype, device = x_t.dtype, x_t.device
        means = self.means.to(dtype=dtype, device=device)
        evals, evecs = self._spectrum(dtype, device)
        if process is None:  # the data density: α = 1, σ = 0
            alpha_t, sigma_t = 1.0, 0.0
        elif type(t) is float:  # one time, as the samplers pass it: the process's memoised float64 (α_t, σ_t)
            alpha_t, sigma_t = process.at(t)[:2]
        else:
            t = as_tensor(t, like=x_t)
            alpha_t, sigma_t = (c.to(dtype=dtype, device=device) for c in process.coefficients(t)[:2])
            if alpha_t.ndim == 1:  # one t per sample
                if alpha_t.shape[0] != x_t.shape[0]:
                    raise ValueError(f"t must be a scalar or have shape ({x_t.shape[0]},); got {tuple(alpha_t.shape)}")
                alpha_t, sigma_t = alpha_t[:, None, None], sigma_t[:, None, None]  # (N, 1, 1)
        ell = alpha_t**2 * evals + sigma_t**2  # (K, D) or (N, K, D): eigenvalues of C_k
        diff = x_t[:, None, :] - (means if process is None else alpha_t * means)  # (N, K, D)
        y = diff if evecs is None else self._rotate(diff, evecs.transpose(-1, -2))  # (N, K, D) = Q_kᵀ(x − αμ_k)
        z = y / ell  # (N, K, D)
        quad = (y * z) @ torch.ones(self.dim, dtype=dtype, device=device)  # (N, K); a sum over D, cheaper than .sum(-1)
        log_const = torch.log(self.weights.to(dtype=dtype, device=device)) - 0.5 * (
            torch.log(ell).sum(-1) + self.dim * math.log(2 * math.pi))  # (K,) or (N, K): log π_k − ½ log|2π C_k|
        log_joint = log_const - 0.5 * quad  # log π_k + log N(x; αμ_k, C_k), (N, K)
        return log_joint, z, evals, evecs, alpha_t

    @staticmethod
    def _rotate(v: Tensor, mats: Tensor) -> Tensor:
        """(M_k v_k) for v of shape (N, K, D) and mats (K, D, D): one batched matrix product over the components."""
        return torch.bmm(v.transpose(0, 1), mats.transpose(-1, -2)).transpose(0, 1)  # (N, K, D)

    def _weighted_sum(self, w: Tensor, z: Tensor, evecs: Tensor | None) -> Tensor:
        r"""$\sum_k w_k\,Q_k z_k$ for weights (N, K) and eigenbasis vectors (N, K, D): shape (N, D)."""
        if evecs is None:
            return torch.bmm(w.unsqueeze(1), z).squeeze(1)  # (N, 1, K) @ (N, K, D): cheaper than a sum over K
        return self._rotate(w[..., None] * z, evecs).sum(1)

    def log_prob(self, x_t: Tensor, t=None, process: Process | None = None) -> Tensor:
        r"""$\log p_t(x_t)$; with no process, the data density $\log q(x_0)$."""
        return torch.logsumexp(self._components(x_t, t, process)[0], dim=-1)

    def log_responsibilities(self, x_t: Tensor, t=None, process: Process | None = None) -> Tensor:
        r"""$\log P(k\mid x_t)$, shape (N, K) (computed in log space: exact where a responsibility underflows)."""
        return torch.log_softmax(self._components(x_t, t, process)[0], dim=-1)

    def responsibilities(self, x_t: Tensor, t=None, process: Process | None = None) -> Tensor:
        r"""Posterior over components $P(k\mid x_t)$, shape (N, K)."""
        return torch.softmax(self._components(x_t, t, process)[0], dim=-1)

    def score(self, x_t: Tensor, t=None, process: Process | None = None) -> Tensor:
        r"""$\nabla_x\log p_t(x) = -\sum_k P(k\mid x)\,(\alpha^2\Sigma_k + \sigma^2 I)^{-1}(x - \alpha\mu_k)$."""
        log_joint, z, _, evecs, _ = self._components(x_t, t, process)
        return -self._weighted_sum(softmax(log_joint), z, evecs)

    def predictor(self, process: Process) -> Predictor:
        r"""The perfect network: a ``Predictor`` whose $\hat x_0$ is the exact denoiser $E[x_0\mid x_t]$ under ``process``."""
        if not isinstance(process, Process):
            raise TypeError(f"process must be a diffedu Process; got {type(process).__name__}")
        return Predictor(lambda x_t, t: self.denoiser(x_t, t, process), "x0", process, float_time=True)

    def denoiser(self, x_t: Tensor, t, process: Process) -> Tensor:
        r"""Exact $E[x_0\mid x_t] = \sum_k P(k\mid x_t)\,(\mu_k + \alpha\Sigma_k(\alpha^2\Sigma_k + \sigma^2 I)^{-1}(x_t - \alpha\mu_k))$.

        In the eigenbasis $\Sigma_k C_k^{-1}(x - \alpha\mu_k) = Q_k (e_k z_k)$: one batched product, no solve."""
        log_joint, z, evals, evecs, a = self._components(x_t, t, process)
        w = softmax(log_joint)  # (N, K)
        a = a[..., 0] if isinstance(a, Tensor) and a.ndim == 3 else a  # α: a float, or (N, 1) for one t per sample
        return w @ self.means.to(x_t) + a * self._weighted_sum(w, evals * z, evecs)

    def eps(self, x_t: Tensor, t, process: Process) -> Tensor:
        r"""Exact $E[\varepsilon\mid x_t] = -\sigma_t\nabla\log p_t(x_t)$."""
        return convert(self.score(x_t, t, process), "score", "eps", x_t, t, process)

    def velocity(self, x_t: Tensor, t, process: Process) -> Tensor:
        r"""Exact probability-flow velocity $\dot\alpha_t E[x_0\mid x_t] + \dot\sigma_t E[\varepsilon\mid x_t]$."""
        return convert(self.denoiser(x_t, t, process), "x0", "velocity", x_t, t, process)

    def marginal(self, t, process: Process) -> "GaussianMixture":
        r"""The mixture $p_t$ itself: weights $\pi_k$, means $\alpha_t\mu_k$, covariances $\alpha_t^2\Sigma_k + \sigma_t^2 I$."""
        alpha_t, sigma_t = (c.item() for c in process.coefficients(as_tensor(float(t), like=self.means))[:2])  # in the mixture's dtype
        eye = torch.eye(self.dim, dtype=self.covs.dtype)
        return GaussianMixture(self.weights, alpha_t * self.means, alpha_t**2 * self.covs + sigma_t**2 * eye,
                               self.labels, dtype=self.means.dtype)

    def sample(self, n: int, t=None, process: Process | None = None, generator: torch.Generator | None = None,
               return_labels: bool = False):
        r"""Exact samples of $q(x_0)$, or of $p_t$ if a time and process are given: $x_t = \alpha_t x_0 + \sigma_t\varepsilon$."""
        n = require_integer("n", n, lo=0)
        if (t is None) != (process is None):
            raise ValueError("t and process must be given together (both None samples the data distribution q(x0))")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator) if n else torch.zeros(0, dtype=torch.long)
        z = torch.randn(n, self.dim, dtype=self.means.dtype, generator=generator)
        x = self.means[k] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(self.covs)[k], z)
        if process is not None:
            eps = torch.randn(n, self.dim, dtype=self.means.dtype, generator=generator)
            x = process.noise(x, t, eps)
        if return_labels:
            return x, (k if self.labels is None else self.labels[k])
        return x


def softmax(a: Tensor) -> Tensor:
    r"""$e^{a_k}/\sum_j e^{a_j}$ over the last axis (shifted by the row's maximum): ``torch.softmax``'s answer, about
    twice as fast on the few components of a mixture."""
    e = (a - a.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


# --- ready-made mixtures ------------------------------------------------------------------------------
def gmm_2d(dtype=torch.float64) -> GaussianMixture:
    """An asymmetric 2-D mixture of 6 components in 3 classes (two per class): unequal weights, one elongated."""
    means = [[-2.0, 1.5], [-1.0, 2.2], [2.0, 1.5], [1.6, -0.2], [0.0, -2.0], [-1.8, -1.2]]
    covs = torch.stack([torch.eye(2) * s**2 for s in (0.35, 0.3, 0.4, 0.25, 0.3, 0.3)]).double()
    covs[4] = torch.tensor([[0.9, 0.0], [0.0, 0.08]], dtype=torch.float64)
    weights = [0.2, 0.1, 0.2, 0.15, 0.25, 0.1]
    return GaussianMixture(weights, means, covs, labels=[0, 0, 1, 1, 2, 2], dtype=dtype)


def gmm_1d(dtype=torch.float64) -> GaussianMixture:
    """A 1-D bimodal mixture with unequal weights and widths (Fokker–Planck chapter)."""
    return GaussianMixture([0.3, 0.7], [[-1.5], [1.0]], [0.3, 0.5], dtype=dtype)


def gmm_nd(dim: int = 16, n_components: int = 8, generator: torch.Generator | None = None,
           dtype=torch.float64) -> GaussianMixture:
    """A random D-dimensional mixture: means of norm about 3, random SPD covariances with eigenvalues in [0.05, 0.5]."""
    if dim < 1 or n_components < 1:
        raise ValueError(f"dim and n_components must be ≥ 1; got dim={dim}, n_components={n_components}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    means = torch.randn(n_components, dim, generator=g, dtype=torch.float64) * 3 / math.sqrt(dim)
    q, _ = torch.linalg.qr(torch.randn(n_components, dim, dim, generator=g, dtype=torch.float64))
    eig = 0.05 + 0.45 * torch.rand(n_components, dim, generator=g, dtype=torch.float64)
    covs = q @ torch.diag_embed(eig) @ q.transpose(-1, -2)
    covs = 0.5 * (covs + covs.transpose(-1, -2))
    weights = 0.5 + torch.rand(n_components, generator=g, dtype=torch.float64)
    return GaussianMixture(weights, means, covs, dtype=dtype)


# --- sample-only 2-D sets -----------------------------------------------------------------------------
def _moons(n, g):
    n1 = n // 2
    a = torch.rand(n, generator=g) * math.pi
    x = torch.where(torch.arange(n) < n1, torch.cos(a), 1 - torch.cos(a))
    y = torch.where(torch.arange(n) < n1, torch.sin(a), 0.5 - torch.sin(a))
    return torch.stack([x - 0.5, y - 0.25], 1) * 1.5


def _swiss_roll(n, g):
    s = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
    return torch.stack([s * torch.cos(s), s * torch.sin(s)], 1) / 5


def _checkerboard(n, g):
    x = 4 * torch.rand(n, generator=g) - 2
    y = torch.rand(n, generator=g) + torch.randint(0, 2, (n,), generator=g) * 2 - 2
    y = y + (torch.floor(x) % 2)
    return torch.stack([x, y], 1)


def _rings(n, g):
    radius = torch.tensor([0.5, 1.25, 2.0])[torch.randint(0, 3, (n,), generator=g)]
    a = 2 * math.pi * torch.rand(n, generator=g)
    return torch.stack([radius * torch.cos(a), radius * torch.sin(a)], 1)


DATASETS_2D = {"moons": _moons, "swiss_roll": _swiss_roll, "checkerboard": _checkerboard, "rings": _rings}


def sample_2d(name: str, n: int, noise: float = 0.05, generator: torch.Generator | None = None,
              dtype=torch.float64) -> Tensor:
    """n samples of a named 2-D set ('moons', 'swiss_roll', 'checkerboard', 'rings') plus Gaussian jitter ``noise``."""
    if name not in DATASETS_2D:
        raise ValueError(f"unknown data set name {name!r}; choose one of {sorted(DATASETS_2D)}")
    n = require_integer("n", n)
    noise = require_positive("noise", noise, allow_zero=True)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch dtype; got {dtype!r}")
    x = DATASETS_2D[name](int(n), generator)
    x = x + noise * torch.randn(x.shape, generator=generator)
    return x.to(dtype)

r"""Distances between sample sets and exact answers (chapters 10, 12).

* ``sliced_wasserstein``: $SW_2(P, Q)^2 = E_{\theta\sim U(S^{d-1})}\,W_2^2(\theta_\#P, \theta_\#Q)$, each 1-D $W_2$ by sorting
  (Rabin et al. 2011; Bonneel et al. 2015).
* ``mmd``: the squared maximum mean discrepancy with a Gaussian kernel, unbiased estimate (Gretton et al. 2012).
* ``entropy`` and ``kl``: the entropy of a distribution and the KL divergence between two, over an enumerated state
  space (chapter 14: the least value of a discrete diffusion's loss, a sampler's distance to the data).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import require_finite, require_integer, require_positive

__all__ = ["sliced_wasserstein", "mmd"]


def _check_pair(x: Tensor, y: Tensor) -> None:
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("x and y must be torch tensors")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have shapes (N, D) and (M, D); got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("x and y need at least 2 samples each")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise TypeError(f"x and y must be floating-point tensors; got {x.dtype} and {y.dtype}")


def sliced_wasserstein(x: Tensor, y: Tensor, n_projections: int = 256, generator: torch.Generator | None = None) -> Tensor:
    r"""Monte Carlo sliced 2-Wasserstein distance $SW_2$ between the empirical laws of x (N, D) and y (M, D).

    With N ≠ M the sorted projections are compared at matching quantiles (linear interpolation of y's quantiles).
    """
    _check_pair(x, y)
    n_projections = require_integer("n_projections", n_projections)
    y = y.to(x)
    theta = torch.randn(x.shape[1], int(n_projections), generator=generator, dtype=torch.float64)
    theta = (theta / theta.norm(dim=0, keepdim=True)).to(x)  # (D, P) unit directions
    px, _ = torch.sort(x @ theta, dim=0)  # (N, P)
    py, _ = torch.sort(y @ theta, dim=0)  # (M, P)
    if py.shape[0] != px.shape[0]:
        q = (torch.arange(px.shape[0], dtype=x.dtype, device=x.device) + 0.5) / px.shape[0] * py.shape[0] - 0.5
        q = q.clamp(0, py.shape[0] - 1)  # quantile positions inside y's order statistics
        lo = q.floor().long()
        hi = (lo + 1).clamp(max=py.shape[0] - 1)
        w = (q - lo)[:, None]
        py = (1 - w) * py[lo] + w * py[hi]  # (N, P)
    return ((px - py) ** 2).mean().sqrt()


def mmd(x: Tensor, y: Tensor, bandwidth: float = 1.0) -> Tensor:
    r"""Unbiased $\mathrm{MMD}^2$ with kernel $k(a, b) = \exp(-\|a-b\|^2 / (2h^2))$ (h = ``bandwidth``)."""
    _check_pair(x, y)
    bandwidth = require_positive("bandwidth", bandwidth)
    y = y.to(x)
    n, m = x.shape[0], y.shape[0]
    k_xx = torch.exp(-torch.cdist(x, x) ** 2 / (2 * bandwidth**2))
    k_yy = torch.exp(-torch.cdist(y, y) ** 2 / (2 * bandwidth**2))
    k_xy = torch.exp(-torch.cdist(x, y) ** 2 / (2 * bandwidth**2))
    return ((k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1)) + (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
            - 2 * k_xy.mean())


# --- 12: MNIST — Fréchet distance in a classifier's feature space, conditional accuracy ---------------------------
__all__ += ["classifier_features", "frechet_distance", "conditional_accuracy"]


@torch.no_grad()
def classifier_features(classifier, x: Tensor, chunk: int = 500) -> Tensor:
    """The classifier's penultimate features (``classifier.features``) of images x (N, 1, 28, 28), float64 (N, F)."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must be an image batch (N, C, H, W); got {getattr(x, 'shape', type(x).__name__)}")
    chunk = require_integer("chunk", chunk)
    require_finite("x", x, "the images")
    return torch.cat([classifier.features(x[i:i + chunk].float()) for i in range(0, len(x), chunk)]).double()


def frechet_distance(feat_x: Tensor, feat_y: Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, FID's formula):

    $\lVert\mu_x-\mu_y\rVert^2 + \mathrm{tr}\,\Sigma_x + \mathrm{tr}\,\Sigma_y - 2\,\mathrm{tr}(\Sigma_x\Sigma_y)^{1/2}$.
    $\Sigma_x\Sigma_y = \Sigma_x^{1/2}(\Sigma_x^{1/2}\Sigma_y)$ has the same eigenvalues as the symmetric PSD matrix
    $M = \Sigma_x^{1/2}\Sigma_y\Sigma_x^{1/2}$ (AB and BA always do, singular or not), so
    $\mathrm{tr}(\Sigma_x\Sigma_y)^{1/2} = \sum_i \sqrt{\lambda_i(M)}$ from a symmetric eigendecomposition (float64; the
    eigenvalues of these PSD matrices that round-off pushes a hair below 0 count as 0). Features that are constant
    in both sets (singular covariances) are fine. With the MNIST classifier's features this is "FD-MNIST".
    """
    _check_pair(feat_x, feat_y)
    require_finite("feat_x", feat_x, "the features")
    require_finite("feat_y", feat_y, "the features")
    x, y = feat_x.double().cpu(), feat_y.double().cpu()
    cov_x, cov_y = torch.cov(x.T), torch.cov(y.T)  # (d, d)
    e_x, u_x = torch.linalg.eigh(cov_x)
    sqrt_x = u_x @ torch.diag(e_x.clamp(min=0).sqrt()) @ u_x.T  # Σ_x^{1/2}
    m = sqrt_x @ cov_y @ sqrt_x
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    mean_term = ((x.mean(0) - y.mean(0)) ** 2).sum()
    return float(mean_term + cov_x.trace() + cov_y.trace() - 2 * tr_covmean)


@torch.no_grad()
def conditional_accuracy(classifier, x: Tensor, y: Tensor, chunk: int = 500) -> float:
    """Fraction of generated images x whose classifier argmax equals the label y they were asked for."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must be an image batch (N, C, H, W); got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(y, Tensor) or y.shape != (x.shape[0],):
        raise ValueError(f"y must be a tensor of shape ({x.shape[0]},); got {getattr(y, 'shape', type(y).__name__)}")
    chunk = require_integer("chunk", chunk)
    require_finite("x", x, "the images")
    pred = torch.cat([classifier(x[i:i + chunk].float()).argmax(1) for i in range(0, len(x), chunk)])
    return float((pred.cpu() == y.cpu()).double().mean())


__all__ += ["entropy", "kl"]


def entropy(p: Tensor) -> float:
    """$H(p) = -\\sum p\\log p$ in nats (0 log 0 = 0)."""
    p = p.double()
    return float(-(p[p > 0] * p[p > 0].log()).sum())


def kl(p: Tensor, q: Tensor) -> float:
    r"""$\mathrm{KL}(p\,\|\,q) = \sum_x p(x)\log\frac{p(x)}{q(x)}$ in nats; inf where q = 0 < p."""
    p, q = p.double(), q.double()
    s = p > 0
    return float((p[s] * (p[s].log() - q[s].log())).sum())

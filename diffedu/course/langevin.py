r"""Score matching at one noise level and Langevin sampling (chapter 06).

* Langevin dynamics (Roberts & Tweedie 1996; Welling & Teh 2011): $x \leftarrow x + \tau\nabla\log p(x) + \sqrt{2\tau}\,z$.
* Annealed Langevin (Song & Ermon 2019, Algorithm 1): Langevin at each $\sigma_i$ of a decreasing ladder with step
  $\tau_i = \tau\,\sigma_i^2/\sigma_L^2$, using the score of $p(x;\sigma_i)$. NCSN writes the step as
  $x + \tfrac{\alpha_i}{2}\nabla\log p + \sqrt{\alpha_i}z$, so its $\alpha_i = 2\tau_i$ and its ε is 2τ.
* The three score-matching objectives at a fixed σ, for a score network $s_\theta(x)$:
  explicit $E\lVert s_\theta(\tilde x) - \nabla\log p_\sigma(\tilde x)\rVert^2$, sliced (Song et al. 2019) and
  denoising $E\lVert s_\theta(x_0 + \sigma\varepsilon) + \varepsilon/\sigma\rVert^2$ (Vincent 2011).
  $L_{ESM}(\theta) - L_{DSM}(\theta) = E\lVert\nabla\log p_\sigma\rVert^2 - d/\sigma^2$, the same for every θ.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from ..checks import require_integer, require_positive
from ..losses import dsm_loss, esm_loss, sliced_score_matching_loss
from ..processes import EDM
from ..toys import GaussianMixture
from .fit import fit

__all__ = ["langevin", "annealed_langevin", "sigma_ladder", "esm_dsm_gap", "ScoreMLP", "train_score",
           "relative_score_error", "two_mode_mixture", "mode_fraction", "play_langevin"]

ScoreFn = Callable[[Tensor], Tensor]


def langevin(x: Tensor, score: ScoreFn, tau: float, n_steps: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Unadjusted Langevin: $n$ steps of $x \leftarrow x + \tau\,s(x) + \sqrt{2\tau}\,z$, $z\sim\mathcal N(0, I)$."""
    tau, n_steps = require_positive("tau", tau), require_integer("n_steps", n_steps, 0)
    for _ in range(n_steps):
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x = torch.add(x, score(x), alpha=tau).add_(z, alpha=math.sqrt(2 * tau))  # Langevin step x + τ s + √(2τ) z
    return x


def sigma_ladder(sigma_max: float, sigma_min: float, n_levels: int) -> Tensor:
    r"""Geometric ladder $\sigma_1 = \sigma_{max} > \dots > \sigma_L = \sigma_{min}$ (Song & Ermon 2019)."""
    sigma_max, sigma_min = require_positive("sigma_max", sigma_max), require_positive("sigma_min", sigma_min)
    n_levels = require_integer("n_levels", n_levels, 1)
    if sigma_min > sigma_max:
        raise ValueError(f"sigma_min must be ≤ sigma_max = {sigma_max}; got {sigma_min}")
    if n_levels == 1:
        return torch.tensor([sigma_min], dtype=torch.float64)
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), n_levels, dtype=torch.float64)


def annealed_langevin(x: Tensor, score: Callable[[Tensor, float], Tensor], sigmas: Tensor, tau: float,
                      steps_per_level: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Annealed Langevin dynamics (NCSN): for each $\sigma_i$, Langevin with the score of $p(x;\sigma_i)$ and step
    $\tau_i = \tau\,\sigma_i^2/\sigma_L^2$. ``score(x, sigma)`` returns $\nabla\log p(x;\sigma)$."""
    tau = require_positive("tau", tau)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64) if not isinstance(sigmas, Tensor) else sigmas
    if sigmas.ndim != 1 or sigmas.numel() == 0 or not bool((torch.isfinite(sigmas) & (sigmas > 0)).all()):
        raise ValueError(f"sigmas must be a non-empty 1-D list of finite noise levels > 0; got {sigmas.tolist()}")
    sigma_last = float(sigmas[-1])
    for sigma in sigmas.tolist():
        tau_i = tau * sigma**2 / sigma_last**2  # step size scaled to the noise level
        x = langevin(x, lambda y: score(y, sigma), tau_i, steps_per_level, generator)
    return x


def esm_dsm_gap(score_net: Callable[[Tensor], Tensor], gmm: GaussianMixture, sigma: float, n: int,
                generator: torch.Generator | None = None) -> dict:
    r"""Monte Carlo estimates of $L_{ESM}$, $L_{DSM}$ and their difference for one score function, from the same
    samples $x_0\sim q$, $\tilde x = x_0 + \sigma\varepsilon$, with the standard error of the difference.

    Vincent (2011): $L_{ESM}(\theta) - L_{DSM}(\theta) = E\lVert\nabla\log p_\sigma\rVert^2 - d/\sigma^2$ for every θ."""
    sigma, n = require_positive("sigma", sigma), require_integer("n", n, 2)
    process = EDM(sigma_max=max(80.0, sigma))
    x0 = gmm.sample(n, generator=generator)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    x_t = x0 + sigma * eps  # (n, d)
    with torch.no_grad():
        s = score_net(x_t).to(x0.dtype)
    true = gmm.score(x_t, sigma, process)
    esm = (s - true).pow(2).sum(1)  # (n,)
    dsm = (s + eps / sigma).pow(2).sum(1)  # (n,)
    diff = esm - dsm
    constant = true.pow(2).sum(1).mean().item() - gmm.dim / sigma**2
    return {"esm": esm.mean().item(), "dsm": dsm.mean().item(), "gap": diff.mean().item(),
            "se": diff.std().item() / math.sqrt(n), "constant": constant}


class ScoreMLP(nn.Module):
    """A small SiLU MLP $s_\\theta: \\mathbb R^d \\to \\mathbb R^d$ for a score at one fixed noise level."""

    def __init__(self, dim: int = 2, hidden: int = 64, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        self.body = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def train_score(loss: str, gmm: GaussianMixture, sigma: float, steps: int, batch: int = 256, lr: float = 3e-3,
                seed: int = 0) -> ScoreMLP:
    r"""Train a ScoreMLP on $p_\sigma$ of the mixture with one objective of ``diffedu.losses``: ``'esm'``
    (:func:`esm_loss`, the exact score as target), ``'ssm'`` (:func:`sliced_score_matching_loss`, one Gaussian
    projection per sample) or ``'dsm'`` (:func:`dsm_loss`, target $-\varepsilon/\sigma$). float32 network, Adam."""
    if loss not in ("esm", "ssm", "dsm"):
        raise ValueError(f"loss must be one of 'esm', 'ssm', 'dsm'; got {loss!r}")
    sigma, steps = require_positive("sigma", sigma), require_integer("steps", steps, 0)
    torch.manual_seed(seed)
    net, process = ScoreMLP(gmm.dim), EDM(sigma_max=max(80.0, sigma))
    s_theta = lambda x, t: net(x.float()).to(x.dtype)  # noqa: E731  one noise level: the score ignores t
    t = torch.full((batch,), sigma, dtype=torch.float64)  # EDM's time is σ

    def batch_loss(g: torch.Generator) -> Tensor:
        x0 = gmm.sample(batch, generator=g)  # (B, d)
        if loss == "dsm":  # denoising: regress on the conditional score −ε/σ
            return dsm_loss(s_theta, x0, process, generator=g, t=t)
        x_t = process.noise(x0, t, torch.randn(x0.shape, generator=g, dtype=x0.dtype))  # (B, d) samples of p_σ
        if loss == "esm":  # explicit: regress on the exact score
            return esm_loss(s_theta, x_t, t, gmm.score(x_t, sigma, process))
        return sliced_score_matching_loss(s_theta, x_t, t, generator=g)  # sliced: Hutchinson's trace estimate

    fit(net, batch_loss, steps, lr, generator=torch.Generator().manual_seed(seed), cosine=False)  # a constant rate
    return net


def relative_score_error(score_net: Callable[[Tensor], Tensor], gmm: GaussianMixture, sigma: float, n: int = 4000,
                         generator: torch.Generator | None = None) -> float:
    r"""$E\lVert s_\theta - \nabla\log p_\sigma\rVert^2 / E\lVert\nabla\log p_\sigma\rVert^2$ over $\tilde x\sim p_\sigma$."""
    process = EDM(sigma_max=max(80.0, sigma))
    x = gmm.sample(n, sigma, process, generator=generator)
    true = gmm.score(x, sigma, process)
    with torch.no_grad():
        s = score_net(x.float()).double()
    return ((s - true).pow(2).sum(1).mean() / true.pow(2).sum(1).mean()).item()


def two_mode_mixture(weight: float = 0.8, distance: float = 6.0, std: float = 0.4) -> GaussianMixture:
    """Two well separated 2-D modes, at (∓distance/2, 0) with weights (weight, 1 − weight): Langevin's hard case."""
    if not 0 < weight < 1:
        raise ValueError(f"weight must lie in (0, 1); got {weight!r}")
    d = distance / 2
    return GaussianMixture([weight, 1 - weight], [[-d, 0.0], [d, 0.0]], torch.eye(2, dtype=torch.float64).expand(2, 2, 2) * std**2)


def mode_fraction(x: Tensor) -> float:
    """Fraction of samples in the left half-plane (the heavier mode of ``two_mode_mixture``)."""
    return (x[:, 0] < 0).double().mean().item()


def play_langevin(tau: float, n_steps: int, n_levels: int, n_samples: int = 1000, seed: int = 0) -> dict:
    r"""Chapter 06 panel: plain Langevin (with the data score) and annealed Langevin (``n_levels`` σ's from 4 to 0.05,
    ``n_steps`` per level) from the same uniform start on the two-mode mixture; mode fractions vs the true 0.8.

    ``tau`` is the step relative to the local variance: plain Langevin steps τ·std² (std = 0.4, one mode's width),
    annealed Langevin steps $\tau_i = \tau\,\sigma_i^2$ at level $\sigma_i$ (NCSN's rule with ε = 2τσ_L²: NCSN moves
    by $\tfrac{\alpha_i}{2}\nabla\log p$, so its $\alpha_i$ is our $2\tau_i$)."""
    tau = require_positive("tau", tau)
    n_steps, n_levels = require_integer("n_steps", n_steps, 1), require_integer("n_levels", n_levels, 1)
    gmm = two_mode_mixture()
    process = EDM()
    g = torch.Generator().manual_seed(seed)
    x_init = (torch.rand(n_samples, 2, generator=g, dtype=torch.float64) - 0.5) * 10  # uniform on [−5, 5]²
    plain = langevin(x_init, gmm.score, tau * 0.4**2, n_steps * n_levels, generator=g)  # same number of score calls
    sigmas = sigma_ladder(4.0, 0.05, n_levels)
    tau_scaled = tau * 0.05**2  # the step at the smallest σ, so that τ_i = τ σ_i²
    annealed = annealed_langevin(x_init, lambda x, s: gmm.score(x, s, process), sigmas, tau_scaled, n_steps, g)
    return {"init": x_init, "plain": plain, "annealed": annealed, "gmm": gmm, "sigmas": sigmas,
            "frac_plain": mode_fraction(plain), "frac_annealed": mode_fraction(annealed), "frac_true": 0.8}

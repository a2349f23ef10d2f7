r"""One score network for every noise level, $s_\theta(x, \sigma)$ (NCSN, Song & Ermon 2019; chapter 06).

Trained with :func:`diffedu.losses.noise_conditional_dsm_loss` on a ladder $\sigma_1 > \dots > \sigma_L$ and a weight
$\lambda(\sigma)$. The network's output is divided by σ, $s_\theta(x, \sigma) = F_\theta(x, \sigma)/\sigma$ (Song & Ermon
2020, "technique 3"), because $\lVert\nabla\log p_\sigma\rVert \approx \sqrt d/\sigma$; with $\lambda = \sigma^2$ every level's
term is then $E\lVert F_\theta + \varepsilon\rVert^2$, of size d, and no level dominates. With $\lambda = 1$ the small-σ
levels ($\propto 1/\sigma^2$) swamp the large ones — which annealed Langevin needs to get the mode weights right.
EDM's $\lambda(\sigma)$ and $c_{out}$ (chapter 09) are the same idea for a denoiser.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..checks import require_integer, require_positive
from ..losses import noise_conditional_dsm_loss
from ..nets import MLP
from ..processes import EDM
from ..toys import GaussianMixture
from .fit import fit

__all__ = ["NoiseConditionalScore", "train_noise_conditional", "level_errors"]


class NoiseConditionalScore(nn.Module):
    r"""$s_\theta(x, \sigma) = F_\theta(x, c_{noise}(\sigma))/\sigma$ with an MLP F and $c_{noise} = \tfrac14\ln\sigma$
    (embedded as 1000·c_noise). Call ``score(x, sigma)`` with a float σ or one σ per sample; float64 in and out."""

    def __init__(self, dim: int = 2, hidden: int = 64, depth: int = 3):
        super().__init__()
        self.F = MLP(dim, hidden=hidden, depth=depth, t_transform=lambda sigma: 250 * sigma.log())

    def forward(self, x: Tensor, sigma) -> Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        sigma = sigma.expand(x.shape[0]) if sigma.ndim == 0 else sigma  # (B,)
        return self.F(x.float(), sigma.float()).to(x.dtype) / sigma[:, None]


def train_noise_conditional(gmm: GaussianMixture, sigmas: Tensor, steps: int,
                            weight: Callable[[Tensor], Tensor] | None = None, batch: int = 256, lr: float = 3e-3,
                            seed: int = 0) -> NoiseConditionalScore:
    r"""Train $s_\theta(x, \sigma)$ on samples of the mixture with the NCSN loss over ``sigmas`` and weight
    $\lambda(\sigma)$ (``None``: $\sigma^2$). Adam with a cosine decay, float32 network."""
    steps, batch = require_integer("steps", steps, 0), require_integer("batch", batch, 1)
    torch.manual_seed(seed)
    net = NoiseConditionalScore(gmm.dim)

    def batch_loss(g: torch.Generator) -> Tensor:
        x0 = gmm.sample(batch, generator=g)  # (B, d)
        return noise_conditional_dsm_loss(net, x0, sigmas, generator=g, weight=weight)

    fit(net, batch_loss, steps, require_positive("lr", lr), generator=torch.Generator().manual_seed(seed))
    return net


def level_errors(score: Callable[[Tensor, float], Tensor], gmm: GaussianMixture, sigmas: Tensor, n: int = 4000,
                 generator: torch.Generator | None = None) -> Tensor:
    r"""Relative error $E\lVert s(\tilde x, \sigma) - \nabla\log p_\sigma(\tilde x)\rVert^2 / E\lVert\nabla\log p_\sigma\rVert^2$,
    $\tilde x \sim p_\sigma$, at each σ of ``sigmas``, against the mixture's exact score."""
    n = require_integer("n", n, 1)
    process = EDM(sigma_max=float(sigmas.max()))
    errors = []
    for sigma in sigmas.tolist():
        x = gmm.sample(n, sigma, process, generator=generator)  # (n, d) samples of p_σ
        exact = gmm.score(x, sigma, process)
        with torch.no_grad():
            err = (score(x, sigma) - exact).pow(2).sum(1).mean() / exact.pow(2).sum(1).mean()
        errors.append(err.item())
    return torch.tensor(errors, dtype=torch.float64)

r"""Training objectives: one denoising regression, many names (chapters 04, 06, 08, 09).

Every diffusion loss regresses a network onto a target $a\,x_0 + b\,\varepsilon$ (see ``parametrization``) at
$x_t = \alpha_t x_0 + \sigma_t\varepsilon$, with some weighting $w(t)$ and some distribution of t:

* ε-loss (DDPM, Ho et al. 2020): kind ``eps``, w = 1, t uniform;
* denoising score matching (Vincent 2011; Song & Ermon 2019): kind ``score``, $w = \sigma_t^2$; across a ladder of
  noise levels with a weight $\lambda(\sigma)$ (NCSN, :func:`noise_conditional_dsm_loss`);
* flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023): kind ``velocity``, w = 1;
* EDM (Karras et al. 2022): kind ``x0``, $\ln\sigma\sim\mathcal N(P_{mean}, P_{std}^2)$,
  $w = (\sigma^2 + \sigma_{data}^2)/(\sigma\,\sigma_{data})^2$.

Explicit and sliced score matching need no noise: they are here too.
A network is any callable ``net(x_t, t, **cond)`` with t of shape (B,).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .checks import require_output_shape, require_positive
from .parametrization import coefficients
from .processes import EDM, Process, expand_like

__all__ = ["sample_t_uniform", "sample_sigma_lognormal", "denoising_loss", "eps_loss", "dsm_loss",
           "noise_conditional_dsm_loss", "flow_matching_loss", "edm_loss", "esm_loss", "sliced_score_matching_loss"]

Net = Callable[..., Tensor]


def sample_t_uniform(process: Process, n: int, generator: torch.Generator | None = None, t_eps: float = 1e-3,
                     dtype=torch.float32, device=None) -> Tensor:
    r"""$t \sim \mathcal U[t_{min} + \epsilon\,(t_{max}-t_{min}),\ t_{max}]$; the small offset avoids $\sigma_t = 0$."""
    if not 0 <= t_eps < 1:
        raise ValueError(f"t_eps must lie in [0, 1); got {t_eps}")
    lo = process.t_min + t_eps * (process.t_max - process.t_min)
    u = torch.rand(n, generator=generator, dtype=dtype)
    return (lo + (process.t_max - lo) * u).to(device)


def sample_sigma_lognormal(n: int, p_mean: float = -1.2, p_std: float = 1.2, generator: torch.Generator | None = None,
                           dtype=torch.float32, device=None, sigma_max: float | None = None) -> Tensor:
    r"""EDM's training noise levels $\ln\sigma \sim \mathcal N(P_{mean}, P_{std}^2)$, optionally capped at ``sigma_max``."""
    require_positive("p_std", p_std)
    if sigma_max is not None:
        require_positive("sigma_max", sigma_max)
    sigma = torch.exp(p_mean + p_std * torch.randn(n, generator=generator, dtype=dtype))
    if sigma_max is not None:
        sigma = sigma.clamp(max=sigma_max)  # EDM's process is only defined up to sigma_max
    return sigma.to(device)


def denoising_loss(net: Net, x0: Tensor, process: Process, kind: str, t: Tensor, eps: Tensor,
                   weight: Tensor | None = None, **cond) -> Tensor:
    r"""$E\,[\,w(t)\,\lVert \text{net}(x_t, t) - (a_t x_0 + b_t\varepsilon)\rVert^2]$, the mean over the batch.

    The squared error is summed over each sample's dimensions and averaged over the batch.
    """
    if not all(isinstance(v, Tensor) for v in (x0, t, eps)):
        raise TypeError("x0, t and eps must be torch tensors")
    if eps.shape != x0.shape:
        raise ValueError(f"eps must have the shape of x0 {tuple(x0.shape)}; got {tuple(eps.shape)}")
    if t.ndim != 1 or t.shape[0] != x0.shape[0]:
        raise ValueError(f"t must have shape ({x0.shape[0]},); got {tuple(t.shape)}")
    if x0.ndim < 1 or x0.shape[0] == 0:
        raise ValueError(f"x0 must hold a batch of at least one sample; got shape {tuple(x0.shape)}")
    x_t = process.noise(x0, t, eps)
    if kind == "score" and bool((process.sigma(t) == 0).any()):
        raise ValueError("the score target −ε/σ_t is infinite where σ_t = 0; sample t above the data end")
    a, b = (expand_like(c, x0) for c in coefficients(kind, t, process))
    target = a * x0 + b * eps
    pred = require_output_shape(net(x_t, t, **cond), x0, "the network")
    err = (pred - target).pow(2).flatten(1).sum(1)  # (B,)
    if weight is not None:
        err = weight.to(err) * err
    return err.mean()


def eps_loss(net: Net, x0: Tensor, process: Process, generator: torch.Generator | None = None, **cond) -> Tensor:
    r"""DDPM's simplified loss $E\lVert\hat\varepsilon_\theta(x_t, t) - \varepsilon\rVert^2$, t uniform (Ho et al. 2020, eq. 14)."""
    t = sample_t_uniform(process, x0.shape[0], generator, dtype=x0.dtype, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    return denoising_loss(net, x0, process, "eps", t, eps, **cond)


def dsm_loss(net: Net, x0: Tensor, process: Process, generator: torch.Generator | None = None,
             t: Tensor | None = None, **cond) -> Tensor:
    r"""Denoising score matching $E\,\sigma_t^2\lVert s_\theta(x_t, t) + \varepsilon/\sigma_t\rVert^2$ (Vincent 2011).

    t uniform (:func:`sample_t_uniform`) unless given, shape (B,): a fixed t is score matching at one noise level.
    """
    if t is None:
        t = sample_t_uniform(process, x0.shape[0], generator, dtype=x0.dtype, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    return denoising_loss(net, x0, process, "score", t, eps, weight=process.sigma(t) ** 2, **cond)


def noise_conditional_dsm_loss(net: Net, x0: Tensor, sigmas: Tensor, generator: torch.Generator | None = None,
                               weight: Callable[[Tensor], Tensor] | None = None, **cond) -> Tensor:
    r"""Score matching across noise levels (Song & Ermon 2019, eq. 5–6; chapter 06):
    $\tfrac1L\sum_i \lambda(\sigma_i)\,E\lVert s_\theta(x_0 + \sigma_i\varepsilon, \sigma_i) + \varepsilon/\sigma_i\rVert^2$.

    Each sample gets a level $\sigma_i$ drawn uniformly from ``sigmas`` (a 1-D tensor of positive noise levels).
    ``weight`` is $\lambda(\sigma)$, NCSN's $\sigma^2$ by default (each level's term is then O(1)); EDM's weighting
    (chapter 09) is $\lambda(\sigma) = \sigma^2(\sigma^2 + \sigma_{data}^2)/\sigma_{data}^2$ in this score form. ``net(x, sigma)``
    receives the levels as its time (EDM's time is σ).
    """
    if not isinstance(sigmas, Tensor) or sigmas.ndim != 1 or sigmas.numel() == 0 or not bool((sigmas > 0).all()):
        raise ValueError("sigmas must be a non-empty 1-D tensor of positive noise levels")
    index = torch.randint(sigmas.numel(), (x0.shape[0],), generator=generator).to(sigmas.device)
    sigma = sigmas[index].to(dtype=x0.dtype, device=x0.device)  # (B,) one level per sample
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    lam = sigma**2 if weight is None else weight(sigma)  # λ(σ)
    process = EDM(sigma_max=float(sigmas.max()))
    return denoising_loss(net, x0, process, "score", sigma, eps, weight=lam, **cond)


def flow_matching_loss(net: Net, x0: Tensor, process: Process, generator: torch.Generator | None = None,
                       **cond) -> Tensor:
    r"""Conditional flow matching $E\lVert u_\theta(x_t, t) - (\dot\alpha_t x_0 + \dot\sigma_t\varepsilon)\rVert^2$."""
    t = sample_t_uniform(process, x0.shape[0], generator, dtype=x0.dtype, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    return denoising_loss(net, x0, process, "velocity", t, eps, **cond)


def edm_loss(net: Net, x0: Tensor, process: EDM, generator: torch.Generator | None = None, p_mean: float = -1.2,
             p_std: float = 1.2, **cond) -> Tensor:
    r"""EDM's loss $E\,\lambda(\sigma)\lVert D_\theta(x_0 + \sigma n; \sigma) - x_0\rVert^2$, $\lambda = (\sigma^2+\sigma_d^2)/(\sigma\sigma_d)^2$."""
    if not isinstance(process, EDM):
        raise TypeError(f"edm_loss needs the EDM process; got {type(process).__name__}")
    sigma = sample_sigma_lognormal(x0.shape[0], p_mean, p_std, generator, dtype=x0.dtype, device=x0.device,
                                   sigma_max=process.sigma_max)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    weight = (sigma**2 + process.sigma_data**2) / (sigma * process.sigma_data) ** 2
    return denoising_loss(net, x0, process, "x0", sigma, eps, weight=weight, **cond)


def esm_loss(score_net: Net, x_t: Tensor, t: Tensor, true_score: Tensor, **cond) -> Tensor:
    r"""Explicit score matching $E\lVert s_\theta(x_t, t) - \nabla\log p_t(x_t)\rVert^2$ against a known score."""
    if true_score.shape != x_t.shape:
        raise ValueError(f"true_score must have the shape of x_t {tuple(x_t.shape)}; got {tuple(true_score.shape)}")
    pred = require_output_shape(score_net(x_t, t, **cond), x_t, "score_net")
    return (pred - true_score).pow(2).flatten(1).sum(1).mean()


def sliced_score_matching_loss(score_net: Net, x: Tensor, t: Tensor, generator: torch.Generator | None = None,
                               n_projections: int = 1, **cond) -> Tensor:
    r"""Sliced score matching (Song et al. 2019): $E_v\,[\,v^\top\nabla_x(v^\top s_\theta(x)) + \tfrac12 (v^\top s_\theta(x))^2]$.

    Equals $\tfrac12 E\lVert s_\theta - \nabla\log p\rVert^2$ up to a constant independent of θ (Hutchinson's trick on
    the trace of the Jacobian in Hyvärinen's implicit score matching), with Gaussian projections v.
    """
    if n_projections < 1:
        raise ValueError(f"n_projections must be ≥ 1; got {n_projections}")
    x = x.detach().requires_grad_(True)
    s = require_output_shape(score_net(x, t, **cond), x, "score_net")  # (B, D...)
    total = x.new_zeros(())
    for _ in range(n_projections):
        v = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        sv = (s * v).flatten(1).sum(1)  # (B,)
        grad_sv = torch.autograd.grad(sv.sum(), x, create_graph=True)[0]
        total = total + ((grad_sv * v).flatten(1).sum(1) + 0.5 * sv**2).mean()
    return total / n_projections

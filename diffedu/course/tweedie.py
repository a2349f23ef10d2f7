r"""Compute functions of chapter 02: Tweedie's formula checked by Monte Carlo, conversion round trips, and the Play
panel's posterior view.

Tweedie (Robbins 1956; Efron 2011): for $x_t = \alpha_t x_0 + \sigma_t\varepsilon$,
$E[x_0\mid x_t] = (x_t + \sigma_t^2\nabla\log p_t(x_t))/\alpha_t$.
"""
from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ..checks import require_integer
from ..parametrization import KINDS, convert
from ..processes import EDM, Process, as_tensor
from ..toys import GaussianMixture, gmm_2d

__all__ = ["posterior_mean_mc", "roundtrip_errors", "tweedie_gap", "play_tweedie"]


def posterior_mean_mc(gmm: GaussianMixture, x_t: Tensor, t: float, process: Process, n: int,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""Monte Carlo $E[x_0\mid x_t]$ by self-normalised importance sampling from the prior, with its standard error.

    Draw $x_0^{(i)} \sim q(x_0)$, weight $w_i \propto \mathcal N(x_t; \alpha_t x_0^{(i)}, \sigma_t^2 I)$, estimate
    $\sum_i w_i x_0^{(i)}/\sum_i w_i$. The delta-method standard error is
    $\sqrt{\sum_i \bar w_i^2 (x_0^{(i)} - \hat\mu)^2}$ with normalised weights $\bar w_i$.
    Uses only samples of $q(x_0)$ and the Gaussian likelihood — not the mixture's posterior formulas.
    x_t: (N, D); returns (estimate, standard error), both (N, D).
    """
    n = require_integer("n", n, lo=2)
    alpha_t, sigma_t = (c.item() for c in process.coefficients(as_tensor(t, like=x_t))[:2])
    if sigma_t <= 0:
        raise ValueError("t must have sigma_t > 0 (the likelihood is a point mass at sigma_t = 0)")
    x0 = gmm.sample(int(n), generator=generator).to(x_t)  # (n, D)
    sq = ((x_t[:, None, :] - alpha_t * x0[None]) ** 2).sum(-1)  # (N, n)
    w = torch.softmax(-0.5 * sq / sigma_t**2, dim=-1)  # (N, n), normalised weights
    est = w @ x0  # (N, D)
    se = ((w[..., None] ** 2) * (x0[None] - est[:, None, :]) ** 2).sum(1).sqrt()  # (N, D)
    return est, se


def roundtrip_errors(x_t: Tensor, t, process: Process, pred: Tensor) -> dict[tuple[str, str], float]:
    r"""Largest |convert(convert(pred, src→dst), dst→src) − pred| for every ordered pair of kinds, relative to |pred|."""
    scale = float(pred.abs().max()) if pred.numel() else 0.0
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"pred must be finite and not all zero (the errors are relative to max |pred|); got max "
                         f"|pred| = {scale:g}")
    out = {}
    for src, dst in itertools.permutations(KINDS, 2):
        back = convert(convert(pred, src, dst, x_t, t, process), dst, src, x_t, t, process)
        out[(src, dst)] = ((back - pred).abs().max() / pred.abs().max()).item()
    return out


def tweedie_gap(gmm: GaussianMixture, x_t: Tensor, t, process: Process) -> float:
    r"""Largest gap between the score and Tweedie applied to the exact denoiser, $(\alpha_t\hat x_0 - x_t)/\sigma_t^2$.

    The score is the autograd gradient of the noised mixture's log-density ``gmm.marginal(t, process).log_prob``, so
    it shares no formula with the posterior mean: a wrong responsibility, mean or covariance in either would show.
    """
    t = as_tensor(t, like=x_t)
    if t.numel() != 1:
        raise ValueError(f"t must be one time (a number or a one-element tensor); got shape {tuple(t.shape)}")
    alpha_t, sigma_t = (c.item() for c in process.coefficients(t.reshape(()))[:2])
    if not sigma_t > 0:
        raise ValueError(f"t must have σ_t > 0 (Tweedie divides by σ_t²); got t = {float(t):g}")
    x = x_t.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        lhs, = torch.autograd.grad(gmm.marginal(t, process).log_prob(x).sum(), x)
    rhs = (alpha_t * gmm.denoiser(x_t, t, process) - x_t) / sigma_t**2
    return (lhs - rhs).abs().max().item()


def play_tweedie(x: float, y: float, sigma: float, grid: int = 80, lim: float = 4.0) -> dict:
    r"""Chapter 02's Play on ``gmm_2d()`` under EDM's process (α = 1, t = σ): the point $x_t = (x, y)$, the posterior
    over components $P(k\mid x_t)$, $\hat x_0 = E[x_0\mid x_t]$, the score, and $\log p_t$ on a grid×grid window.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    process, gmm = EDM(), gmm_2d()
    x_t = torch.tensor([[x, y]], dtype=torch.float64)
    xs = torch.linspace(-lim, lim, grid, dtype=torch.float64)
    xx, yy = torch.meshgrid(xs, xs, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)  # (grid², 2)
    return {"x_t": x_t[0], "sigma": sigma, "resp": gmm.responsibilities(x_t, sigma, process)[0],
            "x0_hat": gmm.denoiser(x_t, sigma, process)[0], "score": gmm.score(x_t, sigma, process)[0],
            "means": gmm.means, "labels": gmm.labels,
            "xs": xs, "log_p": gmm.log_prob(pts, sigma, process).reshape(grid, grid)}

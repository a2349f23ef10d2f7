r"""The diffusion ELBO and the DDPM posterior $q(x_{n-1}\mid x_n, x_0)$ (chapter 04), DDIM inversion (chapter 05).

Discrete DDPM (Ho et al. 2020) on step indices n = 0..T: $q(x_n \mid x_{n-1}) = \mathcal N(\sqrt{1-\beta_n}\,x_{n-1},
\beta_n I)$, $\bar\alpha_n = \prod_{i\le n}(1-\beta_i)$, $q(x_n\mid x_0) = \mathcal N(\sqrt{\bar\alpha_n}x_0,
(1-\bar\alpha_n)I)$. The reverse model is $p_\theta(x_{n-1}\mid x_n) = \mathcal N(\mu_\theta(x_n, n), s_n^2 I)$ with the
mean written through an ε-prediction and $s_n^2 = \tilde\beta_n$ (n ≥ 2) or $\beta_1$ (the decoder, n = 1).

The ELBO (Sohl-Dickstein et al. 2015; Ho et al. 2020, eq. 5) splits into a prior term, transition terms and a
reconstruction term:
$$\log p_\theta(x_0) \ge \underbrace{-\mathrm{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{-L_T}
 - \sum_{n=2}^{T} \underbrace{\mathbb E_q\,\mathrm{KL}(q(x_{n-1}|x_n,x_0)\,\|\,p_\theta(x_{n-1}|x_n))}_{L_{n-1}}
 + \underbrace{\mathbb E_q \log p_\theta(x_0|x_1)}_{-L_0}.$$
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..integrators import ddim, ddim_step, ddpm, ddpm_step
from ..metrics import sliced_wasserstein
from ..checks import require_integer, require_output_shape
from ..nets import MLP
from ..parametrization import ClippedPredictor
from ..processes import DiscreteDDPM, Process
from ..timers import uniform
from ..toys import gmm_2d
from .fit import fit

__all__ = ["require_step", "forward_by_composition", "posterior_coefficients", "posterior", "gaussian_kl",
           "gaussian_log_prob", "reverse_mean", "elbo_terms", "elbo_trajectory", "posterior_regression",
           "train_eps_mlp", "ddim_invert", "ddim_sigma_path", "ClippedX0", "play_schedule", "play_ddim", "steps_sweep",
           "ddim_paths", "ddim_ddpm_gap", "inversion_errors", "ddim_vs_ddpm_images"]

EpsModel = Callable[[Tensor, Tensor], Tensor]  # eps_model(x_n, n) with n of shape (B,) → ε̂ of x_n's shape


def require_step(process: DiscreteDDPM, n: int, lo: int = 1) -> int:
    """Return n as an int, raising ValueError unless it is an integer step in [lo, T]."""
    if not isinstance(process, DiscreteDDPM):
        raise TypeError(f"process must be a DiscreteDDPM; got {type(process).__name__}")
    if isinstance(n, bool) or int(n) != n or not lo <= n <= process.T:
        raise ValueError(f"n must be an integer step in [{lo}, T] = [{lo}, {process.T}]; got {n!r}")
    return int(n)


def forward_by_composition(betas: Tensor) -> tuple[Tensor, Tensor]:
    r"""Compose the one-step kernels $x_n = \sqrt{1-\beta_n}\,x_{n-1} + \sqrt{\beta_n}\,z_n$ from $x_0$.

    Returns the mean factor $m_n$ and variance $v_n$ of $x_n \mid x_0$ for n = 0..T by the recursion
    $m_n = \sqrt{1-\beta_n}\,m_{n-1}$, $v_n = (1-\beta_n)\,v_{n-1} + \beta_n$ (Ho et al. 2020, eq. 4 says
    $m_n = \sqrt{\bar\alpha_n}$, $v_n = 1 - \bar\alpha_n$). Both of shape (T+1,), float64.
    """
    betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
    m, v = [torch.ones((), dtype=torch.float64)], [torch.zeros((), dtype=torch.float64)]
    for beta_n in betas:
        m.append((1 - beta_n).sqrt() * m[-1])  # mean factor of the composed kernel
        v.append((1 - beta_n) * v[-1] + beta_n)  # variance: old variance shrunk, fresh noise added
    return torch.stack(m), torch.stack(v)


def posterior_coefficients(process: DiscreteDDPM, n: int) -> tuple[float, float, float]:
    r"""$q(x_{n-1}\mid x_n, x_0) = \mathcal N(c_0 x_0 + c_n x_n,\ \tilde\beta_n I)$ (Ho et al. 2020, eq. 6–7):

    $c_0 = \frac{\sqrt{\bar\alpha_{n-1}}\,\beta_n}{1-\bar\alpha_n}$, $c_n = \frac{\sqrt{a_n}\,(1-\bar\alpha_{n-1})}
    {1-\bar\alpha_n}$, $\tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\beta_n$, with $a_n = 1-\beta_n$ (Ho's α_n).
    Returns (c_0, c_n, β̃_n) as Python floats (float64).
    """
    n = require_step(process, n)
    beta_n, ab_n, ab_prev = process.betas[n - 1].item(), process.alpha_bar[n].item(), process.alpha_bar[n - 1].item()
    c_0 = math.sqrt(ab_prev) * beta_n / (1 - ab_n)
    c_n = math.sqrt(1 - beta_n) * (1 - ab_prev) / (1 - ab_n)
    beta_tilde = (1 - ab_prev) / (1 - ab_n) * beta_n
    return c_0, c_n, beta_tilde


def posterior(x_n: Tensor, x0: Tensor, n: int, process: DiscreteDDPM) -> tuple[Tensor, float]:
    r"""Mean $\tilde\mu_n(x_n, x_0)$ (shape of x_n) and variance $\tilde\beta_n$ of $q(x_{n-1}\mid x_n, x_0)$."""
    if x_n.shape != x0.shape:
        raise ValueError(f"x_n and x0 must have the same shape; got {tuple(x_n.shape)} and {tuple(x0.shape)}")
    c_0, c_n, beta_tilde = posterior_coefficients(process, n)
    return c_0 * x0 + c_n * x_n, beta_tilde


def gaussian_kl(mu_q: Tensor, var_q: float, mu_p: Tensor, var_p: float) -> Tensor:
    r"""$\mathrm{KL}(\mathcal N(\mu_q, v_q I)\,\|\,\mathcal N(\mu_p, v_p I))$ per sample, summed over dimensions:

    $\tfrac12\sum_d\big[\log\tfrac{v_p}{v_q} + \tfrac{v_q + (\mu_{q,d}-\mu_{p,d})^2}{v_p} - 1\big]$. Shape (B,).
    """
    if not (var_q > 0 and var_p > 0):
        raise ValueError(f"var_q and var_p must be > 0; got {var_q}, {var_p}")
    D = mu_q[0].numel()
    sq = (mu_q - mu_p).pow(2).flatten(1).sum(1)  # (B,)
    return 0.5 * (D * (math.log(var_p / var_q) + var_q / var_p - 1) + sq / var_p)


def gaussian_log_prob(x: Tensor, mu: Tensor | float, var: float) -> Tensor:
    r"""$\log\mathcal N(x; \mu, v I)$ per sample, summed over dimensions. Shape (B,)."""
    if not var > 0:
        raise ValueError(f"var must be > 0; got {var}")
    D = x[0].numel()
    sq = (x - mu).pow(2).flatten(1).sum(1)  # (B,)
    return -0.5 * (D * math.log(2 * math.pi * var) + sq / var)


def reverse_mean(x_n: Tensor, eps_hat: Tensor, n: int, process: DiscreteDDPM) -> Tensor:
    r"""$\mu_\theta(x_n, n) = \frac{1}{\sqrt{\alpha_n}}\big(x_n - \frac{\beta_n}{\sqrt{1-\bar\alpha_n}}\hat\varepsilon\big)$
    (Ho et al. 2020, eq. 11): the posterior mean with $x_0$ replaced by $\hat x_0$ from $\hat\varepsilon$."""
    n = require_step(process, n)
    beta_n, ab_n = process.betas[n - 1].item(), process.alpha_bar[n].item()
    return (x_n - beta_n / math.sqrt(1 - ab_n) * eps_hat) / math.sqrt(1 - beta_n)


def _reverse_var(process: DiscreteDDPM, n: int) -> float:
    """The reverse variance s_n²: β̃_n for n ≥ 2, β_1 for the decoder p(x_0 | x_1) (β̃_1 = 0)."""
    return posterior_coefficients(process, n)[2] if n >= 2 else process.betas[0].item()


def _eps(eps_model: EpsModel, x: Tensor, n: int) -> Tensor:
    out = eps_model(x, torch.full((x.shape[0],), float(n), dtype=x.dtype, device=x.device))
    return require_output_shape(out, x, "eps_model")


@torch.no_grad()
def elbo_terms(eps_model: EpsModel, x0: Tensor, process: DiscreteDDPM,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
    r"""The ELBO term by term, per sample of x0, in nats (each term is a loss: ELBO = −(L_T + Σ L_{n−1} + L_0)).

    * ``prior``: $L_T = \mathrm{KL}(q(x_T|x_0)\,\|\,\mathcal N(0, I))$ (closed form, no model),
    * ``transitions``: (T−1, B) with row n−2 holding $\mathrm{KL}(q(x_{n-1}|x_n,x_0)\,\|\,p_\theta(x_{n-1}|x_n))$ at
      one sample $x_n\sim q(x_n|x_0)$ (closed-form KL, Monte Carlo over $x_n$), n = 2..T,
    * ``reconstruction``: $L_0 = -\log p_\theta(x_0|x_1)$ at one $x_1 \sim q(x_1|x_0)$.
    Also ``total`` (B,) = −(sum of the terms), the ELBO estimate per sample.
    """
    if not isinstance(process, DiscreteDDPM):
        raise TypeError(f"process must be a DiscreteDDPM; got {type(process).__name__}")
    T, B = process.T, x0.shape[0]
    # prior term: q(x_T|x0) = N(sqrt(ab_T) x0, (1 - ab_T) I) against N(0, I)
    ab_T = process.alpha_bar[T].item()
    prior = gaussian_kl(math.sqrt(ab_T) * x0, 1 - ab_T, torch.zeros_like(x0), 1.0)  # (B,)
    transitions = torch.empty(T - 1, B, dtype=x0.dtype, device=x0.device)
    for n in range(2, T + 1):
        # x_n ~ q(x_n | x0)
        ab_n = process.alpha_bar[n].item()
        x_n = math.sqrt(ab_n) * x0 + math.sqrt(1 - ab_n) * torch.randn(x0.shape, generator=generator,
                                                                       dtype=x0.dtype).to(x0.device)
        mu_tilde, beta_tilde = posterior(x_n, x0, n, process)  # the target q(x_{n-1} | x_n, x0)
        mu_theta = reverse_mean(x_n, _eps(eps_model, x_n, n), n, process)  # the model p(x_{n-1} | x_n)
        transitions[n - 2] = gaussian_kl(mu_tilde, beta_tilde, mu_theta, _reverse_var(process, n))
    # reconstruction term: decoder p(x0 | x1) = N(mu_theta(x1, 1), beta_1 I)
    ab_1 = process.alpha_bar[1].item()
    x_1 = math.sqrt(ab_1) * x0 + math.sqrt(1 - ab_1) * torch.randn(x0.shape, generator=generator,
                                                                   dtype=x0.dtype).to(x0.device)
    reconstruction = -gaussian_log_prob(x0, reverse_mean(x_1, _eps(eps_model, x_1, 1), 1, process),
                                        _reverse_var(process, 1))
    total = -(prior + transitions.sum(0) + reconstruction)
    return {"prior": prior, "transitions": transitions, "reconstruction": reconstruction, "total": total}


@torch.no_grad()
def elbo_trajectory(eps_model: EpsModel, x0: Tensor, process: DiscreteDDPM,
                    generator: torch.Generator | None = None) -> Tensor:
    r"""The ELBO estimated independently of :func:`elbo_terms`: no posterior, no KL formula.

    Run the forward chain $x_n = \sqrt{1-\beta_n}\,x_{n-1} + \sqrt{\beta_n}\,z_n$ from x0 and return, per sample,
    $\log p(x_T) + \sum_{n=1}^T \log p_\theta(x_{n-1}\mid x_n) - \sum_{n=1}^T \log q(x_n\mid x_{n-1})
     = \log \frac{p_\theta(x_{0:T})}{q(x_{1:T}\mid x_0)}$, whose mean over $q$ is the ELBO (Ho et al. 2020, eq. 3).
    Shape (B,).
    """
    if not isinstance(process, DiscreteDDPM):
        raise TypeError(f"process must be a DiscreteDDPM; got {type(process).__name__}")
    log_ratio = torch.zeros(x0.shape[0], dtype=x0.dtype, device=x0.device)
    x_prev = x0
    for n in range(1, process.T + 1):
        beta_n = process.betas[n - 1].item()
        # forward step x_{n-1} → x_n and its log density log q(x_n | x_{n-1})
        x_n = math.sqrt(1 - beta_n) * x_prev + math.sqrt(beta_n) * torch.randn(x0.shape, generator=generator,
                                                                              dtype=x0.dtype).to(x0.device)
        log_ratio -= gaussian_log_prob(x_n, math.sqrt(1 - beta_n) * x_prev, beta_n)
        # the model's reverse step density log p_theta(x_{n-1} | x_n)
        mu_theta = reverse_mean(x_n, _eps(eps_model, x_n, n), n, process)
        log_ratio += gaussian_log_prob(x_prev, mu_theta, _reverse_var(process, n))
        x_prev = x_n
    return log_ratio + gaussian_log_prob(x_prev, 0.0, 1.0)  # prior p(x_T) = N(0, I)


@torch.no_grad()
def posterior_regression(x0: Tensor, n: int, process: DiscreteDDPM,
                         generator: torch.Generator | None = None) -> tuple[float, float, float]:
    r"""Estimate $q(x_{n-1}\mid x_n, x_0)$ by Monte Carlo: sample $x_{n-1}\sim q(x_{n-1}|x_0)$, then
    $x_n \sim q(x_n|x_{n-1})$, and regress $x_{n-1}$ on $(x_0, x_n)$ by least squares (all coordinates pooled).

    Returns the fitted (c_0, c_n) and the residual variance, to compare with :func:`posterior_coefficients`.
    x0 has shape (B, D).
    """
    n = require_step(process, n)
    ab_prev, beta_n = process.alpha_bar[n - 1].item(), process.betas[n - 1].item()
    x_prev = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * torch.randn(x0.shape, generator=generator,
                                                                            dtype=x0.dtype)
    x_n = math.sqrt(1 - beta_n) * x_prev + math.sqrt(beta_n) * torch.randn(x0.shape, generator=generator,
                                                                          dtype=x0.dtype)
    A = torch.stack([x0.flatten(), x_n.flatten()], dim=1)  # (B·D, 2) regressors
    y = x_prev.flatten()  # (B·D,)
    coef = torch.linalg.lstsq(A, y[:, None]).solution.flatten()  # (2,)
    resid = y - A @ coef
    return coef[0].item(), coef[1].item(), resid.pow(2).mean().item()


def train_eps_mlp(sample_x0: Callable[[int, torch.Generator], Tensor], process: DiscreteDDPM, steps: int,
                  batch: int = 512, lr: float = 2e-3, hidden: int = 128, depth: int = 3,
                  generator: torch.Generator | None = None, callback=None):
    r"""Train an ε-model with DDPM's simplified loss $\mathbb E_{n,x_0,\varepsilon}\lVert\hat\varepsilon_\theta(
    \sqrt{\bar\alpha_n}x_0 + \sqrt{1-\bar\alpha_n}\varepsilon, n) - \varepsilon\rVert^2$, n uniform on {1..T}
    (Ho et al. 2020, Algorithm 1). Returns (mlp, losses). ``sample_x0(batch, generator)`` draws data.

    The MLP sees n/T ∈ (0, 1] through ``diffedu.nets.MLP``'s default embedding (1000·t).
    """
    steps = require_integer("steps", steps)
    T = process.T
    net = MLP(dim=sample_x0(2, generator).shape[1], hidden=hidden, depth=depth)
    wrapped = _StepNet(net, T)
    sqrt_alpha_bar, sqrt_1m_alpha_bar = process.alpha_bar.sqrt().float(), (1 - process.alpha_bar).sqrt().float()

    def batch_loss(g: torch.Generator | None) -> Tensor:
        x0 = sample_x0(batch, g).float()  # (B, D)
        n = torch.randint(1, T + 1, (batch,), generator=g)  # (B,) integer steps
        eps = torch.randn(x0.shape, generator=g)
        x_n = sqrt_alpha_bar[n, None] * x0 + sqrt_1m_alpha_bar[n, None] * eps  # (B, D)
        return (wrapped(x_n, n.float()) - eps).pow(2).sum(1).mean()

    losses = fit(net, batch_loss, steps, lr, generator=generator, callback=callback)
    return wrapped, losses


class _StepNet(torch.nn.Module):
    """An ε-network called with step indices n ∈ [0, T]: feeds n/T to an MLP embedded for t ∈ [0, 1]."""

    def __init__(self, net: torch.nn.Module, T: int):
        super().__init__()
        self.net, self.T = net, T

    def forward(self, x_n: Tensor, n: Tensor) -> Tensor:
        return self.net(x_n, n / self.T)


@torch.no_grad()
def ddim_invert(x0: Tensor, ts, predictor, process: Process) -> Tensor:
    r"""Deterministic DDIM inversion (Song et al. 2021, §4.3; Dhariwal & Nichol 2021): run the η = 0 update forward,
    $x_s = \alpha_s\hat x_0(x_t, t) + \sigma_s\hat\varepsilon(x_t, t)$ for $t < s$ along an increasing grid ``ts``
    that starts at data (σ = 0). At the first step, where σ_t = 0 makes ε̂ undefined, the prediction is taken at the
    next time with the current point, the usual approximation. Returns the code $x_{t_N}$.
    """
    ts = [float(t) for t in torch.as_tensor(ts, dtype=torch.float64)]
    if len(ts) < 2 or any(b <= a for a, b in zip(ts[:-1], ts[1:])):
        raise ValueError("ts must be an increasing grid of at least two times (data → noise)")
    x = x0
    for t, s in zip(ts[:-1], ts[1:]):
        alpha_s, sigma_s = process.at(s)[:2]
        t_eval = t if process.sigma(t).item() > 0 else s  # ε̂ needs σ_t > 0
        alpha_e, sigma_e = process.at(t_eval)[:2]
        x0_hat = require_output_shape(predictor(x, t_eval, "x0"), x, "the predictor")  # one network evaluation
        eps_hat = (x - alpha_e * x0_hat) / sigma_e  # ε̂ from x̂₀ at the evaluation time
        x = alpha_s * x0_hat + sigma_s * eps_hat  # η = 0 step run forward
    return x


def ddim_sigma_path(x0: Tensor, ts, process: Process, eta: float, generator: torch.Generator | None = None) -> list[Tensor]:
    r"""Run the non-Markovian reverse family $q_\sigma(x_s\mid x_t, x_0)$ (Song et al. 2021, eq. 7) with the TRUE x0:
    start at $x_{t_0}\sim q(x_{t_0}|x_0)$, then $x_s = \alpha_s x_0 + \sqrt{\sigma_s^2 - c^2}\,\frac{x_t-\alpha_t x_0}
    {\sigma_t} + c\,z$ with DDIM's $c(\eta)$. Returns the list of states, one per time of ``ts`` (decreasing, σ > 0);
    each should be distributed as $q(x_s\mid x_0)$ whatever η is.
    """
    ts = [float(t) for t in torch.as_tensor(ts, dtype=torch.float64)]
    alpha_0, sigma_0 = process.at(ts[0])[:2]
    x = alpha_0 * x0 + sigma_0 * torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    oracle = _TrueX0(x0, process)
    path = [x]
    for t, s in zip(ts[:-1], ts[1:]):
        x, _ = ddim_step(x, t, s, oracle, process, eta=eta, generator=generator)
        path.append(x)
    return path


class _TrueX0:
    """A predictor that always answers the true x0 (in kind 'x0')."""

    def __init__(self, x0: Tensor, process: Process):
        self.x0, self.process = x0, process

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        if kind != "x0":
            raise ValueError("the true-x0 oracle answers kind='x0' only")
        return self.x0


class ClippedX0(ClippedPredictor):
    r"""Chapters 04–05's clipped predictor: ``parametrization.ClippedPredictor`` answering kind 'x0' only (DDIM and
    DDPM ask for nothing else), so that a wrapped callable needs no ``.process``."""

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        if kind != "x0":
            raise ValueError(f"ClippedX0 answers kind='x0' only; got {kind!r}")
        return super().__call__(x_t, t, "x0", **cond)


# --- compute functions behind the chapters' panels and sweeps (tested in tests/test_elbo.py) ---------------------
def _mixture_start(process: DiscreteDDPM, n: int, generator: torch.Generator):
    r"""Chapters 04–05's setting: the 2-D mixture, its exact denoiser on ``process``, and ``n`` starts
    $x_T \sim \mathcal N(0, I)$ (float64) drawn from ``generator``; returns (gmm, predictor, x_T)."""
    gmm = gmm_2d()
    return gmm, gmm.predictor(process), torch.randn(n, 2, generator=generator, dtype=torch.float64)


@torch.no_grad()
def play_schedule(T: int, beta_1: float, beta_T: float, n_samples: int = 400, seed: int = 0) -> dict:
    r"""Chapter 04's panel: a linear β schedule (T, β_1, β_T), its $\bar\alpha_n$, and ancestral DDPM samples of the
    2-D mixture drawn with the EXACT denoiser from $x_T \sim \mathcal N(0, I)$ over every step T → 0.

    Returns ``alpha_bar`` (T+1,), ``samples`` (n, 2), ``sw`` (sliced Wasserstein distance to fresh mixture samples).
    """
    process, g = DiscreteDDPM(T, beta_1, beta_T), torch.Generator().manual_seed(seed)
    gmm, predictor, x_T = _mixture_start(process, n_samples, g)
    samples = ddpm(x_T, torch.arange(process.T, -1, -1, dtype=torch.float64), predictor, process, generator=g)
    sw = sliced_wasserstein(samples, gmm.sample(n_samples, generator=g), generator=g).item()
    return {"alpha_bar": process.alpha_bar, "samples": samples, "sw": sw, "process": process}


@torch.no_grad()
def play_ddim(eta: float, n_steps: int, n_samples: int = 500, seed: int = 0, T: int = 1000) -> dict:
    r"""Chapter 05's panel: DDIM(η) with the exact 2-D mixture denoiser on DDPM's process, ``n_steps`` uniform steps
    from T to 0, started from the same $x_T$ for every setting.

    Returns ``samples`` (n, 2), ``x_T`` (n, 2), ``sw`` (sliced Wasserstein distance to fresh mixture samples).
    """
    process, g = DiscreteDDPM(T), torch.Generator().manual_seed(seed)
    gmm, predictor, x_T = _mixture_start(process, n_samples, g)
    reference = gmm.sample(n_samples, generator=g)
    samples = ddim(x_T, uniform(process, n_steps), predictor, process, eta=eta, generator=g)
    sw = sliced_wasserstein(samples, reference, generator=torch.Generator().manual_seed(seed)).item()
    return {"samples": samples, "x_T": x_T, "sw": sw}


@torch.no_grad()
def steps_sweep(steps: list[int], n_samples: int = 1000, seed: int = 0, T: int = 1000, n_ref_steps: int = 1000,
                n_reference: int = 5000, n_floor: int = 8) -> dict:
    r"""Quality against step count with the exact 2-D mixture denoiser: for each N in ``steps``, DDIM (η = 0) and
    ancestral DDPM (DDIM η = 1) from the same $x_T$ over N uniform steps.

    Returns per N: ``sw_ddim``, ``sw_ddpm`` (sliced Wasserstein of the ``n_samples`` samples to ``n_reference`` exact
    mixture samples) and ``ode_err_ddim`` = mean $\lVert x_0^{(N)} - x_0^{(ref)}\rVert$ to DDIM with ``n_ref_steps``
    steps from the same $x_T$ (the error of integrating the probability-flow ODE). The Monte Carlo floor is the same
    distance for ``n_floor`` fresh sets of ``n_samples`` exact samples: ``sw_floor`` (their mean), ``sw_floor_sd``.
    """
    process, g = DiscreteDDPM(T), torch.Generator().manual_seed(seed)
    gmm, predictor, x_T = _mixture_start(process, n_samples, g)
    reference = gmm.sample(n_reference, generator=g)
    sw = lambda x: sliced_wasserstein(x, reference, generator=torch.Generator().manual_seed(seed)).item()  # noqa: E731
    floors = torch.tensor([sw(gmm.sample(n_samples, generator=g)) for _ in range(n_floor)])
    x_ref = ddim(x_T, uniform(process, n_ref_steps), predictor, process, eta=0.0)
    out = {"steps": list(steps), "sw_ddim": [], "sw_ddpm": [], "ode_err_ddim": [], "sw_floor": floors.mean().item(),
           "sw_floor_sd": floors.std().item()}
    for N in steps:
        x_ddim = ddim(x_T, uniform(process, N), predictor, process, eta=0.0)
        x_ddpm = ddim(x_T, uniform(process, N), predictor, process, eta=1.0, generator=g)
        out["sw_ddim"].append(sw(x_ddim))
        out["sw_ddpm"].append(sw(x_ddpm))
        out["ode_err_ddim"].append((x_ddim - x_ref).norm(dim=1).mean().item())
    return out


# --- chapter 05's figures and checks, run here so that the chapter above its lab never calls a DDIM sampler ------
@torch.no_grad()
def ddim_paths(etas, n_steps: int, n_samples: int = 600, seed: int = 0, T: int = 1000) -> dict:
    r"""DDIM(η) with the exact 2-D mixture denoiser on DDPM's process, ``n_steps`` uniform steps from T to 0, from
    one start $x_T$ drawn here and the same fresh noise (``Generator(seed + 1)``) for every η in ``etas``.

    Returns ``x_T`` (n, 2) and ``paths``: η → (n_steps + 1, n, 2), the start and the state after each step."""
    process = DiscreteDDPM(T)
    _, predictor, x_T = _mixture_start(process, n_samples, torch.Generator().manual_seed(seed))
    paths = {}
    for eta in etas:
        path = [x_T]
        ddim(x_T, uniform(process, n_steps), predictor, process, eta=eta,
             generator=torch.Generator().manual_seed(seed + 1), callback=lambda d: path.append(d["x"]))
        paths[eta] = torch.stack(path)  # (n_steps + 1, n, 2)
    return {"x_T": x_T, "paths": paths}


@torch.no_grad()
def ddim_ddpm_gap(t: float, s: float, n: int = 256, seed: int = 7, T: int = 1000) -> float:
    r"""$\max|x_s^{DDIM,\,\eta=1} - x_s^{DDPM}|$ for one step t → s from the same $x_t\sim\mathcal N(0, I)$ with the
    exact mixture denoiser, both drawing their noise from ``Generator(seed)``: 0 up to round-off if η = 1 is DDPM."""
    process = DiscreteDDPM(T)
    _, predictor, x = _mixture_start(process, n, torch.Generator().manual_seed(seed + 1))
    a, _ = ddim_step(x, t, s, predictor, process, eta=1.0, generator=torch.Generator().manual_seed(seed))
    b, _ = ddpm_step(x, t, s, predictor, process, generator=torch.Generator().manual_seed(seed))
    return (a - b).abs().max().item()


@torch.no_grad()
def inversion_errors(steps, n: int = 300, seed: int = 0, T: int = 1000) -> dict[int, float]:
    r"""DDIM inversion's round trip on the 2-D mixture with its exact denoiser: for each N in ``steps``, encode ``n``
    fresh mixture samples with :func:`ddim_invert` on the uniform grid 0 → T, decode with DDIM (η = 0) back to 0.

    Returns N → mean $\lVert x_0^{rec} - x_0
Vert$."""
    process, gmm = DiscreteDDPM(T), gmm_2d()
    predictor = gmm.predictor(process)
    x0 = gmm.sample(n, generator=torch.Generator().manual_seed(seed))
    errors = {}
    for N in steps:
        grid = uniform(process, N)  # T → 0
        code = ddim_invert(x0, grid.flip(0), predictor, process)  # 0 → T
        errors[N] = (ddim(code, grid, predictor, process, eta=0.0) - x0).norm(dim=1).mean().item()
    return errors


@torch.no_grad()
def ddim_vs_ddpm_images(model, steps, n_img: int, seed: int = 0) -> dict[tuple[str, int], Tensor]:
    r"""Images of a trained model (``model.predictor``, ``model.process``, images 1×28×28) from one start $x_T$ drawn
    here: DDIM (η = 0) and DDPM (η = 1) on uniform grids of each N in ``steps``, $\hat x_0$ clipped to [−1, 1]
    (:class:`ClippedX0`), the same fresh noise for every grid. Returns (name, N) → (n_img, 1, 28, 28)."""
    x_T = torch.randn(n_img, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    out = {}
    for N in steps:
        grid = uniform(model.process, N)
        for name, eta in (("DDIM", 0.0), ("DDPM", 1.0)):
            out[name, N] = ddim(x_T, grid, ClippedX0(model.predictor), model.process, eta=eta,
                                generator=torch.Generator().manual_seed(seed + 3))
    return out

r"""Discrete diffusion: the x₀-network, its training loss and the samplers, with the samplers' output distributions
computed exactly (chapter 14).

A sampler step maps each sequence $x_t$ to a product, over positions, of categorical distributions of $x_s^i$; on a
state space of a few hundred sequences the step is a transition matrix and the sampler's output distribution is the
prior times a product of such matrices: no Monte Carlo.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import require_integer
from ..metrics import kl
from .discrete import (DiscreteNoise, MarkovData, all_states, forward_matrix, reverse_rates, state_index,
                       x0_posterior)

__all__ = ["ExactX0", "unmasking_probs",
           "posterior_probs", "euler_probs", "SAMPLERS", "push_forward", "sampler_distribution", "sample", "kl_sweep",
           "play_discrete", "rate_comparison", "discrete_elbo"]


class ExactX0:
    r"""The exact per-position posterior $p(x_0^i\mid x_t)$ from the enumeration: ``(x_t, t) -> (N, L, V)``."""

    def __init__(self, data: MarkovData, noise: DiscreteNoise):
        self.data, self.noise, self.cache = data, noise, {}

    def __call__(self, x_t: Tensor, t: float) -> Tensor:
        key = 0.5 if self.noise.kind == "mask" else round(float(t), 12)  # mask: the posterior does not depend on t
        if key not in self.cache:
            self.cache[key] = x0_posterior(self.data, self.noise, key)
        return self.cache[key][state_index(x_t, self.noise.S)]


def unmasking_probs(x_t: Tensor, x0_probs: Tensor, alpha_t: float, alpha_s: float) -> Tensor:
    r"""One unmasking step $t \to s$ (Sahoo et al. 2024, §3.2; Shi et al. 2024, §3): a masked position stays
    masked with probability $\frac{1-\alpha_s}{1-\alpha_t}$, else becomes v with $\frac{\alpha_s-\alpha_t}{1-\alpha_t}
    \hat p(x_0^i = v\mid x_t)$; an unmasked one stays. (N, L, V + 1)"""
    V = x0_probs.shape[-1]
    out = torch.cat([(alpha_s - alpha_t) / (1 - alpha_t) * x0_probs.double(),
                     torch.full((*x_t.shape, 1), (1 - alpha_s) / (1 - alpha_t), dtype=torch.float64)], -1)
    return torch.where((x_t == V).unsqueeze(-1), out, nn.functional.one_hot(x_t, V + 1).double())


def posterior_probs(x_t: Tensor, x0_probs: Tensor, noise: DiscreteNoise, t: float, s: float) -> Tensor:
    r"""D3PM's ancestral step (Austin et al. 2021, eqs. 3–4, x₀-parametrisation), per position:
    $p(x_s^i = w\mid x_t) = \sum_u \hat p(x_0^i = u\mid x_t)\,q(x_t^i\mid x_s^i = w)\,q_s(w\mid u)/q_t(x_t^i\mid u)$.
    For mask noise this is exactly :func:`unmasking_probs`. (N, L, S)"""
    if noise.kind == "mask":
        return unmasking_probs(x_t, x0_probs, noise.alpha(t), noise.alpha(s))
    K_s, K_t, K_st = noise.kernel(s), noise.kernel(t), noise.kernel_between(s, t)
    weights = x0_probs.double() / K_t[:, x_t].permute(1, 2, 0)  # (N, L, V): p(u | x_t) / q_t(x_t^i | u)
    return torch.einsum("nlu,uw->nlw", weights, K_s) * K_st[:, x_t].permute(1, 2, 0)


def euler_probs(x_t: Tensor, x0_probs: Tensor, noise: DiscreteNoise, t: float, s: float) -> Tensor:
    r"""One Euler (τ-leaping with at most one jump per position) step: $\delta_{x_t^i} + (t - s)\hat R_t(x_t,\cdot)$,
    negative stay-probabilities clipped and the row renormalised (Campbell et al. 2022, §4.1; Lou et al. 2024, §3.3)."""
    rates = reverse_rates(x_t, x0_probs, noise, t)  # (N, L, S)
    probs = (t - s) * rates
    stay = (1 - probs.sum(-1, keepdim=True)).clamp_min(0.0)
    probs = probs.scatter(-1, x_t.unsqueeze(-1), stay)
    return probs / probs.sum(-1, keepdim=True)


SAMPLERS = {"posterior": posterior_probs, "euler": euler_probs}


def push_forward(p: Tensor, probs: Tensor) -> Tensor:
    r"""One factorised step applied to a distribution over all $S^L$ sequences:
    $p'(y) = \sum_x p(x)\prod_i \mathrm{probs}[x, i, y^i]$, as (left half)ᵀ @ (right half) of the positions. (S^L,)"""
    L, h = probs.shape[1], probs.shape[1] // 2

    def outer(cols):  # (S^L, S^len(cols)): prod over the positions cols, first one most significant
        out = probs[:, cols[0]]
        for i in cols[1:]:
            out = (out.unsqueeze(-1) * probs[:, i].unsqueeze(1)).flatten(1)
        return out
    return ((p.unsqueeze(1) * outer(list(range(h)))).T @ outer(list(range(h, L)))).flatten()


def sampler_distribution(x0_model, data: MarkovData, noise: DiscreteNoise, n_steps: int,
                         sampler: str = "posterior", t_max: float = 1.0) -> Tensor:
    r"""The exact distribution of a sampler's output over the $V^L$ clean sequences: the prior at ``t_max`` times the
    transition matrices of ``n_steps`` uniform steps down to t = 0, each from the model's $\hat p(x_0\mid x_t)$."""
    n_steps = require_integer("n_steps", n_steps, 1)
    states = all_states(noise.S, data.L)
    p = noise.prior()[states].prod(1)  # (S^L,)
    ts = torch.linspace(t_max, 0.0, n_steps + 1, dtype=torch.float64).tolist()
    with torch.no_grad():
        for t, s in zip(ts[:-1], ts[1:]):
            probs = SAMPLERS[sampler](states, x0_model(states, t).double(), noise, t, s)
            p = push_forward(p, probs)
    clean = (states < data.V).all(1)
    return p[clean]


def sample(x0_model, noise: DiscreteNoise, n: int, L: int, n_steps: int, sampler: str = "posterior",
           generator: torch.Generator | None = None) -> Tensor:
    """Draw n sequences with the sampler (for pictures; the chapter's numbers come from the exact distribution)."""
    n_steps = require_integer("n_steps", n_steps, 1)
    x = torch.multinomial(noise.prior(), n * L, replacement=True, generator=generator).view(n, L)
    ts = torch.linspace(1.0, 0.0, n_steps + 1, dtype=torch.float64).tolist()
    with torch.no_grad():
        for t, s in zip(ts[:-1], ts[1:]):
            probs = SAMPLERS[sampler](x, x0_model(x, t).double(), noise, t, s)  # (n, L, S)
            x = torch.multinomial(probs.view(-1, noise.S), 1, generator=generator).view(n, L)
    return x


def kl_sweep(models: dict, data: MarkovData, steps=(1, 2, 4, 8, 16, 32, 64), sampler: str = "posterior") -> dict:
    r"""$\mathrm{KL}(p_{\rm data}\,\|\,p_{\rm sampler})$ for each (name → (model, noise)) and step count, exactly."""
    p = data.prob()
    return {name: [kl(p, sampler_distribution(model, data, noise, N, sampler)) for N in steps]
            for name, (model, noise) in models.items()}


def play_discrete(kind: str = "mask", schedule: str = "linear", n_steps: int = 8, sampler: str = "posterior",
                  data: MarkovData | None = None) -> dict:
    """The Play panel's computation: the exact sampler output (exact x₀-posterior) against the data, and the KL."""
    data = data or MarkovData()
    noise = DiscreteNoise(kind, data.V, schedule)
    if sampler == "euler" and kind == "uniform":
        raise ValueError("the Euler sampler with uniform noise needs finite rates at t = 1: use sampler='posterior'")
    q = sampler_distribution(ExactX0(data, noise), data, noise, n_steps, sampler)
    return dict(p_data=data.prob(), p_sampler=q, kl=kl(data.prob(), q), states=all_states(data.V, data.L))


def rate_comparison(x0_model, data: MarkovData, noise: DiscreteNoise, t: float) -> tuple[Tensor, Tensor]:
    r"""(exact, model) reverse rates $\hat R_t(x \to x^{i\leftarrow v})$ over every noisy sequence, position and token
    where the exact rate is > 0: the exact ones from the enumerated posterior, the others from ``x0_model``."""
    states = all_states(noise.S, data.L)
    exact = reverse_rates(states, ExactX0(data, noise)(states, t), noise, t)
    with torch.no_grad():
        model = reverse_rates(states, x0_model(states, t).double(), noise, t)
    keep = exact > 0
    return exact[keep], model[keep]


def discrete_elbo(x0_model, data: MarkovData, noise: DiscreteNoise, n_steps: int) -> Tensor:
    r"""The N-step ELBO of the posterior sampler (Austin et al. 2021, eq. 2; chapter 04's bound), for every clean
    sequence: $-\log p_\theta(x_0) \le \sum_{k}\mathbb E_{q_t(x_t\mid x_0)}\sum_i
    \mathrm{KL}\big(q(x_s^i\mid x_t^i, x_0^i)\,\|\,p_\theta(x_s^i\mid x_t)\big)$ over the uniform grid 1 → 0 (the prior
    term is 0: $q_1 = \pi$), with every expectation enumerated. (V^L,)"""
    n_steps = require_integer("n_steps", n_steps, 1)
    states, x0 = all_states(noise.S, data.L), all_states(data.V, data.L)
    ts = torch.linspace(1.0, 0.0, n_steps + 1, dtype=torch.float64).tolist()
    bound = torch.zeros(len(x0), dtype=torch.float64)
    for t, s in zip(ts[:-1], ts[1:]):
        q_xt = forward_matrix(data, noise, t)  # (V^L, S^L): q_t(x_t | x0)
        with torch.no_grad():
            p_step = posterior_probs(states, x0_model(states, t).double(), noise, t, s)  # (S^L, L, S)
        K_t = noise.kernel(t)[: data.V, :, None]  # (V, S, 1): q_t(a | u)
        q_post = noise.kernel(s)[: data.V, None, :] * noise.kernel_between(s, t).T[None] / K_t  # [u, a, w]
        q_post = torch.where(K_t > 0, q_post, 0.0)
        for i in range(data.L):
            qp = q_post[:, states[:, i]]  # (V, S^L, S): q(x_s^i = w | x_t^i, x0^i = u)
            log_ratio = qp.clamp_min(1e-300).log() - p_step[None, :, i].log()
            kl_i = torch.where(qp > 0, qp * log_ratio, 0.0).sum(-1)  # (V, S^L)
            bound += torch.where(q_xt > 0, q_xt * kl_i[x0[:, i]], 0.0).sum(1)
    return bound

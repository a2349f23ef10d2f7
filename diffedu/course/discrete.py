r"""Discrete diffusion on a state space small enough to enumerate (chapter 14).

Sequences of L positions over V tokens (plus a mask token, index V, for absorbing noise). Each position is noised
independently by a continuous-time Markov chain with rate matrix $\beta(t)\,Q$ (rows sum to zero; Campbell et al.
2022, §3), so that $q_t(x_t^i\mid x_0^i) = [\exp(\bar\sigma(t) Q)]_{x_0^i x_t^i}$ with $\bar\sigma(t) = -\log\alpha_t$:

* uniform: $Q = \tfrac1V\mathbf 1\mathbf 1^\top - I$,
  $\;q_t = \alpha_t I + (1-\alpha_t)\tfrac1V\mathbf 1\mathbf 1^\top$;
* mask (absorbing): $Q_{vm} = 1,\ Q_{vv} = -1$,
  $\;q_t(x_t^i\mid x_0^i) = \alpha_t\,\delta_{x_0^i} + (1-\alpha_t)\,\delta_m$

(Austin et al. 2021, App. A.2). Everything here is exact: marginals, posteriors and reverse rates are sums over all
$V^L$ sequences; the network and its losses live in ``discrete_net``, the samplers in ``discrete_sampling``, the
entropy and the KL divergence of distributions in ``diffedu.metrics``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

import torch
from torch import Tensor

from ..checks import require_in_range, require_integer

__all__ = ["uniform_rate", "absorbing_rate", "check_rate_matrix", "DiscreteNoise", "MarkovData", "all_states",
           "state_index", "marginal", "forward_matrix", "x0_posterior", "ratios", "reverse_rates", "masked_elbo"]

NOISES = ("uniform", "mask")
SCHEDULES = ("linear", "cosine")


def uniform_rate(V: int) -> Tensor:
    r"""$Q = \tfrac1V\mathbf 1\mathbf 1^\top - I$: jump to a uniformly drawn token (Austin et al. 2021, eq. A.2.1)."""
    V = require_integer("V", V, 2)
    return torch.full((V, V), 1.0 / V, dtype=torch.float64) - torch.eye(V, dtype=torch.float64)


def absorbing_rate(V: int) -> Tensor:
    r"""$Q$ on V tokens + mask (index V): every token jumps to the mask at rate 1; the mask never leaves."""
    V = require_integer("V", V, 2)
    Q = torch.zeros(V + 1, V + 1, dtype=torch.float64)
    Q[:V, V], Q[range(V), range(V)] = 1.0, -1.0
    return Q


def check_rate_matrix(Q: Tensor) -> Tensor:
    """A rate matrix: square, off-diagonal entries ≥ 0, every row summing to zero (to 1e-10); else ValueError."""
    if not isinstance(Q, Tensor) or Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be a square matrix; got {getattr(Q, 'shape', type(Q).__name__)}")
    off = Q - torch.diag(torch.diagonal(Q))
    if bool((off < 0).any()):
        raise ValueError("Q must have off-diagonal rates ≥ 0")
    worst = Q.sum(1).abs().max().item()
    if worst > 1e-10:
        raise ValueError(f"the rows of Q must sum to zero; the worst row sums to {worst:.3g}")
    return Q


def in_unit_interval(t):
    """(t, math or torch): a number or a float tensor of times, each in [0, 1]; else ValueError."""
    if isinstance(t, Tensor):
        if not t.is_floating_point() or t.numel() == 0 or not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError("t must hold times in [0, 1]")
        return t.double(), torch
    return require_in_range("t", t, 0.0, 1.0), math


@dataclass(frozen=True)
class DiscreteNoise:
    r"""A forward CTMC $\beta(t)Q$ per position, with keep-probability $\alpha_t$ ('linear': $1 - t$; 'cosine':
    $\cos(\pi t/2)$), $t \in [0, 1]$, $\beta(t) = -\dot\alpha_t/\alpha_t$. At t = 1 the sequence is pure noise."""
    kind: str = "mask"
    V: int = 4
    schedule: str = "linear"

    def __post_init__(self):
        if self.kind not in NOISES or self.schedule not in SCHEDULES:
            raise ValueError(f"kind must be one of {NOISES} and schedule one of {SCHEDULES}; "
                             f"got {self.kind!r}, {self.schedule!r}")
        require_integer("V", self.V, 2)

    @property
    def S(self) -> int:
        """Tokens a noisy position can hold: V (uniform) or V + 1 (mask)."""
        return self.V + (self.kind == "mask")

    @property
    def Q(self) -> Tensor:
        return check_rate_matrix(uniform_rate(self.V) if self.kind == "uniform" else absorbing_rate(self.V))

    def alpha(self, t):
        """α_t for a number or a tensor of times in [0, 1]."""
        t, lib = in_unit_interval(t)
        return 1.0 - t if self.schedule == "linear" else lib.cos(math.pi * t / 2)

    def d_alpha(self, t):
        """dα_t/dt for a number or a tensor of times in [0, 1]."""
        t, lib = in_unit_interval(t)
        return -1.0 + 0 * t if self.schedule == "linear" else -math.pi / 2 * lib.sin(math.pi * t / 2)

    def kernel(self, t: float) -> Tensor:
        r"""$q_t(x_t^i = w \mid x_0^i = u) = [e^{\bar\sigma(t)Q}]_{uw}$ in closed form, an (S, S) matrix."""
        return self.kernel_between(0.0, t)

    def kernel_between(self, s: float, t: float) -> Tensor:
        r"""$q(x_t^i = w\mid x_s^i = u)$ for $s \le t$: the same closed form, keep-probability $\alpha_t/\alpha_s$."""
        a = self.alpha(t) / self.alpha(s)
        eye = torch.eye(self.S, dtype=torch.float64)
        if self.kind == "uniform":
            return a * eye + (1 - a) / self.V
        K = a * eye
        K[:, self.V] += 1 - a
        K[self.V] = eye[self.V]
        return K

    def prior(self) -> Tensor:
        """The distribution of one position at t = 1: uniform over V tokens, or all mass on the mask."""
        p = torch.zeros(self.S, dtype=torch.float64)
        p[: self.V] = 1.0 / self.V if self.kind == "uniform" else 0.0
        p[-1] += 1.0 if self.kind == "mask" else 0.0
        return p


def all_states(S: int, L: int) -> Tensor:
    """Every sequence of L tokens in range(S), lexicographic (the first position most significant): (S^L, L)."""
    grids = torch.meshgrid(*[torch.arange(S)] * L, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def state_index(x: Tensor, S: int) -> Tensor:
    """The index of each sequence in :func:`all_states` order; tokens outside range(S) raise ValueError."""
    if x.dtype not in (torch.int64, torch.int32) or bool(((x < 0) | (x >= S)).any()):
        raise ValueError(f"x must hold integer tokens in 0–{S - 1}")
    weights = S ** torch.arange(x.shape[-1] - 1, -1, -1)
    return (x.long() * weights).sum(-1)


@dataclass(frozen=True)
class MarkovData:
    r"""The data: a Markov chain over L positions, $p(x) = \pi(x^1)\prod_i P(x^{i+1}\mid x^i)$; with V = 4 the next
    token is usually the current one plus 1 (mod V): sequences like 0 1 2 3, 2 3 0 1."""
    V: int = 4
    L: int = 4
    p_step: float = 0.7
    p_stay: float = 0.15

    def transition(self) -> Tensor:
        V = self.V
        P = torch.full((V, V), (1 - self.p_step - self.p_stay) / (V - 2), dtype=torch.float64)
        P[range(V), range(V)] = self.p_stay
        P[range(V), [(v + 1) % V for v in range(V)]] = self.p_step
        return P

    def prob(self) -> Tensor:
        """The exact probability of every sequence, in :func:`all_states` order: (V^L,)."""
        x, P = all_states(self.V, self.L), self.transition()
        p = torch.full((len(x),), 1.0 / self.V, dtype=torch.float64)
        for i in range(self.L - 1):
            p = p * P[x[:, i], x[:, i + 1]]
        return p

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n sequences drawn exactly: (n, L) integer tokens."""
        n = require_integer("n", n, 1)
        idx = torch.multinomial(self.prob(), n, replacement=True, generator=generator)
        return all_states(self.V, self.L)[idx]


def marginal(data: MarkovData, noise: DiscreteNoise, t: float) -> Tensor:
    r"""$p_t(x_t) = \sum_{x_0} p(x_0)\prod_i q_t(x_t^i\mid x_0^i)$ over all $S^L$ noisy sequences: (S^L,)."""
    return data.prob() @ forward_matrix(data, noise, t)


def forward_matrix(data: MarkovData, noise: DiscreteNoise, t: float) -> Tensor:
    r"""$q_t(x_t \mid x_0)$ for all pairs: the L-fold Kronecker product of the per-position kernel, (V^L, S^L)."""
    K = noise.kernel(t)[: noise.V]  # rows: clean tokens only
    return reduce(torch.kron, [K] * data.L)


def x0_posterior(data: MarkovData, noise: DiscreteNoise, t: float) -> Tensor:
    r"""Bayes by enumeration, per position: $p(x_0^i = u\mid x_t)$ for every noisy sequence, (S^L, L, V)."""
    joint = data.prob()[:, None] * forward_matrix(data, noise, t)  # (V^L, S^L): p(x0) q(x_t | x0)
    post = joint / joint.sum(0, keepdim=True)  # p(x0 | x_t)
    x0 = all_states(data.V, data.L)
    onehot = torch.nn.functional.one_hot(x0, data.V).double()  # (V^L, L, V)
    return torch.einsum("as,aiu->siu", post, onehot)


def ratios(data: MarkovData, noise: DiscreteNoise, t: float) -> Tensor:
    r"""The discrete score (Lou et al. 2024, eq. 4): $p_t(x^{i\leftarrow v})/p_t(x)$ for every sequence x, position i
    and token v, by enumeration of $p_t$: (S^L, L, S)."""
    p_t, x = marginal(data, noise, t), all_states(noise.S, data.L)
    out = torch.empty(len(x), data.L, noise.S, dtype=torch.float64)
    for i in range(data.L):
        for v in range(noise.S):
            y = x.clone()
            y[:, i] = v
            out[:, i, v] = p_t[state_index(y, noise.S)] / p_t
    return out


def reverse_rates(x: Tensor, x0_probs: Tensor, noise: DiscreteNoise, t: float) -> Tensor:
    r"""Reverse-time rates $\hat R_t(x \to x^{i\leftarrow v}) = \beta(t)\,Q_{v x^i}\,p_t(x^{i\leftarrow v})/p_t(x)$
    (Campbell et al. 2022, Prop. 1; Lou et al. 2024, eq. 5), with the ratio written through the per-position posterior
    $\hat p(x_0^i\mid x)$ = ``x0_probs`` (N, L, V):

    * mask: $\hat R = \frac{-\dot\alpha_t}{1-\alpha_t}\,\hat p(x_0^i = v\mid x)$ for masked $x^i$ (Ou et al. 2025);
    * uniform: ratio $= \sum_u \hat p(x_0^i = u\mid x)\,q_t(v\mid u)/q_t(x^i\mid u)$.

    Returns (N, L, S), zero on the diagonal (v = x^i)."""
    a, da = noise.alpha(t), noise.d_alpha(t)
    rates = torch.zeros(*x.shape, noise.S, dtype=torch.float64)
    if noise.kind == "mask":
        masked = (x == noise.V).unsqueeze(-1)  # (N, L, 1)
        rates[..., : noise.V] = torch.where(masked, -da / (1 - a) * x0_probs.double(), 0.0)
        return rates
    K = noise.kernel(t)  # (V, V)
    ratio = torch.einsum("nlu,uv->nlv", x0_probs.double() / K[:, x].permute(1, 2, 0), K)  # (N, L, V)
    rates = (-da / a) / noise.V * ratio  # beta(t) Q_{v x^i} = beta / V off the diagonal
    return rates.scatter(-1, x.unsqueeze(-1), 0.0)


def masked_elbo(x0_probs_fn, data: MarkovData, noise: DiscreteNoise) -> Tensor:
    r"""The masked-diffusion bound $-\log p(x_0) \le \int_0^1 \frac{-\dot\alpha_t}{1-\alpha_t}\,
    \mathbb E_{q_t}\sum_{i: x_t^i = m} -\log \hat p(x_0^i\mid x_t)\,dt$ (Sahoo et al. 2024, eq. 10; Shi et al. 2024,
    eq. 5) for every clean sequence, with the time integral done exactly: a model that ignores t sees the mask set M
    with weight $\int_0^1 -\dot\alpha(1-\alpha)^{k-1}\alpha^{L-k}dt = B(k, L-k+1)$, k = |M| (any schedule). (V^L,)"""
    x0, L, m = all_states(data.V, data.L), data.L, noise.V
    bound = torch.zeros(len(x0), dtype=torch.float64)
    for M in all_states(2, L)[1:].bool():  # every non-empty mask set
        k = int(M.sum())
        x_t = torch.where(M, m, x0)
        probs = x0_probs_fn(x_t).double()  # (V^L, L, V)
        nll = -probs.gather(-1, x0.unsqueeze(-1)).squeeze(-1).log()  # (V^L, L)
        bound += math.exp(math.lgamma(k) + math.lgamma(L - k + 1) - math.lgamma(L + 1)) * nll[:, M].sum(1)
    return bound

r"""Discrete diffusion's x₀-network and its training losses (chapter 14): masked diffusion's weighted cross-entropy
on masked positions, and the plain x₀ cross-entropy used for uniform noise."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import require_integer
from .discrete import DiscreteNoise, MarkovData

__all__ = ["X0Net", "masked_loss", "x0_cross_entropy", "noisy", "train_x0_net"]


class X0Net(nn.Module):
    r"""A small MLP for $\hat p_\theta(x_0^i\mid x_t, t)$: one-hot $x_t$ (and t for uniform noise) → L softmaxes over
    V tokens. For mask noise it carries unmasked tokens over unchanged and ignores t (Sahoo et al. 2024, §3.2.3)."""

    def __init__(self, noise: DiscreteNoise, L: int, width: int = 128):
        super().__init__()
        self.noise, self.L = noise, require_integer("L", L, 1)
        d_in = L * noise.S + (noise.kind == "uniform")
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, L * noise.V))

    def forward(self, x_t: Tensor, t: float | Tensor = 0.5) -> Tensor:
        h = nn.functional.one_hot(x_t, self.noise.S).float().flatten(1)  # (N, L·S)
        if self.noise.kind == "uniform":
            h = torch.cat([h, torch.as_tensor(t, dtype=h.dtype).reshape(-1, 1).expand(len(h), 1)], 1)
        probs = self.net(h).view(-1, self.L, self.noise.V).softmax(-1)  # (N, L, V)
        if self.noise.kind == "mask":  # carry-over: an unmasked token is its own x0
            kept = (x_t < self.noise.V).unsqueeze(-1)
            probs = torch.where(kept, nn.functional.one_hot(x_t.clamp(max=self.noise.V - 1), self.noise.V).float(),
                                probs)
        return probs


def masked_loss(probs: Tensor, x0: Tensor, x_t: Tensor, t: Tensor, noise: DiscreteNoise) -> Tensor:
    r"""Masked diffusion's loss per sequence: $\frac{-\dot\alpha_t}{1-\alpha_t}\sum_{i: x_t^i = m} -\log
    \hat p(x_0^i\mid x_t)$ (Sahoo et al. 2024, eq. 10; Shi et al. 2024, eq. 5); its mean is the ELBO's bound."""
    weight = -noise.d_alpha(t) / (1 - noise.alpha(t))  # (N,)
    nll = -probs.gather(-1, x0.unsqueeze(-1)).squeeze(-1).clamp_min(1e-30).log()  # (N, L)
    return weight.to(nll) * (nll * (x_t == noise.V)).sum(1)


def x0_cross_entropy(probs: Tensor, x0: Tensor) -> Tensor:
    r"""$\sum_i -\log\hat p(x_0^i\mid x_t)$ per sequence: minimised by the exact posterior (Austin et al. 2021, eq. 5's
    auxiliary term); we train uniform noise with it."""
    return -probs.gather(-1, x0.unsqueeze(-1)).squeeze(-1).clamp_min(1e-30).log().sum(1)


def noisy(x0: Tensor, t: Tensor, noise: DiscreteNoise, generator: torch.Generator | None = None) -> Tensor:
    """Draw $x_t \\sim q_t(\\cdot\\mid x_0)$ per position: keep with probability α_t, else mask / a uniform token."""
    alpha = noise.alpha(t).unsqueeze(1)  # (N, 1)
    keep = torch.rand(x0.shape, generator=generator, dtype=torch.float64) < alpha
    other = (torch.full_like(x0, noise.V) if noise.kind == "mask"
             else torch.randint(0, noise.V, x0.shape, generator=generator))
    return torch.where(keep, x0, other)


def train_x0_net(data: MarkovData, noise: DiscreteNoise, steps: int, batch: int = 256, lr: float = 3e-3,
                 generator: torch.Generator | None = None) -> X0Net:
    """Adam on the masked loss (mask) or the x₀ cross-entropy (uniform), fresh data and t ~ U(0, 1) each step."""
    steps = require_integer("steps", steps, 1)
    net = X0Net(noise, data.L)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        x0 = data.sample(batch, generator=generator)
        t = torch.rand(batch, generator=generator, dtype=torch.float64).clamp(1e-3, 1.0)
        x_t = noisy(x0, t, noise, generator)
        probs = net(x_t, t.float().unsqueeze(1)) if noise.kind == "uniform" else net(x_t)
        loss = (masked_loss(probs, x0, x_t, t, noise) if noise.kind == "mask" else x0_cross_entropy(probs, x0)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def noised_examples(data: MarkovData, noise: DiscreteNoise, ts, n: int = 8,
                    generator: torch.Generator | None = None) -> Tensor:
    """n data sequences and their noisy versions at each time of ``ts`` (independent draws): (len(ts), n, L)."""
    x0 = data.sample(n, generator=generator)
    return torch.stack([noisy(x0, torch.full((n,), float(t), dtype=torch.float64), noise, generator) for t in ts])

"""Networks: time/σ embeddings and a small MLP for 2-D toys (the MNIST U-Net lives here too).

Every network has the signature ``net(x_t, t, **cond)`` with t of shape (B,), and returns a tensor shaped like x_t.
What the output means (ε, x̂₀, score, velocity) is the job of ``parametrization.Predictor``, not of the network.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["time_embedding", "MLP"]


def time_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    r"""Sinusoidal embedding of a scalar per sample (Vaswani et al. 2017; Ho et al. 2020): (B,) → (B, dim)."""
    if dim % 2:
        raise ValueError(f"dim must be even; got {dim}")
    if t.ndim != 1:
        raise ValueError(f"t must have shape (B,); got {tuple(t.shape)}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=t.dtype, device=t.device) / half)  # (half,)
    args = t[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class MLP(nn.Module):
    """A residual SiLU MLP for low-dimensional data: [x, embed(c(t))] → prediction of x's shape.

    ``t_transform`` maps the process time to the value that is embedded (default: 1000·t for t in [0, 1]; use e.g.
    ``lambda t: 250 * t.log()`` for EDM's σ, as in c_noise = ln(σ)/4).
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, t_dim: int = 32, t_transform=None):
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError(f"dim, hidden and depth must be ≥ 1; got {dim}, {hidden}, {depth}")
        self.dim, self.t_dim = dim, t_dim
        self.t_transform = t_transform if t_transform is not None else (lambda t: 1000 * t)
        self.inp = nn.Linear(dim + t_dim, hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden)) for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        if x_t.ndim != 2 or x_t.shape[1] != self.dim:
            raise ValueError(f"x_t must have shape (B, {self.dim}); got {tuple(x_t.shape)}")
        if t.shape != (x_t.shape[0],):
            raise ValueError(f"t must have shape ({x_t.shape[0]},), one time per sample; got {tuple(t.shape)}")
        emb = time_embedding(self.t_transform(t.to(x_t.dtype)), self.t_dim)  # (B, t_dim)
        h = self.inp(torch.cat([x_t, emb], dim=1))  # (B, hidden)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)

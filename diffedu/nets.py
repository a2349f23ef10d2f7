"""Networks: time/σ embeddings and a small MLP for 2-D toys (the MNIST U-Net lives here too).

Every network has the signature ``net(x_t, t, **cond)`` with t of shape (B,), and returns a tensor shaped like x_t.
What the output means (ε, x̂₀, score, velocity) is the job of ``parametrization.Predictor``, not of the network.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .checks import require_integer

__all__ = ["time_embedding", "MLP", "NULL_CLASS", "require_labels", "UNet", "edm_preconditioning", "EDMPrecond"]


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


# --- MNIST: class-conditional U-Net and EDM preconditioning (chapter 12) -----------------------------------------
NULL_CLASS = 10  # label index meaning "no label" (classifier-free guidance drops labels to this class)


def require_labels(y: Tensor | None, batch: int, device=None) -> Tensor:
    """Labels y of shape (B,) with values in 0–9 or NULL_CLASS = 10 (no label); None → all NULL_CLASS."""
    if y is None:
        return torch.full((batch,), NULL_CLASS, dtype=torch.long, device=device)
    if not isinstance(y, Tensor):
        raise TypeError(f"y must be a tensor of class labels; got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer labels; got dtype {y.dtype}")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},), one label per sample; got {tuple(y.shape)}")
    if bool(((y < 0) | (y > NULL_CLASS)).any()):
        raise ValueError(f"labels y must lie in 0–9 (or {NULL_CLASS} = no label); got min {int(y.min())}, "
                         f"max {int(y.max())}")
    return y.long()


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the (time, class) embedding as a per-channel shift, twice; residual skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        r = self.conv1(nn.functional.silu(self.norm1(h)))  # (B, c_out, H, W)
        r = r + self.emb(emb)[:, :, None, None]
        r = self.conv2(self.drop(nn.functional.silu(self.norm2(r))))
        return self.skip(h) + r


def _require_unet_config(channels: tuple[int, ...], blocks: int, groups: int, num_classes: int) -> None:
    """The U-Net's shape arguments: channels positive multiples of ``groups``, ≥ 1 block, the 10 digits + null class."""
    if len(channels) < 1 or any(isinstance(c, bool) or int(c) != c or c < 1 or c % groups for c in channels):
        raise ValueError(f"channels must be positive multiples of groups={groups} (GroupNorm, also on the "
                         f"concatenated skips); got {channels}")
    if num_classes != NULL_CLASS:
        raise ValueError(f"num_classes must be {NULL_CLASS}: labels are the MNIST digits 0–9 and {NULL_CLASS} means "
                         f"'no label' (NULL_CLASS); got {num_classes}")
    require_integer("blocks", blocks)


class UNet(nn.Module):
    r"""A small class-conditional U-Net for 1×28×28 images (Ronneberger et al. 2015; Ho et al. 2020's layout).

    ``net(x_t, t, y=None)``: x_t (B, 1, 28, 28), t (B,) the process time, y (B,) labels in 0–9 or 10 = no label
    (the null class of classifier-free guidance; None means all 10). The time enters as a sinusoidal embedding of
    ``t_scale · t`` (1 for DDPM's step index, 1000 for t ∈ [0, 1], 250 for EDM's $c_{noise} = \ln\sigma/4$) and the
    label as a learned embedding; their sum shifts every residual block's channels. Levels 28 → 14 → 7.
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 64), blocks: int = 1, t_scale: float = 1.0,
                 emb_dim: int = 128, groups: int = 8, in_channels: int = 1, num_classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        _require_unet_config(channels, blocks, groups, num_classes)
        self.config = dict(channels=tuple(channels), blocks=blocks, t_scale=t_scale, emb_dim=emb_dim, groups=groups,
                           in_channels=in_channels, num_classes=num_classes, dropout=dropout)
        self.t_scale, self.emb_dim, self.in_channels = float(t_scale), emb_dim, in_channels
        self.num_classes = num_classes
        self.t_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim)  # row num_classes = no label
        self.inp = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, c = [channels[0]], channels[0]
        for i, c_level in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock(c, c_level, emb_dim, groups, dropout))
                c = c_level
                skips.append(c)
            if i < len(channels) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c, emb_dim, groups, dropout), ResBlock(c, c, emb_dim, groups, dropout)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, c_level in reversed(list(enumerate(channels))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), c_level, emb_dim, groups, dropout))
                c = c_level
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out_norm = nn.GroupNorm(min(groups, c), c)
        self.out = nn.Conv2d(c, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if x_t.ndim != 4 or x_t.shape[1] != self.in_channels:
            raise ValueError(f"x_t must have shape (B, {self.in_channels}, H, W); got {tuple(x_t.shape)}")
        B = x_t.shape[0]
        if not isinstance(t, Tensor) or t.shape != (B,):
            raise ValueError(f"t must be a tensor of shape ({B},); got {getattr(t, 'shape', t)}")
        y = require_labels(y, B, x_t.device)
        emb = self.t_mlp(time_embedding(self.t_scale * t.float(), self.emb_dim).to(x_t.dtype))  # (B, emb_dim)
        emb = emb + self.label_emb(y)
        n_levels = len(self.downsample) + 1
        h = self.inp(x_t)
        hs, k = [h], 0
        for i in range(n_levels):  # encoder: blocks, then stride-2 conv
            for _ in range(self.config["blocks"]):
                h = self.down[k](h, emb)
                k += 1
                hs.append(h)
            if i < n_levels - 1:
                h = self.downsample[i](h)
                hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        k = 0
        for i in range(n_levels):  # decoder: blocks eating the skips, then nearest upsampling + conv
            for _ in range(self.config["blocks"] + 1):
                skip = hs.pop()
                h = self.up[k](torch.cat([h, skip], dim=1), emb)
                k += 1
            if i < n_levels - 1:
                target = hs[-1].shape[-2:]
                h = self.upsample[i](nn.functional.interpolate(h, size=target, mode="nearest"))
        return self.out(nn.functional.silu(self.out_norm(h)))


def edm_preconditioning(sigma: Tensor, sigma_data: float = 0.5) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""EDM's preconditioning (Karras et al. 2022, Table 1): with $s = \sigma^2 + \sigma_{data}^2$,

    $c_{skip} = \sigma_{data}^2/s$, $c_{out} = \sigma\sigma_{data}/\sqrt s$, $c_{in} = 1/\sqrt s$,
    $c_{noise} = \tfrac14\ln\sigma$. Each has shape (B,).
    """
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be > 0 (c_noise = ln(σ)/4)")
    s = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / s
    c_out = sigma * sigma_data / s.sqrt()
    c_in = 1 / s.sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    r"""$D_x = c_{skip}(\sigma)\,x + c_{out}(\sigma)\,F_x(c_{in}(\sigma)\,x;\ c_{noise}(\sigma))$ (Karras et al. 2022, eq. 7).

    ``net(x_t, sigma, y=None)`` returns the denoised $D_x$ (kind ``x0`` on the ``EDM`` process); ``F`` is the raw
    network (e.g. ``UNet(t_scale=250)``).
    """

    def __init__(self, F: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        if sigma_data <= 0:
            raise ValueError(f"sigma_data must be > 0; got {sigma_data}")
        self.F, self.sigma_data = F, float(sigma_data)

    def forward(self, x_t: Tensor, sigma: Tensor, y: Tensor | None = None) -> Tensor:
        c_skip, c_out, c_in, c_noise = edm_preconditioning(sigma, self.sigma_data)  # each (B,)
        shape = (-1,) + (1,) * (x_t.ndim - 1)
        F_x = self.F(c_in.view(shape).to(x_t.dtype) * x_t, c_noise, y)  # (B, C, H, W)
        D_x = c_skip.view(shape).to(x_t.dtype) * x_t + c_out.view(shape).to(x_t.dtype) * F_x
        return D_x

"""Tests of diffedu.nets: the sinusoidal time embedding and the 2-D MLP.

Oracles: the embedding's closed form (cos/sin of t·ω_k with geometric frequencies), shapes, gradients by autograd,
and a short fit of the MLP to a fixed target (its loss must drop by an order of magnitude).
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.nets import MLP, time_embedding


def test_time_embedding_closed_form():
    """Oracle: [cos(t ω_k), sin(t ω_k)] with ω_k = max_period^(−k/half), computed by hand in float64."""
    t = torch.tensor([0.0, 0.5, 3.0, 999.0], dtype=torch.float64)
    emb = time_embedding(t, 8)
    assert emb.shape == (4, 8) and emb.dtype == torch.float64
    for i, ti in enumerate(t.tolist()):
        for k in range(4):
            omega = 10_000.0 ** (-k / 4)
            assert emb[i, k].item() == pytest.approx(math.cos(ti * omega), abs=1e-12)
            assert emb[i, 4 + k].item() == pytest.approx(math.sin(ti * omega), abs=1e-12)


def test_time_embedding_bad_dim():
    """Oracle: an odd dim raises ValueError naming dim."""
    with pytest.raises(ValueError, match="dim must be even"):
        time_embedding(torch.zeros(3), 7)
    with pytest.raises(ValueError, match=r"t must have shape \(B,\)"):
        time_embedding(torch.zeros(3, 1), 8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mlp_shapes_dtypes_and_gradients(dtype):
    """Oracle: output shaped like x_t, in x_t's dtype, finite, and every parameter receives a finite gradient."""
    torch.manual_seed(0)
    net = MLP(dim=3, hidden=16, depth=2, t_dim=8).to(dtype)
    x = torch.randn(5, 3, dtype=dtype)
    out = net(x, torch.rand(5, dtype=dtype))
    assert out.shape == (5, 3) and out.dtype == dtype and bool(torch.isfinite(out).all())
    out.pow(2).sum().backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in net.parameters())


def test_mlp_depends_on_t_and_t_transform():
    """Oracle: different times give different outputs; a custom t_transform is what gets embedded (EDM's c_noise)."""
    torch.manual_seed(0)
    net = MLP(dim=2, hidden=16, depth=1, t_dim=8)
    x = torch.randn(4, 2)
    assert not torch.allclose(net(x, torch.full((4,), 0.1)), net(x, torch.full((4,), 0.9)))
    seen = []
    net_edm = MLP(dim=2, hidden=16, depth=1, t_dim=8, t_transform=lambda s: seen.append(s) or 0.25 * s.log())
    net_edm(x, torch.full((4,), 2.0))
    assert len(seen) == 1 and seen[0].shape == (4,)


def test_mlp_can_fit_a_target():
    """Oracle: 200 Adam steps on a fixed smooth target (x ↦ sin(x) · t) reduce the mean squared error tenfold."""
    torch.manual_seed(0)
    net = MLP(dim=2, hidden=32, depth=2)
    x, t = torch.randn(256, 2), torch.rand(256)
    y = torch.sin(x) * t[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(200):
        loss = (net(x, t) - y).pow(2).mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 10, (first, loss.item())


def test_mlp_bad_input():
    """Oracle: ValueError naming x_t for a wrong input shape, and naming the sizes for non-positive sizes."""
    net = MLP(dim=2)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, 2\)"):
        net(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"t must have shape \(4,\)"):
        net(torch.zeros(4, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="dim, hidden and depth must be"):
        MLP(dim=0)

"""Tests of diffedu.losses: the denoising regressions, explicit and sliced score matching.

Oracles: the exact Gaussian-mixture predictors (the conditional mean minimises each denoising loss), the regression
target written by hand, Hyvärinen's identity (sliced SM = ½ ESM + a constant independent of the network, the constant
being −½ E‖∇log p‖²) checked by Monte Carlo with a tolerance of 5 standard errors.
"""
from __future__ import annotations

import pytest
import torch

from diffedu.losses import (denoising_loss, dsm_loss, edm_loss, eps_loss, esm_loss, flow_matching_loss,
                            sample_sigma_lognormal, sample_t_uniform, sliced_score_matching_loss)
from diffedu.nets import MLP
from diffedu.processes import EDM, make_process
from diffedu.toys import gmm_2d


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name,kind", [("vp", "eps"), ("cosine", "eps"), ("flow", "velocity"), ("ve", "score"),
                                       ("edm", "x0")])
def test_exact_predictor_has_the_lowest_loss(name, kind):
    """Oracle: the exact GMM prediction is the conditional mean of the target, so every perturbation (shift, scale,
    noise) raises the denoising loss. Common random numbers (same x0, t, ε for all nets), N = 20 000; the smallest
    expected gap (≥ 0.01 per sample for these perturbations) is many standard errors of the cross term."""
    process, gmm = make_process(name), gmm_2d()
    x0 = gmm.sample(20_000, generator=gen(0))
    t = sample_t_uniform(process, 20_000, generator=gen(1), t_eps=0.05, dtype=torch.float64)
    if name == "edm":
        t = sample_sigma_lognormal(20_000, generator=gen(1), dtype=torch.float64, sigma_max=process.sigma_max)
    eps = torch.randn(x0.shape, generator=gen(2), dtype=torch.float64)
    kind_of = {"eps": gmm.eps, "velocity": gmm.velocity, "score": gmm.score, "x0": gmm.denoiser}[kind]
    exact = lambda x, s: kind_of(x, s, process)  # noqa: E731
    weight = process.sigma(t) ** 2 if kind == "score" else None  # DSM's σ² weighting keeps the loss finite
    loss = lambda net: denoising_loss(net, x0, process, kind, t, eps, weight=weight).item()  # noqa: E731
    best = loss(exact)
    noise = 0.1 * torch.randn(x0.shape, generator=gen(3), dtype=torch.float64)
    scale = 1 / process.sigma(t)[:, None] if kind == "score" else 1.0
    for label, net in [("shift", lambda x, s: exact(x, s) + 0.1 * scale),
                       ("scale", lambda x, s: 1.1 * exact(x, s)),
                       ("noise", lambda x, s: exact(x, s) + noise * scale)]:
        assert loss(net) > best + 0.005, f"{label}: {loss(net)} vs exact {best}"


def test_denoising_loss_is_the_regression_written_by_hand():
    """Oracle: mean over the batch of w(t)·‖net(x_t, t) − (a x0 + b ε)‖², with the table's (a, b), computed by hand."""
    process = make_process("vp")
    x0 = torch.randn(8, 3, generator=gen(4), dtype=torch.float64)
    eps = torch.randn(8, 3, generator=gen(5), dtype=torch.float64)
    t = torch.linspace(0.1, 0.9, 8, dtype=torch.float64)
    w = torch.linspace(1, 2, 8, dtype=torch.float64)
    net = lambda x, s: 0.3 * x + s[:, None]  # noqa: E731
    x_t = process.alpha(t)[:, None] * x0 + process.sigma(t)[:, None] * eps
    v = process.d_alpha(t)[:, None] * x0 + process.d_sigma(t)[:, None] * eps
    ref = (w * ((net(x_t, t) - v) ** 2).sum(1)).mean()
    torch.testing.assert_close(denoising_loss(net, x0, process, "velocity", t, eps, weight=w), ref)
    ref_eps = (((net(x_t, t) - eps) ** 2).sum(1)).mean()
    torch.testing.assert_close(denoising_loss(net, x0, process, "eps", t, eps), ref_eps)


def test_named_losses_run_and_are_reproducible():
    """Oracle: each named loss is a finite non-negative scalar, identical for identical generator seeds, and its
    gradient reaches the network's parameters."""
    torch.manual_seed(0)
    net = MLP(dim=2, hidden=16, depth=1).double()
    x0 = gmm_2d().sample(64, generator=gen(6))
    for fn, process in [(eps_loss, make_process("vp")), (dsm_loss, make_process("ve")),
                        (flow_matching_loss, make_process("flow")), (edm_loss, EDM())]:
        a, b = fn(net, x0, process, generator=gen(7)), fn(net, x0, process, generator=gen(7))
        assert a.ndim == 0 and torch.isfinite(a) and a.item() >= 0 and a.item() == b.item(), fn.__name__
        net.zero_grad()
        a.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters()), fn.__name__


def test_dsm_loss_at_a_given_t_is_the_weighted_regression_by_hand():
    """Oracle: with t given, dsm_loss draws only ε (the generator's first draw) and equals
    mean σ_t²·‖s(x_t, t) + ε/σ_t‖² at x_t = x0 + σ_t ε (EDM: σ_t = t), computed by hand."""
    process, x0 = EDM(), gmm_2d().sample(16, generator=gen(13))
    t = torch.full((16,), 0.5, dtype=torch.float64)
    net = lambda x, s: -0.7 * x  # noqa: E731
    eps = torch.randn(x0.shape, generator=gen(14), dtype=torch.float64)
    ref = (0.5**2 * ((net(x0 + 0.5 * eps, t) + eps / 0.5) ** 2).sum(1)).mean()
    torch.testing.assert_close(dsm_loss(net, x0, process, generator=gen(14), t=t), ref)


def test_sliced_score_matching_equals_half_esm_plus_a_constant():
    """Oracle: Hyvärinen's identity with Hutchinson's estimator — for x ~ p_t, sliced SM(s) = ½ ESM(s) − ½ E‖∇log p_t‖²,
    whatever the network s. Checked for two different networks (the exact GMM score and a random MLP) on the same
    N = 40 000 samples; the Monte Carlo tolerance is 5 standard errors, estimated from 20 independent chunks."""
    process, gmm, t0, n, chunks = make_process("vp"), gmm_2d(), 0.4, 40_000, 20
    x = gmm.sample(n, t0, process, generator=gen(8))
    t = torch.full((n,), t0, dtype=torch.float64)
    true_score = gmm.score(x, t0, process)
    torch.manual_seed(1)
    mlp = MLP(dim=2, hidden=32, depth=2).double()
    networks = {"exact": lambda y, s: gmm.score(y, s, process), "mlp": lambda y, s: mlp(y, s)}
    const = -0.5 * (true_score**2).sum(1).reshape(chunks, -1).mean(1)  # (chunks,)
    g = gen(9)
    for label, net in networks.items():
        per_chunk = []
        for xs, ts, ss, c in zip(x.chunk(chunks), t.chunk(chunks), true_score.chunk(chunks), const):
            sliced = sliced_score_matching_loss(net, xs, ts, generator=g)
            half_esm = 0.5 * esm_loss(net, xs, ts, ss)
            per_chunk.append((sliced - half_esm - c).item())
        gap = torch.tensor(per_chunk, dtype=torch.float64)
        se = gap.std() / chunks**0.5
        assert abs(gap.mean().item()) < 5 * se.item() + 1e-3, f"{label}: gap {gap.mean().item():.4f} ± {se.item():.4f}"


def test_samplers_of_t_and_sigma():
    """Oracle: uniform t lies in [t_min + t_eps·span, t_max]; log σ ~ N(P_mean, P_std²) (mean and std within 5 SE for
    N = 50 000) and the cap at σ_max holds."""
    process = make_process("ve")
    t = sample_t_uniform(process, 10_000, generator=gen(10), t_eps=0.1)
    assert float(t.min()) >= 0.1 and float(t.max()) <= 1.0
    sigma = sample_sigma_lognormal(50_000, p_mean=-1.2, p_std=1.2, generator=gen(11), dtype=torch.float64)
    log_sigma = sigma.log()
    assert abs(log_sigma.mean().item() + 1.2) < 5 * 1.2 / 50_000**0.5
    assert abs(log_sigma.std().item() - 1.2) < 5 * 1.2 / (2 * 50_000) ** 0.5
    assert float(sample_sigma_lognormal(1000, p_mean=5.0, generator=gen(12), sigma_max=80.0).max()) <= 80.0


# --- bad input -----------------------------------------------------------------------------------------------
def test_losses_bad_input():
    """Oracle: ValueError/TypeError naming the argument for mismatched shapes, the wrong process and bad settings."""
    process = make_process("vp")
    net = lambda x, s: x  # noqa: E731
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="eps must have the shape of x0"):
        denoising_loss(net, x0, process, "eps", torch.full((4,), 0.5), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"t must have shape \(4,\)"):
        denoising_loss(net, x0, process, "eps", torch.full((3,), 0.5), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="kind must be one of"):
        denoising_loss(net, x0, process, "noise", torch.full((4,), 0.5), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="t must lie in"):
        denoising_loss(net, x0, process, "eps", torch.full((4,), 1.5), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="x0, t and eps must be torch tensors"):
        denoising_loss(net, x0, process, "eps", 0.5, torch.zeros(4, 2))
    with pytest.raises(TypeError, match="edm_loss needs the EDM process"):
        edm_loss(net, x0, process)
    with pytest.raises(ValueError, match="true_score must have the shape of x_t"):
        esm_loss(net, x0, torch.full((4,), 0.5), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="n_projections must be"):
        sliced_score_matching_loss(net, x0, torch.full((4,), 0.5), n_projections=0)
    with pytest.raises(ValueError, match="t_eps must lie in"):
        sample_t_uniform(process, 4, t_eps=1.0)
    with pytest.raises(ValueError, match="p_std must be"):
        sample_sigma_lognormal(4, p_std=0.0)

"""Tests of diffedu.course.fit, the toy trainer (Adam with a cosine learning-rate decay).

Oracles: a quadratic loss with a known minimiser; the learning rate's closed-form cosine schedule; the same seed
giving the same losses.
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.course.fit import fit


def test_fit_minimises_a_quadratic_to_its_known_minimiser():
    """Oracle: L(w) = ‖w − w*‖² (plus a noisy minibatch term of mean zero) has its minimum at w* = (1, −2, 3);
    300 Adam steps from w = 0 reach it within 0.05 and the loss falls by more than 100×."""
    target = torch.tensor([1.0, -2.0, 3.0])
    net = torch.nn.Linear(3, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    batch_loss = lambda g: ((net.weight[0] - target) ** 2).sum() + 0.0 * torch.randn(1, generator=g).sum()  # noqa: E731
    losses = fit(net, batch_loss, 300, lr=0.1, generator=torch.Generator().manual_seed(0))
    assert len(losses) == 300 and losses[-1] < losses[0] / 100
    assert (net.weight[0] - target).abs().max().item() < 0.05
    assert not net.training


def test_fit_follows_the_cosine_schedule_and_is_reproducible():
    """Oracle: for the linear loss L(w) = w the gradient is constantly 1, so every Adam step moves w by exactly its
    learning rate (m̂/√v̂ = 1, up to Adam's ε = 1e-8): after k steps w = −Σ_{j<k} lr·½(1 + cos(πj/K)) (Loshchilov &
    Hutter 2017), read through the callback. The same generator seed gives identical losses."""
    w = torch.nn.Parameter(torch.zeros(()))
    net = torch.nn.Module()
    net.w = w
    K, seen = 8, []
    fit(net, lambda g: net.w * 1.0, K, lr=0.1, callback=lambda step, loss: seen.append(net.w.item()))
    expected = torch.cumsum(torch.tensor([-0.1 * 0.5 * (1 + math.cos(math.pi * j / K)) for j in range(K)]), 0)
    torch.testing.assert_close(torch.tensor(seen), expected.float(), rtol=1e-5, atol=1e-6)

    def run(seed):
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 1)
        loss = lambda g: lin(torch.randn(8, 2, generator=g)).pow(2).mean()  # noqa: E731
        return fit(lin, loss, 10, lr=0.01, generator=torch.Generator().manual_seed(seed))
    assert run(1) == run(1) != run(2)


def test_fit_with_a_constant_rate():
    """Oracle: for the linear loss L(w) = w every Adam step moves w by exactly its learning rate (m̂/√v̂ = 1, up to
    Adam's ε = 1e-8); with ``cosine=False`` the rate stays lr, so after k steps w = −k·lr."""
    net = torch.nn.Module()
    net.w = torch.nn.Parameter(torch.zeros(()))
    seen = []
    fit(net, lambda g: net.w * 1.0, 5, lr=0.1, callback=lambda step, loss: seen.append(net.w.item()), cosine=False)
    torch.testing.assert_close(torch.tensor(seen), -0.1 * torch.arange(1, 6, dtype=torch.float32), rtol=1e-5,
                               atol=1e-6)


def test_fit_bad_input():
    """Oracle: ValueError naming the argument for a negative or fractional step count and a non-positive rate."""
    net = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="steps"):
        fit(net, lambda g: net.weight.sum(), -1, lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        fit(net, lambda g: net.weight.sum(), 2.5, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        fit(net, lambda g: net.weight.sum(), 2, lr=0.0)

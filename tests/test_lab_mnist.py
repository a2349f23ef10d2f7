"""Chapter 12's lab (diffedu.labs.mnist): EDM's training loss and an Euler sampler on MNIST.

Oracles: ``diffedu.losses.edm_loss`` run with the same draws (exact), a tiny U-Net's falling loss, the Euler recursion
on the shipped ``mnist-edm`` model (exact) and the shipped classifier's conditional accuracy.
"""
from __future__ import annotations

import pytest
import torch

from diffedu.labs import mnist as lab
from diffedu.labs.grading import Functions

LAB = lab.LAB


def Pair(loss, sampler):  # noqa: N802 — the lab's two functions, graded as one
    return Functions(loss=loss, sampler=sampler)


def training_loss(F, x0, y, n_sigma, eps, u, sigma_data=0.5, p_mean=-1.2, p_std=1.2, p_uncond=0.1):
    sigma = torch.exp(p_mean + p_std * n_sigma)
    y = torch.where(u < p_uncond, torch.full_like(y, 10), y)
    s = sigma**2 + sigma_data**2
    c_skip, c_out, c_in, c_noise = sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt(), sigma.log() / 4
    b = (-1, 1, 1, 1)
    x_t = x0 + sigma.view(b) * eps
    D_x = c_skip.view(b) * x_t + c_out.view(b) * F(c_in.view(b) * x_t, c_noise, y)
    return ((D_x - x0) ** 2).flatten(1).sum(1).div(c_out**2).mean()


def euler_sampler(D, x_T, sigmas, y):
    x = x_T
    for i in range(len(sigmas) - 1):
        x = x + (sigmas[i + 1] - sigmas[i]) * (x - D(x, sigmas[i], y)) / sigmas[i]
    return x


def training_loss_looped(F, x0, y, n_sigma, eps, u):
    """One image at a time, the weight written as (σ² + σ_d²)/(σσ_d)² and the target form of the loss:
    λ‖D_x − x0‖² = ‖F − (x0 − c_skip x_t)/c_out‖²."""
    total = 0.0
    for i in range(x0.shape[0]):
        sigma = torch.exp(-1.2 + 1.2 * n_sigma[i:i + 1])
        label = torch.tensor([10]) if u[i] < 0.1 else y[i:i + 1]
        x_t = x0[i:i + 1] + sigma * eps[i:i + 1]
        s = sigma**2 + 0.25
        c_out = sigma * 0.5 / s.sqrt()
        target = (x0[i:i + 1] - 0.25 / s * x_t) / c_out
        total = total + (F(x_t / s.sqrt(), torch.log(sigma) / 4, label) - target).pow(2).sum()
    return total / x0.shape[0]


def euler_sampler_as_x0_velocity(D, x_T, sigmas, y):
    """The same Euler steps written as x ← D + (σ_next/σ)(x − D)."""
    x = x_T
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        D_x = D(x, sigma, y)
        x = D_x + (sigma_next / sigma) * (x - D_x)
    return x


def test_a_second_correct_implementation_passes_the_exact_parts():
    """Oracle: edm_loss with the same draws and the Euler recursion — a looped loss in F's target form and the Euler
    step written as an interpolation towards D are the same maths."""
    pair = Pair(training_loss_looped, euler_sampler_as_x0_velocity)
    assert LAB.parts[0].test(pair).passed and LAB.parts[2].test(pair).passed


def test_the_instructor_solution_passes_the_exact_parts_quickly():
    """Oracle: edm_loss with the same draws; the Euler recursion (the cheap parts, for the fast suite)."""
    pair = Pair(training_loss, euler_sampler)
    assert LAB.parts[0].test(pair).passed and LAB.parts[2].test(pair).passed


def _loss(**kw):
    def loss(F, x0, y, n_sigma, eps, u):
        return lab._reference(F, x0, y, n_sigma, eps, u, **kw)
    return loss


@pytest.mark.parametrize("kw, words", [
    (dict(weight="none"), "weight λ(σ)"), (dict(weight="c_out"), "not 1/c_out"), (dict(c_noise="ln"), "¼·ln σ"),
    (dict(sigma="exp"), "not exp(n)"), (dict(drop=False), "not dropped"), (dict(c_in=False), "c_in·x_t"),
    (dict(reduce="mean"), "784 pixels"), (dict(noise=False), "scaled by σ"),
])
def test_each_typical_loss_mistake_gets_its_own_hint(kw, words):
    """Oracle: the loss with one mistake made on purpose (λ missing or 1/c_out, c_noise = ln σ, σ = exp(n), no label
    dropout, no c_in, pixels averaged, no σ on the noise)."""
    verdict = LAB.parts[0].test(Pair(_loss(**kw), euler_sampler))
    assert not verdict.passed and words in verdict.hint


def test_a_uniform_sigma_gets_a_hint():
    """Oracle: σ drawn uniform on [0.002, 80] (ignoring n_sigma) is not the loss with the given draws."""
    def uniform_sigma(F, x0, y, n_sigma, eps, u):
        return training_loss(F, x0, y, torch.log(0.002 + 80 * torch.rand(n_sigma.shape)) / 1.2 + 1, eps, u)
    verdict = LAB.parts[0].test(Pair(uniform_sigma, euler_sampler))
    assert not verdict.passed and "σ = exp(P_mean + P_std·n)" in verdict.hint


@pytest.mark.parametrize("kw, words", [(dict(last=False), "one step early"), (dict(sign=-1.0), "sign")])
def test_each_typical_sampler_mistake_gets_its_own_hint(kw, words):
    """Oracle: the Euler recursion with one mistake made on purpose (no last step into σ = 0, the slope's sign)."""
    def wrong(D, x_T, sigmas, y):
        return lab._euler(D, x_T, sigmas, y, **kw)
    verdict = LAB.parts[2].test(Pair(training_loss, wrong))
    assert not verdict.passed and words in verdict.hint


def test_an_error_inside_the_students_function_is_a_hint_not_a_traceback():
    """Oracle: grading.explain's meaning of a shape error."""
    def broken(*args):
        raise RuntimeError("The size of tensor a (8) must match the size of tensor b (28)")
    verdict = lab.LAB._run(LAB.parts[0], Pair(broken, broken))
    assert not verdict.passed and "shapes" in verdict.hint

"""Chapter 14's discrete diffusion (``diffedu.course.discrete*``), each piece against an independent computation.

Oracles: the matrix exponential of the rate matrix (``torch.linalg.matrix_exp``); Bayes' rule and marginals by
explicit loops over a tiny state space (L = 2, V = 3); the definition of a probability ratio; the entropy of the
data (the tight ELBO); the product of the data's one-position marginals (one sampler step); explicit transition
matrices; Monte Carlo with stated standard errors.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from diffedu.course.discrete import (DiscreteNoise, MarkovData, all_states, check_rate_matrix,
                                     marginal, masked_elbo, ratios, reverse_rates, state_index, x0_posterior)
from diffedu.metrics import entropy, kl
from diffedu.ui.widgets import discrete_panel
from diffedu.course.discrete_net import X0Net, masked_loss, noisy, train_x0_net
from diffedu.course.discrete_sampling import (ExactX0, discrete_elbo, euler_probs, play_discrete, posterior_probs,
                                              push_forward, sample, sampler_distribution, unmasking_probs)

DATA = MarkovData()
TINY = MarkovData(V=3, L=2, p_step=0.6, p_stay=0.3)
CASES = [(kind, schedule) for kind in ("mask", "uniform") for schedule in ("linear", "cosine")]


@pytest.mark.parametrize("kind, schedule", CASES)
def test_kernels_are_the_matrix_exponential_and_compose(kind, schedule):
    """Oracle: exp(σ̄(t) Q) with σ̄ = −log α_t, to 1e-12; Chapman–Kolmogorov K_s K_{s→t} = K_t; rows sum to 1."""
    noise = DiscreteNoise(kind, 4, schedule)
    for t in (0.1, 0.5, 0.9):
        sigma_bar = -math.log(noise.alpha(t))
        assert torch.allclose(torch.linalg.matrix_exp(sigma_bar * noise.Q), noise.kernel(t), atol=1e-12, rtol=0)
        assert torch.allclose(noise.kernel(0.05) @ noise.kernel_between(0.05, t), noise.kernel(t), atol=1e-12)
        assert torch.allclose(noise.kernel(t).sum(1), torch.ones(noise.S, dtype=torch.float64))
    assert torch.allclose(noise.kernel(1.0)[:4], noise.prior().expand(4, -1), atol=1e-12)  # pure noise at t = 1
    assert abs(noise.d_alpha(0.3) - (noise.alpha(0.3 + 1e-6) - noise.alpha(0.3 - 1e-6)) / 2e-6) < 1e-6


@pytest.mark.parametrize("kind", ["mask", "uniform"])
def test_marginal_and_posterior_by_explicit_loops(kind):
    """Oracle: p_t(x_t) = Σ_x0 p(x0) Π_i K[x0^i, x_t^i] and Bayes p(x0^i = u | x_t) written as loops over the
    9 clean and 9 or 16 noisy sequences of L = 2, V = 3, to 1e-12."""
    noise, t = DiscreteNoise(kind, 3), 0.4
    K, p0 = noise.kernel(t), TINY.prob()
    clean, noisy_states = all_states(3, 2).tolist(), all_states(noise.S, 2).tolist()
    p_t = [sum(p0[a] * K[x0[0], x[0]] * K[x0[1], x[1]] for a, x0 in enumerate(clean)) for x in noisy_states]
    assert torch.allclose(marginal(TINY, noise, t), torch.tensor(p_t, dtype=torch.float64), atol=1e-12)
    post = x0_posterior(TINY, noise, t)
    for s, x in enumerate(noisy_states):
        for i, u in itertools.product(range(2), range(3)):
            want = sum(p0[a] * K[x0[0], x[0]] * K[x0[1], x[1]] for a, x0 in enumerate(clean) if x0[i] == u) / p_t[s]
            assert abs(post[s, i, u].item() - want) < 1e-12


@pytest.mark.parametrize("kind", ["mask", "uniform"])
def test_reverse_rates_from_the_posterior_equal_rates_from_ratios(kind):
    """Oracle: β(t) Q[v, x^i] p_t(x^{i←v}) / p_t(x) with p_t enumerated (Campbell et al. 2022, Prop. 1), rel. 1e-10;
    the ratio itself against its definition for one hand-picked pair."""
    noise, t = DiscreteNoise(kind, 4, "cosine"), 0.6
    states = all_states(noise.S, DATA.L)
    r = ratios(DATA, noise, t)
    p_t = marginal(DATA, noise, t)
    y = states[37].clone()
    y[2] = 1
    assert abs(r[37, 2, 1].item() - (p_t[state_index(y, noise.S)] / p_t[37]).item()) < 1e-12
    beta = -noise.d_alpha(t) / noise.alpha(t)
    want = (beta * noise.Q[:, states].permute(1, 2, 0) * r).scatter(-1, states.unsqueeze(-1), 0.0)
    got = reverse_rates(states, x0_posterior(DATA, noise, t), noise, t)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-14)


def test_the_masked_elbo_is_tight_at_the_exact_posterior_and_a_bound_otherwise():
    """Oracle: −log p(x0) for each of the 256 sequences (1e-10) and the entropy on average; a network that is not
    the posterior gives a bound ≥ −log p(x0) on average (Gibbs' inequality)."""
    noise = DiscreteNoise("mask", 4)
    exact = ExactX0(DATA, noise)
    bound = masked_elbo(lambda x: exact(x, 0.5), DATA, noise)
    assert torch.allclose(bound, -DATA.prob().log(), atol=1e-10, rtol=0)
    assert abs((DATA.prob() * bound).sum().item() - entropy(DATA.prob())) < 1e-10
    torch.manual_seed(0)
    untrained = masked_elbo(lambda x: X0Net(noise, DATA.L)(x).detach(), DATA, noise)
    assert (DATA.prob() * untrained).sum().item() > entropy(DATA.prob()) + 0.1


def test_the_training_loss_at_the_exact_posterior_has_mean_the_entropy():
    """Oracle: H(data) (the tight bound); Monte Carlo over 40 000 draws of (x0, t, x_t), within 4 standard errors."""
    noise, g = DiscreteNoise("mask", 4), torch.Generator().manual_seed(0)
    x0 = DATA.sample(40_000, generator=g)
    t = torch.rand(40_000, generator=g, dtype=torch.float64)
    x_t = noisy(x0, t, noise, g)
    loss = masked_loss(ExactX0(DATA, noise)(x_t, 0.5), x0, x_t, t, noise)
    assert abs(loss.mean().item() - entropy(DATA.prob())) < 4 * loss.std().item() / 200


def test_noisy_draws_have_the_forward_marginals():
    """Oracle: q_t(x_t^i | x0^i) from the kernel; 40 000 draws at t = 0.3, frequencies within 5 SE."""
    for kind in ("mask", "uniform"):
        noise, g = DiscreteNoise(kind, 4), torch.Generator().manual_seed(1)
        x0 = torch.zeros(40_000, 1, dtype=torch.long)
        x_t = noisy(x0, torch.full((40_000,), 0.3, dtype=torch.float64), noise, g)
        freq = torch.bincount(x_t[:, 0], minlength=noise.S).double() / 40_000
        want = noise.kernel(0.3)[0]
        assert ((freq - want).abs() <= 5 * (want * (1 - want) / 40_000).sqrt() + 1e-12).all(), (freq, want)


@pytest.mark.parametrize("kind", ["mask", "uniform"])
def test_the_posterior_step_is_bayes_on_the_kernels(kind):
    """Oracle: Σ_u p̂(u | x_t) K_{s→t}[w, x_t^i] K_s[u, w] / K_t[u, x_t^i] written as loops (the D3PM posterior,
    Austin et al. 2021, eqs. 3–4), to 1e-12; rows are distributions."""
    noise, t, s = DiscreteNoise(kind, 4, "cosine"), 0.7, 0.45
    states = all_states(noise.S, DATA.L)[::7]
    post = x0_posterior(DATA, noise, t)[::7]
    got = posterior_probs(states, post, noise, t, s)
    K_s, K_t, K_st = noise.kernel(s), noise.kernel(t), noise.kernel_between(s, t)
    for n in range(0, len(states), 11):
        for i in range(DATA.L):
            x = int(states[n, i])
            for w in range(noise.S):
                want = sum(post[n, i, u].item() * K_st[w, x].item() * K_s[u, w].item() / K_t[u, x].item()
                           for u in range(4) if K_t[u, x] > 0)
                assert abs(got[n, i, w].item() - want) < 1e-12
    assert torch.allclose(got.sum(-1), torch.ones(got.shape[:2], dtype=torch.float64), atol=1e-12)


def test_euler_equals_unmasking_for_the_linear_schedule_and_is_valid_otherwise():
    """Oracle: (t − s)/t = (α_s − α_t)/(1 − α_t) when α = 1 − t (exact); Euler rows are distributions."""
    states = all_states(5, DATA.L)
    for schedule in ("linear", "cosine"):
        noise = DiscreteNoise("mask", 4, schedule)
        post = x0_posterior(DATA, noise, 0.5)
        euler = euler_probs(states, post, noise, 0.6, 0.35)
        assert (euler >= 0).all() and torch.allclose(euler.sum(-1), torch.ones(len(states), 4, dtype=torch.float64))
        if schedule == "linear":
            assert torch.allclose(euler, unmasking_probs(states, post, 0.4, 0.65), atol=1e-12)


def test_push_forward_is_the_product_of_per_position_transition_matrices():
    """Oracle: the (S^L, S^L) matrix P[x, y] = Π_i probs[x, i, y^i] built entry by entry, for L = 3 and L = 2."""
    for L in (3, 2):
        states = all_states(3, L)
        probs = torch.rand(len(states), L, 3, generator=torch.Generator().manual_seed(L), dtype=torch.float64)
        probs = probs / probs.sum(-1, keepdim=True)
        P = torch.ones(len(states), len(states), dtype=torch.float64)
        for i in range(L):
            P = P * probs[:, i, states[:, i]]
        p = torch.rand(len(states), dtype=torch.float64)
        assert torch.allclose(push_forward(p, probs), p @ P, atol=1e-12)


@pytest.mark.parametrize("kind", ["mask", "uniform"])
def test_one_step_gives_the_product_of_marginals_and_more_steps_converge_like_n_minus_2(kind):
    """Oracles: one step from t = 1 draws each position from its data marginal (product computed directly, 1e-12);
    KL(data ‖ sampler) falls with N and its log-log slope on 8–64 steps lies in [1.7, 2.3] (first-order sampler)."""
    noise = DiscreteNoise(kind, 4)
    exact = ExactX0(DATA, noise)
    p0, x = DATA.prob(), all_states(4, DATA.L)
    marginals = [torch.bincount(x[:, i], weights=p0, minlength=4) for i in range(DATA.L)]
    product = torch.stack([marginals[i][x[:, i]] for i in range(DATA.L)]).prod(0)
    assert torch.allclose(sampler_distribution(exact, DATA, noise, 1), product, atol=1e-12)
    kls = [kl(p0, sampler_distribution(exact, DATA, noise, N)) for N in (8, 16, 32, 64)]
    slope = -torch.tensor(kls).log().diff().mean().item() / math.log(2)
    assert kls == sorted(kls, reverse=True) and 1.7 <= slope <= 2.3, kls


def test_drawn_samples_follow_the_enumerated_sampler_distribution():
    """Oracle: the enumerated output distribution of the 4-step unmasking sampler; 20 000 drawn sequences, every
    sequence's frequency within 5 SE (+ 1e-3 for the rare ones)."""
    noise = DiscreteNoise("mask", 4)
    exact = ExactX0(DATA, noise)
    want = sampler_distribution(exact, DATA, noise, 4)
    x = sample(exact, noise, 20_000, DATA.L, 4, generator=torch.Generator().manual_seed(3))
    freq = torch.bincount(state_index(x, 4), minlength=256).double() / 20_000
    assert ((freq - want).abs() <= 5 * (want * (1 - want) / 20_000).sqrt() + 1e-3).all()


def test_the_network_carries_unmasked_tokens_and_training_lowers_the_bound():
    """Oracles: the carry-over rule (unmasked positions one-hot on their token); the ELBO bound
    after 100 Adam steps is below the untrained one and still ≥ H(data) (a bound cannot beat the entropy)."""
    noise, g = DiscreteNoise("mask", 4), torch.Generator().manual_seed(4)
    torch.manual_seed(4)
    states = all_states(5, DATA.L)
    before = (DATA.prob() * masked_elbo(lambda x: X0Net(noise, DATA.L)(x).detach(), DATA, noise)).sum().item()
    net = train_x0_net(DATA, noise, 100, generator=g)
    probs = net(states).detach()
    kept = states < 4
    assert torch.equal(probs[kept], torch.nn.functional.one_hot(states[kept], 4).float())
    after = (DATA.prob() * masked_elbo(lambda x: net(x).detach(), DATA, noise)).sum().item()
    assert entropy(DATA.prob()) - 1e-9 <= after < before, (after, before)
    uniform = X0Net(DiscreteNoise("uniform", 4), DATA.L)
    out = uniform(all_states(4, DATA.L), torch.full((256, 1), 0.3))
    assert torch.allclose(out.sum(-1), torch.ones(256, DATA.L), atol=1e-6)


def test_bad_input_gets_a_clear_error():
    """Oracle: the messages promised by the issue — a rate matrix whose rows do not sum to zero, tokens outside the
    vocabulary, zero steps, an unknown noise, a time outside [0, 1]."""
    bad = torch.tensor([[-1.0, 0.5], [0.5, -0.5]], dtype=torch.float64)
    with pytest.raises(ValueError, match="rows of Q must sum to zero"):
        check_rate_matrix(bad)
    with pytest.raises(ValueError, match="off-diagonal"):
        check_rate_matrix(torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="tokens in 0–3"):
        state_index(torch.tensor([[0, 4, 1, 2]]), 4)
    with pytest.raises(ValueError, match="tokens in 0–3"):
        ExactX0(DATA, DiscreteNoise("uniform", 4))(torch.tensor([[0, 4, 1, 2]]), 0.5)  # the mask is not a token here
    noise = DiscreteNoise("mask", 4)
    with pytest.raises(ValueError, match="n_steps must be an integer"):
        sampler_distribution(ExactX0(DATA, noise), DATA, noise, 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        DiscreteNoise("gaussian", 4)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        noise.alpha(1.5)
    with pytest.raises(ValueError, match="Euler sampler with uniform noise"):
        play_discrete("uniform", "linear", 4, "euler")


def test_the_play_panel_computes_the_kl_it_shows():
    """Oracle: kl() of the returned distributions, and the enumerated sampler distribution for the same settings."""
    out = play_discrete("mask", "cosine", 3, "euler")
    assert abs(out["kl"] - kl(out["p_data"], out["p_sampler"])) < 1e-12
    noise = DiscreteNoise("mask", 4, "cosine")
    want = sampler_distribution(ExactX0(DATA, noise), DATA, noise, 3, "euler")
    assert torch.allclose(out["p_sampler"], want, atol=1e-12) and abs(out["p_sampler"].sum().item() - 1) < 1e-12


@pytest.mark.parametrize("kind", ["mask", "uniform"])
def test_the_n_step_elbo_bounds_the_sampler_s_exact_likelihood(kind):
    """Oracles: −log of the sampler's enumerated output distribution. The bound holds for every sequence (1e-10) with
    the exact and with an untrained posterior; one step is tight where the model ignores x_1 (mask noise: x_1 is all
    masks; the exact posterior at t = 1 is the data marginal);
    with the exact posterior the bound's average falls towards H(data) as N grows."""
    noise = DiscreteNoise(kind, 4)
    torch.manual_seed(5)
    untrained = X0Net(noise, DATA.L)
    models = {"exact": ExactX0(DATA, noise), "untrained": lambda x, t: untrained(x, t).detach()}
    means = []
    for name, model in models.items():
        for N in (1, 3, 8):
            bound = discrete_elbo(model, DATA, noise, N)
            nll = -sampler_distribution(model, DATA, noise, N).log()
            assert (bound - nll).min().item() > -1e-10, (name, N)
            if N == 1 and (name == "exact" or kind == "mask"):  # x_1 carries no information: no Jensen gap
                assert torch.allclose(bound, nll, atol=1e-10)
            if name == "exact":
                means.append((DATA.prob() * bound).sum().item())
    assert means == sorted(means, reverse=True) and means[-1] > entropy(DATA.prob())


def test_every_position_of_the_play_panel_draws_a_figure():
    """Oracle: the panel's own busy line (ui.widgets.panel shows "could not draw" there when ``draw`` fails or makes no
    figure). Every noise × schedule × sampler, at 1 and 64 steps — Euler with uniform noise included, which has no
    finite first step and must say so in a figure rather than leave the old one."""
    built = discrete_panel()
    controls = [c for row in built.children[:-2] for c in row.children]
    busy, image = built.children[-2], built.children[-1]
    for kind, schedule, sampler, steps in itertools.product(("mask", "uniform"), ("linear", "cosine"),
                                                            ("posterior", "euler"), (1, 64)):
        for control, value in zip(controls, (kind, schedule, sampler, steps)):
            control.value = value
        assert "could not draw" not in busy.value, (kind, schedule, sampler, steps, busy.value)
        assert image.value, (kind, schedule, sampler, steps)

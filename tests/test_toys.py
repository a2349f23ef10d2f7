"""Tests of diffedu.toys: the Gaussian mixture's exact quantities at any t, exact sampling, and the 2-D sets.

Oracles: a Monte Carlo posterior mean by self-normalised importance weights (denoiser), autograd of the exact
log-density (score), the continuity equation ∂ₜp + ∇·(p v) = 0 by autograd (velocity), the closed-form moments and the
exact 1-D CDF of p_t (sampling), each Monte Carlo check with a tolerance derived from its own standard error.
"""
from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from diffedu.processes import make_process
from diffedu.toys import DATASETS_2D, GaussianMixture, gmm_1d, gmm_2d, gmm_nd, sample_2d, softmax


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name,t", [("vp", 0.3), ("flow", 0.5), ("edm", 0.8)])
def test_denoiser_matches_monte_carlo_posterior_mean(name, t):
    """Oracle: E[x0 | x_t] by self-normalised importance sampling — draw x0_i ~ q (N = 200 000), weight each by the
    Gaussian likelihood N(x_t; α x0_i, σ² I), average. Tolerance: 5 standard errors of the self-normalised estimator
    (its delta-method variance Σ w_i² (x0_i − m)² / (Σ w_i)²), which here is below 0.02; a wrong denoiser (e.g. α
    replaced by 1, or the prior mean) is off by more than 0.1 at these points."""
    process, gmm = make_process(name), gmm_2d()
    alpha_t, sigma_t = (c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
    x0 = gmm.sample(200_000, generator=gen(0))  # (N, 2)
    x_t = gmm.sample(6, t, process, generator=gen(1))  # (Q, 2) query points drawn from p_t
    log_w = -((x_t[:, None, :] - alpha_t * x0[None]) ** 2).sum(-1) / (2 * sigma_t**2)  # (Q, N)
    w = torch.softmax(log_w, dim=1)  # normalised weights
    m = w @ x0  # (Q, 2) Monte Carlo posterior mean
    se = ((w[..., None] ** 2) * (x0[None] - m[:, None]) ** 2).sum(1).sqrt()  # (Q, 2)
    assert float(se.max()) < 0.02, "the Monte Carlo estimate is too noisy to test anything"
    exact = gmm.denoiser(x_t, t, process)
    assert bool(((exact - m).abs() <= 5 * se + 1e-6).all()), f"exact {exact}\nMonte Carlo {m}\nse {se}"


@pytest.mark.parametrize("per_sample", [False, True], ids=["scalar_t", "per_sample_t"])
@pytest.mark.parametrize("name", ["vp", "cosine", "ve", "edm", "flow", "ddpm"])
def test_score_is_gradient_of_log_prob(name, per_sample):
    """Oracle: autograd of the exact log p_t(x) (float64, 1e-9), for a 2-D and a 5-D mixture with full covariances."""
    process = make_process(name)
    for gmm in (gmm_2d(), gmm_nd(5, 4)):
        span = process.t_max - process.t_min
        t = (process.t_min + span * torch.linspace(0.05, 0.9, 8, dtype=torch.float64) if per_sample
             else torch.tensor(process.t_min + 0.3 * span, dtype=torch.float64))
        x = gmm.sample(8, t, process, generator=gen(2)).requires_grad_(True)
        (grad,) = torch.autograd.grad(gmm.log_prob(x, t, process).sum(), x)
        torch.testing.assert_close(gmm.score(x.detach(), t, process), grad, rtol=1e-9, atol=1e-9)


def test_data_score_and_log_prob():
    """Oracle: with no process, log_prob is the data log-density summed by hand over components (scipy), and the
    score its autograd gradient."""
    gmm = gmm_2d()
    x = gmm.sample(10, generator=gen(3))
    ref = torch.tensor([math.log(sum(w * stats.multivariate_normal(m.numpy(), c.numpy()).pdf(xi.numpy())
                                     for w, m, c in zip(gmm.weights, gmm.means, gmm.covs))) for xi in x],
                       dtype=torch.float64)
    torch.testing.assert_close(gmm.log_prob(x), ref, rtol=1e-10, atol=1e-10)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(gmm.log_prob(x).sum(), x)
    torch.testing.assert_close(gmm.score(x.detach()), grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["vp", "cosine", "ve", "flow"])
def test_velocity_solves_the_continuity_equation(name):
    """Oracle: the probability-flow velocity transports p_t: ∂ₜ log p + ∇·v + v·∇log p = 0, every term by autograd
    (float64, 1e-7)."""
    process, gmm = make_process(name), gmm_2d()
    t0 = process.t_min + 0.35 * (process.t_max - process.t_min)
    x = gmm.sample(6, t0, process, generator=gen(4))
    t = torch.full((6,), t0, dtype=torch.float64, requires_grad=True)
    (dt_log_p,) = torch.autograd.grad(gmm.log_prob(x, t, process).sum(), t)  # (N,)
    x = x.clone().requires_grad_(True)
    v = gmm.velocity(x, t0, process)  # (N, 2)
    div = sum(torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(2))  # (N,)
    residual = dt_log_p + div + (v * gmm.score(x, t0, process)).sum(1)
    torch.testing.assert_close(residual.detach(), torch.zeros(6, dtype=torch.float64), rtol=0, atol=1e-7)


@pytest.mark.parametrize("name", ["vp", "edm", "ddpm"])
def test_eps_and_velocity_follow_from_the_denoiser(name):
    """Oracle: ε̂ = (x_t − α x̂0)/σ and v̂ = α̇ x̂0 + σ̇ ε̂ written by hand from the exact denoiser (1e-10)."""
    process, gmm = make_process(name), gmm_2d()
    t = torch.tensor(process.t_min + 0.6 * (process.t_max - process.t_min), dtype=torch.float64)
    x_t = gmm.sample(12, t, process, generator=gen(5))
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.coefficients(t)
    x0_hat = gmm.denoiser(x_t, t, process)
    eps_hat = (x_t - alpha_t * x0_hat) / sigma_t
    torch.testing.assert_close(gmm.eps(x_t, t, process), eps_hat, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gmm.velocity(x_t, t, process), d_alpha_t * x0_hat + d_sigma_t * eps_hat,
                               rtol=1e-10, atol=1e-10)


def test_sampling_at_t_matches_the_moments_of_p_t():
    """Oracle: closed-form moments of p_t — mean α Σπμ, covariance α²(Σπ(Σ_k + μμᵀ) − m mᵀ) + σ² I. N = 100 000
    samples; tolerance 5 standard errors of each empirical moment (SE estimated from the samples themselves)."""
    process, gmm, t, n = make_process("vp"), gmm_2d(), 0.3, 100_000
    alpha_t, sigma_t = (c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
    pi, mu, cov = gmm.weights, gmm.means, gmm.covs
    m0 = pi @ mu
    second = (pi[:, None, None] * (cov + mu[:, :, None] * mu[:, None, :])).sum(0)
    mean_t, cov_t = alpha_t * m0, alpha_t**2 * (second - torch.outer(m0, m0)) + sigma_t**2 * torch.eye(2, dtype=torch.float64)
    x = gmm.sample(n, t, process, generator=gen(6))
    assert x.shape == (n, 2) and x.dtype == torch.float64
    se_mean = x.std(0) / math.sqrt(n)
    assert bool(((x.mean(0) - mean_t).abs() < 5 * se_mean).all()), (x.mean(0), mean_t)
    centred = x - mean_t
    products = centred[:, :, None] * centred[:, None, :]  # (N, 2, 2)
    se_cov = products.std(0) / math.sqrt(n)
    assert bool(((products.mean(0) - cov_t).abs() < 5 * se_cov).all()), (products.mean(0), cov_t)
    # the marginal mixture has the same moments and the same density
    marginal = gmm.marginal(t, process)
    torch.testing.assert_close(marginal.log_prob(x[:50]), gmm.log_prob(x[:50], t, process), rtol=1e-12, atol=1e-12)


def test_sampling_at_t_passes_a_ks_test_against_the_exact_cdf():
    """Oracle: the exact CDF of the 1-D p_t, Σπ_k Φ((x − α μ_k)/√(α² s_k² + σ²)). Kolmogorov–Smirnov with N = 20 000
    (fixed seed): p-value > 0.01 for samples at the right t; and the same test rejects samples drawn at a nearby
    wrong t (p < 1e-6), so it has the power to fail."""
    process, gmm, n = make_process("cosine"), gmm_1d(), 20_000
    pi, mu, var = gmm.weights.numpy(), gmm.means[:, 0].numpy(), gmm.covs[:, 0, 0].numpy()

    def cdf_at(t):
        alpha_t, sigma_t = (c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64))[:2])
        scale = (alpha_t**2 * var + sigma_t**2) ** 0.5
        return lambda x: sum(p * stats.norm.cdf(x, alpha_t * m, s) for p, m, s in zip(pi, mu, scale))

    right = gmm.sample(n, 0.4, process, generator=gen(7))[:, 0].numpy()
    wrong = gmm.sample(n, 0.5, process, generator=gen(8))[:, 0].numpy()
    assert stats.kstest(right, cdf_at(0.4)).pvalue > 0.01
    assert stats.kstest(wrong, cdf_at(0.4)).pvalue < 1e-6


def test_sample_is_reproducible_and_labelled():
    """Oracle: the same generator seed gives identical samples; labels are those of the drawn components."""
    gmm = gmm_2d()
    a = gmm.sample(100, 0.5, make_process("vp"), generator=gen(9))
    b = gmm.sample(100, 0.5, make_process("vp"), generator=gen(9))
    assert torch.equal(a, b)
    x, y = gmm.sample(2000, generator=gen(10), return_labels=True)
    assert x.shape == (2000, 2) and set(y.tolist()) == {0, 1, 2}
    # a sample's nearest component (in Mahalanobis terms: highest responsibility) almost always carries its label
    k = gmm.responsibilities(x).argmax(1)
    assert float((gmm.labels[k] == y).double().mean()) > 0.97
    assert gmm.sample(0).shape == (0, 2)


def test_responsibilities_and_restrict():
    """Oracle: responsibilities are a probability vector per point; restricting to a label keeps exactly the
    components with that label and renormalises their weights."""
    gmm = gmm_2d()
    r = gmm.responsibilities(gmm.sample(20, generator=gen(11)), 0.5, make_process("flow"))
    assert r.shape == (20, 6)
    torch.testing.assert_close(r.sum(1), torch.ones(20, dtype=torch.float64))
    part = gmm.restrict(1)
    assert part.n_components == 2 and part.labels.tolist() == [1, 1]
    torch.testing.assert_close(part.means, gmm.means[2:4])
    torch.testing.assert_close(part.weights, gmm.weights[2:4] / gmm.weights[2:4].sum())


def test_float32_and_dtype_copy():
    """Oracle: a float32 copy agrees with the float64 mixture to single precision."""
    gmm, process = gmm_2d(), make_process("vp")
    x = gmm.sample(10, 0.5, process, generator=gen(12))
    g32 = gmm.to(dtype=torch.float32)
    out = g32.score(x.float(), 0.5, process)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), gmm.score(x, 0.5, process), rtol=1e-4, atol=1e-4)


def test_ready_made_mixtures():
    """Oracle: the documented shapes — gmm_2d 6 components in 3 classes, gmm_1d 2 components, gmm_nd(D, K)."""
    assert (gmm_2d().n_components, gmm_2d().dim) == (6, 2) and sorted(set(gmm_2d().labels.tolist())) == [0, 1, 2]
    assert (gmm_1d().n_components, gmm_1d().dim) == (2, 1)
    g = gmm_nd(7, 3)
    assert (g.n_components, g.dim) == (3, 7)
    assert bool((torch.linalg.eigvalsh(g.covs) > 0.04).all())


@pytest.mark.parametrize("name", sorted(DATASETS_2D))
def test_sample_2d_sets(name):
    """Oracle: shape (n, 2), finite, inside a box of radius 4, reproducible with a seeded generator."""
    x = sample_2d(name, 500, generator=gen(13))
    assert x.shape == (500, 2) and x.dtype == torch.float64
    assert bool(torch.isfinite(x).all()) and float(x.abs().max()) < 4
    assert torch.equal(x, sample_2d(name, 500, generator=gen(13)))
    assert not torch.equal(x, sample_2d(name, 500, generator=gen(14)))


# --- bad input -----------------------------------------------------------------------------------------------
def test_bad_mixture_parameters():
    """Oracle: ValueError naming the argument for bad weights, means, covariances and labels."""
    with pytest.raises(ValueError, match="weights must be"):
        GaussianMixture([0.5, -0.5], [[0.0], [1.0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixture([1.0], [0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="covs must have shape"):
        GaussianMixture([1.0], [[0.0, 1.0]], torch.eye(3)[None])
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture([1.0], [[0.0, 1.0]], torch.tensor([[[1.0, 2.0], [2.0, 1.0]]]))
    with pytest.raises(ValueError, match="standard deviations"):
        GaussianMixture([1.0], [[0.0, 1.0]], [0.0])
    with pytest.raises(ValueError, match="labels must have shape"):
        GaussianMixture([1.0], [[0.0, 1.0]], [1.0], labels=[0, 1])
    with pytest.raises(ValueError, match="label must be one of"):
        gmm_2d().restrict(7)
    with pytest.raises(ValueError, match="dim and n_components"):
        gmm_nd(0)


def test_bad_points_and_times():
    """Oracle: wrong x shapes raise ValueError naming x; non-tensors TypeError; t with the wrong length or outside
    [t_min, t_max] ValueError naming t; bad n for sampling ValueError naming n."""
    gmm, process = gmm_2d(), make_process("vp")
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        gmm.score(torch.zeros(4, 3), 0.5, process)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        gmm.log_prob(torch.zeros(2))
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        gmm.denoiser([[0.0, 0.0]], 0.5, process)
    with pytest.raises(ValueError, match="t must be a scalar or have shape"):
        gmm.score(torch.zeros(4, 2, dtype=torch.float64), torch.full((3,), 0.5), process)
    with pytest.raises(ValueError, match="t must lie in"):
        gmm.denoiser(torch.zeros(4, 2, dtype=torch.float64), 1.5, process)
    with pytest.raises(ValueError, match="n must be"):
        gmm.sample(-1)
    with pytest.raises(ValueError, match="t and process must be given together"):
        gmm.score(torch.zeros(4, 2, dtype=torch.float64), 0.5)
    with pytest.raises(ValueError, match="t and process must be given together"):
        gmm.sample(4, 0.5)
    with pytest.raises(ValueError, match="unknown data set name 'spiral'"):
        sample_2d("spiral", 10)
    with pytest.raises(ValueError, match="n must be an integer ≥ 1"):
        sample_2d("moons", 0)
    with pytest.raises(ValueError, match="noise must be"):
        sample_2d("moons", 10, noise=-0.1)


@pytest.mark.parametrize("name", ["vp", "ddpm", "edm", "flow", "cosine"])
@pytest.mark.parametrize("kind", ["x0", "eps", "score", "velocity"])
def test_the_float_time_fast_path_matches_the_batched_time_path(name, kind):
    """Oracle: the mixture's predictor asked at a time given as a 0-d tensor (the general path: a batch of B equal
    times through process.coefficients and convert) — the float-time path (the process's memoised float α, σ and
    convert's memoised float64 (P, Q)) must agree to float64 rounding (1e-12 relative) at interior times, in every
    kind."""
    process, gmm = make_process(name), gmm_2d()
    pred = gmm.predictor(process)
    x = gmm.sample(300, generator=gen(1)) * 1.5
    for frac in (0.05, 0.37, 0.9):
        t = process.t_min + frac * (process.t_max - process.t_min)
        fast, slow = pred(x, float(t), kind), pred(x, torch.tensor(float(t), dtype=torch.float64), kind)
        assert torch.allclose(fast, slow, rtol=1e-12, atol=1e-12 * slow.abs().max().item()), (name, kind, t)


def test_the_float_time_fast_path_refuses_what_convert_refuses():
    """Oracle: parametrization.convert's rule — at σ_t = 0 (t = 0 of VP) x_t and x̂₀ do not determine ε or the score:
    a ValueError, on the fast path as on the general one; x0 itself is answered there."""
    process, gmm = make_process("vp"), gmm_2d()
    pred, x = gmm.predictor(process), gmm.sample(10, generator=gen(2))
    for kind in ("eps", "score"):
        with pytest.raises(ValueError):
            pred(x, 0.0, kind)
    assert torch.allclose(pred(x, 0.0, "x0"), x, atol=1e-12)  # at σ = 0 the denoiser returns x itself


def test_softmax_matches_torch():
    """Oracle: torch.softmax, to float64 rounding, including rows with −inf entries and large offsets."""
    a = torch.randn(50, 6, generator=gen(3), dtype=torch.float64) * 30 + 500
    a[0, :3] = -math.inf
    assert torch.allclose(softmax(a), torch.softmax(a, -1), rtol=1e-13, atol=1e-300)

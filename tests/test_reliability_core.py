"""Reliability of the core (review D5–D8, D11–D13): no silent mismatch, no raw exception, no NaN from finite input.

Each test is a reproducer from the review. Oracles: the exact value where there is one (√10 for VP(0, 20)'s σ̇ at 0,
see each test), else the contract that bad input ends in a ValueError/TypeError
raised by diffedu's own code and naming the argument.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import diffedu as D
from diffedu import EDM, VE, VP, Denoiser, Predictor, RectifiedFlow
from diffedu.course.elbo import ddim_invert, elbo_terms
from diffedu.course.fokker_planck import reverse_family
from diffedu.losses import denoising_loss, dsm_loss, edm_loss, eps_loss, esm_loss, sample_sigma_lognormal
from diffedu.metrics import classifier_features, conditional_accuracy, frechet_distance, mmd


def _raised_by_diffedu(excinfo) -> bool:
    """The exception was raised by a ``raise`` inside diffedu/ (its innermost frame is diffedu's own code)."""
    tb = excinfo.tb
    while tb.tb_next is not None:
        tb = tb.tb_next
    return "/diffedu/" in tb.tb_frame.f_code.co_filename


def refused(fn, *args, match: str, exc=(ValueError, TypeError), **kw) -> None:
    """fn(*args, **kw) raises ValueError/TypeError from diffedu's code with a message matching ``match``."""
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kw)
    assert _raised_by_diffedu(info), info.traceback[-1]


# --- D5: a Denoiser refuses a predictor built for another process -------------------------------------------------
def test_denoiser_refuses_a_predictor_of_another_process():
    """Oracle: the predictor's own ``process`` differs from the Denoiser's (EDM vs VP; VP ε vs flow); an equal
    process (same class, same parameters) is accepted."""
    gmm, edm = D.gmm_2d(), EDM()
    P = Predictor(lambda x, t: gmm.denoiser(x, t, edm), "x0", edm)
    refused(Denoiser, VP(), P, "heun", "karras", match="built for EDM")
    refused(Denoiser, RectifiedFlow(), gmm.predictor(VP()), match="built for VP")
    refused(Denoiser, VP(0.1, 10.0), gmm.predictor(VP()), match="built for VP")
    Denoiser(EDM(), P, "heun", "karras")  # an equal process
    x = Denoiser(edm, P, "heun", "karras").sample(8, 3, shape=(2,), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all()


# --- D6: a network output of the wrong shape is refused outside the integrators too -------------------------------
def test_network_output_shapes_are_checked():
    """Oracle: a (B, 1) or (1, D) output for (B, D) data would broadcast; every function refuses it naming x's shape."""
    net1 = torch.nn.Linear(2, 1)
    x0, p = torch.randn(16, 2), VP()
    refused(eps_loss, lambda x, t: net1(x), x0, p, match=r"shape \(16, 2\)")
    refused(denoising_loss, lambda x, t: torch.zeros(1, 2), x0, p, "eps", torch.full((16,), .5), torch.randn(16, 2),
            match=r"got \(1, 2\)")
    refused(esm_loss, lambda x, t: x[:, :1], x0, torch.full((16,), .5), x0, match="score_net")
    refused(reverse_family, x0, [0.9, 0.5, 0.1], lambda x, t: x[:1], p, match="score")
    refused(elbo_terms, lambda x, t: x[:, :1], torch.randn(4, 2), D.DiscreteDDPM(T=5), match="eps_model")
    refused(ddim_invert, torch.randn(4, 2), [0.0, 0.5, 1.0], lambda x, t, kind: x[:1], p, match="predictor")
    guided = D.ClassifierGuidance(D.gmm_2d().predictor(p), lambda x, t, y: x[:, :1], p)
    refused(guided, x0, torch.tensor(.5), "x0", y=torch.zeros(16, dtype=torch.long), match="classifier_grad")
    refused(guided, x0, torch.tensor(.5), "x0", match="needs labels")
    cfg = D.CondDenoiser(p, D.MixturePredictor(D.GaussianMixture([.5, .5], [[-1.0, 0.0], [1.0, 0.0]], [.5, .5],
                                                                 labels=[0, 1]), p), w=2.0, null_label=-1)
    refused(cfg.sample, 4, 3, shape=(2,), match="needs labels")


# --- D7: the metrics refuse non-finite images, with the count ------------------------------------------------------
class _TinyClassifier(torch.nn.Module):
    def features(self, x):
        return x.flatten(1)[:, :4]

    def forward(self, x):
        return x.flatten(1)[:, :10]


def test_metrics_refuse_non_finite_images():
    """Oracle: argmax of NaN logits is 0, which made all-NaN images score 1.0 against label 0; now a ValueError
    counts the non-finite images (3 of 20)."""
    clf, x = _TinyClassifier(), torch.zeros(20, 1, 4, 4)
    x[:3, 0, 0, 0] = float("nan")
    refused(conditional_accuracy, clf, x, torch.zeros(20, dtype=torch.long), match="3 of 20")
    refused(classifier_features, clf, x, match="3 of 20")
    feats = torch.randn(20, 4)
    bad = feats.clone()
    bad[5, 1] = float("inf")
    refused(frechet_distance, bad, feats, match="1 of 20")
    refused(mmd, feats, feats, bandwidth=float("inf"), match="bandwidth")


# --- D8: seeds --------------------------------------------------------------------------------------------------
def test_seed_takes_numpy_integers_and_refuses_out_of_range():
    """Oracle: seed(np.int64(3)) draws what seed(3) draws; 2**32 (beyond NumPy's range), -1, 1.5, 'a' are refused."""
    a = torch.randn(3, generator=D.seed(np.int64(3)))
    assert torch.equal(a, torch.randn(3, generator=D.seed(3)))
    for bad in (2**32, -1, 1.5, "a", None, True):
        refused(D.seed, bad, match="seed")


# --- D11: finite answers at the edges ------------------------------------------------------------------------------
def test_vp_sigma_derivative_at_zero_is_its_finite_limit():
    """Oracle: for VP with β_min = 0, σ² = 1 − exp(−β_max t²/2) ≈ β_max t²/2 near 0, so σ'(0) = √(β_max/2) = √10 for
    β_max = 20 (and +∞ when β_min > 0, where σ ≈ √(β_min t))."""
    d = VP(0.0, 20.0).d_sigma(torch.tensor([0.0, 1e-6], dtype=torch.float64))
    assert math.isclose(float(d[0]), math.sqrt(10), rel_tol=1e-12)
    assert math.isclose(float(d[1]), math.sqrt(10), rel_tol=1e-6)  # continuous: the formula just beside 0
    assert math.isinf(float(VP(0.1, 20.0).d_sigma(0.0)))


def test_degenerate_values_refused():
    """Oracle: each value makes the computation meaningless (an overflowing σ ratio, an empty batch, the infinite
    score target at σ = 0, an infinite p_std, a negative σ cap, an overflowing ρ)."""
    refused(VE, 1e-300, 1e300, match="sigma_max / sigma_min")
    refused(eps_loss, lambda x, t: x, torch.empty(0, 2), VP(), match="at least one sample")
    refused(dsm_loss, lambda x, t: x, torch.randn(4, 2), VP(), t=torch.zeros(4), match="σ_t = 0")
    refused(edm_loss, lambda x, t: x, torch.randn(4, 2), EDM(), p_std=float("inf"), match="p_std")
    refused(sample_sigma_lognormal, 4, sigma_max=-1.0, match="sigma_max")
    refused(D.make_grid, "karras", EDM(), 10, rho=1e-3, match="rho")


# --- D12 / D13: wrong types and silently accepted nonsense ---------------------------------------------------------
@pytest.mark.parametrize("bad", [None, "a", "0.5", 0.5 + 0.1j, torch.tensor([0.5 + 0.1j])])
def test_times_of_the_wrong_type(bad):
    """Oracle: a time must be a real number or a real tensor; a complex one used to lose its imaginary part."""
    refused(VP().alpha, bad, match="t")


@pytest.mark.parametrize("bad", [None, "a", float("nan"), 0, 2.5, True])
def test_step_counts_of_the_wrong_type(bad):
    """Oracle: n_steps is an integer ≥ 1 (the timers and the integrators' grids)."""
    refused(D.make_grid, "karras", EDM(), bad, match="n_steps")


def test_nonsense_refused():
    """Oracle: each input has no meaning here — a process given as a string, no process, a negative guidance scale
    for a pretrained-style sampler, a generator that is not one."""
    refused(Predictor, lambda x, t: x, "x0", "edm", match="process")
    refused(Denoiser, None, lambda x, t, k: x, match="process")
    refused(D.sample_2d, "moons", 10, dtype=torch.int64, match="dtype")


def test_wrong_types_in_the_samplers_and_toys():
    """Oracle: each argument has a type the code cannot use (review D12); the error is diffedu's and names it."""
    from diffedu.course.langevin import annealed_langevin
    from diffedu.integrators import euler, euler_maruyama, euler_maruyama_step
    p, x = VP(), torch.randn(4, 2)
    pred = D.gmm_2d().predictor(p)
    refused(euler, x, None, pred, p, match="ts")
    refused(euler, x, [1.0, 0.5], None, p, match="predictor")
    refused(euler, x, [1.0, 0.5], pred, None, match="process")
    refused(euler, x, [1.0, 0.5], pred, p, callback=3, match="callback")
    refused(euler_maruyama, x, [0.9, 0.5], pred, p, generator=5, match="generator")
    refused(euler_maruyama_step, x, 0.5, 0.9, pred, p, match="t_next must be < t")
    refused(euler_maruyama_step, x, "a", 0.1, pred, p, match="t ")
    score = lambda y, s: -y / (1 + s**2)
    for sigmas in ([1.0, 0.0], [], [1.0, -0.5]):
        refused(annealed_langevin, x, score, sigmas, 0.1, 2, match="sigmas")
    refused(D.GaussianMixture, [1.0], [[0.0, 0.0]], [1.0], dtype=torch.float16, match="dtype")
    refused(D.GaussianMixture, [1.0], torch.zeros(1, 0), [1.0], match="D ≥ 1")
    refused(D.GaussianMixture, [.5, .5], [[0.0], [1.0]], [1.0, 1.0], labels=[0.5, 1.7], match="labels")
    refused(D.gmm_2d().log_prob, torch.ones(3, 2, dtype=torch.long), match="floating-point")
    refused(D.gmm_2d().to, dtype=torch.int64, match="dtype")
    refused(D.Matrix, [[float("nan"), 1.0]], match="finite")


def test_degenerate_values_in_the_chapters_computations():
    """Oracle: each input makes the answer undefined (review D11–D13): relative errors against an all-zero prediction,
    one Tweedie gap for several times, no data samples to average, σ_data = 0, a zero-sample draw, an SNR of 1e9."""
    from diffedu.course.edm_design import precond_variances
    from diffedu.course.flows import marginal_velocity_mc
    from diffedu.course.guidance_demos import tilted_samples
    from diffedu.integrators import predictor_corrector
    p, x = VP(), torch.randn(6, 2, dtype=torch.float64)
    refused(D.roundtrip_errors, x, 0.5, p, torch.zeros(6, 2, dtype=torch.float64), match="pred")
    refused(D.tweedie_gap, D.gmm_2d(), x, torch.full((6,), 0.5), p, match="one time")
    refused(marginal_velocity_mc, x, 0.5, p, torch.empty(0, 2, dtype=torch.float64), match="x0_samples")
    refused(precond_variances, x, torch.tensor([1.0]), 0.0, match="sigma_data")
    gmm = D.GaussianMixture([.5, .5], [[-1.0, 0.0], [1.0, 0.0]], [0.5, 0.5], labels=[0, 1])
    refused(tilted_samples, gmm, 0, 2.0, 0, match="n")
    refused(tilted_samples, gmm, 0, 2.0, 10, cells=0, match="cells")
    refused(predictor_corrector, x, [0.9, 0.5], D.gmm_2d().predictor(p), p, snr=1e9, match="snr")

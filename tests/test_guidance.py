"""Tests of diffedu.guidance (chapter 11).

Oracles: the labelled Gaussian mixture's exact conditional and unconditional models (``MixturePredictor``, built on
``GaussianMixture.restrict`` and its closed-form denoiser); separate calls of the predictor (CFG must be exactly the
affine combination of the two); float64 conversions between kinds (CFG is the same field in every kind);
Monte Carlo estimates with stated tolerances; and exact samples of the same size (the finite-sample floor).
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu import KINDS, Predictor, convert, gmm_2d, make_process
from diffedu.course.guidance_demos import (MixturePredictor, cfg_mixture, inverse_mixture, mixture_classifier,
                                           mixture_classifier_grad, tilted_samples)
from diffedu.course import mnist_demos
from diffedu.guidance import ClassifierFreeGuidance, ClassifierGuidance, Mask, Matrix, Projection, dps, linear_gaussian_posterior
from diffedu.metrics import sliced_wasserstein
from diffedu.denoiser import Denoiser

NULL = 3  # the no-label class of gmm_2d's labels 0, 1, 2
PROCESSES = ("vp", "cosine", "edm", "flow")
TIMES = {"vp": 0.4, "cosine": 0.5, "edm": 0.8, "flow": 0.45}


def network(process_name: str, net_kind: str):
    """A stand-in network that predicts ``net_kind`` exactly (the mixture's conditional model), wrapped in Predictor."""
    gmm, process = gmm_2d(), make_process(process_name)
    exact = MixturePredictor(gmm, process, null_label=NULL)
    net = lambda x, t, y=None: exact(x, t, net_kind, y=y)  # noqa: E731
    return Predictor(net, net_kind, process), exact, process


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_t = 1.5 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return x_t, y


# --- classifier-free guidance -----------------------------------------------------------------------------------
@pytest.mark.parametrize("process_name", PROCESSES)
@pytest.mark.parametrize("net_kind", KINDS)
def test_cfg_w1_is_conditional_w0_is_unconditional(process_name, net_kind):
    """Oracle: the mixture's exact conditional model q(x0 | y) (w = 1) and unconditional q(x0) (w = 0), every kind
    the network may predict and every kind asked for, float64 to 1e-9 relative."""
    pred, exact, process = network(process_name, net_kind)
    x_t, y = batch()
    t = TIMES[process_name]
    for kind in KINDS:
        cond = ClassifierFreeGuidance(pred, 1.0, null_label=NULL)(x_t, t, kind, y=y)
        uncond = ClassifierFreeGuidance(pred, 0, null_label=NULL)(x_t, t, kind, y=y)
        torch.testing.assert_close(cond, exact(x_t, t, kind, y=y), rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(uncond, exact(x_t, t, kind, y=torch.full_like(y, NULL)), rtol=1e-9, atol=1e-9)
        assert not torch.allclose(cond, uncond)  # the two models really differ here


@pytest.mark.parametrize("w", [0.5, 1.0 - 1e-9, 2.5, -1.0])
def test_cfg_is_the_affine_combination(w):
    """Oracle: two separate calls of the predictor, combined by hand: (1 − w)·u(∅) + w·u(y) (one batched call inside,
    float64 to 1e-12); w just below 1 is within 1e-7 of the conditional model (continuity through the w = 1 branch)."""
    pred, exact, process = network("vp", "eps")
    x_t, y = batch(seed=1)
    t = torch.rand(len(y), generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 0.8 + 0.1  # one t each
    u_null, u_cond = pred(x_t, t, "velocity", y=torch.full_like(y, NULL)), pred(x_t, t, "velocity", y=y)
    got = ClassifierFreeGuidance(pred, w, null_label=NULL)(x_t, t, "velocity", y=y)
    torch.testing.assert_close(got, (1 - w) * u_null + w * u_cond, rtol=1e-12, atol=1e-12)
    if abs(w - 1) < 1e-6:
        torch.testing.assert_close(got, u_cond, rtol=0, atol=1e-7)


@pytest.mark.parametrize("process_name", PROCESSES)
def test_cfg_is_parametrization_invariant(process_name):
    """Oracle: float64 conversion. Guiding an ε-network and converting the result to kind k equals guiding an
    x0-, score- or velocity-network in kind k (w = 3, to 1e-8 relative)."""
    x_t, y = batch(seed=3)
    t = TIMES[process_name]
    eps_net, _, process = network(process_name, "eps")
    guided_eps = ClassifierFreeGuidance(eps_net, 3.0, null_label=NULL)(x_t, t, "eps", y=y)
    for net_kind in KINDS:
        other, _, _ = network(process_name, net_kind)
        guided = ClassifierFreeGuidance(other, 3.0, null_label=NULL)(x_t, t, net_kind, y=y)
        torch.testing.assert_close(guided, convert(guided_eps, "eps", net_kind, x_t, t, process), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("w", [float("nan"), float("inf"), -float("inf"), "2", None, True, 1j])
def test_cfg_bad_w(w):
    """Oracle: the documented error — w must be a finite real number, and the message names w."""
    pred, _, _ = network("vp", "x0")
    with pytest.raises(ValueError, match=r"\bw must be a finite real number"):
        ClassifierFreeGuidance(pred, w, null_label=NULL)


def test_cfg_bad_labels():
    """Oracle: the documented errors for labels of the wrong shape or type, and a label outside the model's range."""
    pred, _, _ = network("vp", "x0")
    cfg = ClassifierFreeGuidance(pred, 2.0, null_label=NULL)
    x_t, y = batch(8)
    with pytest.raises(ValueError, match=r"y must have shape \(8,\)"):
        cfg(x_t, 0.5, y=y[:5])
    with pytest.raises(ValueError, match="y must be an integer label"):
        cfg(x_t, 0.5, y=y.double())
    with pytest.raises(ValueError, match="y must hold labels"):
        cfg(x_t, 0.5, y=torch.full_like(y, 7))
    assert torch.equal(cfg(x_t, 0.5, y=1), cfg(x_t, 0.5, y=torch.ones_like(y)))  # an int label is broadcast


# --- classifier guidance on the mixture ------------------------------------------------------------------------------
def test_mixture_classifier_gradient_matches_autograd():
    """Oracle: autograd of the exact log p_t(y | x_t) (responsibilities grouped by label) against the closed form
    ∇ log p_t(x | y) − ∇ log p_t(x), float64 to 1e-9; and the classifier's probabilities sum to one."""
    gmm, process = gmm_2d(), make_process("vp")
    x_t, y = batch(32, seed=4)
    x = x_t.clone().requires_grad_(True)
    log_p = mixture_classifier(gmm, x, 0.3, process)  # (N, 3)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(32, dtype=torch.float64), rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad(log_p.gather(1, y[:, None]).sum(), x)
    torch.testing.assert_close(mixture_classifier_grad(gmm, x_t, 0.3, process, y), grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("w", [1.0, 3.0])
def test_classifier_guidance_equals_cfg_with_exact_models(w):
    """Oracle: Bayes' rule. With exact ingredients, CFG's (1 − w) s(x) + w s(x | y) equals classifier guidance
    s(x) + w ∇ log p(y | x) — the same field, float64 to 1e-9, in every kind."""
    gmm, process = gmm_2d(), make_process("edm")
    exact = MixturePredictor(gmm, process, null_label=NULL)
    cg = ClassifierGuidance(lambda x, t, kind: exact(x, t, kind), lambda x, t, y: mixture_classifier_grad(gmm, x, t, process, y),
                            process, scale=w)
    cfg = ClassifierFreeGuidance(exact, w, null_label=NULL)
    x_t, y = batch(seed=5)
    for kind in KINDS:
        torch.testing.assert_close(cg(x_t, 0.7, kind, y=y), cfg(x_t, 0.7, kind, y=y), rtol=1e-9, atol=1e-9)


def _sw(a, b):
    return float(sliced_wasserstein(a, b, n_projections=256, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("how", ["cfg", "classifier"])
def test_guided_sampling_with_exact_conditional_score_matches_conditional(how):
    """Oracle: exact samples of q(x0 | y = 1). Sampling (Heun, 30 EDM steps, n = 1500) with the exact conditional
    score — CFG at w = 1, or classifier guidance at scale 1 — lands within SW ≤ floor + 0.03, where the floor is the SW
    between two exact sets of the same size (≈ 0.03); at w = 3 the same sampler is far off (SW > 5 × floor)."""
    gmm, process = gmm_2d(), make_process("edm")
    exact = MixturePredictor(gmm, process, null_label=NULL)
    g = torch.Generator().manual_seed(6)
    ref, ref2 = gmm.restrict(1).sample(1500, generator=g), gmm.restrict(1).sample(1500, generator=g)
    floor = _sw(ref, ref2)

    def guided(w):
        if how == "cfg":
            return ClassifierFreeGuidance(exact, w, null_label=NULL)
        return ClassifierGuidance(lambda x, t, kind: exact(x, t, kind),
                                  lambda x, t, y: mixture_classifier_grad(gmm, x, t, process, y), process, scale=w)

    x = Denoiser(process, guided(1.0), "heun", "karras").sample(1500, 30, shape=(2,), generator=g, y=1)
    assert _sw(x, ref) <= floor + 0.03, (_sw(x, ref), floor)
    x3 = Denoiser(process, guided(3.0), "heun", "karras").sample(1500, 30, shape=(2,), generator=g, y=1)
    assert _sw(x3, ref) > 5 * floor


def test_cfg_mixture_panel_at_slider_extremes():
    """Oracle: the exact class-0 samples and the tilted density tabulated on a grid. At w = 0 the panel's samples are
    unconditional (far from class 0, close to the tilted density = q(x0)); at w = 8 they are far from both, and the
    heavier component of the class takes more than its exact share (2/3) of the mass."""
    lo, hi = cfg_mixture(0.0, 0, n=600, n_steps=20), cfg_mixture(8.0, 0, n=600, n_steps=20)
    for r in (lo, hi):
        assert r["x"].shape == (600, 2) and torch.isfinite(r["x"]).all()
    assert lo["sw_exact"] > 10 * lo["floor_exact"] and lo["sw_tilted"] < 2 * lo["floor_tilted"] + 0.05
    assert hi["sw_exact"] > 5 * hi["floor_exact"] and hi["sw_tilted"] > 5 * hi["floor_tilted"]
    assert hi["mass"][0] > hi["exact_mass"][0] + 0.1
    with pytest.raises(ValueError, match="label must be 0, 1 or 2"):
        cfg_mixture(1.0, 5)
    with pytest.raises(ValueError, match=r"\bw must be a finite real number"):
        cfg_mixture(float("nan"), 0)


# --- linear inverse problems -------------------------------------------------------------------------------------------
CASES = {  # operator A, measurement y, σ_y
    "inpaint": ([[1.0, 0.0]], [-1.5], 0.05),
    "downsample": ([[0.5, 0.5]], [0.2], 0.05),
    "denoise": ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.8], 0.5),
}


def _case(name):
    A, y, sigma_y = CASES[name]
    return torch.tensor(A, dtype=torch.float64), torch.tensor(y, dtype=torch.float64), sigma_y


@pytest.mark.parametrize("name", list(CASES))
def test_exact_posterior_matches_importance_weighted_monte_carlo(name):
    """Oracle: self-normalised importance sampling — 400 000 prior draws weighted by N(y; A x0, σ_y² I). The closed-form
    posterior's mean, covariance and component probabilities agree within 6 Monte Carlo standard errors (computed from
    the effective sample size) plus 1e-3."""
    gmm = gmm_2d()
    A, y, sigma_y = _case(name)
    post = linear_gaussian_posterior(gmm, A, y, sigma_y)
    g = torch.Generator().manual_seed(7)
    comp = torch.multinomial(gmm.weights, 400_000, replacement=True, generator=g)
    z = torch.randn(400_000, 2, generator=g, dtype=torch.float64)
    x0 = gmm.means[comp] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(gmm.covs)[comp], z)
    log_w = -((y - x0 @ A.T) ** 2).sum(1) / (2 * sigma_y**2)
    wts = torch.softmax(log_w, 0)
    ess = 1 / (wts**2).sum()
    mean_mc = wts @ x0
    cov_mc = (wts[:, None] * (x0 - mean_mc)).T @ (x0 - mean_mc)
    comp_mc = torch.zeros(gmm.n_components, dtype=torch.float64).index_add_(0, comp, wts)
    mean = post.weights @ post.means
    cov = (post.weights[:, None, None] * (post.covs + torch.einsum("ki,kj->kij", post.means - mean, post.means - mean))).sum(0)
    se = (cov.diagonal() / ess).sqrt()
    assert ess > 500
    assert ((mean - mean_mc).abs() <= 6 * se + 1e-3).all(), (mean, mean_mc, se)
    assert ((cov - cov_mc).abs() <= 6 * (2 * cov.diagonal()[:, None] * cov.diagonal()[None, :] / ess).sqrt() + 1e-3).all()
    assert ((post.weights - comp_mc).abs() <= 6 * (post.weights * (1 - post.weights) / ess).sqrt() + 1e-3).all()


def _posterior_problem(name, n=1500, seed=8):
    gmm, process = gmm_2d(), make_process("vp")
    A, y, sigma_y = _case(name)
    post = linear_gaussian_posterior(gmm, A, y, sigma_y)
    g = torch.Generator().manual_seed(seed)
    ref, ref2 = post.sample(n, generator=g), post.sample(n, generator=g)
    pred = gmm.predictor(process)
    return gmm, process, pred, A, y, post, ref, ref2, g


def test_dps_denoising_misses_the_exact_posterior_for_every_zeta():
    """Oracle: exact posterior samples. With A = I and σ_y = 0.5 (the denoising problem of chapter 11), DPS's step
    never sees σ_y: across ζ from 0.003 to 0.3 (100 log-SNR steps, n = 1500) its SW to the exact posterior stays above
    0.6 and ten times the exact-vs-exact floor (measured: 0.72–1.37 against a floor of 0.06). Chapter 11 quotes this
    scan."""
    gmm, process, pred, A, y, post, ref, ref2, g = _posterior_problem("denoise")
    floor = _sw(ref, ref2)
    x_T = Denoiser(process, pred).prior(1500, (2,), g)
    for zeta in (0.003, 0.01, 0.03, 0.1, 0.3):
        x = Denoiser(process, pred, dps, "log_snr", operator=Matrix(A), measurement=y, zeta=zeta).sample(
            x_T, 100, generator=torch.Generator().manual_seed(2))
        assert _sw(x, ref) > max(0.6, 10 * floor), (zeta, _sw(x, ref), floor)


def test_dps_inpainting_lands_near_the_exact_posterior():
    """Oracle: exact posterior samples (closed form, tested above). DPS (ζ = 0.05, DDIM η = 1, 100 log-SNR steps,
    n = 1500) on the inpainting problem: SW to the posterior ≤ 0.35 (measured ≈ 0.21; floor ≈ 0.07), while the
    unconditioned prior is ≥ 1.0 away (measured ≈ 1.3); the observed coordinate is matched to within 0.15 (mean |A x0 − y|)."""
    gmm, process, pred, A, y, post, ref, ref2, g = _posterior_problem("inpaint")
    x = Denoiser(process, pred, dps, "log_snr", operator=Matrix(A), measurement=y, zeta=0.05).sample(
        1500, 100, shape=(2,), generator=g)
    floor = _sw(ref, ref2)
    assert floor < 0.12
    assert _sw(x, ref) <= 0.35, _sw(x, ref)
    assert _sw(gmm.sample(1500, generator=g), ref) >= 1.0
    assert (x @ A.T - y).abs().mean() < 0.15


@pytest.mark.parametrize("name", ["inpaint", "downsample"])
def test_projection_fits_the_measurement_exactly(name):
    """Oracle: the range–null-space identity A(A⁺y + (I − A⁺A)x) = y for a full-row-rank A: the samples of the
    projection method (DDIM η = 1, last step returns the projected x̂0) satisfy A x0 = y to 1e-12. Their law is
    *not* the posterior's (the mode weights are wrong): inpainting SW ≤ 0.35 (measured ≈ 0.2, floor ≈ 0.07)."""
    gmm, process, pred, A, y, post, ref, ref2, g = _posterior_problem(name)
    x = Denoiser(process, Projection(pred, process, Matrix(A), y), "ddim", "log_snr", eta=1.0).sample(
        1500, 100, shape=(2,), generator=g)
    torch.testing.assert_close(x @ A.T, y.expand(1500, -1), rtol=0, atol=1e-12)
    if name == "inpaint":
        assert _sw(x, ref) <= 0.35


def test_inverse_problem_bad_input():
    """Oracle: the documented errors — a mask whose shape disagrees with the images, an operator of the wrong size,
    a measurement of the wrong shape, σ_y ≤ 0, ζ ≤ 0 — each naming the argument."""
    gmm, process, pred, A, y, *_ = _posterior_problem("inpaint", n=10)
    images = torch.zeros(4, 1, 28, 28)
    with pytest.raises(ValueError, match=r"mask shape \(1, 28, 27\) does not match the image shape \(1, 28, 28\)"):
        Mask(torch.ones(1, 28, 27))(images)
    with pytest.raises(ValueError, match="mask must hold only 0"):
        Mask(torch.full((1, 28, 28), 0.5))
    with pytest.raises(ValueError, match=r"operator A has shape \(1, 3\), so samples must have shape \(3,\)"):
        linear_gaussian_posterior(gmm, torch.ones(1, 3, dtype=torch.float64), y, 0.1)
    with pytest.raises(ValueError, match=r"measurement y must have shape \(1,\)"):
        Projection(pred, process, Matrix(A), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma_y must be > 0"):
        linear_gaussian_posterior(gmm, A, y, 0.0)
    with pytest.raises(ValueError, match="zeta must be > 0"):
        Denoiser(process, pred, dps, operator=Matrix(A), measurement=y, zeta=-1.0).sample(4, 3, shape=(2,))
    with pytest.raises(ValueError, match=r"operator A has shape \(1, 2\), so samples must have shape \(2,\)"):
        Denoiser(process, pred, dps, operator=Matrix(A), measurement=y).sample(4, 3, shape=(3,))


# --- MNIST: the panel's compute function, guided sampling and inpainting with a tiny checkpoint ----------------------
@pytest.fixture(scope="module")
def tiny_flow(tmp_path_factory):
    """A 2-step rectified-flow checkpoint on 256 digits (tests/_mnist_tiny.py), loaded as play_guidance would; its label
    embedding and its (zero-initialised) output layer are redrawn at random (seeded) so that the label changes the
    prediction, as in a trained model."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from _mnist_tiny import tiny_checkpoint
    from diffedu import pretrained
    folder = tmp_path_factory.mktemp("ckpt")
    tiny_checkpoint(folder, "flow")
    model = pretrained.load("tiny-flow", folder=folder)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for w in (model.net.label_emb.weight, model.net.out.weight):
            w.copy_(0.3 * torch.randn(w.shape, generator=gen))
    mnist_demos.SHIPPED["tiny-flow"] = model
    yield model
    mnist_demos.SHIPPED.pop("tiny-flow", None)


def test_play_guidance_at_slider_extremes(tiny_flow):
    """Oracle: the unguided samplers with x̂₀ clipped to [−1, 1] (as the panel clips). At w = 0 the panel's digits are
    the unconditional model's (label 10) from the same noise, at w = 1 the conditional model's (float32, 1e-5); at
    w = 8 they are finite and differ from both."""
    from diffedu.course.mnist_demos import play_guidance
    from diffedu.parametrization import ClippedPredictor

    def plain(label):
        den = Denoiser(tiny_flow.process, ClippedPredictor(tiny_flow.predictor), "euler", "karras", shape=(1, 28, 28))
        gen = torch.Generator().manual_seed(0)
        x_T = den.prior(4, (1, 28, 28), gen, dtype=torch.float32)
        with torch.no_grad():
            return den.sample(x_T, 3, generator=gen, y=torch.full((4,), label)).float()

    lo, one, hi = (play_guidance("tiny-flow", w, 7, n=4, n_steps=3)["x"] for w in (0.0, 1.0, 8.0))
    assert lo.shape == hi.shape == (4, 1, 28, 28) and torch.isfinite(hi).all()
    torch.testing.assert_close(lo, plain(10), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(one, plain(7), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(hi, lo) and not torch.allclose(hi, one)
    with pytest.raises(ValueError, match=r"w must lie in \[0, 8\]"):
        play_guidance("tiny-flow", 8.5, 7)
    with pytest.raises(ValueError, match="label must be an integer in 0–9"):
        play_guidance("tiny-flow", 1.0, 10)


def test_mnist_inpainting_fits_the_observed_pixels(tiny_flow):
    """Oracle: the projection identity (observed pixels of the result equal the measurement, float32 1e-6), the mask's
    documented shape error, and DPS's output is finite and of the images' shape."""
    from diffedu.mnist.data import load_mnist
    from diffedu.course.mnist_demos import inpaint
    x0 = load_mnist().x_test[:3]
    mask = torch.zeros(1, 28, 28)
    mask[:, :14] = 1
    out = inpaint(tiny_flow, x0, mask, "projection", n_steps=3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out * mask, x0 * mask, rtol=0, atol=1e-6)
    d = inpaint(tiny_flow, x0, mask, "dps", n_steps=3, generator=torch.Generator().manual_seed(0))
    assert d.shape == x0.shape and torch.isfinite(d).all()
    with pytest.raises(ValueError, match="mask shape"):
        inpaint(tiny_flow, x0, mask[:, :20], "dps", n_steps=3)
    with pytest.raises(ValueError, match="method must be 'dps' or 'projection'"):
        inpaint(tiny_flow, x0, mask, "repaint", n_steps=3)


# --- CondDenoiser: the same samplers behind one constructor --------------------------------------------------------
def test_cond_denoiser_is_the_composition():
    """Oracle: the hand-composed samplers above. With the same noise, CondDenoiser(w=…) gives exactly the samples of
    Denoiser(ClassifierFreeGuidance(…)), classifier_grad=… those of Denoiser(ClassifierGuidance(…)), and
    operator=…, method='projection' / 'dps' those of the Projection predictor / the dps integrator (float64, bit for
    bit: the same operations in the same order)."""
    from diffedu.guidance import CondDenoiser
    gmm, process = gmm_2d(), make_process("edm")
    exact = MixturePredictor(gmm, process, null_label=NULL)
    run = lambda den, **c: den.sample(50, 8, shape=(2,), generator=torch.Generator().manual_seed(1), **c)  # noqa: E731
    same = lambda a, b: torch.testing.assert_close(a, b, rtol=0, atol=0)  # noqa: E731
    same(run(CondDenoiser(process, exact, w=2.0, null_label=NULL, integrator="heun"), y=1),
         run(Denoiser(process, ClassifierFreeGuidance(exact, 2.0, NULL), "heun", "karras"), y=1))
    uncond = lambda x, t, kind: exact(x, t, kind)  # noqa: E731
    grad = lambda x, t, y: mixture_classifier_grad(gmm, x, t, process, y)  # noqa: E731
    same(run(CondDenoiser(process, uncond, classifier_grad=grad, scale=2.0), y=1),
         run(Denoiser(process, ClassifierGuidance(uncond, grad, process, 2.0), "ddim", "karras"), y=1))
    A, y = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    same(run(CondDenoiser(process, uncond, operator=Matrix(A), measurement=y, method="projection")),
         run(Denoiser(process, Projection(uncond, process, Matrix(A), y), "ddim", "karras")))
    same(run(CondDenoiser(process, uncond, operator=Matrix(A), measurement=y, zeta=0.05)),
         run(Denoiser(process, uncond, dps, "karras", operator=Matrix(A), measurement=y, zeta=0.05)))


def test_cond_denoiser_bad_input():
    """Oracle: the constructor's contract — exactly one kind of conditioning, a measurement with an operator, a known
    method — each violation a ValueError naming what is wrong."""
    from diffedu.guidance import CondDenoiser
    gmm, process = gmm_2d(), make_process("edm")
    exact = MixturePredictor(gmm, process, null_label=NULL)
    A = Matrix(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    cases = [({}, "exactly one"), (dict(w=2.0, operator=A), "exactly one"), (dict(operator=A), "measurement"),
             (dict(operator=A, measurement=torch.zeros(1), method="magic"), "method"), (dict(w=float("nan")), "w")]
    for kwargs, word in cases:
        with pytest.raises(ValueError, match=word):
            CondDenoiser(process, exact, **kwargs)


def test_inverse_mixture_conditions_on_y_and_projection_fits_it():
    """Oracle: the exact posterior (``linear_gaussian_posterior``) — DPS samples are closer to it than the prior's;
    projection reproduces a noiseless measurement exactly; no projection where it does not apply (A = I)."""
    problems = {"inpaint": ([[1.0, 0.0]], [-1.5], 0.05), "denoise": ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.8], 0.5)}
    out = inverse_mixture(problems, n=300, n_steps=30)
    for name, row in out.items():
        assert row["exact"].shape == row["dps"].shape == (300, 2)
        assert float(sliced_wasserstein(row["dps"], row["exact"], generator=torch.Generator().manual_seed(0))) < row["prior"]
    assert torch.allclose(out["inpaint"]["projection"][:, 0], torch.full((300,), -1.5, dtype=torch.float64))
    assert "projection" not in out["denoise"]


def test_the_float_time_path_and_the_kept_grids_give_the_reference_answers():
    """Oracles: (1) MixturePredictor at a time given as a 0-d tensor (the batched-time path) — the float-time path
    must agree to float64 rounding (1e-12), for a batch mixing labels and the null label; (2) the tilted density
    tabulated afresh, w log q(x|y) + (1 − w) log q(x) on the same grid — tilted_samples with the kept grids must draw
    exactly the same points from the same generator."""
    gmm, process = gmm_2d(), make_process("edm")
    pred = MixturePredictor(gmm, process, null_label=3)
    x = gmm.sample(40, generator=torch.Generator().manual_seed(0)) * 2
    y = torch.tensor([0, 1, 2, 3] * 10)
    for t in (0.05, 1.3, 40.0):
        for kind in ("x0", "score"):
            fast, slow = pred(x, t, kind, y=y), pred(x, torch.tensor(t, dtype=torch.float64), kind, y=y)
            assert torch.allclose(fast, slow, rtol=1e-12, atol=1e-12 * slow.abs().max().item())
    w, cells, h = 3.0, 60, 6.0
    edges = torch.linspace(-h, h, cells + 1, dtype=torch.float64)
    centres = 0.5 * (edges[1:] + edges[:-1])
    grid = torch.cartesian_prod(centres, centres)
    log_density = w * gmm.restrict(1).log_prob(grid) + (1 - w) * gmm.log_prob(grid)
    g = torch.Generator().manual_seed(5)
    cell = torch.multinomial(torch.softmax(log_density, 0), 50, replacement=True, generator=g)
    expected = grid[cell] + (edges[1] - edges[0]) * (torch.rand(50, 2, generator=g, dtype=torch.float64) - 0.5)
    for _ in range(2):  # the second call finds the grids kept
        got = tilted_samples(gmm, 1, w, 50, generator=torch.Generator().manual_seed(5), cells=cells)
        assert torch.equal(got, expected)

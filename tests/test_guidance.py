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
from diffedu.guidance import ClassifierFreeGuidance, MixturePredictor

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

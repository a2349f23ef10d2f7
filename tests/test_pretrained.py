"""pretrained.load: sha256 check, the returned net/process/kind/Predictor, sampling, clear errors."""
import pytest
import torch

from diffedu import pretrained
from diffedu.course import mnist_demos
from diffedu.processes import EDM, DiscreteDDPM, RectifiedFlow
from _mnist_tiny import tiny_checkpoint


@pytest.mark.parametrize("objective, cls", [("edm", EDM), ("ddpm", DiscreteDDPM), ("flow", RectifiedFlow)])
def test_load_round_trip(tmp_path, objective, cls):
    """Oracle: the loaded net equals the saved one bit for bit on a fixed input (float32 round trip through safetensors)."""
    path, res = tiny_checkpoint(tmp_path, objective)
    m = pretrained.load(f"tiny-{objective}", folder=tmp_path)
    assert isinstance(m.process, cls) and m.kind == res["kind"] and not m.net.training
    x, t = torch.randn(2, 1, 28, 28), torch.full((2,), 0.5)
    torch.testing.assert_close(m.net(x, t, torch.tensor([1, 10])), res["net"](x, t, torch.tensor([1, 10])),
                               rtol=0, atol=0)
    out = m.sample(4, 3, n_steps=2, integrator="euler", generator=torch.Generator().manual_seed(0))
    assert out.shape == (4, 1, 28, 28) and torch.isfinite(out).all()


def test_errors(tmp_path):
    """Oracle: unknown name → ValueError listing what exists; a flipped byte → sha256 'damaged'; label 11 → ValueError."""
    tiny_checkpoint(tmp_path, "edm")
    with pytest.raises(ValueError, match="unknown checkpoint"):
        pretrained.load("mnist-nope", folder=tmp_path)
    m = pretrained.load("tiny-edm", folder=tmp_path)
    with pytest.raises(ValueError, match="labels"):
        m.sample(2, torch.tensor([3, 11]), n_steps=1)
    st = tmp_path / "tiny-edm.safetensors"
    raw = bytearray(st.read_bytes())
    raw[-3] ^= 0xFF
    st.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged"):
        pretrained.load("tiny-edm", folder=tmp_path)


@pytest.mark.parametrize("name", ["mnist-edm", "mnist-ddpm", "mnist-flow"])
def test_shipped_checkpoints(name):
    """Oracle: each shipped checkpoint's sha256 matches its card, its card says where it was trained, ≤ 10 MB, and
    a 4-sample, 3-step draw is finite."""
    if name not in pretrained.available():
        pytest.skip(f"{name} not shipped yet")
    m = pretrained.load(name)
    assert m.card["size_bytes"] <= 10 * 2**20 and "device" in m.card and "command" in m.card
    x = m.sample(4, torch.arange(4), n_steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("integrator, n_steps, label, w", [("euler", 1, 0, 0.0), ("heun", 50, 10, 6.0),
                                                           ("dpmpp_2m", 1, 9, 6.0), ("ddim", 50, 0, 1.0)])
def test_play_mnist_extremes(tmp_path, monkeypatch, integrator, n_steps, label, w):
    """Oracle: the panel's compute function at every slider's extreme values returns finite images; with no label
    (10) the guidance slider does not apply and the unguided model is used (w = 1 in the result)."""
    tiny_checkpoint(tmp_path, "edm")
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tmp_path)
    monkeypatch.setattr(mnist_demos, "SHIPPED", {})
    out = mnist_demos.play_mnist("tiny-edm", integrator, n_steps, label, n=2, w=w)
    assert out["x"].shape == (2, 1, 28, 28) and torch.isfinite(out["x"]).all()
    assert out["w"] == (1.0 if label == 10 else w)
    with pytest.raises(ValueError, match="label"):
        mnist_demos.play_mnist("tiny-edm", integrator, n_steps, 11, n=2)


def test_sample_guidance(tmp_path):
    """Oracle: CFG with w = 1 is the conditional model itself and w = 0 the unconditional one (label 10), sample for
    sample with the same noise (float32 tolerance); w that is not a finite number, or guidance without labels, is a
    ValueError."""
    tiny_checkpoint(tmp_path, "flow")
    m = pretrained.load("tiny-flow", folder=tmp_path)
    y = torch.tensor([1, 7])
    run = lambda yy, w: m.sample(2, yy, n_steps=3, integrator="euler", generator=torch.Generator().manual_seed(0),
                                 w=w)
    torch.testing.assert_close(run(y, 1.0), run(y, 1.0 + 1e-12), atol=1e-5, rtol=0)
    torch.testing.assert_close(run(y, 0.0), run(None, 1.0), atol=1e-5, rtol=0)
    from diffedu.guidance import ClassifierFreeGuidance
    x, t = torch.randn(2, 1, 28, 28), torch.tensor(0.5)
    guided = ClassifierFreeGuidance(m.predictor, 3.0)(x, t, "velocity", y=y)
    expected = 3 * m.predictor(x, t, "velocity", y=y) - 2 * m.predictor(x, t, "velocity", y=torch.full((2,), 10))
    torch.testing.assert_close(guided, expected, atol=1e-5, rtol=1e-5)  # the guided field the sampler integrates
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="w"):
            run(y, bad)
    with pytest.raises(ValueError, match="label"):
        run(None, 2.0)


@pytest.mark.parametrize("name", ["mnist-edm", "mnist-ddpm", "mnist-flow"])
def test_default_samples_stay_in_the_pixel_range(name):
    """Oracle: the data range [−1, 1] (MNIST pixels 2p/255 − 1). With x̂₀ clipped (the default), ≥ 99 % of pixels lie
    in [−1.1, 1.1] and none is NaN for the panel's samplers at its fewest steps (5) and below; the raw network with
    EDM's Algorithm 1 at 2 steps (the reviewers' D2 case, [80, 0.002, 0]) does leave it on mnist-edm, so the check can
    fail. Not asserted: Euler and Heun on mnist-ddpm below 5 steps, whose steps in t on DDPM's schedule do not end on
    the clipped x̂₀ (measured: 16–32 % of pixels outside at 2–4 Euler steps; chapter 12 says so)."""
    if name not in pretrained.available():
        pytest.skip(f"{name} not shipped yet")
    m = pretrained.load(name)
    for integrator in ("heun", "dpmpp_2m", "ddim", "ddpm", "euler"):
        for n_steps in (5,) if name == "mnist-ddpm" and integrator in ("heun", "euler") else (2, 3, 5):
            x = m.sample(2, torch.tensor([3, 8]), n_steps=n_steps, integrator=integrator,
                         generator=torch.Generator().manual_seed(0))
            assert not torch.isnan(x).any() and (x.abs() <= 1.1).float().mean() >= 0.99, (integrator, n_steps)
    if name == "mnist-edm":
        raw = m.sample(2, torch.tensor([3, 8]), n_steps=2, clip_x0=False, max_correction_gain=float("inf"),
                       generator=torch.Generator().manual_seed(0))
        assert (raw.abs() > 1.1).float().mean() > 0.5
    with pytest.raises(TypeError, match="clip_x0"):
        m.sample(2, 3, n_steps=2, clip_x0="yes")

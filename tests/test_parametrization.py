"""Tests of diffedu.parametrization: conversions between x0, eps, score and velocity, and the Predictor.

Oracles: the defining linear combinations (each kind is a x0 + b eps with the table's a, b, built by hand from x0 and
eps), float64 round trips for every process and every ordered pair of kinds, the named helper functions' formulas
written out by hand, and an exact Gaussian-mixture predictor.
"""
from __future__ import annotations

import itertools

import pytest
import torch

from diffedu import parametrization as P
from diffedu.parametrization import KINDS, Predictor, coefficients, convert
from diffedu.processes import PROCESSES, make_process
from diffedu.toys import gmm_2d

NAMES = sorted(PROCESSES)
PAIRS = list(itertools.product(KINDS, KINDS))


def setup(name: str, per_sample: bool):
    """x0, eps, t and x_t = α x0 + σ ε in float64 for a process, t interior (σ > 0 and α > 0)."""
    process = make_process(name)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=g, dtype=torch.float64)
    span = process.t_max - process.t_min
    if per_sample:
        t = process.t_min + span * torch.tensor([0.05, 0.2, 0.5, 0.8, 0.95], dtype=torch.float64)
    else:
        t = torch.tensor(process.t_min + 0.37 * span, dtype=torch.float64)
    return process, x0, eps, t, process.noise(x0, t, eps)


def target(kind: str, x0, eps, t, process):
    """Each kind written out from its definition (not via `coefficients`)."""
    shape = (-1, 1) if t.ndim == 1 else ()
    alpha_t, sigma_t = process.alpha(t).reshape(shape), process.sigma(t).reshape(shape)
    d_alpha_t, d_sigma_t = process.d_alpha(t).reshape(shape), process.d_sigma(t).reshape(shape)
    return {"x0": x0, "eps": eps, "score": -eps / sigma_t, "velocity": d_alpha_t * x0 + d_sigma_t * eps}[kind]


@pytest.mark.parametrize("per_sample", [False, True, "float"], ids=["scalar_t", "per_sample_t", "float_t"])
@pytest.mark.parametrize("name", NAMES)
def test_convert_every_pair_against_definitions(name, per_sample):
    """Oracle: for x_t built from known (x0, eps), converting the exact src target gives the exact dst target
    (float64, 1e-10), for every ordered pair of kinds; also with t a Python float (convert's memoised path), twice."""
    process, x0, eps, t, x_t = setup(name, per_sample is True)
    t_arg = float(t) if per_sample == "float" else t
    for src, dst in PAIRS + PAIRS:  # a second round is served from the process's memo
        out = convert(target(src, x0, eps, t, process), src, dst, x_t, t_arg, process)
        torch.testing.assert_close(out, target(dst, x0, eps, t, process), rtol=1e-10, atol=1e-10, msg=f"{src}→{dst}")


@pytest.mark.parametrize("name", NAMES)
def test_convert_round_trip(name):
    """Oracle: float64 round trip src → dst → src returns an arbitrary prediction unchanged (1e-10)."""
    process, x0, eps, t, x_t = setup(name, per_sample=True)
    pred = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for src, dst in PAIRS:
        back = convert(convert(pred, src, dst, x_t, t, process), dst, src, x_t, t, process)
        torch.testing.assert_close(back, pred, rtol=1e-10, atol=1e-10, msg=f"{src}→{dst}→{src}")


@pytest.mark.parametrize("name", NAMES)
def test_named_helpers(name):
    """Oracle: each named helper's formula written out by hand (Tweedie and its relatives), float64 1e-10."""
    process, x0, eps, t, x_t = setup(name, per_sample=False)
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.coefficients(t)
    score = -eps / sigma_t
    v = d_alpha_t * x0 + d_sigma_t * eps
    close = lambda a, b: torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)  # noqa: E731
    close(P.eps_to_x0(eps, x_t, t, process), (x_t - sigma_t * eps) / alpha_t)
    close(P.x0_to_eps(x0, x_t, t, process), (x_t - alpha_t * x0) / sigma_t)
    close(P.x0_to_score(x0, x_t, t, process), (alpha_t * x0 - x_t) / sigma_t**2)
    close(P.score_to_x0(score, x_t, t, process), (x_t + sigma_t**2 * score) / alpha_t)
    close(P.eps_to_score(eps, x_t, t, process), -eps / sigma_t)
    close(P.score_to_eps(score, x_t, t, process), -sigma_t * score)
    close(P.x0_to_velocity(x0, x_t, t, process), d_alpha_t * x0 + d_sigma_t * (x_t - alpha_t * x0) / sigma_t)
    close(P.velocity_to_x0(v, x_t, t, process),
          (sigma_t * v - d_sigma_t * x_t) / (d_alpha_t * sigma_t - d_sigma_t * alpha_t))
    for kind in KINDS:  # the same helpers agree with convert
        close(convert(target(kind, x0, eps, t, process), kind, "x0", x_t, t, process), x0)


def test_coefficients_table():
    """Oracle: the module's table — x0 = (1, 0), eps = (0, 1), score = (0, −1/σ), velocity = (α̇, σ̇)."""
    process = make_process("vp")
    t = torch.tensor(0.3, dtype=torch.float64)
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.coefficients(t)
    assert [c.item() for c in coefficients("x0", t, process)] == [1.0, 0.0]
    assert [c.item() for c in coefficients("eps", t, process)] == [0.0, 1.0]
    assert coefficients("score", t, process)[1].item() == pytest.approx(-1 / sigma_t.item())
    assert [c.item() for c in coefficients("velocity", t, process)] == [d_alpha_t.item(), d_sigma_t.item()]


@pytest.mark.parametrize("name", NAMES)
def test_predictor_equals_convert(name):
    """Oracle: `Predictor(net, kind)(x_t, t, dst)` equals `convert(net(x_t, t), kind, dst)` exactly, for every pair,
    and a predictor built on the exact GMM ε recovers the exact GMM denoiser (1e-10)."""
    process, _, _, _, _ = setup(name, per_sample=False)
    gmm = gmm_2d()
    g = torch.Generator().manual_seed(3)
    t = torch.tensor(process.t_min + 0.4 * (process.t_max - process.t_min), dtype=torch.float64)
    x_t = gmm.sample(16, t, process, generator=g)
    t_batch = t.expand(16)
    nets = {kind: (lambda k: lambda x, s: convert(gmm.denoiser(x, s, process), "x0", k, x, s, process))(kind)
            for kind in KINDS}
    for src, dst in PAIRS:
        pred = Predictor(nets[src], src, process)
        out = pred(x_t, t, dst)
        torch.testing.assert_close(out, convert(nets[src](x_t, t_batch), src, dst, x_t, t_batch, process), rtol=0, atol=0)
    exact = gmm.denoiser(x_t, t, process)
    pred = Predictor(lambda x, s: gmm.eps(x, s, process), "eps", process)
    torch.testing.assert_close(pred.x0_hat(x_t, t), exact, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(pred.score(x_t, t), gmm.score(x_t, t, process), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(pred.velocity(x_t, t), gmm.velocity(x_t, t, process), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(pred.eps_hat(x_t, t), gmm.eps(x_t, t, process), rtol=1e-10, atol=1e-10)


def test_predictor_passes_t_per_sample_and_condition():
    """Oracle: the network receives t of shape (B,) on x_t's dtype, and keyword conditions unchanged."""
    seen = {}

    def net(x, t, label=None):
        seen.update(shape=tuple(t.shape), dtype=t.dtype, label=label)
        return torch.zeros_like(x)

    pred = Predictor(net, "eps", make_process("vp"))
    pred(torch.zeros(7, 2, dtype=torch.float64), 0.5, "eps", label=3)
    assert seen == {"shape": (7,), "dtype": torch.float64, "label": 3}


# --- bad input -----------------------------------------------------------------------------------------------
def test_unknown_kind():
    """Oracle: ValueError naming the argument (src, dst, kind) and the allowed kinds."""
    process = make_process("vp")
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="src must be one of"):
        convert(x, "noise", "x0", x, 0.5, process)
    with pytest.raises(ValueError, match="dst must be one of"):
        convert(x, "x0", "v", x, 0.5, process)
    with pytest.raises(ValueError, match="kind must be one of"):
        coefficients("x_0", 0.5, process)
    with pytest.raises(ValueError, match="kind must be one of"):
        Predictor(lambda x, t: x, "epsilon", process)
    with pytest.raises(ValueError, match="kind must be one of"):
        Predictor(lambda x, t: x, "eps", process)(x, 0.5, "denoised")


def test_convert_bad_shapes_and_types():
    """Oracle: mismatched pred/x_t shapes raise ValueError naming both; non-tensors and non-callables TypeError;
    t outside the process's range ValueError."""
    process = make_process("vp")
    with pytest.raises(ValueError, match="pred and x_t must have the same shape"):
        convert(torch.zeros(3, 2), "eps", "x0", torch.zeros(3, 3), 0.5, process)
    with pytest.raises(TypeError, match="pred and x_t must be torch tensors"):
        convert([[0.0]], "eps", "x0", torch.zeros(1, 1), 0.5, process)
    with pytest.raises(ValueError, match="t must be a scalar or have one entry per sample"):
        convert(torch.zeros(3, 2), "eps", "x0", torch.zeros(3, 2), torch.full((2,), 0.5), process)
    with pytest.raises(ValueError, match="t must lie in"):
        convert(torch.zeros(3, 2), "eps", "x0", torch.zeros(3, 2), 1.5, process)
    with pytest.raises(TypeError, match="net must be callable"):
        Predictor("not a net", "eps", process)
    with pytest.raises(ValueError, match="t must lie in"):
        Predictor(lambda x, t: x, "eps", process)(torch.zeros(2, 2), -0.1)


# Which conversions x_t and a prediction determine at the ends, derived by hand (chapter 02, parametrization's
# docstring). σ_t = 0: ε and the score are undetermined; eps → x0 always works; eps ↔ velocity and velocity → x0 work
# where σ̇_t is finite (sub-VP, flow, EDM: determinant -σ̇_t α_t), not where σ_t ∝ √t (VP, cosine, DDPM: σ̇_t = ∞).
# α_t = 0: x0 is undetermined; x0 → anything and velocity → anything work (determinants σ_t and α̇_t σ_t), and so
# does eps ↔ score (score = -ε/σ_t). VE (σ_min > 0) and the other ends (α, σ > 0) convert every pair.
AT_SIGMA_0_STIFF = {"eps>x0"}
AT_SIGMA_0_SMOOTH = {"eps>x0", "eps>velocity", "velocity>x0", "velocity>eps"}
AT_ALPHA_0 = {"x0>eps", "x0>score", "x0>velocity", "velocity>x0", "velocity>eps", "velocity>score", "eps>score",
              "score>eps"}
EVERY_PAIR = {f"{s}>{d}" for s, d in PAIRS if s != d}
CONVERTIBLE_AT_ENDS = {("vp", "t_min"): AT_SIGMA_0_STIFF, ("cosine", "t_min"): AT_SIGMA_0_STIFF,
                       ("ddpm", "t_min"): AT_SIGMA_0_STIFF, ("subvp", "t_min"): AT_SIGMA_0_SMOOTH,
                       ("flow", "t_min"): AT_SIGMA_0_SMOOTH, ("edm", "t_min"): AT_SIGMA_0_SMOOTH,
                       ("cosine", "t_max"): AT_ALPHA_0, ("flow", "t_max"): AT_ALPHA_0}


@pytest.mark.parametrize("time", ["tensor", "float"])
@pytest.mark.parametrize("t_end", ["t_min", "t_max"])
@pytest.mark.parametrize("name", NAMES)
def test_convert_raises_exactly_where_the_target_is_undetermined(name, t_end, time):
    """Oracle: the hand-derived table above. Every ordered pair outside it raises a ValueError naming both kinds
    (never inf/NaN); every pair in it returns the exact target, built from known (x0, ε) with x_t = α x0 + σ ε
    (float64, 1e-10) — for a 0-d tensor time and for a Python float (convert's memoised NumPy path)."""
    process = make_process(name)
    t = torch.tensor(getattr(process, t_end), dtype=torch.float64)
    t_arg = float(t) if time == "float" else t
    g = torch.Generator().manual_seed(3)
    x0, eps = (torch.randn(4, 2, generator=g, dtype=torch.float64) for _ in range(2))
    x_t = process.noise(x0, t, eps)
    convertible = CONVERTIBLE_AT_ENDS.get((name, t_end), EVERY_PAIR)
    for src, dst in PAIRS:
        if src == dst:
            continue
        if f"{src}>{dst}" not in convertible:
            with pytest.raises(ValueError, match=f"cannot convert '{src}' to '{dst}'"):
                convert(x_t, src, dst, x_t, t_arg, process)
            continue
        out = convert(target(src, x0, eps, t, process), src, dst, x_t, t_arg, process)
        torch.testing.assert_close(out, target(dst, x0, eps, t, process), rtol=1e-10, atol=1e-10, msg=f"{src}→{dst}")
    assert torch.equal(convert(x_t, "eps", "eps", x_t, t_arg, process), x_t)  # no conversion, nothing to solve


def test_determinant_closed_forms():
    """Oracle: the determinants written out by hand. Flow (α = 1-t, σ = t): σ = t, -α = t-1, α/σ = (1-t)/t and
    α̇σ - σ̇α = -t - (1-t) = -1 at every t, the ends included. Cosine at t = 1 (α = 0, σ = 1): the velocity's is
    α̇_1 = -π/(2(1+s) cos(πs/(2(1+s)))). VP at t = 0 (σ = 0, σ̇ = ∞): 0, -1, ∞, -∞. Inside, the velocity's is
    ½ α σ dλ/dt (dλ/dt by float64 central differences inside one of DDPM's linear pieces, 1e-6)."""
    flow, t = make_process("flow"), torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    expected = {"x0": t, "eps": t - 1, "score": (1 - t) / t, "velocity": -torch.ones(3, dtype=torch.float64)}
    for kind, value in expected.items():
        torch.testing.assert_close(P.determinant(kind, t, flow), value, rtol=1e-12, atol=1e-12)
    cosine = make_process("cosine")
    s, one = cosine.s, torch.tensor(1.0, dtype=torch.float64)
    d_alpha_1 = -torch.pi / (2 * (1 + s) * torch.cos(torch.tensor(torch.pi * s / (2 * (1 + s)), dtype=torch.float64)))
    torch.testing.assert_close(P.determinant("velocity", one, cosine), d_alpha_1, rtol=1e-12, atol=0)
    assert float(P.determinant("eps", one, cosine)) == 0.0
    vp, zero = make_process("vp"), torch.tensor(0.0, dtype=torch.float64)
    dets = [float(P.determinant(kind, zero, vp)) for kind in KINDS]
    assert dets == [0.0, -1.0, float("inf"), float("-inf")], dets
    for name in NAMES:
        process = make_process(name)
        tm = torch.tensor(process.t_min + 0.4123 * (process.t_max - process.t_min), dtype=torch.float64)
        h = 1e-5 * (process.t_max - process.t_min)
        d_lambda = (process.log_snr(tm + h) - process.log_snr(tm - h)) / (2 * h)
        half = 0.5 * process.alpha(tm) * process.sigma(tm) * d_lambda
        torch.testing.assert_close(P.determinant("velocity", tm, process), half, rtol=1e-6, atol=0)


def test_predictor_refuses_a_t_without_one_entry_per_sample():
    """Oracle: the documented contract (t is a scalar or has shape (B,)). With the network's own kind no conversion
    runs, and a t of shape (3,) or (2, 4) for 4 samples used to reach the network unchecked."""
    process = make_process("vp")
    pred = Predictor(lambda x, t: x, "x0", process)
    x = torch.randn(4, 2, dtype=torch.float64)
    for t in (torch.full((3,), 0.5), torch.full((2, 4), 0.5)):
        with pytest.raises(ValueError, match="one entry per sample"):
            pred(x, t)
    assert torch.equal(pred(x, 0.5), x) and torch.equal(pred(x, torch.full((4,), 0.5)), x)


def _boxed_mixture():
    """Four tight components (sd 0.01) at (±0.4, ±0.4): posterior means E[x0 | x_t] stay near the convex hull of the
    means, well inside [−1, 1]² (the test asserts it along each path)."""
    from diffedu.toys import GaussianMixture
    means = torch.tensor([[0.4, 0.4], [-0.4, 0.4], [0.4, -0.4], [-0.4, -0.4]], dtype=torch.float64)
    return GaussianMixture(torch.ones(4) / 4, means, torch.eye(2, dtype=torch.float64).expand(4, 2, 2) * 1e-4)


@pytest.mark.parametrize("process_name", ["edm", "vp"])
@pytest.mark.parametrize("integrator", ["heun", "dpmpp_2m", "ddim", "euler"])
def test_clipped_predictor_changes_nothing_inside_the_box(process_name, integrator):
    """Oracle: clamp is the identity on [−1, 1]; with the exact mixture denoiser whose x̂₀ stays in the box along the
    whole path (asserted through the callback), the clipped and unclipped samplers give the same tensor bit for bit."""
    from diffedu.denoiser import Denoiser
    process = make_process(process_name)
    pred = _boxed_mixture().predictor(process)
    clipped = P.ClippedPredictor(pred)
    seen = []
    out = {}
    for name, p in (("raw", pred), ("clipped", clipped)):
        g = torch.Generator().manual_seed(1)
        out[name] = Denoiser(process, p, integrator).sample(64, 8, shape=(2,), generator=g,
                                                           callback=lambda d: seen.append(d["x0_hat"]))
    assert max(float(x.abs().max()) for x in seen) < 1.0  # the premise: x̂₀ never left the box
    assert torch.equal(out["raw"], out["clipped"])


def test_clipped_predictor_clamps_x0_and_converts_other_kinds():
    """Oracle: torch.clamp of the wrapped x̂₀; ε̂ = (x_t − α x̂₀_clipped)/σ (the definition, float64 round-off); the
    EDM sampler's last step into σ = 0 lands on a clipped x̂₀, so every sample lies in [lo, hi]."""
    from diffedu.denoiser import Denoiser
    process = make_process("edm")
    pred = gmm_2d().predictor(process)  # a mixture whose x̂₀ reaches beyond ±0.5
    clipped = P.ClippedPredictor(pred, -0.5, 0.5)
    x = 3 * torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x0 = pred(x, 1.0, "x0")
    assert float(x0.abs().max()) > 0.5
    assert torch.equal(clipped(x, 1.0), x0.clamp(-0.5, 0.5))
    torch.testing.assert_close(clipped(x, 1.0, "eps"), (x - x0.clamp(-0.5, 0.5)) / 1.0, rtol=1e-12, atol=1e-12)
    out = Denoiser(process, clipped, "heun").sample(50, 4, shape=(2,), generator=torch.Generator().manual_seed(0))
    assert float(out.abs().max()) <= 0.5 + 1e-12


def test_clipped_predictor_refuses_bad_arguments():
    """Oracle: the documented refusals — lo ≥ hi, a non-callable, an unknown kind."""
    pred = gmm_2d().predictor(make_process("edm"))
    with pytest.raises(ValueError, match="lo"):
        P.ClippedPredictor(pred, 1.0, -1.0)
    with pytest.raises(TypeError, match="callable"):
        P.ClippedPredictor(3.0)
    with pytest.raises(ValueError, match="kind"):
        P.ClippedPredictor(pred)(torch.zeros(2, 2, dtype=torch.float64), 1.0, "noise")

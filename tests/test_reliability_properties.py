"""Property-based tests (Hypothesis) of the public entry points: valid inputs give finite outputs of the right shape;
invalid inputs give a ValueError/TypeError raised by diffedu's own code whose message names the argument.

Oracles: finiteness and shape (valid inputs); the exact mixture's own answers where a value is checked (a grid is
strictly decreasing from t_max to t_min; ``convert`` round-trips in float64 to 1e-9); for invalid inputs, that the
innermost frame of the exception lies in diffedu/ and that the message names the argument.

CI profile (the default, ``DIFFEDU_HYPOTHESIS=ci``): a fixed number of examples per test, derandomized (the same
examples every run) and no example database, with a per-example deadline; ``DIFFEDU_HYPOTHESIS=thorough`` runs 10×
more with random draws. ``pytest --hypothesis-show-statistics`` prints the examples run per test.
"""
from __future__ import annotations

import math
import os
from datetime import timedelta

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import diffedu as D  # noqa: E402
from diffedu import INTEGRATORS, PROCESSES, TIMERS, Denoiser  # noqa: E402
from diffedu.losses import dsm_loss, eps_loss, flow_matching_loss  # noqa: E402
from diffedu.metrics import mmd, sliced_wasserstein  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=timedelta(seconds=10), derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=250, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("DIFFEDU_HYPOTHESIS", "ci"))

GMM = D.gmm_2d()
processes = st.sampled_from(sorted(PROCESSES)).map(D.make_process)
dtypes = st.sampled_from([torch.float32, torch.float64])
kinds = st.sampled_from(sorted(D.KINDS))


def interior_t(process, u: float) -> float:
    """A time strictly inside [t_min, t_max] (u in [0.01, 0.99]): where every coefficient is finite."""
    return process.t_min + u * (process.t_max - process.t_min)


def clear_error(fn, *args, names: tuple[str, ...], **kw) -> None:
    """fn(...) must raise ValueError/TypeError from diffedu's own code, the message naming one of ``names``."""
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kw)
    tb = info.tb
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert "/diffedu/" in tb.tb_frame.f_code.co_filename, f"raised outside diffedu: {info.traceback[-1]}"
    assert any(n in str(info.value) for n in names), f"{info.value!r} names none of {names}"


# --- valid inputs: finite outputs of the right shape ----------------------------------------------------------------
@given(process=processes, u=st.floats(0.01, 0.99), dtype=dtypes, batch=st.integers(1, 5))
def test_process_coefficients_are_finite_inside(process, u, dtype, batch):
    t = torch.full((batch,), interior_t(process, u), dtype=dtype)
    for name in ("alpha", "sigma", "d_alpha", "d_sigma", "f", "g2", "log_snr"):
        out = getattr(process, name)(t)
        assert out.shape == (batch,) and bool(torch.isfinite(out).all()), (process, name, u)


@given(process=processes, timer=st.sampled_from(sorted(TIMERS)), n_steps=st.integers(1, 200))
def test_grids_are_decreasing_from_t_max_to_t_min(process, timer, n_steps):
    ts = D.make_grid(timer, process, n_steps)
    assert ts.shape == (n_steps + 1,) and bool(torch.isfinite(ts).all())
    assert bool((ts[1:] < ts[:-1]).all())
    assert math.isclose(float(ts[0]), process.t_max) and math.isclose(float(ts[-1]), process.t_min, abs_tol=1e-12)


@settings(max_examples=max(10, settings.default.max_examples * 3 // 5))  # each example samples: fewer
@given(process=processes, timer=st.sampled_from(sorted(TIMERS)), integrator=st.sampled_from(sorted(INTEGRATORS)),
       n_steps=st.integers(1, 200), batch=st.integers(0, 3), dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_every_sampler_gives_finite_samples(process, timer, integrator, n_steps, batch, dtype, seed):
    """Any process × timer × integrator × 1–200 steps on the exact 2-D mixture: finite samples of shape (B, 2)."""
    g = torch.Generator().manual_seed(seed)
    den = Denoiser(process, GMM.predictor(process), integrator, timer)
    x_T = den.prior(max(batch, 1), (2,), g, dtype=dtype)[:batch]  # an empty batch too (prior needs n ≥ 1)
    x = den.sample(x_T, n_steps, generator=g)
    assert x.shape == (batch, 2) and x.dtype == dtype and bool(torch.isfinite(x).all())


@given(process=processes, u=st.floats(0.05, 0.95), a=kinds, b=kinds, batch=st.integers(1, 4))
def test_convert_round_trips(process, u, a, b, batch):
    """Oracle: converting a → b → a returns the input (float64, 1e-9 relative)."""
    g = torch.Generator().manual_seed(batch)
    x_t, pred = (torch.randn(batch, 2, generator=g, dtype=torch.float64) for _ in range(2))
    t = torch.tensor(interior_t(process, u), dtype=torch.float64)
    back = D.convert(D.convert(pred, a, b, x_t, t, process), b, a, x_t, t, process)
    torch.testing.assert_close(back, pred, rtol=1e-9, atol=1e-9)


@given(process=processes, loss=st.sampled_from([eps_loss, dsm_loss, flow_matching_loss]), batch=st.integers(1, 8),
       dtype=dtypes)
def test_losses_are_finite_scalars(process, loss, batch, dtype):
    x0 = GMM.sample(batch, generator=torch.Generator().manual_seed(batch)).to(dtype)
    out = loss(lambda x, t: 0.5 * x, x0, process, generator=torch.Generator().manual_seed(0))
    assert out.shape == () and bool(torch.isfinite(out))


@given(n=st.integers(2, 40), m=st.integers(2, 40), d=st.integers(1, 4), bw=st.floats(0.1, 10.0))
def test_metrics_are_finite(n, m, d, bw):
    g = torch.Generator().manual_seed(n * 41 + m)
    x, y = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)
    assert bool(torch.isfinite(sliced_wasserstein(x, y, 16, generator=g))) and bool(torch.isfinite(mmd(x, y, bw)))


# --- invalid inputs: diffedu's own clear error, naming the argument --------------------------------------------------
BAD_NUMBERS = st.sampled_from([float("nan"), float("inf"), -float("inf"), -1.0, 0.0, None, "a", 1 + 2j, True])
BAD_COUNTS = st.one_of(st.sampled_from([None, "3", 2.5, float("nan"), True, 1 + 0j]), st.integers(-10**6, 0))
BAD_TIMES = st.one_of(st.sampled_from([None, "0.5", float("nan"), 0.5 + 0.5j, b"1", [0.5, "a"], object()]),
                      st.floats(1.0001, 1e20), st.floats(-1e20, -1e-4))


@given(name=st.sampled_from(["vp", "ve", "edm", "cosine", "ddpm"]), bad=BAD_NUMBERS)
def test_process_parameters(name, bad):
    param = {"vp": "beta_max", "ve": "sigma_max", "edm": "sigma_max", "cosine": "s", "ddpm": "T"}[name]
    assume(not (name == "vp" and bad == 0.0) and not (name == "cosine" and bad == 0.0))  # β_max = 0… s = 0 are valid
    clear_error(D.make_process, name, **{param: bad}, names=(param,))


@given(process=processes, bad=BAD_TIMES, method=st.sampled_from(["alpha", "sigma", "f", "g2", "log_snr"]))
def test_times(process, bad, method):
    if isinstance(bad, float) and math.isfinite(bad):  # u outside [0, 1] → a time outside [t_min, t_max]
        bad = process.t_min + bad * (process.t_max - process.t_min)
    clear_error(getattr(process, method), bad, names=("t",))


@given(process=processes, timer=st.sampled_from(sorted(TIMERS)), bad=BAD_COUNTS)
def test_step_counts(process, timer, bad):
    clear_error(D.make_grid, timer, process, bad, names=("n_steps",))


@given(bad_rho=st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e-3, "7"]))
def test_karras_rho(bad_rho):
    clear_error(D.make_grid, "karras", D.EDM(), 10, rho=bad_rho, names=("rho",))


@given(process=processes, other=processes)
def test_mismatched_process(process, other):
    assume(type(process) is not type(other))
    clear_error(Denoiser, other, GMM.predictor(process), names=("built for",))


@given(process=processes, shape=st.sampled_from([(8, 1), (1, 2), (8,), (8, 2, 1), (4, 2)]),
       loss=st.sampled_from([eps_loss, dsm_loss, flow_matching_loss]))
def test_network_output_of_the_wrong_shape(process, shape, loss):
    x0 = torch.randn(8, 2)
    clear_error(loss, lambda x, t: torch.zeros(shape), x0, process, names=("shape (8, 2)",))


@given(bad=st.one_of(st.sampled_from([None, "a", 1.5, float("nan"), True, -1]), st.integers(2**32, 2**70)))
def test_seeds(bad):
    clear_error(D.seed, bad, names=("seed",))


@given(x_shape=st.sampled_from([(5,), (5, 2, 2), (1, 2)]), dtype=st.sampled_from([torch.int64, torch.float32]))
def test_metric_inputs(x_shape, dtype):
    x = torch.ones(x_shape, dtype=dtype)
    clear_error(sliced_wasserstein, x, torch.randn(5, 2), names=("x and y",))


@given(integrator=st.sampled_from(["nope", "", None, 3]), timer=st.sampled_from(["nope", None, 3]))
def test_unknown_names(integrator, timer):
    process = D.VP()
    clear_error(Denoiser, process, GMM.predictor(process), integrator, "karras", names=("integrator",))
    clear_error(Denoiser, process, GMM.predictor(process), "heun", timer, names=("timer",))


@given(process=processes, integrator=st.sampled_from(sorted(INTEGRATORS)), bad=BAD_COUNTS)
def test_sampler_step_counts(process, integrator, bad):
    den = Denoiser(process, GMM.predictor(process), integrator, "uniform")
    clear_error(den.sample, 4, bad, shape=(2,), names=("n_steps",))


@given(process=processes, integrator=st.sampled_from(sorted(INTEGRATORS)),
       x_T=st.sampled_from([torch.zeros(4, 2, dtype=torch.long), [[0.0, 0.0]], None, "x"]))
def test_sampler_starts(process, integrator, x_T):
    den = Denoiser(process, GMM.predictor(process), integrator, "uniform")
    clear_error(den.sample, x_T, 3, names=("x", "n"))


@given(name=st.sampled_from(sorted(D.DATASETS_2D)), n=BAD_COUNTS,
       noise=st.sampled_from([float("nan"), float("inf"), -0.1, None, "a"]))
def test_toy_data_arguments(name, n, noise):
    clear_error(D.sample_2d, name, n, names=("n",))
    clear_error(D.sample_2d, name, 10, noise=noise, names=("noise",))

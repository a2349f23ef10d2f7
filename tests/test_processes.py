"""Tests of diffedu.processes: every process's α, σ, derivatives, SDE coefficients and log-SNR.

Oracles: autograd of the process's own α(t), σ(t) (derivatives, f, g²); the cumulative product of (1 − β) (discrete
DDPM); closed forms of each schedule; float64 round trips (log-SNR inverse).
"""
from __future__ import annotations

import math

import pytest
import torch

from diffedu.processes import (EDM, PROCESSES, VE, VP, CosineVP, DiscreteDDPM, RectifiedFlow, expand_like,
                               make_process)

# Interior times as fractions of [t_min, t_max]; endpoints are tested separately (σ = 0 or α = 0 there).
FRACTIONS = torch.tensor([0.013, 0.1, 0.25, 0.5, 0.77, 0.9, 0.987], dtype=torch.float64)
NAMES = sorted(PROCESSES)


def interior_times(process) -> torch.Tensor:
    t = process.t_min + FRACTIONS * (process.t_max - process.t_min)
    if isinstance(process, DiscreteDDPM):
        t = t + 0.37  # non-integer step indices, strictly inside a segment of the piecewise-linear log ᾱ
    return t


def autograd_derivative(fn, t: torch.Tensor) -> torch.Tensor:
    """d fn(t) / dt elementwise, by autograd (fn acts elementwise, so the gradient of the sum is the derivative)."""
    t = t.clone().requires_grad_(True)
    out = fn(t)
    if not out.requires_grad:  # a constant (e.g. α = 1 for VE and EDM): autograd has nothing to trace
        return torch.zeros_like(t)
    (grad,) = torch.autograd.grad(out.sum(), t)
    return grad


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_autograd(name):
    """Oracle: autograd of α(t) and σ(t) in float64; d_alpha/d_sigma must agree to 1e-10 (relative)."""
    process = make_process(name)
    t = interior_times(process)
    torch.testing.assert_close(process.d_alpha(t), autograd_derivative(process.alpha, t), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(process.d_sigma(t), autograd_derivative(process.sigma, t), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_sde_coefficients_match_definitions(name):
    """Oracle: f = d/dt log α and g² = dσ²/dt − 2 f σ², each differentiated by autograd (float64, 1e-10)."""
    process = make_process(name)
    t = interior_times(process)
    f_ref = autograd_derivative(lambda s: process.alpha(s).log(), t)
    torch.testing.assert_close(process.f(t), f_ref, rtol=1e-10, atol=1e-12)
    g2_ref = autograd_derivative(lambda s: process.sigma(s) ** 2, t) - 2 * f_ref * process.sigma(t) ** 2
    torch.testing.assert_close(process.g2(t), g2_ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(process.g(t) ** 2, process.g2(t), rtol=1e-12, atol=1e-14)
    assert bool((process.g2(t) > 0).all()), "the forward SDE needs g² > 0 inside (t_min, t_max)"


def test_sde_coefficients_closed_forms():
    """Oracle: the schedules' textbook formulas — VP f = −β/2, g² = β; VE g² = 2σ² log(σmax/σmin); EDM g² = 2t;
    rectified flow f = −1/(1−t), g² = 2t/(1−t)."""
    t = torch.tensor([0.1, 0.4, 0.8], dtype=torch.float64)
    vp = VP(0.1, 20.0)
    beta = 0.1 + t * 19.9
    torch.testing.assert_close(vp.f(t), -beta / 2)
    torch.testing.assert_close(vp.g2(t), beta)
    torch.testing.assert_close(vp.beta(t), beta)
    ve = VE(0.01, 50.0)
    torch.testing.assert_close(ve.f(t), torch.zeros_like(t))
    torch.testing.assert_close(ve.g2(t), 2 * ve.sigma(t) ** 2 * math.log(5000.0))
    edm = EDM()
    torch.testing.assert_close(edm.g2(t), 2 * t)
    flow = RectifiedFlow()
    torch.testing.assert_close(flow.f(t), -1 / (1 - t))
    torch.testing.assert_close(flow.g2(t), 2 * t / (1 - t))


def test_sde_coefficients_at_t_min():
    """Oracle: the closed-form limits at t = 0, where σ = 0 — VP g² = β_min, cosine g² = −2f = π/(1+s)·tan(π/2·s/(1+s)),
    DDPM g² = −log(1 − β_1), EDM and rectified flow g² = 0 (Euler–Maruyama starts here, so no NaN)."""
    zero = torch.tensor(0.0, dtype=torch.float64)
    assert VP(0.1, 20.0).g2(zero).item() == pytest.approx(0.1, rel=1e-12)
    s = 0.008
    assert CosineVP(s).g2(zero).item() == pytest.approx(math.pi / (1 + s) * math.tan(0.5 * math.pi * s / (1 + s)), rel=1e-10)
    assert DiscreteDDPM(beta_1=1e-4).g2(zero).item() == pytest.approx(-math.log(1 - 1e-4), rel=1e-10)
    assert EDM().g2(zero).item() == 0.0 and RectifiedFlow().g2(zero).item() == 0.0
    for name in NAMES:
        p = make_process(name)
        t_min = torch.tensor(p.t_min, dtype=torch.float64)
        values = [getattr(p, m)(t_min).item() for m in ("alpha", "sigma", "f", "g2", "g")]
        assert all(math.isfinite(v) for v in values) and p.sigma(t_min).item() >= 0 and math.copysign(1, p.sigma(t_min).item()) == 1, (name, values)


@pytest.mark.parametrize("name", ["vp", "cosine", "ddpm"])
def test_variance_preserving(name):
    """Oracle: α² + σ² = 1 for the variance-preserving processes (float64, 1e-12)."""
    process = make_process(name)
    t = interior_times(process)
    torch.testing.assert_close(process.alpha(t) ** 2 + process.sigma(t) ** 2, torch.ones_like(t), rtol=0, atol=1e-12)


def test_endpoints():
    """Oracle: the schedules' boundary values — data at t = 0 (α = 1, σ = 0; VE σ = σ_min), noise at t_max."""
    for name in ["vp", "cosine", "flow", "ddpm"]:
        p = make_process(name)
        assert p.alpha(0.0).item() == pytest.approx(1.0, abs=1e-12) and p.sigma(0.0).item() == pytest.approx(0.0, abs=1e-6)
    for dtype in (torch.float32, torch.float64):  # exactly zero, not a rounding error of either sign
        assert CosineVP().alpha(torch.tensor(1.0, dtype=dtype)).item() == 0.0
        assert CosineVP().sigma(torch.tensor(1.0, dtype=dtype)).item() == 1.0
    assert RectifiedFlow().alpha(1.0).item() == 0.0 and RectifiedFlow().sigma(1.0).item() == 1.0
    assert VE(0.01, 50.0).sigma(0.0).item() == pytest.approx(0.01) and VE(0.01, 50.0).sigma(1.0).item() == pytest.approx(50.0)
    assert EDM(sigma_max=80.0).t_max == 80.0 and EDM().sigma(80.0).item() == 80.0
    assert VP().alpha(1.0).item() == pytest.approx(math.exp(-0.5 * (0.1 + 0.5 * 19.9)), rel=1e-6)


def test_ddpm_alpha_bar_is_cumulative_product():
    """Oracle: ᾱ_n = ∏_{i≤n}(1 − β_i) computed by a Python loop; α_n² and 1 − σ_n² at integer n must match (1e-12)."""
    process = DiscreteDDPM(T=1000, beta_1=1e-4, beta_T=0.02)
    betas = [1e-4 + (0.02 - 1e-4) * i / 999 for i in range(1000)]
    alpha_bar, prod = [1.0], 1.0
    for beta in betas:
        prod *= 1 - beta
        alpha_bar.append(prod)
    alpha_bar = torch.tensor(alpha_bar, dtype=torch.float64)
    n = torch.tensor([0, 1, 2, 10, 250, 500, 999, 1000], dtype=torch.float64)
    torch.testing.assert_close(process.alpha(n) ** 2, alpha_bar[n.long()], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(1 - process.sigma(n) ** 2, alpha_bar[n.long()], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(process.alpha_bar, alpha_bar, rtol=1e-12, atol=0)


def test_ddpm_between_steps_interpolates_log_alpha_bar():
    """Oracle: between integer steps log ᾱ is linear, so f(t) = ½ log(1 − β_n) on (n−1, n) (closed form, 1e-12)."""
    process = DiscreteDDPM(T=50, beta_1=1e-3, beta_T=0.2)
    n = torch.tensor([1, 7, 30, 50], dtype=torch.float64)
    t = n - 0.4
    torch.testing.assert_close(process.f(t), 0.5 * torch.log(1 - process.betas[n.long() - 1]), rtol=1e-12, atol=0)
    log_ab = 0.4 * process.alpha_bar[n.long() - 1].log() + 0.6 * process.alpha_bar[n.long()].log()
    torch.testing.assert_close(2 * process.alpha(t).log(), log_ab, rtol=1e-12, atol=1e-14)


def test_ddpm_approaches_the_continuous_vp_process():
    """Oracle: the continuous limit — DDPM with β_n = β(n/T)/T approximates VP(β_min, β_max) at t = n/T
    (Song et al. 2021, appendix B); with T = 1000 the α agree to 1e-3."""
    T, vp = 1000, VP(0.1, 20.0)
    ddpm = DiscreteDDPM(T=T, beta_1=0.1 / T, beta_T=20.0 / T)
    n = torch.tensor([10.0, 100.0, 400.0, 800.0, 1000.0], dtype=torch.float64)
    torch.testing.assert_close(ddpm.alpha(n), vp.alpha(n / T), rtol=0, atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_log_snr_inverse_round_trip(name):
    """Oracle: float64 round trip t → λ(t) → t (1e-9), and λ strictly decreasing in t."""
    process = make_process(name)
    t = interior_times(process)
    lambda_t = process.log_snr(t)
    torch.testing.assert_close(process.t_of_log_snr(lambda_t), t, rtol=1e-9, atol=1e-9)
    assert bool((lambda_t.diff() < 0).all()), "log-SNR must decrease as t runs data → noise"
    torch.testing.assert_close(lambda_t, torch.log(process.alpha(t) ** 2 / process.sigma(t) ** 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_noise_is_alpha_x0_plus_sigma_eps(name):
    """Oracle: x_t = α_t x0 + σ_t ε computed by hand, for a scalar t and one t per sample."""
    process = make_process(name)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 3, 2, generator=g, dtype=torch.float64), torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    t = interior_times(process)[:4]
    x_t = process.noise(x0, t, eps)
    for i in range(4):
        ref = process.alpha(t[i]) * x0[i] + process.sigma(t[i]) * eps[i]
        torch.testing.assert_close(x_t[i], ref)
    torch.testing.assert_close(process.noise(x0, t[1].item(), eps), process.alpha(t[1]) * x0 + process.sigma(t[1]) * eps)


@pytest.mark.parametrize("name", NAMES)
def test_float32_follows_input_dtype(name):
    """Oracle: float32 inputs give float32 outputs that agree with float64 to single precision."""
    process = make_process(name)
    t64 = interior_times(process)
    t32 = t64.float()
    for method in ("alpha", "sigma", "d_alpha", "d_sigma", "f", "g2", "log_snr"):
        out = getattr(process, method)(t32)
        assert out.dtype == torch.float32, method
        torch.testing.assert_close(out.double(), getattr(process, method)(t32.double()), rtol=1e-4, atol=1e-5)


# --- bad input -----------------------------------------------------------------------------------------------
def test_unknown_process_name():
    """Oracle: a clear ValueError naming the argument and the allowed names."""
    with pytest.raises(ValueError, match="unknown process name 'vpp'.*cosine"):
        make_process("vpp")


@pytest.mark.parametrize("name", NAMES)
def test_t_outside_range(name):
    """Oracle: t below t_min, above t_max or NaN raises ValueError naming t and [t_min, t_max]."""
    process = make_process(name)
    for bad in (process.t_min - 0.01, process.t_max * 1.01 + 0.01, float("nan")):
        with pytest.raises(ValueError, match=r"t must lie in \[t_min, t_max\]"):
            process.alpha(bad)
    with pytest.raises(ValueError, match=r"t must lie in"):
        process.noise(torch.zeros(2, 1), torch.tensor([0.5 * process.t_max, process.t_max + 1]), torch.zeros(2, 1))


def test_log_snr_outside_range():
    """Oracle: λ outside [λ(t_max), λ(t_min)] raises ValueError naming lambda_t."""
    with pytest.raises(ValueError, match="lambda_t must lie in"):
        VE(0.01, 50.0).t_of_log_snr(100.0)


def test_negative_beta():
    """Oracle: ValueError naming the β argument for negative, zero or ≥ 1 values."""
    with pytest.raises(ValueError, match="beta_min"):
        VP(beta_min=-0.1)
    with pytest.raises(ValueError, match="beta_max"):
        VP(beta_max=-1.0)
    with pytest.raises(ValueError, match="beta_max must be ≥ beta_min"):
        VP(beta_min=5.0, beta_max=1.0)
    with pytest.raises(ValueError, match="beta_1"):
        DiscreteDDPM(beta_1=-1e-4)
    with pytest.raises(ValueError, match="beta_t must lie in"):
        DiscreteDDPM(betas=torch.tensor([0.1, -0.2, 0.3]))
    with pytest.raises(ValueError, match="beta_t must lie in"):
        DiscreteDDPM(betas=torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="T must be an integer ≥ 1"):
        DiscreteDDPM(T=0)


def test_other_bad_parameters():
    """Oracle: ValueError naming the parameter for non-positive σ's and cosine offset."""
    with pytest.raises(ValueError, match="sigma_min"):
        VE(sigma_min=0.0)
    with pytest.raises(ValueError, match="sigma_max must be > sigma_min"):
        VE(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="sigma_max"):
        EDM(sigma_max=-1.0)
    with pytest.raises(ValueError, match="s must be"):
        CosineVP(s=0.0)


def test_noise_mismatched_shapes():
    """Oracle: mismatched x0/eps shapes and a t with the wrong number of entries raise ValueError naming them;
    non-tensors raise TypeError."""
    process = VP()
    with pytest.raises(ValueError, match="x0 and eps must have the same shape"):
        process.noise(torch.zeros(4, 2), 0.5, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="t must be a scalar or have one entry per sample"):
        process.noise(torch.zeros(4, 2), torch.full((3,), 0.5), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="x0 and eps must be torch tensors"):
        process.noise([[0.0, 0.0]], 0.5, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="t must be a scalar"):
        expand_like(torch.zeros(2, 2), torch.zeros(2, 3))


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_functions_follow_the_device_of_their_inputs(name):
    """Oracle: the same float64 computation on the CPU (GUIDE §3: every function follows its inputs' device) — α, σ,
    conversions and the exact GMM quantities on CUDA tensors come back on CUDA and equal the CPU values (1e-9).
    Skipped without a CUDA device."""
    from diffedu.parametrization import convert
    from diffedu.toys import gmm_2d

    process, gmm, cuda = make_process(name), gmm_2d(), torch.device("cuda")
    t = interior_times(process)[:4]
    x = gmm.sample(4, generator=torch.Generator().manual_seed(0))
    for method in ("alpha", "sigma", "d_alpha", "d_sigma", "f", "g2", "log_snr"):
        out = getattr(process, method)(t.to(cuda))
        assert out.device.type == "cuda", method
        torch.testing.assert_close(out.cpu(), getattr(process, method)(t), rtol=1e-9, atol=1e-12)
    x_t = process.noise(x, t, x.flip(0))
    gpu = process.noise(x.to(cuda), t.to(cuda), x.flip(0).to(cuda))
    torch.testing.assert_close(gpu.cpu(), x_t, rtol=1e-9, atol=1e-12)
    for fn in (gmm.denoiser, gmm.score, gmm.velocity):
        out = fn(x_t.to(cuda), t.to(cuda), process)
        assert out.device.type == "cuda"
        torch.testing.assert_close(out.cpu(), fn(x_t, t, process), rtol=1e-9, atol=1e-9)
    v = convert(x.to(cuda), "x0", "velocity", x_t.to(cuda), t.to(cuda), process)
    torch.testing.assert_close(v.cpu(), convert(x, "x0", "velocity", x_t, t, process), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_at_matches_coefficients_and_forgets_changed_parameters(name):
    """Oracle: ``coefficients`` in float64. ``at(t)`` returns the same four numbers at every interior time and at
    both ends, a second call included (served from the memo); after a parameter changes, the new values."""
    process = make_process(name)
    for t in interior_times(process).tolist() + [process.t_min, process.t_max]:
        expected = tuple(c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64)))
        assert process.at(t) == expected and process.at(t) == expected
    with pytest.raises(ValueError, match="t must lie in"):
        process.at(process.t_max + 1.0)
    if name in ("flow", "edm"):
        return  # α_t, σ_t depend on no parameter (EDM: α = 1, σ = t)
    t = interior_times(process)[3].item()
    before = process.at(t)
    if name == "ddpm":  # its α, σ are read from the log ᾱ table: doubling it is a different schedule
        process._log_alpha_bar = 2 * process._log_alpha_bar
    else:
        setattr(process, *{"vp": ("beta_max", 10.0), "subvp": ("beta_max", 10.0), "cosine": ("s", 0.02), "ve": ("sigma_max", 20.0)}[name])
    after = tuple(c.item() for c in process.coefficients(torch.tensor(t, dtype=torch.float64)))
    assert after != before and process.at(t) == after


@pytest.mark.parametrize("name", NAMES)
def test_memoise_and_g2_at_match_the_one_at_a_time_values(name):
    """Oracle: at(t) and g2(t) computed one time at a time on a fresh process; memoise(ts) fills the same memo from
    one vectorised call, which must agree to float64 rounding (1e-14 relative), and g2_at(t) equals g2(t)."""
    def fresh():
        return DiscreteDDPM(200, 5e-4, 0.1) if name == "ddpm" else make_process(name)
    p = fresh()
    ts = (p.t_min + FRACTIONS * (p.t_max - p.t_min)).tolist() + [p.t_max]
    one_by_one = [fresh().at(t) for t in ts]
    p.memoise(ts)
    for t, expected in zip(ts, one_by_one):
        for got, want in zip(p.at(t), expected):
            assert got == pytest.approx(want, rel=1e-14, abs=1e-300) or (math.isnan(got) and math.isnan(want))
    for t in ts[:-1]:
        assert p.g2_at(t) == pytest.approx(p.g2(torch.tensor(t, dtype=torch.float64)).item(), rel=1e-15)
    with pytest.raises(ValueError):
        p.memoise([p.t_max + 1.0])

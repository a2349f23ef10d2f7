"""``check_*`` functions: each tests a student's function against an independent answer and replies with a hint.

A check prints a short success line when the answer is right and raises ``AssertionError`` with a hint on a wrong
answer (so a wrong exercise shows red in the notebook). An exception raised inside the student's function is never a
traceback: the student edition's stub (``NotImplementedError``) gets one printed line saying the warm-up is not
written yet, any other exception one line with its likely cause (:func:`student_errors.explain`), and the check
returns normally, so JupyterLab's Run All goes on to the cells below (no chapter cell uses a warm-up's function
further down). No reply shows the answer. A check returns ``None`` (a value would be echoed under the cell).
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import torch

from ..integrators import ddim_step, euler_step, heun_step
from ..nets import edm_preconditioning
from ..processes import VE, VP, CosineVP, DiscreteDDPM, RectifiedFlow, SubVP, make_process
from ..toys import gmm_2d
from .discrete import DiscreteNoise
from .elbo import posterior
from .guidance_demos import mixture_classifier
from .student_errors import StudentError, explain, guarded, stub_title


def not_yet(check: str, error: BaseException, shapes: str = "") -> str:
    """The one line that replaces a traceback: the stub's warm-up is not written yet, or the likely cause of the
    exception (``shapes``: a check's own words for a shape error)."""
    title = stub_title(error)
    if title:
        return (f"✗ {title} is not written yet: replace the `raise NotImplementedError` line with your code, then "
                f"run this cell again ({check}).")
    shaped = shapes and any(w in str(error) for w in ("size", "shape", "dimension"))
    cause = f"{shapes} ({type(error).__name__}: {error})" if shaped else explain(error)
    return f"✗ {check}: not yet — your function raised an error. Likely cause: {cause}"


def warm_up(check: Callable | None = None, *, shapes: str = ""):
    """Decorate a ``check_…(fn, …)``: the student's functions run ``guarded``; an exception raised in them ends the
    check with one printed line (:func:`not_yet`) instead of a traceback."""
    if check is None:
        return functools.partial(warm_up, shapes=shapes)

    @functools.wraps(check)
    def run(*functions: Callable) -> None:
        for fn in functions:
            if not callable(fn):
                raise TypeError(f"{check.__name__}: pass your function itself, without calling it; got "
                                f"{type(fn).__name__}")
        try:
            check(*map(guarded, functions))
        except StudentError as raised:
            print(not_yet(check.__name__, raised.error, shapes))
    return run


def _report(ok: bool, name: str, hint: str) -> None:
    if not ok:
        raise AssertionError(f"{name}: not yet. Hint: {hint}")
    print(f"✓ {name}: correct")


def _close(a, b, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Whether the student's ``a`` equals the answer ``b`` (compared in float64; an answer computed in float32 or
    float16 is held to its own precision)."""
    if a is None:
        raise AssertionError("not yet. Hint: your function returned None — did you forget `return`?")
    if isinstance(a, torch.Tensor) and a.dtype in (torch.float32, torch.float16, torch.bfloat16):
        eps = torch.finfo(a.dtype).eps
        rtol, atol = max(rtol, 20 * eps), max(atol, 20 * eps)
    try:
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"not yet. Hint: your function should return a tensor (or a number); it returned "
                             f"{type(a).__name__}") from None
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _clones(*args):
    """The arguments for a student's function, tensors cloned: an in-place answer must not change the test's inputs."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


# --- 00–02 -------------------------------------------------------------------------------------------

def _cases_00(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)
    return x0, eps, [(1.0, 0.0), (0.8, 0.6), (0.0, 1.0), (1.0, 2.5), (0.3, 0.1)]


@warm_up
def check_noise(fn: Callable) -> None:
    r"""``fn(x0, eps, alpha_t, sigma_t)`` → $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ (chapter 00)."""
    x0, eps, pairs = _cases_00()
    for alpha_t, sigma_t in pairs:
        got = fn(x0.clone(), eps.clone(), alpha_t, sigma_t)
        if not _close(got, alpha_t * x0 + sigma_t * eps):
            hint = ("at α = 1, σ = 0 you must get x0 back" if (alpha_t, sigma_t) == (1.0, 0.0) else
                    f"at α = {alpha_t}, σ = {sigma_t}: scale the data by α and the noise by σ, then add "
                    "(σ multiplies ε, not its square σ²)")
            _report(False, "check_noise", hint)
    _report(True, "check_noise", "")


@warm_up
def check_log_snr(fn: Callable) -> None:
    r"""``fn(alpha_t, sigma_t)`` → $\lambda = \log(\alpha_t^2/\sigma_t^2)$ for positive tensors (chapter 00)."""
    alpha_t = torch.tensor([1.0, 0.8, 0.1, 2.0], dtype=torch.float64)
    sigma_t = torch.tensor([1.0, 0.6, 0.995, 0.01], dtype=torch.float64)
    got = fn(alpha_t.clone(), sigma_t.clone())
    want = 2 * (alpha_t.log() - sigma_t.log())
    if not _close(got, want):
        got_t = torch.as_tensor(got, dtype=torch.float64)
        if got_t.shape == want.shape and _close(got_t, want / 2):
            hint = "you returned log(α/σ): the SNR is α²/σ², so its log is twice that"
        elif got_t.shape == want.shape and _close(got_t, want.exp()):
            hint = "you returned the SNR α²/σ² itself; take its natural log"
        else:
            hint = "λ = log(α²/σ²) = 2(log α − log σ); at α = σ it is 0"
        _report(False, "check_log_snr", hint)
    _report(True, "check_log_snr", "")


@warm_up
def check_vp_alpha(fn: Callable) -> None:
    r"""``fn(t, beta_min, beta_max)`` → VP's $\alpha_t = \exp(-\tfrac12\int_0^t\beta)$ with linear β (chapter 01)."""
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    for beta_min, beta_max in [(0.1, 20.0), (1.0, 1.0), (0.0, 5.0)]:
        got = fn(t.clone(), beta_min, beta_max)
        want = VP(beta_min, beta_max).alpha(t)
        if not _close(got, want, rtol=1e-9, atol=1e-12):
            got_t = torch.as_tensor(got, dtype=torch.float64)
            if got_t.shape == want.shape and _close(got_t, want**2, rtol=1e-9, atol=1e-12):
                hint = "that is α_t² (= ᾱ): α_t = exp(−½∫β), with the ½"
            else:
                hint = (f"with β_min = {beta_min}, β_max = {beta_max}: ∫₀ᵗ β(s) ds = β_min·t + ½(β_max − β_min)·t² "
                        "(integrate the line, don't just evaluate β(t)·t)")
            _report(False, "check_vp_alpha", hint)
    _report(True, "check_vp_alpha", "")


@warm_up
def check_em_step(fn: Callable) -> None:
    r"""``fn(x, t, dt, z, process)`` → one Euler–Maruyama step of $dx = f x\,dt + g\,dW$ (chapter 01)."""
    g = torch.Generator().manual_seed(2)
    x, z = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    for process, t, dt in [(VP(), 0.3, 0.01), (VE(), 0.5, 0.02), (VP(), 0.0, 0.1)]:
        f_t, g_t = process.f(torch.tensor(t, dtype=torch.float64)), process.g(torch.tensor(t, dtype=torch.float64))
        want = x + f_t * x * dt + g_t * dt**0.5 * z
        got = fn(x.clone(), t, dt, z.clone(), process)
        if not _close(got, want, rtol=1e-9, atol=1e-12):
            wrong_noise = x + f_t * x * dt + g_t * dt * z
            hint = ("the noise increment is g·√Δt·z, not g·Δt·z: Brownian increments have variance Δt"
                    if _close(got, wrong_noise, rtol=1e-9, atol=1e-12) else
                    f"for {type(process).__name__} at t = {t}: x + f(t)·x·Δt + g(t)·√Δt·z (process.f(t), process.g(t))")
            _report(False, "check_em_step", hint)
    _report(True, "check_em_step", "")


@warm_up
def check_tweedie(fn: Callable) -> None:
    r"""``fn(score, x_t, alpha_t, sigma_t)`` → Tweedie's $\hat x_0 = (x_t + \sigma_t^2\nabla\log p_t)/\alpha_t$ (chapter 02)."""
    gmm, process = gmm_2d(), VP()
    g = torch.Generator().manual_seed(3)
    for t in (0.1, 0.5, 0.9):
        t_ = torch.tensor(t, dtype=torch.float64)
        x_t = gmm.sample(8, t_, process, generator=g)
        alpha_t, sigma_t = process.alpha(t_).item(), process.sigma(t_).item()
        got = fn(gmm.score(x_t, t_, process), x_t.clone(), alpha_t, sigma_t)
        if not _close(got, gmm.denoiser(x_t, t_, process), rtol=1e-8, atol=1e-10):
            _report(False, "check_tweedie", f"at t = {t} (α = {alpha_t:.3f}, σ = {sigma_t:.3f}) your x̂₀ is not the exact "
                    "E[x0 | x_t]: the score is multiplied by σ² (not σ), then the sum is divided by α")
    _report(True, "check_tweedie", "")


@warm_up
def check_velocity(fn: Callable) -> None:
    r"""``fn(x0_hat, x_t, alpha_t, sigma_t, d_alpha_t, d_sigma_t)`` → $\hat v = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$
    with $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$ (chapter 02)."""
    gmm = gmm_2d()
    g = torch.Generator().manual_seed(4)
    for process, t in [(RectifiedFlow(), 0.4), (CosineVP(), 0.7)]:
        t_ = torch.tensor(t, dtype=torch.float64)
        x_t = gmm.sample(8, t_, process, generator=g)
        alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c.item() for c in process.coefficients(t_))
        got = fn(gmm.denoiser(x_t, t_, process), x_t.clone(), alpha_t, sigma_t, d_alpha_t, d_sigma_t)
        if not _close(got, gmm.velocity(x_t, t_, process), rtol=1e-8, atol=1e-10):
            _report(False, "check_velocity", f"for {type(process).__name__} at t = {t}: first recover ε̂ from x_t and x̂₀ "
                    "(x_t = α x̂₀ + σ ε̂), then differentiate x_t = α_t x0 + σ_t ε in t: v = α̇ x̂₀ + σ̇ ε̂")
    _report(True, "check_velocity", "")



# --- 03, 06, 07 --------------------------------------------------------------------------------------

def _sde_cases():
    g = torch.Generator().manual_seed(3)
    for f_t, g2_t in [(-0.5, 1.0), (0.0, 4.0), (-5.0, 10.0)]:
        x, score = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)
        yield x, f_t, g2_t, score


@warm_up
def check_pf_drift(fn: Callable) -> None:
    r"""``fn(x, f_t, g2_t, score)`` → the probability-flow ODE drift $f_t x - \tfrac12 g_t^2\nabla\log p_t$."""
    for x, f_t, g2_t, score in _sde_cases():
        if not _close(fn(*_clones(x, f_t, g2_t, score)), f_t * x - 0.5 * g2_t * score):
            _report(False, "check_pf_drift", "the ODE has half the score term of the reverse SDE: f·x − ½·g²·score")
    _report(True, "check_pf_drift", "")


@warm_up
def check_reverse_sde_drift(fn: Callable) -> None:
    r"""``fn(x, f_t, g2_t, score)`` → the reverse-SDE drift $f_t x - g_t^2\nabla\log p_t$ (Anderson 1982)."""
    for x, f_t, g2_t, score in _sde_cases():
        if not _close(fn(*_clones(x, f_t, g2_t, score)), f_t * x - g2_t * score):
            _report(False, "check_reverse_sde_drift", "the full g² multiplies the score (not ½ g²): f·x − g²·score")
    _report(True, "check_reverse_sde_drift", "")


@warm_up
def check_langevin_step(fn: Callable) -> None:
    r"""``fn(x, score, tau, z)`` → $x + \tau\,\text{score} + \sqrt{2\tau}\,z$."""
    for x, _, tau, score in _sde_cases():
        z = torch.ones_like(x) * 0.3
        if not _close(fn(*_clones(x, score, tau, z)), x + tau * score + (2 * tau) ** 0.5 * z):
            _report(False, "check_langevin_step", "the noise is scaled by sqrt(2·tau), the score by tau")
    _report(True, "check_langevin_step", "")


@warm_up
def check_dsm_target(fn: Callable) -> None:
    r"""``fn(x_tilde, x0, sigma)`` → the DSM target $\nabla_{\tilde x}\log\mathcal N(\tilde x; x_0, \sigma^2 I) = -(\tilde x - x_0)/\sigma^2$."""
    for x, _, sigma2, x0 in _sde_cases():
        sigma = sigma2**0.5
        if not _close(fn(*_clones(x, x0, sigma)), -(x - x0) / sigma**2):
            _report(False, "check_dsm_target", "differentiate −‖x̃ − x0‖²/(2σ²) in x̃: it points from x̃ back to x0, over σ²")
    _report(True, "check_dsm_target", "")


@warm_up
def check_subvp_sigma(fn: Callable) -> None:
    r"""``fn(t, beta_min, beta_max)`` → the sub-VP kernel's $\sigma_t = 1 - e^{-B(t)}$, $B(t) = \int_0^t\beta$."""
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    for b0, b1 in [(0.1, 20.0), (1.0, 1.0)]:
        if not _close(fn(*_clones(t, b0, b1)), SubVP(b0, b1).sigma(t), rtol=1e-8, atol=1e-10):
            _report(False, "check_subvp_sigma", "solve dv/dt = 2 f v + g² with f = −β/2, g² = β(1 − e^(−2B)), v(0) = 0;"
                    " σ_t = sqrt(v) = 1 − e^(−B), with B = β_min t + ½(β_max − β_min) t²")
    _report(True, "check_subvp_sigma", "")


@warm_up
def check_corrector_step(fn: Callable) -> None:
    r"""``fn(snr, z_norm, score_norm)`` → the Langevin corrector's step $\epsilon = 2(r\lVert z\rVert/\lVert s\rVert)^2$."""
    for r, zn, sn in [(0.16, 1.4, 10.0), (0.5, 2.0, 0.3), (0.01, 1.0, 1.0)]:
        if not _close(fn(r, zn, sn), 2 * (r * zn / sn) ** 2):
            _report(False, "check_corrector_step", "Song et al. (2021, Alg. 4, the VE corrector): ε = 2·(r·‖z‖/‖score‖)², "
                    "so the signal ε‖score‖ and the noise sqrt(2ε)‖z‖ keep the ratio r "
                    "(Alg. 5, for VP, also multiplies ε by α_i)")
    _report(True, "check_corrector_step", "")



# --- 04, 05 ------------------------------------------------------------------------------------------

@warm_up
def check_alpha_bar(fn: Callable) -> None:
    r"""``fn(betas)`` → $\bar\alpha_n = \prod_{i\le n}(1-\beta_i)$ for n = 0..T (shape (T+1,), $\bar\alpha_0 = 1$)."""
    for T, b1, bT in [(10, 1e-3, 0.2), (1000, 1e-4, 0.02)]:
        proc = DiscreteDDPM(T, b1, bT)
        got = fn(proc.betas.clone())
        ok = _close(got, proc.alpha_bar, rtol=1e-9, atol=1e-12)
        if not ok:
            shape = tuple(torch.as_tensor(got).shape)
            hint = (f"return T+1 = {T + 1} values starting with ᾱ_0 = 1; got shape {shape}" if shape != (T + 1,)
                    else "ᾱ_n is the running product of (1 − β_i) — torch.cumprod — with a 1 in front")
            _report(False, "check_alpha_bar", hint)
    _report(True, "check_alpha_bar", "")


@warm_up
def check_posterior(fn: Callable) -> None:
    r"""``fn(x_n, x0, n, betas)`` → (mean, variance) of $q(x_{n-1}\mid x_n, x_0)$ (Ho et al. 2020, eq. 7)."""
    g = torch.Generator().manual_seed(1)
    proc = DiscreteDDPM(50, 1e-3, 0.1)
    x_n, x0 = torch.randn(4, 2, generator=g, dtype=torch.float64), torch.randn(4, 2, generator=g, dtype=torch.float64)
    for n in (1, 2, 25, 50):
        mean, var = posterior(x_n, x0, n, proc)
        got_mean, got_var = fn(x_n, x0, n, proc.betas.clone())
        if not _close(got_var, var, rtol=1e-8, atol=1e-12):
            _report(False, "check_posterior", f"the variance at n = {n} is off: β̃_n = (1 − ᾱ_(n−1))/(1 − ᾱ_n)·β_n, "
                    "with ᾱ_0 = 1 (so β̃_1 = 0); index betas[n − 1] for β_n")
        if not _close(got_mean, mean, rtol=1e-8, atol=1e-10):
            _report(False, "check_posterior", f"the mean at n = {n} is off: √ᾱ_(n−1)·β_n/(1 − ᾱ_n)·x0 + "
                    "√a_n·(1 − ᾱ_(n−1))/(1 − ᾱ_n)·x_n, with a_n = 1 − β_n")
    _report(True, "check_posterior", "")


@warm_up
def check_ddim_noise_scale(fn: Callable) -> None:
    r"""``fn(alpha_t, sigma_t, alpha_s, sigma_s, eta)`` → DDIM's noise scale
    $c = \eta\,\sigma_s\sqrt{1 - \alpha_t^2\sigma_s^2/(\alpha_s^2\sigma_t^2)}$ (float)."""
    for a_t, s_t, a_s, s_s in [(0.6, 0.8, 0.8, 0.6), (0.1, math.sqrt(0.99), 0.99, math.sqrt(1 - 0.99**2))]:
        for eta in (0.0, 0.5, 1.0):
            want = eta * s_s * math.sqrt(1 - (a_t * s_s / (a_s * s_t)) ** 2)
            got = fn(a_t, s_t, a_s, s_s, eta)
            if not _close(got, want, rtol=1e-9, atol=1e-12):
                hint = ("η = 0 must give c = 0 (deterministic DDIM)" if eta == 0 else
                        "c² is η² times the DDPM posterior variance σ_s²(1 − α_t²σ_s²/(α_s²σ_t²))")
                _report(False, "check_ddim_noise_scale", hint)
    _report(True, "check_ddim_noise_scale", "")


@warm_up
def check_ddim_update(fn: Callable) -> None:
    r"""``fn(x_t, x0_hat, alpha_t, sigma_t, alpha_s, sigma_s, c, z)`` → the DDIM update
    $x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,\hat\varepsilon + c\,z$, $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$."""
    g = torch.Generator().manual_seed(2)
    x_t, x0_hat, z = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    a_t, s_t, a_s, s_s = 0.6, 0.8, 0.8, 0.6
    for c in (0.0, 0.3):
        eps_hat = (x_t - a_t * x0_hat) / s_t
        want = a_s * x0_hat + math.sqrt(s_s**2 - c**2) * eps_hat + c * z
        if not _close(fn(x_t, x0_hat, a_t, s_t, a_s, s_s, c, z), want, rtol=1e-9, atol=1e-12):
            hint = ("with c = 0 the step is α_s·x̂₀ + σ_s·ε̂ — did you recover ε̂ from x_t and x̂₀?" if c == 0 else
                    "the direction term has weight √(σ_s² − c²), so that its variance plus c² stays σ_s²")
            _report(False, "check_ddim_update", hint)
    _report(True, "check_ddim_update", "")



# --- 08, 09 ------------------------------------------------------------------------------------------

@warm_up
def check_rf_conditional_velocity(fn: Callable) -> None:
    r"""``fn(x0, eps, t)`` → rectified flow's conditional velocity $dx_t/dt = \varepsilon - x_0$ for $x_t = (1-t)x_0 + t\varepsilon$ (chapter 08)."""
    g = torch.Generator().manual_seed(8)
    x0, eps = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    for t in (0.0, 0.3, 1.0):
        got = fn(x0.clone(), eps.clone(), t)
        if not _close(got, eps - x0):
            hint = ("you returned x0 − ε: in the course time runs data → noise, so d/dt[(1−t)x0 + tε] = ε − x0 "
                    "(the flow-matching papers' τ = 1 − t flips the sign)" if _close(got, x0 - eps) else
                    "differentiate x_t = (1 − t)x0 + tε with respect to t; the answer does not depend on t")
            _report(False, "check_rf_conditional_velocity", hint)
    _report(True, "check_rf_conditional_velocity", "")


@warm_up
def check_rf_velocity_to_x0(fn: Callable) -> None:
    r"""``fn(v, x_t, t)`` → $\hat x_0 = x_t - t\,v$, the denoiser read off a rectified-flow velocity (chapter 08)."""
    g = torch.Generator().manual_seed(9)
    x0, eps = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    for t in (0.2, 0.7, 1.0):
        x_t, v = (1 - t) * x0 + t * eps, eps - x0
        if not _close(fn(v.clone(), x_t.clone(), t), x0):
            _report(False, "check_rf_velocity_to_x0", "eliminate ε from x_t = (1−t)x0 + tε and v = ε − x0: "
                    "x_t − t v = ?")
    _report(True, "check_rf_velocity_to_x0", "")


@warm_up
def check_edm_precond(fn: Callable) -> None:
    r"""``fn(sigma, sigma_data)`` → ``(c_skip, c_out, c_in, c_noise)`` of EDM (Karras et al. 2022, Table 1) (chapter 09)."""
    sigma = torch.tensor([0.002, 0.1, 0.5, 2.0, 80.0], dtype=torch.float64)
    for sigma_data in (0.5, 1.0):
        want = edm_preconditioning(sigma, sigma_data)
        got = fn(sigma.clone(), sigma_data)
        names = ("c_skip", "c_out", "c_in", "c_noise")
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            _report(False, "check_edm_precond", "return the four coefficients as a tuple (c_skip, c_out, c_in, c_noise)")
        for name, a, b in zip(names, got, want):
            if not _close(a, b):
                hints = dict(c_skip="c_skip = σ_d²/(σ² + σ_d²): at σ → 0 it is 1 (keep x_t)",
                             c_out="c_out = σσ_d/√(σ² + σ_d²): the target's scale",
                             c_in="c_in = 1/√(σ² + σ_d²): x_t has variance σ² + σ_d²",
                             c_noise="c_noise = ln(σ)/4")
                _report(False, "check_edm_precond", f"{name} is off at σ_data = {sigma_data}. {hints[name]}")
    _report(True, "check_edm_precond", "")


@warm_up
def check_karras_sigmas(fn: Callable) -> None:
    r"""``fn(n, sigma_min, sigma_max, rho)`` → the n noise levels $(\sigma_{max}^{1/\rho} + \tfrac{i}{n-1}(\sigma_{min}^{1/\rho} - \sigma_{max}^{1/\rho}))^\rho$ (chapter 09)."""
    for n, lo, hi, rho in ((18, 0.002, 80.0, 7.0), (5, 0.01, 10.0, 1.0), (10, 0.002, 80.0, 3.0)):
        i = torch.arange(n, dtype=torch.float64) / (n - 1)
        want = (hi ** (1 / rho) + i * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
        got = fn(n, lo, hi, rho)
        if not _close(got, want):
            hint = ("the first level must be σ_max and the last σ_min (decreasing)" if _close(torch.as_tensor(got).flip(0), want)
                    else "interpolate linearly between σ_max^(1/ρ) and σ_min^(1/ρ) over n points, then raise to the power ρ")
            _report(False, "check_karras_sigmas", hint)
    _report(True, "check_karras_sigmas", "")



# --- 10 ----------------------------------------------------------------------------------------------
def _sampler_cases():
    """(x, t, t_next, predictor, process) cases: EDM, VP and rectified flow, interior steps and a step into σ = 0."""
    gmm = gmm_2d()
    for name, t, t_next in (("edm", 5.0, 2.0), ("vp", 0.6, 0.45), ("flow", 0.7, 0.4), ("edm", 0.3, 0.0)):
        process = make_process(name)
        pred = gmm.predictor(process)
        x = gmm.marginal(t, process).sample(8, generator=torch.Generator().manual_seed(3))
        yield x, torch.tensor(t, dtype=torch.float64), torch.tensor(t_next, dtype=torch.float64), pred, process


@warm_up
def check_heun_step(fn: Callable) -> None:
    r"""``fn(x, t, t_next, predictor, process)`` → one Heun step of the PF-ODE $dx/dt = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon$."""
    for x, t, t_next, pred, process in _sampler_cases():
        got = fn(x.clone(), t, t_next, pred, process)
        if _close(got, euler_step(x, t, t_next, pred, process)[0], rtol=1e-9, atol=1e-10) and process.sigma(t_next) > 0:
            _report(False, "check_heun_step", "you returned the Euler step: evaluate the velocity again at the Euler "
                    "point (t_next) and step with the average of the two velocities")
        if not _close(got, heun_step(x, t, t_next, pred, process)[0], rtol=1e-6, atol=1e-8):
            hint = ("into σ = 0 do not evaluate at t_next (ε̂ = (x − αx̂₀)/σ divides by 0): take the Euler step"
                    if process.sigma(t_next) == 0 else
                    f"wrong on the {process.name} process from t = {t.item():g} to {t_next.item():g}: the velocity is "
                    "α̇ x̂₀ + σ̇ ε̂ with ε̂ = (x − α x̂₀)/σ, and dt = t_next − t is negative")
            _report(False, "check_heun_step", hint)
    _report(True, "check_heun_step", "")


@warm_up
def check_ddim_sampler_step(fn: Callable) -> None:
    r"""Chapter 10: ``fn(x, t, t_next, predictor, process)`` → one deterministic DDIM step
    $\alpha_s\hat x_0 + \sigma_s\hat\varepsilon$ (chapter 05's ``check_ddim_update`` checks the update written from
    its coefficients)."""
    for x, t, t_next, pred, process in _sampler_cases():
        got = fn(x.clone(), t, t_next, pred, process)
        if not _close(got, ddim_step(x, t, t_next, pred, process)[0], rtol=1e-6, atol=1e-8):
            _report(False, "check_ddim_sampler_step", f"wrong on the {process.name} process from t = {t.item():g} to {t_next.item():g}: get "
                    "x̂₀ at t, ε̂ = (x − α_t x̂₀)/σ_t, then re-noise to t_next with α_s and σ_s (no fresh noise)")
    _report(True, "check_ddim_sampler_step", "")




# --- 11 ----------------------------------------------------------------------------------------------
GAUSSIAN_SHAPES = ("the shapes do not fit: print them — A is (M, D), mu and y are vectors (D,) and (M,), cov is "
                   "(D, D); a matrix times a vector is A @ v")


@warm_up(shapes=GAUSSIAN_SHAPES)
def check_gaussian_conditioning(fn: Callable) -> None:
    r"""``fn(mu, cov, A, y, sigma_y)`` → (mean, cov) of $p(x_0\mid y)$ for $x_0\sim N(\mu, \Sigma)$ and
    $y = A x_0 + \sigma_y z$ (chapter 11). Oracle: the information form $\Sigma'^{-1} = \Sigma^{-1} + A^\top A/\sigma_y^2$,
    $\Sigma'^{-1}\mu' = \Sigma^{-1}\mu + A^\top y/\sigma_y^2$ (a different formula from the gain form)."""
    g = torch.Generator().manual_seed(11)
    ok, hint = True, ""
    for M, D in ((1, 2), (2, 2), (2, 3)):
        mu = torch.randn(D, generator=g, dtype=torch.float64)
        L = torch.randn(D, D, generator=g, dtype=torch.float64)
        cov = L @ L.T + 0.3 * torch.eye(D, dtype=torch.float64)
        A = torch.randn(M, D, generator=g, dtype=torch.float64)
        y = torch.randn(M, generator=g, dtype=torch.float64)
        sigma_y = 0.4
        prec = torch.linalg.inv(cov) + A.T @ A / sigma_y**2
        want_cov = torch.linalg.inv(prec)
        want_mean = want_cov @ (torch.linalg.solve(cov, mu) + A.T @ y / sigma_y**2)
        got = fn(mu.clone(), cov.clone(), A.clone(), y.clone(), sigma_y)
        if ok and not (isinstance(got, tuple) and len(got) == 2 and _close(got[0], want_mean)
                       and _close(got[1], want_cov)):
            ok, hint = False, (f"with A of shape ({M}, {D}): gain K = Σ Aᵀ (A Σ Aᵀ + σ_y² I)⁻¹, mean μ + K (y − A μ), "
                               "covariance Σ − K A Σ; return the pair (mean, cov)")
    _report(ok, "check_gaussian_conditioning", hint)


@warm_up
def check_classifier_grad(fn: Callable) -> None:
    r"""``fn(gmm, x_t, t, process, y)`` → $\nabla_{x_t}\log p_t(y\mid x_t)$ for an int label y (chapter 11).
    Oracle: autograd of the exact log-probability ``guidance.mixture_classifier``. The hint names the mistake (the
    conditional score alone, a flipped sign) without giving the answer away."""
    gmm = gmm_2d()
    g = torch.Generator().manual_seed(12)
    ok, hint = True, ""
    for name, t in (("vp", 0.2), ("edm", 1.5)):
        process = make_process(name)
        x = 2 * torch.randn(16, 2, generator=g, dtype=torch.float64)
        for y in (0, 2):
            xg = x.clone().requires_grad_(True)
            (want,) = torch.autograd.grad(mixture_classifier(gmm, xg, t, process)[:, y].sum(), xg)
            got = fn(gmm, x.clone(), t, process, y)
            if ok and not _close(got, want, rtol=1e-6, atol=1e-9):
                cond, uncond = gmm.restrict(y).score(x, t, process), gmm.score(x, t, process)
                if _close(got, cond):
                    why = "you returned the conditional score ∇log p_t(x|y): what does Bayes' rule subtract from it?"
                elif _close(got, -want):
                    why = "the sign is flipped: log p_t(y|x) grows where class y's components dominate the mixture"
                elif _close(got, uncond):
                    why = "you returned the score of the whole mixture, which does not depend on y"
                else:
                    why = ("write log p_t(y|x_t) with Bayes' rule in terms of p_t(x_t|y), p_t(x_t) and p(y), then take "
                           "∇_{x_t}: p(y) is a constant")
                ok, hint = False, f"({name}, t = {t}, y = {y}) {why}"
    _report(ok, "check_classifier_grad", hint)


# --- 12 ----------------------------------------------------------------------------------------------


@warm_up
def check_edm_preconditioning(fn: Callable) -> None:
    r"""``fn(sigma, sigma_data)`` → (c_skip, c_out, c_in, c_noise) of Karras et al. 2022, Table 1."""
    for sd in (0.5, 1.0):
        sigma = torch.tensor([0.002, 0.3, 1.0, 80.0], dtype=torch.float64)
        got, want = fn(sigma.clone(), sd), edm_preconditioning(sigma, sd)
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            _report(False, "check_edm_preconditioning", "return the four coefficients as a tuple "
                    "(c_skip, c_out, c_in, c_noise)")
        for name, a, b in zip(("c_skip", "c_out", "c_in", "c_noise"), got, want):
            if not _close(a, b):
                _report(False, "check_edm_preconditioning", f"{name} is off; with s = σ² + σ_data²: c_skip = σ_data²/s, "
                        "c_out = σ·σ_data/√s, c_in = 1/√s, c_noise = ln(σ)/4")
    _report(True, "check_edm_preconditioning", "")


@warm_up
def check_drop_labels(fn: Callable) -> None:
    r"""``fn(y, p_uncond, u)`` → y with entries where u < p_uncond replaced by the null class 10."""
    y = torch.arange(10)
    u = torch.linspace(0, 0.95, 10)
    for p in (0.0, 0.3, 1.0):
        want = torch.where(u < p, torch.full_like(y, 10), y)
        got = fn(y, p, u)
        if not (isinstance(got, torch.Tensor) and torch.equal(got, want)):
            _report(False, "check_drop_labels", "replace the label by 10 exactly where u < p_uncond; keep the others")
    _report(True, "check_drop_labels", "")



@warm_up
def check_pd_target(fn: Callable) -> None:
    r"""``fn(x_t, x_s, t, s, process)`` → the $\tilde x_0$ whose one DDIM step t → s lands on ``x_s`` (Salimans & Ho
    2022, Algorithm 2) (chapter 13). Oracle: the DDIM step itself, run with the answer, in float64."""
    g = torch.Generator().manual_seed(13)
    x_t, x_s = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    for process in (RectifiedFlow(), CosineVP()):
        for t, s in ((0.9, 0.5), (0.5, 0.0)):
            (alpha_t, sigma_t), (alpha_s, sigma_s) = (process.at(v)[:2] for v in (t, s))
            got = fn(x_t.clone(), x_s.clone(), t, s, process)
            if not isinstance(got, torch.Tensor) or got.shape != x_t.shape:
                _report(False, "check_pd_target", f"return a tensor of x_t's shape {tuple(x_t.shape)}")
            landed = alpha_s * got + sigma_s * (x_t - alpha_t * got) / sigma_t  # one DDIM step with your x̃₀
            if not _close(landed, x_s):
                _report(False, "check_pd_target", "write one DDIM step x_s = α_s·x̃₀ + (σ_s/σ_t)(x_t − α_t·x̃₀) "
                        "and solve it for x̃₀ (it is linear in x̃₀); at s = 0 the answer is x_s itself")
    _report(True, "check_pd_target", "")


@warm_up
def check_forward_kernel(fn: Callable) -> None:
    r"""``fn(kind, alpha_t, V)`` → the (S, S) matrix $q_t(x_t^i = w\mid x_0^i = u)$ of one position under uniform
    (S = V) or mask (S = V + 1, the mask last) noise with keep-probability α_t (chapter 14). Oracle: the closed form of
    ``discrete.DiscreteNoise.kernel`` on the linear schedule (α_t = 1 − t), itself tested against the matrix
    exponential $e^{\bar\sigma(t)Q}$."""
    for kind in ("uniform", "mask"):
        for V in (3, 4):
            for alpha_t in (1.0, 0.7, 0.2, 0.0):
                want = DiscreteNoise(kind, V, "linear").kernel(1.0 - alpha_t)
                got = fn(kind, alpha_t, V)
                if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                    _report(False, "check_forward_kernel", f"return a tensor of shape {tuple(want.shape)} for "
                            f"{kind} noise with V = {V} (mask noise has one more token, the mask, last)")
                if not _close(got, want):
                    _report(False, "check_forward_kernel", _kernel_hint(kind, got))
    _report(True, "check_forward_kernel", "")


def _kernel_hint(kind: str, got: torch.Tensor) -> str:
    """The likely mistake behind a wrong forward kernel."""
    rows = torch.as_tensor(got, dtype=torch.float64).sum(-1)
    if not torch.allclose(rows, torch.ones_like(rows)):
        return "each row u is a distribution over x_t: it must sum to 1"
    if kind == "uniform":
        return ("with probability α_t the token is kept; otherwise it is redrawn uniformly from all V tokens, itself "
                "included — so the diagonal is α_t + (1 − α_t)/V, not α_t")
    return ("a clean token stays with probability α_t and becomes the mask otherwise; the mask row is absorbing "
            "(a masked position stays masked)")

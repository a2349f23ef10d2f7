# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The forward process: schedules, the forward SDE and the SNR
#
# **You will** derive $\alpha_t$ and $\sigma_t$ from the forward SDE $dx = f(t)\,x\,dt + g(t)\,dW$ (and back), compare the
# VP, cosine, VE, EDM and rectified-flow schedules through their log-SNR, see discrete DDPM as a VP process in disguise,
# and check it all by simulating the SDE with Euler–Maruyama.
# **You need** chapter 00 (the notation) · **Time** about 90 minutes (reading 50, warm-up and lab 40)

# %%
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import VE, VP, EDM, CosineVP, DiscreteDDPM, RectifiedFlow, sample_2d
from diffedu.course.exercises import check_vp_alpha
from diffedu.ui.quiz import think
from diffedu.course.noising import em_moments, schedule_curves
from diffedu.course.sdes import ddpm_vs_vp, simulate_forward
from diffedu.ui.plots import PROCESS_COLORS, figure, scatter2d, schedules

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# **The picture first.** 1-D data at −1 and +1 (histogram at t = 0, left), each particle pushed by the VP forward
# process: shrunk a little towards 0 and shaken by noise at every step. Forty particle paths (middle) lose their
# start; the histogram of 5000 particles (right) flattens from two spikes into one standard Gaussian. This chapter
# writes that motion as an SDE and solves it.

# %%
demo, n_demo, steps_demo = VP(), 5000, 200
g_demo = torch.Generator().manual_seed(1)  # its own stream: the checks below draw from g as before
x_demo = torch.where(torch.rand(n_demo, generator=g_demo) < 0.5, -1.0, 1.0).double()  # data: ±1
ts_demo, path, snapshots = torch.linspace(0, 1, steps_demo + 1, dtype=torch.float64), [x_demo], {}
for k in range(steps_demo):  # Euler–Maruyama: x ← x + f x Δt + g √Δt z
    t_k, dt = ts_demo[k], ts_demo[k + 1] - ts_demo[k]
    z = torch.randn(n_demo, generator=g_demo, dtype=torch.float64)
    path.append(path[-1] + demo.f(t_k) * path[-1] * dt + demo.g(t_k) * dt.sqrt() * z)
path = torch.stack(path)  # (201, 5000)
fig, axes = figure(3, size=3.6)
axes[0, 1].plot(ts_demo, path[:, :40], lw=0.6)
axes[0, 1].set(xlabel="t", ylabel="$x_t$", title="40 particle paths (VP)")
for k, color in zip((0, 20, 60, 200), ("C0", "C1", "C2", "C3")):
    ax = axes[0, 0 if k == 0 else 2]
    ax.hist(path[k], bins=60, range=(-3.5, 3.5), density=True, histtype="step", color=color,
            label=f"t = {ts_demo[k]:.1f}")
axes[0, 0].set(xlabel="$x_0$", title="data: two spikes")
axes[0, 2].set(xlabel="$x_t$", title="the density flattens", ylim=(0, 1.2))
axes[0, 2].legend(fontsize=10)
plt.show()

# %% [markdown]
# ## Theory
#
# **New symbols:** the drift and diffusion coefficients $f(t), g(t)$; Brownian motion $W_t$; VP's rate $\beta(t)$
# (and $\beta_{min}, \beta_{max}$); DDPM's steps $n = 1..T$, $\beta_n$, $\bar\alpha_n$; the log-SNR $\lambda_t$; a time
# step $\Delta t$; the normalised time $u = t/t_{max}$; cosine's offset $s$ (a constant, not a time).
#
# ### A primer: $dW$, Euler–Maruyama and Itô's formula
# *Brownian motion* $W_t$ (one per coordinate) starts at $W_0 = 0$ and has independent Gaussian increments,
# $W_{t+h} - W_t \sim \mathcal N(0, h)$. Its increment over a short step is of size $\sqrt h$, not $h$; $dW$ is that
# increment over an infinitesimal $dt$: $E[dW] = 0$, $E[dW^2] = dt$.
#
# *An SDE* $dx = f(t)\,x\,dt + g(t)\,dW$ is shorthand for the limit of small steps: a deterministic push $f x\,\Delta t$
# plus a random kick $g$ times a Brownian increment. Taking the steps literally is the **Euler–Maruyama** method:
# $$x_{k+1} = x_k + f(t_k)\,x_k\,\Delta t + g(t_k)\sqrt{\Delta t}\,z_k, \qquad z_k \sim \mathcal N(0, I)$$
# (the opening figure used 200 such steps). Its error in expectations falls like $\Delta t$ (weak order 1).
#
# *Itô's formula* is the chain rule for such an $x$. Expand a smooth $\varphi(x)$ to second order:
# $d\varphi = \varphi'(x)\,dx + \tfrac12\varphi''(x)\,(dx)^2$. In ordinary calculus $(dx)^2$ is negligible; here
# $(dx)^2 = g^2\,dW^2 + O(dt^{3/2})$, and $dW^2$ has mean $dt$ and a variance $2\,dt^2$ that vanishes in the limit, so
# $dW^2 = dt$. Hence
# $$d\varphi(x) = \varphi'(x)\,dx + \tfrac12 g^2\varphi''(x)\,dt, \qquad\text{e.g.}\quad d(x^2) = 2x\,dx + g^2\,dt.$$
# One more rule: $x_t$ depends only on the past, so $E[x_t\,dW_t] = E[x_t]\,E[dW_t] = 0$.
#
# ### From the SDE to $(\alpha_t, \sigma_t)$
# Run the linear SDE $dx = f(t)\,x\,dt + g(t)\,dW$ from a fixed $x_0$ at $t = 0$. Because the drift is linear in $x$ and
# the noise does not depend on $x$ (a noise $g\,x\,dW$ would give a log-normal $x_t$), $x_t$ is a linear function of
# Gaussian increments and stays Gaussian; we only need its mean $m_t$ and variance $v_t$ (per coordinate).
#
# *Mean.* Take expectations ($E[dW] = 0$): $\dot m_t = f(t)\,m_t$, $m_0 = x_0$, so
# $$m_t = \alpha_t x_0, \qquad \alpha_t = \exp\Big(\int_0^t f(s)\,ds\Big).$$
#
# *Variance.* By Itô's formula $d(x^2) = 2x\,dx + g^2 dt = 2f x^2\,dt + 2g\,x\,dW + g^2 dt$; the $x\,dW$ term has mean 0,
# so $\tfrac{d}{dt}E[x^2] = 2f\,E[x^2] + g^2$, and subtracting
# $\tfrac{d}{dt}m^2 = 2f m^2$: $\dot v_t = 2f(t)\,v_t + g(t)^2$, $v_0 = 0$. Divide by $\alpha_t^2$ — note
# $\tfrac{d}{dt}(v/\alpha^2) = (\dot v - 2fv)/\alpha^2 = g^2/\alpha^2$ — and integrate:
# $$\sigma_t^2 = v_t = \alpha_t^2\int_0^t \frac{g(s)^2}{\alpha_s^2}\,ds .$$
# So $q(x_t\mid x_0) = \mathcal N(\alpha_t x_0, \sigma_t^2 I)$: exactly chapter 00's $x_t = \alpha_t x_0 + \sigma_t\varepsilon$.
#
# *And back.* Given the curves, $f = \dot\alpha_t/\alpha_t = \tfrac{d}{dt}\log\alpha_t$ and, from the variance equation,
# $g^2 = \tfrac{d\sigma_t^2}{dt} - 2f\sigma_t^2$. Every `Process` in `diffedu` is defined by $(\alpha_t, \sigma_t)$ and
# computes $f$ and $g$ this way (`process.f(t)`, `process.g(t)`).
#
# ### Five schedules
# | process | $\alpha_t$ | $\sigma_t$ | $f(t)$ | $g(t)^2$ | t range |
# |---|---|---|---|---|---|
# | VP, linear β | $e^{-\frac12\int_0^t\beta}$, $\beta(t) = \beta_{min} + t(\beta_{max}-\beta_{min})$ | $\sqrt{1-\alpha_t^2}$ | $-\beta(t)/2$ | $\beta(t)$ | [0, 1] |
# | cosine VP | $\cos(\frac\pi2\frac{t+s}{1+s})/\cos(\frac\pi2\frac{s}{1+s})$ | $\sqrt{1-\alpha_t^2}$ | $\dot\alpha/\alpha$ | $-2f$ | [0, 1] |
# | VE | 1 | $\sigma_{min}(\sigma_{max}/\sigma_{min})^t$ | 0 | $2\sigma_t^2\log(\sigma_{max}/\sigma_{min})$ | [0, 1] |
# | EDM | 1 | $t$ | 0 | $2t$ | [0, σ_max] |
# | rectified flow | $1-t$ | $t$ | $-1/(1-t)$ | $2t + 2t^2/(1-t)$ | [0, 1] |
#
# (Liu et al. and Lipman et al. run flow time from noise to data; the course's t is theirs reversed, $t = 1 - \tau$.
# The blog note *Diffusion 101* does the same and writes $\beta_t$ for our $\sigma_t$; in the course β is always
# DDPM's or VP's noise *rate*.) For any VP process $g^2 = \tfrac{d\sigma^2}{dt} - 2f\sigma^2 = -2\alpha\dot\alpha - 2f\sigma^2 = -2f$,
# since $\sigma^2 = 1 - \alpha^2$ and $\dot\alpha = f\alpha$. Cosine and flow have $\alpha_1 = 0$: there $f$ and $g^2$ diverge and
# the SDE is not defined at $t = 1$ itself (Nichol & Dhariwal clip the cosine β at 0.999 for this reason); the
# samplers of chapters 05–10 use the velocity form, which stays finite there (chapter 02).
#
# *Variance preserving* means $\alpha_t^2 + \sigma_t^2 = 1$: if the data have unit variance, so does every $x_t$.
# *Variance exploding* keeps $\alpha_t = 1$ and lets $\sigma_t$ grow large; EDM is VE with time equal to the noise level.
# VE's $\sigma_0 = \sigma_{min} > 0$: its SDE starts from a slightly noised $x_0$.
#
# ### SNR and log-SNR
# $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ decreases in t for every process. It is the natural clock: two processes with
# the same $\lambda$ at some time have the same $x_t$ up to the scale $\sqrt{\alpha_t^2+\sigma_t^2}$. The schedules
# differ mainly in *how fast* λ falls and where it spends its time.
#
# ### Discrete DDPM and its continuous limit
# DDPM (Ho et al. 2020) uses steps $n = 1, \dots, T$: $x_n = \sqrt{1-\beta_n}\,x_{n-1} + \sqrt{\beta_n}\,z_n$, hence
# $q(x_n\mid x_0) = \mathcal N(\sqrt{\bar\alpha_n}x_0, (1-\bar\alpha_n)I)$ with $\bar\alpha_n = \prod_{i\le n}(1-\beta_i)$,
# i.e. $\alpha = \sqrt{\bar\alpha_n}$, $\sigma = \sqrt{1-\bar\alpha_n}$. Put $t = n/T$, $\Delta t = 1/T$ and
# $\beta_n = \beta(t_n)\Delta t$ (in code, `DiscreteDDPM` keeps t in step units, $t = n \in [0, T]$, so its t = 500 is VP's
# t = 0.5). Then one step is $x_n - x_{n-1} = (\sqrt{1-\beta(t)\Delta t} - 1)x_{n-1} + \sqrt{\beta(t)\Delta t}\,z
# \approx -\tfrac12\beta(t)x\,\Delta t + \sqrt{\beta(t)}\,\Delta W$: an Euler–Maruyama step of the VP SDE with
# $f = -\beta/2$, $g^2 = \beta$. And $\log\bar\alpha_n = \sum_i\log(1-\beta_i) \approx -\sum_i\beta(t_i)\Delta t
# \to -\int_0^t\beta$. So DDPM(T, β_1, β_T) is close to VP(β_min = Tβ_1, β_max = Tβ_T). To watch the limit, fix VP(0.1, 20) and take
# DDPM(T, β_1 = 0.1/T, β_T = 20/T) for growing T (T = 1000 is Ho et al.'s schedule): the gaps are of order 1/T.

# %% [markdown]
# ## See it
# **The five schedules** with their default parameters, on a shared normalised time axis $u = t/t_{max}$ (EDM's
# $t_{max} = \sigma_{max} = 80$). The signal scales differ a lot; the log-SNR shows the real differences — VP spends
# little time at high λ, cosine falls almost linearly in the middle, VE and EDM reach λ ≈ −8.

# %%
processes = {"vp": VP(), "cosine": CosineVP(), "ve": VE(), "edm": EDM(), "flow": RectifiedFlow()}
schedules(schedule_curves(processes))
plt.show()

# %% [markdown]
# **Data → noise.** The moons under each process at five normalised times, all with the same ε. VE and EDM keep
# the data's scale and add ever larger noise (their windows grow with σ, so EDM's panels all look alike: by u = 0.1 its
# σ is already 8, λ ≈ −4.2, and the moons are gone — linear time is a poor clock for EDM, the log-SNR is a good one);
# VP, cosine and flow shrink the data while adding noise.

# %%
x0 = sample_2d("moons", 800, generator=g)
eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
us = (0.0, 0.1, 0.25, 0.5, 0.9)
fig, axes = figure(len(us), len(processes), size=2.2)
for row, (name, p) in zip(axes, processes.items()):
    for ax, u in zip(row, us):
        t = p.t_min + u * (p.t_max - p.t_min)
        sigma_t = p.sigma(torch.tensor(t, dtype=torch.float64)).item()
        scatter2d(ax, p.noise(x0, t, eps), lim=max(3.5, 3 * sigma_t), color=PROCESS_COLORS[name],
                  s=1, title=f"{name}, u = {u}")
plt.show()

# %% [markdown]
# **DDPM → VP.** $\alpha$ of DDPM(T, 0.1/T, 20/T) at $t = n/T$ against VP(0.1, 20): already at T = 30 the points sit
# close to the curve, and the largest gap (right) falls like 1/T.

# %%
Ts = (30, 100, 300, 1000, 3000)
fig, axes = figure(2, size=3.6)
for T in (30, 1000):
    out = ddpm_vs_vp(VP(0.1, 20), T)
    axes[0, 0].plot(out["t"], out["alpha_bar"].sqrt(), "o" if T == 30 else "-", ms=4,
                    label=f"DDPM, T = {T}")
axes[0, 0].plot(out["t"], out["alpha_t"], "k:", label="VP(0.1, 20)")
axes[0, 0].set(xlabel="t = n/T", ylabel=r"$\alpha_t = \sqrt{\bar\alpha_n}$",
               title="discrete vs continuous")
axes[0, 0].legend(fontsize=8)
gaps = []
for T in Ts:
    out = ddpm_vs_vp(VP(0.1, 20), T)
    # max_n |√ᾱ_n − α_{n/T}|
    gaps.append((out["alpha_bar"].sqrt() - out["alpha_t"]).abs().max().item())
axes[0, 1].loglog(Ts, gaps, "o-", label=r"max$_n|\alpha^{DDPM} - \alpha^{VP}|$")
axes[0, 1].loglog(Ts, [gaps[0] * Ts[0] / T for T in Ts], "k--", label="slope −1")
axes[0, 1].set(xlabel="T", ylabel="largest gap", title="the gap is O(1/T)")
axes[0, 1].legend(fontsize=8)
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. Simulate the SDE.** Euler–Maruyama with N steps from $t_{min}$ to t, for a fixed $x_0 = 1.5$ and n independent
# paths, must reproduce mean $\alpha_t x_0$ and variance $\sigma_t^2$ — the formulas we derived, not the ones we simulate
# with ($f$ and $g$ only). Two sources of error: Monte Carlo (standard errors $\sqrt{v/n}$ for the mean and
# $v\sqrt{2/(n-1)}$ for the variance) and the EM discretisation bias. The bias of a linear SDE is known exactly: the EM
# chain's own mean and variance follow $m_{k+1} = (1+f_k\Delta t)m_k$, $v_{k+1} = (1+f_k\Delta t)^2v_k + g_k^2\Delta t$
# (`em_moments`). Tolerance: |empirical − exact| ≤ 4 standard errors + |EM bias|.

# %% tags=["nbval-check-output"]
n_paths, n_steps = (20_000, 100) if diffedu.quick() else (200_000, 400)
x0_value = 1.5
cases = [("vp", VP(), 0.5), ("cosine", CosineVP(), 0.5), ("ve", VE(), 0.5), ("edm", EDM(), 1.0),
         ("flow", RectifiedFlow(), 0.5), ("ddpm", DiscreteDDPM(1000), 500.0)]
print(f"{'process':8s} {'t':>6s} {'mean':>6s} {'α x0':>6s} {'var':>6s} {'σ²':>6s}"
      "  within tolerance")
for name, p, t in cases:
    # exact draw at t_min (σ > 0: VE)
    x_start = p.noise(torch.full((n_paths, 1), x0_value, dtype=torch.float64), p.t_min,
                      torch.randn(n_paths, 1, generator=g, dtype=torch.float64))
    t_grid = torch.linspace(p.t_min, t, n_steps + 1, dtype=torch.float64)
    x_t = simulate_forward(x_start, t_grid, p, generator=g)
    t_ = torch.tensor(t, dtype=torch.float64)
    mean_exact, var_exact = p.alpha(t_).item() * x0_value, p.sigma(t_).item() ** 2
    mean_em, var_em = em_moments(p, x0_value, t, n_steps)
    mean, var = x_t.mean().item(), x_t.var().item()
    ok_mean = abs(mean - mean_exact) <= 4 * math.sqrt(var / n_paths) + abs(mean_em - mean_exact)
    ok_var = (abs(var - var_exact)
              <= 4 * var * math.sqrt(2 / (n_paths - 1)) + abs(var_em - var_exact))
    assert ok_mean and ok_var, (name, mean, mean_exact, var, var_exact)
    print(f"{name:8s} {t:6g} {mean:6.2f} {mean_exact:6.2f} {var:6.2f} {var_exact:6.2f}"
          f"  {ok_mean and ok_var}")

# %% [markdown]
# The EM bias is first order: doubling the steps halves it. For VE, whose $g$ grows exponentially, it is the largest.

# %% tags=["nbval-check-output"]
for name, p, t in cases:
    t_ = torch.tensor(t, dtype=torch.float64)
    var_exact = p.sigma(t_).item() ** 2
    bias = [abs(em_moments(p, x0_value, t, N)[1] - var_exact) for N in (100, 200)]
    ratio = bias[0] / bias[1]
    assert 1.7 < ratio < 2.3, (name, ratio)
    print(f"{name:8s} variance bias at N = 100: {bias[0]:.1e}; halves with 2N: {1.7 < ratio < 2.3}")

# %% [markdown]
# **2. Derivatives and the SDE coefficients.** The hand-written $\dot\alpha_t$, $\dot\sigma_t$ of each process must match
# autograd (tolerance 1e-9 relative, float64), and integrating $f$ and $g^2$ back with the trapezoidal rule on 20 001
# points must return $\alpha_t = \exp\int f$ and $\sigma_t^2 = \alpha_t^2(\sigma_{t_{min}}^2/\alpha_{t_{min}}^2 + \int g^2/\alpha^2)$
# (tolerance 1e-6: the rule's error is $O(h^2)$; 1e-4 for DDPM, whose $f$ jumps at every integer step, where the rule
# is only first order).

# %% tags=["nbval-check-output"]
for name, p, t_end in cases:
    t = torch.linspace(p.t_min + 0.01 * (t_end - p.t_min), t_end, 7, dtype=torch.float64,
                       requires_grad=True)
    alpha_t, sigma_t = p.alpha(t), p.sigma(t)
    # α_t = 1 (VE, EDM) does not depend on t at all: its derivative is 0
    d_alpha_auto = (torch.autograd.grad(alpha_t.sum(), t)[0] if alpha_t.requires_grad
                    else torch.zeros_like(t))
    d_sigma_auto = torch.autograd.grad(sigma_t.sum(), t)[0]
    t = t.detach()
    err_d = max(((p.d_alpha(t) - d_alpha_auto).abs() / (d_alpha_auto.abs() + 1)).max().item(),
                ((p.d_sigma(t) - d_sigma_auto).abs() / (d_sigma_auto.abs() + 1)).max().item())
    s = torch.linspace(p.t_min, t_end, 20_001, dtype=torch.float64)
    alpha_s = p.alpha(s)
    alpha_quad = math.exp(torch.trapezoid(p.f(s), s).item()) * alpha_s[0].item()
    var_quad = alpha_s[-1].item() ** 2 * (p.sigma(s[0]).item() ** 2 / alpha_s[0].item() ** 2
                                          + torch.trapezoid(p.g2(s) / alpha_s**2, s).item())
    err_q = max(abs(alpha_quad - alpha_s[-1].item()), abs(var_quad - p.sigma(s[-1]).item() ** 2))
    tol_q = 1e-4 if name == "ddpm" else 1e-6
    assert err_d < 1e-9 and err_q < tol_q, (name, err_d, err_q)
    print(f"{name:8s} derivatives = autograd: {err_d < 1e-9};  ∫f and ∫g² give α_t and σ_t² (tol "
          f"{tol_q:g}): {err_q < tol_q}")

# %% [markdown]
# **3. DDPM's continuous limit.** The largest gap between DDPM(T, 0.1/T, 20/T) and VP(0.1, 20) must fall like 1/T:
# the log–log slope between T = 30 and T = 3000 lies within 0.1 of −1.

# %% tags=["nbval-check-output"]
slope = (math.log(gaps[-1]) - math.log(gaps[0])) / (math.log(Ts[-1]) - math.log(Ts[0]))
assert abs(slope + 1) < 0.1, slope
print(f"gap at T = 1000: {gaps[-2]:.1e}; log-log slope {slope:.2f}")

# %% [markdown]
# ## Play
# Move the schedule parameters and the normalised time $u = t/t_{max}$. Things to try: β_max from 5 to 40 (VP gets
# to noise sooner); the cosine offset s (it only matters near u = 0); σ_max for VE and EDM (with σ_max = 1 the "noise"
# end is not noise at all).

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.noising_panel()

# %% [markdown]
# ## Warm-up
# ### Warm-up · VP's signal scale
# With $\beta(t) = \beta_{min} + t(\beta_{max}-\beta_{min})$, return $\alpha_t = \exp(-\tfrac12\int_0^t\beta(s)\,ds)$
# for a tensor `t`.

# %%
def vp_alpha(t, beta_min, beta_max):
    # BEGIN SOLUTION
    integral = beta_min * t + 0.5 * (beta_max - beta_min) * t**2
    return torch.exp(-0.5 * integral)
    # END SOLUTION


check_vp_alpha(vp_alpha)

# %% [markdown]
# ## Build it · the forward SDE, step by step
# Write the simulator behind "Check it": from `x0` at `ts[0]`, take one Euler–Maruyama step per interval of the
# increasing grid `ts` and return the state at `ts[-1]`. The k-th step uses the standard normal draws `z[k]` (one per
# sample, shape of `x0`), so that the grader can compare your path with the exact recursion:
# $$x_{k+1} = x_k + f(t_k)\,x_k\,\Delta t_k + g(t_k)\sqrt{\Delta t_k}\,z_k, \qquad \Delta t_k = t_{k+1} - t_k.$$
# `process.f(t)` and `process.g(t)` take a tensor time. The grader runs your function on VP and VE with its own draws
# (4 points), then simulates 20 000 paths and checks that their mean and spread recover the closed-form $\alpha_t x_0$
# and $\sigma_t$ of the Theory (3 + 3 points). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.forward_sde import THINK, check_em_forward, hint


def em_forward(x0, ts, process, z):
    # BEGIN SOLUTION
    x = x0
    for k in range(len(ts) - 1):
        dt = ts[k + 1] - ts[k]
        # Euler–Maruyama step
        x = x + process.f(ts[k]) * x * dt + process.g(ts[k]) * dt.sqrt() * z[k]
    return x
    # END SOLUTION


check_em_forward(em_forward)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - The forward SDE $dx = f x\,dt + g\,dW$ and the pair $(\alpha_t, \sigma_t)$ say the same thing:
#   $\alpha_t = e^{\int f}$, $\sigma_t^2 = \alpha_t^2\int g^2/\alpha^2$ (VE: plus $\sigma_{min}^2$), and back $f = \dot\alpha/\alpha$,
#   $g^2 = \dot{(\sigma^2)} - 2f\sigma^2$.
# - VP, cosine, VE, EDM and rectified flow are five choices of these curves; the log-SNR λ_t is the common clock.
# - Discrete DDPM is the VP SDE seen through an Euler–Maruyama lens: DDPM(T, β_1, β_T) ≈ VP(Tβ_1, Tβ_T), gap O(1/T).
# - Euler–Maruyama reproduces the exact marginals up to a first-order bias that we can compute exactly.
#
# ## What next
# Chapter 02 turns the process around: given a noisy $x_t$, what do we know about $x_0$? Tweedie's formula links the
# best guess $E[x_0\mid x_t]$ to the score $\nabla\log p_t$ — the object every sampler needs.
#
# ## References
# - Y. Song, J. Sohl-Dickstein, D. Kingma, A. Kumar, S. Ermon, B. Poole. *Score-Based Generative Modeling through
#   Stochastic Differential Equations.* ICLR 2021 (VP and VE SDEs).
# - J. Ho, A. Jain, P. Abbeel. *Denoising Diffusion Probabilistic Models.* NeurIPS 2020.
# - A. Nichol, P. Dhariwal. *Improved Denoising Diffusion Probabilistic Models.* ICML 2021 (cosine schedule).
# - D. Kingma, T. Salimans, B. Poole, J. Ho. *Variational Diffusion Models.* NeurIPS 2021 (SNR; f and g from α and σ).
# - T. Karras, M. Aittala, T. Aila, S. Laine. *Elucidating the Design Space of Diffusion-Based Generative Models.* NeurIPS 2022.
# - X. Liu, C. Gong, Q. Liu. *Flow Straight and Fast.* ICLR 2023; Y. Lipman et al. *Flow Matching for Generative Modeling.* ICLR 2023.
# - P. Kloeden, E. Platen. *Numerical Solution of Stochastic Differential Equations.* Springer 1992 (Euler–Maruyama).

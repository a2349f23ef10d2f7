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
# # 10 · Samplers: the integrator zoo, measured
#
# **You will** write Euler, Heun, DDIM, DPM-Solver++ and the SDE samplers as equations next to their code, sample
# the same start with each, measure their convergence orders against the exact answer of a Gaussian mixture, see why
# DDIM is a first-order exponential integrator, watch the time grid move the error, and add stochasticity (η, churn).
# **You need** chapters 01–05 and 09 · **Time** about 150 minutes

# %%
import inspect
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import gmm_2d, make_process
from diffedu.course.samplers import endpoint_errors, fit_order, play_samplers, run_sampler
from diffedu.course.exercises import check_ddim_sampler_step, check_heun_step
from diffedu.integrators import (ddim, ddim_step, ddpm, dpm_first_order, dpmpp_1, euler_step, heun,
                                 heun_step)
from diffedu.ui.plots import convergence_figure, error_vs_nfe, figure, scatter2d, time_grids
from diffedu.ui.quiz import think
from diffedu.timers import make_grid

g = diffedu.seed(0)
torch.set_num_threads(1)  # the arrays here are tiny: on a busy CPU a second thread only spin-waits
print(diffedu.banner())

# %% [markdown]
# ## The idea in motion
# Three ODE samplers race from the same noise on the same budget of 10 network evaluations (rectified flow, exact
# mixture predictor): Euler and DPM-Solver++(2M) take 10 steps, Heun 5 (two evaluations each, one on the last).
# Each frame is one more evaluation. Which sampler ends closest to the exact answer at a given budget is what this
# chapter measures.

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML

from diffedu.course.animation import animation_html
from diffedu.course.samplers import race_opening

HTML(animation_html(*race_opening()))  # press play; the frames are embedded, so it plays offline

# %% [markdown]
# ## Theory
#
# **New symbols:** v(x, t) (the PF-ODE velocity, chapter 02's $\hat v$), y = x/σ, μ = λ/2 (the half log-SNR of
# Lu et al.), h = (λ_s − λ_t)/2 (a step in μ), r and D (DPM-Solver++'s step ratio and combined $\hat x_0$); s is the end
# time of a step.
#
# A trained denoiser $\hat x_0(x_t, t)$ turns the forward process $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ into a
# sampler: start at $x_T$ and integrate the **probability-flow ODE** (chapter 03) back to $t = 0$. With
# $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$ it reads, for *any* process,
#
# $$\frac{dx}{dt} = v(x, t) = \dot\alpha_t\,\hat x_0 + \dot\sigma_t\,\hat\varepsilon .$$
#
# This velocity form stays finite where $f = \dot\alpha/\alpha$ does not (cosine VP and rectified flow at $t = 1$,
# where $\alpha = 0$). Every sampler below walks a grid $t_0 = t_{max} > t_1 > \dots > t_N = 0$ and differs only in
# how it takes one step $t \to s$ ($s = t_{next}$). Each network evaluation (NFE) is the cost unit.
#
# ### Euler (first order, 1 NFE)
# $$x_s = x_t + (s - t)\,v(x_t, t).$$
# The local error is $O(h^2)$, so the global error after $N \propto 1/h$ steps is $O(h)$: order 1.
#
# ### Heun (second order, 2 NFE; Karras et al. 2022, Algorithm 1)
# $$\tilde x = x_t + (s - t)\,v(x_t, t), \qquad x_s = x_t + (s - t)\,\tfrac12\big(v(x_t, t) + v(\tilde x, s)\big).$$
# The trapezoid cancels the $h^2$ term: order 2. Into $\sigma = 0$ the end-point velocity is not evaluated
# ($\hat\varepsilon$ would divide by zero), so the last step is Euler's.

# %%
# Heun's step is yours to write (Warm-up 1); the package's is printed after it
print(inspect.getsource(euler_step))

# %% [markdown]
# ### DDIM is a first-order *exponential* integrator
#
# Write the ODE in the log-SNR $\lambda = \log(\alpha^2/\sigma^2)$ and divide by $\sigma$: with $y = x/\sigma$,
# $\frac{dy}{d\lambda} = \tfrac12 e^{\lambda/2}\hat x_0$ (Lu et al. 2022, who write it in $\lambda/2 = \log(\alpha/\sigma)$).
# The linear part has been integrated *exactly*; only $\hat x_0$ is approximated. Holding $\hat x_0$ constant over
# the step (order 1) gives, with $h = (\lambda_s - \lambda_t)/2$,
#
# $$x_s = \frac{\sigma_s}{\sigma_t}\,x_t - \alpha_s\,(e^{-h} - 1)\,\hat x_0
#      = \alpha_s\hat x_0 + \sigma_s\hat\varepsilon ,$$
#
# which is DDIM with η = 0 (Song et al. 2021) — the same number computed two ways, so DDIM inherits order 1. It is
# exact when $\hat x_0$ does not change along the path. That does not make it better than Euler in general: on this
# chapter's mixture, on VP, its error is about twice Euler's at every step count (below).
# For EDM ($\alpha = 1$, $\sigma = t$) and rectified flow ($\alpha = 1 - t$, $\sigma = t$) DDIM and Euler coincide:
# $\alpha$ and $\sigma$ are affine in $t$, so Euler's straight line is the exponential integrator's too.
#
# ### DPM-Solver++ (second order; Lu et al. 2022), derived from the same integral
# Write $\mu = \lambda/2 = \log(\alpha/\sigma)$ for the half log-SNR that Lu et al. call λ, so that
# $dy/d\mu = e^{\mu}\hat x_0$ and $h = \mu_s - \mu_t = (\lambda_s - \lambda_t)/2$. Integrating exactly from t to s and
# multiplying by $\sigma_s$:
# $$x_s = \frac{\sigma_s}{\sigma_t}\,x_t + \sigma_s\int_{\mu_t}^{\mu_s} e^{\mu}\,\hat x_0(\mu)\,d\mu .$$
# 1. **Order 1.** $\hat x_0$ constant: $\sigma_s(e^{\mu_s} - e^{\mu_t})\hat x_0 = \alpha_s(1 - e^{-h})\hat x_0$ (as
#    $\sigma_s e^{\mu_s} = \alpha_s$) — the DDIM step above.
# 2. **Order 2.** Expand $\hat x_0(\mu) \approx \hat x_0(\mu_t) + (\mu - \mu_t)\,\hat x_0'$. The new integral is
#    $\int_{\mu_t}^{\mu_s} e^{\mu}(\mu - \mu_t)\,d\mu = e^{\mu_s}(h - 1 + e^{-h})$, and
#    $h - 1 + e^{-h} = \tfrac{h}{2}(1 - e^{-h}) + O(h^3)$ (both are $h^2/2 + O(h^3)$), so to second order
#    $$x_s = \frac{\sigma_s}{\sigma_t}x_t + \alpha_s(1 - e^{-h})\,D,\qquad D = \hat x_0(\mu_t) + \tfrac h2\,\hat x_0' .$$
# 3. **The derivative from a second evaluation** at $\mu_u = \mu_t + r h$:
#    $\hat x_0' \approx (\hat x_0(\mu_u) - \hat x_0(\mu_t))/(rh)$, so
#    $D = (1 - \tfrac1{2r})\hat x_0(\mu_t) + \tfrac1{2r}\hat x_0(\mu_u)$.
#
# **2S** (single step, Lu et al. Alg. 1) takes $u$ at the midpoint, $r = \tfrac12$ ($\lambda_u = (\lambda_t + \lambda_s)/2$),
# reaches $x_u$ with a first-order step and gets $D = \hat x_0(x_u, u)$ (2 NFE). **2M** (multistep, Alg. 2) takes the
# *previous* grid point, $r = -h_{prev}/h$, whose $\hat x_0$ it already has: with $r' = h_{prev}/h$,
# $D = (1 + \tfrac1{2r'})\hat x_0^{(i)} - \tfrac1{2r'}\hat x_0^{(i-1)}$ (1 NFE). Into $\sigma = 0$, $\lambda = \infty$:
# the last step is the explicit branch $x_0 = \hat x_0$, never $\log 0$.
#
# ### Stochastic samplers
# * **DDIM with η**: $x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,\hat\varepsilon + c\,z$ with
#   $c = \eta\,\sigma_s\sqrt{1 - e^{\lambda_t - \lambda_s}}$; η = 1 is ancestral DDPM, the posterior $q(x_s \mid x_t, \hat x_0)$.
# * **Euler–Maruyama** on the reverse SDE $dx = [\,v + \tfrac{g_t^2}{2\sigma_t}\hat\varepsilon\,]dt + g_t\,d\bar W$
#   (no $f_t$ needed), optionally with **Langevin corrector** steps (predictor–corrector, Song et al. 2021).
# * **Churn** (Karras et al. 2022, Algorithm 2): before a Heun step, raise the noise level by a factor $1 + \gamma$ with
#   fresh noise, then integrate back. Noise in, noise out: errors made earlier are partly forgotten.

# %%
# the DDIM step is Warm-up 2; the package's is printed after it
print(inspect.getsource(dpm_first_order))

# %% [markdown]
# ## See it
#
# ### The same start, every sampler
# Exact mixture `gmm_2d`, EDM process, Karras grid, 10 steps each (so Heun and DPM++(2S) spend about twice the NFE).

# %%
gmm, process = gmm_2d(), make_process("edm")
n_show = 400 if diffedu.quick() else 2000
x_T = gmm.marginal(process.t_max, process).sample(n_show, generator=g)  # exact x_T ~ p_T
ts = make_grid("karras", process, 10)
methods = ["euler", "heun", "ddim", "dpmpp_2s", "dpmpp_2m", "ddpm", "euler_maruyama", "pc"]
fig, axes = figure(5, 2, size=2.6)
scatter2d(axes[0, 0], gmm.sample(n_show, generator=torch.Generator().manual_seed(1)),
          title="exact data", color="gray")
for ax, name in zip(axes.flat[1:], methods):
    x0, nfe = run_sampler(name, gmm, process, x_T, ts, generator=torch.Generator().manual_seed(2))
    scatter2d(ax, x0, title=f"{name} (NFE {nfe})")
axes.flat[-1].axis("off")
plt.show()

# %% [markdown]
# ### Error against NFE
# The endpoint error is the median distance to a tight solution of the same ODE on the same grid family from the same
# starts (Heun with many steps, Richardson-extrapolated: $x_{2M} + (x_{2M} - x_M)/3$ cancels Heun's $h^2$ term). The
# median, not the mean: a few starts lie so close to a separatrix between components that a method sends them to the
# other component until its steps are tiny — O(1) errors that vanish abruptly, not as a power of the step (the bench
# keeps the mean and the largest error too). On a
# log-log plot a method of order $p$ is a line of slope $-p$ (dashed). The order is fitted over NFE ≥ 100, the
# asymptotic range. The bench (`python -m diffedu bench samplers`) runs the same measurement larger, on more
# (process, grid) pairs and on a 16-D mixture, and prints every number.

# %%
nfes = (5, 10, 20, 50, 100, 200)
sizes = (dict(n_points=32, ref_steps=300, check_ref=False) if diffedu.quick()
         else dict(n_points=256, ref_steps=1000))
configs = [("edm", "karras"), ("vp", "log_snr"), ("flow", "uniform")]
conv = {cfg: endpoint_errors(gmm, make_process(cfg[0]), cfg[1], nfes=nfes,
                             generator=torch.Generator().manual_seed(0),
                             **sizes) for cfg in configs}
fig = convergence_figure(conv)
# one shared legend below the panels (per-panel legends hid the low-NFE points): each method's
# theory order and its measured order on each panel, left to right
handles = fig.legends[0].legend_handles
for ax in fig.axes:
    ax.get_legend().remove()
fig.legends[0].remove()
methods = next(iter(conv.values()))["methods"]
measured = {name: " / ".join(f"{r['methods'][name]['order']:.2f}"
                             + ("*" if r["methods"][name].get("log_factor") else "")
                             for r in conv.values()) for name in methods}
star = any(m.get("log_factor") for r in conv.values() for m in r["methods"].values())
fig.legend(handles, [f"{name}: theory {m['theory']} (dotted), measured {measured[name]}"
                     for name, m in methods.items()],
           loc="outside lower center", ncol=2, fontsize=11, title_fontsize=11,
           title="* order fitted to err / ln N" if star else None)
plt.show()

# %% [markdown]
# The second-order methods fall twice as fast (in log scale) once the steps are small enough. On VP, DDIM's exact
# linear part does not make it better than Euler at equal steps on this mixture: both are first order, only the
# constant differs. On EDM and on rectified flow Euler and DDIM lie on top of each other — the same method there.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Deep dive · why Heun trails Euler at 20 NFE on EDM

# %% [markdown]
# On EDM's own grid (Karras ρ = 7, σ from 80 to 0.002, then the jump to 0) Heun at NFE 19 (10 steps) is *worse* than
# Euler at NFE 20; it wins from NFE 50 on. That is no bug — the code is Karras et al.'s Algorithm 1, with the last step
# into σ = 0 an Euler step, and its order is 2 on the asymptotic range. A second-order method pays off only once each
# step is small against the scale on which the velocity changes. Below, the **local error** of one step from the exact
# trajectory on the 10-step grid: for σ between about 20 and 1.5 — where the posterior $\hat x_0$ switches between
# the mixture's components, which are about 1–5 apart — the steps shrink σ by a factor 2–3, and the trapezoid rule is no
# better than Euler there. With twice as many steps, Euler's smaller steps win at equal NFE.

# %%
edm_pred = gmm.predictor(process)
x_T_local = x_T[:64]
grid10 = make_grid("karras", process, 10).tolist()
exact_path = [x_T_local]
# the exact trajectory at the grid points (200 fine Heun steps each)
for t, s in zip(grid10[:-1], grid10[1:]):
    x = exact_path[-1]
    for a, b in zip(torch.linspace(t, s, 201).tolist()[:-1],
                    torch.linspace(t, s, 201).tolist()[1:]):
        x, _ = heun_step(x, a, b, edm_pred, process)
    exact_path.append(x)
print(f"{'σ':>8} → {'σ_next':<8} local error:  Euler    Heun")
for i, (t, s) in enumerate(zip(grid10[:-1], grid10[1:])):
    x_euler = euler_step(exact_path[i], t, s, edm_pred, process)[0]
    x_heun = heun_step(exact_path[i], t, s, edm_pred, process)[0]
    e_euler = (x_euler - exact_path[i + 1]).norm(dim=1).mean().item()
    e_heun = (x_heun - exact_path[i + 1]).norm(dim=1).mean().item()
    print(f"{t:8.3f} → {s:<8.4f}            {e_euler:8.1e} {e_heun:8.1e}")
edm = conv[("edm", "karras")]
for nfe_target in (20, 50):
    err = {name: next(r["error"] for r in edm["methods"][name]["rows"]
                      if r["nfe_target"] == nfe_target)
           for name in ("euler", "heun")}
    print(f"endpoint error at NFE ≈ {nfe_target}: Euler {err['euler']:.3f}, Heun {err['heun']:.3f}")

# %% [markdown]
# ### How the time grid moves the error
# The same 20-step budget spent on four grids: uniform in t, cosine, Karras ρ = 7, uniform in log-SNR.

# %%
vp = make_process("vp")
grids = {name: make_grid(name, vp, 20) for name in ["uniform", "cosine", "karras", "log_snr"]}
x_T_vp = gmm.marginal(vp.t_max, vp).sample(32 if diffedu.quick() else 256,
                                           generator=torch.Generator().manual_seed(3))
pred_vp = gmm.predictor(vp)
ref_vp = heun(x_T_vp, make_grid("log_snr", vp, 200 if diffedu.quick() else 800), pred_vp, vp)
grid_err = {(timer, name): (run_sampler(name, gmm, vp, x_T_vp, grid)[0] - ref_vp)
            .norm(dim=1).mean().item()
            for timer, grid in grids.items() for name in ["euler", "ddim", "heun", "dpmpp_2m"]}
fig, axes = figure(2, size=4.2)
time_grids(vp, 20, grids, ax=axes[0, 0])
for i, name in enumerate(["euler", "ddim", "heun", "dpmpp_2m"]):
    axes[0, 1].bar([j + 0.2 * i for j in range(4)], [grid_err[(t, name)] for t in grids], width=0.2,
                   label=name)
axes[0, 1].set(xticks=[j + 0.3 for j in range(4)], xticklabels=list(grids), yscale="log",
               ylabel="endpoint error", title="VP, 20 steps: error by grid")
axes[0, 1].legend(fontsize=10)
plt.show()

# %% [markdown]
# At 20 steps the ranking is not the one reported for images: on this mixture the uniform and cosine grids beat
# Karras and log-SNR for Euler and DDIM, and cosine is best for Heun and DPM-Solver++(2M). The left panel says why:
# the error is made between $\sigma/\alpha \approx 0.3$ and 5 (see the local errors above), where the posterior picks
# among components about 1–5 apart. Uniform and cosine start 10 and 9 of their 20 steps in that range; Karras (ρ = 7) and
# log-SNR only 5 — Karras spends half of its steps above 5, log-SNR nearly half below 0.3, where this mixture's
# $\hat x_0$ hardly changes any more. Images have detail down to small noise, which is what ρ = 7 was tuned for. A grid is good when it puts its
# steps where $\hat x_0$ changes.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Deep dive · which grid gives rectified flow its order?

# %% [markdown]
# Convergence orders assume one fixed map $t_i = \varphi(i/N)$ refined as N grows. On rectified flow (and cosine VP)
# $\alpha = 0$ at $t = 1$: the noise level there is infinite, so the noise-level grids (Karras, log-SNR) start from the
# level one uniform step below $t = 1$, where chapter 09's noise level $\sigma(t) = \sigma_t/\alpha_t$ is
# $t/(1-t) = N - 1$. Their top grows with N, and their steps shrink more slowly than $1/N$. The log-SNR grid's
# λ-range grows like $\log N$, so its steps shrink like $\log N / N$: a log factor. The Karras grid is uniform in
# $\sigma(t)^{1/\rho}$ from $(N-1)^{1/\rho} \approx N^{1/\rho}$, so its steps shrink like
# $N^{1/\rho - 1}$ and a method of order p converges like $N^{-p(1 - 1/\rho)}$: for ρ = 7 that is 0.86 for Euler and
# 1.71 for Heun, a power lost for good. The grid that is a fixed map on flow is **uniform in t** (or cosine): it
# recovers order 2 for Heun.

# %%
flow = make_process("flow")
flow_orders = {"uniform": conv[("flow", "uniform")]}
for timer in ("karras", "log_snr"):
    flow_orders[timer] = endpoint_errors(gmm, flow, timer, nfes=nfes,
                                         methods=("euler", "heun", "dpmpp_2s", "dpmpp_2m"),
                                         generator=torch.Generator().manual_seed(0), **sizes)
print("plain slopes of error against NFE")
print(f"{'grid':<9}" + "".join(f"{name:>10}" for name in ("euler", "heun", "dpmpp_2s", "dpmpp_2m")))
for timer, res in flow_orders.items():
    print(f"{timer:<9}" + "".join(f"{res['methods'][name]['order_plain']:>10.2f}"
                                  for name in ("euler", "heun", "dpmpp_2s", "dpmpp_2m")))

# %% [markdown]
# Uniform in t gives Euler 1 and Heun 2; the two noise-level grids lose up to 0.4 of each method's order: Karras about
# the predicted 0.14 and 0.29 (to 0.86 and 1.71), log-SNR less where its loss is only a log factor (Euler keeps 0.93).
#
# DPM-Solver++ is slower on the uniform grid for another reason: it steps in λ, and near data a grid uniform in t
# takes steps of *fixed* size in λ. On flow (σ = t, α ≈ 1 near data) the step from $t = (i+1)/N$ to $i/N$ has
# $h = \ln\frac{i+1}{i} \approx 1/i$ whatever N is, so the largest step never shrinks and the textbook theorem
# (error $O(h_{max}^2)$) says nothing. Count instead. A second-order step's local error is about
# $\alpha\,h^3\,\partial_\lambda^2\hat x_0$, and near data $\hat x_0$ moves by $O(\sigma^2)$, so
# $\partial_\lambda^2\hat x_0 \approx \sigma^2 \approx (i/N)^2$ (the other terms of the local error, such as
# $h^3\partial_\lambda\hat x_0$, have the same size):
# $$\text{local error}_i \approx \frac{1}{i^3}\cdot\frac{i^2}{N^2} = \frac{1}{i\,N^2}, \qquad
#   \sum_{i=1}^{N}\frac{1}{i\,N^2} \approx \frac{\ln N}{N^2}.$$
# The rate is $\ln N / N^2$: still order 2, with a logarithm whose local slope $2 - 1/\ln N$ is about 1.8 at
# N = 100–500. For DDIM the same count gives $\frac{1}{i^2}\cdot\frac{i^2}{N^2}$ per step, $1/N$ in all: order 1,
# no logarithm. (On VP, where $\sigma^2 \propto t$ near data, the same count gives $1/N$ even for second-order
# steps: a grid uniform in t makes DPM-Solver++ first order there, so the bench samples VP on the log-SNR grid.)
# Where the logarithm applies (`diffedu.course.samplers.log_factor`) the bench fits the slope of error / ln N, and
# the check below tests that slope. That the logarithm is really there is tested outside this notebook, on a Gaussian
# whose ODE is solved in closed form (the plain slope stays below 1.9 up to N = 800: `tests/test_bench_samplers.py`).

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Deep dive · stochastic samplers converge in law, at order 1

# %% [markdown]
# An SDE sampler's output is random, so its error is a distance between laws. The sliced Wasserstein distance to
# exact samples is blunt: at 2000 samples two *exact* sets already differ by about 0.08 ± 0.02 (the floor), so a
# sampler at 1.5× the floor may be fine. A sharper weak error uses the exact density: $\Delta = E[\log q(x_0)]$ over
# the sampler's output minus the same expectation under the data, with a Monte Carlo standard error. Euler–Maruyama is
# first order in this weak sense (Kloeden & Platen): $\Delta$ halves when N doubles, until it drowns in the
# standard error.

# %%
n_sde = 10000 if diffedu.quick() else 40000
log_q_exact = gmm.log_prob(gmm.sample(100_000,
                                      generator=torch.Generator().manual_seed(4))).mean().item()
x_T_sde = gmm.marginal(vp.t_max, vp).sample(n_sde, generator=torch.Generator().manual_seed(5))
weak = {}
for name in ("euler_maruyama", "ddpm"):
    for n_steps in (10, 20, 40, 80, 160):
        x0, _ = run_sampler(name, gmm, vp, x_T_sde, make_grid("uniform", vp, n_steps),
                            generator=torch.Generator().manual_seed(n_steps))
        log_q = gmm.log_prob(x0)
        weak[(name, n_steps)] = (log_q.mean().item() - log_q_exact,
                                 log_q.std().item() / math.sqrt(n_sde))
fig, axes = figure(1, size=4.6)
ax = axes[0, 0]
for i, name in enumerate(("euler_maruyama", "ddpm")):
    steps = [n for (m, n) in weak if m == name]
    delta = [abs(weak[(name, n)][0]) for n in steps]
    ax.errorbar(steps, delta, yerr=[2 * weak[(name, n)][1] for n in steps], fmt="o-", color=f"C{i}",
                label=name)
ax.loglog(steps, [abs(weak[("euler_maruyama", 20)][0]) * 20 / n for n in steps], "k--", lw=0.8,
          label="slope −1")
ax.set(xscale="log", yscale="log", xlabel="steps N (= NFE)",
       ylabel=r"$|\Delta|$ = weak error of log q (±2 SE)",
       title="VP, uniform grid: weak convergence")
ax.legend(fontsize=10)
plt.show()
for name in ("euler_maruyama", "ddpm"):
    print(f"{name:<15}" + "  ".join(f"N={n}: {weak[(name, n)][0]:+.3f}±{weak[(name, n)][1]:.3f}"
                                    for n in (10, 20, 40, 80, 160)))

# %% [markdown]
# Euler–Maruyama's samples are too spread at few steps ($\Delta < 0$) and its bias shrinks like 1/N; ancestral DDPM's
# are too concentrated ($\Delta > 0$), and on this uniform grid its bias first grows (N = 10 → 20) and then shrinks
# more slowly than Euler–Maruyama's (printed above). A
# sampler that looks "2× the floor" in SW at NFE 50 is this O(1/N) bias plus the SW estimate's own scatter — the
# bench prints both, and the NFE from which on $|\Delta| \le 2$ standard errors.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **Orders.** The slope fitted over NFE 100–200 must be within ±0.25 of the theory on every configuration whose grid
# is a fixed map — for DPM-Solver++ on flow's uniform grid the slope of error / ln N, the rate derived above — and
# below the theory on flow's noise-level grids. **Heun against Euler**: behind at NFE ≈ 20 on
# EDM's grid, ahead from NFE 50 on, on every configuration.

# %% tags=["nbval-check-output"]
other_flow_grids = [(("flow", t), r) for t, r in flow_orders.items() if t != "uniform"]
for cfg, res in list(conv.items()) + other_flow_grids:
    for name, m in res["methods"].items():
        if not res["fixed_map"]:
            assert m["order"] < m["theory"], (cfg, name, m["order"])
        else:  # where log_factor holds (DPM-Solver++, flow, uniform grid): slope of error / ln N
            assert abs(m["order"] - m["theory"]) <= 0.25, (cfg, name, m["order"], m["log_factor"])
    print(cfg, {name: round(m["order"], 1) for name, m in res["methods"].items()})
for cfg, res in conv.items():
    assert res["beats_euler_from_nfe"]["heun"] <= 50, (cfg, res["beats_euler_from_nfe"])
# behind at NFE ≈ 20 on EDM's grid
assert not conv[("edm", "karras")]["second_order_beats_euler"]["heun"]
print("Heun beats Euler from NFE",
      {cfg: res["beats_euler_from_nfe"]["heun"] for cfg, res in conv.items()})

# %% [markdown]
# **DDIM(η = 0) is DPM-Solver++ first order, and DDIM(η = 1) is ancestral DDPM** (same noise), on VP: agreement to
# float64 round-off (tolerance 1e-9).

# %% tags=["nbval-check-output"]
pred = gmm.predictor(vp)
grid = make_grid("log_snr", vp, 15)
gap_dpm = (ddim(x_T_vp, grid, pred, vp) - dpmpp_1(x_T_vp, grid, pred, vp)).abs().max().item()
gap_ddpm = (ddim(x_T_vp, grid, pred, vp, eta=1.0, generator=torch.Generator().manual_seed(7))
            - ddpm(x_T_vp, grid, pred, vp,
                   generator=torch.Generator().manual_seed(7))).abs().max().item()
assert gap_dpm < 1e-9 and gap_ddpm < 1e-9
print("DDIM(0) = DPM++(1):", gap_dpm < 1e-9, "| DDIM(1) = DDPM:", gap_ddpm < 1e-9)

# %% [markdown]
# **Churn and η keep the right distribution.** Stochastic samplers are compared with exact samples by the sliced
# Wasserstein distance; the exact-vs-exact distance at the same size is the noise floor. Pass: below 1.5 × floor + 0.02.

# %% tags=["nbval-check-output"]
play = play_samplers(nfe=40, rho=7.0, eta=1.0, churn=40.0)
for name in ("heun", "ddim"):
    assert play[name]["sw"] < 1.5 * play["floor"] + 0.02, (name, play[name]["sw"], play["floor"])
print(f"SW: stochastic Heun {play['heun']['sw']:.3f}, DDIM(η=1) {play['ddim']['sw']:.3f} "
      f"(tolerance 1.5 × floor {play['floor']:.3f} + 0.02 = {1.5 * play['floor'] + 0.02:.3f})")

# %% [markdown]
# ## Play
#
# NFE, the Karras ρ, DDIM's η and Heun's churn γ (γ itself, over [0, √2 − 1]; the title shows its S_churn). With η = 0
# and γ = 0 the title's "ODE error" is the distance to the exact ODE answer from the same start; once noise is
# injected it says "distance to ODE answer": watch SW₂ against the noise band of exact samples instead.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.samplers_panel()

# %% [markdown]
# ## Warm-up
#
# ### Warm-up 1 · a Heun step for any process
# Implement `heun_step(x, t, t_next, predictor, process)` for any process: velocity
# $v = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon$ (use `process.coefficients(t)` and `predictor(x, t)` for $\hat x_0$),
# Euler to $\tilde x$, then the average of the two velocities — and plain Euler when $\sigma(t_{next}) = 0$. Return
# $x_{next}$ (the package's `heun_step`, printed after the warm-ups, also returns $\hat x_0$ for the sampler's
# callback).

# %%
def my_heun_step(x, t, t_next, predictor, process):
    # BEGIN SOLUTION
    def velocity(x, t):
        alpha_t, sigma_t, d_alpha_t, d_sigma_t = process.coefficients(t)
        x0_hat = predictor(x, t)
        eps_hat = (x - alpha_t * x0_hat) / sigma_t
        return d_alpha_t * x0_hat + d_sigma_t * eps_hat

    d_cur = velocity(x, t)
    x_next = x + (t_next - t) * d_cur  # Euler step
    if process.sigma(t_next) == 0:
        return x_next
    d_prime = velocity(x_next, t_next)
    return x + (t_next - t) * 0.5 * (d_cur + d_prime)  # 2nd-order correction
    # END SOLUTION


check_heun_step(my_heun_step)


# %% [markdown]
# ### Warm-up 2 · a DDIM step for any process
# Implement the deterministic step $x_s = \alpha_s\hat x_0 + \sigma_s\hat\varepsilon$ for any process.

# %%
def my_ddim_step(x, t, t_next, predictor, process):
    # BEGIN SOLUTION
    alpha_t, sigma_t = process.coefficients(t)[:2]
    alpha_s, sigma_s = process.coefficients(t_next)[:2]
    x0_hat = predictor(x, t)
    eps_hat = (x - alpha_t * x0_hat) / sigma_t
    return alpha_s * x0_hat + sigma_s * eps_hat
    # END SOLUTION


check_ddim_sampler_step(my_ddim_step)

# %% [markdown]
# Compare your two steps with the package's (they also return $\hat x_0$, for the sampler's callback):

# %%
print(inspect.getsource(heun_step))
print(inspect.getsource(ddim_step))

# %% [markdown]
# ## Build it · DPM-Solver++(2M)
# Write the whole multistep sampler `dpmpp_2m(x, ts, predictor, process)`: from `x` at `ts[0]` down the decreasing
# grid `ts` (its last time has σ = 0), return the samples at `ts[-1]`. Each step $t \to s$ calls the predictor once,
# `x0_hat = predictor(x, t)`, and takes the exponential-integrator step printed above (`dpm_first_order`) with a
# better $D$: with $\lambda = \log(\alpha^2/\sigma^2)$,
# $$h = \tfrac12(\lambda_s - \lambda_t),\quad r = \frac{h_{prev}}{h},\quad
#   D = \Big(1 + \frac1{2r}\Big)\hat x_0^{(i)} - \frac1{2r}\hat x_0^{(i-1)},\quad
#   x_s = \frac{\sigma_s}{\sigma_t}x_t - \alpha_s\big(e^{-h} - 1\big)D .$$
# The first step has no history ($D = \hat x_0$); the last step, into σ = 0 where λ = ∞, is $x = \hat x_0$.
# `process.coefficients(t)` gives $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ as tensors.
# The grader runs your function from its own starts on VP, EDM and rectified flow and compares with the package's
# sampler (5 points, to 1e-8), counts the network evaluations (2 points: one per step), and measures your order on a
# Gaussian whose probability-flow ODE it solves in closed form (3 points: slope 2 ± 0.25 for N = 20 … 160).
# Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.samplers import THINK, check_dpmpp_2m, hint


def dpmpp_2m(x, ts, predictor, process):
    # BEGIN SOLUTION
    x0_prev, h_prev = None, None
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        x0_hat = predictor(x, t)
        alpha_t, sigma_t = process.coefficients(t)[:2]
        alpha_s, sigma_s = process.coefficients(t_next)[:2]
        if sigma_s == 0:  # the last step, into data: λ = ∞
            return x0_hat
        h = torch.log(alpha_s / sigma_s) - torch.log(alpha_t / sigma_t)  # = (λ_s − λ_t)/2
        D = x0_hat  # first step: no history
        if x0_prev is not None:
            r = h_prev / h
            # 2nd-order extrapolation of x̂₀ in λ
            D = (1 + 1 / (2 * r)) * x0_hat - 1 / (2 * r) * x0_prev
        x = sigma_s / sigma_t * x - alpha_s * torch.expm1(-h) * D
        x0_prev, h_prev = x0_hat, h
    return x
    # END SOLUTION


check_dpmpp_2m(dpmpp_2m)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Deep dive · the whole loop in one object

# %% [markdown]
# (After the lab on purpose: `Denoiser` runs any sampler of the table by name, DPM-Solver++(2M) included.)
#
# J. Iollo's *Diffusion Crash Course* organises a sampler as four classes. The course keeps the same split, with these
# names:
#
# | *Diffusion Crash Course* | the course | what it holds |
# |---|---|---|
# | `DiffusionModel` (f, g or α, σ) | `diffedu.processes.Process` (`VP`, `VE`, `EDM`, `RectifiedFlow`, …; `make_process`) | $\alpha_t, \sigma_t$, their derivatives, $f, g^2, \lambda_t$ (chapter 01) |
# | `Timer` (`LinearTimer`, `CosineTimer`) | `diffedu.timers`: `uniform`, `cosine`, `karras`, `log_snr`; `make_grid(name, process, N)` | the grid $t_0 > \dots > t_N$ |
# | `Integrator` (`EulerIntegrator`, `HeunIntegrator`, `DPMpp2sIntegrator`, `DDIMIntegrator`) | `diffedu.integrators`: `euler`, `heun`, `dpmpp_2s`, `ddim` (and `dpmpp_2m`, `ddpm`, `euler_maruyama`, `pc`); the table `SAMPLERS` | one step $t \to s$ and the loop; NFE per step and order |
# | `Denoiser` | `diffedu.Denoiser(process, predictor, integrator, timer)` | the sampling loop: `.sample(x_T or n, N)` |
# | `CondDenoiser` | `diffedu.guidance.CondDenoiser` (chapter 11) | a `Denoiser` for $p(x_0\mid y)$ |
# | the network $D_\theta$ (an ε-predictor there) | `diffedu.Predictor` around a network of any kind (chapter 02) | $\hat x_0, \hat\varepsilon$, score, velocity |
#
# The functions of this chapter are the `Integrator` column; `Denoiser` only ties the four together. The cell below
# checks that it adds nothing: its Heun sample equals the function's bit for bit.

# %% tags=["nbval-check-output"]
edm_proc, mix = make_process("edm"), gmm_2d()
x_start = mix.marginal(edm_proc.t_max, edm_proc).sample(
    64, generator=torch.Generator().manual_seed(3))
sampler = diffedu.Denoiser(edm_proc, mix.predictor(edm_proc), "heun", "karras")
by_object = sampler.sample(x_start, 10)
by_function = heun(x_start, make_grid("karras", edm_proc, 10), mix.predictor(edm_proc), edm_proc)
same = torch.equal(by_object, by_function)
assert same
print("Denoiser(edm, exact predictor, 'heun', 'karras').sample(x_T, 10) == heun(...)"
      f" on 64 points: {same}")

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
#
# * All ODE samplers integrate $dx/dt = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon$; they differ in the step rule
#   and in NFE per step. Measured orders: Euler, DDIM 1; Heun, DPM-Solver++(2S), (2M) 2 — on the asymptotic range.
#   Before it (Heun at NFE 20 on EDM's grid) a second-order method can lose to Euler.
# * DDIM = DPM-Solver++(1): an exponential integrator, exact in the linear part, first order in $\hat x_0$.
# * The grid matters as much as the method: put the steps where $\hat x_0$ changes — at small noise for images (Karras
#   ρ, log-SNR), in the middle range for this mixture; DPM-Solver++ is built for log-SNR steps. Orders need a grid
#   that is one fixed map refined with N: on rectified flow that is the uniform grid in t — where DPM-Solver++, which
#   steps in λ, still takes fixed λ-steps near data and converges like $\ln N / N^2$.
# * η, churn, Euler–Maruyama and Langevin correctors trade determinism for forgetting earlier errors; their quality is
#   a distance between distributions, not an endpoint error; Euler–Maruyama converges in law at order 1.
#
# ## What next
# Chapter 11 steers these samplers with guidance; chapter 12 runs them on a trained MNIST network.
#
# ## References
# * Karras, Aittala, Aila, Laine (2022). *Elucidating the Design Space of Diffusion-Based Generative Models.* NeurIPS.
# * Lu, Zhou, Bao, Chen, Li, Zhu (2022). *DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models.*
# * Song, Meng, Ermon (2021). *Denoising Diffusion Implicit Models.* ICLR.
# * Song, Sohl-Dickstein, Kingma, Kumar, Ermon, Poole (2021). *Score-Based Generative Modeling through SDEs.* ICLR.
# * Ho, Jain, Abbeel (2020). *Denoising Diffusion Probabilistic Models.* NeurIPS.
# * Kloeden, Platen (1992). *Numerical Solution of Stochastic Differential Equations.* Springer (weak order of Euler–Maruyama).

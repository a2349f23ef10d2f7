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
# # 03 · Fokker–Planck and the probability-flow ODE
#
# **You will** watch a density spread under noise (the heat equation), solve the Fokker–Planck equation on a grid,
# derive the probability-flow ODE that moves samples with the same marginals, and compare it with the reverse-time SDE.
# **You need** chapters 01–02 · **Time** about 110 minutes

# %%
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import VP, gmm_1d
from diffedu.course.exercises import check_pf_drift, check_reverse_sde_drift
from diffedu.course.fokker_planck import heat_equation_sides, reverse_family
from diffedu.metrics import sliced_wasserstein
from diffedu.ui.plots import figure, to_numpy
from diffedu.ui.quiz import think
from diffedu.course.sdes import simulate_forward

# tensors here are small: one thread is fastest, and a second one only spins on a busy CPU
torch.set_num_threads(1)
g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# **The picture first.** The density $p_t(x)$ of a 1-D two-component mixture under the VP process (shading: data at
# t = 0 on the right, noise at t = 1 on the left), and, from the same six noisy starts at t = 1, the paths of two
# samplers that use only the score: the probability-flow ODE (solid, deterministic) and the reverse-time SDE (thin,
# random). Both carry the noise back to the data's two bumps with the right proportions; this chapter derives both.

# %%
demo_process, demo_gmm = VP(), gmm_1d()
t_axis = torch.linspace(1.0, 1e-3, 201, dtype=torch.float64)
x_axis = torch.linspace(-4, 4, 161, dtype=torch.float64)
dens = torch.stack([demo_gmm.log_prob(x_axis[:, None], t, demo_process).exp()
                    for t in t_axis.tolist()], 1)  # (161, 201) p_t(x) on the grid
starts = demo_gmm.sample(6, 1.0, demo_process, generator=torch.Generator().manual_seed(3))  # (6, 1)
demo_score = lambda x, t: demo_gmm.score(x, t, demo_process)  # noqa: E731
demo_paths = {eta: reverse_family(starts, t_axis.tolist(), demo_score, demo_process, eta=eta,
                                  return_path=True, generator=torch.Generator().manual_seed(4))
              for eta in (0.0, 1.0)}  # η = 0: probability-flow ODE; η = 1: reverse SDE
fig, axes = figure(1, size=5.5)
ax = axes[0, 0]
ax.pcolormesh(to_numpy(t_axis), to_numpy(x_axis), to_numpy(dens), cmap="Blues", shading="auto")
for k in range(6):
    ax.plot(to_numpy(t_axis), to_numpy(demo_paths[0.0][:, k, 0]), color=f"C{k + 1}", lw=2)
    ax.plot(to_numpy(t_axis), to_numpy(demo_paths[1.0][:, k, 0]), color=f"C{k + 1}", lw=0.7)
ax.set(xlim=(1, 0), xlabel="t (noise → data)", ylabel="x",
       title="ODE (solid) and SDE (thin) from the same starts")
plt.show()

# %% [markdown]
# ## Theory
# **New symbols:** $p(x;\sigma)$ (also $p_\sigma$) the data blurred by noise of level σ; the Gaussian kernel $G_\sigma$;
# a velocity field $u$; the Laplacian $\nabla^2 = \sum_i\partial_i^2$ and divergence $\nabla\cdot$; the reverse-time
# Brownian motion $\bar W$; the reverse family's noise level $\eta$ (or $\eta(t)$).
#
# ### The heat equation
# Add Gaussian noise of level σ to data $x_0\sim q$: $x = x_0 + \sigma\varepsilon$ has the density
# $$p(x;\sigma) = \int \mathcal N(x; x_0, \sigma^2 I)\,q(x_0)\,dx_0 .$$
# The Gaussian kernel $G_\sigma(u) = (2\pi\sigma^2)^{-d/2}e^{-\lVert u\rVert^2/2\sigma^2}$ satisfies, by direct
# differentiation, $\partial_\sigma G = \big(\lVert u\rVert^2/\sigma^3 - d/\sigma\big)G$ and
# $\nabla^2 G = \big(\lVert u\rVert^2/\sigma^4 - d/\sigma^2\big)G$, so $\partial_\sigma G = \sigma\nabla^2 G$. Differentiating
# under the integral gives the **heat equation** for the whole family:
# $$\frac{\partial p}{\partial\sigma} = \sigma\,\nabla^2 p .$$
#
# ### A flow with the same marginals
# Look for a velocity field $u(x,\sigma)$ whose flow $dx/d\sigma = u$ transports $p(\cdot;\sigma)$ into itself. Mass is
# conserved, so $p$ must satisfy the **continuity equation** $\partial_\sigma p = -\nabla\cdot(p\,u)$. Write the
# Laplacian as a divergence: $\sigma\nabla^2 p = \nabla\cdot(\sigma\nabla p) = \nabla\cdot(\sigma p\,\nabla\log p)$.
# The two equations agree if $u = -\sigma\nabla\log p$:
# $$\frac{dx}{d\sigma} = -\sigma\,\nabla_x\log p(x;\sigma) \qquad\text{(probability-flow ODE).}$$
# Started from $p(\cdot;\sigma_{max})$ and run down to σ = 0, it ends at $q$ — deterministically, using only the score.
#
# ### The general process and the Fokker–Planck equation
# For $dx = f(t)\,x\,dt + g(t)\,dW$ the density obeys the **Fokker–Planck equation**
# $$\partial_t p_t = -\nabla\cdot\big(f(t)\,x\,p_t\big) + \tfrac12 g(t)^2\,\nabla^2 p_t
#                  = -\nabla\cdot\Big(p_t\,\big[f(t)\,x - \tfrac12 g(t)^2\nabla\log p_t\big]\Big).$$
# *Sketch of why* (in 1-D; the same in d dimensions). Take any smooth test function φ that vanishes far away. By
# Itô's formula (chapter 01), $d\varphi(x_t) = \varphi'(x_t)\,[f x_t\,dt + g\,dW] + \tfrac12 g^2\varphi''(x_t)\,dt$; the
# $dW$ term has mean 0, so
# $$\frac{d}{dt}\int\varphi\,p_t\,dx = \frac{d}{dt}E[\varphi(x_t)] = E\big[f x_t\,\varphi'(x_t) + \tfrac12 g^2\varphi''(x_t)\big]
#   = \int\big(f x\,\varphi' + \tfrac12 g^2\varphi''\big)\,p_t\,dx
#   = \int\varphi\,\big(-\partial_x(f x\,p_t) + \tfrac12 g^2\,\partial_x^2 p_t\big)\,dx,$$
# integrating by parts once and twice (the boundary terms vanish). This holds for every φ, so the integrands agree:
# that is the first form. The second form uses $\nabla^2 p = \nabla\cdot(p\nabla\log p)$, as for the heat equation,
# and is again a continuity equation, with velocity
# $$\frac{dx}{dt} = f(t)\,x - \tfrac12 g(t)^2\,\nabla\log p_t(x) .$$
# For VE ($f = 0$, $g^2 = d\sigma^2/dt$) this is $dx/dt = -\sigma\dot\sigma\nabla\log p$, i.e. the ODE above in σ.
#
# **The same ODE in $(\alpha, \sigma)$ form.** With chapter 01's $f = \dot\alpha_t/\alpha_t$ and
# $\tfrac12 g^2 = \sigma_t\dot\sigma_t - \tfrac{\dot\alpha_t}{\alpha_t}\sigma_t^2$:
# $$\frac{dx}{dt} = \frac{\dot\alpha_t}{\alpha_t}\,x - \Big(\dot\sigma_t\sigma_t - \frac{\dot\alpha_t\sigma_t^2}{\alpha_t}\Big)\nabla\log p_t(x)$$
# (the form in Iollo's *Diffusion Crash Course*). Put in Tweedie, $\nabla\log p_t = (\alpha_t\hat x_0 - x)/\sigma_t^2$:
# the $x$ terms give $\tfrac{\dot\alpha_t}{\alpha_t}x - \tfrac{\dot\alpha_t}{\alpha_t}x + \tfrac{\dot\sigma_t}{\sigma_t}x$ and the
# $\hat x_0$ terms $\dot\alpha_t\hat x_0 - \tfrac{\dot\sigma_t\alpha_t}{\sigma_t}\hat x_0$, so
# $dx/dt = \dot\alpha_t\hat x_0 + \dot\sigma_t\,(x - \alpha_t\hat x_0)/\sigma_t = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon = \hat v$,
# chapter 02's velocity. For EDM ($\alpha = 1$, $\sigma = t$) it is $dx/dt = -t\,\nabla\log p = (x - \hat x_0)/t$.
#
# ### The reverse-time SDE
# *Running time backwards.* A sampler starts at $t = t_{max}$ and moves to $t = 0$, so each of its steps has
# $dt = -\Delta < 0$. Its noise is a **reverse-time Brownian motion** $\bar W$: increments
# $\bar W_{t-\Delta} - \bar W_t \sim \mathcal N(0, \Delta I)$, each independent of the current state $x_t$ and of everything
# at later times (what the backward-running sampler has already seen). One Euler–Maruyama step of
# $dx = b(x, t)\,dt + \eta g\,d\bar W$ is therefore
# $$x_{t-\Delta} = x_t - b(x_t, t)\,\Delta + \eta\,g(t)\sqrt\Delta\,z, \qquad z\sim\mathcal N(0, I).$$
# *Which backward SDEs keep the marginals?* Split $\tfrac12 g^2\nabla\log p$ differently: for any $\eta = \eta(t)\ge0$
# (the split is pointwise in t, so η may change with t),
# $$-\nabla\cdot\big(p[fx - \tfrac12 g^2\nabla\log p]\big) = -\nabla\cdot\big(p[fx - \tfrac{1+\eta^2}2 g^2\nabla\log p]\big)
#  - \tfrac{\eta^2}{2}g^2\nabla^2 p .$$
# Now read the right side in the sampler's time $t' = -t$ (increasing as t decreases): $\partial_{t'} p = -\partial_t p
# = -\nabla\cdot(p\,[-b]) + \tfrac{\eta^2}{2}g^2\nabla^2 p$ with $b = fx - \tfrac{1+\eta^2}{2}g^2\nabla\log p$. That is the
# ordinary (forward-in-$t'$) Fokker–Planck equation of a process with drift $-b$ per unit of $t'$ and noise $\eta g$ — exactly
# the step above. So the backward SDE
# $$dx = \big[f(t)\,x - \tfrac{1+\eta^2}{2}\,g(t)^2\nabla\log p_t(x)\big]\,dt + \eta\,g(t)\,d\bar W \qquad (dt < 0)$$
# has the marginals $p_t$ for every η. *Why it is plausible:* backwards, the added noise spreads mass out by
# $\tfrac{\eta^2}2 g^2\nabla^2 p$, and the extra score drift $\tfrac{\eta^2}{2}g^2\nabla\log p$ pushes mass uphill by exactly
# as much, so only the ODE's transport is left. η = 0 is the probability-flow ODE; η = 1 is Anderson's (1982)
# **reverse SDE** $dx = [f x - g^2\nabla\log p_t]\,dt + g\,d\bar W$ (Song et al. 2021).
#
# *The same family elsewhere.* The blog note *Diffusion 101* runs time from noise to data and writes a free diffusion
# coefficient ($\sigma_t$ there; $w_t$ here): velocity $u^{SDE} = u^{ODE} + \tfrac{w_t^2}{2}\nabla\log p$ with noise $w_t$ —
# our family with $w_t = \eta(t)\,g(t)$. EDM (Karras et al. 2022, eq. 6) writes it with $\beta(t)$:
# $\beta(t)\sigma_t^2 = \tfrac12\eta(t)^2 g(t)^2$ (chapter 09's churn is a discrete version). DDIM's η (chapter 05) is the
# same η in the limit of small steps: to first order in the step, a DDIM(η) step has noise variance $\eta^2 g^2\Delta$ and
# the mean of the Euler–Maruyama step above. Chapters 07–09 use this family.

# %% [markdown]
# ## See it
# The 1-D mixture `gmm_1d()` (two components, weights 0.3 and 0.7) under the VP process: the exact $p_t$ at four times, and paths of the probability-flow
# ODE and of the reverse SDE from the same starting points, driven by the exact score.

# %%
process, gmm = VP(), gmm_1d()
x_grid = torch.linspace(-5, 5, 201, dtype=torch.float64)
ts_rev = torch.linspace(1.0, 1e-3, 201).tolist()
score = lambda x, t: gmm.score(x, t, process)  # noqa: E731
x_T = gmm.sample(40, 1.0, process, generator=g)
paths = {eta: reverse_family(x_T, ts_rev, score, process, eta=eta,
                             generator=torch.Generator().manual_seed(1),
                             return_path=True) for eta in (0.0, 1.0)}
fig, axes = figure(3, size=3.6)
for t in (0.0, 0.1, 0.3, 1.0):
    dens = (gmm.log_prob(x_grid[:, None], t, process).exp() if t > 0
            else gmm.log_prob(x_grid[:, None]).exp())
    axes[0, 0].plot(to_numpy(x_grid), to_numpy(dens), label=f"t = {t}")
axes[0, 0].set(xlabel="x", ylabel="$p_t(x)$", title="exact marginals (VP)")
axes[0, 0].legend(fontsize=8)
for ax, eta, name in ((axes[0, 1], 0.0, "probability-flow ODE"), (axes[0, 2], 1.0, "reverse SDE")):
    ax.plot(ts_rev, to_numpy(paths[eta][..., 0]), lw=0.7)
    ax.set(xlabel="t", ylabel="x", title=name, xlim=(1, 0), ylim=(-4, 4))
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. The heat equation.** Central differences of the exact $p(x;\sigma)$ at 41 points and three σ's: the two sides
# agree to within $10^{-5}$ relative to $\max|\partial_\sigma p|$ (finite-difference step $h = 10^{-3}$, error $O(h^2)$).

# %% tags=["nbval-check-output"]
x_pts = torch.linspace(-4, 4, 41, dtype=torch.float64)[:, None]
for sigma in (0.2, 0.5, 1.5):
    lhs, rhs = heat_equation_sides(gmm, x_pts, sigma, h=1e-3)
    rel = ((lhs - rhs).abs().max() / lhs.abs().max()).item()
    assert rel < 1e-5, rel
    print(f"sigma = {sigma}: max |dp/dsigma - sigma * lap p| / max |dp/dsigma| = {rel:.0e} < 1e-5: "
          f"{rel < 1e-5}")

# %% [markdown]
# **2. Fokker–Planck by samples.** The Fokker–Planck equation describes the density of the SDE's paths: forward
# Euler–Maruyama samples (4000 paths, 200 steps) match the exact $p_t$ within the Monte Carlo error of a
# histogram: L1 of a 40-bin histogram below 0.12 (its expected value for 4000 samples is about 0.06).

# %% tags=["nbval-check-output"]
n_mc = 4000
ts_fwd = torch.linspace(0, 1, 201).tolist()
x_path = simulate_forward(gmm.sample(n_mc, generator=g), ts_fwd, process, generator=g,
                          return_path=True)
edges = torch.linspace(-5, 5, 41, dtype=torch.float64)
for t in (0.1, 0.3, 1.0):
    i = round(t * 200)
    hist = torch.histogram(x_path[i, :, 0], bins=edges).hist / n_mc  # bin probabilities
    cdf = gmm.marginal(t, process)
    mids = 0.5 * (edges[1:] + edges[:-1])
    bin_p = cdf.log_prob(mids[:, None]).exp() * (edges[1] - edges[0])  # midpoint rule
    l1_hist = (hist - bin_p).abs().sum().item()
    assert l1_hist < 0.12, (t, l1_hist)
    print(f"t = {t}: L1(histogram, exact) = {l1_hist:.2f} < 0.12: {l1_hist < 0.12}")

# %% [markdown]
# **3. Reverse ODE and SDE keep the marginals.** Start 4000 exact samples of $p_1$, run the PF-ODE (η = 0) and the
# reverse SDE (η = 1) with the exact score over 400 Euler(–Maruyama) steps, and compare at t = 0.5, 0.2 and 0.01 with
# fresh exact samples of $p_t$ by the 1-D Wasserstein distance. Tolerance: 3× the exact-vs-exact noise floor.

# %% tags=["nbval-check-output"]
ts_400 = torch.linspace(1.0, 0.01, 401).tolist()
x_T = gmm.sample(n_mc, 1.0, process, generator=g)
rev = {eta: reverse_family(x_T, ts_400, score, process, eta=eta,
                           generator=torch.Generator().manual_seed(2),
                           return_path=True) for eta in (0.0, 1.0)}
# 1-D: exact W2 by sorting
w2 = lambda a, b: sliced_wasserstein(a, b, n_projections=1).item()  # noqa: E731
for t in (0.5, 0.2, 0.01):
    i = min(range(len(ts_400)), key=lambda j: abs(ts_400[j] - t))
    ref = gmm.sample(n_mc, ts_400[i], process, generator=g)
    ref2 = gmm.sample(n_mc, ts_400[i], process, generator=g)
    floor, w_ode, w_sde = w2(ref2, ref), w2(rev[0.0][i], ref), w2(rev[1.0][i], ref)
    assert w_ode < 3 * floor and w_sde < 3 * floor, (t, floor, w_ode, w_sde)
    print(f"t = {t}: W2 floor {floor:.3f}, ODE {w_ode:.3f}, SDE {w_sde:.3f};"
          f" both within 3x floor: {w_ode < 3 * floor and w_sde < 3 * floor}")

# %% [markdown]
# ## Play
# Move t and watch the density spread; then choose how many reverse paths to draw and the noise level η of the
# reverse family (η = 0: ODE; η = 1: reverse SDE; η > 1: noisier still, same marginals).

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.fokker_planck_panel()

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.ode_sde_paths_panel()

# %% [markdown]
# ## Warm-up
# ### Warm-up 1 · the probability-flow drift
# Write the drift of the probability-flow ODE, $f_t x - \tfrac12 g_t^2\nabla\log p_t$.

# %%
def pf_drift(x, f_t, g2_t, score):
    # BEGIN SOLUTION
    return f_t * x - 0.5 * g2_t * score
    # END SOLUTION


check_pf_drift(pf_drift)

# %% [markdown]
# ### Warm-up 2 · the reverse-SDE drift
# Write the drift of the reverse-time SDE (η = 1).

# %%
def reverse_sde_drift(x, f_t, g2_t, score):
    # BEGIN SOLUTION
    return f_t * x - g2_t * score
    # END SOLUTION


check_reverse_sde_drift(reverse_sde_drift)

# %% [markdown]
# ## Build it · the Fokker–Planck equation on a grid
# Solve $\partial_t p = -\partial_x\big(f(t)\,x\,p\big) + \tfrac12 g(t)^2\,\partial_x^2 p$ numerically in 1-D. Write
# `fokker_planck(p0, x, ts, process)`: `p0` is the density at `ts[0]` on the uniform grid `x` (M,), `ts` an increasing
# list of times; return the density at every time of `ts` (p0 first), shape (len(ts), M), with p = 0 beyond the grid.
# The simplest scheme that works: central differences in x,
# $$\partial_x(f x p)_i \approx \frac{f x_{i+1}p_{i+1} - f x_{i-1}p_{i-1}}{2\Delta x}, \qquad
#   \partial_x^2 p_i \approx \frac{p_{i+1} - 2p_i + p_{i-1}}{\Delta x^2},$$
# and explicit Euler steps in time, $p \leftarrow p + \Delta t\,(\text{right-hand side})$. The times in `ts` are far
# apart: take many small sub-steps between them — an explicit step is stable only if $\tfrac12 g^2\Delta t/\Delta x^2 \le \tfrac12$
# (the CFL condition of the heat equation). `process.f(t)` and `process.g2(t)` take a tensor time.
# The grader runs your solver on the 1-D mixture, $\Delta x = 0.05$, and compares it in L1 with the exact $p_t$ at
# t = 0.1, 0.3 and 1: on VP (4 points) and on VE, where only diffusion acts (3 points); and checks that the mass stays
# 1 and the density non-negative (3 points). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.fokker_planck import THINK, check_fokker_planck, hint


def fokker_planck(p0, x, ts, process):
    # BEGIN SOLUTION
    dx = (x[1] - x[0]).item()
    p, out = p0.clone(), [p0.clone()]
    for t0, t1 in zip(ts[:-1], ts[1:]):
        g2_max = process.g2(torch.linspace(t0, t1, 11, dtype=torch.float64)).max().item()
        n_sub = math.ceil((t1 - t0) * g2_max / (0.9 * dx**2)) + 1  # CFL: ½g²Δt/Δx² ≤ 0.45
        dt = (t1 - t0) / n_sub
        for k in range(n_sub):
            t = torch.tensor(t0 + k * dt, dtype=torch.float64)
            # f·x·p, zero beyond the grid
            flux = torch.nn.functional.pad(process.f(t) * x * p, (1, 1))
            q = torch.nn.functional.pad(p, (1, 1))
            drift = -(flux[2:] - flux[:-2]) / (2 * dx)  # −∂x(f x p)
            diffusion = 0.5 * process.g2(t) * (q[2:] - 2 * p + q[:-2]) / dx**2  # ½g² ∂²p
            p = p + dt * (drift + diffusion)  # explicit Euler step
        out.append(p)
    return torch.stack(out)
    # END SOLUTION


check_fokker_planck(fokker_planck)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Deep dive · after the lab: Crank–Nicolson

# %% [markdown]
# The package's solver `fokker_planck_1d` averages the right-hand side of the old and
# the new time (Crank–Nicolson): stable for any Δt and second order in time, so 200 steps suffice where the explicit
# scheme needs thousands. On 201 points of [−5, 5], from the exact $q$, its L1 distance to the exact $p_t$ at
# t = 0.1, 0.3 and 1 is below $10^{-3}$ (discretization error $O(\Delta x^2 + \Delta t^2)$) — five times tighter than the
# lab's threshold, with far fewer time steps.

# %% tags=["nbval-check-output"]
from diffedu.course.fokker_planck import fokker_planck_1d

p_grid = fokker_planck_1d(gmm.log_prob(x_grid[:, None]).exp(), x_grid, ts_fwd,
                          process)  # (201, 201)
dx = (x_grid[1] - x_grid[0]).item()
for t in (0.1, 0.3, 1.0):
    exact = gmm.log_prob(x_grid[:, None], t, process).exp()
    l1_grid = ((p_grid[round(t * 200)] - exact).abs().sum() * dx).item()
    assert l1_grid < 1e-3, (t, l1_grid)
    print(f"t = {t}: L1(Crank–Nicolson, exact) = {l1_grid:.0e} < 1e-3: {l1_grid < 1e-3}")

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# * Noising by σ solves the heat equation $\partial_\sigma p = \sigma\nabla^2 p$.
# * Writing the diffusion term as a divergence turns Fokker–Planck into a continuity equation: the probability-flow
#   ODE $dx/dt = f x - \tfrac12 g^2\nabla\log p_t$ moves samples with exactly the marginals $p_t$.
# * A whole family of reverse SDEs, including Anderson's $dx = [fx - g^2\nabla\log p_t]dt + g\,d\bar W$, shares them.
# * All of them need only the score — which the next chapters learn.
#
# ## What next
# Chapter 04 builds DDPM, a discrete reverse process; chapter 06 learns the score; chapter 07 samples the SDEs.
#
# ## References
# * B. D. O. Anderson, *Reverse-time diffusion equation models*, Stochastic Processes and their Applications 1982.
# * Y. Song et al., *Score-Based Generative Modeling through Stochastic Differential Equations*, ICLR 2021.
# * T. Karras et al., *Elucidating the Design Space of Diffusion-Based Generative Models*, NeurIPS 2022 (App. B).

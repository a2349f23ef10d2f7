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
# # 13 · Few-step generation: distillation, consistency models and average velocities
#
# **You will** compute the exact flow map $x_T \mapsto x_0$ of the probability-flow ODE on a 2-D mixture, derive the
# consistency function and its boundary condition, consistency distillation and consistency training, progressive
# distillation and MeanFlow's average velocity, train each on the mixture, and measure how close one, two and four
# network calls get to the exact map — beside DPM-Solver++ with the *exact* denoiser at the same budget.
# **You need** chapters 03, 05, 08 and 10 · **Time** about 120 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import RectifiedFlow, gmm_2d
from diffedu.course.few_step import (cd_loss, ct_loss, ddim_x0_sample, flow_map, gaussian_flow_map,
                                     gaussian_average_velocity, gaussian_velocity, teacher_step)
from diffedu.course.few_step_train import (METHODS, exact_pairs, few_step_samples, map_error,
                                           train_consistency, train_meanflow, train_progressive)
from diffedu.metrics import sliced_wasserstein
from diffedu.timers import uniform
from diffedu.toys import GaussianMixture
from diffedu.ui.plots import figure, scatter2d
from diffedu.ui.quiz import think

g = diffedu.seed(0)
torch.set_num_threads(1)  # tiny arrays: on a busy CPU a second thread only spin-waits
print(diffedu.banner())

# %% [markdown]
# ## Theory
# Chapter 10 ended with a floor: a good ODE solver needs 10–20 network calls (NFE), because each call sees the velocity
# field at *one* time and the solver must integrate a curved path from those samples. This chapter trains networks that
# learn the *integral* itself. We work in rectified flow, $x_t = (1-t)x_0 + t\varepsilon$ (chapter 08), time data → noise.
#
# ### The flow map
# The PF-ODE $dx/dt = v(x, t) = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$ (chapter 10) has a solution through
# every point. The **flow map** $\Phi_{t\to r}$ carries $x_t$ along it to time $r$:
# $$\Phi_{t\to r}(x_t) = x_t - \int_r^t v(x_\tau, \tau)\,d\tau, \qquad \Phi_{t\to r}\circ\Phi_{s\to t} = \Phi_{s\to r}.$$
# A sampler with one call is good exactly when that call returns $\Phi_{1\to0}(x_1)$. On the mixture we know $v$
# exactly ($\hat\varepsilon = -\sigma_t\nabla\log p_t$ keeps it finite at $t = 0$ and $t = 1$), so a fourth-order
# Runge–Kutta solve with 128 steps gives $\Phi_{1\to0}$ to about $10^{-6}$ (`course.few_step.flow_map`, cached). For one
# Gaussian $\mathcal N(\mu, s^2 I)$ the map is closed form: with $m_t = \alpha_t\mu$ and
# $\mathrm{sd}_t^2 = \alpha_t^2 s^2 + \sigma_t^2$ the ODE keeps $z = (x - m_t)/\mathrm{sd}_t$ fixed, so
# $\Phi_{t\to r}(x) = m_r + (\mathrm{sd}_r/\mathrm{sd}_t)(x - m_t)$.
#
# ### The consistency function and its boundary
# Song et al. (2023) call $f(x_t, t) = \Phi_{t\to0}(x_t)$ the **consistency function**: it is constant along every ODE
# path, $f(x_t, t) = f(x_s, s)$, and at the boundary $f(x, 0) = x$. A network enforces the boundary by construction
# (their eq. 5, with EDM's scalings, Karras et al. 2022, Table 1, written for $x_t = \alpha_t x_0 + \sigma_t\varepsilon$):
# $$f_\theta(x_t, t) = c_{skip}(t)\,x_t + c_{out}(t)\,F_\theta(c_{in}(t)\,x_t, t),\quad
#   c_{skip} = \frac{\alpha_t\sigma_d^2}{\alpha_t^2\sigma_d^2 + \sigma_t^2},\quad
#   c_{out} = \frac{\sigma_t\sigma_d}{\sqrt{\alpha_t^2\sigma_d^2 + \sigma_t^2}},\quad
#   c_{in} = \frac{1}{\sqrt{\alpha_t^2\sigma_d^2 + \sigma_t^2}}.$$
# At $t = 0$ ($\alpha = 1$, $\sigma = 0$): $c_{skip} = 1$, $c_{out} = 0$, so $f_\theta(x, 0) = x$ for every θ.
#
# ### Consistency distillation (CD) and consistency training (CT)
# Pick a grid $0 = t_0 < t_1 < \dots < t_N = 1$. **CD** (Song et al. 2023, eq. 7, Algorithm 2) takes $x_{t_{n+1}}$ from
# data, one step of a *teacher* ODE solver to $\hat x_{t_n}$ (their eq. 6), and asks the network to agree with itself:
# $$\mathcal L_{CD} = \mathbb E\,\big\lVert f_\theta(x_{t_{n+1}}, t_{n+1}) - f_{\theta^-}(\hat x_{t_n}, t_n)\big\rVert^2,$$
# θ⁻ an exponential moving average of θ, under stop-gradient (decay μ = 0.99 here; Song & Dhariwal 2024
# use θ⁻ = θ for CT). Zero loss for all n plus the boundary
# makes $f_\theta = \Phi_{\cdot\to0}$ — up to the teacher's step error, which for Euler is $O(\Delta t^2)$ per step,
# so the loss at the exact $f$ is $O(\Delta t^4)$. **CT** (eq. 10, Algorithm 3) needs no teacher: it uses the *same*
# noise, $x_{t_n} = \alpha_{t_n}x_0 + \sigma_{t_n}\varepsilon$. That point lies on the straight conditional path, not
# on the ODE path, so at the exact $f$ the CT loss is $O(\Delta t^2)$, not zero; Song et al.'s Theorem 2 shows that CT
# matches CD with an Euler teacher to first order. **Multistep sampling** (Algorithm 1) maps to data, re-noises to a
# smaller time with fresh noise and maps again: it improves the *distribution*, no longer the map.
#
# ### Progressive distillation (PD)
# Salimans & Ho (2022, Algorithm 2) keep the sampler (DDIM, chapter 05) and shrink its step count. A student
# $\hat x_\eta$ learns to take in one DDIM step $t \to s$ what two teacher steps $t \to m \to s$ do. One DDIM step is
# $x_s = \alpha_s\hat x_0 + \tfrac{\sigma_s}{\sigma_t}(x_t - \alpha_t\hat x_0)$, so the $\tilde x_0$ that lands on the
# teacher's $x_s''$ solves a linear equation:
# $$\tilde x_0 = \frac{x_s'' - \tfrac{\sigma_s}{\sigma_t}x_t}{\alpha_s - \tfrac{\sigma_s}{\sigma_t}\alpha_t},\qquad
#   \mathcal L_{PD} = \mathbb E\,\lVert\hat x_\eta(x_t, t) - \tilde x_0\rVert^2 .$$
# The student becomes the next teacher: $2N \to N \to N/2 \to \dots \to 1$, one training run per halving.
#
# ### Average velocity and the MeanFlow identity
# Geng et al. (2025) learn the **average velocity** over an interval (their eq. 3),
# $$u(x_t, r, t) = \frac{1}{t - r}\int_r^t v(x_\tau, \tau)\,d\tau = \frac{x_t - \Phi_{t\to r}(x_t)}{t - r},$$
# so one step $x_r = x_t - (t - r)\,u(x_t, r, t)$ is exact for any $r < t$. Differentiate
# $(t - r)\,u(x_t, r, t) = \int_r^t v\,d\tau$ in $t$ along the path (r fixed): $u + (t - r)\tfrac{d}{dt}u = v(x_t, t)$,
# the **MeanFlow identity** (eq. 6),
# $$u(x_t, r, t) = v(x_t, t) - (t - r)\,\frac{d}{dt}u(x_t, r, t),\qquad
#   \frac{d}{dt}u = v\,\partial_x u + \partial_t u \ \text{(eq. 8)} .$$
# The right side is a regression target that needs no integral: $\mathcal L_{MF} = \mathbb E\lVert u_\theta(z_t, r, t) -
# \mathrm{sg}(u_{tgt})\rVert^2$ with $u_{tgt} = v - (t - r)(v\,\partial_z u_\theta + \partial_t u_\theta)$ (eqs. 9–10),
# one Jacobian–vector product with tangent $(v, 0, 1)$. As in flow matching (chapter 08), $v$ may be the conditional
# velocity $\varepsilon - x_0$: the target is linear in $v$, so its conditional mean is the marginal one. At $r = t$
# the loss *is* flow matching. Shortcut models (Frans et al. 2025) learn the same $u$ from a self-consistency in the
# step size instead of a derivative.
#
# ### How reflow relates
# Reflow (chapter 08) changes the *coupling* so that the ODE's paths straighten; when they are straight,
# $u(x_t, r, t) = v(x_t, t)$ and one Euler step is exact. The methods here leave the ODE alone and learn its map
# instead: CD/CT learn $\Phi_{t\to0}$, PD learns a coarse DDIM that reproduces a fine one, MeanFlow learns
# $\Phi_{t\to r}$ for every pair. All of them are bounded by what they imitate: the exact map here.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it: the closed forms behind the losses

# %% [markdown]
# On one Gaussian $\mathcal N(\mu, s^2 I)$ everything is closed form. We check: the RK4 flow map against the closed-form
# map (tolerance $10^{-7}$); the CD loss at the exact consistency function with an exact teacher step is zero, with an
# Euler teacher it falls 16× when Δt halves (fourth order), while the CT loss falls only 4× (second order); and the
# closed-form average velocity satisfies the MeanFlow identity (its total derivative by a central difference along
# the path, tolerance $10^{-6}$).

# %% tags=["nbval-check-output"]
rf = RectifiedFlow()
mu, s = torch.tensor([0.5, -1.0], dtype=torch.float64), 0.7
one = GaussianMixture([1.0], mu[None], [s])
gc = torch.Generator().manual_seed(1)
z, eps = (torch.randn(4000, 2, generator=gc, dtype=torch.float64) for _ in range(2))
x0 = mu + s * z
rk4 = flow_map(one, eps[:300], 1.0, 0.0, rf, 64)
err_map = (rk4 - gaussian_flow_map(eps[:300], 1.0, 0.0, mu, s, rf)).abs().max()
assert err_map < 1e-7
print("RK4 flow map (64 steps) vs closed form: max error < 1e-7: True")

f_exact = lambda x, t: gaussian_flow_map(x, t, 0.0, mu, s, rf)  # the exact consistency function
t6 = torch.full((4000,), 0.6, dtype=torch.float64)
exact_step = lambda x, t, r: gaussian_flow_map(x, t, r, mu, s, rf)
euler = teacher_step(one, rf, "euler")
cd_zero = cd_loss(f_exact, x0, eps, t6, t6 - 0.1, exact_step, rf).item()
cd_euler = lambda dt: cd_loss(f_exact, x0, eps, t6, t6 - dt, euler, rf).item()  # Euler teacher
ct = lambda dt: ct_loss(f_exact, x0, eps, t6, t6 - dt, rf).item()
cd_ratio, ct_ratio = cd_euler(0.04) / cd_euler(0.02), ct(0.02) / ct(0.01)
assert cd_zero < 1e-24 and 12 < cd_ratio < 20 and 3.3 < ct_ratio < 4.7
print("CD loss at the exact f with an exact teacher step: < 1e-24 (zero up to round-off): True")
print(f"CD loss, Euler teacher, Δt → Δt/2: ÷{cd_ratio:.0f} (fourth order: 16)")
print(f"CT loss, Δt → Δt/2: ÷{ct_ratio:.1f} (second order: 4)")

r_mf = 0.05 + (t6 - 0.05) * torch.rand(4000, generator=gc, dtype=torch.float64)
u_exact = lambda z, r, t: gaussian_average_velocity(z, r, t, mu, s, rf)
v6, h = gaussian_velocity(eps, t6, mu, s, rf), 1e-4  # du/dt along the path: central difference
du_dt = (u_exact(eps + h * v6, r_mf, t6 + h) - u_exact(eps - h * v6, r_mf, t6 - h)) / (2 * h)
gap = (u_exact(eps, r_mf, t6) - (v6 - (t6 - r_mf)[:, None] * du_dt)).abs().max()
assert gap < 1e-6
print("MeanFlow identity u = v − (t − r)·du/dt for the exact u: holds to 1e-6")

# %% [markdown]
# ## See it: 1, 2 and 4 network calls against the exact map
# The mixture of the earlier chapters, rectified flow. All four methods train small MLPs on fresh mixture samples each
# step (quick mode: 1000–1500 Adam steps each; CD and PD are taught by the *exact* velocity / denoiser, the best
# possible teacher; CT and MeanFlow see only data; CD and CT grow their grid from N = 2 to 16 during training, as
# improved CT grows N, so that the boundary reaches $t = 1$ in few links first). Then, from the same 2000 noise points
# $x_T$, each samples with 1, 2 and 4 NFE, and so does DPM-Solver++(2M) with the exact denoiser. Two numbers per
# sampler:
# - **map error**: the mean distance $\frac1N\sum\lVert x^{(i)} - \Phi_{1\to0}(x_T^{(i)})\rVert$ to the exact flow map
#   (for the deterministic samplers; CD and CT re-noise after their first step, so only their 1-NFE map is a map);
# - **SW₂** to the exact samples $\Phi_{1\to0}(x_T)$, with its floor: the SW₂ of 2000 *independent* exact samples.

# %%
steps = 1000 if diffedu.quick() else 8000  # Adam steps (CD and CT: 1.5×; PD: ⅓ per round, 4 rounds)
gt = lambda k: torch.Generator().manual_seed(k)
models = {"consistency distillation": train_consistency(3 * steps // 2, generator=gt(1)),
          "consistency training": train_consistency(3 * steps // 2, teacher=None, generator=gt(2)),
          "progressive distillation": train_progressive(steps // 3, generator=gt(3)),
          "MeanFlow": train_meanflow(steps, generator=gt(4)),
          "DPM-Solver++(2M)": gmm_2d()}
x_T, x_exact = exact_pairs(2000)


def sw(x):
    return sliced_wasserstein(x, x_exact, generator=gt(5)).item()


sw_floor = sw(gmm_2d().sample(2000, generator=gt(6)))
nfes = (1, 2, 4)
short = dict(zip(models, ("CD", "CT", "PD", "MeanFlow", "DPM-Solver++(2M)")))
renoised = lambda name, n: name in METHODS[:2] and n > 1  # multistep CD/CT: not a map of x_T
table = {}
for name, model in models.items():
    for n in nfes:
        x = few_step_samples(name, model, x_T, n, generator=gt(7))
        err = None if renoised(name, n) else map_error(x, x_exact)
        table[name, n] = dict(x=x, err=err, sw=sw(x))

fig, axes = figure(3, 5, size=2.4)
for r, name in enumerate(models):
    for c, n in enumerate(nfes):
        row = table[name, n]
        err = "re-noised" if row["err"] is None else f"err {row['err']:.2f}"
        scatter2d(axes[r, c], x_exact, lim=3.5, color="C0", s=1, alpha=0.15)
        scatter2d(axes[r, c], row["x"], lim=3.5, color="C3", s=1,
                  title=f"{short[name]}, {n} NFE\n{err} · SW {row['sw']:.2f}")
fig.suptitle("red: samples from 2000 noise points $x_T$\nblue: the exact flow map $\\Phi(x_T)$")
plt.show()

# %%
fmt = lambda v: f"{'—':>9s}" if v is None else f"{v:9.3f}"
print(f"{'':28s}" + "".join(f"{'err@' + str(n):>9s}" for n in nfes)
      + "".join(f"{'SW@' + str(n):>8s}" for n in nfes))
for name in models:
    print(f"{name:28s}" + "".join(fmt(table[name, n]["err"]) for n in nfes)
          + "".join(f"{table[name, n]['sw']:8.3f}" for n in nfes))
print(f"SW₂ floor (independent exact samples, n = 2000): {sw_floor:.3f}")
exact_x0 = lambda x, t: gmm_2d().denoiser(x, t, rf)
ddim_16 = map_error(ddim_x0_sample(exact_x0, x_T, uniform(rf, 16), rf), x_exact)
print(f"PD's first teacher (16 DDIM steps, exact denoiser): map error {ddim_16:.3f}")
best = min(METHODS, key=lambda m: table[m, 1]["err"])
print(f"best at 1 NFE: {best}, map error {table[best, 1]['err']:.3f}, "
      f"SW₂ {table[best, 1]['sw']:.3f}")

# %% [markdown]
# What the numbers say (quick mode; the values are in the table above, deterministic on a CPU). With the exact
# teacher at hand, **progressive distillation** gives the most accurate one-step map here: each round is a plain
# regression onto a target its teacher computes. Its first teacher, 16 DDIM steps on the exact denoiser, is itself
# 0.09 from the exact map; four rounds of regression add the rest, and every student is about equally far off — PD
# buys speed, never accuracy beyond its teacher. **MeanFlow** comes close at one NFE and is the best learned model at
# two and four: over a short interval $u \approx v$, which it learns as flow matching where $r = t$.
# **Consistency distillation and training** learn most slowly: the target at grid time $t_{n+1}$ is the (averaged)
# network's own answer at $t_n$, so information crawls from the boundary $t = 0$ up the grid, and the map at late
# times converges last. CT's targets are also noisy (one point of the conditional path instead of a teacher step),
# and its one-step map is the least accurate learned one. Their multistep sampler re-noises to $t = 0.5$ or $0.25$,
# where $f$ is closer to the boundary and more accurate, and maps again: both improve with every step, CT most, and
# at four NFE their SW₂ is close to the others'. Song et al. train for
# hundreds of thousands of steps; full mode trains 8× longer than quick mode. **DPM-Solver++(2M)** with the *exact*
# denoiser is useless at one NFE (Think, question 1) and at four NFE matches the best learned map: no model here has an
# exact denoiser behind it. The honest summary: a few-step model buys the first one or two NFE; from about four on, a
# good solver on a good denoiser is as good, and a student is only as good as its training and its teacher.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it: who wins at which budget

# %% [markdown]
# Claims the table must support, each asserted. At one NFE every trained few-step model beats DPM-Solver++ with the
# exact denoiser, whose one step collapses all samples onto the data mean (Think, question 1). At four NFE the exact
# solver is hard to beat: the learned maps carry their regression error at every budget, while the solver's error
# shrinks with its step.

# %% tags=["nbval-check-output"]
for m in METHODS:
    assert table[m, 1]["err"] < 0.5 * table["DPM-Solver++(2M)", 1]["err"], m
    assert table[m, 1]["sw"] < 0.6 * table["DPM-Solver++(2M)", 1]["sw"], m
assert table["DPM-Solver++(2M)", 4]["err"] < table["DPM-Solver++(2M)", 1]["err"] / 5
assert all(table[m, n]["sw"] > sw_floor - 0.02 for m in models for n in nfes)
print("at 1 NFE each few-step model's map error < ½ DPM-Solver++'s, its SW₂ < 0.6×: True")
print("DPM-Solver++(2M): 4 NFE is at least 5× closer to the exact map than 1 NFE: True")

# %% [markdown]
# ## Play
# Consistency distillation, live: the number of sampling steps, the teacher's grid N (how many Heun steps of the
# exact ODE span [0, 1]) and the training budget. The first visit to a teacher grid and budget trains a model (a
# second or two per 100 steps; the figure says so); the panel keeps it, so moving the number of steps or coming back
# to a setting redraws at once. It prints the 1-NFE error to the exact map and the SW₂ of its samples. Try a coarse teacher (N = 4: each Heun step is
# large, the targets are biased) against a fine one (N = 64: accurate targets, but more steps to propagate through).

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.few_step_panel()

# %% [markdown]
# ## Warm-up · the progressive-distillation target
# Given $x_t$ and the point $x_s''$ that two teacher steps reach, return the $\tilde x_0$ whose *one* DDIM step
# $t \to s$ lands on $x_s''$. `process.at(t)` returns $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$ as floats
# (t, s are floats here; σ_t > 0).

# %%
from diffedu.course.exercises import check_pd_target


def pd_x0_target(x_t, x_s, t, s, process):
    # BEGIN SOLUTION
    alpha_t, sigma_t = process.at(t)[:2]
    alpha_s, sigma_s = process.at(s)[:2]
    ratio = sigma_s / sigma_t  # one DDIM step: x_s = α_s x̃₀ + ratio·(x_t − α_t x̃₀), linear in x̃₀
    return (x_s - ratio * x_t) / (alpha_s - ratio * alpha_t)
    # END SOLUTION


check_pd_target(pd_x0_target)

# %% [markdown]
# ## Build it · the MeanFlow loss
# Write `meanflow_loss(u_theta, x0, eps, r, t, process)` for *any* path $z_t = \alpha_t x_0 + \sigma_t\varepsilon$:
# data `x0` and noise `eps` of shape (N, D), times `r`, `t` of shape (N,) with $r \le t$, and a network
# `u_theta(z, r, t)` returning (N, D). Return the 0-dimensional tensor
# $$\frac1N\sum_i\big\lVert u_\theta(z_t, r, t) - \mathrm{sg}(u_{tgt})\big\rVert^2,\qquad
#   u_{tgt} = v - (t - r)\big(v\,\partial_z u_\theta + \partial_t u_\theta\big),\quad v = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon,$$
# with the derivative from one `torch.func.jvp(u_theta, primals, tangents)` and sg = stop-gradient (`.detach()`).
# `process.coefficients(t)` returns $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$, each of shape (N,).
# The grader checks: at r = t your loss is flow matching's (2 points); for r < t it equals the package's on rectified
# flow and cosine VP (3 points, to 1e-8); for data on one point the closed-form average velocity gives loss 0
# (2 points); the parameter gradient is the stop-gradient one (3 points). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.few_step import THINK, check_meanflow_loss, hint


def meanflow_loss(u_theta, x0, eps, r, t, process):
    # BEGIN SOLUTION
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))  # (N, 1)
    z_t = alpha_t * x0 + sigma_t * eps  # the conditional path, (N, D)
    v = d_alpha_t * x0 + d_sigma_t * eps  # its velocity, (N, D)
    tangents = (v, torch.zeros_like(r), torch.ones_like(t))  # move along the path, r fixed
    u, du_dt = torch.func.jvp(u_theta, (z_t, r, t), tangents)  # u and its total derivative d/dt
    target = (v - (t - r)[:, None] * du_dt).detach()  # the MeanFlow identity, stop-gradient
    return ((u - target) ** 2).sum(1).mean()
    # END SOLUTION


check_meanflow_loss(meanflow_loss)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - The PF-ODE's flow map $\Phi_{t\to r}$ is what every few-step method imitates; on a mixture it is computable to
#   $10^{-6}$, so each method's error can be measured, not guessed.
# - Consistency models learn $f = \Phi_{t\to0}$ with the boundary $f(x, 0) = x$ built into $c_{skip}, c_{out}$; CD
#   needs a teacher step, CT replaces it by the same noise at a second-order bias.
# - Progressive distillation halves a DDIM sampler's steps per round with the target $\tilde x_0$ that makes one
#   student step equal two teacher steps.
# - MeanFlow learns the average velocity $u(x_t, r, t)$ from the identity $u = v - (t - r)\,du/dt$; at $r = t$ it is
#   flow matching.
# - At one NFE a trained map beats any solver; at four, a solver on an exact denoiser is hard to beat.
#
# ## What next
# Take these losses to images: distil the `mnist-edm` checkpoint of chapter 12 by consistency distillation and judge
# one- and two-step samples with the shipped classifier (a GPU run).
#
# ## References
# - Y. Song, P. Dhariwal, M. Chen, I. Sutskever (2023). *Consistency Models*. ICML (eqs. 5–7, 10; Algorithms 1–3).
# - Y. Song, P. Dhariwal (2024). *Improved Techniques for Training Consistency Models*. ICLR.
# - T. Salimans, J. Ho (2022). *Progressive Distillation for Fast Sampling of Diffusion Models*. ICLR (Algorithm 2).
# - Z. Geng, M. Deng, X. Bai, J. Z. Kolter, K. He (2025). *Mean Flows for One-step Generative Modeling* (eqs. 3, 6,
#   8–10).
# - K. Frans, D. Hafner, S. Levine, P. Abbeel (2025). *One Step Diffusion via Shortcut Models*. ICLR.
# - X. Liu, C. Gong, Q. Liu (2023). *Flow Straight and Fast* (reflow). ICLR.
# - T. Karras, M. Aittala, T. Aila, S. Laine (2022). *Elucidating the Design Space of Diffusion-Based Generative
#   Models*. NeurIPS (Table 1).
# - C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li, J. Zhu (2022). *DPM-Solver++*. arXiv:2211.01095.

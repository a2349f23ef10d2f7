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
# # 08 · Flow matching and rectified flow
#
# **You will** write generation as an ODE $dx/dt = u_t(x)$, build it from conditional paths and conditional velocities,
# see the marginal velocity as a posterior average, prove that the flow-matching loss has the gradient of the
# intractable marginal loss, train a velocity model in 2-D, measure how straight its paths are before and after
# reflow, and read one network as velocity, score or denoiser.
# **You need** chapters 01, 02 and 06 · **Time** about 150 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import CosineVP, RectifiedFlow, gmm_2d
from diffedu.course.exercises import check_rf_conditional_velocity, check_rf_velocity_to_x0
from diffedu.course.flows import (conditional_path, conditional_velocity, course_time,
                                  excess_length, marginal_fm_loss, marginal_velocity_mc,
                                  reflow_pairs, sde_sample, straightness, train_velocity,
                                  train_velocity_on_pairs, velocity_trajectories)
from diffedu.metrics import sliced_wasserstein
from diffedu.nets import MLP
from diffedu.ui.plots import figure, scatter2d, to_numpy
from diffedu.ui.quiz import think

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## The idea in motion
# Rectified flow with its exact marginal velocity carries noise (t = 1) to the mixture (grey, t = 0) along curved
# paths (left). Reflow trains a new flow on the pairs (start, end) that the first one produced; its ideal is the
# straight line between each pair (right), which one Euler step could follow.

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML

from diffedu.course.animation import animation_html
from diffedu.course.flows import reflow_opening

HTML(animation_html(*reflow_opening()))  # press play; the frames are embedded, so it plays offline

# %% [markdown]
# ## Theory
# **New symbols:** τ (the papers' time, noise → data), $u_t(x)$ (the marginal velocity, chapter 02's $\hat v$),
# $u_t(x\mid x_0)$ (the conditional velocity), $u_\theta$ (a velocity network), $\mathcal L_{CFM}, \mathcal L_{FM}$ (the two
# losses), K and $s_k = k/K$ (the grid of the straightness measure).
#
# ### Converting the time, once
# The flow-matching papers (Lipman et al. 2023; Liu et al. 2023) and many lecture notes run a time $\tau$ from noise
# ($\tau = 0$) to data ($\tau = 1$) and write $x_\tau = \tau x_0 + (1-\tau)\varepsilon$ in our letters — they call
# the data $x_1$ and the noise $x_0$; here $x_0$ stays the data. The course runs $t$ from data ($t = 0$) to noise:
# $$t = 1 - \tau, \qquad x_t = (1-t)\,x_0 + t\,\varepsilon, \qquad \frac{dx}{dt} = -\frac{dx}{d\tau}.$$
# From here on every formula is in the course's $t$; `diffedu.course.flows.course_time` does the conversion in code.
#
# ### A flow is an ODE
# A velocity field $u_t(x)$ moves points by $dx/dt = u_t(x)$. (Flow-matching papers write u; it is the velocity
# $\hat v$ of chapter 02 and of chapter 00's notation table, one field under two letters.) Integrating it *backwards* from $t = 1$ (noise,
# $x_1 \sim \mathcal N(0, I)$) to $t = 0$ generates data if the field transports the noise distribution $p_1$ onto the
# data distribution $p_0 = q$ — that is, if the densities $p_t$ of $x_t$ satisfy the continuity equation
# $\partial_t p_t + \nabla\cdot(p_t u_t) = 0$.
#
# ### Conditional paths and conditional velocities
# Pick one data point $x_0$. The path $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ moves the noise $\varepsilon$ along
# $$u_t(x_t\mid x_0) = \frac{d x_t}{dt} = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon
#   = \dot\alpha_t x_0 + \dot\sigma_t\,\frac{x_t - \alpha_t x_0}{\sigma_t}.$$
# For **rectified flow** ($\alpha_t = 1-t$, $\sigma_t = t$) this is $u_t(x_t\mid x_0) = \varepsilon - x_0$: a straight
# line from $x_0$ to $\varepsilon$ travelled at constant speed.
#
# ### The marginal velocity is a posterior average
# The marginal $p_t(x) = \int p_t(x\mid x_0)q(x_0)\,dx_0$ is transported by
# $$u_t(x) = \mathbb E\big[u_t(x_t\mid x_0)\;\big|\;x_t = x\big] = \dot\alpha_t\,\hat x_0(x, t) + \dot\sigma_t\,\hat\varepsilon(x, t).$$
# Proof: $\partial_t p_t(x) = \int \partial_t p_t(x|x_0)q(x_0)dx_0 = -\int\nabla\cdot(p_t(x|x_0)u_t(x|x_0))q(x_0)dx_0
# = -\nabla\cdot(p_t(x)\,u_t(x))$ with $u_t(x) = \int u_t(x|x_0)\,p_t(x|x_0)q(x_0)/p_t(x)\,dx_0$, the posterior average.
# By Monte Carlo with $x_0^{(i)} \sim q$: weights $w_i \propto \mathcal N(x; \alpha_t x_0^{(i)}, \sigma_t^2 I)$.
#
# ### Flow matching: a tractable loss with the right gradient
# We cannot regress on $u_t(x)$ — it needs the whole data set. Regress on the conditional velocity instead:
# $$\mathcal L_{CFM}(\theta) = \mathbb E_{t, x_0, \varepsilon}\lVert u_\theta(x_t, t) - u_t(x_t\mid x_0)\rVert^2,\qquad
#   \mathcal L_{FM}(\theta) = \mathbb E_{t, x_t}\lVert u_\theta(x_t, t) - u_t(x_t)\rVert^2.$$
# Expand both squares. The $\lVert u_\theta\rVert^2$ terms are equal; the cross terms are equal because
# $\mathbb E[u_t(x_t|x_0)\mid x_t] = u_t(x_t)$; only $\mathbb E\lVert u_t(x_t|x_0)\rVert^2 - \mathbb E\lVert u_t(x_t)\rVert^2$
# differs, and it does not depend on $\theta$. So $\mathcal L_{CFM} - \mathcal L_{FM}$ is a constant and the gradients agree
# (Lipman et al. 2023).
#
# ### One network, three readings
# With $\hat x_0, \hat\varepsilon$ tied by $x_t = \alpha_t\hat x_0 + \sigma_t\hat\varepsilon$, the velocity is
# $u = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$; with Tweedie's $\hat\varepsilon = -\sigma_t\nabla\log p_t$ this is
# $$u_t(x) = f_t\,x - \tfrac12 g_t^2\,\nabla\log p_t(x), \qquad f_t = \dot\alpha_t/\alpha_t,\quad
#   g_t^2 = \tfrac{d\sigma_t^2}{dt} - 2f_t\sigma_t^2,$$
# the probability-flow ODE of chapter 03. So a velocity model is also a score model and a denoiser
# (`diffedu.Predictor` converts). For rectified flow, $\hat x_0 = x_t - t\,u$.
#
# ### The SDE variant
# Adding the score once more gives the reverse SDE with the same marginals:
# $dx = [u_t(x) - \tfrac12 g_t^2\nabla\log p_t(x)]\,dt + g_t\,d\bar W$ (backwards in $t$). It is the η = 1 member of
# chapter 03's family $dx = [u_t - \tfrac{\eta^2}{2}g_t^2\nabla\log p_t]\,dt + \eta\,g_t\,d\bar W$, where η = η(t) may
# vary with t; in the noise → data time τ this is the blog note *Diffusion 101*'s $u^{SDE} = u^{ODE} + \tfrac12\sigma_\tau^2 s$
# with a free diffusion coefficient $\sigma_\tau = \eta\,g$ (that note's σ is not our noise scale σ_t).
#
# ### Rectified flow and reflow
# Paths of the marginal ODE curve, because $u_t(x)$ averages many straight conditional lines. Liu et al. (2023) rerun flow
# matching on the *coupling* the ODE itself produces, $(x_0, \varepsilon) = (\mathrm{ODE}(\varepsilon), \varepsilon)$:
# the new flow's paths are straighter, so Euler with few steps gets closer. We measure straightness as the mean
# distance of the path from its chord, $\frac1{K+1}\sum_k\mathbb E\lVert x_{t_k} - ((1-s_k)x_1 + s_k x_0)\rVert$
# ($s_k = k/K$ on an equal grid of K steps; zero exactly for a straight line travelled at constant speed), and by the
# excess length, path length over chord length minus one. The ODE's paths never cross, so the straight lines between its
# coupled endpoints cross far less often than lines between independent pairs $(x_0, \varepsilon)$; averaging them
# bends the new marginal velocity much less.

# %% [markdown]
# ## See it
# Conditional (straight) paths against the marginal flow of the mixture, on rectified flow.

# %%
gmm, rf = gmm_2d(), RectifiedFlow()
print("course time of τ = 0, 0.25, 1:", course_time(torch.tensor([0.0, 0.25, 1.0])).tolist())
x0_demo = gmm.sample(60, generator=g)
eps_demo = torch.randn(60, 2, generator=g, dtype=torch.float64)
s = torch.linspace(0, 1, 21, dtype=torch.float64)[:, None, None]
cond_paths = (1 - s) * x0_demo + s * eps_demo  # (21, 60, 2), t = s
marg_paths = velocity_trajectories(gmm, eps_demo, 100, rf)  # from noise at t=1 to data
fig, axes = figure(2, size=3.8)
for j in range(60):
    axes[0, 0].plot(*to_numpy(cond_paths[:, j]).T, color="C4", lw=0.6, alpha=0.6)
    axes[0, 1].plot(*to_numpy(marg_paths[:, j]).T, color="C2", lw=0.6, alpha=0.6)
scatter2d(axes[0, 0], x0_demo, lim=3.5, color="C0", s=8,
          title=r"conditional paths $x_0 \to \varepsilon$ (straight)")
scatter2d(axes[0, 1], marg_paths[-1], lim=3.5, color="C3", s=8,
          title="marginal ODE paths (exact $u_t$): curved")
for ax in axes[0]:
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# ### The marginal velocity: closed form against the posterior average
# The mixture gives $u_t$ exactly (`GaussianMixture.velocity`); the Monte Carlo average uses 20 000 data samples.
# Tolerance: the mean error must be below 5 % of the mean speed (the self-normalised estimate's noise in 2-D is about
# 1–2 %: 0.006–0.023 over five data seeds).

# %% tags=["nbval-check-output"]
x_check = gmm.sample(300, t=0.6, process=rf, generator=torch.Generator().manual_seed(1))
u_mc = marginal_velocity_mc(x_check, 0.6, rf,
                            gmm.sample(20000, generator=torch.Generator().manual_seed(2)))
u_exact = gmm.velocity(x_check, 0.6, rf)
rel = ((u_mc - u_exact).norm(dim=1).mean() / u_exact.norm(dim=1).mean()).item()
assert rel < 0.05, rel
print(f"relative error of the MC marginal velocity at t = 0.6: {rel:.2f} (< 0.05)")

# %% [markdown]
# ### One network as velocity, score and denoiser
# On the exact mixture: $f_t x - \tfrac12 g_t^2\nabla\log p_t$ equals the velocity (float64, tolerance 1e-8).

# %% tags=["nbval-check-output"]
for proc in (rf, CosineVP()):
    t_c = torch.tensor(0.4, dtype=torch.float64)
    u_from_score = proc.f(t_c) * x_check - 0.5 * proc.g2(t_c) * gmm.score(x_check, t_c, proc)
    err = (u_from_score - gmm.velocity(x_check, t_c, proc)).abs().max().item()
    assert err < 1e-8, err
    print(f"{proc.name}: u = f x − ½g² score holds to < 1e-8")

# %% [markdown]
# ## See it · train a velocity model, sample with Euler, measure straightness, reflow
# A small MLP trained with `losses.flow_matching_loss` on 4000 mixture samples (2000 Adam steps in quick mode). Then one
# round of reflow: 4000 pairs $(\mathrm{ODE}(\varepsilon), \varepsilon)$ from the trained model's 32-step Euler solution,
# and the same training on those pairs. From the same 4000 noise points we sample each model — and the exact marginal
# flow, for comparison — with Euler at 1, 2, 4 and 16 steps and measure two things:
# - the **Euler error**: the mean distance to the *same* model's 128-step solution. This is what straight paths buy,
#   and it has no sampling floor;
# - the **SW** distance to 4000 exact samples. It has a floor: two independent sets of 4000 exact samples are
#   themselves a few hundredths apart (printed as "floor").

# %%
steps = 2000 if diffedu.quick() else 8000
gt = torch.Generator().manual_seed(4)
data = gmm.sample(4000, generator=gt)
net_1 = train_velocity(data, rf, steps, generator=gt)
x0_pairs, eps_pairs = reflow_pairs(net_1, 4000, 32, rf, generator=gt)
net_2 = train_velocity_on_pairs(x0_pairs, eps_pairs, rf, steps, generator=gt)

n_eval = 4000
x_T = torch.randn(n_eval, 2, generator=gt, dtype=torch.float64)
ref, ref_2 = gmm.sample(n_eval, generator=gt), gmm.sample(n_eval, generator=gt)


def sw_to_data(x):
    return sliced_wasserstein(x, ref, generator=torch.Generator().manual_seed(5)).item()


sw_floor = sw_to_data(ref_2)  # exact samples against exact samples
models = {"exact flow": gmm, "1-rectified": net_1, "2-rectified": net_2}
n_grid = (1, 2, 4, 16)
table, fine = {}, {}
for name, model in models.items():
    # (129, N, 2), the model's own reference solution
    fine[name] = velocity_trajectories(model, x_T, 128, rf)
    for n in n_grid:
        x = velocity_trajectories(model, x_T, n, rf)[-1]
        table[name, n] = dict(x=x, euler_error=(x - fine[name][-1]).norm(dim=1).mean().item(),
                              sw=sw_to_data(x))

fig, axes = figure(4, 3, size=2.6)
for r, name in enumerate(models):
    for c, n in enumerate(n_grid):
        row = table[name, n]
        scatter2d(axes[r, c], ref, lim=3.5, color="C0", s=1, alpha=0.15)
        scatter2d(axes[r, c], row["x"], lim=3.5, color="C3", s=1,
                  title=f"{name}, {n} Euler step{'s' if n > 1 else ''}\n"
                        f"Euler error {row['euler_error']:.3f} · SW {row['sw']:.3f}")
plt.show()

# %%
print(f"{'Euler steps':22s}" + "".join(f"{n:>8d}" for n in n_grid))
for key, label in (("euler_error", "Euler error"), ("sw", "SW to data")):
    print(label)
    for name in models:
        print(f"  {name:20s}" + "".join(f"{table[name, n][key]:8.3f}" for n in n_grid))
print(f"SW floor (exact samples vs exact samples, n = {n_eval}): {sw_floor:.3f}")
print(f"SW of the 128-step solutions: "
      + ", ".join(f"{name} {sw_to_data(fine[name][-1]):.3f}" for name in models))
# 32 equal steps of the 128-step paths
chord = {name: straightness(fine[name][::4]).item() for name in models}
length = {name: excess_length(fine[name]).item() for name in models}
print("deviation from the chord: " + ", ".join(f"{name} {chord[name]:.4f}" for name in models))
print("excess length           : " + ", ".join(f"{name} {length[name]:.4f}" for name in models))
# the 1-rectified ODE whose coupling reflow learns
teacher = velocity_trajectories(net_1, x_T, 32, rf)[-1]
print(f"2-rectified at 1 step vs the 32-step 1-rectified sample from the same noise: mean distance "
      f"{(table['2-rectified', 1]['x'] - teacher).norm(dim=1).mean().item():.3f}")

# %% [markdown]
# What the numbers say. The exact marginal flow is curved (deviation from the chord ≈ 0.32, paths about 50 % longer
# than their chords), and the 1-rectified network has learned that same curvature — that is why Euler needs many steps
# for both. After one reflow the paths are nearly straight lines at constant speed: the Euler error at *one* step is
# about what the 1-rectified flow needs 16 steps for. Reflow cannot be better than its teacher, though: the 2-rectified
# model learns the coupling of the 1-rectified ODE, and its SW stays a little above the teacher's fine solution and the
# sampling floor. That gap is its own regression error: its one-step samples lie a small distance from the teacher's
# (printed above), not on them.

# %% [markdown]
# The SDE variant with the same network, from the same noise: `sde_sample` runs 50 steps from t = 1 to 1/51 — the
# first an exact ancestral step (at t = 1 rectified flow has α = 0 and $g^2 = \infty$), then 49 Euler–Maruyama steps —
# and ends with the denoised $\hat x_0$ (51 evaluations; chapter 07's EM instead steps into t = 0 with noise):

# %%
x_sde = sde_sample(net_1, x_T, 50, rf, generator=torch.Generator().manual_seed(6))
print(f"SDE sampler SW to exact samples: {sw_to_data(x_sde):.3f} (floor {sw_floor:.3f}; "
      f"1-rectified ODE at 16 steps {table['1-rectified', 16]['sw']:.3f})")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it · reflow straightens the paths, asserted

# %% tags=["nbval-check-output"]
err = {name: [table[name, n]["euler_error"] for n in n_grid] for name in models}
# learned the curvature
assert abs(chord["1-rectified"] - chord["exact flow"]) < 0.1 * chord["exact flow"], chord
assert chord["2-rectified"] < 0.1 * chord["1-rectified"], chord  # reflow straightens ≥ 10×
# at 1 step: ≥ 10× smaller Euler error
assert err["2-rectified"][0] < 0.1 * err["1-rectified"][0], err
assert err["2-rectified"][0] < err["1-rectified"][2], err  # 1 step after reflow beats 4 before
assert table["2-rectified", 1]["sw"] < table["1-rectified", 4]["sw"]
assert (table["1-rectified", 16]["sw"] < sw_floor + 0.1
        and table["2-rectified", 1]["sw"] < sw_floor + 0.15)
print(f"exact flow: deviation from the chord {chord['exact flow']:.3f},"
      " Euler error at 1/2/4/16 steps "
      + " ".join(f"{e:.3f}" for e in err["exact flow"]))
c1, c2, e1, e2 = chord["1-rectified"], chord["2-rectified"], err["1-rectified"], err["2-rectified"]
sw = {key: row["sw"] for key, row in table.items()}
print(f"deviation from the chord: 1-rectified {c1:.3f} (tolerance: the exact flow's ± 10 %), "
      f"2-rectified {c2:.4f} (tolerance 10 % of the 1-rectified's: {0.1 * c1:.4f})")
print(f"Euler error at 1 step: 2-rectified {e2[0]:.3f} (tolerance: 10 % of the 1-rectified's "
      f"{e1[0]:.3f}, and its error at 4 steps, {e1[2]:.3f})")
print(f"SW: 2-rectified at 1 step {sw['2-rectified', 1]:.3f} (tolerance: the 1-rectified at "
      f"4 steps, {sw['1-rectified', 4]:.3f}, and floor + 0.15 = {sw_floor + 0.15:.3f}); "
      f"1-rectified at 16 steps {sw['1-rectified', 16]:.3f} (floor + 0.1 = {sw_floor + 0.1:.3f})")

# %% [markdown]
# ## Play
# The number of Euler steps and the path — rectified flow or cosine VP — for the *same* mixture and the same noise,
# integrating the exact marginal velocity. For rectified flow one step lands every point on the posterior mean
# $\hat x_0(x_1)$, which at $t = 1$ (pure noise) is the data mean: all samples collapse to one point. For the cosine
# path $\dot\sigma_1 = 0$, so one step only shifts the noise by $-\dot\alpha_1\mathbb E[x_0]$ and the samples stay a
# Gaussian cloud. Watch how many steps each path needs.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.flows_panel()

# %% [markdown]
# ## Warm-up
# ### Exercise 1: the conditional velocity of rectified flow
# Return $dx_t/dt$ for $x_t = (1-t)x_0 + t\varepsilon$, in the course's time (data at $t = 0$).

# %%
def rf_conditional_velocity(x0, eps, t):
    # BEGIN SOLUTION
    return eps - x0
    # END SOLUTION


check_rf_conditional_velocity(rf_conditional_velocity)

# %% [markdown]
# ### Exercise 2: a velocity model is a denoiser
# Given the rectified-flow velocity $v$ at $(x_t, t)$, return $\hat x_0$.

# %%
def rf_velocity_to_x0(v, x_t, t):
    # BEGIN SOLUTION
    return x_t - t * v
    # END SOLUTION


check_rf_velocity_to_x0(rf_velocity_to_x0)

# %% [markdown]
# ## Build it · flow matching from scratch: loss, training, Euler, reflow
# Build the pipeline of "Train a velocity model" yourself, in four short functions (about 20 lines), in the course's
# time (t = 0 is data, t = 1 noise):
# 1. `cfm_loss(u_theta, x0, eps, t, process)`: data `x0` and noise `eps` (N, D), one time per sample `t` (N,), a model
#    `u_theta(x_t, t)` → (N, D). Return the 0-dimensional tensor
#    $$\mathcal L_{CFM} = \frac1N\sum_{i=1}^N\big\lVert u_\theta(x_t^{(i)}, t_i) - u_{t_i}(x_t^{(i)}\mid x_0^{(i)})\big\rVert^2$$
#    with the conditional path and its velocity from the Theory; `process.coefficients(t)` returns
#    $(\alpha_t, \sigma_t, \dot\alpha_t, \dot\sigma_t)$, each (N,).
# 2. `train_flow(u_theta, x0, eps, process, steps, generator)`: `steps` Adam steps (learning rate 3e-3) of your loss on
#    minibatches of 256 **pairs** `(x0[i], eps[i])` with one $t \sim U(0, 1)$ per pair, all draws from `generator`;
#    train `u_theta` in place and return it. The pairs are the coupling: independent for the first model, the ODE's
#    own for reflow.
# 3. `euler_sample(u_theta, x_1, ts)`: from noise `x_1` at `ts[0]` = 1 down the decreasing grid `ts` to `ts[-1]` = 0,
#    one Euler step per interval, $x \leftarrow x + (t_{k+1} - t_k)\,u_\theta(x, t_k)$, with `t` of shape (N,) for the
#    model. Return the last state. The grid's steps need not be equal.
# 4. `reflow_coupling(u_theta, eps, ts)`: reflow's pairs $(x_0, \varepsilon)$ with $x_0 = \mathrm{ODE}_{1\to0}(\varepsilon)$
#    by your sampler — made without a graph, they are data for the next training.
#
# The grader (20 points, about 15 s): your loss against its own on the same draws, rectified flow and cosine VP
# (3 points, 1e-8) and at two values it knows in advance — the constant
# $C = \mathbb E\lVert u_t(x_t\mid x_0) - u_t(x_t)\rVert^2$ at the exact velocity and $\mathbb E\lVert\varepsilon - x_0\rVert^2$
# at zero (2 points, within 4 standard errors); your loop with a model that records what it is asked (2 points: each
# $x_t$ on its pair's segment, t uniform, weights updated); your sampler's calls and result on the exact mixture
# velocity over an uneven grid (2 + 2 points: NFE and times, Euler to 1e-8); then it trains an MLP with your loop on the
# mixture (2000 steps) and compares its velocity with the exact one (2 points: relative error ≤ 0.1), samples it with
# 32 of your Euler steps (2 points: sliced Wasserstein distance to exact samples within 0.25 of the exact velocity's),
# checks your coupling on the exact velocity (2 points) and runs one reflow (3 points: one Euler step after reflow
# within 0.2× the error before, and its SW within 0.3 of the exact velocity's). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.flows import THINK, check_flow_matching, hint


def cfm_loss(u_theta, x0, eps, t, process):
    # BEGIN SOLUTION
    coefficients = (c[:, None] for c in process.coefficients(t))  # each (N, 1)
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = coefficients
    x_t = alpha_t * x0 + sigma_t * eps  # the conditional path, (N, D)
    target = d_alpha_t * x0 + d_sigma_t * eps  # its velocity dx_t/dt, (N, D)
    return ((u_theta(x_t, t) - target) ** 2).sum(1).mean()
    # END SOLUTION


def train_flow(u_theta, x0, eps, process, steps, generator):
    # BEGIN SOLUTION
    opt = torch.optim.Adam(u_theta.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x0), (256,), generator=generator)  # a minibatch of pairs
        t = torch.rand(256, generator=generator, dtype=x0.dtype)  # one time per pair
        loss = cfm_loss(u_theta, x0[idx], eps[idx], t, process)
        opt.zero_grad()
        loss.backward()
        opt.step()  # Adam step
    return u_theta
    # END SOLUTION


def euler_sample(u_theta, x_1, ts):
    # BEGIN SOLUTION
    x = x_1
    for k in range(len(ts) - 1):
        t_k = ts[k].expand(len(x))  # one time per sample, (N,)
        x = x + (ts[k + 1] - ts[k]) * u_theta(x, t_k)  # Euler step, towards data (dt < 0)
    return x
    # END SOLUTION


def reflow_coupling(u_theta, eps, ts):
    # BEGIN SOLUTION
    with torch.no_grad():  # the pairs are data for the next training: no graph
        return euler_sample(u_theta, eps, ts), eps
    # END SOLUTION


check_flow_matching(cfm_loss, train_flow, euler_sample, reflow_coupling)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it with the CFM loss: L_CFM − L_FM is the same for every network

# %% [markdown]
# The loss you have just written, in the package's version (`course.flows.cfm_loss`, which the grader compared
# yours with).
# Five very different vector fields $u_\theta$ — zero, a random MLP, the identity $x$, the exact marginal $u_t$ and its
# negative $-u_t$ — on common samples $(x_0, \varepsilon, t)$, $N = 100\,000$. The exact field has $\mathcal L_{FM} = 0$,
# so its $\mathcal L_{CFM}$ *is* the constant $C = \mathbb E\lVert u_t(x_t\mid x_0) - u_t(x_t)\rVert^2$. For any other
# field the two losses differ from $C$ by the cross term $2\,\mathbb E[(u_\theta - u_t)\cdot(u_t - u_t(x_t\mid x_0))]$,
# which is zero in expectation; its Monte Carlo estimate must lie within 4 standard errors of 0, while
# $\mathcal L_{FM}$ itself ranges over more than 10.

# %% tags=["nbval-check-output"]
from diffedu.course.flows import cfm_loss as package_cfm_loss

gc = torch.Generator().manual_seed(3)
n_fm = 100_000
x0_fm = gmm.sample(n_fm, generator=gc)
eps_fm = torch.randn(n_fm, 2, generator=gc, dtype=torch.float64)
t_fm = torch.rand(n_fm, generator=gc, dtype=torch.float64) * 0.98 + 0.01
torch.manual_seed(100)
fields = {"zero field": lambda x, t: torch.zeros_like(x), "random MLP": MLP(hidden=32).double(),
          "identity x": lambda x, t: x, "exact u_t": lambda x, t: gmm.velocity(x, t, rf),
          "−u_t": lambda x, t: -gmm.velocity(x, t, rf)}
with torch.no_grad():
    x_t_fm = conditional_path(x0_fm, eps_fm, t_fm, rf)  # (N, 2)
    u_cond = conditional_velocity(x0_fm, eps_fm, t_fm, rf)  # (N, 2) the conditional targets
    u_marg = gmm.velocity(x_t_fm, t_fm, rf)  # (N, 2) the exact marginal targets
    const = ((u_cond - u_marg) ** 2).sum(-1).mean().item()  # C = L_CFM − L_FM at the optimum
    print(f"C = E|u(x_t|x0) − u(x_t)|² = {const:.2f}")
    fm_losses = []
    for name, field in fields.items():
        l_cfm = package_cfm_loss(field, x0_fm, eps_fm, t_fm, rf).item()
        l_fm = marginal_fm_loss(field, x0_fm, eps_fm, t_fm, rf, gmm).item()
        # (N,) per-sample gap minus C
        cross = 2 * ((field(x_t_fm, t_fm) - u_marg) * (u_marg - u_cond)).sum(-1)
        se = cross.std().item() / n_fm**0.5
        assert abs(l_cfm - l_fm - const) <= 4 * se + 1e-9, (name, l_cfm - l_fm - const, se)
        fm_losses.append(l_fm)
        print(f"{name:11s}  L_CFM = {l_cfm:6.2f}   L_FM = {l_fm:6.2f}"
              f"   L_CFM − L_FM − C = {round(l_cfm - l_fm - const, 3) + 0.0:+.3f}"
              f"  (4 s.e. = {4 * se:.3f})")
assert max(fm_losses) - min(fm_losses) > 10

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - Flow-matching time $\tau$ runs noise → data; the course uses $t = 1 - \tau$ and the velocity changes sign.
# - The marginal velocity is the posterior average of conditional velocities, $u_t = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$.
# - $\mathcal L_{CFM}$ and $\mathcal L_{FM}$ differ by a constant, so regressing on conditional velocities is enough.
# - $u = f x - \tfrac12 g^2\nabla\log p$: one network is velocity, score and denoiser; adding the score again gives an SDE.
# - Reflow retrains on the ODE's own coupling; the paths straighten and few Euler steps suffice.
#
# ## What next
# Chapter 09 (EDM) takes the same ODE in the noise-level time $\sigma$ and designs the network's scaling and the sampler.
#
# ## References
# - Lipman, Chen, Ben-Hamu, Nickel, Le (2023). *Flow Matching for Generative Modeling*. ICLR.
# - Liu, Gong, Liu (2023). *Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow*. ICLR.
# - Albergo, Vanden-Eijnden (2023). *Building Normalizing Flows with Stochastic Interpolants*. ICLR.
# - Song et al. (2021). *Score-Based Generative Modeling through Stochastic Differential Equations*. ICLR.
# - *Diffusion 101* (a blog note: SDE simulation, flow matching, score matching, guidance; time runs noise → data).

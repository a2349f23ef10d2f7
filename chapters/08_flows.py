# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# **You need** chapters 01, 02 and 06 · **Time** about 30 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.widgets
from diffedu import CosineVP, RectifiedFlow, gmm_2d
from diffedu.exercises import check_rf_conditional_velocity, check_rf_velocity_to_x0
from diffedu.flows import (cfm_loss, conditional_velocity, course_time, excess_length, marginal_fm_loss,
                           marginal_velocity_mc, reflow_pairs, sde_sample, straightness, train_velocity,
                           train_velocity_on_pairs, velocity_trajectories)
from diffedu.metrics import sliced_wasserstein
from diffedu.nets import MLP
from diffedu.plots import figure, scatter2d, to_numpy

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## Theory
# ### Converting the time, once
# The seed notes (*Diffusion 101*) and the flow-matching papers run a time $\tau$ from noise ($\tau = 0$) to data
# ($\tau = 1$) and write $x_\tau = \tau x_0 + (1-\tau)\varepsilon$. The course runs $t$ from data ($t = 0$) to noise:
# $$t = 1 - \tau, \qquad x_t = (1-t)\,x_0 + t\,\varepsilon, \qquad \frac{dx}{dt} = -\frac{dx}{d\tau}.$$
# From here on every formula is in the course's $t$; `diffedu.flows.course_time` does the conversion in code.
#
# ### A flow is an ODE
# A velocity field $u_t(x)$ moves points by $dx/dt = u_t(x)$. Integrating it *backwards* from $t = 1$ (noise,
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
# the probability-flow ODE of chapter 07. So a velocity model is also a score model and a denoiser
# (`diffedu.Predictor` converts). For rectified flow, $\hat x_0 = x_t - t\,u$.
#
# ### The SDE variant
# Adding the score once more gives the reverse SDE with the same marginals:
# $dx = [u_t(x) - \tfrac12 g_t^2\nabla\log p_t(x)]\,dt + g_t\,d\bar W$ (backwards in $t$).
#
# ### Rectified flow and reflow
# Paths of the marginal ODE curve, because $u_t(x)$ averages many straight conditional lines. Liu et al. (2023) rerun flow
# matching on the *coupling* the ODE itself produces, $(x_0, \varepsilon) = (\mathrm{ODE}(\varepsilon), \varepsilon)$:
# the new flow's paths are straighter, so Euler with few steps gets closer. We measure straightness as the mean
# distance of the path from its chord, $\frac1{K+1}\sum_k\mathbb E\lVert x_{t_k} - ((1-s_k)x_1 + s_k x_0)\rVert$.

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
scatter2d(axes[0, 0], x0_demo, lim=3.5, color="C0", s=8, title=r"conditional paths $x_0 \to \varepsilon$ (straight)")
scatter2d(axes[0, 1], marg_paths[-1], lim=3.5, color="C3", s=8, title="marginal ODE paths (exact $u_t$): curved")
for ax in axes[0]:
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown]
# ## Check it
# ### The marginal velocity: closed form against the posterior average
# The mixture gives $u_t$ exactly (`GaussianMixture.velocity`); the Monte Carlo average uses 20 000 data samples.
# Tolerance: the mean error must be below 5 % of the mean speed (the self-normalised estimate's noise in 2-D is ~1 %).

# %%
# NBVAL_CHECK_OUTPUT
x_check = gmm.sample(300, t=0.6, process=rf, generator=torch.Generator().manual_seed(1))
u_mc = marginal_velocity_mc(x_check, 0.6, rf, gmm.sample(20000, generator=torch.Generator().manual_seed(2)))
u_exact = gmm.velocity(x_check, 0.6, rf)
rel = ((u_mc - u_exact).norm(dim=1).mean() / u_exact.norm(dim=1).mean()).item()
assert rel < 0.05, rel
print(f"relative error of the MC marginal velocity at t = 0.6: {rel:.2f} (< 0.05)")

# %% [markdown]
# ### L_CFM − L_FM is the same for every network
# Three random networks, common samples $(x_0, \varepsilon, t)$, $N = 20\,000$. Tolerance: the differences agree
# within 0.05 (the cross term's Monte Carlo noise), while the losses themselves differ much more.

# %%
# NBVAL_CHECK_OUTPUT
gc = torch.Generator().manual_seed(3)
n_fm = 20000
x0_fm = gmm.sample(n_fm, generator=gc)
eps_fm = torch.randn(n_fm, 2, generator=gc, dtype=torch.float64)
t_fm = torch.rand(n_fm, generator=gc, dtype=torch.float64) * 0.98 + 0.01
rows = []
for k in range(3):
    torch.manual_seed(100 + k)
    net_k = MLP(hidden=32).double()
    with torch.no_grad():
        rows.append((cfm_loss(net_k, x0_fm, eps_fm, t_fm, rf).item(), marginal_fm_loss(net_k, x0_fm, eps_fm, t_fm, rf, gmm).item()))
diffs = [c - m for c, m in rows]
assert max(diffs) - min(diffs) < 0.05 and max(c for c, _ in rows) - min(c for c, _ in rows) > 0.1
for k, (c, m) in enumerate(rows):
    print(f"net {k}: L_CFM = {c:.1f}  L_FM = {m:.1f}  difference = {c - m:.1f}")

# %% [markdown]
# ### One network as velocity, score and denoiser
# On the exact mixture: $f_t x - \tfrac12 g_t^2\nabla\log p_t$ equals the velocity (float64, tolerance 1e-8).

# %%
# NBVAL_CHECK_OUTPUT
for proc in (rf, CosineVP()):
    t_c = torch.tensor(0.4, dtype=torch.float64)
    u_from_score = proc.f(t_c) * x_check - 0.5 * proc.g2(t_c) * gmm.score(x_check, t_c, proc)
    err = (u_from_score - gmm.velocity(x_check, t_c, proc)).abs().max().item()
    assert err < 1e-8, err
    print(f"{proc.name}: u = f x − ½g² score holds to < 1e-8")

# %% [markdown]
# ### Train a velocity model, sample with Euler, measure straightness, reflow
# A small MLP trained with `losses.flow_matching_loss` on 4000 mixture samples. We sample it with Euler at 1, 2, 4 and 16
# steps from the same noise and compare with exact samples (sliced Wasserstein, SW). Then one round of reflow: 4000
# pairs $(\mathrm{ODE}(\varepsilon), \varepsilon)$ and the same training on those pairs.

# %%
steps = 600 if diffedu.quick() else 4000
gt = torch.Generator().manual_seed(4)
data = gmm.sample(4000, generator=gt)
net_1 = train_velocity(data, rf, steps, generator=gt)
x0_pairs, eps_pairs = reflow_pairs(net_1, 4000, 32, rf, generator=gt)
net_2 = train_velocity_on_pairs(x0_pairs, eps_pairs, rf, steps, generator=gt)

x_T = torch.randn(1000, 2, generator=gt, dtype=torch.float64)
ref = gmm.sample(1000, generator=gt)
table = {}
for name, model in (("1-rectified", net_1), ("2-rectified (reflow)", net_2)):
    for n in (1, 2, 4, 16):
        traj = velocity_trajectories(model, x_T, n, rf)
        sw = sliced_wasserstein(traj[-1], ref, generator=torch.Generator().manual_seed(5)).item()
        table[name, n] = (sw, traj)

fig, axes = figure(4, 2, size=2.8)
for r, name in enumerate(("1-rectified", "2-rectified (reflow)")):
    for c, n in enumerate((1, 2, 4, 16)):
        sw, traj = table[name, n]
        scatter2d(axes[r, c], ref, lim=3.5, color="C0", s=2, alpha=0.2)
        scatter2d(axes[r, c], traj[-1], lim=3.5, color="C3", s=2, title=f"{name}\n{n} Euler steps · SW {sw:.2f}")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
s_1 = straightness(velocity_trajectories(net_1, x_T, 32, rf)).item()
s_2 = straightness(velocity_trajectories(net_2, x_T, 32, rf)).item()
s_exact = straightness(velocity_trajectories(gmm, x_T, 32, rf)).item()
assert s_2 < 0.7 * s_1, (s_1, s_2)
assert table["1-rectified", 16][0] < 0.35
print(f"deviation from the chord (32 steps): exact flow {s_exact:.2f}, 1-rectified {s_1:.1f}, after reflow {s_2:.1f}")
print("reflow straightens the paths by at least 30 %: True")

# %%
for name in ("1-rectified", "2-rectified (reflow)"):
    print(name, "  SW at 1/2/4/16 Euler steps:", "  ".join(f"{table[name, n][0]:.3f}" for n in (1, 2, 4, 16)))

# %% [markdown]
# The SDE variant with the same network (50 Euler–Maruyama steps):

# %%
x_sde = sde_sample(net_1, x_T, 50, rf, generator=torch.Generator().manual_seed(6))
print(f"SDE sampler SW to exact samples: {sliced_wasserstein(x_sde, ref, generator=torch.Generator().manual_seed(5)).item():.3f}")

# %% [markdown]
# ## Play
# The number of Euler steps and the path — rectified flow or cosine VP — for the *same* mixture and the same noise,
# integrating the exact marginal velocity. One step lands every point on the posterior mean $\hat x_0(x_1)$; watch how
# many steps each path needs.

# %%
# NBVAL_IGNORE_OUTPUT
diffedu.widgets.flows_panel()

# %% [markdown]
# ## Exercise
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

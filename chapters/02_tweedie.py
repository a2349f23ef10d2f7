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
# # 02 · Tweedie's formula: denoiser, score, ε and velocity are one object
#
# **You will** derive Tweedie's formula, see why predicting the clean image, the noise, the score or the velocity are
# four views of one function, read the conversion table as two linear equations, and check it all on a Gaussian
# mixture whose posterior we know exactly.
# **You need** chapters 00–01 (notation, forward process) · **Time** about 90 minutes

# %%
import itertools
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import (KINDS, VP, EDM, CosineVP, VE, DiscreteDDPM, RectifiedFlow, coefficients,
                     convert, gmm_2d)
from diffedu.course.exercises import check_tweedie, check_velocity
from diffedu.ui.plots import figure
from diffedu.ui.quiz import think
from diffedu.course.tweedie import play_tweedie, posterior_mean_mc, roundtrip_errors, tweedie_gap

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# **The picture first.** Noisy points $x_t$ (blue) of the six-component mixture `gmm_2d()` under the VP process, and
# for each one an arrow to its best guess of the clean point, $\hat x_0(x_t) = E[x_0\mid x_t]$ (red dots). By Tweedie's
# formula below, each arrow is a step up the score field, $\hat x_0 = (x_t + \sigma_t^2\nabla\log p_t(x_t))/\alpha_t$: it
# pulls every noisy point back towards the data (grey). At larger noise (right) it pulls towards fewer, broader targets. This chapter shows why that pull, the score, the noise and the
# velocity are one object.

# %%
gmm, process = gmm_2d(), VP()
fig, axes = figure(2, size=4.2)
g_demo = torch.Generator().manual_seed(1)  # its own stream: the checks below draw from g as before
data = gmm.sample(400, generator=g_demo)  # (400, 2) clean points
for ax, t in zip(axes[0], (0.1, 0.3)):
    t_ = torch.tensor(t, dtype=torch.float64)
    x_t = gmm.sample(60, t_, process, generator=g_demo)  # (60, 2) noisy points
    x0_hat = gmm.denoiser(x_t, t_, process)  # E[x0 | x_t]
    ax.scatter(data[:, 0], data[:, 1], s=4, color="0.75", label="data $x_0$")
    ax.quiver(x_t[:, 0], x_t[:, 1], *(x0_hat - x_t).T, angles="xy", scale_units="xy", scale=1,
              width=0.004, color="0.3")
    ax.scatter(x_t[:, 0], x_t[:, 1], s=12, color="C0", label="noisy $x_t$")
    ax.scatter(x0_hat[:, 0], x0_hat[:, 1], s=12, color="C3", label=r"$\hat x_0(x_t)$")
    ax.set(aspect="equal", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5),
           title=f"VP, t = {t}: σ = {process.sigma(t_):.2f}")
# one legend below both panels: inside, it hid the lower-left cluster
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=10)
plt.show()

# %% [markdown]
# ## Theory
#
# **New symbols:** $\hat x_0, \hat\varepsilon, \hat v$ (predictions), $p_t$ (density of $x_t$), the coefficients
# $(a, b)$ of a kind, $D(x) = \hat x_0$ (the denoiser, EDM's name; Iollo's *Diffusion Crash Course* uses $D_\theta$ for
# its ε-predictor instead — in this course D is always the $x_0$-denoiser).
#
# ### Four things a network could predict
# Given a noisy $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, a network can be trained to predict
#
# - the **clean data** (the *denoiser*): $\hat x_0(x_t) = E[x_0\mid x_t]$,
# - the **noise**: $\hat\varepsilon(x_t) = E[\varepsilon\mid x_t]$,
# - the **score**: $\nabla_x\log p_t(x_t)$, where $p_t$ is the density of $x_t$,
# - the **velocity**: $\hat v(x_t) = E[\dot\alpha_t x_0 + \dot\sigma_t\varepsilon\mid x_t]$, the average of $dx_t/dt$.
#
# (A network trained with squared error on a target learns that target's conditional mean: the minimiser of
# $E\lVert Y - h(X)\rVert^2$ is $h(x) = E[Y\mid X = x]$.)
#
# ### Tweedie's formula
# Write $p_t(x) = \int q(x_0)\,\mathcal N(x; \alpha_t x_0, \sigma_t^2 I)\,dx_0$. The Gaussian's gradient in $x$ is
# $\nabla_x\mathcal N(x; \alpha_t x_0, \sigma_t^2 I) = \mathcal N(x; \alpha_t x_0, \sigma_t^2 I)\,(\alpha_t x_0 - x)/\sigma_t^2$.
# Differentiate under the integral and divide by $p_t(x)$:
# $$\nabla\log p_t(x) = \frac{\int q(x_0)\,\mathcal N(x;\alpha_t x_0,\sigma_t^2 I)\,(\alpha_t x_0 - x)\,dx_0}{\sigma_t^2\,p_t(x)}
#   = \frac{\alpha_t\,E[x_0\mid x_t = x] - x}{\sigma_t^2},$$
# because $q(x_0)\mathcal N(x;\alpha_t x_0,\sigma_t^2 I)/p_t(x) = q(x_0\mid x_t = x)$ is the posterior (Bayes). Solved for
# the posterior mean, this is **Tweedie's formula** (Robbins 1956; Efron 2011):
# $$\boxed{\;E[x_0\mid x_t] = \frac{x_t + \sigma_t^2\,\nabla\log p_t(x_t)}{\alpha_t}\;}$$
# The best denoiser is one gradient step of size $\sigma_t^2$ up the log-density, rescaled by $1/\alpha_t$.
# At very large noise ($\sigma_t/\alpha_t \to \infty$) the likelihood $\mathcal N(x_t;\alpha_t x_0,\sigma_t^2 I)$ is flat
# over the data, the posterior becomes the prior and $\hat x_0 \to E[x_0]$, the data mean, whatever $x_t$ is (Karras et
# al. 2022, App. B.6; the arrows in "See it" below all point to one place at large t).
#
# ### Noise and score
# Take conditional expectations of $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ given $x_t$: $x_t = \alpha_t\hat x_0 + \sigma_t\hat\varepsilon$.
# With Tweedie, $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t = -\sigma_t\nabla\log p_t(x_t)$: **the noise prediction is
# the score scaled by −σ_t.** The velocity is $\hat v = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$.
#
# ### The two-equations view — the conversion table
# Every target is a linear combination $a\,x_0 + b\,\varepsilon$ with coefficients known at time t
# (`diffedu.coefficients(kind, t, process)`):
#
# | kind | code | $a$ | $b$ |
# |---|---|---|---|
# | denoiser $\hat x_0$ | `"x0"` | 1 | 0 |
# | noise $\hat\varepsilon$ | `"eps"` | 0 | 1 |
# | score $\nabla\log p_t$ | `"score"` | 0 | $-1/\sigma_t$ |
# | velocity $\hat v$ | `"velocity"` | $\dot\alpha_t$ | $\dot\sigma_t$ |
#
# Conditional expectations are linear, so a prediction of any kind gives **two linear equations** in the two unknowns
# $(\hat x_0, \hat\varepsilon)$:
# $$x_t = \alpha_t\hat x_0 + \sigma_t\hat\varepsilon, \qquad \text{pred} = a\,\hat x_0 + b\,\hat\varepsilon
#  \quad\Longrightarrow\quad \hat x_0 = \frac{\sigma_t\,\text{pred} - b\,x_t}{a\sigma_t - b\alpha_t},\;\;
#  \hat\varepsilon = \frac{a\,x_t - \alpha_t\,\text{pred}}{a\sigma_t - b\alpha_t}.$$
# Any other kind is then $c\,\hat x_0 + d\,\hat\varepsilon$ with its own $(c, d)$. The system is solvable when its
# determinant $a\sigma_t - b\alpha_t$ is finite and non-zero. It is $\sigma_t$ for $\hat x_0$, $-\alpha_t$ for $\hat\varepsilon$,
# $\alpha_t/\sigma_t$ for the score, and for the velocity
# $\dot\alpha_t\sigma_t - \dot\sigma_t\alpha_t = \tfrac12\alpha_t\sigma_t\,\dot\lambda_t$ (differentiate
# $\lambda_t = 2\log\alpha_t - 2\log\sigma_t$) — non-zero wherever $\alpha_t, \sigma_t > 0$ and $\dot\lambda_t < 0$, i.e.
# inside $(t_{min}, t_{max})$ for every process here. At the ends it depends on the pair:
#
# | end | what $x_t$ says | conversions that fail | conversions that still work |
# |---|---|---|---|
# | $\sigma_t = 0$ (data) | $x_t = \alpha_t x_0$: nothing about ε; the score's $b = -1/\sigma_t$ is infinite | every pair with the score; $\hat x_0 \to \hat\varepsilon$, $\hat x_0 \to \hat v$ | $\hat\varepsilon \to \hat x_0$ (determinant $-\alpha_t$); $\hat\varepsilon \leftrightarrow \hat v$, $\hat v \to \hat x_0$ where $\dot\sigma_t$ is finite (sub-VP, flow, EDM; not VP, cosine, DDPM, where $\sigma_t \propto \sqrt t$) |
# | $\alpha_t = 0$ (noise; cosine and flow at t = 1) | $x_t = \sigma_t\varepsilon$: nothing about $x_0$ | $\hat\varepsilon$ or score $\to \hat x_0$ or $\hat v$ | everything from $\hat x_0$ (determinant $\sigma_t$) and from $\hat v$ (determinant $\dot\alpha_t\sigma_t \ne 0$); $\hat\varepsilon \leftrightarrow$ score |
#
# So the velocity is *not* singular at the pure-noise end: for rectified flow its determinant is
# $\dot\alpha_t\sigma_t - \dot\sigma_t\alpha_t = -t - (1-t) = -1$ at every t, both ends included — one reason flow and
# velocity parametrisations are used near pure noise. `diffedu.convert(pred, src, dst, x_t, t, process)` solves the
# system and raises a `ValueError` exactly where the table says a conversion fails. So the four kinds
# carry the same information; they differ in *scale* — which matters for training (chapters 04, 08, 09) but not for
# what the optimum is.

# %% [markdown]
# ## See it
# The 2-D mixture `gmm_2d()` (six components, three classes) under the VP process. Contours show $\log p_t$; each arrow
# starts at a grid point $x_t$ and is $\sigma_t^2\nabla\log p_t(x_t)$ — by Tweedie it ends at $\alpha_t\hat x_0(x_t)$.
# At small t the arrows are short and point to the nearest component; as t grows they lengthen and point to ever
# fewer, broader targets — the posterior no longer knows which component $x_t$ came from.

# %%
gmm, process = gmm_2d(), VP()
xs = torch.linspace(-3.5, 3.5, 120, dtype=torch.float64)
xx, yy = torch.meshgrid(xs, xs, indexing="xy")
grid = torch.stack([xx.flatten(), yy.flatten()], 1)  # (120², 2)
coarse = torch.linspace(-3.0, 3.0, 9, dtype=torch.float64)
cx, cy = torch.meshgrid(coarse, coarse, indexing="xy")
points = torch.stack([cx.flatten(), cy.flatten()], 1)  # (81, 2)
fig, axes = figure(4, size=3.1)
for ax, t in zip(axes[0], (0.02, 0.06, 0.12, 0.25)):
    t_ = torch.tensor(t, dtype=torch.float64)
    alpha_t, sigma_t = process.alpha(t_).item(), process.sigma(t_).item()
    ax.contourf(xs, xs, gmm.log_prob(grid, t_, process).reshape(120, 120).clamp(min=-10), levels=20,
                cmap="Blues")
    arrow = sigma_t**2 * gmm.score(points, t_, process)  # σ² ∇log p_t = α x̂₀ − x_t (Tweedie)
    ax.quiver(points[:, 0], points[:, 1], arrow[:, 0], arrow[:, 1], angles="xy", scale_units="xy",
              scale=1, color="C3", width=0.006, alpha=0.8)
    ax.set(aspect="equal", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), xlabel="$x_1$", ylabel="$x_2$",
           title=f"t = {t}: α = {alpha_t:.2f}, σ = {sigma_t:.2f}")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. Tweedie against Monte Carlo.** Tweedie turns the mixture's exact score (`gmm.score`, the gradient of the
# closed-form $\log p_t$) into $E[x_0\mid x_t] = (x_t + \sigma_t^2\nabla\log p_t)/\alpha_t$. An independent estimate uses nothing but samples
# of the data and the Gaussian likelihood: draw $x_0^{(i)} \sim q$, weight by $w_i \propto \mathcal N(x_t;\alpha_t x_0^{(i)},\sigma_t^2 I)$,
# average (self-normalised importance sampling). Its standard error comes from the weights; we require every
# coordinate within 4.5 standard errors (over the 36 coordinates tested a correct formula fails this with
# probability about 2.5e-4),
# at several times and points drawn from $p_t$.

# %% tags=["nbval-check-output"]
n_mc = 20_000 if diffedu.quick() else 400_000
for t in (0.2, 0.4, 0.7):
    t_ = torch.tensor(t, dtype=torch.float64)
    x_t = gmm.sample(6, t_, process, generator=g)  # (6, 2)
    alpha_t, sigma_t = process.alpha(t_).item(), process.sigma(t_).item()
    exact = (x_t + sigma_t**2 * gmm.score(x_t, t_, process)) / alpha_t  # Tweedie
    mc, se = posterior_mean_mc(gmm, x_t, t_, process, n_mc, generator=g)
    z = ((mc - exact) / se).abs().max().item()
    assert z < 4.5, (t, z)
    print(f"t = {t}: max |MC − exact| = {(mc - exact).abs().max().item():.3f}, "
          f"largest standard error {se.max().item():.3f}; within 4.5 SE: {z < 4.5}")

# %% [markdown]
# **2. Tweedie on the mixture.** The score is the gradient of $\log p_t$ taken by autograd from the noised mixture's
# log-density; the package's posterior mean (which you will write yourself in the lab below) is computed from each
# component's Gaussian posterior. The two share no
# formula. Tweedie says $\nabla\log p_t = (\alpha_t\hat x_0 - x_t)/\sigma_t^2$: they must agree to float64 round-off
# (tolerance 1e-9), for every process.
#
# **3. Every conversion round-trips.** For every process and every ordered pair of kinds (12 pairs), converting a
# prediction (the exact ε̂) there and back must return it to 1e-12 (relative, float64).

# %% tags=["nbval-check-output"]
all_processes = {"vp": (VP(), 0.3), "cosine": (CosineVP(), 0.5), "ve": (VE(), 0.4),
                 "edm": (EDM(), 1.5), "flow": (RectifiedFlow(), 0.5),
                 "ddpm": (DiscreteDDPM(1000), 250.5)}
for name, (p, t) in all_processes.items():
    t_ = torch.tensor(t, dtype=torch.float64)
    x_t = gmm.sample(64, t_, p, generator=g)
    gap = tweedie_gap(gmm, x_t, t_, p)
    worst = max(roundtrip_errors(x_t, t_, p, gmm.eps(x_t, t_, p)).values())
    assert gap < 1e-9 and worst < 1e-12, (name, gap, worst)
    print(f"{name:7s} score = Tweedie(posterior mean): {gap < 1e-9};  12 round trips within 1e-12: "
          f"{worst < 1e-12}")

# %% [markdown]
# The conversion table itself: the coefficients (a, b) of each kind at t = 0.5 under VP, and the determinant
# $a\sigma_t - b\alpha_t$ that must not vanish.

# %% tags=["nbval-check-output"]
t_ = torch.tensor(0.5, dtype=torch.float64)
alpha_t, sigma_t = process.alpha(t_).item(), process.sigma(t_).item()
for kind in KINDS:
    a, b = (c.item() for c in coefficients(kind, t_, process))
    print(f"{kind:9s} a = {a:+.4f}  b = {b:+.4f}  aσ − bα = {a * sigma_t - b * alpha_t:+.4f}")

# %% [markdown]
# **4. The ends.** At each end of three processes, try all 12 conversions and list those that succeed; the table in
# the Theory says which must (`tests/test_parametrization.py` checks every process against that table and the values
# against the exact targets). The velocity's determinant at α = 0 is $\dot\alpha_t\sigma_t$.

# %% tags=["nbval-check-output"]
ends = ((VP(), "t_min"), (RectifiedFlow(), "t_min"), (RectifiedFlow(), "t_max"),
        (CosineVP(), "t_max"))
for p, t_end in ends:
    t_ = torch.tensor(getattr(p, t_end), dtype=torch.float64)
    x_t = gmm.sample(4, t_, p, generator=torch.Generator().manual_seed(4))
    works = []
    for src, dst in itertools.permutations(KINDS, 2):
        try:
            convert(x_t, src, dst, x_t, t_, p)
            works.append(f"{src}→{dst}")
        except ValueError:
            pass
    det_v = diffedu.parametrization.determinant("velocity", t_, p).item()
    alpha_t, sigma_t = p.alpha(t_).item(), p.sigma(t_).item()
    print(f"{p.name} at t = {t_.item():g} (α = {alpha_t:.0f}, σ = {sigma_t:.0f}), "
          f"velocity determinant {det_v:+.3f}, converts:\n    {', '.join(works)}")

# %% [markdown]
# ## Play
# Move the point $x_t$ (x, y) and the noise level σ (EDM's process: α = 1, t = σ). Left: $\log p_t$, your point, the
# denoiser's answer $\hat x_0$ (star) and the arrow $\sigma^2\nabla\log p_t$, which by Tweedie ends exactly at $\hat x_0$.
# Right: the posterior over the six components. Try: put the point between two components and raise σ — the posterior
# spreads over more components and $\hat x_0$ slides towards the middle; lower σ — it snaps to one component.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.tweedie_panel()

# %% [markdown]
# ## Warm-up
# ### Warm-up 1 · Tweedie from the score
# Tweedie's formula: from the score, return the denoiser $\hat x_0 = (x_t + \sigma_t^2\,\text{score})/\alpha_t$.

# %%
def x0_from_score(score, x_t, alpha_t, sigma_t):
    # BEGIN SOLUTION
    return (x_t + sigma_t**2 * score) / alpha_t
    # END SOLUTION


check_tweedie(x0_from_score)

# %% [markdown]
# ### Warm-up 2 · the velocity from the denoiser
# Return $\hat v = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$, with $\hat\varepsilon$ recovered from $x_t$ and $\hat x_0$.

# %%
def velocity_from_x0(x0_hat, x_t, alpha_t, sigma_t, d_alpha_t, d_sigma_t):
    # BEGIN SOLUTION
    eps_hat = (x_t - alpha_t * x0_hat) / sigma_t
    return d_alpha_t * x0_hat + d_sigma_t * eps_hat
    # END SOLUTION


check_velocity(velocity_from_x0)

# %% [markdown]
# ## Build it · the exact denoiser of a Gaussian mixture
# Every "exact" answer in this course — the arrows above, the perfect network of chapters 04–11 — is the posterior
# mean of a Gaussian mixture. Write it. The data are $q(x_0) = \sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$ and
# $x_t = \alpha_t x_0 + \sigma_t\varepsilon$. Condition on the component k first: then $x_0$ and $x_t$ are jointly Gaussian,
# $$x_t\mid k \sim \mathcal N(\alpha_t\mu_k,\; C_k), \quad C_k = \alpha_t^2\Sigma_k + \sigma_t^2 I, \qquad
#   E[x_0\mid x_t, k] = \mu_k + \alpha_t\Sigma_k C_k^{-1}(x_t - \alpha_t\mu_k),$$
# and average over k with the **responsibilities** $r_k(x_t) = \pi_k\mathcal N(x_t;\alpha_t\mu_k, C_k)\,/\,\sum_j \pi_j\mathcal N(x_t;\alpha_t\mu_j, C_j)$:
# $$E[x_0\mid x_t] = \sum_k r_k(x_t)\,E[x_0\mid x_t, k].$$
# Signature: `posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs)` with `x_t` (N, D), `alpha_t` and `sigma_t`
# numbers, `weights` (K,), `means` (K, D), `covs` (K, D, D); return (N, D). Far from the data every
# $\pi_k\mathcal N_k$ underflows to 0 — work with logarithms. The grader checks one elongated Gaussian (2 points), the
# six-component mixture at times of VP, VE, EDM and rectified flow against the package's closed form to 1e-8
# (4 points), points far from the data at small σ (2 points), and a Monte Carlo posterior mean (2 points).
# Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.tweedie import THINK, check_posterior_mean, hint


def posterior_mean(x_t, alpha_t, sigma_t, weights, means, covs):
    # BEGIN SOLUTION
    D = x_t.shape[1]
    C = alpha_t**2 * covs + sigma_t**2 * torch.eye(D, dtype=covs.dtype)  # (K, D, D)
    diff = x_t[:, None, :] - alpha_t * means  # (N, K, D)
    sol = torch.linalg.solve(C, diff[..., None])[..., 0]  # (N, K, D) = C_k⁻¹(x_t − α μ_k)
    # log joint, (N, K), up to a constant
    log_joint = torch.log(weights) - 0.5 * ((diff * sol).sum(-1) + torch.logdet(C))
    r = torch.softmax(log_joint, dim=-1)  # responsibilities
    # per-component posterior means, (N, K, D)
    m_k = means + alpha_t * (covs @ sol[..., None])[..., 0]
    return (r[..., None] * m_k).sum(1)
    # END SOLUTION


check_posterior_mean(posterior_mean)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - Tweedie: $E[x_0\mid x_t] = (x_t + \sigma_t^2\nabla\log p_t)/\alpha_t$ — the denoiser and the score are one function.
# - $\hat\varepsilon = -\sigma_t\nabla\log p_t$ and $\hat v = \dot\alpha_t\hat x_0 + \dot\sigma_t\hat\varepsilon$: ε-, score-, x₀- and
#   velocity-prediction carry the same information; two linear equations convert between them.
# - On a Gaussian mixture everything is exact, and a Monte Carlo posterior mean agrees with it.
#
# ## What next
# Chapter 03 lets $p_t$ evolve in time: the Fokker–Planck equation, the probability-flow ODE (whose velocity is the
# $\hat v$ above) and the reverse SDE, which needs exactly the score we can now compute from a denoiser.
#
# ## References
# - H. Robbins. *An Empirical Bayes Approach to Statistics.* Berkeley Symposium 1956.
# - B. Efron. *Tweedie's Formula and Selection Bias.* JASA 2011.
# - P. Vincent. *A Connection Between Score Matching and Denoising Autoencoders.* Neural Computation 2011.
# - T. Salimans, J. Ho. *Progressive Distillation for Fast Sampling of Diffusion Models.* ICLR 2022 (v-prediction:
#   their $v = \alpha_t\varepsilon - \sigma_t x_0$ is $dx_t/d\phi$ with $\phi = \arctan(\sigma_t/\alpha_t)$ on a VP process;
#   the course's velocity is $dx_t/dt = \dot\phi_t\,v$, so a v-prediction network is not our kind "velocity").
# - T. Karras, M. Aittala, T. Aila, S. Laine. *Elucidating the Design Space of Diffusion-Based Generative Models.* NeurIPS 2022.

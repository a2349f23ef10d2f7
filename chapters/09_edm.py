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
# # 09 · EDM: the design space of diffusion models
#
# **You will** write every diffusion model as a choice of noise level $\sigma(t)$ and scale $s(t)$, derive EDM's
# preconditioning $c_{skip}, c_{out}, c_{in}, c_{noise}$ from unit-variance requirements and verify them numerically,
# see the log-normal training distribution of σ and the loss weight, and measure what each sampler choice (Euler vs
# Heun, uniform vs ρ grid, churn) buys at a fixed number of network evaluations.
# **You need** chapters 02, 07 and 08 · **Time** about 120 minutes

# %%
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import EDM, gmm_2d
from diffedu.course.edm_design import (ablation, lognormal_sigma_density, loss_weight,
                                       loss_weight_gap, precond_variances)
from diffedu.course.exercises import check_edm_precond, check_karras_sigmas
from diffedu.losses import sample_sigma_lognormal
from diffedu.ui.plots import figure, precond_curves, to_numpy
from diffedu.ui.quiz import think
from diffedu.timers import karras, uniform

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## The idea in motion
# Twelve paths of a 1-D two-component mixture under EDM, from σ = 80 to σ = 0.002 on a log axis. Heun's method on
# the ρ = 7 grid (dotted) takes an Euler trial step (red, dashed), evaluates the slope there and averages the two
# slopes. With ten steps its points stay close to the exact ODE paths (grey); the largest misses come where the
# paths bend, between σ ≈ 5 and 0.5, where the grid's steps are still large — chapter 10 measures this.

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML

from diffedu.course.animation import animation_html
from diffedu.course.edm_design import heun_opening

HTML(animation_html(*heun_opening()))  # press play; the frames are embedded, so it plays offline

# %% [markdown]
# ## Theory
# **New symbols:** σ(t) = σ_t/α_t and s(t) = α_t (Karras' noise level and scale), n (their ε), $D(x;\sigma)$ and
# $F_\theta$, $c_{skip}, c_{out}, c_{in}, c_{noise}$, $\sigma_{data}$, λ(σ) (EDM's loss weight), $P_{mean}, P_{std}$, ρ (the
# grid's exponent), $S_{churn}, S_{tmin}, S_{tmax}, S_{noise}$, γ (churn), $\hat\sigma, \hat x$, $d_{cur}, d_{prime}$.
#
# ### σ(t) and s(t)
# Karras et al. (2022) write any diffusion as $x = s(t)\,(x_0 + \sigma(t)\,n)$, $n \sim \mathcal N(0, I)$ (their n is
# our ε; this chapter keeps their letters). In the course's notation $s(t) = \alpha_t$ and $\sigma(t) = \sigma_t/\alpha_t$,
# the noise level. **Notation flag:** this σ(t) is *not* chapter 01's $\sigma_t$ but $\sigma_t/\alpha_t$, the quantity
# chapter 05 called $\rho_t$ (and $\lambda_t = -2\ln\sigma(t)$); for EDM itself $\alpha_t = 1$, so the two agree. In this
# chapter a bare σ is Karras' σ(t). The probability-flow ODE becomes
# $$dx = \Big[\frac{\dot s}{s}x - s^2\dot\sigma\sigma\,\nabla\log p\big(\tfrac{x}{s}; \sigma\big)\Big]dt.$$
# EDM picks $s = 1$ and $\sigma(t) = t$ (`diffedu.EDM`): then $dx/d\sigma = (x - D(x;\sigma))/\sigma$, with the denoiser
# $D(x;\sigma) = \mathbb E[x_0\mid x]$ (Tweedie: $\nabla\log p = (D - x)/\sigma^2$). The tangent points straight at the
# denoiser's output, which changes slowly at large σ (it is close to the data mean) and at small σ (it is close to $x$),
# so the trajectories are nearly straight there and few, well-placed steps suffice (Karras et al. 2022, §3).
#
# **The large-σ limit.** $D(x;\sigma) = \int x_0\,\mathcal N(x; x_0, \sigma^2 I)\,q(x_0)\,dx_0 / p(x;\sigma)$, and
# $\mathcal N(x; x_0, \sigma^2 I) \propto e^{-\lVert x\rVert^2/2\sigma^2}\,e^{(x\cdot x_0 - \lVert x_0\rVert^2/2)/\sigma^2}$. The first
# factor does not depend on $x_0$ and cancels; for typical $x$ ($\lVert x\rVert \approx \sigma\sqrt d$) the exponent
# of the second is $O(\lVert x_0\rVert/\sigma)$, so as σ grows past the data's spread every data point gets the same
# weight and $D(x;\sigma) \to \mathbb E[x_0]$, the data mean, whatever x is (*A mathematical tutorial on diffusion
# models*, 2024; chapter 02's arrows show it). That is why $c_{skip} \to 0$ below and why the first, large-σ steps
# of a sampler all head for the same point.
#
# ### Preconditioning from unit variances
# Let $\mathrm{Var}\,x_0 = \sigma_{data}^2$ per coordinate, $x = x_0 + \sigma n$, so $\mathrm{Var}\,x = \sigma^2 + \sigma_{data}^2$.
# Write $D_x = c_{skip}\,x + c_{out}\,F_x(c_{in}x;\ c_{noise})$ and ask:
# 1. **Input** of unit variance: $c_{in} = 1/\sqrt{\sigma^2 + \sigma_{data}^2}$.
# 2. **Target** of unit variance. The network's effective target is $F^* = (x_0 - c_{skip}x)/c_{out}$, with
#    $\mathrm{Var}(x_0 - c_{skip}x) = (1-c_{skip})^2\sigma_{data}^2 + c_{skip}^2\sigma^2$. Setting
#    $c_{out}^2 = (1-c_{skip})^2\sigma_{data}^2 + c_{skip}^2\sigma^2$ gives unit variance.
# 3. **Smallest error amplification**: choose $c_{skip}$ to minimise $c_{out}$. Differentiating,
#    $-(1-c_{skip})\sigma_{data}^2 + c_{skip}\sigma^2 = 0$, so
# $$c_{skip} = \frac{\sigma_{data}^2}{\sigma^2 + \sigma_{data}^2},\qquad c_{out} = \frac{\sigma\,\sigma_{data}}{\sqrt{\sigma^2 + \sigma_{data}^2}},\qquad
#   c_{noise} = \tfrac14\ln\sigma.$$
# At small σ, $c_{skip} \to 1$ (keep the input); at large σ, $c_{skip} \to 0$ (predict $x_0$ afresh).
#
# 4. **Why $c_{noise} = \tfrac14\ln\sigma$.** Unlike the other three, $c_{noise}$ is not fixed by a variance: it only
#    tells the network which σ it sees, and any smooth one-to-one function of σ would do in principle. Two choices
#    make it easy to learn. The logarithm turns σ's multiplicative range (0.002 to 80, more than four decades) into
#    an additive one, where equal ratios of σ are equal steps of the input. The factor ¼ makes that input O(1): the
#    training distribution below, $\ln\sigma \sim \mathcal N(-1.2, 1.2^2)$, becomes $c_{noise} \sim \mathcal N(-0.3, 0.3^2)$,
#    and the whole sampling range maps into [−1.6, 1.1]. Karras et al. (2022, App. B.6) chose it empirically.
#
# ### Which σ to train on, and how much each counts
# The loss is $\mathbb E_\sigma\,\lambda(\sigma)\,\mathbb E\lVert D_\theta(x_0 + \sigma n;\sigma) - x_0\rVert^2$ (EDM's loss
# weight λ(σ), not the log-SNR $\lambda_t$ of the other chapters). With
# $\lambda(\sigma) = 1/c_{out}^2 = (\sigma^2 + \sigma_{data}^2)/(\sigma\sigma_{data})^2$ it is
# $\mathbb E\lVert F_\theta - F^*\rVert^2$: unit weight on a unit-variance target at every σ. σ is drawn log-normal,
# $\ln\sigma \sim \mathcal N(P_{mean} = -1.2, P_{std}^2 = 1.2^2)$, concentrating training where the loss can still fall.
#
# ### The sampler
# Time steps $\sigma_i = (\sigma_{max}^{1/\rho} + \tfrac{i}{N-1}(\sigma_{min}^{1/\rho} - \sigma_{max}^{1/\rho}))^\rho$, then
# $\sigma_N = 0$. ρ trades longer steps near $\sigma_{max}$ for shorter ones near $\sigma_{min}$: ρ ≈ 3 roughly equalises
# Heun's truncation error per step, but errors near $\sigma_{min}$ weigh most on the samples, and ρ = 5–10 worked
# better on images; ρ = 7 is EDM's choice (Karras et al. 2022, §3 and App. D.1). Heun's method: an Euler step
# $d_{cur} = (x - D(x;\sigma_i))/\sigma_i$, then a correction with the slope at the arrival point $d_{prime}$, averaged
# (2 evaluations per step, 1 on the last step to σ = 0). **Churn** first raises the noise, $\hat\sigma = (1+\gamma)\sigma_i$,
# $\hat x = x + \sqrt{\hat\sigma^2 - \sigma_i^2}\,S_{noise}\,z$ with $\gamma = \min(S_{churn}/N, \sqrt2 - 1)$, which lets
# the sampler correct earlier errors (`diffedu.integrators.heun`; our code caps $\hat\sigma$ at $\sigma_{max}$ = 80, so a
# level above $80/(1+\gamma)$ is churned less than Karras' Algorithm 2 says — their ImageNet setting avoids this
# range with $S_{tmax} = 50$). Churn is a discrete form of EDM's stochastic sampler (Karras et al. 2022, eq. 6), whose
# free β(t) is chapter 03's noise level η(t) of the reverse family, $\beta(t)\,\sigma^2 = \tfrac12\eta(t)^2 g^2$
# (chapter 07 samples its η = 1 member).

# %% [markdown]
# ## See it
# The coefficients across σ, the training distribution of σ and the loss weight, and the ρ grids.

# %%
sigma = torch.logspace(-3, 2, 200, dtype=torch.float64)
sd = 0.5
fig, axes = figure(3, size=3.3)
precond_curves(axes[0, 0], sigma, sd)
ax = axes[0, 1]
ax.semilogx(to_numpy(sigma), to_numpy(lognormal_sigma_density(sigma) * sigma),
            label=r"density of $\ln\sigma$")
ax2 = ax.twinx()
ax2.loglog(to_numpy(sigma), to_numpy(loss_weight(sigma, sd)), color="C3",
           label=r"$\lambda(\sigma)$")
ax.set(title="training σ and loss weight", xlabel=r"$\sigma$", ylabel=r"density of $\ln\sigma$")
ax2.set_ylabel(r"$\lambda(\sigma)$ (log scale)", color="C3")
ax.legend(ax.get_lines() + ax2.get_lines(),
          [r"density of $\ln\sigma$ (left)", r"weight $\lambda(\sigma)$ (right)"],
          loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=10)
edm = EDM()
ax = axes[0, 2]
for rho in (1.0, 3.0, 7.0):
    s_grid = to_numpy(karras(edm, 18, rho))
    ax.semilogy(range(18), s_grid[:-1], "o-", ms=3, label=f"ρ = {rho:g}")
ax.set(title="ρ grids, 18 steps", xlabel="step i", ylabel=r"$\sigma_i$")
ax.legend()
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# ### Unit variance of the input and of the target
# Data: the 2-D mixture, with $\sigma_{data}$ its measured standard deviation; 4000 samples per σ.
# Tolerance ±0.1 (the sampling error of a variance from 4000 samples is about ±0.03).

# %% tags=["nbval-check-output"]
x0 = gmm_2d().sample(4000, generator=torch.Generator().manual_seed(1))
sigma_data = x0.std().item()
check_sigmas = torch.tensor([0.002, 0.1, 1.0, 10.0, 80.0], dtype=torch.float64)
v_in, v_target = precond_variances(x0, check_sigmas, sigma_data,
                                   generator=torch.Generator().manual_seed(2))
assert bool(((v_in - 1).abs() < 0.1).all()) and bool(((v_target - 1).abs() < 0.1).all())
for s_, a, b in zip(check_sigmas.tolist(), v_in.tolist(), v_target.tolist()):
    print(f"σ = {s_:6.3f}: Var(c_in x) = {a:.2f}  Var(F*) = {b:.2f}")

# %% [markdown]
# ### The loss weight and the training σ
# With $\lambda(\sigma) = 1/c_{out}^2$, the weighted denoising error $\lambda(\sigma)\lVert D_\theta - x_0\rVert^2$ is the
# plain error of the raw network against its target, $\lVert F_\theta - F^*\rVert^2$: checked in float64 (to a relative 1e-10)
# for an arbitrary $F_\theta = \sin(3c_{in}x + c_{noise})$ across σ from 0.002 to 80 (`loss_weight_gap` computes both sides). And `losses.sample_sigma_lognormal` draws $\ln\sigma$ with
# mean $P_{mean}$ and standard deviation $P_{std}$: 200 000 draws, tolerance 0.01 (the standard error is 0.003).

# %% tags=["nbval-check-output"]
sig = torch.logspace(math.log10(0.002), math.log10(80.0), 9, dtype=torch.float64)[:, None]  # (9, 1)
gap, plain = loss_weight_gap(x0[:9], sig, sigma_data,
                             generator=torch.Generator().manual_seed(4))  # (9,) each
assert gap.abs().max().item() < 1e-10 * plain.max().item()
ln_sigma = sample_sigma_lognormal(200_000, generator=torch.Generator().manual_seed(5),
                                  dtype=torch.float64).log()
assert abs(ln_sigma.mean().item() + 1.2) < 0.01 and abs(ln_sigma.std().item() - 1.2) < 0.01
print(f"λ(σ)·|D − x0|² − |F − F*|² for σ from 0.002 to 80: below 1e-10 × the largest loss: "
      f"{gap.abs().max().item() < 1e-10 * plain.max().item()}")
print(f"ln σ of the training sampler: mean {ln_sigma.mean().item():.2f},"
      f" std {ln_sigma.std().item():.2f} (P_mean = −1.2, P_std = 1.2)")

# %% [markdown]
# ## See it · the ablation: one choice at a time, same budget
# The exact mixture's denoiser on EDM's process ($\sigma_{max} = 80$), 4000 starting points, the same for every row,
# 31 network evaluations (NFE) each, in quick and full mode alike. Two measures:
# - *ODE error*: the mean distance to a 128-step Heun solution from the same start (deterministic rows only);
# - *MMD²*: the unbiased squared maximum mean discrepancy (Gaussian kernel, width 0.5) between the samples and 4000
#   exact data samples. Unbiased means a perfect sampler scores 0 up to noise; the last row measures that noise with
#   exact samples. (A sliced Wasserstein distance between finite samples has a positive floor that fluctuates by as
#   much as the differences between the rows, so we do not use it here.)
#
# The last row of churn uses the setting with which EDM samples its own ImageNet-64 model (Karras et al. 2022,
# Table 5 and the NVlabs/edm README): $S_{churn} = 40$, churn only for $\sigma_i \in [S_{tmin}, S_{tmax}] = [0.05, 50]$,
# and $S_{noise} = 1.003$, slightly more fresh noise than removed, to offset the loss of detail. EDM spends 256 steps
# there, so each step raises σ by $\gamma = 40/256 \approx 0.16$; our 16 steps hit the cap $\gamma = \sqrt2 - 1$.
# The table below is computed here, now.

# %%
# both modes: at 63 NFE every ρ-grid row already sits at the MMD² floor and the table says nothing
nfe = 31
rows = ablation(nfe=nfe, n=4000, n_ref_steps=128)
print(f"{'configuration':60s} {'NFE':>4s} {'ODE error':>10s} {'MMD² × 10³':>11s}")
for r in rows:
    err = "—" if r["ode_error"] != r["ode_error"] else f"{r['ode_error']:.4f}"
    print(f"{r['config']:60s} {r['nfe']:4d} {err:>10s} {1e3 * r['mmd2']:11.2f}")

# %% [markdown]
# Reading the table. The ρ grid matters most: a uniform σ grid spends its steps at large σ, where nothing happens,
# and takes a huge last step. At this budget Heun's second order pays off on the ρ grid, even though it gets only 16
# steps for Euler's 31; on the uniform grid its fewer steps are too coarse. Below about 30 NFE it does not: at 19 NFE
# Euler's 19 steps beat Heun's 10 on this mixture (the panel below runs Heun only; chapter 10's error-vs-NFE figure
# compares the two and shows why). Churn does not help *here*: the exact denoiser makes
# no errors for fresh noise to wash out, so churn only adds the stochastic sampler's own discretisation error.
# Karras et al. found it useful with trained networks, whose errors accumulate along a deterministic trajectory.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it · what the table must show, asserted

# %% tags=["nbval-check-output"]
by = {r["config"]: r for r in rows}
heun_row, floor = by["Heun, ρ = 7 grid"], by["exact samples (MMD² floor)"]
assert by["Euler, ρ = 7 grid"]["ode_error"] < by["Euler, uniform σ grid"]["ode_error"]
assert heun_row["ode_error"] < by["Heun, uniform σ grid"]["ode_error"]
assert heun_row["ode_error"] < by["Euler, ρ = 7 grid"]["ode_error"]
assert heun_row["mmd2"] < by["Euler, ρ = 7 grid"]["mmd2"] and abs(floor["mmd2"]) < 0.5e-3
assert by["Heun, ρ = 7, S_churn = 40 (γ capped)"]["mmd2"] > heun_row["mmd2"] + 1e-3
ode = {name: by[name]["ode_error"] for name in by}
mmd = {name: 1e3 * by[name]["mmd2"] for name in by}  # MMD² × 10³, as in the table
h7, e7, hc = "Heun, ρ = 7 grid", "Euler, ρ = 7 grid", "Heun, ρ = 7, S_churn = 40 (γ capped)"
print(f"ODE error, ρ = 7 grid vs uniform σ grid: Euler {ode[e7]:.4f} < "
      f"{ode['Euler, uniform σ grid']:.4f}, Heun {ode[h7]:.4f} < {ode['Heun, uniform σ grid']:.4f}")
print(f"on the ρ grid, Heun vs Euler: ODE error {ode[h7]:.4f} < {ode[e7]:.4f}, "
      f"MMD² × 10³ {mmd[h7]:.2f} < {mmd[e7]:.2f}")
print(f"strong churn: MMD² × 10³ {mmd[hc]:.2f} > Heun's {mmd[h7]:.2f} + 1 "
      f"(floor {mmd['exact samples (MMD² floor)']:.2f}, tolerance |floor| < 0.5)")

# %% [markdown]
# ### MNIST: the EDM checkpoint at 18 Heun steps
# `diffedu.mnist.pretrained.load('mnist-edm')` — the U-Net inside `EDMPrecond`, so the network is exactly the
# $D_x = c_{skip}x + c_{out}F_x(c_{in}x; c_{noise})$ above, trained with λ(σ) and log-normal σ — sampled with 18 Heun
# steps on the ρ = 7 grid (35 evaluations), two samples per label. The shipped classifier reads each sample. How
# good the digits are depends on how long the checkpoint was trained; its card, printed below, says how long and
# what it scored. Skipped with a note when the checkpoint is not in `data/checkpoints/`.

# %%
if {"mnist-edm", "mnist-classifier"} <= set(diffedu.mnist.pretrained.available()):
    model = diffedu.mnist.pretrained.load("mnist-edm")
    card = model.card
    print(f"mnist-edm: {card['params']:,} parameters, trained {card['steps']} steps"
          f" of batch {card['batch']} in {card['wall_s']:.0f} s on {card['device']}")
    if card.get("fd_vs_wall_time"):
        last = card["fd_vs_wall_time"][-1]
        print(f"its card, at step {last['steps']}: FD-MNIST {last['fd_mnist']:.0f}"
              f" (floor {last['fd_floor']:.0f}), "
              f"conditional accuracy {last['conditional_accuracy']:.2f}"
              f" (n = {last['n']}, {last['n_steps']} steps)")
    labels = torch.arange(20) % 10
    imgs = model.sample(20, y=labels, n_steps=18,
                        generator=torch.Generator().manual_seed(3))  # (20, 1, 28, 28)
    read = diffedu.mnist.pretrained.load_classifier()(imgs.float()).argmax(1)  # (20,)
    hits = int((read == labels).sum())
    print(f"the classifier reads {hits} of 20 samples as the label asked for (chance: 2)")
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
    for ax, im, want, got in zip(axes.flat, imgs, labels, read):
        ax.imshow(to_numpy(im[0]), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(f"{int(want)}→{int(got)}", fontsize=8, color="k" if want == got else "C3")
        ax.axis("off")
    fig.suptitle("mnist-edm, 18 Heun steps (35 NFE): asked-for label → classifier's reading")
    plt.show()
else:
    print("Note: the mnist-edm or mnist-classifier checkpoint is not in data/checkpoints/;"
          " the MNIST samples are skipped (chapter 12 shows how to train them).")

# %% [markdown]
# ## Play
# ρ, the NFE budget and the churn of Heun's sampler on the exact mixture (1000 points). The churn slider moves γ
# itself over [0, √2 − 1]; the right title shows the S_churn = γN it stands for and where S_churn saturates. The left
# title shows the ODE error — with churn on, the distance to the ODE solution from the same start — and MMD² to 1000
# exact samples, read against the band that fresh exact samples of the same size fall in ("within noise" or not).
# Try ρ = 1 against ρ = 7 at NFE 15, and S_noise below and above 1 with churn on.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.edm_panel()

# %% [markdown]
# ## Warm-up
# ### Exercise 1: the preconditioning
# Return `(c_skip, c_out, c_in, c_noise)` for a tensor of σ and a float σ_data.

# %%
def edm_precond(sigma, sigma_data):
    # BEGIN SOLUTION
    s2 = sigma**2 + sigma_data**2
    return sigma_data**2 / s2, sigma * sigma_data / s2.sqrt(), 1 / s2.sqrt(), sigma.log() / 4
    # END SOLUTION


check_edm_precond(edm_precond)

# %% [markdown]
# ### Exercise 2: the ρ-spaced noise levels
# Return the n levels from σ_max down to σ_min (without the final 0).

# %%
def karras_sigmas(n, sigma_min, sigma_max, rho):
    # BEGIN SOLUTION
    i = torch.arange(n, dtype=torch.float64) / (n - 1)
    return (sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    # END SOLUTION


check_karras_sigmas(karras_sigmas)

# %% [markdown]
# ## Build it · EDM's sampler around a raw network
# Put the chapter together: write `edm_sampler(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho)`, Karras et al.'s
# Algorithm 1 for a *raw* network `F(x_in, c_noise)` (shape of `x_in` in, shape of `x_in` out). Three pieces:
# 1. the denoiser $D(x;\sigma) = c_{skip}\,x + c_{out}\,F(c_{in}x;\ c_{noise})$ with the coefficients of the Theory;
# 2. the N noise levels of the ρ grid (your warm-up) followed by $\sigma_N = 0$, and the start $x = \sigma_0 z$
#    (`z` is standard normal, shape (n, 2));
# 3. N steps of Heun's method on $dx/d\sigma = (x - D(x;\sigma))/\sigma$:
#    $d_{cur} = (x - D(x;\sigma_i))/\sigma_i$, $x' = x + (\sigma_{i+1} - \sigma_i)\,d_{cur}$, and unless
#    $\sigma_{i+1} = 0$, $d_{prime} = (x' - D(x';\sigma_{i+1}))/\sigma_{i+1}$,
#    $x' = x + (\sigma_{i+1} - \sigma_i)\,\tfrac12(d_{cur} + d_{prime})$.
#
# The grader hands you the network that makes $D$ the exact denoiser of a mixture and compares your samples with the
# package's Heun sampler on its ρ grid (5 points, to 1e-8); then an arbitrary network, compared with the same algorithm
# built on the package's preconditioning (3 points); then it counts your calls of F (2 points: 2N − 1).
# Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.edm import THINK, check_edm_sampler, hint


def edm_sampler(F, z, sigma_data, n_steps, sigma_min, sigma_max, rho):
    # BEGIN SOLUTION
    def D(x, sigma):  # the preconditioned denoiser (Karras et al. 2022, Table 1)
        s = sigma**2 + sigma_data**2
        c_skip, c_out = sigma_data**2 / s, sigma * sigma_data / s.sqrt()
        c_in, c_noise = 1 / s.sqrt(), sigma.log() / 4
        return c_skip * x + c_out * F(c_in * x, c_noise)

    i = torch.arange(n_steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho)
              + i / (n_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    sigmas = torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])  # σ_N = 0
    x = sigmas[0] * z
    for k in range(n_steps):
        sigma, sigma_next = sigmas[k], sigmas[k + 1]
        d_cur = (x - D(x, sigma)) / sigma
        x_next = x + (sigma_next - sigma) * d_cur  # Euler step
        if sigma_next > 0:
            d_prime = (x_next - D(x_next, sigma_next)) / sigma_next
            x_next = x + (sigma_next - sigma) * 0.5 * (d_cur + d_prime)  # 2nd-order correction
        x = x_next
    return x
    # END SOLUTION


check_edm_sampler(edm_sampler)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - Every diffusion is a noise level σ(t) and a scale s(t); EDM takes s = 1, σ = t.
# - $c_{in}$ and $c_{out}$ make the network's input and target unit-variance; $c_{skip}$ minimises the error amplification.
# - $\lambda(\sigma) = 1/c_{out}^2$ gives every σ unit weight; σ is drawn log-normal.
# - At equal NFE the ρ grid matters most here; Heun's second order pays off on a good grid once the budget is about
#   30 NFE or more; churn cannot help an exact denoiser (nothing to correct) — it is meant for a trained network's
#   accumulated errors.
#
# ## What next
# Chapter 10 compares samplers systematically: error against NFE for Euler, Heun, DDIM and DPM-Solver.
#
# ## References
# - Karras, Aittala, Aila, Laine (2022). *Elucidating the Design Space of Diffusion-Based Generative Models*. NeurIPS.
# - Song et al. (2021). *Score-Based Generative Modeling through Stochastic Differential Equations*. ICLR.

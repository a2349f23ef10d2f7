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
# # 00 · Welcome: how this course works, and its notation
#
# **You will** learn how to open, run and play with the chapters (JupyterLab, Binder, quick and full mode, CPU or
# GPU), see the map of all thirteen chapters, and meet the notation that every later chapter uses — starting with the
# one formula the whole course is built on, $x_t = \alpha_t x_0 + \sigma_t\varepsilon$.
# **You need** Python and a little probability (Gaussians, expectations) · **Time** about 10 minutes

# %%
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import VP, make_process, sample_2d
from diffedu.course.exercises import check_log_snr, check_noise
from diffedu.course.noising import log_snr_of, mix
from diffedu.ui.plots import figure, scatter2d

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## How to use the course
#
# **Open it.** From a clone of the repository, `make lab` creates a virtual environment (first time only), copies the
# student version of every chapter (each exercise's answer left for you to write) into `work/student/` and starts
# JupyterLab there: these copies are yours, save freely (`work/` is ignored by git, so `git pull` brings new chapters
# without a conflict; delete a copy to get a fresh one). A lecturer runs `make lab EDITION=instructor` for the version
# with the answers, in `work/instructor/`. With conda: `conda env create -f environment.yml`, `conda activate diffedu`,
# `pip install --no-deps -e .`, `python -m tools.workdir`, then `jupyter lab --ServerApp.root_dir=work/student`.
# **Binder** (1–2 GB of memory, no GPU — every chapter still runs) will open the chapters without any installation
# once the repository is public; until then the README's Binder badge is a placeholder that leads nowhere.
#
# **Read and run.** Every chapter has the same shape:
#
# | section | what it does |
# |---|---|
# | **Theory** | the mathematics, derived step by step |
# | **See it** | a figure of the claim |
# | **Check it** | a computation that verifies the claim, with an `assert` and a stated tolerance (folded) |
# | **Deep dive** | a derivation or experiment beyond the main line, often after the lab (folded) |
# | **Play** | sliders: move them and watch the figure change |
# | **Exercise** | write a small function yourself; a `check_…` function answers with a hint if it is wrong |
# | **Summary · What next · References** | the take-away, the link onwards, the papers |
#
# Run the cells top to bottom (*Run → Run All Cells*). The *Check it* and *Deep dive* sections open folded, so
# that the main line reads straight through: their cells run with the others, and the heading's "+ N cells hidden"
# button (or the arrow left of the heading) unfolds them. In the repository each chapter is a pair in `chapters/`:
# `NN_topic.py`, the source (plain Python in jupytext's percent format), and `NN_topic.ipynb`, the executed notebook
# that your copy in `work/` is made from.
#
# **Quick and full mode.** `DIFFEDU_QUICK=1` runs every chapter in quick mode: fewer samples and training steps, so a
# chapter runs in about a minute on a laptop CPU (at most 90 s). `DIFFEDU_QUICK=0` forces the full version. Unset, the
# course picks quick mode on a CPU and full mode when a GPU is present. `diffedu.quick()` tells the code which mode is
# on, and the first cell of every chapter prints it.
#
# **CPU or GPU.** `diffedu.device()` picks CUDA, then Apple's MPS, then the CPU; everything in `diffedu` follows the
# device of its inputs. Nothing before chapter 12 needs a GPU.

# %%
print("quick mode:", diffedu.quick(), "· device:", diffedu.device())

# %% [markdown]
# ### The chapter map
#
# | # | file | topic |
# |---|---|---|
# | 00 | `00_welcome` | how to use the course; modes, devices; the notation table |
# | 01 | `01_noising` | forward process, schedules (VP, cosine, VE, EDM, rectified flow), forward SDE, SNR |
# | 02 | `02_tweedie` | denoiser ↔ score ↔ ε ↔ velocity; Tweedie's formula |
# | 03 | `03_fokker_planck` | Fokker–Planck, heat equation, probability-flow ODE, reverse SDE |
# | 04 | `04_ddpm` | the ELBO, VAE vs diffusion, discrete DDPM, ancestral sampling |
# | 05 | `05_ddim` | non-Markovian forward processes, DDIM and η, inversion |
# | 06 | `06_score_matching` | explicit, sliced and denoising score matching; Langevin and annealed Langevin |
# | 07 | `07_sdes` | VP / sub-VP / VE SDEs, Euler–Maruyama, predictor–corrector |
# | 08 | `08_flows` | flow matching, rectified flow, reflow, velocity ↔ score |
# | 09 | `09_edm` | EDM: preconditioning, σ distribution, loss weight, Heun, ρ grid, churn |
# | 10 | `10_samplers` | the integrator zoo and time grids, convergence orders |
# | 11 | `11_guidance` | classifier and classifier-free guidance, inverse problems |
# | 12 | `12_mnist` | the capstone: training, sampling and evaluating on MNIST |
#
# Chapters 01–02 are the foundation of everything else; 03–09 can then be read in order; 10–12 use all of them.

# %% [markdown]
# ## Theory
#
# ### One formula
# A diffusion model destroys data by mixing it with Gaussian noise, then learns to undo the mixing. The mixing, at a
# time $t$ that runs from data ($t = 0$) to noise ($t = t_{max}$), is
# $$x_t = \alpha_t\,x_0 + \sigma_t\,\varepsilon, \qquad x_0 \sim q(x_0)\ \text{(data)},\quad \varepsilon \sim \mathcal N(0, I),$$
# so that $q(x_t\mid x_0) = \mathcal N(\alpha_t x_0, \sigma_t^2 I)$. Every process in the course — VP, cosine, VE, EDM,
# rectified flow, discrete DDPM — is a choice of the two curves $\alpha_t$ (signal scale) and $\sigma_t$ (noise scale).
#
# ### Signal-to-noise ratio
# How much of $x_0$ is still visible in $x_t$ is measured by the **signal-to-noise ratio** and its logarithm:
# $$\mathrm{SNR}(t) = \frac{\alpha_t^2}{\sigma_t^2}, \qquad \lambda_t = \log\mathrm{SNR}(t) = 2\log\alpha_t - 2\log\sigma_t .$$
# $\lambda_t$ decreases from $+\infty$ (clean data, $\sigma_0 = 0$; VE starts at $\sigma_0 = \sigma_{min}$, so its
# $\lambda_0$ is large but finite) towards $-\infty$ (pure noise). Two processes with
# the same $\lambda_t$ curve differ only by a rescaling of $x_t$: divided by $\sqrt{\alpha_t^2 + \sigma_t^2}$, both become the
# same variance-preserving process (to map process A onto process B, multiply A's $x_t$ by $\alpha^B_t/\alpha^A_t$; Kingma
# et al. 2021). That is why much of the course measures time by $\lambda$.
#
# ### The notation table (a glossary)
# The same symbols are used in the text and, spelled out, in the code. This glossary is the reference for all
# chapters: every symbol of the course, with the chapter that introduces it (ch.); each chapter also opens its Theory
# with the few symbols it adds.
#
# | symbol | code | meaning | ch. |
# |---|---|---|---|
# | $x_0$, $q(x_0)$ | `x0` | a data point (t = 0); the data distribution | 00 |
# | $\varepsilon$ | `eps` | standard Gaussian noise, $\mathcal N(0, I)$ | 00 |
# | $x_t$ | `x_t` | the noised point $\alpha_t x_0 + \sigma_t\varepsilon$ | 00 |
# | $t$; $t_{min}, t_{max}$ | `t` | time, data → noise, in $[t_{min}, t_{max}]$; for EDM $t = \sigma$ | 00 |
# | $\alpha_t,\ \sigma_t$ | `alpha_t`, `sigma_t` | signal and noise scales (`process.alpha(t)`, `process.sigma(t)`) | 00 |
# | $\lambda_t$ | `lambda_t` | log-SNR $\log(\alpha_t^2/\sigma_t^2)$ (`process.log_snr(t)`) — always the full log-SNR | 00 |
# | $d$ | | the data's dimension | 00 |
# | $\dot\alpha_t,\ \dot\sigma_t$ | `d_alpha_t`, `d_sigma_t` | their time derivatives (a dot is $d/dt$) | 01 |
# | $f(t),\ g(t)$ | `f_t`, `g_t` | drift and diffusion of the forward SDE $dx = f(t)x\,dt + g(t)\,dW$ | 01 |
# | $W_t$, $dW$ | | Brownian motion and its increment ($E\,dW^2 = dt$) | 01 |
# | $\Delta t$ | | a time step | 01 |
# | $u = t/t_{max}$ | `u` | normalised time, for comparing processes | 01 |
# | $s$ (cosine) | `s` | the cosine schedule's small offset (0.008) — a constant, not a time | 01 |
# | $n$, $T$ | `n`, `T` | DDPM's step index $1..T$ and number of steps | 01 |
# | $\beta_n,\ \beta(t)$ | `beta_t` | DDPM's per-step noise variance; VP's noise rate $\beta(t) = g(t)^2$ | 01 |
# | $\bar\alpha_n$ | `alpha_bar` | $\prod_{i\le n}(1-\beta_i) = \alpha_t^2$ — never written `alpha` | 01 |
# | $p_t$ | | the marginal density of $x_t$ | 02 |
# | $\nabla_x\log p_t(x)$ | `score` | the score of the noised density $p_t$ | 02 |
# | $\hat x_0$, $D$ | `x0_hat` | the denoiser $D(x_t, t) \approx E[x_0\mid x_t]$ | 02 |
# | $\hat\varepsilon$ | `eps_hat` | the noise prediction $\approx E[\varepsilon\mid x_t]$ | 02 |
# | $\hat v$ | `v_hat` | the velocity $\approx E[\dot\alpha_t x_0 + \dot\sigma_t\varepsilon\mid x_t]$, the probability-flow $dx/dt$ (flow matching, 08, writes $u_t$ for the same field) | 02 |
# | $(a, b)$ | | a prediction kind's coefficients: target $= a x_0 + b\varepsilon$ | 02 |
# | $p(x;\sigma)$, $p_\sigma$ | | the data blurred by noise of level σ (α = 1) | 03 |
# | $\bar W$, $dt < 0$ | | reverse-time Brownian motion; a sampler's steps run backwards | 03 |
# | $\eta$, $\eta(t)$ | `eta` | noise level of the reverse family (03: 0 = probability-flow ODE, 1 = reverse SDE); DDIM's stochasticity (05: 0 = deterministic, 1 = DDPM) — the same η as steps → 0 | 03, 05 |
# | $a_n$ | | DDPM's per-step factor $1-\beta_n$ (Ho et al.'s $\alpha_n$) | 04 |
# | $\tilde\beta_n,\ \tilde\mu_n$ | | variance and mean of the posterior $q(x_{n-1}\mid x_n, x_0)$ | 04 |
# | $p_\theta$, $\mu_\theta$, θ | | the model's reverse steps, their mean; the network's parameters | 04 |
# | $L_T, L_{n-1}, L_0$ | | the ELBO's prior, transition and reconstruction terms | 04 |
# | $s$ (time) | `s` | a sampler step's next, less noisy time, $s < t$ | 05 |
# | $c$ | `c` | DDIM's noise scale per step (Song et al.'s $\sigma_t(\eta)$) | 05 |
# | $\rho_t$, $\bar x$ | | $\sigma_t/\alpha_t$, the noise level of $\bar x = x/\alpha_t$ (EDM's σ; not the grid exponent ρ) | 05 |
# | $\tilde x$ | | a noisy sample $x_0 + \sigma\varepsilon$ (chapter 06) | 06 |
# | $s_\theta$ | | a score network, $s_\theta(x)$ or $s_\theta(x, \sigma)$ | 06 |
# | $\tau$ | `tau` | Langevin's step size (06); flow-matching papers' time $1 - t$ (01, 08) | 06 |
# | $\sigma_1 > \dots > \sigma_L$, $\lambda(\sigma)$ | `sigmas`, `weight` | a noise ladder and the loss weight per level (λ with the argument σ; not the log-SNR $\lambda_t$) | 06 |
# | $r$ | `r` | the predictor–corrector's signal-to-noise ratio | 07 |
# | $u_t$, $u_\theta$ | | flow matching's velocity field ($= \hat v$) and its network | 08 |
# | $c_{skip}, c_{out}, c_{in}, c_{noise}$ | `c_skip`, `c_out`, `c_in`, `c_noise` | EDM's preconditioning: $D_x = c_{skip}x + c_{out}F_x(c_{in}x, c_{noise})$ | 09 |
# | $F_\theta$, $D_\theta$ | `F_x`, `D_x` | the raw network output and the preconditioned denoiser | 09 |
# | $\sigma_{data}$; $P_{mean}, P_{std}$ | `sigma_data` | the data's standard deviation; EDM's log-normal σ distribution | 09 |
# | $\rho$ | `rho` | the exponent of the Karras time grid | 09 |
# | $\hat t = \hat\sigma,\ \hat x$; $\gamma$ | `t_hat`, `x_hat` | EDM's noise level and state after adding churn noise; the churn factor | 09 |
# | $d_i,\ d'_i$ | `d_cur`, `d_prime` | slopes $dx/dt$ at the start and end of a Heun step | 09 |
# | $S_{churn}, S_{tmin}, S_{tmax}, S_{noise}$ | `S_churn`, … | EDM's stochastic-sampler settings | 09 |
# | $h$ | `h` | DPM-Solver's step in half log-SNR, $h = (\lambda_s - \lambda_t)/2$ | 10 |
# | NFE | `nfe` | number of function (network) evaluations | 10 |
# | $w$ | `w` | guidance weight (classifier-free guidance) | 11 |
# | $y$, $A$, $\sigma_y$; $\zeta$ | | a label or measurement, the measurement operator and its noise; DPS's step | 11 |
# | $\tilde s,\ \tilde u,\ \tilde\varepsilon$ | | the guided score, velocity and noise prediction | 11 |
# | $\delta$ | | an error of $\hat x_0$ (12); Kronecker's delta $\delta_u$, all mass on token u (14) | 12 |
# | $\Phi_{t\to r}$ | `flow_map` | the flow map of the probability-flow ODE: $x_t \mapsto x_r$ | 13 |
# | $Q,\ \bar Q_t$; $\bar\sigma(t)$ | `Q` | a token's rate matrix and D3PM's product of transition matrices; the integrated rate $\int_0^t\beta$ | 14 |
# | $R_t,\ \bar R_t,\ \hat R_t$ | | forward, reverse and learned reverse jump rates between sequences | 14 |
# | $\hat p_\theta(x_0\mid x_t)$ | | the network's distribution of the clean token | 14 |

# %% [markdown]
# ## See it
# The two-moons data set mixed with noise at five $(\alpha_t, \sigma_t)$ pairs along the VP process, with the log-SNR of
# each. Left to right the structure fades; once $\lambda$ drops below about 1 the moons are hard to see, and at
# $\lambda \approx -1.4$ nothing of them is left.

# %%
process = VP()
x0 = sample_2d("moons", 1000, generator=g)
eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
fig, axes = figure(5, size=2.8)
for ax, t in zip(axes[0], (0.0, 0.04, 0.1, 0.2, 0.4)):
    alpha_t, sigma_t = process.alpha(t).item(), process.sigma(t).item()
    lam = log_snr_of(alpha_t, sigma_t)
    scatter2d(ax, mix(x0, eps, alpha_t, sigma_t),
              title=rf"α={alpha_t:.2f}, σ={sigma_t:.2f}" + "\n" + rf"$\lambda$={lam:.1f}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. The code is the formula.** `process.noise(x0, t, eps)` must equal $\alpha_t x_0 + \sigma_t\varepsilon$ written out,
# and `process.log_snr(t)` must equal $2\log\alpha_t - 2\log\sigma_t$, for every process, in float64 (tolerance 1e-12).
#
# **2. The formula is the distribution.** For a fixed $x_0$, many draws of $x_t$ must have mean $\alpha_t x_0$ and
# variance $\sigma_t^2$: with n draws the Monte Carlo standard errors are $\sigma_t/\sqrt n$ for the mean and about
# $\sigma_t^2\sqrt{2/n}$ for the variance; we allow 4 of them.

# %% tags=["nbval-check-output"]
worst = 0.0
for name, kw, t in [("vp", {}, 0.3), ("cosine", {}, 0.5), ("ve", {}, 0.5), ("edm", {}, 2.0),
                    ("flow", {}, 0.4), ("ddpm", {}, 400.0)]:
    p = make_process(name, **kw)
    t_ = torch.tensor(t, dtype=torch.float64)
    by_hand = p.alpha(t_) * x0 + p.sigma(t_) * eps
    lam_by_hand = 2 * (math.log(p.alpha(t_).item()) - math.log(p.sigma(t_).item()))
    worst = max(worst, (p.noise(x0, t_, eps) - by_hand).abs().max().item(),
                abs(p.log_snr(t_).item() - lam_by_hand))
assert worst < 1e-12, worst
print(f"noise() and log_snr() against the formulas: largest gap < 1e-12: {worst < 1e-12}")

n = 20_000 if diffedu.quick() else 400_000
x0_fixed = torch.tensor([1.5, -0.5], dtype=torch.float64)
t_ = torch.tensor(0.3, dtype=torch.float64)
alpha_t, sigma_t = process.alpha(t_).item(), process.sigma(t_).item()
x_t = process.noise(x0_fixed.expand(n, 2), t_, torch.randn(n, 2, generator=g, dtype=torch.float64))
mean_err = (x_t.mean(0) - alpha_t * x0_fixed).abs().max().item()
var_err = (x_t.var(0) - sigma_t**2).abs().max().item()
assert mean_err < 4 * sigma_t / math.sqrt(n), mean_err
assert var_err < 4 * sigma_t**2 * math.sqrt(2 / n), var_err
print(f"VP at t = 0.3: alpha_t = {alpha_t:.4f}, sigma_t = {sigma_t:.4f}; n = {n} draws")
print(f"  |mean error| {mean_err:.4f} (tolerance 4 SE = {4 * sigma_t / math.sqrt(n):.4f}), "
      f"|variance error| {var_err:.4f} (tolerance {4 * sigma_t**2 * math.sqrt(2 / n):.4f})")

# %% [markdown]
# ## Play
# Pick $\alpha_t$ and $\sigma_t$ yourself. Only the ratio matters for how much structure survives: set α = 1, σ = 0.5,
# then α = 0.5, σ = 0.25 — the same log-SNR, the same picture at half the scale.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.mix_panel()

# %% [markdown]
# ## Exercise
# ### Exercise 1 · the forward mixing
# Return $x_t = \alpha_t x_0 + \sigma_t\varepsilon$.

# %%
def noise_by_hand(x0, eps, alpha_t, sigma_t):
    # BEGIN SOLUTION
    return alpha_t * x0 + sigma_t * eps
    # END SOLUTION


check_noise(noise_by_hand)

# %% [markdown]
# ### Exercise 2 · the log-SNR
# Compute the log-SNR $\lambda = \log(\alpha_t^2/\sigma_t^2)$ for tensors `alpha_t`, `sigma_t` (both positive).

# %%
def log_snr_by_hand(alpha_t, sigma_t):
    # BEGIN SOLUTION
    return 2 * (torch.log(alpha_t) - torch.log(sigma_t))
    # END SOLUTION


check_log_snr(log_snr_by_hand)

# %% [markdown]
# ## Summary
# - The course runs in JupyterLab (`make lab`; on Binder once the repository is public); quick mode
#   (`DIFFEDU_QUICK=1`) keeps every chapter short, and `diffedu.device()` picks the GPU when there is one.
# - Every chapter: Theory · See it · Check it · Play · Exercise.
# - Every diffusion process is a pair of curves $(\alpha_t, \sigma_t)$ in $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, and
#   the log-SNR $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ says how much of the data is left.
#
# ## What next
# Chapter 01 builds the processes: where $\alpha_t$ and $\sigma_t$ come from (a stochastic differential equation), the
# common schedules side by side, and the discrete DDPM view.
#
# ## References
# - J. Ho, A. Jain, P. Abbeel. *Denoising Diffusion Probabilistic Models.* NeurIPS 2020.
# - Y. Song et al. *Score-Based Generative Modeling through Stochastic Differential Equations.* ICLR 2021.
# - D. Kingma, T. Salimans, B. Poole, J. Ho. *Variational Diffusion Models.* NeurIPS 2021 (the SNR view).
# - T. Karras, M. Aittala, T. Aila, S. Laine. *Elucidating the Design Space of Diffusion-Based Generative Models.* NeurIPS 2022.

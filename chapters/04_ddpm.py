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
# # 04 · DDPM: from the ELBO to ancestral sampling
#
# **You will** see why maximum likelihood needs a bound, write the VAE's and the diffusion model's ELBO side by side,
# derive the Gaussian posterior $q(x_{n-1}\mid x_n, x_0)$ of discrete DDPM, see how its KL terms collapse to an
# ε-regression, train a 2-D ε-model live, and add up its ELBO term by term.
# **You need** chapters 01–02 (forward process, Tweedie) · **Time** about 150 minutes

# %%
import math
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import DiscreteDDPM, Predictor, gmm_2d
from diffedu.course.elbo import (ClippedX0, elbo_terms, elbo_trajectory, forward_by_composition,
                                 posterior_coefficients, posterior_regression, train_eps_mlp)
from diffedu.course.exercises import check_alpha_bar, check_posterior
from diffedu.integrators import ddpm
from diffedu.metrics import sliced_wasserstein
from diffedu.ui.plots import figure, scatter2d, to_numpy
from diffedu.ui.quiz import think

# tensors here are small: one thread is fastest, and a second one only spins on a busy CPU
torch.set_num_threads(1)
g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# **The picture first.** Ancestral sampling on the 2-D six-component mixture, T = 100 steps: 600 chains start as pure
# noise $x_T\sim\mathcal N(0, I)$ and each step draws $x_{n-1}$ from a Gaussian around a slightly denoised point (here the
# exact denoiser plays the network). Three chains are traced in colour (big dots: where they are at step n). The
# cloud condenses, step by random step, onto the data. This chapter derives those Gaussian steps from a likelihood
# bound.

# %%
demo_process, demo_gmm = DiscreteDDPM(100, beta_1=1e-3, beta_T=0.2), gmm_2d()
g_demo = torch.Generator().manual_seed(1)  # its own stream: the checks below draw from g as before
x_n = torch.randn(600, 2, generator=g_demo, dtype=torch.float64)  # x_T
chain, show = [x_n], (100, 60, 30, 0)
for n in range(100, 0, -1):  # x_{n-1} = c_0 x̂_0 + c_n x_n + √β̃_n z
    c_0, c_n, beta_tilde_n = posterior_coefficients(demo_process, n)
    x0_hat = demo_gmm.denoiser(x_n, float(n), demo_process)
    z = torch.randn(600, 2, generator=g_demo, dtype=torch.float64)
    x_n = c_0 * x0_hat + c_n * x_n + math.sqrt(beta_tilde_n) * z
    chain.append(x_n)
chain = torch.stack(chain)  # (101, 600, 2), chain[k] is x_{100-k}
fig, axes = figure(len(show), size=2.9)
for ax, n in zip(axes[0], show):
    scatter2d(ax, chain[100 - n], lim=3.5, title=f"n = {n}", color="0.6")
    for k, color in enumerate(("C0", "C1", "C3")):  # three chains: path so far, where they are now
        trace = to_numpy(chain[: 101 - n, k])  # (steps so far, 2)
        ax.plot(trace[:, 0], trace[:, 1], color=color, lw=0.6, alpha=0.6)
        ax.plot(*to_numpy(chain[100 - n, k]), "o", color=color, ms=8, mec="k")
plt.show()

# %% [markdown]
# ## Theory
# **New symbols:** DDPM's per-step factor $a_n = 1 - \beta_n$; the posterior's variance $\tilde\beta_n$ and mean
# $\tilde\mu_n$; the model's steps $p_\theta(x_{n-1}\mid x_n)$ and mean $\mu_\theta$; the ELBO's terms $L_T$, $L_{n-1}$,
# $L_0$; a VAE's latent $z$.
#
# ### Why a bound
# A latent-variable model $p_\theta(x_0) = \int p_\theta(x_0, z)\,dz$ has a likelihood we cannot evaluate: the integral
# runs over every latent. For any distribution $q(z\mid x_0)$, Jensen's inequality gives a lower bound we *can* estimate
# by sampling $z \sim q$:
# $$\log p_\theta(x_0) = \log \mathbb E_{q(z|x_0)}\Big[\frac{p_\theta(x_0, z)}{q(z|x_0)}\Big]
#   \;\ge\; \mathbb E_{q(z|x_0)}\Big[\log\frac{p_\theta(x_0, z)}{q(z|x_0)}\Big] =: \mathrm{ELBO},$$
# and the gap is exactly $\mathrm{KL}(q(z|x_0)\,\|\,p_\theta(z|x_0))$.
#
# ### VAE and diffusion, side by side
# | | VAE | diffusion (DDPM) |
# |---|---|---|
# | latent | one $z$ | a chain $x_1, \dots, x_T$ |
# | encoder $q$ | learned $q_\phi(z\mid x_0)$ | **fixed** $q(x_{1:T}\mid x_0) = \prod_n q(x_n\mid x_{n-1})$ |
# | decoder $p$ | $p_\theta(x_0\mid z)$ | $p(x_T)\prod_n p_\theta(x_{n-1}\mid x_n)$ |
# | ELBO | $\mathbb E_q\log p_\theta(x_0\mid z) - \mathrm{KL}(q_\phi(z\mid x_0)\,\|\,p(z))$ | $-L_T - \sum_{n=2}^T L_{n-1} - L_0$ |
#
# **The diffusion ELBO, step by step.** With $z = x_{1:T}$, $p_\theta(x_{0:T}) = p(x_T)\prod_{n=1}^T p_\theta(x_{n-1}|x_n)$
# and $q(x_{1:T}|x_0) = \prod_{n=1}^T q(x_n|x_{n-1})$, the log-ratio inside the ELBO is a sum:
# $$\mathrm{ELBO} = \mathbb E_q\Big[\log p(x_T) + \sum_{n=1}^T\log p_\theta(x_{n-1}|x_n) - \sum_{n=1}^T\log q(x_n|x_{n-1})\Big].$$
# *Step 1 (Markov, then Bayes).* The chain is Markov, so for $n\ge2$ also conditioning on $x_0$ changes nothing,
# $q(x_n|x_{n-1}) = q(x_n|x_{n-1}, x_0)$, and Bayes' rule in $(x_{n-1}, x_n)$ given $x_0$ turns it around (for n = 1,
# $x_{n-1}$ is $x_0$ itself and the term stays as it is):
# $$q(x_n|x_{n-1}) = \frac{q(x_{n-1}|x_n, x_0)\,q(x_n|x_0)}{q(x_{n-1}|x_0)} .$$
# *Step 2 (telescoping).* Take logs and sum over $n = 2..T$; the ratio's logs cancel in pairs,
# $$\sum_{n=2}^T\big[\log q(x_n|x_0) - \log q(x_{n-1}|x_0)\big] = \log q(x_T|x_0) - \log q(x_1|x_0),$$
# so $\sum_{n=1}^T\log q(x_n|x_{n-1}) = \log q(x_1|x_0) + \sum_{n=2}^T\log q(x_{n-1}|x_n, x_0) + \log q(x_T|x_0) - \log q(x_1|x_0)$,
# and the two $\log q(x_1|x_0)$ cancel.
#
# *Step 3 (regroup).* Pair each model term with the matching $q$ term:
# $$\mathrm{ELBO} = \mathbb E_q\Big[\log\frac{p(x_T)}{q(x_T|x_0)} + \sum_{n=2}^T\log\frac{p_\theta(x_{n-1}|x_n)}{q(x_{n-1}|x_n, x_0)}
#   + \log p_\theta(x_0|x_1)\Big].$$
# *Step 4 (KLs).* Each log-ratio is averaged over the variable in it under $q$'s matching distribution: $x_T$ has law
# $q(x_T|x_0)$, and given $(x_n, x_0)$ the variable $x_{n-1}$ has law $q(x_{n-1}|x_n, x_0)$. An average of
# $\log(p/q)$ under $q$ is $-\mathrm{KL}(q\,\|\,p)$, which gives three kinds of terms (Sohl-Dickstein et al. 2015; Ho et al.
# 2020, eq. 5):
# $$\mathrm{ELBO} = -\underbrace{\mathrm{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{L_T\ \text{prior}}
#  - \sum_{n=2}^T \underbrace{\mathbb E_{q(x_n|x_0)}\,\mathrm{KL}(q(x_{n-1}|x_n,x_0)\,\|\,p_\theta(x_{n-1}|x_n))}_{L_{n-1}\ \text{transitions}}
#  + \underbrace{\mathbb E_{q(x_1|x_0)}\log p_\theta(x_0|x_1)}_{-L_0\ \text{reconstruction}}.$$
# $L_T$ has no parameters; it is small when $\bar\alpha_T \approx 0$.
#
# *Another grouping, and why this one.* Without step 1 one can pair $\log p_\theta(x_n|x_{n+1})$ with
# $\log q(x_n|x_{n-1})$ directly; that gives "consistency" terms $\mathbb E_{q(x_{n-1}, x_{n+1}|x_0)}
# \mathrm{KL}(q(x_n|x_{n-1})\,\|\,p_\theta(x_n|x_{n+1}))$ (the form in Miao Zhou's slides *Introduction to Diffusion Models*;
# Luo 2022). It is the same ELBO, but each term's expectation runs over two random variables ($x_{n-1}$ and
# $x_{n+1}$) instead of one, so its Monte Carlo estimate is noisier; Ho's form averages over one $x_n$ a KL between two
# Gaussians known in closed form (below).
#
# ### Discrete DDPM
# Steps n = 1..T with $\beta_n \in (0, 1)$, $a_n = 1-\beta_n$, $\bar\alpha_n = \prod_{i\le n}a_i$ ($\bar\alpha_0=1$)
# (Ho et al. write $\alpha_n$ for $1-\beta_n$; in this course α is the signal scale, so the per-step factor is $a_n$):
# $$q(x_n\mid x_{n-1}) = \mathcal N(\sqrt{a_n}\,x_{n-1}, \beta_n I), \qquad
#   q(x_n\mid x_0) = \mathcal N(\sqrt{\bar\alpha_n}\,x_0, (1-\bar\alpha_n) I).$$
# The second follows from the first by induction: if $x_{n-1} = \sqrt{\bar\alpha_{n-1}}x_0 + \sqrt{1-\bar\alpha_{n-1}}\,\varepsilon'$
# then $x_n = \sqrt{\bar\alpha_n}x_0 + \sqrt{a_n(1-\bar\alpha_{n-1}) + \beta_n}\,\varepsilon$ and
# $a_n(1-\bar\alpha_{n-1}) + 1 - a_n = 1 - \bar\alpha_n$. In the course's notation $\alpha_t = \sqrt{\bar\alpha_n}$,
# $\sigma_t = \sqrt{1-\bar\alpha_n}$ (the `DiscreteDDPM` process).
#
# ### The posterior $q(x_{n-1}\mid x_n, x_0)$
# By Bayes, $q(x_{n-1}|x_n, x_0) \propto q(x_n|x_{n-1})\,q(x_{n-1}|x_0)$; as a function of $x_{n-1}$ its logarithm is, up to
# a constant,
# $$-\frac{\lVert x_n - \sqrt{a_n}x_{n-1}\rVert^2}{2\beta_n} - \frac{\lVert x_{n-1} - \sqrt{\bar\alpha_{n-1}}x_0\rVert^2}{2(1-\bar\alpha_{n-1})}
#   = -\frac12\Big(\frac{a_n}{\beta_n} + \frac{1}{1-\bar\alpha_{n-1}}\Big)\lVert x_{n-1}\rVert^2
#     + \Big(\frac{\sqrt{a_n}}{\beta_n}x_n + \frac{\sqrt{\bar\alpha_{n-1}}}{1-\bar\alpha_{n-1}}x_0\Big)^{\!\top} x_{n-1} + \text{const}.$$
# A quadratic $-\tfrac12 P\lVert x\rVert^2 + m^\top x$ is the log of $\mathcal N(m/P, P^{-1}I)$ ("completing the square"). So the
# precisions add, $1/\tilde\beta_n = a_n/\beta_n + 1/(1-\bar\alpha_{n-1})$, and the mean is the linear coefficient times
# $\tilde\beta_n$ (use $a_n(1-\bar\alpha_{n-1}) + \beta_n = 1-\bar\alpha_n$ to simplify):
# $$\tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\,\beta_n, \qquad
#   \tilde\mu_n(x_n, x_0) = \frac{\sqrt{\bar\alpha_{n-1}}\,\beta_n}{1-\bar\alpha_n}\,x_0
#   + \frac{\sqrt{a_n}\,(1-\bar\alpha_{n-1})}{1-\bar\alpha_n}\,x_n.$$
#
# ### From KL to ε-regression
# Choose $p_\theta(x_{n-1}|x_n) = \mathcal N(\mu_\theta(x_n, n), \tilde\beta_n I)$ with the *same* variance. (Ho et al. try
# both $\sigma_n^2 = \tilde\beta_n$ and $\sigma_n^2 = \beta_n$ and report similar samples, §3.2: $\tilde\beta_n$ is optimal when
# the data are one point, $\beta_n$ when $x_0\sim\mathcal N(0, I)$; their released CIFAR-10 run uses $\beta_n$. The course
# uses $\tilde\beta_n$ throughout, and the KL below needs equal variances.) The KL between
# two Gaussians of equal variance is the squared distance of their means over twice the variance:
# $L_{n-1} = \frac{1}{2\tilde\beta_n}\,\mathbb E\lVert\tilde\mu_n - \mu_\theta\rVert^2$. Substituting
# $x_0 = (x_n - \sqrt{1-\bar\alpha_n}\,\varepsilon)/\sqrt{\bar\alpha_n}$ gives
# $\tilde\mu_n = \frac{1}{\sqrt{a_n}}\big(x_n - \frac{\beta_n}{\sqrt{1-\bar\alpha_n}}\varepsilon\big)$, so we let the
# network predict ε and use the same form for $\mu_\theta$. Then
# $$L_{n-1} = \frac{\beta_n^2}{2\tilde\beta_n\,a_n(1-\bar\alpha_n)}\;\mathbb E\lVert\varepsilon - \hat\varepsilon_\theta(x_n, n)\rVert^2,$$
# a weighted ε-regression (equivalently an $x_0$-regression with weight $\bar\alpha_{n-1}\beta_n^2/(2\tilde\beta_n(1-\bar\alpha_n)^2)$).
# Ho et al. drop the weight: the **simplified loss** $\mathbb E_{n, x_0, \varepsilon}\lVert\varepsilon - \hat\varepsilon_\theta\rVert^2$,
# n uniform on {1..T}.
#
# The reconstruction term needs a decoder $p_\theta(x_0|x_1)$, and $\tilde\beta_1 = 0$ cannot be its variance. We use
# $p_\theta(x_0|x_1) = \mathcal N(\mu_\theta(x_1, 1), \beta_1 I)$, whose mean is exactly $\hat x_0(x_1)$ (Ho et al. use a
# discretized decoder for 8-bit images; for continuous data a Gaussian is the natural choice). $L_0 = -\log
# p_\theta(x_0|x_1)$ is minus a log-*density*, so it can be negative: a density of width $\sqrt{\beta_1}$ exceeds 1.
#
# ### Ancestral sampling
# Start at $x_T \sim \mathcal N(0, I)$ and draw $x_{n-1} \sim p_\theta(x_{n-1}|x_n)$, i.e. the posterior with $x_0$
# replaced by the prediction $\hat x_0$: $x_{n-1} = \tilde\mu_n(x_n, \hat x_0) + \sqrt{\tilde\beta_n}\,z$. The last step
# (n = 1) has $\tilde\beta_1 = 0$ and returns $\hat x_0$ — the decoder's mean; like Ho et al. we show the mean rather
# than a draw of width $\sqrt{\beta_1}$.

# %% [markdown]
# ## See it
# The standard schedule (T = 1000, β from 10⁻⁴ to 0.02): $\bar\alpha_n$ falls to nearly zero; the posterior variance
# $\tilde\beta_n$ sits just below $\beta_n$ except at the first steps (the curves overlap at this scale). Right: the
# 2-D mixture pushed through $q(x_n|x_0)$.

# %%
process = DiscreteDDPM(1000)
gmm = gmm_2d()
n_axis = torch.arange(process.T + 1)
beta_tilde = torch.tensor([0.0] + [posterior_coefficients(process, n)[2]
                                   for n in range(1, process.T + 1)])
fig, axes = figure(5, size=2.9)
ax = axes[0, 0]
ax.plot(n_axis, process.alpha_bar, label=r"$\bar\alpha_n$")
ax.plot(n_axis[1:], 20 * process.betas, label=r"$20\,\beta_n$")
ax.plot(n_axis, 20 * beta_tilde, "--", label=r"$20\,\tilde\beta_n$")
ax.set(xlabel="step n", ylabel="value", title="linear schedule")
ax.legend(fontsize=8)
x0_show = gmm.sample(1500, generator=g)
for ax, n in zip(axes[0, 1:], (0, 100, 300, 1000)):
    a = process.alpha_bar[n].sqrt().item()
    x_n = a * x0_show + math.sqrt(1 - a * a) * torch.randn(x0_show.shape, generator=g,
                                                           dtype=torch.float64)
    scatter2d(ax, x_n, title=rf"$q(x_n\mid x_0)$, n = {n}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. Composing the one-step kernels gives the closed form.** The recursion $m_n = \sqrt{a_n}m_{n-1}$,
# $v_n = a_n v_{n-1} + \beta_n$ never uses $\bar\alpha$; it must equal $(\sqrt{\bar\alpha_n}, 1-\bar\alpha_n)$ up to
# float64 round-off (tolerance 1e-12).

# %% tags=["nbval-check-output"]
m, v = forward_by_composition(process.betas)
err_m = (m - process.alpha_bar.sqrt()).abs().max().item()
err_v = (v - (1 - process.alpha_bar)).abs().max().item()
assert err_m < 1e-12 and err_v < 1e-12
print(f"max |m_n - sqrt(alpha_bar_n)| < 1e-12: {err_m < 1e-12};"
      f"  max |v_n - (1 - alpha_bar_n)| < 1e-12: {err_v < 1e-12}")

# %% [markdown]
# **2. The posterior, by Monte Carlo.** Sample $x_0$ from the mixture, $x_{n-1}\sim q(x_{n-1}|x_0)$, then
# $x_n \sim q(x_n|x_{n-1})$, and regress $x_{n-1}$ on $(x_0, x_n)$. A Gaussian posterior with a linear mean means the
# regression coefficients are $(c_0, c_n)$ and the residual variance is $\tilde\beta_n$. With 2·10⁵ residuals the
# coefficients' standard errors run from 1.3·10⁻³ at n = 2 — where $x_0$ and $x_n$ are nearly collinear, so the
# regression can hardly tell their coefficients apart — down to 2·10⁻⁴ at n = 500 (measured over 20 repeats). We
# allow 5·10⁻³ (four standard errors at n = 2) and 2 % on the variance.

# %% tags=["nbval-check-output"]
n_mc = 100_000
x0_mc = gmm.sample(n_mc, generator=g)
for n in (2, 10, 100, 500):
    c0, cn, bt = posterior_coefficients(process, n)
    f0, fn, fv = posterior_regression(x0_mc, n, process, generator=g)
    assert (abs(f0 - c0) < 5e-3 and abs(fn - cn) < 5e-3
            and abs(fv / bt - 1) < 0.02), (n, f0, c0, fn, cn, fv, bt)
    print(f"n = {n:3d}: c_0 {c0:.3f} (MC {f0:.3f})   c_n {cn:.3f} (MC {fn:.3f})   beta~ {bt:.2e} "
          f"(MC {fv:.2e})")

# %% [markdown]
# **3. Ancestral sampling with the exact denoiser recovers the mixture.** The mixture's exact $\hat x_0 =
# \mathbb E[x_0|x_n]$ plays the perfect network. To keep this fast we use a shorter chain, T = 100 with β from 10⁻³ to
# 0.2 ($\bar\alpha_T \approx 2\cdot10^{-5}$), which the next check trains on too. We compare the samples with fresh mixture samples by the sliced
# Wasserstein distance $SW_2$: it must be within 1.5× the distance between two independent mixture samples of the same
# size (the Monte Carlo noise floor), and each component's share (hard assignment by responsibilities) within 0.03 of
# its weight (three standard errors at this sample size are below 0.03).

# %% tags=["nbval-check-output"]
process_small = DiscreteDDPM(100, 1e-3, 0.2)
n_anc = 2000 if diffedu.quick() else 8000
x_T = torch.randn(n_anc, 2, generator=g, dtype=torch.float64)
exact = gmm.predictor(process_small)
x_anc = ddpm(x_T, torch.arange(process_small.T, -1, -1, dtype=torch.float64), exact, process_small,
             generator=g)
sw = sliced_wasserstein(x_anc, gmm.sample(n_anc, generator=g), generator=g).item()
sw_floor = sliced_wasserstein(gmm.sample(n_anc, generator=g), gmm.sample(n_anc, generator=g),
                              generator=g).item()
share = torch.bincount(gmm.responsibilities(x_anc).argmax(1), minlength=gmm.n_components) / n_anc
share_err = (share - gmm.weights).abs().max().item()
assert sw < 1.5 * sw_floor and share_err < 0.03, (sw, sw_floor, share_err)
print(f"SW2(ancestral, mixture) = {sw:.3f}, noise floor {sw_floor:.3f}: within 1.5x: "
      f"{sw < 1.5 * sw_floor};"
      f"  max share error {share_err:.3f} < 0.03: {share_err < 0.03}")

# %% [markdown]
# **4. Train a 2-D ε-model live and add up its ELBO.** On the same T = 100 chain we train an MLP with the simplified loss, sample it ancestrally, and compute
# its ELBO two ways on the same held-out $x_0$:
# * **term by term** (`elbo_terms`): $L_T$ and the KLs in closed form, $L_0$ as a Gaussian log-density, one $x_n$ per
#   sample and step;
# * **independently** (`elbo_trajectory`): run the forward chain and add
#   $\log p(x_T) + \sum\log p_\theta(x_{n-1}|x_n) - \sum\log q(x_n|x_{n-1})$ — no posterior, no KL formula.
#
# Both are unbiased for the same ELBO, so their means must agree within four combined standard errors; and the ELBO
# must lie below the data's exact mean log-density $\mathbb E\log p_{data}(x_0)$ (cross-entropy ≥ entropy), again up to
# four standard errors.

# %%
train_steps = 2000 if diffedu.quick() else 8000
data_pool = gmm.sample(50_000, generator=g).float()  # a fixed training set, drawn once
net, losses = train_eps_mlp(lambda b, gen: data_pool[torch.randint(len(data_pool), (b,),
                                                                   generator=gen)],
                            process_small, train_steps, batch=256, hidden=128, generator=g)
net = net.double().requires_grad_(False)  # trained: from here on no autograd graph is built
eps_model = Predictor(net, "eps", process_small)
x_gen = ddpm(torch.randn(1000, 2, generator=g, dtype=torch.float64),
             torch.arange(process_small.T, -1, -1, dtype=torch.float64), eps_model, process_small,
             generator=g)
fig, axes = figure(3, size=3.4)
axes[0, 0].plot(losses, lw=0.5)
axes[0, 0].set(xlabel="training step", ylabel="ε-loss (batch)", yscale="log",
               title="simplified loss")
scatter2d(axes[0, 1], gmm.sample(1000, generator=g), title="data (mixture)")
scatter2d(axes[0, 2], x_gen, title=f"trained ε-model, {process_small.T} ancestral steps",
          color="C1")
plt.show()

# %% [markdown]
# Do not expect the trained model's samples (right) to match the data (middle) exactly: points stray between the
# components and nearby components blur into each other. A small MLP after a couple of thousand Adam steps learns
# $\hat\varepsilon$ well where the data are dense and less well elsewhere, and ancestral sampling compounds the errors
# over 100 steps. The ELBO below measures the shortfall, and the per-step plot after it locates it against the exact
# denoiser.

# %%
n_elbo = 600 if diffedu.quick() else 5000
x0_test = gmm.sample(n_elbo, generator=g)
terms = elbo_terms(net, x0_test, process_small, generator=g)
independent = elbo_trajectory(net, x0_test, process_small, generator=g)
L_T = terms["prior"].mean().item()
L_trans = terms["transitions"].mean(1)  # (T-1,) one mean KL per step n = 2..T
L_0 = terms["reconstruction"].mean().item()
total_terms = terms["total"].mean().item()
se_terms = terms["total"].std().item() / math.sqrt(n_elbo)
total_indep = independent.mean().item()
se_indep = independent.std().item() / math.sqrt(n_elbo)
log_p_data = gmm.log_prob(x0_test).mean().item()
print("ELBO term by term (nats per sample; each L is a loss, ELBO = -(sum of L))")
print(f"  prior          L_T                = {L_T:9.4f}")
print(f"  transitions    sum_n L_(n-1)      = {L_trans.sum().item():9.4f}"
      f"   (n = 2..{process_small.T})")
for lo, hi in [(2, 10), (11, 50), (51, process_small.T)]:
    print(f"     of which    n = {lo:3d}..{hi:3d}      = "
          f"{L_trans[lo - 2:hi - 1].sum().item():9.4f}")
print(f"  reconstruction L_0                = {L_0:9.4f}")
print(f"  -(L_T + sum L + L_0)              = {-(L_T + L_trans.sum().item() + L_0):9.4f}")
print(f"ELBO, term by term                  = {total_terms:9.4f} ± {se_terms:.4f}")
print(f"ELBO, independent trajectory        = {total_indep:9.4f} ± {se_indep:.4f}")
print(f"exact E log p_data(x0)              = {log_p_data:9.4f}")

# %% tags=["nbval-check-output"]
tol = 4 * math.sqrt(se_terms**2 + se_indep**2)
sums_match = abs(-(L_T + L_trans.sum().item() + L_0) - total_terms) < 1e-9
assert sums_match
assert abs(total_terms - total_indep) < tol, (total_terms, total_indep, tol)
assert total_terms < log_p_data + 4 * se_terms
print(f"terms add up to the ELBO: {sums_match};  term-by-term ELBO = trajectory ELBO within 4 SE: "
      f"{abs(total_terms - total_indep) < tol};  ELBO below E log p_data: "
      f"{total_terms < log_p_data + 4 * se_terms}")

# %% [markdown]
# Which steps carry the KL? Plot the per-step terms $L_{n-1}$ of the trained model, and beside them those of the
# *exact* denoiser (the mixture's $\hat x_0$, the best any network can do). The early, low-noise steps carry the
# largest terms even for the exact denoiser: there $x_{n-1}$ still depends on $x_0$ in ways that $x_n$ does not reveal,
# and $p_\theta(x_{n-1}|x_n)$ sees only $x_n$. (In ε-form the weight $\beta_n/(2a_n(1-\bar\alpha_{n-1}))$ on the
# ε-error is also largest there; the tiny $\tilde\beta_n$ cancels.) So these terms are mostly not the network's fault:
# the gap between the two curves is. Much of their sum is paid back by the reconstruction term, $L_0 < 0$.

# %%
terms_exact = elbo_terms(lambda x, n: exact(x, n, "eps"), x0_test, process_small,
                         generator=torch.Generator().manual_seed(5))
L_trans_exact = terms_exact["transitions"].mean(1)
fig, axes = figure(1, size=4.5)
ax = axes[0, 0]
steps_n = range(2, process_small.T + 1)
ax.semilogy(steps_n, L_trans.clamp_min(1e-6).numpy(), ".-", ms=3, label="trained ε-model")
ax.semilogy(steps_n, L_trans_exact.clamp_min(1e-6).numpy(), "--", color="k", lw=1,
            label="exact denoiser")
ax.set(xlabel="step n", ylabel=r"$L_{n-1}$ (nats)", title="transition KL terms")
ax.legend(fontsize=8)
plt.show()
print(f"sum of L_(n-1) for n = 2..10: trained {L_trans[:9].sum().item():.2f},"
      f" exact {L_trans_exact[:9].sum().item():.2f}"
      f";  ELBO: trained {total_terms:.2f}, exact {terms_exact['total'].mean().item():.2f}")

# %% [markdown]
# ### MNIST: the shipped DDPM checkpoint
# The course ships a small, CPU-trained ε-model `mnist-ddpm` (`diffedu.mnist.pretrained.load`). We run ancestral sampling
# and show the reverse chain as an image strip: pure noise on the left, digits on the right. As in Ho et al.'s
# released sampler (`clip_denoised`; Algorithm 2 in the paper does not clip), $\hat x_0$ is clipped to the pixel range
# [−1, 1] at every step (`ClippedX0`; chapter 05 says why a briefly trained network needs it). In quick mode the chain
# skips steps (100 of the 1000); the posterior between any two steps $m < n$ has the same form, with
# $1 - \bar\alpha_n/\bar\alpha_m$ in place of $\beta_n$ (chapter 05 derives it). If the checkpoint is not in `data/checkpoints/` yet, the cell says so and moves on.

# %%
from diffedu import pretrained

if "mnist-ddpm" not in pretrained.available():
    print(f"Note: no mnist-ddpm checkpoint in {pretrained.CHECKPOINT_DIR} yet;"
          " the MNIST strip is skipped.")
else:
    model = pretrained.load("mnist-ddpm")
    mnist_process, mnist_pred = model.process, model.predictor
    T_m = int(mnist_process.T)
    # quick mode: ancestral over 100 of the T steps (a U-Net on CPU is slow)
    n_grid = 100 if diffedu.quick() else T_m
    ts_m = torch.linspace(T_m, 0, n_grid + 1, dtype=torch.float64)
    keep = set(torch.linspace(0, n_grid - 1, 8).round().long().tolist())
    frames = []
    n_img = 4 if diffedu.quick() else 6
    x_m = torch.randn(n_img, 1, 28, 28, generator=g)
    frames.append(x_m.clone())
    x_m = ddpm(x_m, ts_m, ClippedX0(mnist_pred), mnist_process, generator=g,
               callback=lambda d: frames.append(d["x"].clone()) if d["i"] in keep else None)
    fig, axes = plt.subplots(n_img, len(frames), figsize=(1.1 * len(frames), 1.1 * n_img + 0.4),
                             layout="constrained")
    for j, frame in enumerate(frames):
        for i in range(n_img):
            axes[i, j].imshow(to_numpy(frame[i, 0]), cmap="gray", vmin=-1, vmax=1)
            axes[i, j].axis("off")
        axes[0, j].set_title("x_T" if j == 0 else f"step {sorted(keep)[j - 1] + 1}", fontsize=8)
    fig.suptitle(f"mnist-ddpm: reverse chain, {n_grid} ancestral steps")
    plt.show()

# %% [markdown]
# ## Play
# Change T and the β range. The left plot shows $\bar\alpha_n$; the right, ancestral samples drawn with the *exact*
# denoiser. When $\bar\alpha_T$ is far from 0 the start $x_T\sim\mathcal N(0, I)$ does not match $q(x_T)$ — the prior
# term $L_T$ is large — and the samples inherit the mismatch, however good the denoiser: try T = 10 with both β's small,
# where $\bar\alpha_T \approx 1$ and the "samples" stay close to the Gaussian start.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.ddpm_schedule_panel()

# %% [markdown]
# ## Warm-up
# ### Warm-up 1 · ᾱ from the β's
# From the T β's, return $\bar\alpha_0, \dots, \bar\alpha_T$ (a tensor of T+1 values, $\bar\alpha_0 = 1$).

# %%
def alpha_bar_from_betas(betas: torch.Tensor) -> torch.Tensor:
    # BEGIN SOLUTION
    return torch.cat([torch.ones(1, dtype=betas.dtype), torch.cumprod(1 - betas, dim=0)])
    # END SOLUTION


check_alpha_bar(alpha_bar_from_betas)

# %% [markdown]
# ### Warm-up 2 · the posterior one step back
# Write the posterior $q(x_{n-1}\mid x_n, x_0)$: return its mean (shaped like `x_n`) and its variance (a float).
# `betas[n - 1]` is $\beta_n$.

# %%
def ddpm_posterior(x_n: torch.Tensor, x0: torch.Tensor, n: int, betas: torch.Tensor):
    # BEGIN SOLUTION
    alpha_bar = torch.cat([torch.ones(1, dtype=betas.dtype), torch.cumprod(1 - betas, dim=0)])
    beta_n, ab_n, ab_prev = betas[n - 1], alpha_bar[n], alpha_bar[n - 1]
    mean = (ab_prev.sqrt() * beta_n / (1 - ab_n) * x0
            + (1 - beta_n).sqrt() * (1 - ab_prev) / (1 - ab_n) * x_n)
    var = ((1 - ab_prev) / (1 - ab_n) * beta_n).item()
    return mean, var
    # END SOLUTION


check_posterior(ddpm_posterior)

# %% [markdown]
# ## Build it · DDPM's ancestral sampler
# Write the sampler of "Ancestral sampling" (Ho et al. 2020, Algorithm 2): `ddpm_sample(x_T, betas, eps_model, z)`
# starts at `x_T` (N, D) and walks n = T, T − 1, …, 1. At step n it asks the network `eps_model(x, n)` for $\hat\varepsilon$
# and draws from $p_\theta(x_{n-1}\mid x_n)$, the posterior with $x_0$ replaced by its estimate:
# $$x_{n-1} = \frac{1}{\sqrt{a_n}}\Big(x_n - \frac{\beta_n}{\sqrt{1-\bar\alpha_n}}\,\hat\varepsilon\Big) + \sqrt{\tilde\beta_n}\,z_{n-1},
#   \qquad \tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\,\beta_n .$$
# `betas[n - 1]` is $\beta_n$ and `z[n - 1]` (shape of `x_T`) is the standard normal draw of step n → n − 1, given so
# that the grader can follow your chain exactly. Return $x_0$. (The mean is $\tilde\mu_n(x_n, \hat x_0)$ of the Theory
# written with ε̂; either form passes.) The grader checks that the network is asked at n = T, …, 1 (2 points), one
# 10-step chain against the exact recursion with the same draws (4 points), and — with the mixture's *exact* ε̂ as the
# network on the T = 100 chain of Check 3 — that 2000 samples are as close to the mixture as exact samples are
# (SW₂, 2 points) and that each component gets its share (2 points). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.ddpm import THINK, check_ddpm_sample, hint


def ddpm_sample(x_T, betas, eps_model, z):
    # BEGIN SOLUTION
    # ᾱ_0..ᾱ_T
    alpha_bar = torch.cat([torch.ones(1, dtype=betas.dtype), torch.cumprod(1 - betas, dim=0)])
    x = x_T
    for n in range(len(betas), 0, -1):
        beta_n, ab_n, ab_prev = betas[n - 1], alpha_bar[n], alpha_bar[n - 1]
        eps_hat = eps_model(x, n)
        # posterior mean with x̂₀(ε̂)
        mean = (x - beta_n / (1 - ab_n).sqrt() * eps_hat) / (1 - beta_n).sqrt()
        beta_tilde = (1 - ab_prev) / (1 - ab_n) * beta_n  # posterior variance; 0 at n = 1
        x = mean + beta_tilde.sqrt() * z[n - 1]
    return x
    # END SOLUTION


check_ddpm_sample(ddpm_sample)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# * Maximum likelihood of a latent-variable model needs a bound: the ELBO, tight when $q$ matches the true posterior.
# * The diffusion ELBO is a VAE's with a fixed, many-step encoder: a prior term, T−1 transition KLs and a
#   reconstruction term — here computed term by term and checked against an independent trajectory estimate.
# * The posterior $q(x_{n-1}|x_n,x_0)$ is Gaussian with mean linear in $(x_0, x_n)$ and variance $\tilde\beta_n$; with
#   matched variances each KL is a weighted ε-regression, and dropping the weights gives DDPM's simplified loss.
# * Ancestral sampling replaces $x_0$ by $\hat x_0$ in the posterior; with the exact denoiser it recovers the data.
#
# ## What next
# Chapter 05 keeps the marginals $q(x_n|x_0)$ but changes the chain: DDIM samples in far fewer steps, and with η = 0
# deterministically.
#
# ## References
# * J. Ho, A. Jain, P. Abbeel. *Denoising Diffusion Probabilistic Models*. NeurIPS 2020 (eqs. 3–14, Algorithms 1–2).
# * J. Sohl-Dickstein, E. Weiss, N. Maheswaranathan, S. Ganguli. *Deep Unsupervised Learning using Nonequilibrium
#   Thermodynamics*. ICML 2015.
# * D. P. Kingma, M. Welling. *Auto-Encoding Variational Bayes*. ICLR 2014.
# * C. Luo. *Understanding Diffusion Models: A Unified Perspective*. arXiv:2208.11970, 2022.
# * D. P. Kingma, T. Salimans, B. Poole, J. Ho. *Variational Diffusion Models*. NeurIPS 2021.

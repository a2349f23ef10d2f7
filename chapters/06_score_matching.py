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
# # 06 · Score matching and Langevin dynamics
#
# **You will** learn a score three ways — explicit, sliced and denoising score matching — prove numerically that
# explicit and denoising score matching differ by a constant, see denoising score matching as denoising, and sample with
# Langevin dynamics, watching it fail on separated modes and annealing fix it.
# **You need** chapters 01–03 · **Time** about 90 minutes

# %%
import math

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import EDM, gmm_2d
from diffedu.course.exercises import check_dsm_target, check_langevin_step
from diffedu.course.langevin import (esm_dsm_gap, play_langevin, relative_score_error, train_score,
                                     two_mode_mixture)
from diffedu.ui.plots import density_contours, figure, scatter2d, score_fields, to_numpy
from diffedu.ui.quiz import think

# tensors here are small: one thread is fastest, and a second one only spins on a busy CPU
torch.set_num_threads(1)
g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# **The picture first.** Eight Langevin chains on a two-mode density (contours; 80 % of the mass on the left), each
# following the score uphill plus a little noise: $x \leftarrow x + \tau\nabla\log p(x) + \sqrt{2\tau}\,z$. Each chain
# runs to the nearest mode and jitters there; none crosses the empty middle. This chapter learns the score from data
# and shows how a ladder of noise levels lets chains find the right mode weights.

# %%
demo = two_mode_mixture()
g_demo = torch.Generator().manual_seed(1)  # its own stream: the checks below draw from g as before
paths = [(torch.rand(8, 2, generator=g_demo, dtype=torch.float64) - 0.5) * 8]  # 8 starts
for _ in range(150):
    x = paths[-1]
    z = torch.randn(x.shape, generator=g_demo, dtype=torch.float64)
    paths.append(x + 0.02 * demo.score(x) + math.sqrt(2 * 0.02) * z)  # one Langevin step, τ = 0.02
paths = torch.stack(paths)  # (151, 8, 2)
fig, axes = figure(1, size=5.0)
density_contours(axes[0, 0], demo, lim=5)
for k in range(8):
    axes[0, 0].plot(to_numpy(paths[:, k, 0]), to_numpy(paths[:, k, 1]), lw=0.8, color=f"C{k}")
    axes[0, 0].plot(*to_numpy(paths[0, k]), "o", color=f"C{k}", ms=5)
axes[0, 0].set(xlabel="$x_1$", ylabel="$x_2$", title="Langevin chains (dots: starts)")
plt.show()

# %% [markdown]
# ## Theory
# **New symbols:** $\tilde x = x_0 + \sigma\varepsilon$ and its density $p_\sigma = p(\cdot\,;\sigma)$, the score network
# $s_\theta$, the Langevin step τ, the noise ladder $\sigma_1 > \dots > \sigma_L$ and its weight $\lambda(\sigma)$ (a function
# of σ, as in NCSN and EDM — not the log-SNR $\lambda_t$ of chapter 00), the constant $C$. (Here the process is EDM's, α = 1 and σ = t, so $p_\sigma$ is chapter 01's $p_t$ at $t = \sigma$.)
#
# We want a network $s_\theta(x)\approx\nabla_x\log p_\sigma(x)$, the score of the noisy data $\tilde x = x_0 + \sigma\varepsilon$.
#
# **Explicit score matching (ESM)** regresses on the true score — which we know only for toys:
# $L_{ESM}(\theta) = \mathbb E_{p_\sigma}\lVert s_\theta(\tilde x) - \nabla\log p_\sigma(\tilde x)\rVert^2$.
#
# **Implicit score matching** (Hyvärinen 2005). Expand the square; the cross term integrates by parts
# (boundary terms vanish): $\mathbb E[s_\theta^\top\nabla\log p] = \int s_\theta^\top\nabla p = -\mathbb E[\nabla\cdot s_\theta]$. So
# $L_{ESM} = \mathbb E\big[\lVert s_\theta\rVert^2 + 2\,\mathrm{tr}\,\nabla s_\theta\big] + C$ — no true score needed.
# **Sliced score matching** (Song et al. 2019) replaces the trace by Hutchinson's estimate $\mathrm{tr}A = \mathbb E_v[v^\top A v]$
# with $v\sim\mathcal N(0,I)$: $L_{SSM} = \mathbb E_{\tilde x, v}\big[v^\top\nabla(v^\top s_\theta) + \tfrac12(v^\top s_\theta)^2\big]$
# (half of the above, one backward pass per projection).
#
# **Denoising score matching (DSM)** (Vincent 2011) regresses on the score of the *conditional* $p(\tilde x|x_0)$:
# $L_{DSM} = \mathbb E\lVert s_\theta(\tilde x) - \nabla_{\tilde x}\log\mathcal N(\tilde x; x_0,\sigma^2 I)\rVert^2
#          = \mathbb E\lVert s_\theta(\tilde x) + \varepsilon/\sigma\rVert^2$.
# *Theorem:* $L_{ESM}(\theta) - L_{DSM}(\theta)$ does not depend on θ. Proof: both have the term $\mathbb E\lVert s_\theta\rVert^2$;
# the cross terms agree because $\nabla\log p_\sigma(\tilde x) = \mathbb E[\nabla\log p(\tilde x|x_0)\mid\tilde x]$
# (differentiate $p_\sigma = \int p(\tilde x|x_0)q(x_0)dx_0$), so
# $\mathbb E[s_\theta^\top\nabla\log p_\sigma] = \mathbb E[s_\theta^\top\nabla\log p(\tilde x|x_0)]$. What is left are the squared
# targets: $L_{ESM} - L_{DSM} = \mathbb E\lVert\nabla\log p_\sigma\rVert^2 - \mathbb E\lVert\varepsilon/\sigma\rVert^2 = C$ with
# $C = \mathbb E\lVert\nabla\log p_\sigma\rVert^2 - d/\sigma^2$, since $\mathbb E\lVert\varepsilon\rVert^2 = d$ in d dimensions.
#
# **DSM is denoising.** Write $s_\theta(\tilde x) = (D_\theta(\tilde x) - \tilde x)/\sigma^2$. Then
# $s_\theta + \varepsilon/\sigma = (D_\theta(\tilde x) - x_0)/\sigma^2$ and
# $L_{DSM} = \sigma^{-4}\,\mathbb E\lVert D_\theta(\tilde x) - x_0\rVert^2$: learning the score is learning a denoiser,
# and the optimum $D^* = \mathbb E[x_0|\tilde x]$ gives Tweedie's formula of chapter 02. Written with a noise predictor
# instead, $s_\theta = -\hat\varepsilon_\theta/\sigma$ (chapter 02), $\lVert s_\theta + \varepsilon/\sigma\rVert^2
# = \lVert\hat\varepsilon_\theta - \varepsilon\rVert^2/\sigma^2$: **DSM is DDPM's ε-loss (chapter 04) divided by σ²**.
#
# **Across noise levels.** Sampling (below, and chapters 07–10) needs the score at *every* σ, so one network
# $s_\theta(x, \sigma)$ takes σ as an input and is trained on a ladder $\sigma_1 > \dots > \sigma_L$ at once (NCSN, Song &
# Ermon 2019, eq. 5–6):
# $$L(\theta) = \frac1L\sum_{i=1}^L \lambda(\sigma_i)\;\mathbb E\,\big\lVert s_\theta(x_0 + \sigma_i\varepsilon, \sigma_i) + \varepsilon/\sigma_i\big\rVert^2 .$$
# Each term is minimised separately by the true score of its level, so any weight $\lambda(\sigma) > 0$ has the same
# optimum — but a finite network and a finite budget trade levels against each other, and λ sets the exchange rate.
# The target $\varepsilon/\sigma$ has size $\sqrt d/\sigma$, so with $\lambda = 1$ the smallest σ dominates; NCSN's choice
# $\lambda(\sigma) = \sigma^2$ makes every term O(1) (it is the ε-loss above, level by level). Iollo's *Diffusion Crash
# Course* and Miao Zhou's *Introduction to Diffusion Models* write the continuous version
# $\mathbb E_{t}\,\lambda(t)\,\lVert\cdot\rVert^2$ with t uniform; *A mathematical tutorial on diffusion models* (2024) writes
# the same loss for a denoiser, $\lambda(\sigma) = \sigma^{-2}\lambda^{ideal}(\sigma)$ with weight $\lambda^{ideal}$ on $\lVert D_\theta - x_0\rVert^2$.
# **Chapter 09 returns to this weight:** EDM's $\lambda(\sigma) = (\sigma^2 + \sigma_{data}^2)/(\sigma\sigma_{data})^2$ on
# $\lVert D_\theta - x_0\rVert^2$ is $\sigma^2(\sigma^2 + \sigma_{data}^2)/\sigma_{data}^2$ on the score loss, together with a
# σ-dependent scaling of the network's output (here simply $s_\theta = F_\theta/\sigma$, as in Song & Ermon 2020).
#
# **Langevin dynamics.** $x \leftarrow x + \tau\nabla\log p(x) + \sqrt{2\tau}\,z$ has $p$ as its stationary law as τ → 0
# (it discretizes $dx = \nabla\log p\,dt + \sqrt2\,dW$, whose Fokker–Planck equation is solved by $p$).
# **Failure modes:** between well separated modes the *density* is ≈ 0, so there is no data there and a learned
# score is poor. The exact score is not small there: it points back to the nearest mode, and inside each basin it is
# the score of that mode alone — it does not depend on the mixture weights. A chain started in one basin stays there
# for any practical number of steps (the expected escape time grows exponentially with the log-density barrier
# between the modes, 26–28 nats for the two modes below), so the modes' *weights* come from the start, not from
# $p$ (Song & Ermon 2019, §3.2: Langevin cannot recover them "in reasonable time").
# **Annealed Langevin** (Song & Ermon 2019) runs Langevin on $p(x;\sigma_1),\dots,p(x;\sigma_L)$ for a decreasing ladder:
# at large σ the modes merge and chains move freely; each level ends near the next level's law, so the next level
# starts close to its target. Step $\tau_i\propto\sigma_i^2$.

# %% [markdown]
# ## See it
# The exact score of the noisy 2-D mixture at σ = 0.5 and the scores learned by the three objectives (arrows shortened
# for display: length $|s|/(1 + |s|)$).

# %%
gmm, sigma = gmm_2d(), 0.5
steps = 400 if diffedu.quick() else 4000
nets = {name: train_score(name, gmm, sigma, steps) for name in ("esm", "ssm", "dsm")}
process = EDM()
u = torch.linspace(-3.5, 3.5, 21, dtype=torch.float64)
grid = torch.stack(torch.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2)  # (441, 2)
fields = {"exact": gmm.score(grid, sigma, process)}
fields.update({f"{name.upper()} (learned)": nets[name](grid.float()).detach().double()
               for name in ("esm", "ssm", "dsm")})
score_fields(u, fields,
             title=f"scores at σ = {sigma}: arrows show the direction, colour the size (exact) "
             "or the error against the exact score (learned)")
plt.show()

# %% [markdown]
# Langevin on two modes with weights 0.8 / 0.2 (contours: the true density), started uniformly: plain Langevin keeps
# the start's 50/50 split; annealed Langevin recovers 80/20.

# %%
out = play_langevin(0.3, 30, 10, n_samples=2000)
fig, axes = figure(3, size=3.4)
scatter2d(axes[0, 0], out["init"], lim=5, title="start: uniform", color="gray")
scatter2d(axes[0, 1], out["plain"], lim=5, title=f"Langevin: left share {out['frac_plain']:.2f}",
          color="C0")
scatter2d(axes[0, 2], out["annealed"], lim=5,
          title=f"annealed: left share {out['frac_annealed']:.2f}", color="C1")
for ax in axes[0]:
    density_contours(ax, out["gmm"], lim=5)
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. $L_{ESM} - L_{DSM}$ is one constant.** For three very different score functions (θ), estimate both losses on the
# same 100 000 samples. Each gap must lie within 5 standard errors of the constant
# $C = \mathbb E\lVert\nabla\log p_\sigma\rVert^2 - d/\sigma^2$ (itself estimated on those samples).

# %% tags=["nbval-check-output"]
thetas = {"s = -x": lambda x: -x, "s = 0": lambda x: torch.zeros_like(x),
          "DSM net": lambda x: nets["dsm"](x.float())}
for name, fn in thetas.items():
    r = esm_dsm_gap(fn, gmm, sigma, 100_000, generator=torch.Generator().manual_seed(5))
    assert abs(r["gap"] - r["constant"]) < 5 * r["se"], r
    print(f"{name:8s}: L_ESM = {r['esm']:.1f}, L_DSM = {r['dsm']:.1f}, gap = {r['gap']:.2f}"
          f"  (C = {r['constant']:.2f})")

# %% [markdown]
# **2. Learned vs exact scores.** Relative error $\mathbb E\lVert s_\theta - \nabla\log p_\sigma\rVert^2/\mathbb E\lVert\nabla\log p_\sigma\rVert^2$
# on fresh samples of $p_\sigma$, for the three objectives; each below 0.25 after the quick-mode training (and far below the
# untrained network's ≈ 1). ESM, with the exact target, is expected to be best; SSM, with its extra trace noise, worst (≈ 0.15 here).

# %% tags=["nbval-check-output"]
for name, net in nets.items():
    err = relative_score_error(net, gmm, sigma, generator=torch.Generator().manual_seed(6))
    assert err < 0.25, (name, err)
    print(f"{name}: relative score error {err:.2f} (tolerance 0.25)")

# %% [markdown]
# **3. Denoiser ↔ score.** With the exact mixture denoiser $D$, $(D(\tilde x) - \tilde x)/\sigma^2$ equals the exact
# score to float64 round-off ($10^{-10}$).

# %% tags=["nbval-check-output"]
x_noisy = gmm.sample(1000, sigma, process, generator=g)
score_from_d = (gmm.denoiser(x_noisy, sigma, process) - x_noisy) / sigma**2
diff = (score_from_d - gmm.score(x_noisy, sigma, process)).abs().max().item()
assert diff < 1e-10
decade = 10.0 ** math.ceil(math.log10(max(diff, 1e-16)))  # round-off, rounded up to a power of 10
print(f"max |(D - x)/sigma^2 - score| <= {decade:.0e} (tolerance 1e-10)")

# %% [markdown]
# **4. Annealing fixes the mode weights.** With 2000 chains, the annealed left-mode share is within 0.05 of 0.8
# (binomial standard error ≈ 0.01, plus finite-step bias), while plain Langevin stays off by more than 0.2.

# %% tags=["nbval-check-output"]
assert abs(out["frac_annealed"] - 0.8) < 0.05 and abs(out["frac_plain"] - 0.8) > 0.2, out
print(f"left-mode share: annealed {out['frac_annealed']:.2f} (0.8 ± 0.05);"
      f"  plain {out['frac_plain']:.2f} (off 0.8 by more than 0.2)")

# %% [markdown]
# ## Play
# τ is the step relative to the local variance: at level σ the step is $\tau\sigma^2$ (plain Langevin: $\tau\cdot 0.4^2$,
# one mode's variance), so τ is the fraction of the local width that one step moves. Try few noise levels (annealing
# off) and many, few steps and many.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.langevin_panel()

# %% [markdown]
# ## Warm-up
# ### Warm-up 1 · one Langevin step
# One Langevin step from x with the score, step τ and the noise z.

# %%
def langevin_step(x, score, tau, z):
    # BEGIN SOLUTION
    return x + tau * score + (2 * tau) ** 0.5 * z
    # END SOLUTION


check_langevin_step(langevin_step)

# %% [markdown]
# ### Warm-up 2 · the DSM regression target
# The score of $\mathcal N(\tilde x; x_0, \sigma^2 I)$ in $\tilde x$.

# %%
def dsm_target(x_tilde, x0, sigma):
    # BEGIN SOLUTION
    return -(x_tilde - x0) / sigma**2
    # END SOLUTION


check_dsm_target(dsm_target)

# %% [markdown]
# ## Build it · annealed Langevin dynamics
# Write the sampler behind the 80/20 figure: `annealed_langevin(x, score, sigma_max, sigma_min, tau, z)`. Build the
# geometric ladder of L = `z.shape[0]` noise levels $\sigma_i = \sigma_{max}(\sigma_{min}/\sigma_{max})^{i/(L-1)}$,
# i = 0, …, L − 1, and at each level run K = `z.shape[1]` Langevin steps with the score of $p(x;\sigma_i)$:
# $$x \leftarrow x + \tau_i\,s(x, \sigma_i) + \sqrt{2\tau_i}\,z_{i,k}, \qquad \tau_i = \tau\,\sigma_i^2 .$$
# τ is the step *relative to the level's variance* (the Play panel's "τ × local variance"): the score of
# $p(x;\sigma)$ is of size $1/\sigma^2$ near the data, so $\tau_i\,s$ moves x by a fixed fraction of the level's width
# (Song & Ermon 2019 write the same rule as $\alpha_i = \epsilon\,\sigma_i^2/\sigma_L^2$). `score(x, sigma)` is the
# exact score of the noisy mixture; `z[i, k]` (shape of `x`) are the draws of step k at level i.
#
# The grader runs your function with its own draws against the package's implementation (5 points, to 1e-8), then
# checks the samples: their sliced Wasserstein distance to exact samples of $p(x;\sigma_{min})$ against the
# exact-vs-exact floor (3 points), and the 0.8 / 0.2 mode weights that plain Langevin misses (2 points).
# Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.score_matching import THINK, check_annealed_langevin, hint


def annealed_langevin(x, score, sigma_max, sigma_min, tau, z):
    # BEGIN SOLUTION
    L, K = z.shape[0], z.shape[1]
    # σ_max → σ_min
    sigmas = torch.logspace(math.log10(sigma_max), math.log10(sigma_min), L, dtype=torch.float64)
    for i in range(L):
        tau_i = tau * sigmas[i] ** 2  # step scaled to the level's variance
        for k in range(K):
            # Langevin step at level σ_i
            x = x + tau_i * score(x, sigmas[i]) + (2 * tau_i).sqrt() * z[i, k]
    return x
    # END SOLUTION


check_annealed_langevin(annealed_langevin)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Deep dive · one network for every σ, and why the weight matters

# %% [markdown]
# (After the lab on purpose: it runs the package's `annealed_langevin`, the lab's answer.) Train $s_\theta(x, \sigma)$ on the two-mode mixture with
# the noise-conditional loss over the ladder of the annealing (10 levels from 4 to 0.05), once with NCSN's
# $\lambda = \sigma^2$ and once with $\lambda = 1$ (same steps, same seed; `diffedu.course.noise_conditional`). For each
# level print the relative error against the mixture's exact score, then run annealed Langevin with the *learned*
# score from the uniform start. With $\lambda = \sigma^2$ every level is learned (error < 0.15) and the left share is
# within 0.05 of 0.8 (1000 chains: binomial SE 0.013); with $\lambda = 1$ the large-σ levels, which annealing needs to
# move mass between the modes, are learned worst.

# %% tags=["nbval-check-output"]
from diffedu.course.langevin import annealed_langevin, mode_fraction, sigma_ladder
from diffedu.course.noise_conditional import level_errors, train_noise_conditional

two_modes, ladder = two_mode_mixture(), sigma_ladder(4.0, 0.05, 10)
steps_nc = 400 if diffedu.quick() else 3000
g_nc = torch.Generator().manual_seed(0)
start = (torch.rand(1000, 2, generator=g_nc, dtype=torch.float64) - 0.5) * 10  # on [−5, 5]²
print("sigma:       " + " ".join(f"{s_:6.2f}" for s_ in ladder.tolist()))
for label, weight in (("λ = σ²", None), ("λ = 1 ", torch.ones_like)):
    s_net = train_noise_conditional(two_modes, ladder, steps_nc, weight=weight)
    g_err = torch.Generator().manual_seed(1)
    errors = level_errors(s_net, two_modes, ladder, n=2000, generator=g_err)  # vs exact score
    with torch.no_grad():
        g_run = torch.Generator().manual_seed(2)
        x_end = annealed_langevin(start, s_net, ladder, 0.3 * 0.05**2, 30, g_run)  # learned score
    print(f"{label} error: " + " ".join(f"{e:6.3f}" for e in errors.tolist())
          + f" | left share {mode_fraction(x_end):.2f}")
    if weight is None:
        share = mode_fraction(x_end)
        assert errors.max() < 0.15 and abs(share - 0.8) < 0.05, (errors, share)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# * ESM needs the true score; implicit/sliced SM replace it by a trace (Hutchinson); DSM by the conditional score.
# * $L_{ESM} - L_{DSM}$ is a constant: DSM learns the true score, and with $s = (D - x)/\sigma^2$ it is denoising.
# * Langevin samples from a score but mixes poorly between modes; annealing over a σ ladder fixes the weights.
# * One network $s_\theta(x, \sigma)$ learns every level of the ladder; the weight $\lambda(\sigma)$ (NCSN: σ²) decides which
#   levels it learns well — chapter 09's EDM weighting is the same choice made for a denoiser.
#
# ## What next
# Chapter 07 makes the σ ladder continuous: SDEs, Euler–Maruyama and predictor–corrector sampling.
#
# ## References
# * A. Hyvärinen, *Estimation of non-normalized statistical models by score matching*, JMLR 2005.
# * P. Vincent, *A connection between score matching and denoising autoencoders*, Neural Computation 2011.
# * Y. Song, S. Garg, J. Shi, S. Ermon, *Sliced score matching*, UAI 2019.
# * Y. Song, S. Ermon, *Generative modeling by estimating gradients of the data distribution*, NeurIPS 2019.
# * Y. Song, S. Ermon, *Improved techniques for training score-based generative models*, NeurIPS 2020.
# * G. Roberts, R. Tweedie, *Exponential convergence of Langevin distributions*, Bernoulli 1996.

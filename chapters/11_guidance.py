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
# # 11 · Guidance and conditional sampling
#
# **You will** derive the conditional score from Bayes' rule, build classifier guidance and classifier-free guidance
# (CFG) on top of any sampler, measure on an exact 2-D mixture what CFG with $w>1$ really samples (neither the
# conditional law nor the "sharpened" one), solve linear inverse problems with DPS and a projection method against the
# exact posterior, and steer the shipped MNIST model with a guidance-scale slider, then inpaint a masked digit.
# **You need** chapters 02, 05 and 10 (the shipped MNIST model is introduced where it is used; chapter 12 shows how it
# was trained) · **Time** about 120 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import Predictor, gmm_2d, make_process, pretrained
from diffedu.course.exercises import check_classifier_grad, check_gaussian_conditioning
from diffedu.guidance import linear_gaussian_posterior
from diffedu.course.guidance_demos import MixturePredictor, cfg_mixture, inverse_mixture
from diffedu.course.mnist_demos import guidance_table, inpaint
from diffedu.metrics import sliced_wasserstein
from diffedu.ui.plots import digit_grid, figure, scatter2d
from diffedu.ui.quiz import think

g = diffedu.seed(0)
QUICK = diffedu.quick()
print(diffedu.banner())


def sw(a, b):
    """Sliced Wasserstein distance SW₂ with fixed projections (so that every number below is
    reproducible)."""
    return float(sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0)))


# %% [markdown]
# ## The idea in motion
# Classifier-free guidance on a 2-D mixture with three classes, from the same noise: w = 0 samples the whole mixture,
# w = 1 the class 0, w = 4 bends the paths further and piles the samples into the class's tightest part.

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML

from diffedu.course.animation import animation_html
from diffedu.course.guidance_demos import guidance_opening

# press play; the frames are embedded, so it plays offline
HTML(animation_html(*guidance_opening()))

# %% [markdown]
# ## Theory
#
# **New symbols:** y or c (a label or a measurement), ∅ (the null label), $p_{uncond}$, γ (classifier-guidance
# scale), w (CFG weight), $u_c, u_\varnothing$, $\pi_w$ (the tilted law), A and $\sigma_y$ (a linear measurement), $K_k, S_k$
# (gain and evidence covariance), ζ (DPS step), $A^+$ (pseudo-inverse).
#
# Time runs data → noise as everywhere in the course: $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, and a sampler needs
# only the score $\nabla\log p_t(x_t)$ (or any of its affine relatives $\hat x_0$, $\hat\varepsilon$, $\hat v$ —
# chapter 02). To sample $p(x_0\mid y)$ instead of $p(x_0)$ we need the score of the noised *conditional* law,
# $p_t(x_t\mid y) = \int p(x_t\mid x_0)\,p(x_0\mid y)\,dx_0$ — the same forward process, applied to the conditional data.
#
# ### The conditional score is the unconditional score plus a classifier's gradient
# Bayes' rule at noise level t, $p_t(x_t\mid y) = p_t(y\mid x_t)\,p_t(x_t)/p(y)$, and $p(y)$ does not depend on $x_t$:
# $$\nabla_{x_t}\log p_t(x_t\mid y) = \nabla_{x_t}\log p_t(x_t) + \nabla_{x_t}\log p_t(y\mid x_t).$$
# Here $p_t(y\mid x_t) = \int p(y\mid x_0)\,p(x_0\mid x_t)\,dx_0$ is a classifier of *noisy* inputs.
# **Classifier guidance** (Sohl-Dickstein et al. 2015; Dhariwal & Nichol 2021) trains such a classifier and samples
# with $\tilde s = \nabla\log p_t(x_t) + \gamma\,\nabla\log p_t(y\mid x_t)$ (this γ is the classifier scale, not
# chapter 09's churn); γ = 1 is the conditional score, γ > 1 sharpens. On a labelled Gaussian mixture the noisy
# classifier is exact: $p_t(y\mid x_t) = \sum_{k:\ell_k=y}P(k\mid x_t)$,
# the responsibilities of the noised mixture grouped by label (`mixture_classifier`), and by Bayes its gradient is
# $\nabla\log p_t(x_t\mid y) - \nabla\log p_t(x_t)$, two closed-form mixture scores (`mixture_classifier_grad`).
#
# ### Classifier-free guidance
# Ho & Salimans (2022) drop the classifier. One network $u_\theta(x_t, t, c)$ is trained with labels that are replaced
# by a null label ∅ with probability $p_{uncond}$ (label dropout, `train.drop_labels`; our MNIST models use
# $p_{uncond}=0.1$ and ∅ = 10). The regression targets are the same as before, so the minimiser is
# $u(x_t\mid c) = E[\text{target}\mid x_t, c]$ on labelled draws and $u(x_t\mid\varnothing) = E[\text{target}\mid x_t]$ on
# dropped ones: one network, both models. The **guided field** is
# $$\tilde u(x_t) = (1-w)\,u(x_t\mid\varnothing) + w\,u(x_t\mid c),$$
# w = 0 unconditional, w = 1 conditional, w > 1 extrapolates away from the unconditional prediction. (Ho & Salimans
# write $\tilde\varepsilon = (1+w')\,\varepsilon_c - w'\varepsilon_\varnothing$: our w is their $1 + w'$, the "guidance
# scale" of later libraries — their w′ = 1 is our w = 2.) In score form
# $\tilde s = s(x_t) + w\,[s(x_t\mid c) - s(x_t)] = \nabla\log p_t(x_t) + w\,\nabla\log p_t(c\mid x_t)$: CFG is classifier
# guidance with scale w and the *implicit* classifier $p_t(c\mid x_t)\propto p_t(x_t\mid c)/p_t(x_t)$.
#
# **It does not matter what the network predicts.** Every conversion between kinds is affine in the prediction with
# coefficients that depend only on $(x_t, t)$: $u' = A_t\,u + B_t\,x_t$ (e.g. $\hat x_0 = (x_t - \sigma_t\hat\varepsilon)/\alpha_t$).
# Because $(1-w) + w = 1$,
# $$A_t\big[(1-w)u_\varnothing + w\,u_c\big] + B_t x_t = (1-w)\,(A_t u_\varnothing + B_t x_t) + w\,(A_t u_c + B_t x_t),$$
# so guiding ε and converting to $\hat v$ is the same as guiding $\hat v$: CFG is one field, whatever the
# parametrization (tested for x0, ε, score and velocity networks on four processes: VP, cosine, EDM, flow).
#
# **In code: a conditional denoiser.** A guided field is just another predictor, so every sampler of chapter 10 takes
# it unchanged. `diffedu.guidance.CondDenoiser` — the conditional denoiser of J. Iollo's *Diffusion Crash Course*
# (chapter 10 maps its other classes) — ties a base predictor, one kind of conditioning and a sampler into one object:
# `CondDenoiser(process, predictor, w=…)` for CFG, `classifier_grad=…, scale=γ` for classifier guidance, and
# `operator=A, measurement=y, method="dps"` or `"projection"` for the inverse problems below; `.sample(x_T or n, N, y=…)`
# draws from $p(x_0\mid y)$ (or its guided approximation). The See-it section uses it.
#
# ### What w > 1 samples — and what it does not
# The guided score at each t is $\nabla\log\big[p_t(x_t\mid c)^w\,p_t(x_t)^{1-w}\big]$. It is tempting to read this as
# "sampling the tilted law $\pi_w(x_0)\propto p(x_0\mid c)^w p(x_0)^{1-w}$", which sharpens the class. But noising does
# not commute with powers and products: $\int p(x_t\mid x_0)\,\pi_w(x_0)\,dx_0 \ne p_t(x_t\mid c)^w p_t(x_t)^{1-w}$ (up
# to normalisation), so the guided field is not the score of the noised tilted law — nor of any noised law in general —
# and no theorem says where its trajectories end. Below we measure it on the mixture, where all three (CFG samples, the
# exact conditional, the tilted law) are computable.
#
# ### Linear inverse problems
# A measurement $y = A x_0 + \sigma_y z$, $z\sim N(0, I)$ (inpainting: A selects pixels; denoising: A = I; downsampling:
# A averages). We want $p(x_0\mid y)\propto p(y\mid x_0)\,p(x_0)$.
#
# *Exact answer for a mixture prior.* For one Gaussian component $N(\mu_k, \Sigma_k)$, $(x_0, y)$ is jointly Gaussian
# with $\mathrm{Cov}(y) = S_k = A\Sigma_kA^\top + \sigma_y^2 I$ and $\mathrm{Cov}(x_0, y) = \Sigma_kA^\top$. Gaussian
# conditioning gives, with the gain $K_k = \Sigma_kA^\top S_k^{-1}$,
# $$\mu_k' = \mu_k + K_k(y - A\mu_k),\qquad \Sigma_k' = \Sigma_k - K_kA\Sigma_k .$$
# The mixture's posterior mixes these with weights $\pi_k' \propto \pi_k\,N(y;\ A\mu_k,\ S_k)$ — each component's
# evidence (`linear_gaussian_posterior`, tested against importance-weighted Monte Carlo).
#
# *DPS* (Chung et al. 2023) needs $\nabla\log p_t(y\mid x_t)$ and approximates $p_t(y\mid x_t)\approx p(y\mid x_0 =
# \hat x_0(x_t))$, differentiating through the denoiser. After each ordinary sampler step it moves
# $x \leftarrow x - \zeta\,\nabla_{x_t}\lVert y - A\hat x_0(x_t)\rVert^2/\lVert y - A\hat x_0\rVert$ (the paper's
# normalised step; `dps`). Since $\nabla\lVert r\rVert^2/\lVert r\rVert = 2\nabla\lVert r\rVert$, this is the authors' code's
# step $\text{scale}\cdot\nabla\lVert y - A\hat x_0\rVert$ with scale = 2ζ. The approximation ignores the spread of
# $x_0$ given $x_t$, large at high noise.
#
# *Projection* (range–null-space, DDNM; Wang et al. 2023) makes each denoised estimate agree with a noiseless y:
# $\hat x_0 \leftarrow A^+y + (I - A^+A)\,\hat x_0$ — for inpainting, "paste the known pixels into $\hat x_0$" — and lets
# the sampler carry on (`Projection`, a predictor: any integrator uses it). It fits y exactly but never reweights the
# modes by their evidence.

# %% [markdown]
# ## See it
#
# ### CFG on the 2-D mixture: w = 1 is exact, w > 1 is neither the conditional nor the tilted law
# `gmm_2d` has three classes of two components each. `MixturePredictor` answers exactly for a label or for ∅ (the whole
# mixture): the limit of a perfectly trained CFG network. We sample class 0 with Heun (20 EDM steps) at w = 1, 2, 4 and
# compare with exact samples of $q(x_0\mid y=0)$ and of the tilted law (tabulated on a fine grid). Each distance has its
# floor beside it: the SW between two exact sample sets of the same size.

# %%
N_TOY = 1000 if QUICK else 4000
rows = {w: cfg_mixture(w, label=0, n=N_TOY, n_steps=20) for w in (1.0, 2.0, 4.0)}
fig, axes = figure(4, size=3.0)
scatter2d(axes[0, 0], rows[1.0]["exact"], title="exact q(x0 | y = 0)", color="gray", lim=3.2)
for ax, (w, r) in zip(axes[0, 1:], rows.items()):
    scatter2d(ax, r["x"], title=f"CFG w = {w:g}: SW {r['sw_exact']:.3f}", lim=3.2)
plt.show()

# %% tags=["nbval-check-output"]
print(f"{'w':>4} {'SW to q(x0|y)':>14} {'floor':>6} {'SW to tilted':>13} {'floor':>6}"
      f" {'tilted vs q(x0|y)':>18}  mass of the class's two components (exact: 0.667 / 0.333)")
for w, r in rows.items():
    print(f"{w:4g} {r['sw_exact']:14.2f} {r['floor_exact']:6.2f} {r['sw_tilted']:13.2f}"
          f" {r['floor_tilted']:6.2f} {r['sw_tilted_exact']:18.2f}"
          f"  {r['mass'][0]:.2f} / {r['mass'][1]:.2f}")
# w = 1: the conditional law, to sampling noise
assert rows[1.0]["sw_exact"] < rows[1.0]["floor_exact"] + 0.03
# w > 1: not the conditional law
assert all(rows[w]["sw_exact"] > 4 * rows[w]["floor_exact"] for w in (2.0, 4.0))
# ... nor the tilted law
assert all(rows[w]["sw_tilted"] > 4 * rows[w]["floor_tilted"] for w in (2.0, 4.0))

# %% [markdown]
# Class 0 sits far from the other classes, so $p(y=0\mid x_0)\approx 1$ wherever $q(x_0\mid y=0)$ has mass and the tilted
# law is practically the conditional one (last column: at the floor). CFG is not: at high noise the classes overlap,
# $p_t(y\mid x_t)$ is far from 1, and $w\,\nabla\log p_t(y\mid x_t)$ pushes hard — the samples shrink towards the
# class's heavier, better separated component, whose share of the mass grows from 2/3 to 0.84 at w = 4. The picture of
# "sharpening $p(x\mid c)$" is qualitatively right for the mode weights and wrong in the details.

# %% [markdown]
# ### Inverse problems on the mixture: DPS and projection against the exact posterior
# Three measurements of the 2-D mixture: *inpainting* (we see only the first coordinate, $x_1 = -1.5$), *downsampling*
# (we see the average $(x_1+x_2)/2 = 0.2$), both nearly noiseless ($\sigma_y = 0.05$), and *denoising* ($A = I$,
# $y = (0.5, 0.8)$, $\sigma_y = 0.5$). The prior model is exact (the mixture's denoiser on VP), every sampler runs 60
# (full mode: 200) DDIM(η = 1) steps on a log-SNR grid from the same noise; projection assumes σ_y = 0 and is skipped for denoising.

# %%
gmm = gmm_2d()
problems = {"inpaint": ([[1.0, 0.0]], [-1.5], 0.05), "downsample": ([[0.5, 0.5]], [0.2], 0.05),
            "denoise": ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.8], 0.5)}
N_INV = 1500 if QUICK else 8000
N_STEPS_INV = 60 if QUICK else 200
inverse = inverse_mixture(problems, N_INV, N_STEPS_INV, zeta=0.05)

fig, axes = figure(3, nrows=3, size=2.8)
for row, (name, out) in zip(axes, inverse.items()):
    scatter2d(row[0], out["exact"], title=f"{name}: exact posterior", color="gray", lim=3.2)
    for ax, method in zip(row[1:], ("dps", "projection")):
        if method in out:
            scatter2d(ax, out[method], title=f"{method}: SW {sw(out[method], out['exact']):.2f}",
                      lim=3.2)
        else:
            ax.set_axis_off()
plt.show()

# %% tags=["nbval-check-output"]
print(f"{'problem':>10} {'floor':>6} {'prior':>6} {'DPS':>6} {'projection':>10}"
      "   (SW₂ to the exact posterior)")
for name, out in inverse.items():
    proj = f"{sw(out['projection'], out['exact']):10.2f}" if "projection" in out else f"{'—':>10}"
    print(f"{name:>10} {out['floor']:6.2f} {out['prior']:6.2f}"
          f" {sw(out['dps'], out['exact']):6.2f} {proj}")
    assert sw(out["dps"], out["exact"]) < out["prior"]  # DPS does condition on y ...
for name in ("inpaint", "downsample"):  # ... and projection fits y exactly
    A = torch.tensor(problems[name][0], dtype=torch.float64)
    assert torch.allclose(inverse[name]["projection"] @ A.T,
                          torch.tensor(problems[name][1], dtype=torch.float64))

# %% [markdown]
# Projection lands exactly on the measurement; DPS lands on it with a scatter of samples that its normalised steps did
# not pull in. Both get the *mode weights* wrong: the evidence $N(y; A\mu_k, S_k)$ that reweights the components never
# enters a local gradient or a projection. For downsampling the exact posterior puts 0.84 of its mass on the two
# components of class 0 (upper left; $\pi_k'$ below) and 0.16 on the lower-right segment; both methods put far more
# there. For denoising, DPS squeezes the posterior — a broad cloud over two components — into a small clump near y:
# with A = I its step never sees σ_y and pulls every sample towards $\hat x_0 = y$. A smaller ζ leaves the samples
# unconditioned instead: across ζ from 0.003 to 0.3 (100 steps; `tests/test_guidance.py` runs the scan) the distance
# stays at about 0.7 or more (0.70–1.4, depending on ζ and the seed).
# The floor column says how much of each number is sampling noise.

# %% tags=["nbval-check-output"]
for name in ("downsample", "denoise"):
    print(f"{name}: exact posterior component weights",
          [round(v, 3) for v in inverse[name]["weights"].tolist()])

# %% [markdown]
# ### MNIST: the guidance scale trades diversity for fidelity
# The shipped `mnist-flow` checkpoint is a small conditional U-Net (about 0.3 M parameters) trained on MNIST, pixels
# scaled to [−1, 1], as a rectified-flow velocity model $u_\theta(x_t, t, c)$ with labels c = 0–9 and the null label
# ∅ = 10 ($p_{uncond} = 0.1$): exactly the CFG network of the Theory. `pretrained.load` returns it with its model card;
# chapter 12 shows how it was trained and evaluated, but nothing here needs more than this. It is sampled
# with CFG at several w, the same noise for every w (Euler, Karras grid). For each w we measure with the separate
# evaluation classifier (`load_classifier()`) the **conditional accuracy** (does it read the asked-for digit?) and the
# **within-class diversity**: the mean distance between the classifier features of two samples of the same class.
# The first printed line says how long the checkpoint was trained (minutes on a shared CPU: rough digits); read the
# trend with w.

# %%
model = pretrained.load("mnist-flow")
classifier = pretrained.load_classifier()
print("mnist-flow:", model.card.get("steps"), "training steps on", model.card.get("device"))
WS = (0.0, 1.0, 2.0, 4.0) if QUICK else (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
table = guidance_table(model, classifier, WS, n_per_class=2 if QUICK else 50,
                       n_steps=5 if QUICK else 20)
print(f"{'w':>4} {'accuracy':>9} {'diversity':>10}"
      f"   ({len(table[0]['x'])} samples per w, labels 0–9 in turn)")
for r in table:
    print(f"{r['w']:4g} {r['accuracy']:9.3f} {r['diversity']:10.2f}")
assert (table[-1]["accuracy"] > table[0]["accuracy"]
        and table[-1]["diversity"] < table[1]["diversity"])

# %%
fig, axes = plt.subplots(1, len(table), figsize=(2.6 * len(table), 2.8))
for ax, r in zip(axes, table):
    digit_grid(ax, r["x"][::len(r["x"]) // 10][:10], nrow=5, title=f"w = {r['w']:g}")
plt.show()

# %% [markdown]
# w = 0 ignores the label (accuracy at chance, 0.1, with the unconditional model's full variety); w = 1 is the
# conditional model; larger w buys accuracy with diversity: the digits of one class look more and more alike — the
# MNIST face of the mixture's shrinking clusters above.

# %% [markdown]
# ### MNIST inpainting: the bottom half of test digits
# The measurement is the top half (a `Mask`, σ_y = 0); the same unconditional model (label ∅) fills in the rest with
# DPS (ζ = 3, DDIM η = 1) and with projection (DDIM η = 1), 10 steps each. There is no exact posterior here; two things
# are measured: the mean error on the observed pixels (projection: zero by construction) and whether the evaluation
# classifier reads the true digit from the completed image — against reading it from the half image with the bottom
# set to background. Six digits (quick mode) make a coarse measure: one digit is 0.17.

# %%
data = diffedu.mnist.data.load_mnist()
N_INPAINT = 6 if QUICK else 16
x_true, y_true = data.x_test[:N_INPAINT], data.y_test[:N_INPAINT]
mask = torch.ones(1, 28, 28)
mask[:, 14:, :] = 0  # observe the top half
masked = x_true * mask - (1 - mask)  # unobserved pixels shown as background (−1)
N_STEPS_INPAINT = 10 if QUICK else 50
filled = {m: inpaint(model, x_true, mask, m, n_steps=N_STEPS_INPAINT, zeta=3.0,
                     generator=torch.Generator().manual_seed(3))
          for m in ("dps", "projection")}
fig, axes = plt.subplots(4, 1, figsize=(6, 6.4), layout="constrained")
for ax, (title, x) in zip(axes, [("observed (top half)", masked), ("DPS", filled["dps"]),
                                  ("projection", filled["projection"]), ("truth", x_true)]):
    digit_grid(ax, x, nrow=N_INPAINT, title=title)
plt.show()
with torch.no_grad():
    read = {k: (classifier(v).argmax(1) == y_true).double().mean().item()
            for k, v in [("half image", masked), *filled.items(), ("truth", x_true)]}
    err = {m: (((x - x_true) * mask).abs().sum() / (mask.sum() * len(x))).item()
           for m, x in filled.items()}
print("classifier reads the true digit:", {k: round(v, 3) for k, v in read.items()})
print("mean |error| on the observed pixels (pixel range [−1, 1]):",
      {k: f"{v:.1e}" for k, v in err.items()})

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# The exact posterior of the Theory — Gaussian conditioning per component, reweighted by each component's evidence —
# against Bayes' rule by brute force: weight 400 000 prior draws by the likelihood $N(y;\ Ax_0, \sigma_y^2 I)$ of the
# denoising problem; the weighted mean must match the exact posterior mean within 4 standard errors (the standard
# error of a self-normalised importance-sampling mean, $\sqrt{\sum_i w_i^2 (x_i - \bar x)^2}$).

# %% tags=["nbval-check-output"]
A_den, y_den = (torch.tensor(v, dtype=torch.float64) for v in problems["denoise"][:2])
sigma_den = problems["denoise"][2]
post = linear_gaussian_posterior(gmm, A_den, y_den, sigma_den)
exact_mean = (post.weights[:, None] * post.means).sum(0)
x_prior = gmm.sample(400_000, generator=torch.Generator().manual_seed(4))
# likelihood weights
w_is = torch.softmax(-((y_den - x_prior @ A_den.T) ** 2).sum(1) / (2 * sigma_den**2), 0)
is_mean = (w_is[:, None] * x_prior).sum(0)
se = ((w_is[:, None] ** 2) * (x_prior - is_mean) ** 2).sum(0).sqrt()
assert ((is_mean - exact_mean).abs() < 4 * se).all()
print("exact posterior mean", [round(v, 2) for v in exact_mean.tolist()],
      "= importance-weighted mean", [round(v, 2) for v in is_mean.tolist()],
      "within 4 standard errors")

# %% [markdown]
# ## Play
# Move the guidance scale. On the mixture (exact models, class y) watch the samples leave the exact conditional law
# and the tilted one as w grows; on MNIST watch the digits become cleaner and more alike.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.cfg_mixture_panel()

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.mnist_guidance_panel()


# %% [markdown]
# ## Warm-up
#
# ### Warm-up 1 · Gaussian conditioning
# Implement `gaussian_posterior(mu, cov, A, y, sigma_y)` returning the mean and covariance
# of $p(x_0\mid y)$ for $x_0\sim N(\mu, \Sigma)$ and $y = Ax_0 + \sigma_y z$ — one component of
# `linear_gaussian_posterior`. The check compares with the information form
# $\Sigma'^{-1} = \Sigma^{-1} + A^\top A/\sigma_y^2$, a different route to the same answer.

# %%
def gaussian_posterior(mu, cov, A, y, sigma_y):
    # BEGIN SOLUTION
    S = A @ cov @ A.T + sigma_y**2 * torch.eye(A.shape[0], dtype=A.dtype)  # Cov(y)
    gain = cov @ A.T @ torch.linalg.inv(S)  # K = Σ Aᵀ S⁻¹
    return mu + gain @ (y - A @ mu), cov - gain @ A @ cov
    # END SOLUTION


check_gaussian_conditioning(gaussian_posterior)

# %% [markdown]
# ### Warm-up 2 · the noisy classifier's gradient
# Implement `classifier_grad(gmm, x_t, t, process, y)` =
# $\nabla_{x_t}\log p_t(y\mid x_t)$ for a labelled mixture and an integer label y, using only `gmm.restrict(y)` and
# `.score(x_t, t, process)`. (Start from Bayes' rule at noise level t, as in the Theory.)

# %%
def classifier_grad(gmm, x_t, t, process, y):
    # BEGIN SOLUTION
    return gmm.restrict(y).score(x_t, t, process) - gmm.score(x_t, t, process)
    # END SOLUTION


check_classifier_grad(classifier_grad)

# %% [markdown]
# ## Build it · classifier-free guidance and a DPS step
# Write the two conditioning tools of this chapter yourself; the grader runs them on the labelled 2-D mixture, where
# every answer is exact.
#
# **`cfg(predictor, x_t, t, kind, y, w, null_label)`** returns the guided prediction
# $$\tilde u = (1-w)\,u(x_t\mid\varnothing) + w\,u(x_t\mid y)$$
# of the asked `kind` ('x0', 'eps', 'score' or 'velocity'). `predictor(x_t, t, kind, y=labels)` is a label-conditional
# model (here the exact `MixturePredictor`); the unconditional prediction is asked for with the label `null_label`
# for every sample; `y` holds one label per sample (shape (N,)).
#
# **`dps_step(x_t, t, predictor, A, y, zeta, prior_step)`** is one step of DPS: with $\hat x_0 = $
# `predictor(x_t, t, "x0")` (unconditional) and the residual $r = y - A\hat x_0(x_t)$,
# $$x_{next} = \text{prior\_step}(x_t, \hat x_0) - \zeta\,\frac{\nabla_{x_t}\lVert r\rVert^2}{\lVert r\rVert},$$
# one norm per sample; `A` is an (M, 2) matrix, `y` one measurement (M,), and `prior_step(x, x0_hat)` the prior's own
# DDIM step (η = 1, its noise fixed by the grader). The gradient goes through the denoiser: `torch.autograd.grad`.
#
# The grader checks `cfg` against the package's guidance in every kind, on two processes, at three w (3 points); then
# samples with it: w = 1 must draw $q(x\mid y)$ and w = 0 must draw $q(x)$, within the sampling floor (2 points).
# It checks one `dps_step` against the exact step for three measurements (3 points), then runs your step for 60
# steps on the inpainting problem above and compares with the exact posterior (2 points). Stuck? `hint(1)`, then
# `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.guidance import THINK, check_guidance, hint


def cfg(predictor, x_t, t, kind, y, w, null_label):
    # BEGIN SOLUTION
    null = torch.full_like(y, null_label)  # "no label" for every sample
    u_null = predictor(x_t, t, kind, y=null)
    u_cond = predictor(x_t, t, kind, y=y)
    return (1 - w) * u_null + w * u_cond  # the guided field
    # END SOLUTION


def dps_step(x_t, t, predictor, A, y, zeta, prior_step):
    # BEGIN SOLUTION
    x = x_t.detach().requires_grad_(True)
    x0_hat = predictor(x, t, "x0")  # the denoiser, differentiable in x_t
    resid2 = ((y - x0_hat @ A.T) ** 2).sum(1)  # (N,) ‖y − A x̂0‖²
    (grad,) = torch.autograd.grad(resid2.sum(), x)  # ∇_{x_t} ‖y − A x̂0(x_t)‖², per sample
    x_next = prior_step(x_t, x0_hat.detach())  # the prior's ordinary step
    # normalised measurement correction
    return x_next - zeta * grad / resid2.detach().sqrt()[:, None]
    # END SOLUTION


check_guidance(cfg, dps_step)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it · the package's guidance, every kind

# %% [markdown]
# The package's `ClassifierFreeGuidance` computes the same field in one batched call (the two halves $[x_t; x_t]$ with
# labels $[\varnothing; y]$). With it, the claims of the Theory checked with the mixture's exact models standing in for
# four networks that predict x0, ε, the score and the velocity: CFG is the same field in every kind, w = 1 is the
# conditional model, and classifier guidance with the exact noisy classifier equals CFG at the same scale.

# %% tags=["nbval-check-output"]
from diffedu.guidance import ClassifierFreeGuidance, ClassifierGuidance
from diffedu.course.guidance_demos import mixture_classifier_grad

x_t = 1.5 * torch.randn(256, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
labels = torch.randint(0, 3, (256,), generator=torch.Generator().manual_seed(5))
worst = 0.0
for pname, t in (("vp", 0.4), ("cosine", 0.5), ("edm", 0.8), ("flow", 0.45)):
    process = make_process(pname)
    exact = MixturePredictor(gmm, process, null_label=3)
    nets = {k: Predictor(lambda x, t, y=None, k=k: exact(x, t, k, y=y), k, process)
            for k in ("x0", "eps", "score", "velocity")}
    ref = ClassifierFreeGuidance(nets["eps"], 3.0, null_label=3)(x_t, t, "velocity", y=labels)
    for kind, net in nets.items():  # guide a network of each kind, read the result as a velocity
        got = ClassifierFreeGuidance(net, 3.0, null_label=3)(x_t, t, "velocity", y=labels)
        worst = max(worst, ((got - ref).abs().max() / ref.abs().max()).item())
    cond = ClassifierFreeGuidance(nets["x0"], 1.0, null_label=3)(x_t, t, "x0", y=labels)
    worst = max(worst, (cond - exact(x_t, t, "x0", y=labels)).abs().max().item())
    cg = ClassifierGuidance(lambda x, t, kind: exact(x, t, kind),
                            lambda x, t, y: mixture_classifier_grad(gmm, x, t, process, y), process,
                            scale=3.0)
    cfg_score = ClassifierFreeGuidance(exact, 3.0, null_label=3)(x_t, t, "score", y=labels)
    worst = max(worst, ((cg(x_t, t, "score", y=labels) - cfg_score).abs().max()).item())
assert worst < 1e-9
print("CFG across kinds, w = 1 vs the conditional model, classifier guidance vs CFG:"
      " agree to < 1e-9")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Deep dive · the conditional denoiser

# %% [markdown]
# (After the lab on purpose: `CondDenoiser` runs classifier-free guidance, the lab's answer.) The same CFG samples
# from one object: `CondDenoiser` with the exact label-conditional model, w = 2, Heun on the
# Karras grid — bit for bit what `cfg_mixture` drew above (same noise).

# %% tags=["nbval-check-output"]
from diffedu.guidance import CondDenoiser

edm = make_process("edm")
cond = CondDenoiser(edm, MixturePredictor(gmm_2d(), edm, null_label=3), w=2.0, null_label=3,
                    integrator="heun")
x_cond = cond.sample(N_TOY, 20, shape=(2,), generator=torch.Generator().manual_seed(0), y=0)
same = torch.equal(x_cond, rows[2.0]["x"])
assert same
print(f"CondDenoiser(edm, exact model, w=2, 'heun').sample(...) == cfg_mixture(w=2)['x']: {same}")

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# - $\nabla\log p_t(x_t\mid y) = \nabla\log p_t(x_t) + \nabla\log p_t(y\mid x_t)$: conditioning is a classifier's gradient
#   added to the score. With an exact classifier and γ = 1 (or CFG with w = 1) the sampler draws $p(x_0\mid y)$.
# - CFG trains one network with label dropout and samples with $(1-w)\,u(x\mid\varnothing) + w\,u(x\mid c)$; it is the
#   same field in every parametrization because conversions are affine with weights summing to one.
# - w > 1 samples neither $p(x_0\mid c)$ nor the tilted $p(x_0\mid c)^w p(x_0)^{1-w}$: the guided field is not the score
#   of a noised density. On the mixture the distance to both is many times the sampling floor.
# - For linear inverse problems with a mixture prior the posterior is exact (Gaussian conditioning + evidence weights).
#   DPS and projection both satisfy the measurement but misweight the modes.
#
# ## What next
# Chapter 12 trains and evaluates the MNIST models used here; `python -m diffedu eval mnist` measures FD-MNIST and
# conditional accuracy. Try classifier guidance on MNIST with a noisy classifier (train it on $x_t$ for random t), or
# DPS with a σ_y-aware likelihood $N(y; A\hat x_0, r_t^2AA^\top + \sigma_y^2 I)$ (ΠGDM, Song et al. 2023).
#
# ## References
# - J. Sohl-Dickstein et al., *Deep Unsupervised Learning using Nonequilibrium Thermodynamics*, ICML 2015.
# - P. Dhariwal, A. Nichol, *Diffusion Models Beat GANs on Image Synthesis*, NeurIPS 2021 (classifier guidance).
# - J. Ho, T. Salimans, *Classifier-Free Diffusion Guidance*, NeurIPS workshop 2021 / arXiv:2207.12598.
# - H. Chung, J. Kim, M. T. Mccann, M. L. Klasky, J. C. Ye, *Diffusion Posterior Sampling for General Noisy Inverse
#   Problems*, ICLR 2023.
# - Y. Wang, J. Yu, J. Zhang, *Zero-Shot Image Restoration Using Denoising Diffusion Null-Space Model*, ICLR 2023 (DDNM).
# - J. Song, A. Vahdat, M. Mardani, J. Kautz, *Pseudoinverse-Guided Diffusion Models for Inverse Problems*, ICLR 2023.
# - A. Lugmayr et al., *RePaint: Inpainting using Denoising Diffusion Probabilistic Models*, CVPR 2022.

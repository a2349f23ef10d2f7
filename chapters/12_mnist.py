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
# # 12 · MNIST: a real diffusion model, end to end
#
# **You will** load MNIST, meet a small class-conditional U-Net with EDM's preconditioning, watch a short training run's
# loss fall, sample the shipped checkpoints with several samplers and step counts, read their measured FD-MNIST and
# conditional accuracy, learn how to retrain them on a GPU — and write EDM's training loss and an Euler sampler
# yourself, then watch your loss train a network and your sampler draw digits.
# **You need** chapters 02, 09, 10 · **Time** about 90 minutes

# %%
import json

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import pretrained
from diffedu.mnist.data import load_mnist
from diffedu.course.exercises import check_drop_labels
from diffedu.ui.plots import digit_grid
from diffedu.ui.quiz import think
from diffedu.mnist.train import train_diffusion

g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## Theory
#
# **Data.** MNIST (LeCun, Cortes & Burges) holds 70 000 grey 28×28 digits. We map each pixel $p\in\{0..255\}$ to
# $x = 2p/255 - 1\in[-1,1]$, so that the data scale is close to EDM's $\sigma_{data} = 0.5$.
#
# **Network.** A U-Net $F_\theta(x, c, y)$ (Ronneberger et al. 2015) with GroupNorm residual blocks at 28, 14 and 7 pixels;
# the noise input $c$ enters as a sinusoidal embedding, the label $y\in\{0..9\}$ as a learned embedding, and $y = 10$
# means *no label* — the null class that classifier-free guidance (chapter 11) needs. Training drops each label to 10
# with probability $p_{uncond} = 0.1$.
#
# **EDM preconditioning** (Karras et al. 2022). Instead of asking $F_\theta$ for $x_0$ directly we write
# $$D_x(x;\sigma) = c_{skip}(\sigma)\,x + c_{out}(\sigma)\,F_x\big(c_{in}(\sigma)\,x;\ c_{noise}(\sigma)\big).$$
# Choose $c_{in}$ so that the network's input has unit variance: $\operatorname{Var}(x) = \sigma_{data}^2 + \sigma^2$ gives
# $c_{in} = 1/\sqrt{\sigma^2+\sigma_{data}^2}$. The effective target of $F$ is $(x_0 - c_{skip}x)/c_{out}$; its variance is
# $\big((1-c_{skip})^2\sigma_{data}^2 + c_{skip}^2\sigma^2\big)/c_{out}^2$. Minimising it over $c_{skip}$ gives
# $c_{skip} = \sigma_{data}^2/(\sigma^2+\sigma_{data}^2)$, and setting it to 1 gives
# $c_{out} = \sigma\sigma_{data}/\sqrt{\sigma^2+\sigma_{data}^2}$. Finally $c_{noise} = \tfrac14\ln\sigma$.
# At small σ, $c_{skip}\to1$ and $c_{out}\to0$: the net only nudges its input; at large σ it predicts $x_0$ outright.
#
# **One loop, three objectives.** With $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ the loss is always a weighted regression
# onto $a_t x_0 + b_t\varepsilon$ (chapter 02): `ddpm` regresses ε on `DiscreteDDPM`, `flow` the velocity
# $\dot\alpha_t x_0 + \dot\sigma_t\varepsilon$ on `RectifiedFlow`, `edm` the preconditioned $D_x$ onto $x_0$ on `EDM` with
# $\ln\sigma\sim\mathcal N(-1.2, 1.2^2)$ and weight $(\sigma^2+\sigma_{data}^2)/(\sigma\sigma_{data})^2$.
# The weights we keep are an exponential moving average $\theta_{ema}\leftarrow d\,\theta_{ema} + (1-d)\,\theta$.
#
# **Why the loss reads in the hundreds.** The weight $\lambda(\sigma) = 1/c_{out}^2$ makes the effective target of $F$,
# $(x_0 - c_{skip}x_t)/c_{out}$, have unit variance *per pixel*; the course's losses sum the squared error over the 784
# pixels of an image (and average over the batch). A network that outputs $F = 0$ therefore scores about 784 × (the
# target's mean square), and a good one far less: the numbers below are sums over pixels, not per-pixel errors.

# %% [markdown]
# ## See it

# %%
data = load_mnist()
print(data)
fig, ax = plt.subplots(figsize=(4, 4))
digit_grid(ax, data.x_train[:36], title="the first 36 training digits")
plt.show()

# %% [markdown]
# A short live training run (EDM objective, a tiny U-Net, CPU). It is far too short to draw good digits: watch the
# loss fall, then use the shipped checkpoints.

# %%
steps, budget = (300, 20.0) if diffedu.quick() else (2000, 300.0)
run = train_diffusion("edm", steps, batch=16, lr=1e-3, channels=(8, 16), data=data, time_budget=budget,
                      progress=False)
loss = torch.tensor(run["losses"])
smooth = torch.nn.functional.avg_pool1d(loss[None, None], 10, 1)[0, 0] if len(loss) >= 10 else loss
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(loss, alpha=0.3, label="per step")
ax.plot(range(len(smooth)), smooth, label="mean of 10")
ax.set(xlabel="step", ylabel="EDM loss", title=f"live training: {run['steps']} steps on {run['device'].split()[0]}")
ax.legend()
plt.show()

# %% [markdown]
# The shipped checkpoints, sampled with several integrators and step counts (labels 0–9 in each row), the last panel
# with classifier-free guidance w = 2 (chapter 11). Same starting noise in every panel.

# %%
shipped = [n for n in ("mnist-edm", "mnist-ddpm", "mnist-flow") if n in pretrained.available()]
print("shipped:", shipped)
configs = [("euler", 20, 1.0), ("dpmpp_2m", 10, 1.0), ("heun", 10, 1.0), ("heun", 10, 2.0)]
for name in shipped:
    model = pretrained.load(name)
    fig, axes = plt.subplots(1, len(configs), figsize=(3.3 * len(configs), 3.6))
    for ax, (integ, n, w) in zip(axes, configs):
        x = model.sample(20, torch.arange(20) % 10, n_steps=n, integrator=integ, w=w,
                         generator=torch.Generator().manual_seed(0))
        digit_grid(ax, x, nrow=10, title=f"{name}\n{integ}, {n} steps" + (f", w = {w:g}" if w != 1 else ""))
    plt.show()

# %% [markdown]
# ## Check it
#
# Every number below rests on the evaluation classifier. Its card states its test accuracy; the first 2000 test digits
# must agree with it within 4 standard errors ($\sqrt{p(1-p)/2000}$).

# %%
# NBVAL_CHECK_OUTPUT
classifier = pretrained.load_classifier()
with torch.no_grad():
    acc = (classifier(data.x_test[:2000]).argmax(1) == data.y_test[:2000]).double().mean().item()
p_card = pretrained.card("mnist-classifier")["test_accuracy"]
assert abs(acc - p_card) < 4 * (p_card * (1 - p_card) / 2000) ** 0.5 + 1e-12
print(f"classifier accuracy on 2000 test digits {acc:.3f}; its card says {p_card:.3f} on the whole test set")

# %% [markdown]
# The measured figures of the shipped checkpoints, read from their model cards (each row written by
# `python -m diffedu eval mnist --checkpoint NAME --sampler S --nfe N --guidance W --n 500 --write-card --force`).
# FD-MNIST is the Fréchet distance between classifier features of n generated digits (labels 0–9 in turn) and n test
# digits; the *floor* is the same distance between n train and n test digits — what a perfect generator scores at this
# n. Accuracy is the share of samples the evaluation classifier reads as the asked-for label; w is the guidance scale
# (w = 1: no guidance; chapter 11).

# %%
clf_card = pretrained.card("mnist-classifier")
print(f"evaluation classifier: {clf_card['params']:,} parameters, test accuracy {clf_card['test_accuracy']:.4f}")
print(f"{'checkpoint':11s} {'params':>7s} {'trained':>14s} {'sampler':>8s} {'NFE':>4s} {'w':>4s} {'n':>5s} "
      f"{'FD':>7s} {'floor':>6s} {'FD/floor':>8s} {'acc':>6s} {'smp/s':>6s}")
for name in shipped:
    c = pretrained.card(name)
    trained = f"{c['wall_s'] / 60:.0f} min {c['device'].split()[0]}"
    for e in c.get("evaluations", []):
        print(f"{name:11s} {c['params']:7,d} {trained:>14s} {e['integrator']:>8s} {e['nfe']:4d} {e['guidance']:4g} "
              f"{e['n']:5d} {e['fd_mnist']:7.2f} {e['fd_floor']:6.2f} {e['fd_mnist'] / e['fd_floor']:8.1f} "
              f"{e['conditional_accuracy']:6.3f} {e['samples_per_s']:6.1f}")

# %% [markdown]
# How fast does a checkpoint get good? `train mnist --fd-at 300,600,1190` kept a copy of the EMA weights at those
# wall times and measured FD-MNIST of each (n = 500, Heun, 10 steps) after training; the cards store the curve
# (mnist-ddpm's last point, at about 2090 s, comes from its continued run, `--init mnist-ddpm --fd-at 890`).

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name in shipped:
    curve = pretrained.card(name).get("fd_vs_wall_time") or []
    if curve:
        ax.plot([p["wall_s"] / 60 for p in curve], [p["fd_mnist"] / p["fd_floor"] for p in curve], "o-", label=name)
ax.set(xlabel="training wall time (min)", ylabel="FD-MNIST / floor", yscale="log",
       title="FD-MNIST against training time (EMA snapshots)")
ax.legend()
plt.show()

# %% [markdown]
# ## Play
#
# Pick a checkpoint, an integrator, the number of steps, a label (10 = no label) and the classifier-free guidance
# scale w (chapter 11 derives it: w = 1 is the conditional model, w > 1 pushes the digits to look *more* like their
# label and less varied; with no label there is nothing to guide towards).

# %%
# NBVAL_IGNORE_OUTPUT
if shipped:
    display(diffedu.ui.widgets.mnist_sampler_panel(tuple(shipped)))

# %% [markdown]
# ## Warm-up
#
# **Label dropout (drop_labels).** For classifier-free guidance: given labels `y`, a probability `p_uncond` and
# uniform draws `u` (one per label), replace a label by the null class 10 where `u < p_uncond`.

# %%
def drop_labels(y, p_uncond, u):
    # BEGIN SOLUTION
    return torch.where(u < p_uncond, torch.full_like(y, 10), y)
    # END SOLUTION


check_drop_labels(drop_labels)

# %% [markdown]
# ## Build it · EDM's training loss and an Euler sampler
# Until now `train_diffusion` and `model.sample` did the work. Write both ends of the pipeline yourself.
#
# **`training_loss(F, x0, y, n_sigma, eps, u)`** is the loss of one training step for the raw U-Net `F(x, c_noise, y)`
# (x0: (B, 1, 28, 28) digits, y: (B,) labels; the draws `n_sigma` (B,) standard normal, `eps` like x0, `u` (B,)
# uniform). With σ_data = 0.5, $P_{mean} = -1.2$, $P_{std} = 1.2$, $p_{uncond} = 0.1$:
# 1. σ is log-normal: $\sigma = \exp(P_{mean} + P_{std}\,n)$; labels with $u < p_{uncond}$ become the null class 10;
# 2. $x_t = x_0 + \sigma\varepsilon$ and $D_x = c_{skip}\,x_t + c_{out}\,F(c_{in}\,x_t,\ c_{noise},\ y)$ with the
#    four coefficients of the Theory;
# 3. the loss is the batch mean of $\lambda(\sigma)\,\lVert D_x - x_0\rVert^2$ (summed over the pixels), with
#    $\lambda(\sigma) = 1/c_{out}^2$.
#
# **`euler_sampler(D, x_T, sigmas, y)`** integrates the probability-flow ODE $dx/d\sigma = (x - D(x;\sigma))/\sigma$
# from `x_T` over the decreasing grid `sigmas` (Karras, ending with 0): one Euler step per interval; `D(x, sigma, y)`
# is the shipped `mnist-edm` denoiser, with `sigma` a number.
#
# The grader compares your loss with the package's own EDM loss run with the same draws (4 points), trains a tiny
# U-Net with it for 200 steps and asks the loss to halve (2 points); it compares your sampler with the Euler
# recursion on the shipped model (2 points) and lets the evaluation classifier read 50 digits of yours at 20 steps
# (NFE 20; 2 points). About 20 s of CPU. Stuck? `hint(1)`, then `hint(2)`.

# %%
from diffedu.labs.mnist import THINK, check_edm_lab, hint


def training_loss(F, x0, y, n_sigma, eps, u, sigma_data=0.5, p_mean=-1.2, p_std=1.2, p_uncond=0.1):
    # BEGIN SOLUTION
    sigma = torch.exp(p_mean + p_std * n_sigma)  # (B,) log-normal noise levels
    y = torch.where(u < p_uncond, torch.full_like(y, 10), y)  # label dropout
    s = sigma**2 + sigma_data**2
    c_skip, c_out, c_in, c_noise = sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt(), sigma.log() / 4
    per_image = (-1, 1, 1, 1)  # a coefficient per sample, broadcast over (1, 28, 28)
    x_t = x0 + sigma.view(per_image) * eps
    F_x = F(c_in.view(per_image) * x_t, c_noise, y)  # (B, 1, 28, 28)
    D_x = c_skip.view(per_image) * x_t + c_out.view(per_image) * F_x
    weight = 1 / c_out**2  # λ(σ)
    return (weight * (D_x - x0).pow(2).flatten(1).sum(1)).mean()
    # END SOLUTION


def euler_sampler(D, x_T, sigmas, y):
    # BEGIN SOLUTION
    x = x_T
    for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        d_cur = (x - D(x, sigma, y)) / sigma  # dx/dσ
        x = x + (sigma_next - sigma) * d_cur  # Euler step (into σ = 0 it returns D)
    return x
    # END SOLUTION


check_edm_lab(training_loss, euler_sampler)

# %% [markdown]
# The coefficients your loss used, as the package computes them (`edm_preconditioning`, chapter 09): at small σ,
# $c_{skip}\to1$ and $c_{out}\to0$ — the net only nudges its input; at large σ it predicts $x_0$ outright. The
# preconditioning keeps the network's input at unit variance for every σ, $c_{in}^2(\sigma^2+\sigma_{data}^2) = 1$,
# and at σ = σ_data gives $c_{skip} = 1/2$ (tolerance 1e-12, float64).

# %%
from diffedu.nets import edm_preconditioning

sigma = torch.logspace(-2.7, 1.9, 200, dtype=torch.float64)
c_skip, c_out, c_in, c_noise = edm_preconditioning(sigma, 0.5)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for c, name in [(c_skip, "c_skip"), (c_out, "c_out"), (c_in, "c_in"), (c_noise, "c_noise")]:
    ax.semilogx(sigma, c, label=name)
ax.set(xlabel="σ", ylabel="coefficient", title="EDM preconditioning, σ_data = 0.5")
ax.legend()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
unit = (c_in**2 * (sigma**2 + 0.25) - 1).abs().max().item()
half = edm_preconditioning(torch.tensor([0.5], dtype=torch.float64), 0.5)[0].item()
assert unit < 1e-12 and abs(half - 0.5) < 1e-12
print(f"max |c_in²(σ²+σ_data²) − 1| < 1e-12: {unit < 1e-12};  c_skip(σ_data) = {half:.3f}")

# %% [markdown]
# ## Think

# %%
# NBVAL_IGNORE_OUTPUT
think(*THINK)

# %% [markdown]
# ## Summary
#
# * MNIST scaled to [−1, 1], a small class-conditional U-Net (0.3 M parameters in the shipped checkpoints) with a null
#   class, and one training loop serve all three objectives (ε on DDPM, velocity on rectified flow, preconditioned
#   $x_0$ on EDM).
# * EDM's $c_{skip}, c_{out}, c_{in}, c_{noise}$ keep the network's input and target at unit variance at every σ.
# * The shipped checkpoints were trained for 20–35 minutes each on a shared 2-core **CPU** (no GPU was available): they
#   draw recognisable digits, and classifier-free guidance (w = 2) lifts their conditional accuracy a lot, but their
#   FD-MNIST is several times the floor. Their cards say exactly how they were made and what they score; the
#   FD-against-time curve shows that they were still improving when training stopped.
#
# ## What next
#
# Retrain on a GPU (the same commands; a few minutes on an H100), then re-measure:
# ```
# python -m diffedu bench train-mnist --json
# python -m diffedu train classifier --steps 3000 --batch 256 --device cuda --out data/checkpoints --force
# python -m diffedu train mnist --objective edm --steps 100000 --batch 256 --channels 32,64,64 --bf16 --compile \
#     --time-budget 180 --fd-at 60,120,180 --device cuda --out data/checkpoints --force
# python -m diffedu eval mnist --checkpoint mnist-edm --sampler heun --nfe 20 --n 10000 --device cuda --write-card --force
# ```
# Chapter 11 derives classifier-free guidance and uses these checkpoints for guided sampling and inpainting.
#
# ## References
#
# * Y. LeCun, C. Cortes, C. J. C. Burges, *The MNIST database of handwritten digits* (CC BY-SA 3.0).
# * O. Ronneberger, P. Fischer, T. Brox, *U-Net*, MICCAI 2015.
# * J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020.
# * T. Karras, M. Aittala, T. Aila, S. Laine, *Elucidating the Design Space of Diffusion-Based Generative Models*, NeurIPS 2022.
# * X. Liu, C. Gong, Q. Liu, *Flow Straight and Fast*, ICLR 2023; Y. Lipman et al., *Flow Matching*, ICLR 2023.
# * J. Ho, T. Salimans, *Classifier-Free Diffusion Guidance*, 2022.
# * M. Heusel et al., *GANs Trained by a Two Time-Scale Update Rule* (FID), NeurIPS 2017.

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
# conditional accuracy, and learn how to retrain them on a GPU.
# **You need** chapters 04, 08, 09, 10 · **Time** about 30 minutes

# %%
import json

import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import pretrained
from diffedu.mnist.data import load_mnist
from diffedu.course.exercises import check_drop_labels, check_edm_preconditioning
from diffedu.nets import EDMPrecond, UNet, edm_preconditioning
from diffedu.ui.plots import digit_grid
from diffedu.mnist.models import build_model
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
# onto $a_t x_0 + b_t\varepsilon$ (chapter 08): `ddpm` regresses ε on `DiscreteDDPM`, `flow` the velocity
# $\dot\alpha_t x_0 + \dot\sigma_t\varepsilon$ on `RectifiedFlow`, `edm` the preconditioned $D_x$ onto $x_0$ on `EDM` with
# $\ln\sigma\sim\mathcal N(-1.2, 1.2^2)$ and weight $(\sigma^2+\sigma_{data}^2)/(\sigma\sigma_{data})^2$.
# The weights we keep are an exponential moving average $\theta_{ema}\leftarrow d\,\theta_{ema} + (1-d)\,\theta$.

# %% [markdown]
# ## See it

# %%
data = load_mnist()
print(data)
fig, ax = plt.subplots(figsize=(4, 4))
digit_grid(ax, data.x_train[:36], title="the first 36 training digits")
plt.show()

# %%
sigma = torch.logspace(-2.7, 1.9, 200, dtype=torch.float64)
c_skip, c_out, c_in, c_noise = edm_preconditioning(sigma, 0.5)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for c, name in [(c_skip, "c_skip"), (c_out, "c_out"), (c_in, "c_in"), (c_noise, "c_noise")]:
    ax.semilogx(sigma, c, label=name)
ax.set(xlabel="σ", ylabel="coefficient", title="EDM preconditioning, σ_data = 0.5")
ax.legend()
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
# The preconditioning keeps the network's input at unit variance for every σ: $c_{in}^2(\sigma^2+\sigma_{data}^2) = 1$,
# and at σ = σ_data it gives $c_{skip} = 1/2$ (tolerance 1e-12, float64).

# %%
# NBVAL_CHECK_OUTPUT
unit = (c_in**2 * (sigma**2 + 0.25) - 1).abs().max().item()
half = edm_preconditioning(torch.tensor([0.5], dtype=torch.float64), 0.5)[0].item()
assert unit < 1e-12 and abs(half - 0.5) < 1e-12
print(f"max |c_in²(σ²+σ_data²) − 1| < 1e-12: {unit < 1e-12};  c_skip(σ_data) = {half:.3f}")

# %% [markdown]
# The measured figures of the shipped checkpoints, read from their model cards (each row written by
# `python -m diffedu eval mnist --checkpoint NAME --sampler S --nfe N --guidance W --n 500 --write-card`).
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
# ## Exercise
#
# **Exercise 1 (edm_coefficients).** Write EDM's four preconditioning coefficients.

# %%
def edm_coefficients(sigma, sigma_data):
    # BEGIN SOLUTION
    s = sigma**2 + sigma_data**2
    return sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt(), sigma.log() / 4
    # END SOLUTION


check_edm_preconditioning(edm_coefficients)

# %% [markdown]
# **Exercise 2 (drop_labels).** Label dropout for classifier-free guidance: given labels `y`, a probability `p_uncond`
# and uniform draws `u` (one per label), replace a label by the null class 10 where `u < p_uncond`.

# %%
def drop_labels(y, p_uncond, u):
    # BEGIN SOLUTION
    return torch.where(u < p_uncond, torch.full_like(y, 10), y)
    # END SOLUTION


check_drop_labels(drop_labels)

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
# python -m diffedu train classifier --steps 3000 --batch 256 --device cuda
# python -m diffedu train mnist --objective edm --steps 100000 --batch 256 --channels 32,64,64 --bf16 --compile \
#     --time-budget 180 --fd-at 60,120,180 --device cuda
# python -m diffedu eval mnist --checkpoint mnist-edm --sampler heun --nfe 20 --n 10000 --device cuda --write-card
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

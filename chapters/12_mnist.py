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
# ## The idea in motion
# The shipped `mnist-edm` checkpoint draws the labels 0–9 in 12 Heun steps. Top: the state $x_t$ (scaled to unit
# variance), bottom: the network's guess $\hat x_0$ at the same σ. The guess settles on a digit long before the noise
# is gone.

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML

from diffedu.course.animation import animation_html
from diffedu.course.mnist_opening import digit_opening

HTML(animation_html(*digit_opening()))  # press play; the frames are embedded, so it plays offline

# %% [markdown]
# ## Theory
#
# **New symbols:** p (a pixel value), $F_\theta(x, c_{noise}, y)$ (the U-Net), $\theta_{ema}$ and d (the EMA
# weights and decay).
#
# **Data.** MNIST (LeCun, Cortes & Burges) holds 70 000 grey 28×28 digits. We map each pixel $p\in\{0..255\}$ to
# $x = 2p/255 - 1\in[-1,1]$, so that the data scale is close to EDM's $\sigma_{data} = 0.5$.
#
# **Network.** A U-Net $F_\theta(x, c_{noise}, y)$ (Ronneberger et al. 2015) with GroupNorm residual blocks at 28, 14 and 7 pixels;
# the noise input $c_{noise}$ enters as a sinusoidal embedding, the label $y\in\{0..9\}$ as a learned embedding, and $y = 10$
# means *no label* — the null class that classifier-free guidance (chapter 11) needs. Training drops each label to 10
# with probability $p_{uncond} = 0.1$.
#
# **EDM preconditioning** (Karras et al. 2022; derived in chapter 09, § "Preconditioning from unit variances"). The
# network is wrapped as
# $$D_x(x;\sigma) = c_{skip}(\sigma)\,x + c_{out}(\sigma)\,F_x\big(c_{in}(\sigma)\,x;\ c_{noise}(\sigma)\big),$$
# with $c_{in} = 1/\sqrt{\sigma^2+\sigma_{data}^2}$ (unit-variance input), $c_{skip} = \sigma_{data}^2/(\sigma^2+\sigma_{data}^2)$
# and $c_{out} = \sigma\sigma_{data}/\sqrt{\sigma^2+\sigma_{data}^2}$ (unit-variance target with the smallest $c_{out}$), and
# $c_{noise} = \tfrac14\ln\sigma$ (the σ the network is told, scaled to O(1); chapter 09 says why).
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
run = train_diffusion("edm", steps, batch=16, lr=1e-3, channels=(8, 16), data=data,
                      time_budget=budget, progress=False)
loss = torch.tensor(run["losses"])
k = 10  # window of the running mean, centred: the mean of steps i … i+9 is drawn at step i + 4.5
smooth = loss.unfold(0, k, 1).mean(1) if len(loss) >= k else loss
centre = torch.arange(len(smooth)) + ((k - 1) / 2 if len(loss) >= k else 0)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(loss, alpha=0.3, label="per step")
ax.plot(centre, smooth, label=f"mean of {k} (centred)")
where = run["device"].split()[0]
ax.set(xlabel="step", ylabel="EDM loss", title=f"live training: {run['steps']} steps on {where}")
ax.legend()
plt.show()

# %% [markdown]
# ### Sampling the shipped checkpoints
#
# Three figures, one question each; every row starts from the same noise and asks for the digits 0–9 in turn.
# First the three objectives of the Theory side by side, each sampled with DPM-Solver++(2M) at 10 steps (NFE 10;
# chapter 10). All three draw digits; their measured quality is in the table of *Check it*.

# %%
from diffedu.course.mnist_demos import out_of_range, sample_rows

shipped = [n for n in ("mnist-edm", "mnist-ddpm", "mnist-flow") if n in pretrained.available()]
print("shipped:", shipped)
digits = torch.arange(10)


def show_rows(xs, labels, title):
    """One row of ten digits per setting, labelled on the left; 1,000 px wide, 80 px per digit."""
    fig, axes = plt.subplots(len(xs), 1, figsize=(10, 1.05 * len(xs) + 0.5), squeeze=False)
    for ax, x, label in zip(axes[:, 0], xs, labels):
        digit_grid(ax, x, nrow=10)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=11)
    fig.suptitle(title, fontsize=12)
    plt.show()


rows = [dict(name=n, integrator="dpmpp_2m", n_steps=10) for n in shipped]
show_rows(sample_rows(rows, digits), shipped, "three objectives, DPM-Solver++(2M), 10 steps")

# %% [markdown]
# **How many steps?** mnist-edm with Heun at 3, 5, 10 and 20 steps. A Karras grid of N steps has N noise levels
# and a final jump to σ = 0. With 3 steps the first jump goes from σ = 80 straight to σ ≈ 2.5: one Euler step from
# pure noise lands near the *mean* image of the label, and no later step can put the detail back. The jumps of a
# short grid are also too large for Heun's correction (below), so these 3 steps cost 3 NFE, the 5 steps 8, the 10
# steps 19 and the 20 steps 39. Around 10 steps the digits stop changing.

# %%
rows = [dict(name="mnist-edm", integrator="heun", n_steps=n) for n in (3, 5, 10, 20)]
show_rows(sample_rows(rows, digits), [f"{r['n_steps']} steps" for r in rows],
          "mnist-edm, Heun: more steps, the same noise")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Deep dive · clipping $\hat x_0$ and Heun at few steps

# %% [markdown]
# Pixels lie in [−1, 1], but nothing forces a network's $\hat x_0$ to
# stay there. By default `Pretrained.sample` clips every $\hat x_0$ to [−1, 1] (`clip_x0=True`, what Ho et al.'s DDPM
# sampler does; `parametrization.ClippedPredictor`), and Heun skips its second evaluation where it would multiply
# the network's error by more than 10 (`max_correction_gain`). Why that bound: the corrected step
# $x + \tfrac{\Delta t}{2}(d + d')$ evaluates $d'$ at $t_{next}$, and an error δ of $\hat x_0$ there moves the result
# by $\tfrac12(r - 1)\,\delta$ on EDM, $r = \sigma_t/\sigma_{t_{next}}$ the factor by which the noise level falls.
# EDM's 2-step grid is [80, 0.002, 0]: r = 40 000, and the correction is evaluated on a point one huge Euler jump
# away from where the network was trained. Grids of 8 steps or more have every gain below 10, so there nothing
# changes (EDM's Algorithm 1). Below: the raw network with Algorithm 1 (top) against the defaults (bottom), at 4 steps.

# %%
raw = dict(name="mnist-edm", integrator="heun", n_steps=4, clip_x0=False,
           max_correction_gain=float("inf"))
xs = sample_rows([raw, dict(raw, clip_x0=True, max_correction_gain=10.0)], digits)
for tag, x in zip(("raw, Algorithm 1", "defaults"), xs):
    share, biggest = out_of_range(x)
    print(f"{tag:17s}: {share:6.1%} of pixels outside [-1.1, 1.1], max |x| = {biggest:.3g}")
show_rows(xs, ["raw", "defaults"], "mnist-edm, Heun, 4 steps (display clamps to [−1, 1])")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# Every number below rests on the evaluation classifier. Its card states its test accuracy; the first 2000 test digits
# must agree with it within 4 standard errors ($\sqrt{p(1-p)/2000}$).

# %% tags=["nbval-check-output"]
classifier = pretrained.load_classifier()
with torch.no_grad():
    acc = (classifier(data.x_test[:2000]).argmax(1) == data.y_test[:2000]).double().mean().item()
p_card = pretrained.card("mnist-classifier")["test_accuracy"]
assert abs(acc - p_card) < 4 * (p_card * (1 - p_card) / 2000) ** 0.5 + 1e-12
print(f"classifier accuracy on 2000 test digits {acc:.3f}; "
      f"its card says {p_card:.3f} on the whole test set")

# %% [markdown]
# The measured figures of the shipped checkpoints, read from their model cards (each row written by
# `python -m diffedu eval mnist --checkpoint NAME --sampler dpmpp_2m --nfe N --n 2000 --write-card`, and at w = 2
# with `--guidance 2 --n 500`; every row samples with $\hat x_0$ clipped, as `Pretrained.sample` does by default).
# FD-MNIST is the Fréchet distance between classifier features of n generated digits (labels 0–9 in turn) and n test
# digits; the *floor* is the same distance between n train and n test digits — what a perfect generator scores at this
# n. Accuracy is the share of samples the evaluation classifier reads as the asked-for label; w is the guidance scale
# (w = 1: no guidance; chapter 11). NFE counts guided evaluations: with w ≠ 1 each one runs the network on twice the
# batch (the conditional and the unconditional half), so a guided sample costs twice the network work at the same
# NFE — the samples/s column shows it.

# %%
clf_card = pretrained.card("mnist-classifier")
print(f"evaluation classifier: {clf_card['params']:,} parameters, "
      f"test accuracy {clf_card['test_accuracy']:.4f}")
print(f"{'checkpoint':11s} {'params':>7s} {'trained':>14s} {'sampler':>8s} {'NFE':>4s} {'w':>4s} "
      f"{'n':>5s} {'FD':>7s} {'floor':>6s} {'FD/floor':>8s} {'acc':>6s} {'smp/s':>6s}")
for name in shipped:
    c = pretrained.card(name)
    trained = f"{c['wall_s'] / 60:.0f} min {c['device'].split()[0]}"
    for e in c.get("evaluations", []):
        print(f"{name:11s} {c['params']:7,d} {trained:>14s} {e['integrator']:>8s} {e['nfe']:4d} "
              f"{e['guidance']:4g} {e['n']:5d} {e['fd_mnist']:7.2f} {e['fd_floor']:6.2f} "
              f"{e['fd_mnist'] / e['fd_floor']:8.1f} {e['conditional_accuracy']:6.3f} "
              f"{e['samples_per_s']:6.1f}")

# %% [markdown]
# How fast does a checkpoint get good? `train mnist --fd-at 300,600,1190` kept a copy of the EMA weights at those
# wall times and measured FD-MNIST of each (n = 500, Heun, 10 steps) after training; the cards store the curve.
# Each checkpoint was then trained on from its weights (`--init NAME`, with `--warmup 300 --lr 2e-4`, on one thread
# of the CPU): mnist-ddpm for 15 and then 90 more minutes, mnist-edm for 25, 90 and 25, mnist-flow for 25. The
# warm-up matters: a fresh Adam's first steps move every weight by about the learning rate, and a first attempt
# without it made mnist-edm worse for hundreds of steps (accuracy 0.80 → 0.40). The evaluation code changed between
# the runs (clipping; its n = 500 floor reads 26.0 in the first runs and 33.8 in the later ones), so the plot divides
# each point by the floor measured with it. One more caveat, about the sampler: Heun at 10 steps suits EDM and
# flow, but not the DDPM ε-model — mnist-ddpm's later points (about 7 times the floor) say how Heun fares on it, not
# how good it is; DPM-Solver++(2M) at 20 NFE reads 1.9 times the floor on the same weights (the table above).

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name in shipped:
    curve = pretrained.card(name).get("fd_vs_wall_time") or []
    if curve:
        minutes = [p["wall_s"] / 60 for p in curve]
        ax.plot(minutes, [p["fd_mnist"] / p["fd_floor"] for p in curve], "o-", label=name)
ax.set(xlabel="training wall time (min)", ylabel="FD-MNIST / floor", yscale="log",
       title="FD-MNIST against training time (EMA snapshots)")
ax.legend()
plt.show()

# %% [markdown]
# ## Play
#
# Pick a checkpoint, a sampler, a budget of network evaluations (NFE; Heun spends two per step), a label (10 = no
# label) and the classifier-free guidance scale w (chapter 11 derives it: w = 1 is the conditional model, w > 1 pushes
# the digits to look *more* like their label and less varied; with no label there is nothing to guide towards).
# The title counts how many of the 16 digits the evaluation classifier reads as the label, and says when a setting is
# expected to be poor. Each position is computed once (about 0.3–0.8 s of CPU); going back to it is instant.

# %% tags=["nbval-ignore-output"]
if shipped:
    display(diffedu.ui.widgets.mnist_sampler_panel(tuple(shipped)))

# %% [markdown]
# ## Warm-up
#
# ### Warm-up · label dropout for classifier-free guidance
# For classifier-free guidance: given labels `y`, a probability `p_uncond` and
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

# %% tags=["nbval-check-output"]
from diffedu.labs.mnist import THINK, check_edm_lab, hint


def training_loss(F, x0, y, n_sigma, eps, u, sigma_data=0.5, p_mean=-1.2, p_std=1.2, p_uncond=0.1):
    # BEGIN SOLUTION
    sigma = torch.exp(p_mean + p_std * n_sigma)  # (B,) log-normal noise levels
    y = torch.where(u < p_uncond, torch.full_like(y, 10), y)  # label dropout
    s = sigma**2 + sigma_data**2
    c_skip, c_out = sigma_data**2 / s, sigma * sigma_data / s.sqrt()
    c_in, c_noise = 1 / s.sqrt(), sigma.log() / 4
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

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it · your coefficients are the package's

# %% [markdown]
# The coefficients your loss used are the package's `edm_preconditioning` (chapter 09 plots them against σ). Two of
# their defining properties, checked in float64 (tolerance 1e-12): the network's input has unit variance at every σ,
# $c_{in}^2(\sigma^2+\sigma_{data}^2) = 1$, and at σ = σ_data the skip and the network share the work, $c_{skip} = 1/2$.

# %%
from diffedu.nets import edm_preconditioning

sigma = torch.logspace(-2.7, 1.9, 200, dtype=torch.float64)
c_skip, c_out, c_in, c_noise = edm_preconditioning(sigma, 0.5)

# %% tags=["nbval-check-output"]
unit = (c_in**2 * (sigma**2 + 0.25) - 1).abs().max().item()
half = edm_preconditioning(torch.tensor([0.5], dtype=torch.float64), 0.5)[0].item()
assert unit < 1e-12 and abs(half - 0.5) < 1e-12
print(f"max |c_in²(σ²+σ_data²) − 1| < 1e-12: {unit < 1e-12};  c_skip(σ_data) = {half:.3f}")

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
#
# * MNIST scaled to [−1, 1], a small class-conditional U-Net (0.3 M parameters in the shipped checkpoints) with a null
#   class, and one training loop serve all three objectives (ε on DDPM, velocity on rectified flow, preconditioned
#   $x_0$ on EDM).
# * EDM's $c_{skip}, c_{out}, c_{in}$ keep the network's input and target at unit variance at every σ; $c_{noise}$
#   tells the network which σ it sees.
# * `Pretrained.sample` clips $\hat x_0$ to the pixel range and lets Heun skip a correction that would multiply the
#   network's error by more than 10 (EDM's few-step grids: a jump from σ = 80 to 0.002); with both, every sample stays
#   in [−1, 1]. Few steps still blur: below about 6 steps one ODE step from pure noise lands near the mean digit.
# * The shipped checkpoints were trained on a shared 2-core **CPU** (no GPU was available): mnist-edm for 160
#   minutes, mnist-ddpm for 125, mnist-flow for 45. They draw recognisable digits; at w = 2 classifier-free guidance
#   lifts the conditional accuracy of all three to 0.998–1.000, and unguided it is 0.95–0.96, with FD-MNIST 1.9–2.8
#   times the floor at 20 NFE (the table above; the two longest-trained are the best). Their cards say exactly how
#   they were made and what they score; the FD-against-time curve shows that they were still improving, slowly,
#   when training stopped.
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
# or all of it in one call — the `gpu` tests, the benchmark, the four models trained at once, evaluation at n = 2,000
# and a summary — with `python -m tools.gpu_run --out DIR` (`--smoke` runs the same steps on a CPU in minutes).
# Several GPUs (or CPU processes) train one model through PyTorch's DistributedDataParallel:
# ```
# python -m torch.distributed.run --standalone --nproc_per_node=4 -m diffedu train mnist --batch 64 --device cuda
# ```
# Each of the 4 processes draws its own 64 digits (global batch 256), gradients are averaged after every backward,
# and only process 0 evaluates and writes the checkpoint, whose card records the world size.
#
# Chapter 11 derives classifier-free guidance and uses these checkpoints for guided sampling and inpainting.
# Chapter 13 (few-step generation) learns the flow map itself — consistency models, progressive distillation and
# MeanFlow — and measures one to four network calls against the exact map of the 2-D mixture.
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

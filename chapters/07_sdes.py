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
# # 07 · SDEs: VP, sub-VP, VE; Euler–Maruyama and predictor–corrector
#
# **You will** write the three SDEs of score-based modelling with their drift f and diffusion g, derive the Gaussian
# kernels they imply (chapter 01's α and σ, and the sub-VP's new σ), read DDPM as a discretized VP SDE, and sample the
# reverse SDE with Euler–Maruyama and with predictor–corrector, first with the exact score, then with a learned one.
# **You need** chapters 01–03, 06 · **Time** about 75 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu import VE, VP, Predictor, gmm_2d
from diffedu.course.exercises import check_corrector_step, check_subvp_sigma
from diffedu.integrators import euler, euler_maruyama, predictor_corrector
from diffedu.losses import eps_loss
from diffedu.metrics import sliced_wasserstein
from diffedu.nets import MLP
from diffedu.ui.plots import figure, scatter2d, sde_scales, to_numpy
from diffedu.ui.quiz import think
from diffedu.processes import SubVP
from diffedu.course.sdes import ddpm_vs_vp, forward_moments, simulate_forward
from diffedu.course.noise_floor import floor_band, reading
from diffedu.timers import uniform

torch.set_num_threads(1)  # tensors here are small: one thread is fastest, and a second one only spins on a busy CPU
g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## Theory
# A forward SDE $dx = f(t)\,x\,dt + g(t)\,dW$ that is linear in x keeps Gaussians Gaussian. Its mean and variance obey
# $\dot m = f m$ and $\dot v = 2 f v + g^2$ (apply Itô to $x$ and $x^2$), so
# $q(x_t|x_0) = \mathcal N(\alpha_t x_0, \sigma_t^2 I)$ with $\alpha_t = e^{\int_0^t f}$ and
# $\sigma_t^2 = \alpha_t^2\int_0^t g(s)^2/\alpha_s^2\,ds$. Conversely $f = \dot\alpha/\alpha$ and
# $g^2 = d\sigma^2/dt - 2f\sigma^2$ — what `Process.f` and `Process.g2` compute.
#
# | SDE | $f(t)$ | $g(t)^2$ | $\alpha_t$ | $\sigma_t$ |
# |---|---|---|---|---|
# | VP | $-\tfrac12\beta(t)$ | $\beta(t)$ | $e^{-B(t)/2}$ | $\sqrt{1 - e^{-B(t)}}$ |
# | sub-VP | $-\tfrac12\beta(t)$ | $\beta(t)(1 - e^{-2B(t)})$ | $e^{-B(t)/2}$ | $1 - e^{-B(t)}$ |
# | VE | 0 | $d\sigma_t^2/dt$ | 1 | $\sigma_{min}(\sigma_{max}/\sigma_{min})^t$ |
#
# with $B(t) = \int_0^t\beta$. VE is the exception to "t = 0 is data": it starts at $\sigma_0 = \sigma_{min}$, so its
# kernel from clean data has variance $\sigma_t^2 - \sigma_{min}^2$ (Song et al. 2021, eq. 29) — the formula above with
# $v(0) = 0$ — and the table's $\sigma_t$ includes the $\sigma_{min}$ it started with. **Sub-VP derivation:** with $v(0) = 0$ try $v = (1 - e^{-B})^2$:
# $\dot v = 2\beta e^{-B}(1 - e^{-B})$ and $2fv + g^2 = -\beta(1-e^{-B})^2 + \beta(1-e^{-B})(1+e^{-B}) = 2\beta e^{-B}(1-e^{-B})$. ✓
# Its variance $(1 - e^{-B})^2 \le 1 - e^{-B}$ is *below* VP's: $\alpha_t^2 + \sigma_t^2 < 1$ (hence "sub").
#
# **DDPM is a discretized VP SDE.** With N steps of size $\Delta t = 1/N$ and $\beta_n \approx \beta(t_n)\Delta t$ (DDPM's
# linear schedule from $\beta_{min}/N$ to $\beta_{max}/N$),
# $x_n = \sqrt{1-\beta_n}\,x_{n-1} + \sqrt{\beta_n}\,z \approx x_{n-1} - \tfrac12\beta(t_n)x_{n-1}\Delta t + \sqrt{\beta(t_n)\Delta t}\,z$,
# one Euler–Maruyama step of the VP SDE; $\bar\alpha_n = \prod(1 - \beta_i) \to e^{-B(t_n)} = \alpha_{t_n}^2$ as N → ∞.
#
# **Reverse SDE and Euler–Maruyama.** From chapter 03, $dx = [f x - g^2\nabla\log p_t]\,dt + g\,d\bar W$ run from
# t = 1 to 0. Euler–Maruyama: $x_{t-\Delta} = x_t - [f x_t - g^2 s(x_t, t)]\Delta + g\sqrt\Delta\,z$.
#
# **Predictor–corrector** (Song et al. 2021, Alg. 1). Alternate a **Langevin corrector** at fixed t,
# $x \leftarrow x + \tau\,s(x,t) + \sqrt{2\tau}\,z$ (step τ as in chapter 06; Song et al. call it ε), which pulls the
# samples back towards $p_t$ (chapter 06: $p_t$ is its stationary law), with the EM **predictor** step to the next time. Here each step corrects at t, then predicts
# to t − Δ (no correction is possible at t = 0, where σ = 0). The step size comes from a target signal-to-noise ratio r:
# $\tau = 2\,(r\,\lVert z\rVert/\lVert s\rVert)^2$ (norms averaged over the batch), so that the ratio of the signal
# part to the noise part, $\tau\lVert s\rVert / \sqrt{2\tau}\lVert z\rVert$, equals r. (For VP, Song et al.'s code also
# multiplies τ by $\alpha_i = 1 - \beta_i$ of the 1000-step DDPM chain, within 2 % of 1; we leave it out.)

# %% [markdown]
# ## See it
# α and σ of the three SDEs (VE with σ_max = 5 for display) and forward paths of a point $x_0 = 1.5$.

# %%
processes = {"VP": VP(), "sub-VP": SubVP(), "VE": VE(0.01, 5.0)}
tt = torch.linspace(0, 1, 201, dtype=torch.float64)
ts_fwd = torch.linspace(0, 1, 201).tolist()
curves = {name: (proc.alpha(tt), proc.sigma(tt)) for name, proc in processes.items()}
paths = {name: (ts_fwd, simulate_forward(torch.full((30, 1), 1.5, dtype=torch.float64), ts_fwd, processes[name],
                                         generator=g, return_path=True)[..., 0])  # (201, 30)
         for name in ("VP", "sub-VP")}
sde_scales(tt, curves, paths)
plt.show()

# %% [markdown]
# ## Check it
# **1. Forward-simulated moments against the closed form.** $x_0\sim\mathcal N(1.5, 0.25)$, 5000 Euler–Maruyama
# paths of 200 steps. Tolerance: |mean error| < 4 standard errors + 0.01 and relative variance error < 0.08
# (4 standard errors of a variance, $4\sqrt{2/n}\approx0.08$). Euler–Maruyama's own O(Δt) variance bias is at most 3 %
# here (≈ βΔt/4 for VP and sub-VP; for VE the left-point rule under-integrates its growing $g^2$), so the tolerance
# leaves about 2.5 standard errors for noise.

# %%
# NBVAL_CHECK_OUTPUT
n_mc = 5000
for name, proc in processes.items():
    x0 = 1.5 + 0.5 * torch.randn(n_mc, 1, generator=g, dtype=torch.float64)
    path = simulate_forward(x0, ts_fwd, proc, generator=g, return_path=True)
    worst_mean, worst_var = 0.0, 0.0
    for t in (0.25, 0.5, 1.0):
        m, v = forward_moments(proc, t, 1.5, 0.25)
        x_t = path[round(t * 200), :, 0]
        worst_mean = max(worst_mean, (abs(x_t.mean() - m) / ((v / n_mc).sqrt() * 4 + 0.01)).item())
        worst_var = max(worst_var, (abs(x_t.var() / v - 1)).item())
    assert worst_mean < 1 and worst_var < 0.08, (name, worst_mean, worst_var)
    print(f"{name:6s}: mean within tolerance: {worst_mean < 1};  max relative variance error {worst_var:.3f} < 0.08")

# %% [markdown]
# **2. DDPM → VP SDE.** $\max_n|\bar\alpha_n - \alpha_{t_n}^2|$ falls like 1/N (first order): the ratio between N = 100 and
# N = 1000 lies between 7 and 13.

# %%
# NBVAL_CHECK_OUTPUT
errs = {}
for n in (100, 1000):
    out = ddpm_vs_vp(VP(), n)
    errs[n] = (out["alpha_bar"] - out["alpha_t"] ** 2).abs().max().item()
ratio = errs[100] / errs[1000]
assert 7 < ratio < 13, errs
print(f"max |alpha_bar - alpha_t^2|: N=100 {errs[100]:.1e}, N=1000 {errs[1000]:.1e}, ratio {ratio:.0f}")

# %% [markdown]
# **3. The reverse SDE with the exact score recovers the mixture.** 1000 samples, 200 EM steps on VP, sliced W₂ to exact
# samples. Tolerance: within 2× the exact-vs-exact noise floor (same n, same projections).

# %%
# NBVAL_CHECK_OUTPUT
process, gmm = VP(), gmm_2d()
n = 1000
ref, ref2 = gmm.sample(n, generator=g), gmm.sample(n, generator=g)
sw = lambda a: sliced_wasserstein(a, ref, generator=torch.Generator().manual_seed(7)).item()  # noqa: E731
floor = sw(ref2)
exact = gmm.predictor(process)
x_T = torch.randn(n, 2, generator=g, dtype=torch.float64)
x_em_exact = euler_maruyama(x_T, uniform(process, 200), exact, process, generator=torch.Generator().manual_seed(1))
sw_em_exact = sw(x_em_exact)
assert sw_em_exact < 2 * floor, (sw_em_exact, floor)
print(f"floor {floor:.3f}; EM with the exact score {sw_em_exact:.3f} < 2 x floor: {sw_em_exact < 2 * floor}")

# %% [markdown]
# **4. A learned score, three samplers.** An MLP trained with the ε-loss (DSM in ε form, chapter 06) on the mixture under
# VP; its relative score error at three t, then Euler–Maruyama, predictor–corrector (r = 0.16) and Euler on the PF-ODE,
# each 100 steps (PC: 200 network calls). Tolerance: each sampler's SW₂ below 0.3, about twice the Monte Carlo floor
# printed in check 3 (exact samplers reach the floor; what is left is the network's error after 2000 quick-mode steps,
# largest at small t — full mode trains 5× longer).

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
net = MLP(2, hidden=128, depth=3)
n_train = 2000 if diffedu.quick() else 10_000
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_train)  # a decaying step sharpens the last fit
pool = gmm.sample(20_000, generator=g).float()  # a fixed training set
for step in range(n_train):
    idx = torch.randint(0, pool.shape[0], (256,), generator=g)
    loss = eps_loss(net, pool[idx], process, generator=g)
    opt.zero_grad()
    loss.backward()
    opt.step()
    lr_decay.step()
net.eval()
learned = Predictor(lambda x, t: net(x.float(), t.float()).double(), "eps", process)
for t in (0.05, 0.3, 0.8):
    x_t = gmm.sample(2000, t, process, generator=g)
    true = gmm.score(x_t, t, process)
    with torch.no_grad():
        rel = ((learned(x_t, t, "score") - true).pow(2).sum(1).mean() / true.pow(2).sum(1).mean()).item()
    print(f"t = {t}: relative score error {rel:.2f}")
ts100 = uniform(process, 100)
with torch.no_grad():
    samples = {"EM": euler_maruyama(x_T, ts100, learned, process, generator=torch.Generator().manual_seed(1)),
               "PC": predictor_corrector(x_T, ts100, learned, process, snr=0.16,
                                         generator=torch.Generator().manual_seed(1)),
               "PF-ODE": euler(x_T, ts100, learned, process)}
for name, x in samples.items():
    assert sw(x) < 0.3, (name, sw(x))
    print(f"{name:6s}: SW2 to exact samples {sw(x):.2f} < 0.3: {sw(x) < 0.3}")

# %%
band = floor_band(lambda m, gen: gmm.sample(m, generator=gen), ref, lambda a, b: sw(a))  # exact sets of size n
fig, axes = figure(4, size=2.5)
scatter2d(axes[0, 0], ref, title=f"exact, n = {n}\nnoise: SW₂ {band['mean']:.2f} ± {2 * band['sd']:.2f}", color="gray")
for ax, (name, x) in zip(axes[0, 1:], samples.items()):
    scatter2d(ax, x, title=f"learned, {name}\nSW₂ {sw(x):.2f}: {reading(sw(x), band)}")
for ax in axes[0]:
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown]
# ## Play
# Few steps: the EM predictor alone is coarse; the Langevin corrector (extra score calls) sharpens it. Too large an r
# overshoots.

# %%
# NBVAL_IGNORE_OUTPUT
diffedu.ui.widgets.pc_panel()

# %% [markdown]
# ## Warm-up
# **Exercise 1 (subvp_sigma).** The sub-VP kernel's $\sigma_t$ for a linear $\beta(t)$.

# %%
def subvp_sigma(t, beta_min, beta_max):
    # BEGIN SOLUTION
    B = beta_min * t + 0.5 * (beta_max - beta_min) * t**2
    return 1 - torch.exp(-B)
    # END SOLUTION


check_subvp_sigma(subvp_sigma)

# %% [markdown]
# **Exercise 2 (corrector_step).** The Langevin corrector's step size from the target signal-to-noise ratio r.

# %%
def corrector_step(snr, z_norm, score_norm):
    # BEGIN SOLUTION
    return 2 * (snr * z_norm / score_norm) ** 2
    # END SOLUTION


check_corrector_step(corrector_step)

# %% [markdown]
# ## Build it · the predictor–corrector sampler
# Write the sampler of check 4: `pc_sample(x, ts, score, process, snr, z)`, returning the final `x` and `nfe`, the
# number of times you called `score`. From `x` at `ts[0]`, for each interval of the decreasing grid `ts` (t = `ts[k]`,
# Δt = `ts[k+1] − ts[k]` < 0):
#
# 1. **corrector** — one Langevin step at the fixed time t, with the step size from the signal-to-noise ratio r = `snr`:
#    $$\tau = 2\Big(r\,\frac{\overline{\lVert z_{k,0}\rVert}}{\overline{\lVert s\rVert}}\Big)^2,\qquad
#      x \leftarrow x + \tau\,s(x, t) + \sqrt{2\tau}\,z_{k,0},$$
#    where $\overline{\lVert\cdot\rVert}$ is the norm of each sample (row), averaged over the batch;
# 2. **predictor** — one Euler–Maruyama step of the reverse SDE from t to t + Δt, with the score at the corrected x:
#    $$x \leftarrow x + \big[f(t)\,x - g(t)^2 s(x, t)\big]\Delta t + g(t)\sqrt{-\Delta t}\;z_{k,1}.$$
#
# `score(x, t)` is the exact score of the noised mixture; `process.f(t)` and `process.g2(t)` take the tensor time;
# `z[k, 0]` and `z[k, 1]` (shape of `x`) are the corrector's and the predictor's draws of step k. The grader runs your
# function with its own draws against the package's `predictor_corrector` on VP and on VE (4 + 4 points, to 1e-8) and
# counts your calls of `score` (2 points: the cost of PC is what it buys). Stuck? `hint(1)`, then `hint(2)`.

# %%
from diffedu.labs.sdes import THINK, check_pc_sample, hint


def pc_sample(x, ts, score, process, snr, z):
    # BEGIN SOLUTION
    nfe = 0
    for k in range(len(ts) - 1):
        t, dt = ts[k], ts[k + 1] - ts[k]  # dt < 0: towards data
        s = score(x, t)  # corrector: Langevin at fixed t
        nfe += 1
        tau = 2 * (snr * z[k, 0].norm(dim=1).mean() / s.norm(dim=1).mean()) ** 2
        x = x + tau * s + (2 * tau).sqrt() * z[k, 0]
        s = score(x, t)  # predictor: Euler–Maruyama on the reverse SDE
        nfe += 1
        x = x + (process.f(t) * x - process.g2(t) * s) * dt + (process.g2(t) * -dt).sqrt() * z[k, 1]
    return x, nfe
    # END SOLUTION


check_pc_sample(pc_sample)

# %% [markdown]
# ## Think

# %%
# NBVAL_IGNORE_OUTPUT
think(*THINK)

# %% [markdown]
# ## Summary
# * VP, sub-VP and VE are linear SDEs; their kernels follow from $\dot m = fm$, $\dot v = 2fv + g^2$.
# * DDPM is the VP SDE on a grid; ᾱ converges to α² at first order.
# * The reverse SDE, integrated by Euler–Maruyama, samples the data with the score; predictor–corrector adds Langevin
#   steps at fixed t; the probability-flow ODE reaches the same marginals deterministically.
#
# ## What next
# Chapter 08 (flows) learns the ODE's velocity directly; chapter 10 compares the integrators.
#
# ## References
# * Y. Song et al., *Score-Based Generative Modeling through Stochastic Differential Equations*, ICLR 2021.
# * J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020.
# * P. Kloeden, E. Platen, *Numerical Solution of Stochastic Differential Equations*, Springer 1992.

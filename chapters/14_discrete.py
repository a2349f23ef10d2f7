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
# # 14 · Discrete diffusion: masking and uniform noise on tokens, every answer exact
#
# **You will** noise sequences of tokens with a continuous-time Markov chain (uniform and "mask" noise), write its
# marginals in closed form, reverse it with rates built from probability ratios — the discrete score — derive masked
# diffusion's loss as a weighted cross-entropy from the ELBO, and sample by Euler steps and by unmasking. On a state
# space of 256 sequences every marginal, posterior, rate, likelihood and sampler output is an exact sum, so each claim
# is checked against the truth, not against a sample.
# **You need** chapters 01–04 (08 for the last section) · **Time** about 90 minutes

# %%
import matplotlib.pyplot as plt
import torch

import diffedu
import diffedu.ui.widgets
from diffedu.course.discrete import (DiscreteNoise, MarkovData, all_states, marginal,
                                     masked_elbo, ratios, reverse_rates, x0_posterior)
from diffedu.course.discrete_net import masked_loss, noised_examples, noisy, train_x0_net
from diffedu.course.discrete_sampling import (ExactX0, discrete_elbo, kl_sweep, rate_comparison,
                                              sampler_distribution)
from diffedu.metrics import entropy
from diffedu.ui.plots import figure, to_numpy
from diffedu.ui.quiz import think

torch.set_num_threads(1)  # the tensors here are small: one thread is fastest
g = diffedu.seed(0)
print(diffedu.banner())

# %% [markdown]
# ## Theory
# ### The data and the state space
# A sequence $x = (x^1, \dots, x^L)$ of L = 4 positions over V = 4 tokens {0, 1, 2, 3}; mask noise adds a fifth
# token, the mask $m$ (index V = 4). Our data is a Markov chain: the first token is uniform, and each next token is
# the previous one plus 1 (mod 4) with probability 0.7, the same with 0.15, another with 0.075 each — so
# "0 1 2 3" and "2 3 0 1" are typical. There are $V^L = 256$ clean and $5^4 = 625$ noisy sequences: every sum
# below runs over all of them.
#
# ### The forward process: a continuous-time Markov chain
# In chapter 01 each coordinate of $x_t$ was noised independently by $x_t = \alpha_t x_0 + \sigma_t\varepsilon$. Here
# each *position* is noised independently by a Markov chain that jumps between tokens at rate $\beta(t)\,Q$, with a
# **rate matrix** Q: $Q_{uv} \ge 0$ is the rate of jumps $u \to v$, and each row sums to zero
# ($Q_{uu} = -\sum_{v\ne u} Q_{uv}$). The distribution $p_t$ of one position (a row vector) obeys the Kolmogorov
# forward equation — the discrete Fokker–Planck equation of chapter 03 (Campbell et al. 2022, §2; Lou et al. 2024,
# eq. 1 in their column convention):
# $$\frac{d p_t}{dt} = \beta(t)\,p_t Q \quad\Longrightarrow\quad q_t(x_t^i\mid x_0^i) = \big[e^{\bar\sigma(t)Q}\big]_{x_0^i x_t^i},
#   \qquad \bar\sigma(t) = \int_0^t\beta(r)\,dr .$$
# Two rate matrices (Austin et al. 2021, §3 and App. A.2):
# * **uniform**: $Q = \tfrac1V\mathbf 1\mathbf 1^\top - I$. Since $(\tfrac1V\mathbf 1\mathbf 1^\top)^2 = \tfrac1V\mathbf 1\mathbf 1^\top$,
#   $e^{\bar\sigma Q} = e^{-\bar\sigma}I + (1 - e^{-\bar\sigma})\tfrac1V\mathbf 1\mathbf 1^\top$: keep the token with
#   probability $\alpha_t = e^{-\bar\sigma(t)}$, else draw a uniform one;
# * **mask** (absorbing): $Q_{u m} = 1$, $Q_{uu} = -1$ for $u \ne m$, and the mask row is zero. Then
#   $q_t(x_t^i\mid x_0^i) = \alpha_t\,\delta_{x_0^i} + (1-\alpha_t)\,\delta_m$: keep, or mask.
#
# So we choose the keep-probability $\alpha_t$ (the schedule: linear $1 - t$, or cosine $\cos(\pi t/2)$, t ∈ [0, 1])
# and get $\beta(t) = -\dot\alpha_t/\alpha_t$. The role of $\alpha_t$ is the role of chapter 01's signal coefficient;
# at t = 1, $\alpha_1 = 0$ and the noise is pure: uniform tokens, or all masks — the prior $\pi$, like $\mathcal N(0, I)$.
# A sequence is noised position by position, $q_t(x_t\mid x_0) = \prod_i q_t(x_t^i\mid x_0^i)$, and
# $p_t(x_t) = \sum_{x_0} p(x_0)\,q_t(x_t\mid x_0)$ is a sum over 256 terms.
#
# ### Reversing the chain: rates from probability ratios
# The reverse of a Markov chain is a Markov chain. Run time backwards: the probability flux from y to x forward,
# $p_t(y)\,R_t(y \to x)$, must be carried by the reverse chain from x to y. Hence the **reverse rates**
# (Campbell et al. 2022, Prop. 1; Lou et al. 2024, eq. 2 and §2)
# $$\bar R_t(x \to y) = R_t(y \to x)\,\frac{p_t(y)}{p_t(x)}, \qquad y \ne x .$$
# The ratios $p_t(y)/p_t(x)$ are the **concrete score** of Lou et al. (2024, §3): the discrete counterpart of
# $\nabla\log p_t$ in chapter 03's reverse SDE. For a rate matrix that acts one position at a time, only y that differ
# from x in one position i count: $y = x^{i\leftarrow v}$ and $R_t(y\to x) = \beta(t)\,Q_{v x^i}$.
#
# **Tweedie for tokens.** Write $p_t(y)/p_t(x) = \sum_{x_0} p(x_0\mid x)\,q_t(y\mid x_0)/q_t(x\mid x_0)$; since y and x
# differ only at position i, the ratio of likelihoods is $q_t(v\mid x_0^i)/q_t(x^i\mid x_0^i)$, and
# $$\frac{p_t(x^{i\leftarrow v})}{p_t(x)} = \sum_u p(x_0^i = u\mid x)\,\frac{q_t(v\mid u)}{q_t(x^i\mid u)} .$$
# As in chapter 02, the score is a posterior mean of something known: a network that predicts the **per-position
# posterior** $p(x_0^i\mid x_t)$ gives the exact reverse rates (the "denoising" parametrisation of
# Campbell et al. 2022, §4). For mask noise only masked positions move, $q_t(v\mid u)/q_t(m\mid u) = \alpha_t/(1-\alpha_t)$,
# and the rate collapses to
# $$\bar R_t(x \to x^{i\leftarrow v}) = \frac{-\dot\alpha_t}{1-\alpha_t}\;p(x_0^i = v\mid x), \qquad x^i = m .$$
# One more fact for mask noise: given the mask pattern, $q_t(x_t\mid x_0)$ is the same number
# $\alpha_t^{L-k}(1-\alpha_t)^k$ for every $x_0$ that agrees with the visible tokens, so **the posterior
# $p(x_0\mid x_t)$ does not depend on t** — the network need not be told the time (Sahoo et al. 2024, §3.2; Ou et
# al. 2025).
#
# ### D3PM: the discrete-time view
# Austin et al. (2021) start from discrete steps: $q(x_t\mid x_{t-1}) = \mathrm{Cat}(x_{t-1}Q_t)$ with a transition
# matrix per step (their eq. 1), so $q(x_t\mid x_0) = \mathrm{Cat}(x_0\bar Q_t)$, $\bar Q_t = Q_1\cdots Q_t$, and the
# posterior is Bayes' rule (their eq. 3):
# $$q(x_s\mid x_t, x_0) = \frac{q(x_t\mid x_s)\,q(x_s\mid x_0)}{q(x_t\mid x_0)} .$$
# Our chain is the same object: between times s < t its transition matrix is $e^{(\bar\sigma(t) - \bar\sigma(s))Q}$
# (keep with probability $\alpha_t/\alpha_s$), and $\bar Q$ is a product of such exponentials. Their reverse model
# (eq. 4) averages the posterior over the network's $\hat p(x_0\mid x_t)$, exactly like DDPM's $\mu_\theta$ in
# chapter 04 plugs $\hat x_0$ into the Gaussian posterior mean.
#
# ### The ELBO, and masked diffusion's simple loss
# The ELBO of chapter 04 carries over word for word: $-\log p_\theta(x_0) \le \mathbb E_q\big[\sum_{\text{steps}}
# \mathrm{KL}(q(x_s\mid x_t, x_0)\,\|\,p_\theta(x_s\mid x_t))\big]$ + a prior term (zero here: $q_1 = \pi$
# exactly). For mask noise take one masked position of $x_t$. Under q it stays masked with probability
# $\frac{1-\alpha_s}{1-\alpha_t}$ and turns into $x_0^i$ with $\frac{\alpha_s-\alpha_t}{1-\alpha_t}$; under the
# model it stays masked with the same probability and turns into v with $\frac{\alpha_s-\alpha_t}{1-\alpha_t}\hat
# p_\theta(x_0^i = v\mid x_t)$. The KL of these two distributions has only one term that differs:
# $$\mathrm{KL} = \frac{\alpha_s-\alpha_t}{1-\alpha_t}\,\big(-\log\hat p_\theta(x_0^i\mid x_t)\big).$$
# Summing over steps and letting $s \to t$, $\alpha_s - \alpha_t \to -\dot\alpha_t\,dt$:
# $$-\log p_\theta(x_0) \;\le\; \int_0^1 \frac{-\dot\alpha_t}{1-\alpha_t}\;
#   \mathbb E_{q_t(x_t\mid x_0)}\Big[\sum_{i:\,x_t^i = m} -\log\hat p_\theta(x_0^i\mid x_t)\Big]\,dt ,$$
# a **cross-entropy on the masked positions, weighted by** $-\dot\alpha_t/(1-\alpha_t)$ ($= 1/t$ for the linear
# schedule) — Sahoo et al. (2024, eq. 10) and Shi et al. (2024, eq. 5), the counterpart of DDPM's simple ε-loss.
# Two consequences we will check exactly. (i) With the exact posterior the bound is tight: the forward and reverse
# path measures agree, so the loss's minimum is $-\log p(x_0)$, and averaged over the data, the entropy
# $H(p_{\text{data}})$. (ii) A model that ignores t sees a mask set M of size k with weight
# $\int_0^1 -\dot\alpha(1-\alpha)^{k-1}\alpha^{L-k}dt = B(k, L-k+1)$ for **any** schedule — the bound is an average
# over the orders in which an any-order autoregressive model reveals the tokens. For uniform noise the continuous-time
# ELBO (Campbell et al. 2022, Prop. 2; Lou et al. 2024, Thm. 3.6) has more terms; we train that network with the plain
# cross-entropy $\sum_i -\log\hat p_\theta(x_0^i\mid x_t)$ (Austin et al. 2021, eq. 5's auxiliary term), whose
# minimiser is the same exact posterior.
#
# ### Sampling: Euler (τ-leaping) and unmasking
# Chapter 07 integrated the reverse SDE with Euler–Maruyama; here we integrate the reverse chain.
# * **Euler / τ-leaping** (Campbell et al. 2022, §4.1; Lou et al. 2024, §3.3): from $x_t$, each position jumps to
#   v with probability $(t - s)\,\hat R_t(x_t \to x_t^{i\leftarrow v})$ and stays otherwise, all positions at once.
# * **Posterior / unmasking** (Austin et al. 2021, eq. 4; Sahoo et al. 2024, §3.2; Shi et al. 2024, §3): draw each
#   position from $\sum_u \hat p(x_0^i = u\mid x_t)\,q(x_s^i\mid x_t^i, x_0^i = u)$. For mask noise: a masked position
#   stays masked with probability $\frac{1-\alpha_s}{1-\alpha_t}$, else shows a token drawn from
#   $\hat p(x_0^i\mid x_t)$ — you write this step in "Build it". With the linear schedule,
#   $(t - s)\cdot\frac{1}{t} = \frac{\alpha_s - \alpha_t}{1 - \alpha_t}$: Euler and unmasking coincide.
#
# Both update all positions of a sequence *independently* within a step: that is the only approximation left when
# the posterior is exact. One step from t = 1 draws every position from its marginal and loses all correlations; many
# small steps reveal a few positions at a time, each conditioned on the ones before. The error per step is
# $O(h^2)$, the sampler is first order in the step $h = 1/N$, and the KL, a squared distance for close distributions,
# should fall like $N^{-2}$.
#
# ### Discrete flow matching: the same path from the other side
# Gat et al. (2024) build generation as in chapter 08: a probability path from noise to data and a velocity that
# moves along it. Their mixture path (§2, with their time running noise → data, $t' = 1 - t$ here) is
# $p_{t'}(x^i\mid x_0) = \kappa_{t'}\,\delta_{x_0^i} + (1-\kappa_{t'})\,p_{\text{noise}}(x^i)$ with $\kappa_{t'} = \alpha_t$:
# exactly our $q_t$ (mask or uniform noise). Their marginal velocity — the rate of jumping to v — is
# $\frac{\dot\kappa_{t'}}{1-\kappa_{t'}}\big(p(x_0^i = v\mid x) - \delta_{x^i}(v)\big)$ for the masked path, a posterior
# average of conditional velocities like chapter 08's $u_t(x) = \mathbb E[u_t(x\mid x_0)\mid x_t = x]$; and with
# $\dot\kappa_{t'} = -\dot\alpha_t$ these are our reverse rates. Flow matching and diffusion are again one model seen
# from two sides.

# %% [markdown]
# ## See it
# Eight data sequences (rows; one colour per token, the mask grey), noised independently at five times. Mask noise
# hides tokens; uniform noise replaces them with random ones — at t = 0.5 a uniform-noised sequence still *looks*
# like data, but a quarter of what you see is wrong, and you cannot tell which.

# %%
data = MarkovData()
noises = {kind: DiscreteNoise(kind, data.V) for kind in ("mask", "uniform")}
times = [0.0, 0.25, 0.5, 0.75, 1.0]
cmap = plt.matplotlib.colors.ListedColormap(["C0", "C1", "C2", "C3", "0.85"])
fig, axes = figure(len(times), 2, size=1.7)
for row, (kind, noise) in enumerate(noises.items()):
    gen = torch.Generator().manual_seed(1)
    xs = noised_examples(data, noise, times, n=8, generator=gen)  # (T, 8, L)
    for ax, t, x in zip(axes[row], times, xs):
        ax.imshow(to_numpy(x), cmap=cmap, vmin=-0.5, vmax=4.5)
        for r in range(x.shape[0]):
            for c in range(x.shape[1]):
                tok = int(x[r, c])
                ax.text(c, r, "m" if tok == 4 else str(tok), ha="center", va="center", fontsize=7)
        ax.set(xticks=[], yticks=[], title=f"{kind}, t = {t}")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it · the numbers behind the claims

# %% [markdown]
# **1. Closed-form marginals.** The kernels $q_t(x_t^i\mid x_0^i)$ written above against the matrix exponential
# $e^{\bar\sigma(t)Q}$ (float64, `torch.linalg.matrix_exp`), at five times for both noises and both schedules; and
# the marginal $p_t$ sums to one. Tolerance 1e-12.

# %% tags=["nbval-check-output"]
worst = 0.0
for kind in ("mask", "uniform"):
    for schedule in ("linear", "cosine"):
        noise = DiscreteNoise(kind, data.V, schedule)
        for t in (0.05, 0.3, 0.5, 0.8, 0.95):
            sigma_bar = -torch.log(torch.tensor(noise.alpha(t), dtype=torch.float64))
            K = torch.linalg.matrix_exp(sigma_bar * noise.Q)  # e^{sigma_bar Q}
            worst = max(worst, (K - noise.kernel(t)).abs().max().item())
        assert abs(marginal(data, noise, 0.6).sum().item() - 1) < 1e-12
assert worst < 1e-12, worst
print(f"closed-form kernels equal exp(sigma_bar Q) to 1e-12: {worst < 1e-12}")

# %% [markdown]
# **2. The reverse rates from the posterior are the rates from the ratios.** Left side: $\beta(t)Q_{vx^i}$ times
# $p_t(x^{i\leftarrow v})/p_t(x)$ with $p_t$ summed over all 256 clean sequences for each of the 625 (or 256) noisy
# ones. Right side: the rate written through the per-position posterior $p(x_0^i\mid x_t)$ (Bayes by enumeration).
# Tolerance 1e-10 (relative), at three times.

# %% tags=["nbval-check-output"]
for kind, noise in noises.items():
    states = all_states(noise.S, data.L)
    worst = 0.0
    for t in (0.2, 0.5, 0.9):
        beta = -noise.d_alpha(t) / noise.alpha(t)
        Q_in = noise.Q[:, states].permute(1, 2, 0)  # Q[v, x^i]: (S^L, L, S)
        from_ratios = beta * Q_in * ratios(data, noise, t)
        from_ratios = from_ratios.scatter(-1, states.unsqueeze(-1), 0.0)
        from_posterior = reverse_rates(states, x0_posterior(data, noise, t), noise, t)
        rel = (from_ratios - from_posterior).abs() / from_ratios.abs().clamp_min(1e-12)
        worst = max(worst, rel.max().item())
    assert worst < 1e-10, (kind, worst)
    print(f"{kind:7s}: rates from the posterior = from p_t ratios (rel. 1e-10): {worst < 1e-10}")

# %% [markdown]
# **3. The masked ELBO is tight at the exact posterior.** With the time integral done exactly (the Beta weights), the
# bound equals $-\log p(x_0)$ for every one of the 256 sequences (tolerance 1e-10), and its data average is the
# entropy of the data, the least value the loss can take.

# %% tags=["nbval-check-output"]
mask = noises["mask"]
exact_x0 = ExactX0(data, mask)
bound = masked_elbo(lambda x: exact_x0(x, 0.5), data, mask)
gap = (bound + data.prob().log()).abs().max().item()
H = entropy(data.prob())
assert gap < 1e-10, gap
print(f"ELBO = -log p(x0) for all 256 sequences (1e-10): {gap < 1e-10};  H(data) = {H:.4f} nats")

# %% [markdown]
# **4. The training loss at the exact posterior, by Monte Carlo.** The loss we train with draws t ~ U(0, 1) and
# $x_t \sim q_t(\cdot\mid x_0)$. Its mean at the exact posterior must be $H(\text{data})$; we estimate it from
# 200 000 draws and require agreement within 4 standard errors.

# %% tags=["nbval-check-output"]
n = 200_000
x0 = data.sample(n, generator=g)
t = torch.rand(n, generator=g, dtype=torch.float64)
x_t = noisy(x0, t, mask, g)
loss = masked_loss(exact_x0(x_t, 0.5), x0, x_t, t, mask)
mean, se = loss.mean().item(), loss.std().item() / n**0.5
assert abs(mean - H) < 4 * se, (mean, H, se)
print(f"Monte Carlo loss at the exact posterior within 4 SE of H(data): {abs(mean - H) < 4 * se}")
print(f"  loss = {mean:.3f} ± {se:.3f}, H(data) = {H:.3f}")

# %% [markdown]
# ## Train the x₀-networks
# A small MLP per noise type predicts $\hat p_\theta(x_0^i\mid x_t)$ (for mask noise without t, with unmasked tokens
# carried over). Mask noise trains on the weighted cross-entropy above; uniform noise on the plain cross-entropy. In
# quick mode 1500 Adam steps each (about 10 s each on one core).

# %%
train_steps = 1500 if diffedu.quick() else 8000
nets = {kind: train_x0_net(data, noise, train_steps, generator=torch.Generator().manual_seed(2))
        for kind, noise in noises.items()}
trained_bound = masked_elbo(lambda x: nets["mask"](x).detach(), data, mask)
print(f"trained mask model: ELBO bound {(data.prob() * trained_bound).sum():.3f} nats "
      f"≥ H(data) = {H:.3f} nats")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Check it · the trained model's ELBO

# %% [markdown]
# **5. The trained model's ELBO against its exact log-likelihood.** The bound is the model's own ELBO: it bounds
# $-\log p_\theta(x_0)$, where $p_\theta$ is the distribution of the model's own reverse chain — which we can
# enumerate too (with 256 steps the unmasking sampler is within a few 1e-5 nats of the continuous-time chain, by
# check 6's $N^{-2}$ law).
# So: cross-entropy of the data under $p_\theta$ ≤ the average bound (to 1e-3), and both ≥ H(data).

# %% tags=["nbval-check-output"]
p_theta = sampler_distribution(lambda x, t: nets["mask"](x), data, mask, 256)
nll_theta = -(data.prob() * p_theta.log()).sum().item()
elbo_theta = (data.prob() * trained_bound).sum().item()
assert H - 1e-9 <= nll_theta <= elbo_theta + 1e-3, (H, nll_theta, elbo_theta)
print(f"H(data) <= E[-log p_theta(x0)] <= trained ELBO bound: True")

# %%
print(f"H(data) = {H:.4f}, E[-log p_theta(x0)] = {nll_theta:.4f}, bound = {elbo_theta:.4f} nats")

# %% [markdown]
# ## See it: exact against trained reverse rates
# Every reverse rate $\hat R_t(x\to x^{i\leftarrow v})$ over all noisy sequences, exact (enumeration) against the
# trained network's, at t = 0.3 and t = 0.8. Points on the diagonal are right. Mask noise's rates are the posterior
# times $1/t$; uniform noise's are ratios that span orders of magnitude — the rare, implausible moves sit at the
# bottom left, where a network is least accurate and matters least.

# %%
fig, axes = figure(4, size=2.9)
for col, (kind, t) in enumerate([(k, t) for k in ("mask", "uniform") for t in (0.3, 0.8)]):
    model = nets[kind]
    exact, learned = rate_comparison(lambda x, s: model(x, s), data, noises[kind], t)
    ax = axes[0, col]
    ax.loglog(to_numpy(exact), to_numpy(learned.clamp_min(1e-6)), ".", ms=2, alpha=0.4)
    lo, hi = exact.min().item(), exact.max().item()
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.set(xlabel="exact rate", ylabel="trained rate", title=f"{kind}, t = {t}")
plt.show()

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Check it: the sampler against the data, exactly

# %% [markdown]
# **6. The sampler's output distribution as a function of the number of steps.** Each step of the sampler is a
# 625 × 625 (mask) or 256 × 256 (uniform) transition matrix, so the distribution of its output is the prior times
# their product — no sampling noise. $\mathrm{KL}(p_{\text{data}}\,\|\,p_{\text{sampler}})$ for N = 1 … 64 steps, the
# posterior sampler with the exact posterior and with the trained networks. With the exact posterior it must fall
# like $N^{-2}$: we fit the slope on 8–64 steps and require it in [1.7, 2.3]. At one step both noise types give the
# same number: the total correlation of the data (each position drawn from its marginal).

# %%
steps = (1, 2, 4, 8, 16, 32, 64)
exact_models = {kind: (ExactX0(data, noise), noise) for kind, noise in noises.items()}
trained_models = {kind: (lambda x, t, m=nets[kind]: m(x, t), noise)
                  for kind, noise in noises.items()}
exact_kl, trained_kl = kl_sweep(exact_models, data, steps), kl_sweep(trained_models, data, steps)
cosine = DiscreteNoise("mask", data.V, "cosine")
euler_kl = kl_sweep({"mask, cosine": (ExactX0(data, cosine), cosine)}, data, steps, sampler="euler")
posterior_cosine_kl = kl_sweep({"mask, cosine": (ExactX0(data, cosine), cosine)}, data, steps)

# %% tags=["nbval-check-output"]
logN = torch.tensor(steps[3:], dtype=torch.float64).log()
for kind in ("uniform", "mask"):
    logK = torch.tensor(exact_kl[kind][3:]).log()
    dN, dK = logN - logN.mean(), logK - logK.mean()
    slope = -((dN * dK).sum() / (dN**2).sum()).item()
    assert 1.7 <= slope <= 2.3 and exact_kl[kind][-1] < 1e-3, (kind, slope, exact_kl[kind])
    print(f"{kind:7s}, exact posterior: KL falls like N^-2 (slope in [1.7, 2.3]): True "
          f"(slope {slope:.1f})")
    at = [exact_kl[kind][steps.index(N)] for N in (4, 16, 64)]
    print("   KL at 4 / 16 / 64 steps: " + " / ".join(f"{k:.4f}" for k in at))

# %%
for kind in ("uniform", "mask"):
    print(f"{kind:7s}, trained network: KL at 4 / 16 / 64 steps: "
          + " / ".join(f"{trained_kl[kind][steps.index(N)]:.4f}" for N in (4, 16, 64)))

# %% [markdown]
# **7. Euler is unmasking for the linear schedule, and not for the cosine one.** With $\alpha_t = 1 - t$, Euler's
# jump probability $(t-s)/t$ equals the unmasking probability $(\alpha_s-\alpha_t)/(1-\alpha_t)$, so the two output
# distributions must agree to round-off (1e-12). With the cosine schedule they differ, and Euler converges too.

# %% tags=["nbval-check-output"]
d = (sampler_distribution(exact_x0, data, mask, 8, "euler")
     - sampler_distribution(exact_x0, data, mask, 8, "posterior")).abs().max().item()
assert d < 1e-12 and euler_kl["mask, cosine"][-1] < 2e-3, (d, euler_kl)
print(f"linear schedule: Euler = unmasking to 1e-12: {d < 1e-12}")

# %% [markdown]
# **8. The N-step ELBO against the exact log-likelihood.** Chapter 04's bound for the N-step posterior sampler,
# $\sum_k \mathbb E_{q_t(x_t\mid x_0)}\sum_i \mathrm{KL}(q(x_s^i\mid x_t^i, x_0^i)\,\|\,p_\theta(x_s^i\mid x_t))$,
# with every expectation enumerated, against $-\log p_\theta(x_0)$ of that same sampler (its output distribution from
# check 6). It must bound it for each of the 256 sequences (to 1e-10), for the exact and the trained posteriors. With
# the exact posterior the bound's gap to the entropy falls like $1/N$ (slope in [0.8, 1.2] on 4–64 steps) — slower
# than the KL, which is a squared distance. The trained uniform-noise network's bound *grows* from 16 to 64 steps:
# the same small-t error that makes its KL rise (see the figure below) is charged to the bound at every extra step.

# %%
elbo_steps = (4, 16, 64)
elbo_table = {}
for kind, noise in noises.items():
    for label, model in (("exact", exact_models[kind][0]), ("trained", trained_models[kind][0])):
        for N in elbo_steps:
            bound_N = discrete_elbo(model, data, noise, N)
            nll_N = -sampler_distribution(model, data, noise, N).log()
            assert (bound_N - nll_N).min().item() > -1e-10, (kind, label, N)
            elbo_table[kind, label, N] = ((data.prob() * bound_N).sum().item(),
                                          (data.prob() * nll_N).sum().item())

# %% tags=["nbval-check-output"]
print("the N-step ELBO bounds -log p_theta(x0) for every sequence, exact and trained: True")
for kind in ("uniform", "mask"):
    gaps = torch.tensor([elbo_table[kind, "exact", N][0] - H for N in elbo_steps])
    log_steps = torch.tensor(elbo_steps, dtype=torch.float64).log()
    order = -(gaps.log().diff() / log_steps.diff()).mean().item()
    assert 0.8 <= order <= 1.2, (kind, gaps)
    print(f"{kind:7s}, exact posterior: ELBO - H(data) falls like 1/N (slope in [0.8, 1.2]): True")

# %%
print(f"H(data) = {H:.4f} nats;  E_data[ELBO] / E_data[-log p_theta] for N = {elbo_steps}:")
for (kind, label, N), (b, nll) in elbo_table.items():
    print(f"  {kind:7s} {label:7s} N = {N:2d}: {b:.4f} / {nll:.4f}")

# %% [markdown]
# ## See it: KL against steps
# Solid: the exact posterior; dashed: the trained networks; dotted: mask noise on the cosine schedule, Euler and
# unmasking; grey: $\propto N^{-2}$. With the exact posterior every sampler falls like $N^{-2}$, and mask and
# uniform noise need about the same number of steps on this small problem. The trained networks level off where their
# own error takes over from the step error. For uniform noise the KL can even *rise* with more steps: near t = 0
# (linear schedule) the rate to a token $v \ne x_t^i$ is about $\hat p(x_0^i = v\mid x_t)/t$, because
# $q_t(v\mid v)/q_t(x_t^i\mid v) \approx V/t$. The exact posterior of such a v is O(t), so the rate stays O(1); a
# network's absolute error ε becomes a rate error ε/t, and a finer grid visits smaller t. Mask noise's rates are the
# posterior over t as well, but a masked position's posterior is O(1): a small error stays a small relative error.

# %%
fig, axes = figure(1, size=4.6)
ax = axes[0, 0]
for kind, color in (("mask", "C0"), ("uniform", "C1")):
    ax.loglog(steps, exact_kl[kind], "o-", color=color, label=f"{kind}, exact posterior")
    ax.loglog(steps, trained_kl[kind], "s--", color=color, label=f"{kind}, trained")
ax.loglog(steps, euler_kl["mask, cosine"], "^:", color="C2", label="mask, cosine, Euler")
ax.loglog(steps, posterior_cosine_kl["mask, cosine"], "v:", color="C4",
          label="mask, cosine, unmasking")
ax.loglog(steps, [exact_kl["mask"][3] * (8 / N) ** 2 for N in steps], color="0.6", lw=0.8,
          label="∝ N⁻²")
ax.set(xlabel="sampling steps N", ylabel="KL(data ‖ sampler) [nats]",
       title="sampler error, exactly enumerated")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Play
# Noise, schedule, sampler and number of steps; the bars show the 24 most likely sequences under the data and under
# the sampler's exact output (with the exact posterior), and the title the KL. Watch one step give the product of the
# marginals, and a few steps bring back the "+1" pattern.

# %% tags=["nbval-ignore-output"]
diffedu.ui.widgets.discrete_panel()

# %% [markdown]
# ## Warm-up · the forward kernels
# Write `forward_kernel(kind, alpha_t, V)`: the (S, S) matrix whose row u is $q_t(x_t^i = \cdot\mid x_0^i = u)$ for
# one position with keep-probability $\alpha_t$ — uniform noise (S = V) or mask noise (S = V + 1, the mask token V in
# the last row and column). Both are written in the Theory; float64, `torch.eye` helps.

# %%
from diffedu.course.exercises import check_forward_kernel


def forward_kernel(kind, alpha_t, V):
    # BEGIN SOLUTION
    if kind == "uniform":  # keep, or redraw uniformly from all V tokens (itself included)
        return alpha_t * torch.eye(V, dtype=torch.float64) + (1 - alpha_t) / V
    K = alpha_t * torch.eye(V + 1, dtype=torch.float64)  # keep …
    K[:, V] += 1 - alpha_t  # … or become the mask
    K[V, V] = 1.0  # the mask is absorbing
    return K
    # END SOLUTION


check_forward_kernel(forward_kernel)

# %% [markdown]
# ## Build it · the unmasking step
# Write `unmasking_probs(x_t, x0_probs, alpha_t, alpha_s)`: one step of masked diffusion's sampler from t to s < t,
# as probabilities. `x_t` is an (N, L) integer tensor (tokens 0 … V−1, the mask is V); `x0_probs` is (N, L, V), the
# model's $\hat p(x_0^i = v\mid x_t)$; return an (N, L, V + 1) tensor whose row (n, i) is the distribution of $x_s^i$,
# $$p(x_s^i\mid x_t) = \sum_u \hat p(x_0^i = u\mid x_t)\;q(x_s^i\mid x_t^i, x_0^i = u),$$
# the mask's probability in the last column. Work it out from the forward kernel $q_t(x_t^i\mid x_0^i) =
# \alpha_t\delta_{x_0^i} + (1-\alpha_t)\delta_m$ and Bayes' rule (the D3PM posterior of the Theory).
#
# The grader compares your rows with Bayes' rule on the kernels for all 125 noisy sequences of length 3: masked
# positions (4 points) and unmasked ones (2 points), the last step to s = 0 (1 point), and then runs your step as a
# 16-step sampler and compares its exact output distribution with Bayes' (1 point). Stuck? `hint(1)`, then `hint(2)`.

# %% tags=["nbval-check-output"]
from diffedu.labs.discrete import THINK, check_unmasking_probs, hint


def unmasking_probs(x_t, x0_probs, alpha_t, alpha_s):
    # BEGIN SOLUTION
    V = x0_probs.shape[-1]
    move = (alpha_s - alpha_t) / (1 - alpha_t) * x0_probs  # masked at t, showing token v at s
    p_stay = (1 - alpha_s) / (1 - alpha_t)  # still masked at s
    stay = torch.full((*x_t.shape, 1), p_stay, dtype=x0_probs.dtype)
    masked_row = torch.cat([move, stay], dim=-1)  # (N, L, V + 1)
    kept_row = torch.nn.functional.one_hot(x_t, V + 1).to(x0_probs.dtype)  # an unmasked token stays
    return torch.where((x_t == V).unsqueeze(-1), masked_row, kept_row)
    # END SOLUTION


check_unmasking_probs(unmasking_probs)

# %% [markdown]
# ## Think

# %% tags=["nbval-ignore-output"]
think(*THINK)

# %% [markdown]
# ## Summary
# * Token noise is a continuous-time Markov chain with a rate matrix Q; uniform and mask noise have closed-form
#   marginals: keep the token with probability $\alpha_t$, else draw a uniform token or mask it.
# * The reverse chain's rates are forward rates times probability ratios $p_t(y)/p_t(x)$ — the discrete score — and a
#   network for the per-position posterior $p(x_0^i\mid x_t)$ gives them exactly (Tweedie for tokens).
# * The ELBO of masked diffusion is a cross-entropy on masked positions weighted by $-\dot\alpha_t/(1-\alpha_t)$; at the
#   exact posterior it is tight, so its minimum is the data's entropy.
# * Samplers update positions independently within a step; with the exact posterior that is their only error, and the
#   KL to the data falls like $N^{-2}$ while the N-step ELBO's gap falls like $1/N$. Everything here was enumerated:
#   marginals, posteriors, rates, likelihoods and sampler outputs.
# * Discrete flow matching's mixture path is the same forward process, seen from the flow side.
#
# ## What next
# Chapter 12's MNIST pipeline could be run with masked pixels; chapter 10's integrator zoo has discrete cousins
# (higher-order τ-leaping, Tweedie τ-leaping of Lou et al. 2024, §4.2).
#
# ## References
# * J. Austin, D. D. Johnson, J. Ho, D. Tarlow, R. van den Berg. *Structured Denoising Diffusion Models in Discrete
#   State-Spaces* (D3PM). NeurIPS 2021 (eqs. 1, 3–5; §3, App. A.2).
# * A. Campbell, J. Benton, V. De Bortoli, T. Rainforth, G. Deligiannidis, A. Doucet. *A Continuous Time Framework for
#   Discrete Denoising Models*. NeurIPS 2022 (Prop. 1 reverse rates, Prop. 2 ELBO, §4.1 τ-leaping).
# * A. Lou, C. Meng, S. Ermon. *Discrete Diffusion Modeling by Estimating the Ratios of the Data Distribution*
#   (SEDD). ICML 2024 (eqs. 1–2, §3 concrete score, Thm. 3.6, §3.3 and §4.2 samplers).
# * S. S. Sahoo, M. Arriola, Y. Schiff, A. Gokaslan, E. Marroquin, J. T. Chiu, A. Rush, V. Kuleshov. *Simple and
#   Effective Masked Diffusion Language Models* (MDLM). NeurIPS 2024 (eq. 10; §3.2).
# * J. Shi, K. Han, Z. Wang, A. Doucet, M. K. Titsias. *Simplified and Generalized Masked Diffusion for Discrete
#   Data* (MD4). NeurIPS 2024 (eq. 5; §3).
# * I. Gat, T. Remez, N. Shaul, F. Kreuk, R. T. Q. Chen, G. Synnaeve, Y. Adi, Y. Lipman. *Discrete Flow Matching*.
#   NeurIPS 2024 (§2, mixture paths and their velocities).
# * J. Ou, S. Nie, K. Xue, F. Zhu, J. Sun, Z. Li, C. Li. *Your Absorbing Discrete Diffusion Secretly Models the
#   Conditional Distributions of Clean Data*. ICLR 2025.

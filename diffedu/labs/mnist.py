r"""Lab of chapter 12: EDM's training loss on MNIST, written out, and an Euler sampler for the shipped checkpoint.

The student writes two functions.

* ``training_loss(F, x0, y, n_sigma, eps, u)``: one training step's loss (Karras et al. 2022) for the raw U-Net
  ``F(x, c_noise, y)``: $\sigma = \exp(P_{mean} + P_{std}\,n)$ from the given standard normal draws ``n_sigma``,
  labels dropped to the null class 10 where ``u < p_uncond`` (classifier-free guidance), $x_t = x_0 + \sigma\varepsilon$,
  $D_x = c_{skip}x_t + c_{out}F(c_{in}x_t;\ c_{noise}, y)$ and the loss
  $\frac1B\sum_b \lambda(\sigma_b)\lVert D_x - x_0\rVert^2$ with $\lambda = 1/c_{out}^2$. Graded against
  ``diffedu.losses.edm_loss`` run with the same draws (exact) and by training a tiny U-Net with it.
* ``euler_sampler(D, x_T, sigmas, y)``: Euler's method on the probability-flow ODE $dx/d\sigma = (x - D(x;\sigma))/\sigma$
  over the given decreasing grid (Karras et al. 2022, Algorithm 1 without the correction), the last step into σ = 0.
  Graded against the same recursion written here (exact, the shipped ``mnist-edm`` model) and by the shipped
  classifier: the conditional accuracy of 50 digits at 20 steps (NFE 20).

``ANSWERS`` names the package functions with which the loss shrinks to a call or two: ``edm_loss`` and
``denoising_loss`` (the loss), ``EDMPrecond`` and ``edm_preconditioning`` (the preconditioning).
"""
from __future__ import annotations

import contextlib
import functools
import math

import torch

from ..losses import edm_loss
from ..mnist.data import load_mnist
from ..mnist.pretrained import load, load_classifier
from ..metrics import conditional_accuracy
from ..nets import NULL_CLASS, EDMPrecond, UNet
from ..processes import EDM
from ..timers import make_grid
from .grading import Functions, Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_edm_lab", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("edm_loss", "denoising_loss", "EDMPrecond", "edm_preconditioning")

SIGMA_DATA, P_MEAN, P_STD, P_UNCOND = 0.5, -1.2, 1.2, 0.1
TRAIN_STEPS, TRAIN_FACTOR = 200, 0.5
N_DIGITS, N_STEPS, MIN_ACCURACY = 50, 20, 0.6


@functools.lru_cache(maxsize=1)
def _mnist():
    """MNIST, loaded (and its sha256 checked) once per session."""
    return load_mnist()


@functools.lru_cache(maxsize=1)
def _shipped():
    """The shipped mnist-edm network and the evaluation classifier, loaded once per session."""
    return load("mnist-edm").net, load_classifier()


# --- the loss ------------------------------------------------------------------------------------------------------

def _batch(seed: int, size: int = 8):
    """A fixed batch of MNIST digits and labels, and the draws of one step: n_sigma (B,) then eps (B, 1, 28, 28) from
    a generator seeded ``seed + 1`` (the order in which ``edm_loss`` draws them), and u (B,), which puts the labels
    of samples 1 and 5 below p_uncond (two labels dropped)."""
    data, g, g_draws = _mnist(), torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    idx = torch.randint(0, len(data.y_train), (size,), generator=g)
    x0, y = data.x_train[idx], data.y_train[idx]
    n_sigma = torch.randn(size, generator=g_draws, dtype=x0.dtype)
    eps = torch.randn(x0.shape, generator=g_draws, dtype=x0.dtype)
    u = 0.2 + 0.8 * torch.rand(size, generator=g)
    u[[1, 5]] = torch.tensor([0.03, 0.07])
    return x0, y, n_sigma, eps, u


def _reference(F, x0, y, n_sigma, eps, u, *, weight="c_out2", c_noise="quarter", sigma="lognormal", drop=True,
               c_in=True, reduce="sum", noise=True):
    r"""The loss, or (with a keyword set otherwise) one typical mistake made on purpose. The correct branch is
    ``diffedu.losses.edm_loss`` through ``EDMPrecond`` with σ = exp(P_mean + P_std n), ε and the dropped labels."""
    sig = {"lognormal": torch.exp(P_MEAN + P_STD * n_sigma), "exp": torch.exp(n_sigma),
           "no_exp": (P_MEAN + P_STD * n_sigma).abs()}[sigma]  # (B,)
    labels = torch.where(u < P_UNCOND, torch.full_like(y, NULL_CLASS), y) if drop else y
    s = sig**2 + SIGMA_DATA**2
    c_skip, c_out, c_in_ = SIGMA_DATA**2 / s, sig * SIGMA_DATA / s.sqrt(), 1 / s.sqrt() if c_in else torch.ones_like(s)
    c_n = {"quarter": sig.log() / 4, "ln": sig.log(), "log10": sig.log10() / 4}[c_noise]
    view = (-1, 1, 1, 1)
    x_t = x0 + (sig.view(view) * eps if noise else eps)
    D_x = c_skip.view(view) * x_t + c_out.view(view) * F(c_in_.view(view) * x_t, c_n, labels)
    lam = {"c_out2": 1 / c_out**2, "none": torch.ones_like(s), "c_out": 1 / c_out}[weight]
    err = (D_x - x0).pow(2).flatten(1)
    err = err.sum(1) if reduce == "sum" else err.mean(1)
    return (lam * err).mean()


def _tiny_unet(seed: int):
    """A tiny EDM U-Net (channels 8, 16) with every parameter shaken by N(0, 0.05²): its zero-initialised layers
    (the output, the residual branches) then pass the input, c_noise and the label on, so each one changes F."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    F = UNet((8, 16), 1, t_scale=250.0)
    with torch.no_grad():
        for param in F.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=g))
    return F


def _loss_exact(pair: Functions) -> Verdict:
    """Exact: the loss of a fixed random U-Net on 8 digits with fixed draws, against ``edm_loss`` with the same draws."""
    F = _tiny_unet(21).eval()
    x0, y, n_sigma, eps, u = _batch(22)  # draws from seed 23
    with torch.no_grad():
        got = call(pair.loss, F, x0.clone(), y.clone(), n_sigma.clone(), eps.clone(), u.clone())
        want = _package_loss(F, x0, y, u, seed=23)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return Verdict(False, f"returned {type(got).__name__} {tuple(getattr(got, 'shape', ()))}",
                           "return the loss as one number (a tensor of one element): the mean over the batch")
        got = got.reshape(())
        if close(got, want, rtol=1e-5, atol=1e-6):
            return Verdict(True, f"equals edm_loss with the same draws to 1e-5 ({want.item():.1f})")
        args = (F, x0, y, n_sigma, eps, u)
        mistakes = [(_reference(*args, weight="none"), "the loss weight λ(σ) = 1/c_out² = (σ² + σ_data²)/(σ·σ_data)² "
                                                        "is missing: without it small σ dominate nothing and large σ "
                                                        "everything"),
                    (_reference(*args, weight="c_out"), "the weight is 1/c_out², not 1/c_out: it makes F's target "
                                                        "(x0 − c_skip x_t)/c_out have unit weight"),
                    (_reference(*args, c_noise="ln"), "c_noise is ¼·ln σ (EDM's Table 1), not ln σ"),
                    (_reference(*args, c_noise="log10"), "c_noise uses the natural log: ¼·ln σ (torch.log)"),
                    (_reference(*args, sigma="exp"), "σ is log-normal with mean P_mean and spread P_std: "
                                                     "σ = exp(P_mean + P_std·n), not exp(n)"),
                    (_reference(*args, drop=False), "the labels are not dropped: where u < p_uncond the label "
                                                    "becomes the null class 10 (classifier-free guidance needs the "
                                                    "unconditional model too)"),
                    (_reference(*args, c_in=False), "the network's input is c_in·x_t (unit variance), not x_t"),
                    (_reference(*args, reduce="mean"), "sum the squared error over each image's 784 pixels, then "
                                                       "average over the batch (the course's convention — that is "
                                                       "why the loss reads in the hundreds); you averaged the pixels"),
                    (_reference(*args, noise=False), "x_t = x0 + σ·ε: the noise is scaled by σ")]
        if not bool(torch.isfinite(got)):
            return Verdict(False, "the loss is not finite", "σ must be positive: σ = exp(P_mean + P_std·n) (a log "
                                                            "of a negative σ gives nan)")
        return Verdict(False, f"{got.item():.4g} ≠ {want.item():.4g}", diagnose(
            got, mistakes, "σ = exp(P_mean + P_std·n); drop labels; x_t = x0 + σ·ε; D_x = c_skip·x_t + "
                           "c_out·F(c_in·x_t, c_noise, y); the loss is the batch mean of λ(σ)·‖D_x − x0‖²"))


def _package_loss(F, x0, y, u, seed: int):
    """``diffedu.losses.edm_loss`` on ``EDMPrecond(F)`` with the labels dropped where u < p_uncond; its generator,
    seeded like ``_batch``'s draws, draws the same n_sigma and then the same eps."""
    labels = torch.where(u < P_UNCOND, torch.full_like(y, NULL_CLASS), y)
    return edm_loss(EDMPrecond(F, SIGMA_DATA), x0, EDM(sigma_data=SIGMA_DATA), torch.Generator().manual_seed(seed),
                    p_mean=P_MEAN, p_std=P_STD, y=labels)


@contextlib.contextmanager
def _one_thread():
    """One intra-op thread for the tiny nets of the lab (on a busy 2-core machine several threads cost ~30× more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _loss_trains(pair: Functions) -> Verdict:
    with _one_thread():
        return _train(pair)


def _train(pair: Functions) -> Verdict:
    """Training: TRAIN_STEPS Adam steps (lr 1e-3, batch 16) of a tiny U-Net (channels 8, 16) with the student's loss;
    the mean loss of the last 25 steps must be ≤ TRAIN_FACTOR × that of the first 25."""
    data, g = _mnist(), torch.Generator().manual_seed(23)
    torch.manual_seed(24)
    F = UNet((8, 16), 1, t_scale=250.0)
    opt = torch.optim.Adam(F.parameters(), lr=1e-3)
    losses = []
    for _ in range(TRAIN_STEPS):
        idx = torch.randint(0, len(data.y_train), (16,), generator=g)
        x0, y = data.x_train[idx], data.y_train[idx]
        loss = call(pair.loss, F, x0, y, torch.randn(16, generator=g), torch.randn(x0.shape, generator=g),
                    torch.rand(16, generator=g))
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            return Verdict(False, "the loss carries no gradient", "compute the loss from F's output with torch "
                                                                  "operations (no .item(), no torch.no_grad())")
        opt.zero_grad()
        loss.reshape(()).backward()
        opt.step()
        losses.append(float(loss.detach()))
    if not all(math.isfinite(v) for v in losses):
        return Verdict(False, "the loss became nan or inf", "is σ positive and the weight finite?")
    first, last = sum(losses[:25]) / 25, sum(losses[-25:]) / 25
    return Verdict(last <= TRAIN_FACTOR * first, f"mean loss {first:.0f} (first 25 steps) → {last:.0f} (last 25)",
                   "the loss does not fall: does it depend on F's output through D_x?")


# --- the sampler ---------------------------------------------------------------------------------------------------

def _denoiser(net):
    """D(x, sigma, y): the network's D_x with one σ (a number) for the whole batch."""
    def D(x, sigma, y):
        return net(x, torch.full((x.shape[0],), float(sigma), dtype=x.dtype), y)
    return D


def _euler(D, x, sigmas, y, *, sign=1.0, last=True, at="start"):
    """Euler's method on dx/dσ = (x − D(x; σ))/σ over ``sigmas``, or (keywords) one typical mistake on purpose."""
    n = len(sigmas) - 1 if last else len(sigmas) - 2
    for i in range(n):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        d_cur = sign * (x - D(x, sigma, y)) / sigma  # the PF-ODE's slope
        x = x + (sigma_next - sigma) * d_cur  # Euler step
    return x


def _sampler_exact(pair: Functions) -> Verdict:
    with _one_thread():
        return _exact_sampler(pair)


def _exact_sampler(pair: Functions) -> Verdict:
    """Exact: 5 Euler steps of the shipped mnist-edm model from fixed noise for 4 digits, against the same recursion."""
    D = _denoiser(_shipped()[0])
    sigmas = make_grid("karras", EDM(), 5).float()
    g = torch.Generator().manual_seed(25)
    x_T, y = sigmas[0] * torch.randn(4, 1, 28, 28, generator=g), torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        got = call(pair.sampler, D, x_T.clone(), sigmas.clone(), y.clone())
        want = _euler(D, x_T, sigmas, y)
        if close(got, want, rtol=1e-4, atol=1e-4):
            return Verdict(True, "equals the Euler recursion on the shipped model to 1e-4")
        mistakes = [(_euler(D, x_T, sigmas, y, last=False), "you stopped one step early: the last step goes from "
                                                             "σ_min into σ = 0 (there the Euler step returns D(x; σ))"),
                    (_euler(D, x_T, sigmas, y, sign=-1.0), "the slope is dx/dσ = (x − D(x; σ))/σ: check its sign")]
    return Verdict(False, "differs from the Euler recursion", diagnose(
        got, mistakes, "for each i: d = (x − D(x, σ_i, y))/σ_i, x ← x + (σ_{i+1} − σ_i)·d, over every interval of "
                       "sigmas"))


def _sampler_accuracy(pair: Functions) -> Verdict:
    with _one_thread():
        return _accuracy(pair)


def _accuracy(pair: Functions) -> Verdict:
    """The shipped classifier reads N_DIGITS digits (labels 0–9 in turn) sampled with the student's sampler at N_STEPS
    Euler steps (NFE = N_STEPS); the conditional accuracy must be ≥ MIN_ACCURACY (chance: 0.1)."""
    net, classifier = _shipped()
    sigmas = make_grid("karras", EDM(), N_STEPS).float()
    g = torch.Generator().manual_seed(26)
    x_T, y = sigmas[0] * torch.randn(N_DIGITS, 1, 28, 28, generator=g), torch.arange(N_DIGITS) % 10
    with torch.no_grad():
        x = call(pair.sampler, _denoiser(net), x_T, sigmas, y)
        x = expect(x, x_T.shape, "return x after the last step, the shape of x_T",
                   "not finite digits of shape (50, 1, 28, 28)", finite=True)
        acc = conditional_accuracy(classifier, x, y)
    return Verdict(acc >= MIN_ACCURACY, f"accuracy {acc:.2f} on {N_DIGITS} digits",
                   "the classifier does not read the asked-for digits: pass y to D at every step, and end at σ = 0")


LAB = Lab("12 · EDM's training loss and an Euler sampler on MNIST", [
    Part("training_loss: one step's loss, fixed draws", 4, "equal to diffedu.losses.edm_loss to 1e-5", _loss_exact),
    Part(f"training_loss: a tiny U-Net learns with it ({TRAIN_STEPS} steps)", 2,
         f"last-25 mean ≤ {TRAIN_FACTOR} × first-25 mean", _loss_trains),
    Part("euler_sampler: the recursion on the shipped model", 2, "equal to Euler to 1e-4", _sampler_exact),
    Part(f"euler_sampler: the classifier reads the digits (NFE {N_STEPS})", 2, f"accuracy ≥ {MIN_ACCURACY} on "
         f"{N_DIGITS} digits", _sampler_accuracy),
], hints=[
    "training_loss: a training step noises a clean batch at random levels σ and asks the preconditioned denoiser D_x to "
    "undo it; every σ's error is weighted so that each σ counts about equally. euler_sampler: walk down the grid of "
    "σ, one step per interval, following the direction from x towards the denoised image.",
    "training_loss: the four coefficients are those of chapter 09 (c_skip, c_out, c_in, c_noise), with σ from the normal "
    "draws n_sigma through an exponential and the labels replaced by 10 where u < p_uncond; the weight is 1/c_out². "
    "euler_sampler: the PF-ODE in EDM's time is dx/dσ = (x − D(x; σ))/σ.",
    "training_loss: sigma = exp(P_mean + P_std·n_sigma); y = where(u < p_uncond, 10, y); s = σ² + σ_d²; c_skip = σ_d²/s, "
    "c_out = σσ_d/√s, c_in = 1/√s, c_noise = ln(σ)/4; x_t = x0 + σ·eps; D_x = c_skip·x_t + c_out·F(c_in·x_t, "
    "c_noise, y); loss = mean over the batch of ((D_x − x0)² summed over pixels)/c_out². euler_sampler: for i in "
    "range(len(sigmas) − 1): d = (x − D(x, σ_i, y))/σ_i; x = x + (σ_{i+1} − σ_i)·d.",
])


def check_edm_lab(loss, sampler) -> None:
    """Grade chapter 12's lab — ``training_loss(F, x0, y, n_sigma, eps, u)`` and ``euler_sampler(D, x_T, sigmas, y)`` —
    and print the score."""
    LAB.grade(Functions(loss=loss, sampler=sampler))


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 12's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 12's Think questions
    Question("Drop the weight λ(σ) = 1/c_out² from the EDM loss. Which noise levels then barely train?",
             choices=("The small σ: their error is scaled by c_out² ≈ σ², tiny", "The large σ: their error is "
                      "scaled by σ_data²", "None: D_x's error is weighted the same at every σ"), answer=0,
             explanation="Without λ the loss is ‖D_x − x0‖² = c_out²‖F − target‖², and c_out² ≈ σ² at small σ but "
                         "σ_data² at large σ: the low-noise levels, which decide fine detail, hardly train. "
                         "λ = 1/c_out² gives every σ a unit-variance target."),
    Question("A network that always outputs F = 0 (the shipped U-Net's last layer starts at zero) has, per pixel, "
             "the EDM loss ((1 − c_skip)²·m + c_skip²·σ²)/c_out², m the data's mean square. For m = σ_data², what "
             "is this per-pixel loss, at any σ?", answer=1.0, tolerance=0.01,
             explanation="With s = σ² + σ_data²: (1 − c_skip)²σ_data² + c_skip²σ² = (σ⁴σ_data² + σ_data⁴σ²)/s² = "
                         "σ²σ_data²/s = c_out². The target has unit variance, so an untrained net starts near "
                         "784 × m/σ_data² — the loss reads in the hundreds because it sums over 784 pixels."),
    Question("Your loss forgets the label dropout (p_uncond = 0). You then sample with classifier-free guidance at "
             "w = 2. What goes wrong?",
             choices=("Nothing: CFG needs only the conditional model",
                      "The unconditional prediction u(x | ∅) was never trained: the null label's embedding is noise",
                      "Training becomes unstable"), answer=1,
             explanation="CFG mixes u(x|∅) and u(x|y). The null class 10 is only seen when labels are dropped; "
                         "without dropout its embedding keeps its random initial value and u(x|∅) is meaningless."),
)

r"""Lab of chapter 11: classifier-free guidance and a DPS step, on the labelled 2-D mixture where every answer is exact.

The student writes two functions.

* ``cfg(predictor, x_t, t, kind, y, w, null_label)``: the guided prediction
  $\tilde u = (1-w)\,u(x_t\mid\varnothing) + w\,u(x_t\mid y)$ of any kind (Ho & Salimans 2022), the unconditional
  prediction asked for with the label ``null_label``. Graded against ``ClassifierFreeGuidance`` around the exact
  ``MixturePredictor`` (every kind, two processes, three w; exact) and by sampling: w = 1 must draw $q(x\mid y)$ and
  w = 0 must draw $q(x)$ (sliced Wasserstein distance within the sampling floor plus a margin).
* ``dps_step(x_t, t, predictor, A, y, zeta, prior_step)``: one step of diffusion posterior sampling (Chung et al.
  2023): $x_{next} = \text{prior\_step}(x_t, \hat x_0) - \zeta\,\nabla_{x_t}\lVert y - A\hat x_0(x_t)\rVert^2 /
  \lVert y - A\hat x_0(x_t)\rVert$, the gradient through the denoiser, per sample. Graded against the same step
  written here with the same prior step and draws (exact), then by sampling an inpainting posterior and comparing
  with the exact Gaussian-mixture posterior (``linear_gaussian_posterior``).

``ANSWERS`` names the package functions that would pass this grader if a student called them:
``ClassifierFreeGuidance`` (and ``CondDenoiser``, which builds one). ``guidance.dps`` runs a whole sampler with its
own noise and cannot reproduce the grader's prior step.
"""
from __future__ import annotations

import torch

from ..course.guidance_demos import MixturePredictor
from ..denoiser import Denoiser
from ..guidance import ClassifierFreeGuidance, linear_gaussian_posterior
from ..integrators import ddim_step
from ..metrics import sliced_wasserstein
from ..processes import make_process
from ..timers import make_grid
from ..toys import gmm_2d
from .grading import Functions, Lab, Part, StudentError, Verdict, call, close, diagnose, expect, explain
from .think import Question

__all__ = ["check_guidance", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("ClassifierFreeGuidance", "CondDenoiser")

NULL = 3  # gmm_2d has the labels 0, 1, 2: the null label is 3
N_SAMPLES, SW_MARGIN = 1000, 0.03


def _sw(a, b) -> float:
    """SW₂ with fixed projections (the same number on every run)."""
    return float(sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0)))


# --- classifier-free guidance --------------------------------------------------------------------------------------

def _cfg_exact(pair: Functions) -> Verdict:
    """Exact: the guided prediction of every kind, on VP and EDM, at w = 0, 1, 2.5, against ``ClassifierFreeGuidance``."""
    gmm, g = gmm_2d(), torch.Generator().manual_seed(11)
    x_t = 1.5 * torch.randn(64, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=g)
    for name, t in (("vp", 0.4), ("edm", 0.8)):
        exact = MixturePredictor(gmm, make_process(name), null_label=NULL)
        for w in (2.5, 0.0, 1.0):
            for kind in ("x0", "eps", "score", "velocity"):
                got = call(pair.cfg, exact, x_t.clone(), t, kind, y.clone(), w, NULL)
                want = ClassifierFreeGuidance(exact, w, NULL)(x_t, t, kind, y=y)
                if not close(got, want, rtol=1e-7, atol=1e-9):
                    return Verdict(False, f"differs on {name.upper()}, kind '{kind}', w = {w:g}",
                                   diagnose(got, _cfg_mistakes(exact, x_t, t, kind, y, w), _CFG_DEFAULT))
    return Verdict(True, "equals ClassifierFreeGuidance in every kind, on VP and EDM, at w = 0, 1, 2.5, to 1e-7")


_CFG_DEFAULT = ("ask the predictor twice at the same x_t and t, with the same kind: once with the labels y, once with "
                "a tensor like y filled with null_label; then mix the two with weights (1 − w) and w")


def _cfg_mistakes(exact, x_t, t, kind, y, w):
    """Typical wrong answers, each computed on purpose, with its hint."""
    def guided(w_, kind_=kind):
        return ClassifierFreeGuidance(exact, w_, NULL)(x_t, t, kind_, y=y)
    mistakes = [(guided(1 - w), "w and 1 − w are swapped: w = 0 must give the unconditional prediction and w = 1 the "
                                "conditional one, so w multiplies u(x_t | y)"),
                (guided(1 + w), "that is Ho & Salimans's form (1 + w′)·u_c − w′·u_∅ with w′ = w; in this course w = 1 "
                                "is the conditional model (their w′ = w − 1), so the mix is (1 − w)·u_∅ + w·u_c"),
                (exact(x_t, t, kind, y=y), "your answer does not depend on w: did you ask the predictor for the "
                                           "unconditional prediction with y = null_label?")]
    if kind != "x0":
        mistakes.append((guided(w, "x0"), f"you returned an x̂0 when kind '{kind}' was asked: pass `kind` on to the "
                                          "predictor (the mix is the same in every kind)"))
        mistakes.append((guided(w, "score"), f"you mixed scores and returned them when kind '{kind}' was asked: "
                                             "pass `kind` on to the predictor instead of converting"))
    return mistakes


def _cfg_samples(pair: Functions) -> Verdict:
    """Monte Carlo: 1000 Heun samples (20 EDM steps) of class 0 with the student's guidance at w = 1 and at w = 0;
    SW₂ to exact samples of q(x | y = 0) and of q(x) must be within the floor (two exact sets) + 0.03."""
    gmm, process = gmm_2d(), make_process("edm")
    exact = MixturePredictor(gmm, process, null_label=NULL)
    y = torch.zeros(N_SAMPLES, dtype=torch.long)
    report = []
    for w, law, name in ((1.0, gmm.restrict(0), "q(x | y)"), (0.0, gmm, "q(x)")):
        def guided(x, t, kind="x0", y=y):
            return call(pair.cfg, exact, x, t, kind, y, w, NULL)
        g = torch.Generator().manual_seed(12)
        try:
            x = Denoiser(process, guided, "heun", "karras").sample(N_SAMPLES, 20, shape=(2,), generator=g, y=y)
        except StudentError:
            raise
        except Exception as error:  # noqa: BLE001 — the sampler failed on what cfg returned
            return Verdict(False, f"the sampler failed at w = {w:g}", explain(error))
        x = expect(x, (N_SAMPLES, 2), "make cfg return a finite tensor of the shape of x_t",
                   f"the samples at w = {w:g} are not finite points of shape ({N_SAMPLES}, 2)", finite=True)
        ref, ref2 = law.sample(N_SAMPLES, generator=g), law.sample(N_SAMPLES, generator=g)
        dist, floor = _sw(x, ref), _sw(ref, ref2)
        report.append(f"w = {w:g}: SW to {name} {dist:.3f} (floor {floor:.3f})")
        if dist > floor + SW_MARGIN:
            return Verdict(False, "; ".join(report), f"at w = {w:g} the guided sampler must draw {name} exactly: "
                           + ("w = 1 is the conditional model" if w == 1 else "w = 0 is the unconditional model"))
    return Verdict(True, "; ".join(report))


# --- diffusion posterior sampling ----------------------------------------------------------------------------------

PROBLEMS = {"inpaint": ([[1.0, 0.0]], [-1.5], 0.05), "downsample": ([[0.5, 0.5]], [0.2], 0.05),
            "denoise": ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.8], 0.5)}


def _prior_step(process, t: float, t_next: float, seed: int):
    """The prior's own step, DDIM with η = 1 from the given x̂0, its noise fixed by ``seed``."""
    def step(x, x0_hat):
        x0_hat = x0_hat.detach()
        return ddim_step(x.detach(), t, t_next, lambda *a, **k: x0_hat, process, eta=1.0,
                         generator=torch.Generator().manual_seed(seed))[0]
    return step


def _dps_reference(x_t, t, predictor, A, y, zeta, prior_step, *, wrt="x_t", norm="sample", power=1.0, sign=-1.0,
                   where="after"):
    r"""$x_{next} = \text{prior\_step}(x_t, \hat x_0) - \zeta\,\nabla_{x_t}\lVert r\rVert^2/\lVert r\rVert$, $r = y - A\hat x_0(x_t)$
    (Chung et al. 2023, Algorithm 1); the keywords set otherwise make one typical mistake on purpose."""
    with torch.enable_grad():
        x_in = x_t.detach().requires_grad_(True)
        x0_hat = predictor(x_in, t, "x0")
        if wrt == "x0":  # the gradient with respect to x̂0: the denoiser's Jacobian left out
            x0_hat = x0_hat.detach().requires_grad_(True)
        resid2 = ((y - x0_hat @ A.T) ** 2).sum(1)  # (N,) ‖y − A x̂0‖²
        (grad,) = torch.autograd.grad(resid2.sum(), x0_hat if wrt == "x0" else x_in)
    scale = {"sample": resid2.detach().sqrt()[:, None], "none": 1.0, "batch": resid2.detach().sum().sqrt(),
             "squared": resid2.detach()[:, None]}[norm]
    correction = sign * power * zeta * grad / scale
    if where == "before":
        return prior_step(x_t + correction, x0_hat.detach())
    return prior_step(x_t, x0_hat.detach()) + correction


def _dps_mistakes(args):
    def wrong(**kw):
        return _dps_reference(*args, **kw)
    return [(wrong(norm="none"), "the step is normalised per sample: ζ·∇‖r‖² / ‖r‖ with r = y − A x̂0 (Chung et al.'s "
                                 "ζ_t = ζ/‖y − A x̂0‖); yours has no division"),
            (wrong(norm="squared"), "divide by ‖r‖, not by ‖r‖²: the step is ζ·∇‖r‖²/‖r‖ = 2ζ·∇‖r‖"),
            (wrong(norm="batch"), "normalise each sample by its own residual ‖r_i‖ (sum over the measurement's "
                                  "entries, dim 1), not by one norm over the whole batch"),
            (wrong(power=0.5), "you took ζ·∇‖r‖; the paper's step ζ·∇‖r‖²/‖r‖ is twice that (∇‖r‖² = 2‖r‖∇‖r‖)"),
            (wrong(wrt="x0"), "you differentiated with respect to x̂0: DPS differentiates ‖y − A x̂0(x_t)‖² with "
                              "respect to x_t, through the denoiser (make x_t require grad before calling it)"),
            (wrong(sign=1.0), "the correction has the wrong sign: step *down* the gradient of the residual"),
            (wrong(where="before"), "take the prior step from x_t first, then subtract the correction from its "
                                    "result (the gradient is still the one at x_t)")]


def _dps_exact(pair: Functions) -> Verdict:
    """Exact: one DPS step on VP at t = 0.5 → 0.45 for three measurements, against the step written here with the
    same prior step (same draws)."""
    gmm, process = gmm_2d(), make_process("vp")
    predictor = gmm.predictor(process)
    x_t = 1.2 * torch.randn(32, 2, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    for name, (A, y, _) in PROBLEMS.items():
        A, y = torch.tensor(A, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
        prior_step = _prior_step(process, 0.5, 0.45, seed=14)
        args = (x_t, 0.5, predictor, A, y, 0.05, prior_step)
        got = call(pair.dps_step, x_t.clone(), 0.5, predictor, A.clone(), y.clone(), 0.05, prior_step)
        want = _dps_reference(*args)
        if not close(got, want, rtol=1e-7, atol=1e-9):
            return Verdict(False, f"differs on the {name} problem (A of shape {tuple(A.shape)})",
                           diagnose(got, _dps_mistakes(args),
                                    "x_next = prior_step(x_t, x̂0) − ζ·∇_{x_t}‖y − A x̂0(x_t)‖² / ‖y − A x̂0(x_t)‖, "
                                    "per sample, with x̂0 = predictor(x_t, t, 'x0')"))
    return Verdict(True, "equals the DPS step for inpainting, downsampling and denoising, to 1e-7")


def _dps_samples(pair: Functions) -> Verdict:
    """Monte Carlo: 1000 samples of inpainting (we see x₁ = −1.5, σ_y = 0.05) with 60 DPS steps (ζ = 0.05, DDIM η = 1,
    log-SNR grid on VP); the mean |x₁ − y| must be ≤ 0.25 and SW₂ to the exact posterior ≤ 0.4 (the prior's is ≈ 1.4)."""
    gmm, process = gmm_2d(), make_process("vp")
    predictor = gmm.predictor(process)
    A, y, sigma_y = (torch.tensor(v, dtype=torch.float64) if i < 2 else v for i, v in enumerate(PROBLEMS["inpaint"]))
    g = torch.Generator().manual_seed(15)
    x = Denoiser(process, predictor).prior(N_SAMPLES, (2,), g)
    ts = make_grid("log_snr", process, 60).tolist()
    for k, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        x = call(pair.dps_step, x.detach(), t, predictor, A, y, 0.05, _prior_step(process, t, t_next, seed=100 + k))
        if not isinstance(x, torch.Tensor) or x.shape != (N_SAMPLES, 2):
            return Verdict(False, f"dps_step returned {type(x).__name__} {tuple(getattr(x, 'shape', ()))}",
                           f"return the next state, a tensor of the shape of x_t ({N_SAMPLES}, 2)")
    x = x.detach()
    if not bool(torch.isfinite(x).all()):
        return Verdict(False, "the samples are not finite", "a division by a zero residual, or a step that blows up")
    fit = (x @ A.T - y).abs().mean().item()
    post = linear_gaussian_posterior(gmm, A, y, sigma_y).sample(N_SAMPLES, generator=g)
    dist = _sw(x, post)
    ok = fit <= 0.25 and dist <= 0.4
    return Verdict(ok, f"mean |A x − y| = {fit:.3f}, SW₂ to the exact posterior {dist:.2f}",
                   "your sampler does not condition on y: is the correction subtracted after each prior step, "
                   "with the gradient taken at x_t?")


LAB = Lab("11 · classifier-free guidance and a DPS step", [
    Part("cfg: the guided prediction, every kind", 3, "equal to ClassifierFreeGuidance to 1e-7", _cfg_exact),
    Part("cfg: w = 1 samples q(x | y), w = 0 samples q(x)", 2, f"SW₂ ≤ floor + {SW_MARGIN}", _cfg_samples),
    Part("dps_step: one step, with the given prior step", 3, "equal to the DPS step to 1e-7", _dps_exact),
    Part("dps_step: inpainting samples fit y and approach the posterior", 2,
         "mean |A x − y| ≤ 0.25 and SW₂ ≤ 0.4", _dps_samples),
], hints=[
    "cfg: the guided field mixes two predictions of the same network at the same x_t — one that knows the label and "
    "one that does not. dps_step: DPS is the prior's ordinary step followed by a nudge that makes A x̂0 closer to y.",
    "cfg: the 'no label' prediction is the predictor called with y = null_label for every sample; which of the two "
    "predictions must w multiply so that w = 1 is the conditional model? dps_step: the residual r = y − A x̂0(x_t) "
    "depends on x_t through the denoiser, so let autograd differentiate ‖r‖² with respect to x_t; the step size is "
    "ζ divided by ‖r‖, one norm per sample.",
    "cfg: null = torch.full_like(y, null_label); return (1 − w)·predictor(x_t, t, kind, y=null) + w·predictor(x_t, "
    "t, kind, y=y). dps_step: x = x_t.detach().requires_grad_(True); x0_hat = predictor(x, t, 'x0'); "
    "r2 = ((y − x0_hat @ A.T)**2).sum(1); grad = torch.autograd.grad(r2.sum(), x)[0]; return prior_step(x_t, "
    "x0_hat.detach()) − zeta·grad / r2.sqrt()[:, None].",
])


def check_guidance(cfg, dps_step) -> None:
    """Grade chapter 11's lab — ``cfg(predictor, x_t, t, kind, y, w, null_label)`` and ``dps_step(x_t, t, predictor, A,
    y, zeta, prior_step)`` — and print the score."""
    LAB.grade(Functions(cfg=cfg, dps_step=dps_step))


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 11's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 11's Think questions
    Question("Your network predicts ε, your sampler wants the velocity. Can you apply CFG to the ε predictions and "
             "convert the guided ε to a velocity afterwards?",
             choices=("Yes: conversions are affine with coefficients that depend only on (x_t, t), and (1 − w) + w = 1",
                      "No: CFG must be applied to the quantity the sampler integrates",
                      "Only for w between 0 and 1"), answer=0,
             explanation="u' = A_t u + B_t x_t, and (1 − w)(A u_∅ + B x) + w(A u_c + B x) = A[(1 − w)u_∅ + w u_c] + B x "
                         "because the weights sum to one. The guided field is the same in every parametrization."),
    Question("On the 2-D mixture, CFG with w = 4 gives samples whose SW₂ to the tilted law q(x|y)⁴q(x)⁻³ is many "
             "times the sampling floor. Why doesn't CFG sample the tilted law?",
             choices=("The sampler has too few steps", "Noising does not commute with powers and products: the guided "
                      "field is not the score of the noised tilted law", "The null label was trained too rarely"),
             answer=1,
             explanation="The guided score at each t is ∇log[p_t(x|y)^w p_t(x)^(1−w)], but ∫p(x_t|x0)π_w(x0)dx0 is not "
                         "p_t(x_t|y)^w p_t(x_t)^(1−w): no noised law has this score, so nothing says where the "
                         "trajectories end. The exact models here rule out training and step errors."),
    Question("DPS uses p_t(y | x_t) ≈ p(y | x0 = x̂0(x_t)). On the denoising problem (A = I, σ_y = 0.5) its samples "
             "collapse near y, while the exact posterior is a broad cloud. Which ingredient does this approximation "
             "lose?",
             choices=("The spread of x0 given x_t (and the measurement noise σ_y in the step)",
                      "The prior p(x0)", "The gradient through the denoiser"), answer=0,
             explanation="Replacing x0 by its mean x̂0 ignores Cov(x0 | x_t), large at high noise, and the normalised "
                         "step never sees σ_y: every sample is pulled until A x̂0 ≈ y. ΠGDM adds the missing "
                         "covariance r_t²AAᵀ + σ_y²I to the likelihood."),
)

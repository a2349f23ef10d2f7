r"""Lab of chapter 13: the MeanFlow loss, with its target built from one Jacobian–vector product.

The student writes ``meanflow_loss(u_theta, x0, eps, r, t, process)``: on the path $z_t = \alpha_t x_0 + \sigma_t\varepsilon$
with conditional velocity $v = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon$, the target
$u_{tgt} = v - (t - r)\,(v\,\partial_z u_\theta + \partial_t u_\theta)$ (Geng et al. 2025, eqs. 8 and 10), held fixed
(stop-gradient), and the loss $\frac1N\sum\lVert u_\theta(z_t, r, t) - u_{tgt}\rVert^2$ (eq. 9).

Graded against the package's ``course.few_step.meanflow_loss`` (value and parameter gradient, float64, to 1e-8), against
flow matching where r = t, and against the known minimum: for data on one point μ the conditional and marginal velocities
coincide, so the exact average velocity (closed form) makes the loss exactly zero.
"""
from __future__ import annotations

import torch

from ..course.few_step import AverageVelocityMLP, gaussian_average_velocity, meanflow_loss
from ..processes import CosineVP, Process, RectifiedFlow
from .grading import Lab, Part, Verdict, call, close, diagnose
from .think import Question

__all__ = ["check_meanflow_loss", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("meanflow_loss", "meanflow_target")


def _case(seed: int, process: Process, equal: bool = False, n: int = 64):
    """A random float64 u_θ and draws (x0, ε, r, t) with 0.05 ≤ r ≤ t ≤ 1 (r = t everywhere if ``equal``)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = AverageVelocityMLP(hidden=32).double()
    x0, eps = (torch.randn(n, 2, generator=g, dtype=torch.float64) for _ in range(2))
    t = 0.1 + 0.9 * torch.rand(n, generator=g, dtype=torch.float64)
    r = t.clone() if equal else 0.05 + (t - 0.05) * torch.rand(n, generator=g, dtype=torch.float64)
    return net, x0, eps, r, t


def _variant(u_theta, x0, eps, r, t, process, *, sign=1.0, tangent=(0.0, 1.0), velocity="path", jvp=True):
    """The MeanFlow loss written here, or (with a keyword set otherwise) one typical mistake made on purpose."""
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))
    z_t = alpha_t * x0 + sigma_t * eps
    v = eps - x0 if velocity == "rf" else d_alpha_t * x0 + d_sigma_t * eps
    tangents = (v, torch.full_like(r, tangent[0]), torch.full_like(t, tangent[1]))
    u, du_dt = torch.func.jvp(u_theta, (z_t, r, t), tangents)
    target = (v - sign * (t - r)[:, None] * du_dt) if jvp else v
    return ((u - target.detach()) ** 2).sum(1).mean()


def _value_mistakes(net, x0, eps, r, t, process):
    return [(_variant(net, x0, eps, r, t, process, sign=-1.0), "the target is v − (t − r)·du/dt: yours adds it "
             "(r < t, so t − r > 0 — check the sign, or (r − t) in place of (t − r))"),
            (_variant(net, x0, eps, r, t, process, tangent=(0.0, 0.0)), "du/dt is the *total* derivative along the "
             "path: v·∂u/∂z + ∂u/∂t — the tangent of t is 1, not 0"),
            (_variant(net, x0, eps, r, t, process, tangent=(1.0, 0.0)), "the tangent 1 belongs to t, not to r: r is "
             "held fixed while z_t moves along the path, so its tangent is 0"),
            (_variant(net, x0, eps, r, t, process, tangent=(1.0, 1.0)), "only t moves: the tangent of r is 0"),
            (_variant(net, x0, eps, r, t, process, velocity="rf"), "v = ε − x₀ is rectified flow's velocity only: for "
             "a general path v = α̇_t·x₀ + σ̇_t·ε (process.coefficients(t) gives α, σ, α̇, σ̇)"),
            (_variant(net, x0, eps, r, t, process, jvp=False), "with target v alone this is flow matching: the "
             "MeanFlow target subtracts (t − r)·du/dt")]


def _flow_matching(fn) -> Verdict:
    """Exact: with r = t the target is v and the loss is flow matching's, on rectified flow, to 1e-8."""
    process = RectifiedFlow()
    net, x0, eps, r, t = _case(1, process, equal=True)
    got = call(fn, net, x0, eps, r, t, process)
    z_t = (1 - t)[:, None] * x0 + t[:, None] * eps
    want = ((net(z_t, r, t) - (eps - x0)) ** 2).sum(1).mean()
    if close(got, want, rtol=1e-8, atol=1e-10):
        return Verdict(True, "equals the flow-matching loss where r = t, to 1e-8")
    return Verdict(False, "differs from flow matching where r = t",
                   diagnose(got, [(want * 64, "return the mean over samples of the squared norm, not the sum"),
                                  (((net(z_t, r, t) - (eps - x0)) ** 2).mean(), "sum the squares over the 2 "
                                   "coordinates, then average over samples (‖·‖² per sample)")],
                            "at r = t: z_t = α_t·x₀ + σ_t·ε, v = α̇_t·x₀ + σ̇_t·ε, loss = mean ‖u_θ(z_t, r, t) − v‖²"))


def _value(fn) -> Verdict:
    """Exact: 0.05 ≤ r < t on rectified flow and cosine VP, against the package's loss, to 1e-8."""
    for seed, process in ((2, RectifiedFlow()), (3, CosineVP())):
        net, x0, eps, r, t = _case(seed, process)
        got = call(fn, net, x0, eps, r, t, process)
        want = meanflow_loss(net, x0, eps, r, t, process)
        if not close(got, want, rtol=1e-8, atol=1e-10):
            return Verdict(False, f"differs from the MeanFlow loss on {process.name}",
                           diagnose(got, _value_mistakes(net, x0, eps, r, t, process),
                                    "target = v − (t − r)·du/dt with du/dt from torch.func.jvp(u_theta, (z_t, r, t), "
                                    "(v, 0, 1))"))
    return Verdict(True, "equals the MeanFlow loss (rectified flow, cosine VP) to 1e-8")


def _minimum(fn) -> Verdict:
    r"""Known minimum: data on one point μ; the closed-form average velocity gives loss 0 (|loss| < 1e-10)."""
    process, mu = RectifiedFlow(), torch.tensor([1.5, -0.5], dtype=torch.float64)
    _, _, eps, r, t = _case(4, process)
    x0 = mu.expand(eps.shape[0], 2).clone()
    exact = lambda z, r, t: gaussian_average_velocity(z, r, t, mu, 0.0, process)  # noqa: E731
    got = call(fn, exact, x0, eps, r, t, process)
    value = float(torch.as_tensor(got).detach()) if torch.as_tensor(got).numel() == 1 else float("nan")
    ok = abs(value) < 1e-10
    return Verdict(ok, f"loss at the exact average velocity = {value:.1e}",
                   "" if ok else "at the exact u the MeanFlow identity u = v − (t − r)·du/dt holds, so the loss "
                                 "must vanish: check the target's sign and the total derivative (tangents v, 0, 1)")


def _gradient(fn) -> Verdict:
    """Exact: the parameter gradient equals the package's (target under stop-gradient), to 1e-8."""
    process = RectifiedFlow()
    net, x0, eps, r, t = _case(5, process)
    loss = call(fn, net, x0, eps, r, t, process)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return Verdict(False, "no gradient", "return the loss as a tensor that depends on u_theta's parameters")
    got = torch.autograd.grad(loss, list(net.parameters()), allow_unused=True)
    want = torch.autograd.grad(meanflow_loss(net, x0, eps, r, t, process), list(net.parameters()))
    if all(g is not None and close(g, w, rtol=1e-8, atol=1e-10) for g, w in zip(got, want)):
        return Verdict(True, "parameter gradient equals the stop-gradient one, to 1e-8")
    return Verdict(False, "the parameter gradient differs",
                   "the target is a fixed regression target: .detach() it (stop-gradient), or the gradient also "
                   "flows through du/dt — a second-order term the method leaves out")


LAB = Lab("13 · the MeanFlow loss", [
    Part("r = t: flow matching", 2, "equal to ‖u_θ(z_t, t, t) − v‖² to 1e-8", _flow_matching),
    Part("r < t: the MeanFlow target", 3, "equal to the package's loss to 1e-8", _value),
    Part("the known minimum: one data point", 2, "|loss| < 1e-10 at the exact u", _minimum),
    Part("stop-gradient", 3, "parameter gradient equal to 1e-8", _gradient),
], hints=[
    "Build the noisy point and its conditional velocity as in flow matching; then ask how u_θ changes as you slide "
    "along that path with r held fixed — that one directional derivative corrects v into the target.",
    "torch.func.jvp(f, primals, tangents) returns (f(primals), the derivative along tangents). Primals (z_t, r, t); "
    "tangents (v, 0, 1). Target = v − (t − r)·du/dt, held fixed; loss = mean over samples of ‖u − target‖².",
    "a, s, da, ds = (c[:, None] for c in process.coefficients(t)); z = a·x0 + s·eps; v = da·x0 + ds·eps; "
    "u, du = torch.func.jvp(u_theta, (z, r, t), (v, torch.zeros_like(r), torch.ones_like(t))); "
    "target = (v − (t − r)[:, None]·du).detach(); return ((u − target)²).sum(1).mean().",
])


def check_meanflow_loss(fn) -> None:
    """Grade ``meanflow_loss(u_theta, x0, eps, r, t, process)`` (chapter 13's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 13's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 13's Think questions
    Question("Rectified flow, exact denoiser, one step of DPM-Solver++ (or DDIM, or Euler) from t = 1 to 0. Where do "
             "all the samples land?",
             choices=("On the data mean E[x₀]: at t = 1, x_t carries no information about x₀",
                      "On the exact flow map Φ(x_T)", "On the nearest mixture component"), answer=0,
             explanation="The step returns x̂₀(x_1, 1) = E[x₀ | x_1] = E[x₀], the same point for every x_1. A "
                         "solver with one call knows the field at one time only; a one-step model has learned the "
                         "whole integral."),
    Question("Data on one point μ = 2 (1-D), rectified flow. What is the exact average velocity u(z, 0, 1) at z = 0.5?",
             answer=-1.5, tolerance=0.01,
             explanation="For one point every path is straight: Φ_{1→0}(z) = μ, so u(z, 0, 1) = (z − Φ(z))/(1 − 0) "
                         "= 0.5 − 2 = −1.5, and one step z − 1·u lands on μ exactly."),
    Question("With the exact velocity as teacher and an exact teacher step, the consistency-distillation loss vanishes "
             "at the exact consistency function. Why does the consistency-training loss not vanish there?",
             choices=("Its x_s = α_s x₀ + σ_s ε uses the same ε: a point on the straight conditional path, not on the "
                      "PF-ODE path through x_t, so f(x_s, s) ≠ f(x_t, t) by O(t − s)",
                      "Because it has no stop-gradient", "Because of float32 round-off"), answer=0,
             explanation="The conditional velocity α̇x₀ + σ̇ε differs from the marginal one v(x_t, t); CT is an "
                         "unbiased one-sample estimate of an Euler teacher only to first order (Song et al. 2023, "
                         "Thm. 2). Its loss at the exact f shrinks like (t − s)², the distillation loss with an "
                         "Euler teacher like (t − s)⁴."),
    Question("Progressive distillation halves the step count each round. How many rounds take a 1024-step teacher "
             "to a one-step student?", answer=10.0, tolerance=0.01,
             explanation="1024 = 2¹⁰: ten rounds, each a full training run whose student becomes the next teacher."),
)

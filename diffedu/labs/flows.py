r"""Lab of chapter 08: the conditional flow-matching loss for any path, and a velocity model trained with it.

The student writes ``cfm_loss(u_theta, x0, eps, t, process)``: with one time per sample (``t`` of shape (N,)) and the
course's time (t = 0 is data), $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, the conditional velocity
$u_t(x_t\mid x_0) = \dot\alpha_t x_0 + \dot\sigma_t\varepsilon$, and the loss
$\frac1N\sum_i\lVert u_\theta(x_t^{(i)}, t_i) - u_{t_i}(x_t^{(i)}\mid x_0^{(i)})\rVert^2$ (Lipman et al. 2023).
Graded against the same loss written here (exact, same draws) on rectified flow and cosine VP; at the exact marginal
velocity of the mixture against its known minimum $C = \mathbb E\lVert u_t(x_t\mid x_0) - u_t(x_t)\rVert^2$ (Monte
Carlo, stated standard error); and by training a small MLP with it and sampling with Euler (sliced Wasserstein
distance to exact samples against that of the exact velocity on the same Euler grid).

``ANSWERS``: ``cfm_loss`` (course.flows) and ``denoising_loss`` (losses, with kind 'velocity'), which compute this
loss on given draws; chapter 08 imports neither above the lab (its L_CFM − L_FM check now sits below the lab).
``losses.flow_matching_loss`` draws its own t and ε and cannot reproduce the grader's draws.
"""
from __future__ import annotations

import math

import torch

from ..course.fit import fit
from ..course.flows import velocity_trajectories
from ..metrics import sliced_wasserstein
from ..nets import MLP
from ..processes import CosineVP, Process, RectifiedFlow
from ..runtime import one_thread, quick
from ..toys import gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose
from .think import Question

__all__ = ["check_cfm_loss", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("cfm_loss", "denoising_loss")


def _reference(u_theta, x0, eps, t, process: Process, *, sign=1.0, path="course", noise="sigma", reduce="sum",
               target="velocity"):
    """The CFM loss, or (with a keyword set otherwise) one typical mistake made on purpose."""
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))  # each (N, 1)
    if path == "tau":  # the flow-matching papers' time: τ = 0 is noise
        alpha_t, sigma_t, d_alpha_t, d_sigma_t = sigma_t, alpha_t, d_sigma_t, d_alpha_t
    x_t = alpha_t * x0 + (sigma_t**2 if noise == "variance" else sigma_t) * eps  # (N, D)
    u_cond = eps if target == "eps" else sign * (d_alpha_t * x0 + d_sigma_t * eps)  # (N, D)
    err = (u_theta(x_t, t) - u_cond) ** 2
    return err.sum(1).mean() if reduce == "sum" else err.mean()


def _field(x, t):
    """A fixed, smooth stand-in for a network: any function of (x_t, t) will do."""
    return torch.stack([torch.sin(2 * x[:, 1]) + t, x[:, 0] * torch.cos(3 * t)], dim=1)


def _draws(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x0 = gmm_2d().sample(n, generator=g)
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01
    return x0, eps, t


def _exact(fn) -> Verdict:
    """Exact: the loss of a fixed field on the grader's draws, rectified flow and cosine VP, tolerance 1e-8."""
    x0, eps, t = _draws(64, seed=1)
    for process in (RectifiedFlow(), CosineVP()):
        got = call(fn, _field, x0.clone(), eps.clone(), t.clone(), process)
        if isinstance(got, torch.Tensor):
            got = got.detach()
        want = _reference(_field, x0, eps, t, process)
        if not close(got, want, rtol=1e-8, atol=1e-10):
            wrong = lambda **kw: _reference(_field, x0, eps, t, process, **kw)  # noqa: E731
            mistakes = [(wrong(sign=-1.0), "the target has the wrong sign: in the course's time (t = 0 is data) the "
                                           "path moves from x0 to ε, dx_t/dt = α̇_t·x0 + σ̇_t·ε (ε − x0 for "
                                           "rectified flow)"),
                        (wrong(path="tau"), "that is the papers' time τ (τ = 0 noise): here t = 0 is data, "
                                            "x_t = α_t·x0 + σ_t·ε with α_0 = 1, σ_0 = 0"),
                        (wrong(noise="variance"), "x_t = α_t·x0 + σ_t·ε: σ_t is the noise's standard deviation, "
                                                  "not its variance"),
                        (wrong(reduce="mean"), "sum the squared error over the coordinates and average over the "
                                               "samples (you averaged over both: off by the dimension, 2)"),
                        (wrong(target="eps"), "the target is the conditional velocity dx_t/dt, not the noise ε")]
            return Verdict(False, f"differs from the CFM loss on {process.name}", diagnose(
                got, mistakes, "follow: x_t = α_t·x0 + σ_t·ε, target α̇_t·x0 + σ̇_t·ε, squared error summed over "
                               "coordinates, averaged over samples — with (α_t, σ_t, α̇_t, σ̇_t) of shape (N, 1)"))
    return Verdict(True, "equals the CFM loss on rectified flow and cosine VP to 1e-8")


def _minimum(fn) -> Verdict:
    """Monte Carlo: at the exact marginal velocity of the mixture (rectified flow) the loss on 20 000 draws must equal
    C, estimated on 200 000 independent draws, within 4 combined standard errors; a shifted field must score higher
    (the exact field is the minimiser); and the zero field must score the closed form E|ε − x0|² = 2 + E|x0|² within
    4 standard errors."""
    gmm, rf = gmm_2d(), RectifiedFlow()
    exact = lambda x, t: gmm.velocity(x, t, rf)  # noqa: E731
    x0, eps, t = _draws(20_000, seed=2)
    got = call(fn, exact, x0, eps, t, rf)
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return Verdict(False, "not a number", "return the loss as a 0-dimensional tensor (a mean over the samples)")
    x0_c, eps_c, t_c = _draws(200_000, seed=3)
    per_sample = ((exact(x0_c * (1 - t_c[:, None]) + t_c[:, None] * eps_c, t_c) - (eps_c - x0_c)) ** 2).sum(1)
    per_sample_got = ((exact((1 - t[:, None]) * x0 + t[:, None] * eps, t) - (eps - x0)) ** 2).sum(1)
    const = per_sample.mean().item()
    se = math.sqrt(per_sample.var().item() / per_sample.numel() + per_sample_got.var().item() / t.numel())
    bumped = call(fn, lambda x, t: exact(x, t) + 0.3, x0, eps, t, rf)
    zero = call(fn, lambda x, t: torch.zeros_like(x), x0, eps, t, rf)  # E|ε − x0|² = 2 + E|x0|², exactly
    second = (gmm.weights * ((gmm.means**2).sum(1) + gmm.covs.diagonal(dim1=1, dim2=2).sum(1))).sum().item() + 2
    se_zero = ((eps - x0) ** 2).sum(1).std().item() / math.sqrt(t.numel())
    ok = (abs(got.item() - const) <= 4 * se and float(bumped) > got.item()
          and abs(float(zero) - second) <= 4 * se_zero)
    return Verdict(ok, f"L(u*) = {got.item():.3f}, C = {const:.3f} ± {se:.3f}; L(0) = {float(zero):.3f}, "
                       f"E|ε − x0|² = {second:.3f} ± {se_zero:.3f}",
                   "" if ok else "at the exact marginal velocity the loss is the constant C of the Theory, and at the "
                                 "zero field it is E|target|² = E|ε − x0|²: check the path and the target (the first "
                                 "part says which)")


def _trained(fn) -> Verdict:
    """Training: an MLP trained with the student's loss on rectified flow (Adam, 1000 steps in quick mode, 2000 else),
    then 32 Euler steps from 8000 noise points. Its sliced Wasserstein distance to 8000 exact samples must be within
    0.1 of the exact velocity's, integrated by the same 32 Euler steps from the same noise (the floor: sampling noise
    and Euler's own error)."""
    gmm, rf, g = gmm_2d(), RectifiedFlow(), torch.Generator().manual_seed(4)
    data = gmm.sample(4000, generator=g).float()
    torch.manual_seed(5)
    net = MLP(dim=2, hidden=64, depth=3).to(torch.float32)

    def batch_loss(gen):
        idx = torch.randint(0, data.shape[0], (256,), generator=gen)
        eps = torch.randn(256, 2, generator=gen)
        t = torch.rand(256, generator=gen) * 0.998 + 1e-3
        loss = call(fn, net, data[idx], eps, t, rf)
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
            raise StudentLossError
        return loss

    with one_thread():
        try:
            fit(net, batch_loss, 1000 if quick() else 2000, 3e-3, generator=g)
        except StudentLossError:
            return Verdict(False, "no gradient", "the loss must stay a differentiable tensor: no .item(), .detach() "
                                                 "or torch.no_grad() inside it")
        x_T = torch.randn(8000, 2, generator=g, dtype=torch.float64)
        ref = gmm.sample(8000, generator=g)
        sw, floor = (sliced_wasserstein(velocity_trajectories(model, x_T, 32, rf)[-1], ref,
                                        generator=torch.Generator().manual_seed(6)).item() for model in (net, gmm))
    ok = math.isfinite(sw) and sw <= floor + 0.1
    return Verdict(ok, f"SW to exact samples {sw:.3f} (exact velocity, same steps: {floor:.3f})",
                   "" if ok else "the trained model does not carry noise to the data: the direction of the target "
                                 "(data at t = 0) is the usual culprit")


class StudentLossError(Exception):
    """The student's loss returned something that cannot be trained on."""


LAB = Lab("08 · the conditional flow-matching loss", [
    Part("the loss on given draws", 4, "equal to 1e-8 on rectified flow and cosine VP", _exact),
    Part("its values at the marginal velocity and at zero", 3,
         "L(u*) = C and L(0) = E|ε − x0|² within 4 SE; u* + 0.3 scores higher", _minimum),
    Part("a model trained with it samples the data", 3, "SW ≤ the exact velocity's SW + 0.1 (32 Euler steps)",
         _trained),
], hints=[
    "Three lines of math: where the sample is at time t, where it is heading (the time derivative of that path), "
    "and how far the network's answer is from it. Time runs from data (t = 0) to noise (t = 1).",
    "process.coefficients(t) gives (α_t, σ_t, α̇_t, σ̇_t), each of shape (N,): add a column ([:, None]) to multiply "
    "(N, 2) tensors. The path is x_t = α_t·x0 + σ_t·ε.",
    "target = α̇_t·x0 + σ̇_t·ε; return ((u_theta(x_t, t) − target)**2).sum(1).mean().",
])


def check_cfm_loss(fn) -> None:
    """Grade ``cfm_loss(u_theta, x0, eps, t, process)`` (chapter 08's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 08's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 08's Think questions
    Question("Rectified flow, course time (t = 0 is data). A model trained on the target x0 − ε instead of ε − x0 is "
             "integrated from t = 1 to t = 0 with Euler. What comes out?",
             choices=("Samples pushed away from the data: every step moves the wrong way",
                      "The same samples: the sign is a convention", "Pure noise, unchanged"), answer=0,
             explanation="The learned field is −u_t. Integrating it from noise towards t = 0 moves each point opposite "
                         "to where the data lie (in the lab's training part the SW distance jumps to about 1). The "
                         "papers' τ = 1 − t flips the sign of the velocity and the direction of the integration together."),
    Question("At the exact marginal velocity, L_CFM is not 0 but C = E|u_t(x_t|x_0) − u_t(x_t)|². What does C measure?",
             choices=("How much the straight conditional paths through a point x_t disagree (the posterior spread)",
                      "The network's training error", "The Euler discretisation error"), answer=0,
             explanation="u_t(x_t) is the posterior average of the conditional velocities; C is their average squared "
                         "deviation from it — irreducible, whatever the network. That is why L_CFM and L_FM differ by "
                         "a constant and have the same gradient."),
    Question("For rectified flow with 2-D data, the zero field scores L_CFM = E|ε − x0|². If E|x0|² = 5.4, what is it?",
             answer=7.4, tolerance=0.01,
             explanation="ε and x0 are independent and E ε = 0, so E|ε − x0|² = E|ε|² + E|x0|² = 2 + 5.4 = 7.4."),
)

r"""Lab of chapter 08: flow matching built whole — the loss, the training loop, the Euler sampler and one reflow.

The student writes four short functions (about 20 lines), in the course's time (t = 0 is data, t = 1 is noise):

- ``cfm_loss(u_theta, x0, eps, t, process)``: $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, the conditional velocity
  $\dot\alpha_t x_0 + \dot\sigma_t\varepsilon$ as target, the squared error summed over coordinates and averaged over
  samples (Lipman et al. 2023, conditional flow matching);
- ``train_flow(u_theta, x0, eps, process, steps, generator)``: ``steps`` Adam steps of that loss on minibatches of the
  coupling given as pairs ``(x0[i], eps[i])``, with one $t \sim U(0, 1)$ per pair (Liu et al. 2023, eq. 6: the same
  loop trains on independent pairs and, for reflow, on the pairs of an ODE);
- ``euler_sample(u_theta, x_1, ts)``: Euler on $dx/dt = u_\theta(x, t)$ over the decreasing grid ``ts`` (ts[0] = 1,
  ts[-1] = 0), one call of the model per interval, at its start;
- ``reflow_coupling(u_theta, eps, ts)``: the pairs $(\mathrm{ODE}_{1\to0}(\varepsilon), \varepsilon)$ of the model's
  own flow, made without a graph (Liu et al. 2023, reflow).

Graded against exact answers on the chapter's mixture (``toys.gmm_2d``): the loss against the same loss written here
(same draws) and at two values known in advance (Monte Carlo, stated standard error); the training loop with a
recording network (every $(x_t, t)$ it is asked about lies on the segment of one given pair, t spreads over (0, 1),
the weights move); the Euler sampler's calls (NFE and times) and its result on the exact mixture velocity (exact, on
an uneven grid); the coupling against Euler written here; then the pipeline: a trained velocity against the exact
velocity, its Euler samples against exact samples (sliced Wasserstein against the exact velocity's on the same
steps), and one reflow (one-step Euler error against the model before reflow, and its samples' SW).

``ANSWERS``: ``cfm_loss`` (course.flows) and ``denoising_loss`` (losses, kind 'velocity') compute the loss on given
draws; chapter 08 imports neither above the lab. The chapter's ``train_velocity`` (makes its own network),
``velocity_trajectories`` (equal steps only) and ``reflow_pairs`` (draws its own noise) do not fit these signatures
and fail the exact parts.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..metrics import sliced_wasserstein
from ..nets import MLP
from ..processes import CosineVP, Process, RectifiedFlow
from ..runtime import one_thread
from ..toys import gmm_2d
from .grading import Functions, Lab, Part, Verdict, call, close, diagnose
from .think import Question

__all__ = ["check_flow_matching", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("cfm_loss", "denoising_loss")

TRAIN_STEPS, REFLOW_STEPS = 2000, 1000  # Adam steps of the pipeline (both modes: about 10 s on one core)
# Thresholds: a correct loop (Adam, lr 1e-3 to 3e-3, minibatch 256) measured relative error 0.03–0.04, SW 0.07–0.13
# above the exact velocity's, one-step error after reflow below 0.05 × before and one-step SW 0.09–0.16 above; a
# flipped target scores a relative error near 4 and SW near 1 (tests/test_lab_flows.py)
VELOCITY_TOL, SW_MARGIN, REFLOW_RATIO, REFLOW_SW_MARGIN = 0.1, 0.25, 0.2, 0.3
UNEVEN = (1.0, 0.8, 0.55, 0.3, 0.12, 0.0)  # the Euler grid of the exact parts: not equal steps on purpose


# --- the loss ------------------------------------------------------------------------------------------------------

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


def _loss_mistakes(x0, eps, t, process):
    wrong = lambda **kw: _reference(_field, x0, eps, t, process, **kw)  # noqa: E731
    return [(wrong(sign=-1.0), "the target has the wrong sign: in the course's time (t = 0 is data) the path moves "
                               "from x0 to ε, dx_t/dt = α̇_t·x0 + σ̇_t·ε (ε − x0 for rectified flow)"),
            (wrong(path="tau"), "that is the papers' time τ (τ = 0 noise): here t = 0 is data, x_t = α_t·x0 + σ_t·ε "
                                "with α_0 = 1, σ_0 = 0"),
            (wrong(noise="variance"), "x_t = α_t·x0 + σ_t·ε: σ_t is the noise's standard deviation, not its variance"),
            (wrong(reduce="mean"), "sum the squared error over the coordinates and average over the samples (you "
                                   "averaged over both: off by the dimension, 2)"),
            (wrong(target="eps"), "the target is the conditional velocity dx_t/dt, not the noise ε")]


def _loss_exact(sol: Functions) -> Verdict:
    """Exact: the loss of a fixed field on the grader's draws, rectified flow and cosine VP, tolerance 1e-8."""
    x0, eps, t = _draws(64, seed=1)
    for process in (RectifiedFlow(), CosineVP()):
        got = call(sol.cfm_loss, _field, x0.clone(), eps.clone(), t.clone(), process)
        if isinstance(got, torch.Tensor):
            got = got.detach()
        if not close(got, _reference(_field, x0, eps, t, process), rtol=1e-8, atol=1e-10):
            path = "rectified flow" if isinstance(process, RectifiedFlow) else "cosine VP"
            return Verdict(False, f"differs from the CFM loss on {path}", diagnose(
                got, _loss_mistakes(x0, eps, t, process),
                "follow: x_t = α_t·x0 + σ_t·ε, target α̇_t·x0 + σ̇_t·ε, squared error summed over coordinates, "
                "averaged over samples — with (α_t, σ_t, α̇_t, σ̇_t) of shape (N, 1)"))
    return Verdict(True, "equals the CFM loss on rectified flow and cosine VP to 1e-8")


def _loss_minimum(sol: Functions) -> Verdict:
    """Monte Carlo: at the exact marginal velocity (rectified flow) the loss on 20 000 draws must equal C, estimated on
    100 000 independent draws, within 4 combined standard errors; a shifted field must score higher (the exact field
    is the minimiser); the zero field must score E|ε − x0|² = 2 + E|x0|² (closed form) within 4 standard errors."""
    gmm, rf = gmm_2d(), RectifiedFlow()
    exact = lambda x, t: gmm.velocity(x, t, rf)  # noqa: E731
    x0, eps, t = _draws(20_000, seed=2)
    got = call(sol.cfm_loss, exact, x0, eps, t, rf)
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return Verdict(False, "not a number", "return the loss as a 0-dimensional tensor (a mean over the samples)")
    x0_c, eps_c, t_c = _draws(100_000, seed=3)
    per_sample = ((exact((1 - t_c[:, None]) * x0_c + t_c[:, None] * eps_c, t_c) - (eps_c - x0_c)) ** 2).sum(1)
    per_sample_got = ((exact((1 - t[:, None]) * x0 + t[:, None] * eps, t) - (eps - x0)) ** 2).sum(1)
    const = per_sample.mean().item()
    se = math.sqrt(per_sample.var().item() / per_sample.numel() + per_sample_got.var().item() / t.numel())
    bumped = call(sol.cfm_loss, lambda x, t: exact(x, t) + 0.3, x0, eps, t, rf)
    zero = call(sol.cfm_loss, lambda x, t: torch.zeros_like(x), x0, eps, t, rf)  # E|ε − x0|² = 2 + E|x0|², exactly
    second = (gmm.weights * ((gmm.means**2).sum(1) + gmm.covs.diagonal(dim1=1, dim2=2).sum(1))).sum().item() + 2
    se_zero = ((eps - x0) ** 2).sum(1).std().item() / math.sqrt(t.numel())
    ok = (abs(got.item() - const) <= 4 * se and float(bumped) > got.item()
          and abs(float(zero) - second) <= 4 * se_zero)
    return Verdict(ok, f"L(u*) = {got.item():.3f}, C = {const:.3f} ± {se:.3f}; L(0) = {float(zero):.3f}, "
                       f"E|ε − x0|² = {second:.3f} ± {se_zero:.3f}",
                   "" if ok else "at the exact marginal velocity the loss is the constant C of the Theory, and at the "
                                 "zero field it is E|target|² = E|ε − x0|²: check the path and the target (the first "
                                 "part says which)")


# --- the training loop ---------------------------------------------------------------------------------------------

class Recorder(nn.Module):
    """A linear velocity model that records every (x_t, t) it is asked about (the loop's spy)."""

    def __init__(self):
        super().__init__()
        self.lin, self.seen = nn.Linear(3, 2), []

    def forward(self, x_t, t):
        if not isinstance(t, torch.Tensor) or t.shape != (x_t.shape[0],):
            raise ValueError(f"u_theta(x_t, t) takes one time per sample: t of shape ({x_t.shape[0]},); got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        self.seen.append((x_t.detach().double(), t.detach().double()))
        return self.lin(torch.cat([x_t, t[:, None].to(x_t.dtype)], dim=1))


def _segment_distance(x, a, b):
    """Distance of each point x (B, 2) to the nearest segment [a_j, b_j] (a, b: (P, 2)); shape (B,)."""
    d = b - a  # (P, 2)
    s = (((x[:, None] - a) * d).sum(-1) / (d * d).sum(-1)).clamp(0, 1)  # (B, P)
    return (x[:, None] - (a + s[..., None] * d)).norm(dim=-1).min(1).values


def _loop(sol: Functions) -> Verdict:
    """A recording linear model trained for 5 steps on 64 given pairs (rectified flow): one model call per step, every
    x_t on the segment from x0[i] to eps[i] of one pair (to 1e-4), t within [0, 1] with min < 0.1 and max > 0.9 over
    the steps, one time per pair, and the weights changed."""
    g = torch.Generator().manual_seed(7)
    x0, eps = gmm_2d().sample(64, generator=g).float(), torch.randn(64, 2, generator=g)
    torch.manual_seed(8)
    net = Recorder()
    before = [p.detach().clone() for p in net.parameters()]
    call(sol.train_flow, net, x0.clone(), eps.clone(), RectifiedFlow(), 5, torch.Generator().manual_seed(9))
    if len(net.seen) != 5:
        return Verdict(False, f"{len(net.seen)} model calls in 5 steps",
                       "one minibatch loss per step, so one call of u_theta per step: loop `steps` times")
    x, t = (torch.cat(parts) for parts in zip(*net.seen))
    a, b = x0.double(), eps.double()
    if _segment_distance(x, a, b).max() > 1e-4:
        pairs_anyhow = _segment_distance(x, a.repeat_interleave(64, 0), b.repeat(64, 1)).max() <= 1e-4
        return Verdict(False, "x_t is off the segments of the given pairs", (
            "x0 and ε must stay paired: take the same indices for both (x0[idx], eps[idx])" if pairs_anyhow else
            "use the given eps[idx] of each pair, not fresh noise: the loop must learn the coupling it is given "
            "(for reflow, the ODE's own pairs)"))
    if any(bool((tt == tt[0]).all()) for _, tt in net.seen):
        return Verdict(False, "one time for the whole minibatch", "draw one time per pair, t of shape (batch,)")
    if not (0 <= t.min() and t.max() <= 1 and t.min() < 0.1 and t.max() > 0.9):
        return Verdict(False, f"t ranges over [{t.min():.3f}, {t.max():.3f}]",
                       "draw the times uniformly on (0, 1): torch.rand(batch, generator=generator)")
    if all(torch.equal(p, q) for p, q in zip(before, net.parameters())):
        return Verdict(False, "the weights did not change", "after loss.backward(), call optimizer.step() (and "
                                                            "optimizer.zero_grad() before the next backward)")
    return Verdict(True, "pairs kept, t uniform on (0, 1), one call and one update per step")


# --- the Euler sampler ---------------------------------------------------------------------------------------------

def _euler(u_theta, x, ts, *, sign=1.0, at="start", last=True, equal=False):
    """Euler on dx/dt = u_θ(x, t) over the grid ts, or (keywords) one typical mistake on purpose."""
    n = len(ts) - 1
    for k in range(n if last else n - 1):
        t, s = (float(ts[k]), float(ts[k + 1])) if not equal else (1 - k / n, 1 - (k + 1) / n)
        u = u_theta(x, torch.full((x.shape[0],), t if at == "start" else s, dtype=x.dtype))
        x = x + sign * (s - t) * u  # Euler step: s − t < 0, data at t = 0
    return x


def _exact_velocity(calls: list | None = None):
    """The mixture's exact rectified-flow velocity as a model u(x, t) (t of shape (N,)); records the times asked."""
    gmm, rf = gmm_2d(), RectifiedFlow()

    def u(x, t):
        if not isinstance(t, torch.Tensor) or t.shape != (x.shape[0],):
            raise ValueError(f"u_theta(x, t) takes one time per sample: t of shape ({x.shape[0]},), e.g. "
                             f"torch.full((len(x),), t_k); got {t if not isinstance(t, torch.Tensor) else t.shape}")
        if calls is not None:
            calls.append(round(float(t[0]), 6))
        return gmm.velocity(x.double(), t.double().clamp(1e-3, 1.0), rf).to(x.dtype)
    return u


def _euler_calls(sol: Functions) -> Verdict:
    """The model is asked once per interval of an uneven 5-interval grid, at its start: t = 1, 0.8, 0.55, 0.3, 0.12."""
    calls, ts = [], torch.tensor(UNEVEN, dtype=torch.float64)
    x_1 = torch.randn(8, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    call(sol.euler_sample, _exact_velocity(calls), x_1, ts.clone())
    want = [float(t) for t in UNEVEN[:-1]]
    if calls == want:
        return Verdict(True, "NFE 5, at t = 1, 0.8, 0.55, 0.3, 0.12")
    if calls == [float(t) for t in UNEVEN[1:]]:
        hint = "ask u_θ at the start of each interval, t = ts[k], not at its end ts[k + 1]"
    elif calls and calls[0] == 0.0:
        hint = "time runs from noise (ts[0] = 1) to data (ts[-1] = 0): walk the grid in the given order"
    elif len(calls) == len(want) - 1:
        hint = "you stopped one interval early: the last step goes from ts[-2] into ts[-1] = 0"
    elif len(calls) != len(want):
        hint = f"one model call per interval: len(ts) − 1 = {len(want)} calls; you made {len(calls)}"
    else:
        hint = "use the grid you are given: step k goes from ts[k] to ts[k + 1] (the steps are not equal)"
    return Verdict(False, f"NFE {len(calls)}, at t = {calls[:8]}", hint)


def _euler_exact(sol: Functions) -> Verdict:
    """Exact: 32 points carried by the exact mixture velocity over the uneven grid, against Euler written here, 1e-8."""
    u, ts = _exact_velocity(), torch.tensor(UNEVEN, dtype=torch.float64)
    x_1 = torch.randn(32, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    got = call(sol.euler_sample, u, x_1.clone(), ts.clone())
    if close(got, _euler(u, x_1, ts), rtol=1e-8, atol=1e-8):
        return Verdict(True, "equals Euler on the exact velocity to 1e-8")
    mistakes = [(_euler(u, x_1, ts, sign=-1.0), "the step goes backwards in time: x ← x + (t_(k+1) − t_k)·u_θ(x, t_k), "
                                                "and t_(k+1) − t_k < 0 (dx/dt = u with data at t = 0)"),
                (_euler(u, x_1, ts, at="end"), "evaluate u_θ at the start of each interval, t_k"),
                (_euler(u, x_1, ts, last=False), "you stopped one interval early: the last step goes into t = 0"),
                (_euler(u, x_1, ts, equal=True), "the grid's steps are not equal: use h_k = ts[k + 1] − ts[k]"),
                (x_1, "x never changed: update x in the loop and return it")]
    return Verdict(False, "differs from Euler on the exact velocity", diagnose(
        got, mistakes, "for k = 0 … len(ts) − 2: x ← x + (ts[k + 1] − ts[k])·u_θ(x, t) with t = ts[k] for every "
                       "sample; return x (shape of x_1)"))


# --- the pipeline on the mixture: train, sample, reflow -------------------------------------------------------------

def _trained(sol: Functions) -> dict:
    """Train once per grading (``Functions.once``): an MLP on 8000 mixture samples paired with independent noise
    (TRAIN_STEPS steps of the student's loop), and the evaluation draws; a student's error is kept and raised again."""
    return sol.once("trained", lambda: _train(sol))


def _train(sol: Functions) -> dict:
    gmm, rf, g = gmm_2d(), RectifiedFlow(), torch.Generator().manual_seed(4)
    data, noise = gmm.sample(8000, generator=g).float(), torch.randn(8000, 2, generator=g)
    torch.manual_seed(5)
    net = MLP(dim=2, hidden=64, depth=3)
    with one_thread():
        call(sol.train_flow, net, data, noise, rf, TRAIN_STEPS, torch.Generator().manual_seed(6))
    net.requires_grad_(False).eval()
    ge = torch.Generator().manual_seed(99)
    return dict(net=net, x_1=torch.randn(8000, 2, generator=ge), ref=gmm.sample(8000, generator=ge))


def _sw(x, ref) -> float:
    x = x.double()
    if x.shape != ref.shape or not bool(torch.isfinite(x).all()):
        return math.inf
    return sliced_wasserstein(x, ref, generator=torch.Generator().manual_seed(12)).item()


def _velocity(sol: Functions) -> Verdict:
    """The trained model against the exact velocity on 4000 draws (x_t, t), t ~ U[0.05, 0.95]: relative squared error
    E|u_θ − u*|² / E|u*|² ≤ VELOCITY_TOL."""
    net, gmm, rf = _trained(sol)["net"], gmm_2d(), RectifiedFlow()
    x0, eps, t = _draws(4000, seed=13)
    t = 0.05 + 0.9 * t
    x_t = (1 - t[:, None]) * x0 + t[:, None] * eps
    exact = gmm.velocity(x_t, t, rf)
    with torch.no_grad(), one_thread():
        err = ((net(x_t.float(), t.float()).double() - exact) ** 2).sum(1).mean() / (exact**2).sum(1).mean()
    ok = bool(err <= VELOCITY_TOL)
    return Verdict(ok, f"relative error {err.item():.3f}", "" if ok else
                   "the trained velocity is far from the exact one: is the target's direction right (data at "
                   "t = 0, the first part), does each step call optimizer.zero_grad(), and is t uniform on (0, 1)?")


def _samples(sol: Functions) -> Verdict:
    """32 Euler steps of the trained model with the student's sampler from 8000 noise points: SW to 8000 exact samples
    ≤ that of the exact velocity on the same steps from the same noise + SW_MARGIN."""
    run = _trained(sol)
    ts = torch.linspace(1, 0, 33)
    with torch.no_grad(), one_thread():
        x = call(sol.euler_sample, run["net"], run["x_1"].clone(), ts.clone())
        floor = _sw(_euler(_exact_velocity(), run["x_1"].double(), ts.double()), run["ref"])
    sw = _sw(x, run["ref"]) if isinstance(x, torch.Tensor) else math.inf
    ok = sw <= floor + SW_MARGIN
    return Verdict(ok, f"SW to exact samples {sw:.3f} (exact velocity, same steps: {floor:.3f})", "" if ok else
                   "the samples are not the mixture: if the sampler parts pass, the model is at fault — the direction "
                   "of the target (data at t = 0) is the usual culprit")


def _coupling_exact(sol: Functions) -> Verdict:
    """Exact: on the exact velocity over the uneven grid the pairs are (Euler(ε), ε) to 1e-8, the given ε itself; on a
    network with trainable weights the returned x0 carries no graph."""
    u, ts = _exact_velocity(), torch.tensor(UNEVEN, dtype=torch.float64)
    eps = torch.randn(32, 2, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    got = call(sol.reflow_coupling, u, eps.clone(), ts.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        return Verdict(False, "not a pair", "return the pair (x0, eps): the ODE's end point and the noise it came from")
    if not close(got[1], eps, rtol=0, atol=0):
        return Verdict(False, "the returned ε is not the given one", "return the ε each x0 came from: reflow learns "
                                                                     "this coupling; fresh noise makes it independent")
    if not close(got[0], _euler(u, eps, ts), rtol=1e-8, atol=1e-8):
        return Verdict(False, "x0 is not the ODE's end point", "x0 = euler_sample(u_theta, eps, ts)")
    torch.manual_seed(15)
    x0, _ = call(sol.reflow_coupling, MLP(dim=2, hidden=8, depth=1), eps.float(), ts.float())
    if getattr(x0, "requires_grad", False):
        return Verdict(False, "x0 carries the network's graph", "make the pairs under torch.no_grad() (or .detach() "
                                                                "them): they are data for the next training")
    return Verdict(True, "(Euler(ε), ε) to 1e-8, without a graph")


def _reflow(sol: Functions) -> Verdict:
    """One reflow: 4000 pairs of the trained model's 32-step flow (student's coupling), a fresh MLP trained on them
    (REFLOW_STEPS steps of the student's loop). One Euler step must land within REFLOW_RATIO × the trained model's
    one-step error of the same model's 32-step solution, and the one-step samples' SW ≤ the exact velocity's (32
    steps) + REFLOW_SW_MARGIN."""
    run, ts, rf = _trained(sol), torch.linspace(1, 0, 33), RectifiedFlow()
    eps = torch.randn(4000, 2, generator=torch.Generator().manual_seed(16))
    with one_thread():
        x0, eps_out = call(sol.reflow_coupling, run["net"], eps.clone(), ts.clone())
        torch.manual_seed(17)
        net_2 = MLP(dim=2, hidden=64, depth=3)
        call(sol.train_flow, net_2, x0, eps_out, rf, REFLOW_STEPS, torch.Generator().manual_seed(18))
        net_2.requires_grad_(False).eval()
        with torch.no_grad():
            err = {name: (_euler(net, run["x_1"], ts[[0, -1]]) - _euler(net, run["x_1"], ts)).norm(dim=1).mean().item()
                   for name, net in (("before", run["net"]), ("after", net_2))}
            sw = _sw(_euler(net_2, run["x_1"], ts[[0, -1]]), run["ref"])
            floor = _sw(_euler(_exact_velocity(), run["x_1"].double(), ts.double()), run["ref"])
    ok = err["after"] <= REFLOW_RATIO * err["before"] and sw <= floor + REFLOW_SW_MARGIN
    return Verdict(ok, f"one-step Euler error {err['after']:.3f} (before reflow {err['before']:.3f}); one-step SW "
                       f"{sw:.3f} (exact velocity, 32 steps: {floor:.3f})", "" if ok else
                   "the reflowed paths are not straight: train on the coupling's own pairs (the ε each x0 came from)"
                   if err["after"] > REFLOW_RATIO * err["before"] else
                   "straight, but the one-step samples miss the data: is x0 the end of the ODE (t = 0) of the model?")


LAB = Lab("08 · flow matching: the loss, the training loop, Euler sampling and one reflow", [
    Part("cfm_loss on given draws", 3, "equal to 1e-8 on rectified flow and cosine VP", _loss_exact),
    Part("cfm_loss at the marginal velocity and at zero", 2,
         "L(u*) = C and L(0) = E|ε − x0|² within 4 SE; u* + 0.3 scores higher", _loss_minimum),
    Part("train_flow: the loop", 2, "x_t on its pair's segment to 1e-4, t ~ U(0, 1) per pair, weights updated", _loop),
    Part("euler_sample: NFE and times", 2, "one call per interval, at its start (uneven grid)", _euler_calls),
    Part("euler_sample on the exact velocity", 2, "equal to Euler to 1e-8", _euler_exact),
    Part(f"train_flow: the trained velocity ({TRAIN_STEPS} steps)", 2,
         f"E|u_θ − u*|²/E|u*|² ≤ {VELOCITY_TOL}", _velocity),
    Part("euler_sample on the trained model (32 steps)", 2, f"SW ≤ the exact velocity's + {SW_MARGIN}", _samples),
    Part("reflow_coupling on the exact velocity", 2, "(Euler(ε), ε) to 1e-8, no graph", _coupling_exact),
    Part(f"one reflow ({REFLOW_STEPS} steps), sampled in 1 step", 3,
         f"1-step error ≤ {REFLOW_RATIO} × before; SW ≤ exact + {REFLOW_SW_MARGIN}", _reflow),
], hints=[
    "Time runs from data (t = 0) to noise (t = 1). The loss: where a pair's sample is at time t, where it is heading, "
    "and how far the model's answer is. The loop: a minibatch of pairs, a time each, the loss, an Adam step. Euler: "
    "follow the velocity from t = 1 down the grid. Reflow: the end points of your own ODE, with the noise they came "
    "from.",
    "process.coefficients(t) gives (α_t, σ_t, α̇_t, σ̇_t), each (N,): add a column ([:, None]). Minibatch: idx = "
    "torch.randint(0, len(x0), (256,), generator=generator), the same idx for x0 and eps; t = torch.rand(256, "
    "generator=generator). Euler's step from ts[k] to ts[k + 1] is negative. Make the pairs under torch.no_grad().",
    "cfm_loss: x_t = α_t·x0 + σ_t·ε; return ((u_theta(x_t, t) − (α̇_t·x0 + σ̇_t·ε))**2).sum(1).mean(). train_flow: "
    "opt = torch.optim.Adam(u_theta.parameters(), lr=3e-3); each step: loss = cfm_loss(u_theta, x0[idx], eps[idx], t, "
    "process); opt.zero_grad(); loss.backward(); opt.step(). euler_sample: for k in range(len(ts) − 1): x = x + "
    "(ts[k + 1] − ts[k])·u_theta(x, ts[k].expand(len(x))). reflow_coupling: with torch.no_grad(): return "
    "euler_sample(u_theta, eps, ts), eps.",
])


def check_flow_matching(cfm_loss, train_flow, euler_sample, reflow_coupling) -> None:
    """Grade chapter 08's lab — ``cfm_loss``, ``train_flow``, ``euler_sample`` and ``reflow_coupling`` — and print
    the score."""
    LAB.grade(Functions(cfm_loss=cfm_loss, train_flow=train_flow, euler_sample=euler_sample,
                        reflow_coupling=reflow_coupling))


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

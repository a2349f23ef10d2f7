"""Chapter 08's lab (diffedu.labs.flows): the CFM loss, the training loop, the Euler sampler and one reflow.

Oracles: the package's ``course.flows.cfm_loss`` (the grader's own loss equals it), the exact mixture velocity (Euler
written in the grader, to 1e-8), C and E|ε − x0|² (Monte Carlo, 4 SE), a recording network (the segment of each given
pair), and the pipeline on the mixture (relative error to the exact velocity, SW against the exact velocity's).
Cost: about 45 s of CPU (two full gradings of ~11 s, one training with a flipped target, one reflow).
"""
from __future__ import annotations


import pytest
import torch

from diffedu.course.flows import cfm_loss as package_cfm_loss
from diffedu.labs import flows as lab
from diffedu.labs.grading import Functions
from diffedu.processes import CosineVP, RectifiedFlow


# --- the chapter's instructor solution ------------------------------------------------------------------------------

def cfm_loss(u_theta, x0, eps, t, process):
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))
    x_t = alpha_t * x0 + sigma_t * eps
    target = d_alpha_t * x0 + d_sigma_t * eps
    return ((u_theta(x_t, t) - target) ** 2).sum(1).mean()


def train_flow(u_theta, x0, eps, process, steps, generator):
    opt = torch.optim.Adam(u_theta.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x0), (256,), generator=generator)
        t = torch.rand(256, generator=generator, dtype=x0.dtype)
        loss = cfm_loss(u_theta, x0[idx], eps[idx], t, process)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return u_theta


def euler_sample(u_theta, x_1, ts):
    x = x_1
    for k in range(len(ts) - 1):
        x = x + (ts[k + 1] - ts[k]) * u_theta(x, ts[k].expand(len(x)))
    return x


def reflow_coupling(u_theta, eps, ts):
    with torch.no_grad():
        return euler_sample(u_theta, eps, ts), eps


SOLUTION = dict(cfm_loss=cfm_loss, train_flow=train_flow, euler_sample=euler_sample, reflow_coupling=reflow_coupling)


# --- a second correct implementation, written differently ---------------------------------------------------------

def cfm_loss_by_norm(u_theta, x0, eps, t, process):
    """process.noise for the path, the derivatives one by one, a per-sample squared norm, a sum divided by N."""
    x_t = process.noise(x0, t, eps)
    target = process.d_alpha(t).unsqueeze(-1) * x0 + process.d_sigma(t).unsqueeze(-1) * eps
    per_sample = torch.linalg.vector_norm(u_theta(x_t, t) - target, dim=-1) ** 2
    return per_sample.sum() / x0.shape[0]


def train_flow_by_epochs(u_theta, x0, eps, process, steps, generator):
    """Shuffled epochs of minibatches of 200 pairs, t kept off the ends, lr 2e-3."""
    opt, order, k = torch.optim.Adam(u_theta.parameters(), lr=2e-3), torch.empty(0, dtype=torch.long), 0
    for _ in range(steps):
        if k + 200 > len(order):
            order, k = torch.randperm(len(x0), generator=generator), 0
        idx, k = order[k:k + 200], k + 200
        t = torch.rand(len(idx), generator=generator).clamp(1e-3, 1 - 1e-3)
        opt.zero_grad()
        cfm_loss_by_norm(u_theta, x0[idx], eps[idx], t, process).backward()
        opt.step()
    return u_theta


def euler_sample_in_floats(u_theta, x_1, ts):
    """Python floats for the times, torch.full for the model's time, x − (t − s)·u."""
    x, times = x_1.clone(), [float(t) for t in ts]
    for t, s in zip(times[:-1], times[1:]):
        x = x - (t - s) * u_theta(x, torch.full((x.shape[0],), t, dtype=x.dtype))
    return x


def reflow_coupling_detached(u_theta, eps, ts):
    return euler_sample_in_floats(u_theta, eps, ts).detach(), eps


OTHER = dict(cfm_loss=cfm_loss_by_norm, train_flow=train_flow_by_epochs, euler_sample=euler_sample_in_floats,
             reflow_coupling=reflow_coupling_detached)


def solution(**replaced) -> Functions:
    """The instructor solution with some functions replaced (a mistake made on purpose)."""
    return Functions(**{**SOLUTION, **replaced})


# --- tests -----------------------------------------------------------------------------------------------------------

def test_the_grader_reference_is_the_package():
    """Oracle: the package's ``course.flows.cfm_loss``; the grader's own loss (used to make mistakes on purpose)
    equals it on rectified flow and cosine VP."""
    x0, eps, t = lab._draws(50, seed=0)
    for process in (RectifiedFlow(), CosineVP()):
        assert torch.allclose(lab._reference(lab._field, x0, eps, t, process),
                              package_cfm_loss(lab._field, x0, eps, t, process), atol=1e-12)


@pytest.fixture(scope="module")
def graded_solution():
    """The instructor solution graded once; its trained model (``memo``) serves the reflow mistake below."""
    functions = Functions(**SOLUTION)
    return functions, lab.LAB.grade(functions)


def test_the_solution_gets_full_marks(graded_solution):
    """Oracle: every part — the same loss (exact), C and E|ε − x0|² (4 SE), the pairs' segments, Euler on the exact
    velocity (1e-8), the trained velocity, its samples' SW and one reflow against their thresholds."""
    assert graded_solution[1].full_marks, graded_solution[1]


def test_a_solution_written_differently_gets_full_marks():
    """Oracle: as above, for another loss formula, shuffled epochs, Python-float times and .detach()."""
    score = lab.LAB.grade(Functions(**OTHER))
    assert score.full_marks, score


def test_float32_gets_full_marks_on_the_exact_parts():
    """Oracle: grading.close holds a float32 answer to float32's precision."""
    def in_float32(u_theta, x0, eps, t, process):
        return cfm_loss(lambda x, s: u_theta(x.double(), s.double()).float(), x0.float(), eps.float(), t.float(),
                        process)
    assert lab._loss_exact(solution(cfm_loss=in_float32)).passed


@pytest.mark.parametrize("kw, words", [(dict(sign=-1.0), "wrong sign"), (dict(path="tau"), "papers' time τ"),
                                       (dict(noise="variance"), "not its variance"),
                                       (dict(reduce="mean"), "sum the squared error"),
                                       (dict(target="eps"), "not the noise ε")])
def test_each_loss_mistake_gets_its_own_hint(kw, words):
    """Oracle: the mistake made on purpose by the grader's loss; its hint names it, and the known values disagree."""
    fns = solution(cfm_loss=lambda u, x0, eps, t, process: lab._reference(u, x0, eps, t, process, **kw))
    verdict = lab._loss_exact(fns)
    assert not verdict.passed and words in verdict.hint
    assert not lab._loss_minimum(fns).passed


def loop(pick="pairs", times="uniform", step=True, loss_fn=cfm_loss):
    """The training loop with one typical mistake: pairs broken, times wrong, or no optimiser step."""
    def train(u_theta, x0, eps, process, steps, generator):
        opt = torch.optim.Adam(u_theta.parameters(), lr=3e-3)
        for _ in range(steps):
            idx = torch.randint(0, len(x0), (256,), generator=generator)
            e = {"pairs": eps[idx], "shuffled": eps[torch.randint(0, len(x0), (256,), generator=generator)],
                 "fresh": torch.randn(256, 2, generator=generator)}[pick]
            t = {"uniform": torch.rand(256, generator=generator), "half": 0.5 * torch.rand(256, generator=generator),
                 "shared": torch.rand(1, generator=generator).expand(256)}[times]
            loss = loss_fn(u_theta, x0[idx], e, t, process)
            opt.zero_grad()
            loss.backward()
            if step:
                opt.step()
        return u_theta
    return train


@pytest.mark.parametrize("kw, words", [(dict(pick="shuffled"), "same indices"), (dict(pick="fresh"), "not fresh"),
                                       (dict(times="half"), "uniformly on (0, 1)"),
                                       (dict(times="shared"), "one time per pair"),
                                       (dict(step=False), "optimizer.step()")])
def test_each_loop_mistake_gets_its_own_hint(kw, words):
    """Oracle: the recording network — the segments of the given pairs, the times it saw, its weights."""
    verdict = lab._loop(solution(train_flow=loop(**kw)))
    assert not verdict.passed and words in verdict.hint, verdict


def euler(mistake):
    def sample(u_theta, x_1, ts):
        if mistake == "reversed":
            ts = ts.flip(0)
        n, x = len(ts) - 1, x_1
        for k in range(n - 1 if mistake == "early" else n + 1 if mistake == "extra" else n):
            t, s = ts[min(k, n - 1)], ts[min(k + 1, n)]
            if mistake == "equal":
                t, s = 1 - k / n, 1 - (k + 1) / n
            u = u_theta(x, (s if mistake == "end" else t).expand(len(x)) if torch.is_tensor(t)
                        else torch.full((len(x),), t, dtype=x.dtype))
            x = x + (t - s if mistake == "sign" else s - t) * u
        return x
    return sample


@pytest.mark.parametrize("mistake, part, words", [
    ("sign", "exact", "backwards in time"), ("end", "calls", "at the start of each interval"),
    ("early", "calls", "one interval early"), ("extra", "calls", "one model call per interval"),
    ("reversed", "calls", "from noise (ts[0] = 1)"), ("equal", "exact", "not equal")])
def test_each_euler_mistake_gets_its_own_hint(mistake, part, words):
    """Oracle: the exact velocity on an uneven grid — the times it is asked at, and Euler written in the grader."""
    test = {"calls": lab._euler_calls, "exact": lab._euler_exact}[part]
    verdict = test(solution(euler_sample=euler(mistake)))
    assert not verdict.passed and words in verdict.hint, verdict


def test_a_scalar_time_and_a_shape_error_get_hints_not_tracebacks():
    """Oracle: grading.call — a float time for the whole batch, and a shape error inside the loss, become hints."""
    def scalar_time(u_theta, x_1, ts):
        return x_1 + (ts[1] - ts[0]) * u_theta(x_1, float(ts[0]))
    verdict = lab.LAB._run(lab.LAB.parts[3], solution(euler_sample=scalar_time))
    assert not verdict.passed and "one time per sample" in verdict.hint
    score = lab.LAB.grade(solution(cfm_loss=lambda u, x0, eps, t, process: u(x0 * t, t)))  # t (N,) vs x0 (N, 2)
    assert score.parts[0]["points"] == 0 and "shape" in score.parts[0]["hint"]


@pytest.mark.parametrize("coupling, words", [
    (lambda u, eps, ts: (euler_sample(u, eps, ts).detach(), torch.randn_like(eps)), "fresh noise"),
    (lambda u, eps, ts: (euler_sample(u, eps, ts), eps), "torch.no_grad()")])
def test_each_coupling_mistake_gets_its_own_hint(coupling, words):
    """Oracle: Euler written in the grader on the exact velocity, and a network with trainable weights."""
    verdict = lab._coupling_exact(solution(reflow_coupling=coupling))
    assert not verdict.passed and words in verdict.hint, verdict


def test_a_flipped_target_trains_a_model_that_runs_away_and_reflow_needs_its_pairs(graded_solution):
    """Oracle: the exact velocity (relative error) and the exact velocity's samples (SW); reflow on fresh noise instead
    of the ODE's own ε does not straighten the paths (one-step error against the model before reflow)."""
    def flipped_loss(u, x0, eps, t, process):
        return lab._reference(u, x0, eps, t, process, sign=-1.0)
    flipped = solution(cfm_loss=flipped_loss, train_flow=loop(loss_fn=flipped_loss))
    velocity, samples = lab._velocity(flipped), lab._samples(flipped)
    assert not velocity.passed and "direction" in velocity.hint
    assert not samples.passed and "direction" in samples.hint
    fresh = solution(reflow_coupling=lambda u, eps, ts: (reflow_coupling(u, eps, ts)[0], torch.randn_like(eps)))
    fresh.memo["trained"] = graded_solution[0].memo["trained"]  # the same first model: only the coupling differs
    verdict = lab._reflow(fresh)
    assert not verdict.passed and "coupling's own pairs" in verdict.hint, verdict

"""Chapter 08's lab (diffedu.labs.flows): the conditional flow-matching loss for any path, graded against the same
loss on the grader's draws (exact), against two values known in advance (Monte Carlo with a stated standard error),
and by training a small MLP with it (sliced Wasserstein distance against the exact velocity's on the same steps)."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest
import torch

from diffedu.course.flows import cfm_loss as package_cfm_loss
from diffedu.labs import flows as lab
from diffedu.processes import CosineVP, RectifiedFlow

ROOT = Path(__file__).resolve().parent.parent


def solution(u_theta, x0, eps, t, process):
    """The chapter's instructor solution."""
    alpha_t, sigma_t, d_alpha_t, d_sigma_t = (c[:, None] for c in process.coefficients(t))
    x_t = alpha_t * x0 + sigma_t * eps
    target = d_alpha_t * x0 + d_sigma_t * eps
    return ((u_theta(x_t, t) - target) ** 2).sum(1).mean()


def written_differently(u_theta, x0, eps, t, process):
    """A second correct implementation: process.noise for the path, the derivatives one by one, a per-sample norm
    squared (torch.linalg.vector_norm) and a sum divided by N."""
    x_t = process.noise(x0, t, eps)
    target = process.d_alpha(t).unsqueeze(-1) * x0 + process.d_sigma(t).unsqueeze(-1) * eps
    per_sample = torch.linalg.vector_norm(u_theta(x_t, t) - target, dim=-1) ** 2
    return per_sample.sum() / x0.shape[0]


def stub(u_theta, x0, eps, t, process):
    raise NotImplementedError("Build it · the flow-matching loss (cfm_loss): replace this line with your code")


def test_the_grader_reference_is_the_package():
    """Oracle: the package's ``course.flows.cfm_loss``; the grader's own loss (used to make mistakes on purpose)
    equals it on rectified flow and cosine VP."""
    x0, eps, t = lab._draws(50, seed=0)
    for process in (RectifiedFlow(), CosineVP()):
        assert torch.allclose(lab._reference(lab._field, x0, eps, t, process),
                              package_cfm_loss(lab._field, x0, eps, t, process), atol=1e-12)


def test_stub_scores_zero_with_the_stub_hint():
    """Oracle: the stub's NotImplementedError — 0 points and a hint that says to replace the stub line."""
    score = lab.LAB.grade(stub)
    assert score.points == 0 and "replace this line" in score.parts[0]["hint"]


@pytest.mark.parametrize("fn", [solution, written_differently], ids=["solution", "noise-and-norm"])
def test_correct_implementations_get_full_marks(fn):
    """Oracle: the same loss on the same draws (exact), C and E|ε − x0|² (Monte Carlo, 4 SE), and training."""
    score = lab.LAB.grade(fn)
    assert score.full_marks, score


def test_float32_gets_full_marks_on_the_exact_part():
    """Oracle: grading.close holds a float32 answer to float32's precision."""
    def in_float32(u_theta, x0, eps, t, process):
        return solution(lambda x, s: u_theta(x.double(), s.double()).float(), x0.float(), eps.float(), t.float(),
                        process)
    assert lab._exact(in_float32).passed


@pytest.mark.parametrize("kw, words", [(dict(sign=-1.0), "wrong sign"), (dict(path="tau"), "papers' time τ"),
                                       (dict(noise="variance"), "not its variance"),
                                       (dict(reduce="mean"), "sum the squared error"),
                                       (dict(target="eps"), "not the noise ε")])
def test_each_typical_mistake_gets_its_own_hint(kw, words):
    """Oracle: the mistake made on purpose by the grader's loss; its hint names it, and the known values disagree."""
    fn = lambda u, x0, eps, t, process: lab._reference(u, x0, eps, t, process, **kw)  # noqa: E731
    verdict = lab._exact(fn)
    assert not verdict.passed and words in verdict.hint
    assert not lab._minimum(fn).passed


def test_a_flipped_target_does_not_train_a_sampler():
    """Oracle: the exact velocity's samples on the same Euler steps; a model trained on x0 − ε carries the noise the
    wrong way and lands far from the data."""
    verdict = lab._trained(lambda u, x0, eps, t, process: lab._reference(u, x0, eps, t, process, sign=-1.0))
    assert not verdict.passed and "direction" in verdict.hint


def test_a_detached_loss_and_an_exception_get_hints():
    """Oracle: grading.call and the training part — a loss without a gradient, and a shape error inside the
    student's code, each become a hint, not a traceback."""
    verdict = lab._trained(lambda u, x0, eps, t, process: solution(u, x0, eps, t, process).detach())
    assert not verdict.passed and "differentiable" in verdict.hint
    score = lab.LAB.grade(lambda u, x0, eps, t, process: u(x0 * t, t))  # t (N,) against x0 (N, 2)
    assert score.points == 0 and "shape" in score.parts[0]["hint"]


def names_above_the_lab(chapter: str) -> set[str]:
    """Every identifier in the code cells above the chapter's "## Build it" heading (strings and comments skipped)."""
    above = (ROOT / "chapters" / chapter).read_text().split("# ## Build it")[0]
    return {tok.string for tok in tokenize.generate_tokens(io.StringIO(above).readline) if tok.type == tokenize.NAME}


def test_nothing_above_the_lab_imports_or_prints_an_answer():
    """Oracle: the chapter's source above its lab, tokenised by Python, and the lab's ANSWERS (the L_CFM − L_FM check
    that used ``cfm_loss`` now sits below the lab)."""
    assert not set(lab.ANSWERS) & names_above_the_lab("08_flows.py")

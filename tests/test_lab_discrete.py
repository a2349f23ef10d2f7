"""Chapter 14's lab (``diffedu.labs.discrete``): the unmasking step of masked diffusion, graded part by part.

Oracles: Bayes' rule on the closed-form kernels (the grader's own reference, independent of the package's unmasking
formula) and the enumerated output distribution of the 16-step sampler; each typical mistake is written here as a
student would write it and must get its own hint.
"""
from __future__ import annotations


import pytest
import torch

from diffedu.labs import discrete as lab
from diffedu.labs.think import Question


def make(*, stay="right", model=True, normalise=True, mask_last=True, carry=True):
    """An unmasking step written as a student would, with one mistake where a keyword says so."""
    def unmasking_probs(x_t, x0_probs, alpha_t, alpha_s):
        V = x0_probs.shape[-1]
        p_stay = {"right": (1 - alpha_s) / (1 - alpha_t), "ratio": alpha_s / max(alpha_t, 1e-300),
                  "upside": (1 - alpha_t) / max(1 - alpha_s, 1e-300)}[stay]
        p0 = x0_probs if model else torch.full_like(x0_probs, 1 / V)
        move = (alpha_s - alpha_t) * p0 / ((1 - alpha_t) if normalise else 1.0)
        st = torch.full((*x_t.shape, 1), p_stay, dtype=x0_probs.dtype)
        rows = torch.cat([move, st] if mask_last else [st, move], -1)
        if not carry:
            return rows
        return torch.where((x_t == V).unsqueeze(-1), rows, torch.nn.functional.one_hot(x_t, V + 1).to(rows.dtype))
    return unmasking_probs


def by_loops(x_t, x0_probs, alpha_t, alpha_s):
    """A second correct solution: float64, position by position, straight from Bayes' rule
    q(x_s | x_t = m, x0 = u) = q(m | x_s) q(x_s | u) / q(m | u) with keep-probability α_t/α_s from s to t."""
    N, L, V = x0_probs.shape
    out = torch.zeros(N, L, V + 1, dtype=torch.float64)
    for n in range(N):
        for i in range(L):
            x = int(x_t[n, i])
            if x < V:
                out[n, i, x] = 1.0
                continue
            for u in range(V):
                p = float(x0_probs[n, i, u])
                out[n, i, u] += p * alpha_s * (1 - alpha_t / alpha_s) / (1 - alpha_t)  # unmasked at s: x_s = u
                out[n, i, V] += p * (1 - alpha_s) / (1 - alpha_t)  # still masked
    return out


def test_a_loop_solution_gets_full_marks():
    """Oracle: Bayes' rule on the kernels; the enumerated 16-step sampler (the chapter's solution:
    tests/test_lab_common.py)."""
    assert lab.LAB.grade(by_loops).full_marks


@pytest.mark.parametrize("mistake, part, words", [
    (dict(stay="ratio"), 0, "not α_s/α_t"),
    (dict(stay="upside"), 0, "upside down"),
    (dict(model=False), 0, "use x0_probs"),
    (dict(normalise=False), 0, "divide by the probability 1 − α_t"),
    (dict(mask_last=False), 0, "the mask is the last token"),
    (dict(carry=False), 1, "never masked again"),
])
def test_each_typical_mistake_gets_its_own_hint(mistake, part, words):
    """Oracle: the mistake made on purpose in a student-style function; its part fails with the named hint."""
    score = lab.LAB.grade(make(**mistake))
    assert score.parts[part]["points"] == 0 and words in score.parts[part]["hint"], score


def test_an_exception_inside_the_function_becomes_a_hint():
    """Oracle: grading.explain's meaning of a shape error; no traceback escapes."""
    def broken(x_t, x0_probs, alpha_t, alpha_s):
        return x0_probs + torch.zeros(3, 5)

    score = lab.LAB.grade(broken)
    assert score.points == 0 and "shapes" in score.parts[0]["hint"]


def test_the_think_answers_are_what_the_theory_says():
    """Oracles: (1 − α_s)/(1 − α_t) for the numeric question; the chosen answers' explanations name their reason."""
    assert all(isinstance(q, Question) for q in lab.THINK) and 2 <= len(lab.THINK) <= 4
    assert abs(lab.THINK[0].answer - (1 - 0.75) / (1 - 0.5)) < 1e-12
    assert lab.THINK[0].reply(0.5)[0] and not lab.THINK[0].reply(0.25)[0]

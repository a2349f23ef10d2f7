"""Chapter 03's lab: the 1-D Fokker–Planck equation on a grid, graded against the exact marginals p_t.

Oracle: the 1-D mixture's closed-form p_t (each component stays Gaussian) in L1, and conservation of mass; the typical
mistakes are made on purpose and must each get their own hint.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from diffedu.course.fokker_planck import fokker_planck_1d
from diffedu.labs.fokker_planck import ANSWERS, LAB


def explicit(half=0.5, sign=1.0, use_g=False, cfl=0.9, n_fixed=None):
    """Explicit Euler with central differences (the instructor's solution), or a mistake made on purpose."""
    def fokker_planck(p0, x, ts, process):
        dx = (x[1] - x[0]).item()
        p, out = p0.clone(), [p0.clone()]
        for t0, t1 in zip(ts[:-1], ts[1:]):
            g2_max = process.g2(torch.linspace(t0, t1, 11, dtype=torch.float64)).max().item()
            n = n_fixed or math.ceil((t1 - t0) * g2_max / (cfl * dx**2)) + 1
            dt = (t1 - t0) / n
            for k in range(n):
                t = torch.tensor(t0 + k * dt, dtype=torch.float64)
                flux, q = F.pad(process.f(t) * x * p, (1, 1)), F.pad(p, (1, 1))
                c = process.g(t) if use_g else process.g2(t)
                p = p + dt * (-sign * (flux[2:] - flux[:-2]) / (2 * dx) + half * c * (q[2:] - 2 * p + q[:-2]) / dx**2)
            out.append(p)
        return torch.stack(out)
    return fokker_planck


def crank_nicolson(p0, x, ts, process):
    """A second correct solution: the package's implicit Crank–Nicolson solver, 100 steps per interval, in float32."""
    fine = [a + (b - a) * k / 100 for a, b in zip(ts[:-1], ts[1:]) for k in range(100)] + [ts[-1]]
    p = fokker_planck_1d(p0, x, fine, process)
    return p[::100].float()


def test_a_second_correct_solution_gets_full_marks():
    """Oracle: the exact p_t in L1 (≤ 5e-3) and mass 1 — for Crank–Nicolson in float32 (explicit Euler, the
    chapter's solution, is graded by tests/test_lab_common.py)."""
    assert LAB.grade(crank_nicolson).full_marks


def test_each_typical_mistake_gets_its_own_hint():
    """Oracle: the exact density of the model the mistake solves (linear SDE with the wrong drift or diffusion)."""
    cases = [(explicit(half=1.0, cfl=0.4), "did you drop the ½"),
             (explicit(sign=-1.0), "check its sign"),
             (explicit(use_g=True), "not g(t)"),
             (explicit(n_fixed=20), "½g²Δt/Δx² ≤ ½")]
    for fn, words in cases:
        score = LAB.grade(fn)
        assert not score.full_marks and words in score.parts[0]["hint"], (words, score)


def test_a_wrong_shape_and_an_error_become_hints():
    """Oracle: the expected shape (len(ts), M); an exception inside the function is explained, not raised."""
    score = LAB.grade(lambda p0, x, ts, process: p0)
    assert score.points == 0 and "shape (4, 281)" in score.parts[0]["hint"]
    score = LAB.grade(lambda p0, x, ts, process: p0 @ torch.ones(3))
    assert score.points == 0 and "shape" in score.parts[0]["hint"]


def test_answers_name_the_package_solver():
    assert any(a.endswith("fokker_planck_1d") for a in ANSWERS)

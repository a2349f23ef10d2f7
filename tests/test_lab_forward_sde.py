"""Chapter 01's lab: Euler–Maruyama on the forward SDE (``diffedu.labs.forward_sde``).

Oracles: the recursion x ← x + f(t)x Δt + g(t)√Δt z written out here (exact, same draws) and the closed-form kernel
N(α_t x0, σ_t²) by Monte Carlo (the grader's own stated tolerance); each typical mistake is made on purpose.
"""
from __future__ import annotations

import torch

from diffedu.labs.forward_sde import LAB


def float32_solution(x0, ts, process, z):
    """Written differently: Python floats for the coefficients, float32 for the state, the step as one expression."""
    x, times = x0.float(), [float(t) for t in ts]
    for k, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        f, g = (float(c(torch.tensor(t, dtype=torch.float64))) for c in (process.f, process.g))
        x = (1 + f * (t_next - t)) * x + g * (t_next - t) ** 0.5 * z[k].float()
    return x


def mistake(noise="sqrt", drift=1.0, at="start"):
    def fn(x0, ts, process, z):
        x = x0
        for k in range(len(ts) - 1):
            t, dt = (ts[k] if at == "start" else ts[k + 1]), ts[k + 1] - ts[k]
            scale = process.g(t) * dt.sqrt() if noise == "sqrt" else process.g(t) * dt
            x = x + drift * process.f(t) * x * dt + scale * z[k]
        return x
    return fn


def test_a_float32_solution_gets_full_marks():
    """Oracle: the recursion in float64 held to float32's precision (the chapter's solution: tests/test_lab_common.py)."""
    assert LAB.grade(float32_solution).full_marks


def test_each_typical_mistake_gets_its_own_hint():
    hints = {name: LAB.grade(fn).parts[0]["hint"] for name, fn in [
        ("no sqrt", mistake(noise="no_sqrt")), ("drift sign", mistake(drift=-1.0)), ("end point", mistake(at="end"))]}
    assert "g·√Δt, not g·Δt" in hints["no sqrt"]
    assert "sign" in hints["drift sign"]
    assert "start of each step" in hints["end point"]
    assert "your loop never changed x" in LAB.grade(lambda x0, ts, p, z: x0.clone()).parts[0]["hint"]


def test_an_error_inside_the_students_function_is_explained(capsys):
    score = LAB.grade(lambda x0, ts, p, z: x0 @ z)
    assert score.points == 0 and "shapes of two tensors do not fit" in score.parts[0]["hint"]
    assert "Traceback" not in capsys.readouterr().out

"""The ``check_…`` functions' own contract (diffedu.course.exercises). Oracle: the documented replies — a correct answer passes
however it is computed (in place, in float32), a wrong one fails with a hint, never a deep traceback."""
from __future__ import annotations

import pytest
import torch

from diffedu.course import exercises


def test_an_answer_computed_in_place_is_accepted():
    """An in-place answer used to change the test's inputs before the reference answer was computed."""
    def in_place(x, f_t, g2_t, score):
        return x.mul_(f_t).sub_(0.5 * g2_t * score)

    exercises.check_pf_drift(in_place)
    exercises.check_dsm_target(lambda x, x0, sigma: x.sub_(x0).div_(-sigma**2))


def test_a_float32_answer_is_held_to_float32_precision():
    exercises.check_noise(lambda x0, eps, alpha_t, sigma_t: (alpha_t * x0 + sigma_t * eps).float())


def test_a_missing_return_gets_a_hint():
    with pytest.raises(AssertionError, match="forget `return`"):
        exercises.check_pf_drift(lambda x, f_t, g2_t, score: None)


def test_edm_preconditioning_needs_all_four_coefficients():
    def three(sigma, sigma_data):
        s = sigma**2 + sigma_data**2
        return sigma_data**2 / s, sigma * sigma_data / s.sqrt(), 1 / s.sqrt()

    with pytest.raises(AssertionError, match="four coefficients"):
        exercises.check_edm_preconditioning(three)


def _forward_kernel(kind, alpha_t, V, off_by_one=False, leaky_mask=False):
    """Chapter 14's warm-up written by loops, with the two typical mistakes as switches."""
    S = V + (kind == "mask")
    K = torch.zeros(S, S, dtype=torch.float64)
    for u in range(S):
        for w in range(S):
            if kind == "uniform":
                spread = (1 - alpha_t) / (V - 1 if off_by_one else V)
                K[u, w] = (alpha_t if u == w else 0.0) + (spread if (u != w or not off_by_one) else 0.0)
            elif u == V:  # the mask stays (or, the mistake, falls back to a random token with prob. 1 − α_t)
                K[u, w] = (alpha_t if w == V else (1 - alpha_t) / V) if leaky_mask else float(w == V)
            else:
                K[u, w] = (alpha_t if u == w else 0.0) + ((1 - alpha_t) if w == V else 0.0)
    return K


def test_the_forward_kernel_check_passes_a_loop_and_names_two_mistakes():
    """Oracle: DiscreteNoise.kernel's closed form (tested against the matrix exponential in test_discrete.py). A
    loop passes; redrawing among the V − 1 *other* tokens and a mask row that is not absorbing each get their hint."""
    exercises.check_forward_kernel(_forward_kernel)
    with pytest.raises(AssertionError, match="itself included"):
        exercises.check_forward_kernel(lambda k, a, V: _forward_kernel(k, a, V, off_by_one=True))
    with pytest.raises(AssertionError, match="absorbing"):
        exercises.check_forward_kernel(lambda k, a, V: _forward_kernel(k, a, V, leaky_mask=True))


WARM_UPS = sorted(name for name in dir(exercises) if name.startswith("check_"))


def _stub(*args, **kwargs):
    """The student edition's stub, as tools/student.py writes it."""
    raise NotImplementedError("Warm-up 9 · a test (fn): replace this line with your code")


@pytest.mark.parametrize("name", WARM_UPS)
def test_a_warm_up_stub_gets_one_line_not_a_traceback(name, capsys):
    """Oracle: the stub's own message — every warm-up check returns normally on it (so Run All goes on) and prints one
    line that names the warm-up and says what to replace, with no hint (the hints come with a wrong answer)."""
    getattr(exercises, name)(_stub)
    out = capsys.readouterr().out
    assert out.strip().splitlines() == [f"✗ Warm-up 9 · a test (fn) is not written yet: replace the `raise "
                                        f"NotImplementedError` line with your code, then run this cell again ({name})."]


@pytest.mark.parametrize("name", WARM_UPS)
def test_an_error_inside_the_students_function_gets_its_likely_cause(name, capsys):
    """Oracle: student_errors.explain's meaning of a division by zero, printed in one line; no exception escapes."""
    getattr(exercises, name)(lambda *args: 1 / 0)
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"✗ {name}: not yet") and "a division by zero" in out and len(out.splitlines()) == 1


def test_a_value_instead_of_a_function_is_refused():
    with pytest.raises(TypeError, match="pass your function itself"):
        exercises.check_noise(torch.zeros(3))


RUN_ALL = ["00_welcome", "02_tweedie"]  # the two quickest chapters: warm-ups only (00), warm-ups and a lab (02)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN_ALL)
def test_run_all_of_the_student_edition_reaches_the_last_cell(name, tmp_path):
    """Oracle: Jupyter's own kernel, as JupyterLab's Run All drives it (nbclient, allow_errors=False: the first
    error stops the run and fails the test). The student edition (tools/student.py) of the chapter runs to its last
    cell; each warm-up's check says it is not written yet, each lab scores 0. Cost: about 30 s per chapter on a busy
    core (quick mode), the kernel's start included."""
    import os
    import sys
    from pathlib import Path

    import nbclient
    import nbformat

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from tools import student

    teacher = root / "chapters" / f"{name}.ipynb"
    ((path, count),) = student.write_students([teacher], tmp_path)
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("DIFFEDU_QUICK", "1")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[-1].execution_count is not None, "Run All stopped before the last cell"
    text = "".join(out.get("text", "") for cell in code for out in cell.outputs if out.output_type == "stream")
    warm_ups = [e for e in student.exercises(nbformat.read(teacher, as_version=4))
                if "diffedu.labs." not in nb.cells[e.cell].source]
    assert count >= 2 and warm_ups and text.count("is not written yet") == len(warm_ups)
    assert text.count("Lab · ") == count - len(warm_ups) and "Traceback" not in text

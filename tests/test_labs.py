"""The Build-it labs as a whole: the grading machinery, the answer kept off the student's screen, and the
lecturer's grader (``python -m diffedu grade``).

Each lab's own grader is tested in ``tests/test_lab_<topic>.py``; ``tests/test_student.py`` grades every lab's stub
and solution from the chapters.
"""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

from diffedu.__main__ import main as diffedu_main
from diffedu.labs.grading import Lab, Part, Verdict, call, close, diagnose, explain

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import student  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
LAB_IMPORT = re.compile(r"from diffedu\.labs\.(\w+) import")


def labs_of(nb) -> list[tuple[student.Exercise, str]]:
    """(exercise, lab module) for every Build-it lab of a notebook: its solution cell imports a diffedu.labs module."""
    found = []
    for e in student.exercises(nb):
        match = LAB_IMPORT.search(nb.cells[e.cell].source)
        if match:
            found.append((e, match[1]))
    return found


def test_a_lab_scores_each_part_and_explains_errors(capsys):
    """Oracle: a two-part lab over f(x) = 2x, graded on a right answer, a typical mistake and a crash."""
    x = torch.tensor([1.0, -2.0])

    def part(fn):
        got = call(fn, x.clone())
        ok = close(got, 2 * x)
        return Verdict(ok, "compared with 2x", "" if ok else diagnose(got, [(x, "you forgot the factor 2")], "?"))

    lab = Lab("99 · doubling", [Part("doubles", 2, "to 1e-6", part), Part("again", 1, "to 1e-6", part)], ["Double."])
    assert lab.grade(lambda v: v * 2.0).points == 3
    assert lab.grade(lambda v: v.double() * 2).full_marks  # float64 and float32 answers both pass
    wrong = lab.grade(lambda v: v)
    assert wrong.points == 0 and wrong.parts[0]["hint"] == "you forgot the factor 2"
    crash = lab.grade(lambda v: v @ torch.ones(3))
    assert crash.points == 0 and "shapes of two tensors do not fit" in crash.parts[0]["hint"]
    assert "Traceback" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="level must be an integer in 1–1"):
        lab.hint(2)


@pytest.mark.parametrize("error, words", [(NotImplementedError("x: replace this line"), "replace the `raise"),
                                          (ValueError("math domain error"), "negative"),
                                          (ZeroDivisionError("float division by zero"), "σ = 0"),
                                          (IndexError("index 5 is out of bounds"), "off-by-one"),
                                          (KeyError("k"), "raised KeyError")])
def test_explain_names_the_likely_cause(error, words):
    """Oracle: the table of meanings, read by hand."""
    assert words in explain(error)


def distinctive(line: str) -> bool:
    """A solution line worth looking for elsewhere: a computation (an assignment, a call or arithmetic) of some length,
    not a comment and not a bare ``return name`` that any function may end with."""
    return len(line) > 12 and not line.startswith("#") and bool(re.search(r"[=(*+/\[]", line))


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if labs_of(nbformat.read(c, as_version=4))],
                         ids=lambda p: p.stem)
def test_the_answer_is_not_on_the_student_screen(chapter):
    """Oracle: the instructor's solution lines. In the student version no code cell (source or output) holds a line of
    a lab's solution, and no cell above the lab defines or imports the function it asks for, imports a package
    function that would pass its grader (the lab's ANSWERS), or prints one's source."""
    teacher = nbformat.read(chapter, as_version=4)
    pupil = student.student_notebook(teacher)
    for exercise, module in labs_of(teacher):
        block = teacher.cells[exercise.cell].source.split("# BEGIN SOLUTION")[1].split("# END SOLUTION")[0]
        lines = {ln.strip() for ln in block.splitlines() if distinctive(ln.strip())}
        answers = importlib.import_module(f"diffedu.labs.{module}").ANSWERS
        for i, cell in enumerate(pupil.cells):
            if cell.cell_type != "code":  # the instructions state the equations; code and outputs must not
                continue
            text = cell.source + json.dumps(cell.get("outputs", []))
            leaked = [ln for ln in lines if ln in text]
            assert not leaked, f"{chapter.name} cell {i} shows solution lines of {exercise.label}: {leaked}"
            if i >= exercise.cell:
                continue
            for name in (exercise.function, *answers):
                pattern = rf"(def {name}\b|import .*\b{name}\b|getsource\(.*\b{name}\b|\b{name}\?\?)"
                assert not re.search(pattern, cell.source), f"{chapter.name} cell {i} offers {name} above the lab"


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if labs_of(nbformat.read(c, as_version=4))],
                         ids=lambda p: p.stem)
def test_nbval_checks_each_lab_report_at_full_marks(chapter):
    """Oracle: each lab module's LAB (title and points). nbval re-runs every chapter and compares its lab cell's score
    report with the committed one only if the cell is tagged nbval-check-output (in the .py, the source of truth), and
    that comparison proves full marks only if the committed report reads full marks: both are checked here."""
    tagged = [c for c in jupytext.read(chapter.with_suffix(".py")).cells
              if c.cell_type == "code" and LAB_IMPORT.search(c.source)]
    teacher = nbformat.read(chapter, as_version=4)
    labs = labs_of(teacher)
    assert len(tagged) == len(labs) >= 1, f"{chapter.name}: {len(tagged)} lab cells in the .py, {len(labs)} labs"
    for cell, (exercise, module) in zip(tagged, labs):
        assert "nbval-check-output" in cell.metadata.get("tags", ()), f"{chapter.name}: {exercise.label} is not checked"
        lab = importlib.import_module(f"diffedu.labs.{module}").LAB
        total = sum(part.points for part in lab.parts)
        shown = "".join(o.get("text", "") for o in teacher.cells[exercise.cell].get("outputs", []))
        assert f"Lab · {lab.title}: {total}/{total}\n" in shown, f"{chapter.name}: the committed report {shown[:300]!r}"


def grade(*paths, extra=()):
    out = subprocess.run([sys.executable, "-m", "diffedu", "grade", *map(str, paths), "--json", *extra],
                         capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


# The grader end to end (CLI, a kernel per notebook, the gradebook, the JSON) on the two chapters whose labs run
# fastest (under a second each): a 10-point lab (02) and an 8-point one (14). Every chapter's lab is graded the
# grader's way in tests/test_student.py (the grader's cells only, in a fresh namespace, read back from
# DIFFEDU_GRADEBOOK: stub 0 with a reason, solution full marks), and nbval compares each lab cell's score report
# (tag nbval-check-output; tests/sanitize.cfg leaves out only what each part measured).
GRADED = [ROOT / "chapters" / name for name in ("02_tweedie.ipynb", "14_discrete.ipynb")]


def test_grade_gives_the_student_version_zero_and_the_instructor_version_full_marks(tmp_path):
    """Oracles: the stubs — every lab of the student notebooks scores 0, with a reason naming the stub; the
    instructor's solutions — full marks, as their own chapters show. One grader run for both (it starts a kernel per
    notebook either way)."""
    student.write_students(GRADED, tmp_path / "student")
    results = {r["notebook"]: r["labs"] for r in grade(tmp_path / "student", *GRADED)}
    assert sorted(results) == sorted(f"{d}/{p.name}" for d in ("chapters", "student") for p in GRADED), results
    for notebook, labs in results.items():
        assert len(labs) == 1, (notebook, labs)
        for lab in labs:
            if notebook.startswith("student/"):
                assert lab["points"] == 0 and lab["total"] > 0 and "replace" in lab["reason"], (notebook, lab)
            else:
                assert lab["points"] == lab["total"] > 0, (notebook, lab)


def test_grade_stops_a_hanging_notebook_and_refuses_bad_input(tmp_path, capsys):
    """Oracle: a notebook that sleeps past the limit is stopped and its lab scores 0 with the reason; a missing
    path and a non-positive limit are usage errors (exit 2)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from diffedu.labs.forward_sde import check_em_forward\nimport time\ntime.sleep(60)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "hang.ipynb"
    nbformat.write(nb, path)
    (result,) = grade(path, extra=("--time-limit", "10"))
    assert result["labs"][0]["points"] == 0 and "time limit" in result["labs"][0]["reason"]
    for argv in (["grade", str(tmp_path / "nothing.ipynb")], ["grade", str(path), "--time-limit", "0"]):
        with pytest.raises(SystemExit) as stopped:  # `python -m diffedu` in this process: argparse's usage error
            diffedu_main(argv)
        assert stopped.value.code == 2 and capsys.readouterr().err

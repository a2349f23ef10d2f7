"""Student and instructor versions (issue 9): `make student` stubs every solution, and every exercise's check then
fails helpfully against the stub and passes with the solution.

Oracles: the instructor notebook itself (its solution must pass its own check); the stub's own message (the
``NotImplementedError`` that reaches the reader must be the stub's, naming the exercise, or the check's
``AssertionError`` with a hint: anything else is a crash somewhere inside the check or torch).

A Build-it lab is run the way ``python -m diffedu grade`` runs it (``diffedu.labs.grade.lab_cells``: the setup cell
and the cells its names need, in a fresh namespace) with ``DIFFEDU_GRADEBOOK`` set, and its gradebook entry — what
the grader reads — must carry the lab module's ``LAB.title`` with 0 points and a "replace" reason on the stub, full
marks with the solution. (``tests/test_labs.py`` runs the grader itself end to end on a few chapters.)

Budget: no chapter is run whole. For each exercise, only the cells it needs (the setup cell and the cells that bind
the global names it reads, found with Python's scoping rules by ``tools.student.cells_needed``) run, once, in this
process; the stub and the solution then each run the exercise's own cells on top of them. Today every exercise needs
only its chapter's setup cell: all chapters' exercises take about 10 s (5 s CPU).
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

import jupytext
import matplotlib
import nbformat
import pytest

from diffedu.labs.grade import LAB_IMPORT, lab_cells

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import student  # noqa: E402

matplotlib.use("Agg")  # this test process only: the chapters keep the inline backend
import matplotlib.pyplot as plt  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "mini_chapter.py"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def with_exercises(paths: list[Path]) -> list[Path]:
    return [p for p in paths if student.exercises(nbformat.read(p, as_version=4))]


def fixture_notebook(tmp_path: Path) -> Path:
    path = tmp_path / "99_mini.ipynb"
    nbformat.write(jupytext.read(FIXTURE), path)
    return path


def run_cell(source: str, ns: dict, name: str) -> str:
    """Execute one cell's code in ``ns`` the way the kernel would (magics skipped); returns what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(student.python_source(source), name, "exec"), ns)
    plt.close("all")
    return buffer.getvalue()


LAB_SCORE = re.compile(r"Lab · .*?: (?P<points>\d+)/(?P<total>\d+)")


@contextlib.contextmanager
def gradebook(path: Path):
    """Point ``DIFFEDU_GRADEBOOK`` at ``path`` (as the grader does) and yield the entries written there."""
    path.write_text("")
    entries: list[dict] = []
    previous = os.environ.get("DIFFEDU_GRADEBOOK")
    os.environ["DIFFEDU_GRADEBOOK"] = str(path)
    try:
        yield entries
    finally:
        if previous is None:
            del os.environ["DIFFEDU_GRADEBOOK"]
        else:
            os.environ["DIFFEDU_GRADEBOOK"] = previous
        entries += [json.loads(line) for line in path.read_text().splitlines()]


def check_gradebook(entries: list[dict], source: str, label: str, solved: bool) -> None:
    """What ``python -m diffedu grade`` would report: one entry per lab the cell imports, under its ``LAB.title``;
    full marks for the solution, 0 with a reason naming the stub for the stub."""
    scores = {e["lab"]: e for e in entries}  # as the grader reads them
    for module in (m for m in LAB_IMPORT.findall(source) if m != "grading"):
        lab = importlib.import_module(f"diffedu.labs.{module}").LAB
        entry = scores.get(lab.title)
        assert entry, f"{label}: no gradebook entry under {lab.title!r}: {entries}"
        assert entry["total"] == sum(p.points for p in lab.parts) > 0, f"{label}: {entry}"
        if solved:
            assert entry["points"] == entry["total"], f"{label}: the solution scores {entry['points']}/{entry['total']}"
        else:
            reason = "; ".join(p["hint"] for p in entry["parts"] if p["hint"])
            assert entry["points"] == 0 and "replace" in reason, f"{label}: the stub's gradebook entry {entry}"


def stub_outcome(exercise, sources: list[str], ns: dict, stem: str) -> str:
    """Run an exercise's student cells: an exercise's check must print that the exercise (named) is not written yet,
    or raise the stub's NotImplementedError (naming the exercise) or an AssertionError with a hint; a lab's grader
    must print a score of 0 that names the stub."""
    try:
        printed = "".join(run_cell(source, ns, f"<student {stem} cell>") for source in sources)
    except (NotImplementedError, AssertionError) as error:
        where = "".join(traceback.format_exception(error))[-1500:]
        if isinstance(error, NotImplementedError):
            assert exercise.label in str(error), f"{exercise.label}: the NotImplementedError is not the stub's:\n{where}"
        else:
            assert "hint" in str(error).lower(), f"{exercise.label}: an AssertionError without a hint:\n{where}"
        return type(error).__name__
    if f"{exercise.label} is not written yet" in printed:  # a warm-up's check: one line, no traceback
        return "not written yet"
    score = LAB_SCORE.search(printed)
    assert score and score["points"] == "0", f"{exercise.label}: the stub must fail its check; it printed {printed!r}"
    assert exercise.label in printed and "replace this line" in printed, f"{exercise.label}: {printed!r}"
    return f"lab score 0/{score['total']}"


def check_one(exercise, cells: list[int], notebooks, ns: dict, lab_source: str, tmp_path: Path, stem: str) -> str:
    """One exercise: its student cells against the stub (in a copy of ``ns``), then the instructor's cells (in
    ``ns``), each with a fresh gradebook. Returns the log line."""
    teacher, pupil = notebooks
    started = time.perf_counter()
    with gradebook(tmp_path / "stub.jsonl") as entries:
        outcome = stub_outcome(exercise, [pupil.cells[i].source for i in cells], dict(ns), stem)
    check_gradebook(entries, lab_source, exercise.label, solved=False)
    assert lab_source or not outcome.startswith("lab"), f"{exercise.label}: the grader cannot find this lab (its " \
        "cell must import its diffedu.labs module)"
    # the solution: the instructor's cells must pass their own check (a lab: full marks)
    with gradebook(tmp_path / "solution.jsonl") as entries:
        printed = "".join(run_cell(teacher.cells[i].source, ns, f"<{stem} cell {i}>") for i in cells)
    check_gradebook(entries, lab_source, exercise.label, solved=True)
    score = LAB_SCORE.search(printed)
    assert score is None or score["points"] == score["total"], f"{exercise.label}: the solution scores {score[0]}"
    return (f"  {exercise.label}: stub → {outcome}; solution → {printed.strip()[-60:]!r} "
            f"({time.perf_counter() - started:.1f} s)")


def check_exercises(instructor: Path, tmp_path: Path) -> list[str]:
    """Write the student version of ``instructor`` with the tool, then run every exercise's cells against the stub
    (must raise NotImplementedError naming the exercise, or AssertionError with a hint) and against the solution
    (must pass). Returns one line per exercise for the log."""
    ((written, count),) = student.write_students([instructor], tmp_path / "student")
    teacher = nbformat.read(instructor, as_version=4)
    pupil = nbformat.read(written, as_version=4)
    found = student.exercises(teacher)
    assert count == len(found) >= 1
    assert len(pupil.cells) == len(teacher.cells), "the student version must keep every cell"

    units = {e.cell: [i for i in range(e.cell, e.check + 1) if teacher.cells[i].cell_type == "code"] for e in found}
    targets = sorted({i for cells in units.values() for i in cells})
    needed = student.cells_needed(teacher, targets)
    grader = lab_cells(teacher)  # the cells `python -m diffedu grade` runs
    from IPython.display import display

    ns: dict = {"__name__": "__main__", "display": display}
    log = [f"{instructor.name}: setup cells {needed} for exercise cells {targets}"]
    done: set[int] = set()
    for index in sorted(set(needed) | set(units)):
        if index in done:
            continue
        if index not in units:
            run_cell(teacher.cells[index].source, ns, f"<{instructor.stem} cell {index}>")
            done.add(index)
            continue
        exercise = next(e for e in found if e.cell == index)
        lab_source = "".join(t for t in (teacher.cells[i].source for i in units[index]) if LAB_IMPORT.search(t))
        base = ns
        if lab_source:  # as `python -m diffedu grade` runs a lab: a fresh namespace with only its cells before it
            base = {"__name__": "__main__", "display": display}
            for i in (i for i in grader if i < index):
                run_cell(teacher.cells[i].source, base, f"<{instructor.stem} cell {i}>")
        log.append(check_one(exercise, units[index], (teacher, pupil), base, lab_source, tmp_path, instructor.stem))
        done.update(units[index])
        ns.update(base)
    return log


def test_stub_keeps_indentation_and_names_the_exercise():
    """Oracle: the stubbed source compiles, raises the stub's NotImplementedError when called, and keeps the code
    around the block."""
    source = "def f(x):\n    y = 1\n    # BEGIN SOLUTION\n    return x + y\n    # END SOLUTION\n\nprint('after')"
    stubbed = student.stub(source, "Exercise 7 · f")
    assert "return x + y" not in stubbed and "print('after')" in stubbed and "    y = 1" in stubbed
    ns: dict = {}
    exec(stubbed.replace("print('after')", ""), ns)
    with pytest.raises(NotImplementedError, match="Exercise 7 · f"):
        ns["f"](1)


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"])
def test_unbalanced_markers_are_refused(bad):
    """Oracle: a block that is not one BEGIN … END pair cannot be stubbed safely (it would leak or eat code)."""
    with pytest.raises(ValueError, match="SOLUTION"):
        student.stub(bad, "Exercise")


def test_names_follow_python_scoping():
    """Oracle: Python's scoping rules, read by hand — parameters, locals and comprehension variables are not needed
    from other cells; globals read inside a function body, a lambda or a class body are; ``global`` assignments
    bind at the top level."""
    source = ("import math\n"
              "def step(x, score, tau=default_tau):\n"
              "    y = x + tau * score + shift\n"
              "    return [math.sqrt(k) * y for k in range(n)]\n"
              "f = lambda u: u * scale\n"
              "class C:\n    z = offset\n"
              "def reset():\n    global counter\n    counter = 0\n"
              "total = sum(f(v) for v in values)\n")
    defined, used = student.names(source)
    assert defined == {"math", "step", "f", "C", "reset", "counter", "total"}
    assert used == {"math", "default_tau", "shift", "n", "scale", "offset", "f", "values"}


def test_an_exercise_does_not_pull_in_a_cell_binding_its_parameters_names():
    """Oracle: a three-cell notebook read by hand — the exercise's function takes ``x`` as a parameter, so the
    expensive cell that binds a global ``x`` is not needed; the setup cell always is."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch"),
                                         nbformat.v4.new_code_cell("x = train_for_an_hour()"),
                                         nbformat.v4.new_code_cell("def f(x):\n    return torch.sin(x)")])
    assert student.cells_needed(nb, [2]) == [0]


def test_cells_needed_finds_only_the_setup_and_definitions(tmp_path):
    """Oracle: the fixture chapter's structure, read by hand — its exercises need the setup cell (0 among code cells)
    and the cell defining ``beta``, not the figure or the widget panel."""
    nb = nbformat.read(fixture_notebook(tmp_path), as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    found = student.exercises(nb)
    assert [e.function for e in found] == ["alpha_bar_of", "snr_of"]
    assert [e.title for e in found] == ["Exercise 1 · ᾱ from β", "Exercise 2 · The signal-to-noise ratio"]
    targets = [i for e in found for i in range(e.cell, e.check + 1) if nb.cells[i].cell_type == "code"]
    assert student.cells_needed(nb, targets) == [code[0], code[1]]


def test_student_version_of_the_fixture(tmp_path):
    """Oracle: the fixture's two exercises, by hand — no solution line survives, each stub names its exercise, the
    cells that held or checked a solution lose their outputs, the jupytext pairing is dropped; then the run."""
    path = fixture_notebook(tmp_path)
    nb = student.student_notebook(nbformat.read(path, as_version=4))
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "torch.cumprod(1 - beta, 0)\n" not in text.split("def check_snr")[0].split(
        "def alpha_bar_of")[1]
    assert text.count("raise NotImplementedError(") == 2
    assert "Exercise 1 · ᾱ from β (alpha_bar_of)" in text and "Exercise 2 · The signal-to-noise ratio (snr_of)" in text
    assert "formats" not in nb.metadata.get("jupytext", {})
    print("\n".join(check_exercises(path, tmp_path)))


def test_make_student_writes_every_chapter(tmp_path):
    """Oracle: the chapters on disk — `python -m tools.student --out DIR` (what `make student` runs) writes one
    student notebook per chapter notebook."""
    assert student.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("chapter", with_exercises(CHAPTERS), ids=lambda p: p.stem)
def test_chapter_exercises_fail_on_the_stub_and_pass_with_the_solution(chapter, tmp_path):
    """Oracle: see the module docstring — the stub's own message or a hint, and the solution's passing check."""
    print("\n".join(check_exercises(chapter, tmp_path)))


def test_every_chapter_has_exercises():
    """Oracle: GUIDE §4 — every chapter has at least two exercises (solution blocks with a check)."""
    short = {p.name: len(student.exercises(nbformat.read(p, as_version=4))) for p in CHAPTERS}
    short = {name: n for name, n in short.items() if n < 2}
    assert not short, f"chapters with fewer than two exercises: {short}"


def test_every_exercise_has_a_name_that_says_what_it_practises():
    """Oracle: the chapters' headings — no exercise falls back to the bare "Exercise N" title (its heading names it,
    e.g. "Warm-up 1 · DDIM's noise scale c(η)"), and no two exercises of a chapter share a title."""
    for path in CHAPTERS:
        titles = [e.title for e in student.exercises(nbformat.read(path, as_version=4))]
        assert not [t for t in titles if re.fullmatch(r"Exercise \d+", t)], (path.name, titles)
        assert len(set(titles)) == len(titles), (path.name, titles)


def test_a_lab_stub_names_the_function_of_each_block():
    """Oracle: a two-function lab cell, read by hand — each stub names its own function."""
    source = ("def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n\n\n"
              "def g(x):\n    # BEGIN SOLUTION\n    return -x\n    # END SOLUTION\n")
    ns: dict = {}
    exec(student.stub(source, "Build it · two"), ns)
    for name in ("f", "g"):
        with pytest.raises(NotImplementedError, match=rf"Build it · two \({name}\): replace this line"):
            ns[name](1)


def test_a_check_that_crashes_on_the_stub_is_caught(tmp_path):
    """Oracle: a deliberately bad check that swallows the stub's error and then crashes inside torch (TypeError)
    must make this test machinery fail, not pass."""
    nb = jupytext.read(FIXTURE)
    cell = next(c for c in nb.cells if "def check_alpha_bar" in c.source)
    cell.source = cell.source.replace("    got = fn(beta)\n", "    try:\n        got = fn(beta)\n"
                                      "    except NotImplementedError:\n        got = None\n")
    path = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(TypeError):
        check_exercises(path, tmp_path)

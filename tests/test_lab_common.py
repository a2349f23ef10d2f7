"""What every Build-it lab (``diffedu.labs.<topic>``) must do, checked once over all of them; each lab's own file
(``tests/test_lab_<topic>.py``) keeps only its typical mistakes, its second correct implementations and its
lab-specific cases.

Oracles: the student edition's stub (its own ``NotImplementedError``); a ``ZeroDivisionError`` raised on purpose
(``student_errors.explain``'s meaning); Python's parse of the chapter's code above its "## Build it" heading; the
hints' text (a regular expression for code). That each chapter's own solution gets full marks (and its stub zero)
through the grader's cell selection is tests/test_student.py's job, and nbval compares each lab's committed report
("Lab · …: N/N", tagged nbval-check-output; tests/test_labs.py checks the tag and the full marks).

Budget: the stub and error rows stop at each part's first call (about 1 s for all labs).
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import pkgutil
import re
import sys
from pathlib import Path

import jupytext
import matplotlib
import pytest
import torch

import diffedu.labs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import student  # noqa: E402

matplotlib.use("Agg")  # this test process only

LABS = sorted(m.name for m in pkgutil.iter_modules(diffedu.labs.__path__)
              if hasattr(importlib.import_module(f"diffedu.labs.{m.name}"), "LAB"))
SCORE = re.compile(r"Lab · .*?: (?P<points>\d+)/(?P<total>\d+)")
CODE = re.compile(r"torch\.|\brange\(|\.sqrt\(|\bfor \w+ in\b|\breturn\b|\bprocess\.|\b[a-z_]+\[[a-z]|\b[a-z_]{3,} = ")
TIER_WORDS = {  # lab: (words the first hint must not contain, words the last hint must contain)
    "ddim": (("√", "sqrt"), "x0_hat(x, t)"),
    "discrete": (("α", "alpha"), "(1 − alpha_s)/"),
    "few_step": (("jvp", "(t − r)"), "torch.func.jvp"),
}


def module(lab: str):
    return importlib.import_module(f"diffedu.labs.{lab}")


def chapter(lab: str) -> Path:
    """The chapter whose Build-it cell imports the lab."""
    (path,) = [p for p in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
               if f"from diffedu.labs.{lab} import" in p.read_text()]
    return path


def check(lab: str):
    """The lab's public ``check_…`` function (the one the chapter calls)."""
    (name,) = [n for n in module(lab).__all__ if n.startswith("check_")]
    return getattr(module(lab), name)


def graded(lab: str, fn) -> tuple[str, dict]:
    """Call the lab's ``check_…`` with ``fn`` for each of its functions; returns what it printed and the score."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(lab)(*[fn] * len(inspect.signature(check(lab)).parameters))
    match = SCORE.search(out.getvalue())
    assert match, out.getvalue()
    return out.getvalue(), {k: int(v) for k, v in match.groupdict().items()}


def _stub(*args, **kwargs):
    raise NotImplementedError("Build it · a test (fn): replace this line with your code")


@pytest.mark.parametrize("lab", LABS)
def test_the_stub_scores_zero_and_says_replace_this_line(lab):
    """Oracle: the stub's own message — 0 points, the first part says to replace the line, the other parts are not
    run (the stub is reported once)."""
    printed, score = graded(lab, _stub)
    total = sum(part.points for part in module(lab).LAB.parts)
    assert score == {"points": 0, "total": total}, printed
    assert printed.count("replace this line") == 1 and printed.count("not run") == len(module(lab).LAB.parts) - 1


@pytest.mark.parametrize("lab", LABS)
def test_an_exception_inside_the_students_function_becomes_a_hint(lab):
    """Oracle: student_errors.explain's meaning of a ZeroDivisionError; no traceback escapes, no point is given."""
    printed, score = graded(lab, lambda *args, **kwargs: 1 / 0)
    assert score["points"] == 0 and "division by zero" in printed, printed


@pytest.mark.parametrize("lab", LABS)
def test_the_hints_are_tiered_and_the_first_gives_nothing_away(lab, capsys):
    """Oracle: the hints' text — at least two, each printed as 'Hint k of n'; the first holds no code (CODE), the
    last does; labs with known give-aways (TIER_WORDS) are checked for them; levels outside 1–n are refused."""
    lab_module = module(lab)
    hints = lab_module.LAB.hints
    assert len(hints) >= 2
    for level in range(1, len(hints) + 1):
        lab_module.hint(level)
        assert capsys.readouterr().out.startswith(f"Hint {level} of {len(hints)}: ")
    first, last = hints[0], hints[-1]
    assert not CODE.search(first), (lab, CODE.search(first))
    assert CODE.search(last), lab
    assert not any(name.split(".")[-1] in first for name in lab_module.ANSWERS)
    hidden, shown = TIER_WORDS.get(lab, ((), ""))
    assert not any(word in first for word in hidden) and shown in last
    for bad in (0, len(hints) + 1, True, 1.0):
        with pytest.raises(ValueError, match="level"):
            lab_module.hint(bad)


def names_above_the_lab(path: Path) -> tuple[set[str], set[str]]:
    """The names the code above the chapter's "## Build it" heading binds (imports, defines) and those it reads or
    calls, attributes included (markdown is comments in a py:percent file; a module's dotted path, e.g.
    ``diffedu.course.fokker_planck``, is not a name)."""
    text = path.read_text()
    assert "# ## Build it" in text, path.name
    tree = ast.parse(text.split("# ## Build it")[0])
    bound = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names}
    bound |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return bound, used | {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


def lab_functions(lab: str) -> set[str]:
    """The functions the student writes: the defs of the chapter's lab cell."""
    nb = jupytext.read(chapter(lab))
    (source,) = [nb.cells[e.cell].source for e in student.exercises(nb) if f"diffedu.labs.{lab} " in nb.cells[e.cell].source]
    return {node.name for node in ast.walk(ast.parse(student.python_source(source))) if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("lab", LABS)
def test_nothing_above_the_lab_imports_or_uses_an_answer(lab):
    """Oracle: Python's parse of the chapter's code above its lab — no function the student is asked to write and no
    package function of the lab's ANSWERS (which would pass its grader) is imported, defined, read or called there;
    an answer that is a method or lives in a module (a dotted name, e.g. ``GaussianMixture.denoiser``, which chapter
    02 calls on its mixture above the lab to show its output) is not imported or defined there."""
    bound, used = names_above_the_lab(chapter(lab))
    answers = module(lab).ANSWERS
    plain = {name for name in answers if "." not in name} | lab_functions(lab)
    dotted = {name.split(".")[-1] for name in answers if "." in name}
    assert plain and not plain & (bound | used) and not dotted & bound


def test_every_lab_is_covered():
    """Oracle: the chapters — every chapter's Build-it lab imports one of LABS, and each of LABS has its own test
    file for its mistakes."""
    imported = {m for p in (ROOT / "chapters").glob("[0-9][0-9]_*.py")
                for m in re.findall(r"from diffedu\.labs\.(\w+) import", p.read_text())}
    assert imported == set(LABS)
    assert all((ROOT / "tests" / f"test_lab_{lab}.py").exists() for lab in LABS)


def test_the_grading_loop_ends_a_part_early_and_shares_one_computation(capsys):
    """Oracle: a two-part lab written here, by hand. ``expect`` ends a part on a wrong shape or a NaN with the
    grader's own words; ``Functions.once`` runs the shared computation once and reports a student's error in every
    part that needs it; a row may be a tuple of Part's fields."""
    from diffedu.labs.grading import Functions, Lab, Verdict, call, expect

    runs = []

    def shared(sol):
        runs.append(1)
        return call(sol.f, torch.ones(3))

    def shape_part(sol):
        expect(sol.once("out", lambda: shared(sol)), (3,), "return one value per entry", finite=True)
        return Verdict(True, "shape (3,)")

    def value_part(sol):
        out = sol.once("out", lambda: shared(sol))
        return Verdict(bool((out == 2).all()), f"max {out.max().item():g}", "double it")

    lab = Lab("test", [("shape", 1, "(3,)", shape_part), ("value", 2, "= 2x", value_part)], ["think", "x + x"])
    assert lab.grade(Functions(f=lambda x: 2 * x)).full_marks and len(runs) == 1
    score = lab.grade(Functions(f=lambda x: x[:2]))
    assert [p["points"] for p in score.parts] == [0, 0] and score.parts[0]["measured"] == "wrong shape"
    assert score.parts[0]["hint"] == "return one value per entry" and score.parts[1]["hint"] == "double it"
    assert lab.grade(Functions(f=lambda x: x / 0 * 0)).parts[0]["hint"] == "return one value per entry"  # NaN
    runs.clear()
    score = lab.grade(Functions(f=lambda x: 1 / 0))
    assert len(runs) == 1 and all("division by zero" in p["hint"] for p in score.parts)
    capsys.readouterr()

"""Student and instructor versions from one source.

The committed chapters are the instructor version: each exercise's solution sits between ``# BEGIN SOLUTION`` and
``# END SOLUTION`` lines inside the student's function. ``make student`` (``python -m tools.student``) writes
``student/NN_topic.ipynb`` for every chapter with each such block replaced by a stub that raises
``NotImplementedError`` naming the exercise; the cells that held a solution lose their outputs, every other cell
keeps its outputs (figures included), so a student sees the course as it is and only the answers are missing.

For the test (``tests/test_student.py``) this module also finds, for each exercise, the few earlier cells it needs
(``cells_needed``): the cells that define the names the exercise uses, found by reading the code with ``symtable``
(Python's own scoping rules), so that checking every exercise against its stub and its solution does not run whole
chapters.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from diffedu.labs.cells import cells_needed, names, python_source  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b.*$")
END = re.compile(r"^[ \t]*# END SOLUTION\b.*$")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+(?P<name>\w+)\s*\(")
HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*$", re.M)
CHECK_CALL = re.compile(r"^\s*(?:\w+\.)*check_\w+\s*\(", re.M)
NOTE = ("\n\n> **Student version.** Each exercise's answer is replaced by a stub: write your code where it says "
        "`# YOUR CODE HERE` (delete the `raise NotImplementedError` line) and run the cell; its check tells you "
        "whether the answer is right, with a hint if not.")


@dataclass
class Exercise:
    """One exercise of a chapter: the cell holding its solution, the cell calling its check, and its name."""
    cell: int          # index of the code cell holding the BEGIN/END SOLUTION block
    check: int         # index of the first code cell at or after ``cell`` that calls a check_… function
    title: str         # the heading of the markdown cell above it, e.g. "Exercise 1 · ᾱ from β"
    function: str      # the function the student writes (the def enclosing the block), or "" at top level

    @property
    def label(self) -> str:
        return f"{self.title} ({self.function})" if self.function else self.title


def has_solution(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.splitlines())


def _enclosing_function(lines: list[str], begin: int) -> str:
    """Name of the nearest ``def`` above line ``begin`` that is indented less than the BEGIN marker."""
    indent = len(BEGIN.match(lines[begin])["indent"].expandtabs())
    for line in reversed(lines[:begin]):
        match = DEF.match(line)
        if match and len(match["indent"].expandtabs()) < indent:
            return match["name"]
    return ""


def _title_above(nb, index: int, number: int, taken: set[str]) -> str:
    """The last heading of the nearest markdown cell above cell ``index`` that has one, when it names this exercise
    (it says 'Exercise' or opens with 'Build it' or 'Warm-up', says more than that, and no earlier exercise took it);
    'Exercise N' otherwise."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown":
            headings = HEADING.findall(cell.source)
            if headings:
                text = re.sub(r"[*_`]", "", headings[-1]).strip()
                low = text.lower()
                names_it = "exercise" in low or low.startswith(("build it", "warm-up"))
                if names_it and low not in ("exercise", "build it", "warm-up") and text not in taken:
                    return text
                break
    return f"Exercise {number}"


def exercises(nb) -> list[Exercise]:
    """Every exercise of a notebook, in order."""
    found: list[Exercise] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not has_solution(cell.source):
            continue
        lines = cell.source.splitlines()
        begin = next(k for k, line in enumerate(lines) if BEGIN.match(line))
        check = next((j for j in range(i, len(nb.cells)) if nb.cells[j].cell_type == "code"
                      and CHECK_CALL.search(nb.cells[j].source)), None)
        if check is None:
            raise ValueError(f"cell {i} holds a solution but no cell at or after it calls a check_… function")
        title = _title_above(nb, i, len(found) + 1, {e.title for e in found})
        found.append(Exercise(i, check, title, _enclosing_function(lines, begin)))
    return found


def stub(source: str, title: str) -> str:
    """``source`` with every ``# BEGIN SOLUTION … # END SOLUTION`` block replaced by a ``NotImplementedError`` stub.

    The stub keeps the block's indentation, so it sits inside the student's function exactly where the answer goes,
    and its message names the exercise's ``title`` and the function that block belongs to (a lab may ask for several).
    Raises ``ValueError`` on an unterminated or nested block.
    """
    out: list[str] = []
    inside = False
    lines = source.splitlines()
    for number, line in enumerate(lines, 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ValueError(f"line {number}: BEGIN SOLUTION inside another solution block")
            inside = True
            pad, function = begin["indent"], _enclosing_function(lines, number - 1)
            message = f"{title} ({function}): replace this line with your code" if function else \
                f"{title}: replace this line with your code"
            out += [f"{pad}# YOUR CODE HERE", f"{pad}raise NotImplementedError({message!r})"]
        elif END.match(line):
            if not inside:
                raise ValueError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def student_notebook(nb):
    """A student copy of ``nb``: solution blocks stubbed, the outputs of cells that held a solution or run its check
    cleared (they would show the answer), every other output kept. The jupytext pairing is dropped from the copy so
    that opening it never writes a paired ``.py`` next to it."""
    nb = copy.deepcopy(nb)
    for exercise in exercises(nb):
        for index in {exercise.cell, exercise.check}:
            cell = nb.cells[index]
            if index == exercise.cell:
                cell.source = stub(cell.source, exercise.title)
            cell.outputs, cell.execution_count = [], None
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is not None:
        title.source += NOTE
    nb.metadata.get("jupytext", {}).pop("formats", None)
    nb.metadata["diffedu"] = {"version": "student"}
    return nb


def write_students(notebooks: list[Path], out: Path) -> list[tuple[Path, int]]:
    """Write the student version of each notebook into ``out``; returns (path written, exercises stubbed)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        target = out / path.name
        nbformat.write(student_notebook(nb), target)
        written.append((target, len(exercises(nb))))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/NN_topic.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print("student: no chapter notebooks yet (chapters/NN_topic.ipynb)")
        return 0
    for path, count in write_students(notebooks, args.out):
        print(f"  {path}: {count} exercise(s) stubbed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

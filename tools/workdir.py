"""The working folder ``make lab`` opens: ``work/student/`` (or ``work/instructor/``), one copy of each chapter.

A student runs, edits and saves these copies, never the committed ``chapters/``: JupyterLab's autosave writes into
``work/`` (git-ignored), so ``git status`` stays clean and a ``git pull`` brings new chapters without a conflict.
The student edition is ``tools.student``'s version (every solution replaced by a stub); the instructor edition is the
chapter as committed, answers included. A copy is made only where none exists: a student's own work is never
overwritten (delete a copy to get a fresh one from the current chapter). The copies are plain notebooks, not jupytext
pairs, so saving one never writes a ``.py`` beside it and the file browser shows one entry per chapter.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from tools.student import student_notebook

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ("student", "instructor")


def working_copy(nb, edition: str):
    """The copy of chapter ``nb`` a reader of ``edition`` works on: the student version or the chapter itself, with
    its jupytext pairing set to the notebook alone (so no paired ``.py`` is ever written next to it)."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    nb = student_notebook(nb) if edition == "student" else copy.deepcopy(nb)
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb"
    nb.metadata["diffedu"] = {"version": edition}
    return nb


def fill(out: Path, edition: str, chapters: list[Path]) -> tuple[list[Path], list[Path]]:
    """Write the working copy of every chapter missing from ``out``; returns (written, kept)."""
    out.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for chapter in chapters:
        target = out / chapter.name
        if target.exists():
            kept.append(target)
            continue
        nbformat.write(working_copy(nbformat.read(chapter, as_version=4), edition), target)
        written.append(target)
    return written, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=EDITIONS, default="student")
    parser.add_argument("--out", type=Path, help="default: work/<edition>")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "work" / args.edition
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    written, kept = fill(out, args.edition, chapters)
    print(f"==> {out}: your copies of the {len(chapters)} chapters ({args.edition} version); "
          f"{len(written)} new, {len(kept)} kept as you left them (delete one to get a fresh copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

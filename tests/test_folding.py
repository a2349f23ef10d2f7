"""A learner's path through a chapter is short (issue 18): the verification ("Check it") and the extras ("Deep dive")
sit under headings that are collapsed when the chapter opens in JupyterLab (cell metadata
``jp-MarkdownHeadingCollapsed``, which jupytext keeps in the ``.py`` cell marker). Collapsed cells still run under
Run All and nbval; the static book shows them as closed ``<details>`` (tests/test_book.py).

Oracles: the chapter sources themselves (jupytext's reading of the ``.py``, nbformat's of the ``.ipynb``), JupyterLab's
rule for what a collapsed heading hides (``tools.book.folds``: up to the next heading of the same or a higher rank),
and the number of cells on each chapter's path at commit c33e553, before anything was folded. Cost: reading 30 files,
about 1 s.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import book  # noqa: E402

SOURCES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
FOLDED = re.compile(r"^(Check it|Deep dive)\b")
# Cells (markdown and code) on the path of each chapter at c33e553, when no heading was collapsed: all of them.
BEFORE = {"00": 17, "01": 28, "02": 26, "03": 27, "04": 33, "05": 31, "06": 30, "07": 30, "08": 31, "09": 28,
          "10": 42, "11": 38, "12": 33, "13": 20, "14": 41}


def heading(cell) -> str:
    """The text of the cell's highest-rank heading (the one JupyterLab folds by), '' if it has none."""
    level = book.heading_level(cell)
    match = re.search(rf"^ {{0,3}}#{{{level}}}[ \t]+(.+?)\s*$", cell.source, re.M) if level else None
    return match[1] if match else ""


def section(cells, i: int) -> str:
    """The ``##`` heading above cell ``i`` (its own, if it has one)."""
    return next((heading(c) for c in reversed(cells[:i + 1]) if book.heading_level(c) == 2), "")


def path(cells) -> list[int]:
    """The markdown and code cells a reader sees with every collapsed heading collapsed."""
    hidden = book.hidden(cells)
    return [i for i, c in enumerate(cells) if c.cell_type in ("markdown", "code") and i not in hidden]


def both(source: Path):
    """(name, cells) of the .py and of its .ipynb, the file JupyterLab opens."""
    yield source.name, jupytext.read(source).cells
    notebook = source.with_suffix(".ipynb")
    if notebook.exists():
        yield notebook.name, nbformat.read(notebook, as_version=4).cells


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_check_and_deep_dive_headings_are_collapsed(source):
    """Every "Check it …" and "Deep dive …" heading (of any level) is collapsed, nothing else is (a reader must be
    able to tell what is folded), and every chapter folds something."""
    for name, cells in both(source):
        marked = {i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.metadata.get(book.COLLAPSED)}
        named = {i for i, c in enumerate(cells) if FOLDED.match(heading(c))}
        assert named, f"{name}: no Check it or Deep dive heading"
        assert marked == named, (f"{name}: collapsed {sorted(marked)} but Check it / Deep dive headings at "
                                 f"{sorted(named)} (a stale .ipynb? run jupytext --sync)")
        assert {start for start, _ in book.folds(cells)} == named, f"{name}: a collapsed cell without a heading"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_checked_outputs_are_off_the_path(source):
    """Every cell whose output nbval checks is folded, except the numbers a "See it" section shows with its
    figure and the lab's own report (its score, on the path by design); and the folds keep every tag on its cell
    (nbval reads the tags, not the folds)."""
    cells = jupytext.read(source).cells
    on_path = set(path(cells))
    loose = [i for i, c in enumerate(cells) if "nbval-check-output" in c.metadata.get("tags", ())
             and i in on_path and not section(cells, i).startswith("See it")
             and "# BEGIN SOLUTION" not in c.source]
    assert not loose, f"{source.name}: checked cells {loose} on the learner's path, outside See it"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_learners_path_is_shorter(source):
    """Fewer cells on the path than before the folds (c33e553), and the lab, its Think and the Play panel on it."""
    cells = jupytext.read(source).cells
    seen = path(cells)
    before = BEFORE[source.stem[:2]]
    lines = sum(len(cells[i].source.splitlines()) for i in seen)
    print(f"{source.stem}: {before} → {len(seen)} cells on the path ({len(cells)} in all; {lines} source lines)")
    assert len(seen) < before, f"{source.name}: {len(seen)} cells on the path, {before} before the folds"
    for i, c in enumerate(cells):
        if c.cell_type == "code" and re.search(r"# BEGIN SOLUTION|^think\(|\bpanel\(\)", c.source, re.M):
            assert i in seen, f"{source.name}: cell {i} ({c.source.splitlines()[0]}) is folded away"


def test_jupytext_keeps_the_fold_in_the_cell_marker():
    """Oracle: jupytext 1.19's percent format, round trip: the metadata survives .py → notebook → .py."""
    text = "# %% [markdown] jp-MarkdownHeadingCollapsed=true\n# ## Check it\n\n# %%\n1 + 1\n"
    nb = jupytext.reads(text, "py:percent")
    assert nb.cells[0].metadata == {book.COLLAPSED: True} and book.folds(nb.cells) == [(0, 2)]
    assert jupytext.writes(nb, "py:percent").endswith(text)

"""The jupytext pairs: every ``chapters/NN_topic.py`` (the source of truth) has an executed ``.ipynb`` twin whose
cells say exactly what the ``.py`` says.

Oracle: jupytext's own reading of the ``.py`` (``jupytext.read``), compared cell by cell with the ``.ipynb`` read by
nbformat; the execution counts stored in the ``.ipynb``; GUIDE §1's chapter map for the file names.
"""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
# GUIDE §1: the file names are fixed.
CHAPTER_MAP = ["00_welcome", "01_noising", "02_tweedie", "03_fokker_planck", "04_ddpm", "05_ddim",
               "06_score_matching", "07_sdes", "08_flows", "09_edm", "10_samplers", "11_guidance", "12_mnist",
               "13_few_step",
               "14_discrete"]
REQUIRED = ["00_welcome", "01_noising", "02_tweedie"]  # issue 2


NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "raises-exception"}  # nbval's cell tags


def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every code and markdown cell, sources without trailing whitespace."""
    return [(c.cell_type, c.source.rstrip(), tuple(c.metadata.get("tags", ())))
            for c in nb.cells if c.cell_type in ("code", "markdown")]


def test_required_chapters_exist():
    """Oracle: issue 2 — chapters 00, 01 and 02 exist as py:percent sources."""
    names = {p.stem for p in CHAPTERS}
    missing = [name for name in REQUIRED if name not in names]
    assert not missing, f"missing chapters: {missing}"


def test_chapter_names_follow_the_map():
    """Oracle: GUIDE §1's chapter map; every chapter source and notebook is named from it."""
    files = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.*"))
    stray = [p.name for p in files if p.suffix in (".py", ".ipynb") and p.stem not in CHAPTER_MAP]
    assert not stray, f"chapter files outside GUIDE §1's map: {stray}"
    orphans = [p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb") if not p.with_suffix(".py").exists()]
    assert not orphans, f"notebooks without their .py source: {orphans}"


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_pair_in_sync(source: Path):
    """Oracle: jupytext.read(.py) and nbformat.read(.ipynb) hold the same code and markdown cells (with their tags),
    in order."""
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing: run `make sync` (or `make execute`)"
    from_py = cells(jupytext.read(source))
    from_nb = cells(nbformat.read(notebook, as_version=4))
    assert len(from_py) == len(from_nb), (
        f"{source.name} has {len(from_py)} cells, {notebook.name} has {len(from_nb)}: run `make sync`")
    for i, (a, b) in enumerate(zip(from_py, from_nb)):
        assert a == b, (f"cell {i} differs between {source.name} and {notebook.name}:\n--- .py {a[2]}\n{a[1][:400]}"
                        f"\n--- .ipynb {b[2]}\n{b[1][:400]}")


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_nbval_markers_are_cell_tags(source: Path):
    """Oracle: nbval's documented markers — a cell's output is checked or ignored through its tags (jupytext keeps
    them in the cell header, ``# %% tags=["nbval-ignore-output"]``), never through a ``# NBVAL_…`` comment that a
    student reads; every nbval-like tag is one nbval knows (a typo would silently switch the marker off)."""
    comments = [i for i, c in enumerate(jupytext.read(source).cells)
                if c.cell_type == "code" and re.search(r"^\s*#\s*NBVAL_", c.source, re.M)]
    assert not comments, f"{source.name}: code cells {comments} carry a # NBVAL_ comment; use a cell tag instead"
    tags = {t for c in jupytext.read(source).cells for t in c.metadata.get("tags", ())}
    unknown = {t for t in tags if t.lower().startswith(("nbval", "raises")) and t not in NBVAL_TAGS}
    assert not unknown, f"{source.name}: tags nbval does not know: {sorted(unknown)}"


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_notebook_is_executed(source: Path):
    """Oracle: the stored execution counts — every code cell ran, in one top-to-bottom run (counts 1, 2, 3, …),
    and no stored output is an error."""
    notebook = source.with_suffix(".ipynb")
    if not notebook.exists():
        pytest.fail(f"{notebook.name} is missing")
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{notebook.name} has no code cells"
    not_run = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not not_run, f"{notebook.name}: code cells {not_run} were never executed: run `make execute`"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{notebook.name}: execution counts {counts} are not one clean run"
    errors = [i for i, c in enumerate(code) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{notebook.name}: code cells {errors} stored an error"


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_source_header(source: Path):
    """Oracle: GUIDE §4 — a py:percent jupytext header, then a title cell '# NN · Title'."""
    text = source.read_text(encoding="utf-8")
    assert re.search(r"formats: ipynb,py:percent", text), f"{source.name}: no jupytext header pairing ipynb,py:percent"
    first_markdown = next(c for c in jupytext.read(source).cells if c.cell_type == "markdown")
    number = source.stem[:2]
    assert first_markdown.source.startswith(f"# {number} · "), f"{source.name}: title must read '# {number} · …'"

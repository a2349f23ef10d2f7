"""Chapter code lines fit the notebook's code cell: at most 100 characters.

Oracle: the width JupyterLab shows a code cell at (lines beyond ~110 characters are clipped at the cell edge; 100
leaves a margin). Each chapter is read with jupytext, as the notebook sees it, so markdown cells (whose lines are
``# `` comments in the percent format) are left out and comments inside code cells are counted. Cost: well under a
second (reading 15 small text files).
"""
from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
MAX_WIDTH = 100


def long_lines(path: Path, width: int = MAX_WIDTH) -> list[str]:
    """'cell k, line j (n chars): text' for every code-cell line of the chapter longer than ``width``."""
    notebook = jupytext.read(path)
    found = []
    for k, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for j, line in enumerate(cell.source.splitlines(), start=1):
            if len(line) > width:
                found.append(f"cell {k}, line {j} ({len(line)} chars): {line.strip()[:60]}")
    return found


def test_chapters_are_found():
    assert len(CHAPTERS) >= 15, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_cell(path):
    found = long_lines(path)
    assert not found, f"{path.name}: code lines over {MAX_WIDTH} characters:\n" + "\n".join(found)


def test_the_check_sees_a_long_code_line(tmp_path):
    """The check itself can fail: a 101-character code line is caught, a 101-character markdown line is not."""
    chapter = tmp_path / "99_probe.py"
    chapter.write_text("# %% [markdown]\n# " + "m" * 99 + "\n\n# %%\nx = 1\ny = '" + "c" * 95 + "'\n")
    found = long_lines(chapter)
    assert len(found) == 1 and found[0].startswith("cell 1, line 2 (101 chars)"), found

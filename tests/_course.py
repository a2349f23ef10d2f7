"""Notebooks for the slides, book and browser tests: the committed chapters when there are any, else the miniature
fixture chapter (tests/fixtures/mini_chapter.py), converted and executed into a temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "mini_chapter.py"


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def executed_fixture(folder: Path) -> Path:
    """The fixture chapter as an executed notebook (quick mode, this checkout's diffedu on the kernel's path)."""
    from nbclient import NotebookClient

    folder.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(FIXTURE)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "DIFFEDU_QUICK": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    path = folder / "99_mini.ipynb"
    nbformat.write(nb, path)
    return path

"""``python -m diffedu grade PATH…``: run student notebooks headless and print every lab's score.

Each notebook runs in its own Jupyter kernel (quick mode, ``DIFFEDU_GRADEBOOK`` pointing at a fresh file that the
labs append their scores to), in a child process that is stopped at the time limit. Only the cells the labs need run
(the lab cells, the setup cell and the cells binding the names they read, see ``labs.cells``); ``--all-cells`` runs
the whole notebook. The labs a notebook should grade are the ``diffedu.labs`` modules it imports; a lab that left no
score gets 0 with the reason (the error its cell raised, the time limit, or "not reached"). ``--json`` prints the
gradebook as JSON instead of a table.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..checks import require_positive
from .cells import cells_needed

__all__ = ["labs_in", "lab_cells", "execute", "grade_notebook", "main"]

LAB_IMPORT = re.compile(r"^\s*from\s+diffedu\.labs\.(\w+)\s+import", re.M)


def labs_in(notebook: dict) -> list[str]:
    """The lab modules a notebook imports (``from diffedu.labs.<module> import …``), in order."""
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            found += [m for m in LAB_IMPORT.findall("".join(cell["source"])) if m not in found and m != "grading"]
    return found


def lab_cells(nb) -> list[int]:
    """Indices of the code cells that import a lab grader, and of the cells the labs need before them."""
    labs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and LAB_IMPORT.search(c.source)]
    return sorted(set(labs) | set(cells_needed(nb, labs))) if labs else []


def execute(path: Path, out: Path, all_cells: bool = False) -> None:
    """Run a notebook (or only its labs' cells) in a fresh kernel in the notebook's folder; write the result."""
    nb = nbformat.read(path, as_version=4)
    if not all_cells:
        nb.cells = [nb.cells[i] for i in lab_cells(nb)]
    NotebookClient(nb, timeout=None, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, out)


def _run(path: Path, gradebook: Path, limit: float, all_cells: bool) -> str:
    """Execute the notebook in a child process (its own kernel); '' when it finished, else why it did not."""
    env = {**os.environ, "DIFFEDU_QUICK": "1", "DIFFEDU_GRADEBOOK": str(gradebook), "MPLBACKEND": "Agg"}
    argv = [sys.executable, "-m", "diffedu.labs.grade", "--execute", str(path), str(gradebook.with_suffix(".ipynb"))]
    proc = subprocess.Popen(argv + (["--all-cells"] if all_cells else []), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and its kernel
        proc.communicate()
        return f"stopped at the time limit of {limit:g} s"
    return "" if proc.returncode == 0 else f"the notebook could not run: {err.strip().splitlines()[-1:]}"


def _errors(executed: Path) -> list[str]:
    """The errors raised by the executed notebook's cells, as 'Name: message'."""
    if not executed.exists():
        return []
    nb = json.loads(executed.read_text())
    return [f"{o['ename']}: {o['evalue']}" for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def grade_notebook(path: Path, limit: float = 300.0, all_cells: bool = False) -> dict:
    """Run one notebook and return dict(notebook, labs=[dict(lab, points, total, reason)])."""
    expected = labs_in(json.loads(Path(path).read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "gradebook.jsonl"
        book.touch()
        stopped = _run(Path(path), book, limit, all_cells)
        scores = {s["lab"]: s for s in map(json.loads, book.read_text().splitlines())}
        errors = _errors(book.with_suffix(".ipynb"))
    rows = []
    for module in expected:
        lab = importlib.import_module(f"diffedu.labs.{module}").LAB
        total = sum(p.points for p in lab.parts)
        if lab.title in scores:
            s = scores[lab.title]
            reason = "; ".join(p["hint"] for p in s["parts"] if p["hint"])[:200]
            rows.append(dict(lab=lab.title, points=s["points"], total=total, reason=reason))
        else:
            reason = stopped or (errors[0] if errors else "not reached")
            rows.append(dict(lab=lab.title, points=0, total=total, reason=reason))
    return dict(notebook=f"{Path(path).parent.name}/{Path(path).name}", labs=rows)


def _table(results: list[dict]) -> str:
    lines = [f"{'notebook':<34} {'lab':<48} {'score':>7}  reason"]
    for r in results:
        for lab in r["labs"] or [dict(lab="(no lab)", points=0, total=0, reason="")]:
            lines.append(f"{r['notebook']:<34} {lab['lab']:<48} {lab['points']:>3}/{lab['total']:<3}  {lab['reason']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffedu grade",
                                     description="run student notebooks headless and print every lab's score")
    parser.add_argument("paths", nargs="*", help="notebooks (.ipynb) or folders of them")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per notebook (default 300)")
    parser.add_argument("--json", action="store_true", help="print the gradebook as JSON")
    parser.add_argument("--all-cells", action="store_true", help="run every cell, not only those the labs need")
    parser.add_argument("--execute", nargs=2, metavar=("NOTEBOOK", "OUT"), help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.execute:
        execute(Path(args.execute[0]), Path(args.execute[1]), args.all_cells)
        return 0
    try:
        limit = require_positive("--time-limit", args.time_limit)
    except ValueError as e:
        parser.error(str(e))
    notebooks = [n for p in map(Path, args.paths) for n in (sorted(p.glob("*.ipynb")) if p.is_dir() else [p])]
    missing = [str(n) for n in notebooks if not n.is_file() or n.suffix != ".ipynb"]
    if missing or not notebooks:
        parser.error(f"no notebook at {', '.join(missing) or ' '.join(args.paths)}")
    results = [grade_notebook(n, limit, args.all_cells) for n in notebooks]
    print(json.dumps(results, indent=2) if args.json else _table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

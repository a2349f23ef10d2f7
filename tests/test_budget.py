"""The Binder cost measurement (tools/budget.py) measures what it claims.

Oracles: a notebook whose cost is known by construction — it allocates and touches 400 MiB (so the kernel's peak
resident memory is at least that), and spins for 1.5 s of its own CPU time (``time.process_time`` in the kernel); a
notebook that raises (its error is reported with the cell); ``./start`` itself (the kernel's banner says quick mode).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import budget  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="tools.budget reads /proc (Linux)")


def notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "costly.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_peak_memory_cpu_time_and_mode_of_a_known_notebook(tmp_path):
    """Oracle: 400 MiB allocated and touched ⇒ peak ≥ 400 MiB (and below 2 GB: the kernel itself is small);
    1.5 s of process time spun ⇒ CPU ≥ 1.5 s; the banner printed under Binder's environment says quick mode."""
    path = notebook(tmp_path,
                    "import diffedu\nprint(diffedu.banner())",
                    "import numpy as np\nblock = np.ones(400 * 2**20 // 8)  # 400 MiB, every page written\n"
                    "del block",
                    "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.5:\n    pass")
    cost = budget.measure(path, budget.binder_env(), timeout=120)
    assert cost.error == ""
    assert cost.quick, cost.banner
    assert 400 * 2**20 <= cost.peak_bytes < budget.MEMORY_BUDGET, cost.peak_bytes
    assert cost.cpu_s >= 1.5 and cost.wall_s >= 1.5
    print(f"\n{cost}")


def test_an_error_is_reported_with_its_cell(tmp_path):
    """Oracle: the notebook's second cell raises ZeroDivisionError; the cost names that cell and error."""
    cost = budget.measure(notebook(tmp_path, "x = 1", "x / 0", "print('never')"), budget.binder_env(), timeout=60)
    assert cost.error.startswith("cell 1: ") and "ZeroDivisionError" in cost.error, cost.error
    assert not cost.quick  # no banner printed

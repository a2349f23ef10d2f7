"""What each chapter costs on Binder: its kernel's peak memory, CPU time and wall time, in the mode Binder gives it.

``python -m tools.budget [chapters/NN_topic.ipynb …]`` runs each chapter top to bottom in a fresh kernel the way a
Binder session does — ``DIFFEDU_QUICK`` set by ``start`` (Binder's session script) and no GPU visible — and prints
one row per chapter: the mode the chapter's first cell printed, the kernel's peak resident memory (``VmHWM`` from
``/proc``, so Linux only), its CPU time (user + system, its child processes included) and the wall time. It exits
non-zero when a chapter raises, is not in quick mode, or needs more than the budget (2 GB; CPU time is reported,
not judged: it depends on the machine). The notebooks are not written back.

This is a benchmark, not a test: it runs whole chapters (minutes in all). ``tests/test_budget.py`` checks the
measurement itself on a small notebook whose cost is known.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BUDGET = 2 * 1024**3  # bytes: the chapter budget (GUIDE §4), sized for Binder's 1–2 GB


@dataclass
class Cost:
    """What running one notebook took."""
    name: str
    banner: str        # the first line the notebook printed that starts with "diffedu:" ("" if none)
    peak_bytes: int    # the kernel's peak resident set size
    cpu_s: float       # user + system time of the kernel and its waited-for children
    wall_s: float
    error: str = ""    # "" or the first error: "cell N: Name: message"

    @property
    def quick(self) -> bool:
        return self.banner.startswith("diffedu: quick mode")


def binder_env() -> dict[str, str]:
    """The environment a fresh Binder session's kernel sees: ours without ``DIFFEDU_QUICK``, then passed through
    ``start`` (which sets it), no GPU visible, and this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k != "DIFFEDU_QUICK"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    set_by_start = subprocess.run([str(ROOT / "start"), "sh", "-c", 'printf %s "$DIFFEDU_QUICK"'], env=env,
                                  capture_output=True, text=True, check=True).stdout
    env["DIFFEDU_QUICK"] = set_by_start
    return env


def _proc(pid: int) -> tuple[int, float]:
    """(peak resident bytes, CPU seconds of the process and its reaped children) from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[k]) for k in (11, 12, 13, 14))  # utime, stime, cutime, cstime (stat fields 14–17)
    return peak_kb * 1024, ticks / os.sysconf("SC_CLK_TCK")


def _banner(nb) -> str:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("diffedu:"):
                    return line.strip()
    return ""


def measure(path: Path, env: dict[str, str], timeout: int = 900) -> Cost:
    """Run the notebook at ``path`` in a fresh kernel with ``env``; return what it cost."""
    if not Path("/proc/self/status").exists():
        raise RuntimeError("tools.budget reads the kernel's memory from /proc: it needs Linux")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    error = ""
    started = time.perf_counter()
    with client.setup_kernel(env=env):
        pid = client.km.provisioner.process.pid
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except Exception as failure:  # nbclient's CellExecutionError or a timeout: report it, keep the numbers
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(failure)).strip().splitlines()[-1]  # no terminal colours
            error = f"cell {index}: {type(failure).__name__}: {message[:200]}"
        peak, cpu = _proc(pid)
    return Cost(path.stem, _banner(nb), peak, cpu, time.perf_counter() - started, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/NN_topic.ipynb")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    env = binder_env()
    print(f"Binder's conditions: DIFFEDU_QUICK={env['DIFFEDU_QUICK']!r} (set by ./start), no GPU visible; "
          f"memory budget {MEMORY_BUDGET / 1024**3:.0f} GB per chapter")
    print(f"{'chapter':<22} {'mode':<6} {'peak memory':>12} {'CPU':>8} {'wall':>8}  verdict")
    failed, cpu_total, wall_total = 0, 0.0, 0.0
    for path in notebooks:
        cost = measure(path, env)
        cpu_total, wall_total = cpu_total + cost.cpu_s, wall_total + cost.wall_s
        problems = [cost.error] if cost.error else []
        if not cost.quick:
            problems.append(f"not in quick mode (banner {cost.banner!r})")
        if cost.peak_bytes > MEMORY_BUDGET:
            problems.append("over the 2 GB budget")
        failed += bool(problems)
        print(f"{cost.name:<22} {'quick' if cost.quick else '?':<6} {cost.peak_bytes / 1024**2:>9.0f} MiB "
              f"{cost.cpu_s:>7.1f}s {cost.wall_s:>7.1f}s  {'; '.join(problems) or 'ok'}", flush=True)
    print(f"{'total':<22} {'':<6} {'':>12} {cpu_total:>7.1f}s {wall_total:>7.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

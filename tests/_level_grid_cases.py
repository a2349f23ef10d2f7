"""The noise-level grids (``timers.karras``, ``timers.log_snr``) recorded bit for bit, for ``test_timers.py``.

``python tests/_level_grid_cases.py`` rewrites ``tests/fixtures/level_grids.json`` from the current code; it was
recorded from ``_level_grid`` before it was cut into ``_level_ends`` and the spacing step, so the test checks that the
refactoring changed no bit of any grid and no error message.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from diffedu.processes import PROCESSES, VP, DiscreteDDPM, make_process
from diffedu.timers import karras, log_snr

FIXTURE = Path(__file__).parent / "fixtures" / "level_grids.json"
TIMERS = {"karras": karras, "karras-rho3": lambda p, n, **kw: karras(p, n, rho=3.0, **kw), "log_snr": log_snr}


def processes() -> dict:
    """Every process with its default parameters, and two schedules whose ends sit on their bounds."""
    out = {name: make_process(name) for name in sorted(PROCESSES)}
    out.update({"vp-0-20": VP(0.0, 20.0), "ddpm-200": DiscreteDDPM(200)})
    return out


def options(process) -> dict:
    """Default ends, explicit sigma_min/sigma_max, an interval inside [t_min, t_max], and levels that fail."""
    span = process.t_max - process.t_min
    inner = dict(t_start=process.t_min + 0.8 * span, t_end=process.t_min + 0.1 * span)
    return {"default": {}, "sigma_min": dict(sigma_min=0.01), "sigma_max": dict(sigma_max=50.0), "inner": inner,
            "inner+sigma_min": dict(inner, sigma_min=0.01), "tiny_sigma_max": dict(sigma_max=1e-3),
            "tiny_sigma_min": dict(sigma_min=1e-9), "huge_sigma_max": dict(sigma_max=1e9),
            "close_ends": dict(sigma_min=0.01, sigma_max=0.01 * (1 + 1e-15))}


def run(timer, process, n_steps: int, kw: dict):
    """The grid as a list of floats, or the error's type and message."""
    try:
        return timer(process, n_steps, **kw).tolist()
    except (ValueError, TypeError) as e:
        return f"{type(e).__name__}: {e}"


def cases() -> dict:
    """Small grids in full, and a sha256 of every default grid for N = 1..200."""
    out = {}
    for pname, process in processes().items():
        for tname, timer in TIMERS.items():
            for oname, kw in options(process).items():
                for n_steps in (1, 2, 3, 5, 12):
                    out[f"{pname}/{tname}/{oname}/{n_steps}"] = run(timer, process, n_steps, kw)
            digest = hashlib.sha256()
            for n_steps in range(1, 201):
                digest.update(timer(process, n_steps).numpy().tobytes())
            out[f"{pname}/{tname}/sha256-1-200"] = digest.hexdigest()
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    FIXTURE.write_text(json.dumps(cases(), indent=0, ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURE}")

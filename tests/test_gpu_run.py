"""``python -m tools.gpu_run --smoke``: the prepared GPU run's every step, on the CPU with tiny budgets.

Oracle: the run's own exit status and files — the four trainings exit 0 and write a checkpoint and card each, every
diffusion card carries the FD-versus-training-time curve and four evaluation rows (n = 20, finite FD), the benchmark
table is valid JSON and summary.json names command, commit and device. Cost: the four concurrent trainings (1 s
each, an FD snapshot at 0.5 s) plus their start-up, 12 evaluations of 20 digits; about a minute on 2 shared cores.
"""
from __future__ import annotations

import json
import math

import pytest

from tools import gpu_run


@pytest.mark.slow
def test_smoke_mode_runs_every_step(tmp_path):
    assert gpu_run.main(["--out", str(tmp_path), "--smoke"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["device"] and summary["git_commit"] and summary["command"].startswith("python -m tools.gpu_run")
    assert summary["bench"]["table"]["results"][0]["mode"] == "fp32"
    assert all(r["rc"] == 0 for r in summary["training"]["runs"].values())
    assert summary["gpu_tests"]["rc"] in (0, 5)  # 5: nothing collected; the gpu tests skip themselves on the CPU
    for name in ("mnist-edm", "mnist-ddpm", "mnist-flow"):
        card = json.loads((tmp_path / "checkpoints" / f"{name}.json").read_text())
        assert card["fd_vs_wall_time"] and card["command"].startswith("python -m diffedu train mnist")
        assert len(card["evaluations"]) == len(gpu_run.EVALS)
        assert all(r["n"] == 20 and math.isfinite(r["fd_mnist"]) for r in card["evaluations"])
    assert (tmp_path / "checkpoints" / "mnist-classifier.safetensors").exists()

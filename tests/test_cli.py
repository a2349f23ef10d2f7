"""Tests of the command line, ``python -m diffedu ...``, run as a subprocess exactly as a user types it.

Oracles: the facts the command reports, read independently here (installed versions, torch's device, the
DIFFEDU_QUICK variable, the data file on disk); exit codes 0 for success and 2 for a usage error.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

import diffedu
from diffedu.__main__ import mnist_status

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffedu", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=120)


def test_info_prints_versions_device_mode_and_data():
    """Oracle: diffedu's and torch's versions as imported here, the device type runtime picks, the mode set in the
    environment, and whether data/mnist.npz exists on disk."""
    result = run("info", DIFFEDU_QUICK="1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert diffedu.__version__ in out and torch.__version__ in out and sys.version.split()[0] in out
    assert f"device      {diffedu.device().type}" in out
    assert "mode        quick (DIFFEDU_QUICK=1)" in out
    present = (ROOT / "data" / "mnist.npz").is_file()
    assert ("mnist       present" in out) == present and ("sha256 ok" in out) == present
    assert "full (DIFFEDU_QUICK=0)" in run("info", DIFFEDU_QUICK="0").stdout


def test_mnist_status_detects_missing_and_damaged_files(tmp_path):
    """Oracle: a path that does not exist is 'missing'; a file with other bytes fails the sha256 check."""
    assert mnist_status(tmp_path / "nope.npz").startswith("missing")
    damaged = tmp_path / "mnist.npz"
    damaged.write_bytes(b"not mnist")
    assert "sha256 mismatch" in mnist_status(damaged)


def test_help_and_unknown_command():
    """Oracle: --help exits 0 with the usage; no command or an unknown one exits 2 and names it."""
    result = run("--help")
    assert result.returncode == 0 and "usage: python -m diffedu" in result.stdout and "info" in result.stdout
    assert run().returncode == 2
    result = run("frobnicate")
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr


BAD_FLAGS = [  # (module, argv, the flag the error must name): each is refused before any data is loaded
    ("mnist.train", ["classifier", "--lr", "inf"], "--lr"),
    ("mnist.train", ["classifier", "--batch", "0"], "--batch"),
    ("mnist.train", ["mnist", "--ema", "1.5"], "--ema"),
    ("mnist.train", ["mnist", "--time-budget", "nan"], "--time-budget"),
    ("mnist.train", ["mnist", "--fd-at", "nan"], "--fd-at"),
    ("mnist.train", ["mnist", "--name", "a/b"], "--name"),
    ("mnist.train", ["mnist", "--device", "tpu"], "--device"),
    ("mnist.evaluate", ["--steps", "0"], "--steps"),
    ("mnist.evaluate", ["--n", "10001"], "--n"),
    ("mnist.evaluate", ["--timer", "foo"], "--timer"),
    ("mnist.evaluate", ["--json", "/nonexistent-folder/x.json"], "--json"),
    ("mnist.bench", ["--steps", "0"], "--steps"),
    ("mnist.bench", ["--modes", "fp16"], "--modes"),
    ("course.samplers", ["--json", "/nonexistent-folder/x.json"], "--json"),
]


def test_bad_flags_are_refused_before_the_work(capsys):
    """Oracle: argparse's usage-error exit (status 2) and a message that names the flag, for each bad value — raised
    before data are loaded or anything is trained, sampled or written (each case returns in well under a second)."""
    import importlib
    for module, argv, flag in BAD_FLAGS:
        main = importlib.import_module(f"diffedu.{module}").main
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 2, (module, argv, e.code)
        else:
            raise AssertionError(f"{module} {argv} was accepted")
        assert flag in capsys.readouterr().err, (module, argv)

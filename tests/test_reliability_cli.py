"""Reliability of the command line (review D1, D3, D4): nothing shipped is overwritten, every output path and flag is
checked before the work.

Oracles: sha256 of every file under a *copy* of ``data/`` before and after each command (a shipped file changes only
with ``--force``, and then only the files named); argparse's usage-error exit status 2 with a message naming the flag;
the files on disk after a run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diffedu.__main__ import main as cli

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--steps", "1", "--batch", "2", "--no-progress", "--device", "cpu"]
EVAL = ["eval", "mnist", "--n", "10", "--steps", "1", "--sampler", "euler"]

# (argv, expected exit status, the data/ files it may change): run in this order against a copy of the repository
CASES = [
    (["train", "mnist", *TINY, "--channels", "8,8"], 0, []),                          # default: runs/mnist-edm
    (["train", "mnist", *TINY, "--channels", "8,8"], 2, []),                          # runs/mnist-edm exists
    (["train", "mnist", *TINY, "--channels", "8,8", "--out", "data/checkpoints"], 2, []),
    (["train", "mnist", *TINY, "--channels", "8,8", "--out", "data/checkpoints", "--name", "mnist-flow",
      "--objective", "ddpm"], 2, []),
    (["train", "mnist", *TINY, "--channels", "8,8", "--out", "data", "--name", "mnist"], 2, []),
    (["train", "classifier", *TINY], 0, []),                                          # default: runs/mnist-classifier
    (["train", "classifier", *TINY, "--out", "data/checkpoints"], 2, []),
    ([*EVAL, "--checkpoint", "mnist-edm", "--json", "data/checkpoints/mnist-edm.json"], 2, []),
    ([*EVAL, "--checkpoint", "mnist-edm", "--json", "data/checkpoints/mnist-edm.json", "--force"], 2, []),
    ([*EVAL, "--checkpoint", "mnist-edm", "--json", "data/mnist.npz", "--force"], 2, []),
    ([*EVAL, "--checkpoint", "mnist-edm", "--json", "data/new.json"], 2, []),
    ([*EVAL, "--checkpoint", "mnist-edm", "--write-card"], 2, []),
    ([*EVAL, "--folder", "runs", "--checkpoint", "mnist-edm", "--write-card", "--json", "runs/eval.json"], 0, []),
    ([*EVAL, "--folder", "runs", "--checkpoint", "mnist-edm", "--json", "runs/eval.json"], 2, []),
    ([*EVAL, "--folder", "runs", "--checkpoint", "mnist-edm", "--json", "runs/eval.json", "--force"], 0, []),
    (["bench", "samplers", "--json", "data/mnist.npz"], 2, []),
    (["bench", "samplers", "--json", "data/mnist.npz", "--force"], 2, []),
    (["bench", "samplers", "--json", "data/checkpoints/mnist-edm.safetensors", "--force"], 2, []),
    (["bench", "samplers", "--json", "data/new.json"], 2, []),
    (["bench", "train-mnist", "--modes", "fp32", "--steps", "1", "--batch", "2", "--channels", "8,8",
      "--device", "cpu", "--json"], 0, []),                                           # prints only
    # with --force the shipped files change, and only the ones named
    (["train", "mnist", *TINY, "--channels", "8,8", "--out", "data/checkpoints", "--force"], 0,
     ["checkpoints/mnist-edm.json", "checkpoints/mnist-edm.safetensors"]),
    ([*EVAL, "--checkpoint", "mnist-ddpm", "--write-card", "--force"], 0, ["checkpoints/mnist-ddpm.json"]),
]

DRIVER = textwrap.dedent("""
    import contextlib, hashlib, io, json, sys
    from pathlib import Path
    from diffedu.__main__ import main
    def digests():
        return {str(p.relative_to("data")): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(Path("data").rglob("*")) if p.is_file()}
    rows = []
    for argv in json.loads(sys.argv[1]):
        before, err = digests(), io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
        after = digests()
        rows.append(dict(rc=rc, changed=sorted(k for k in before.keys() | after.keys()
                                               if before.get(k) != after.get(k)), err=err.getvalue()[-300:]))
    print(json.dumps(rows))
""")


@pytest.mark.slow
def test_no_shipped_file_changes_without_force(tmp_path):
    """Oracle: sha256 of every file in a copy of data/ before and after each writing command (train mnist, train
    classifier, eval mnist --json/--write-card, bench samplers --json, bench train-mnist), with the default and with
    explicit paths: without --force nothing under data/ changes and the refusal is a usage error (exit 2); --force
    changes exactly the files named; a file that is not the command's own (the dataset, weights) is refused even with
    --force. Runs in one subprocess on a copy of the repository (the package and data/), so data/ here is untouched."""
    shutil.copytree(ROOT / "diffedu", tmp_path / "diffedu", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data", tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DIFFEDU_QUICK": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([argv for argv, _, _ in CASES])], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    for (argv, rc, changed), row in zip(CASES, rows):
        assert (row["rc"], row["changed"]) == (rc, changed), (argv, row)
        if rc == 2:
            assert "error:" in row["err"] or "diffedu:" in row["err"], (argv, row)
    assert {p.name for p in (tmp_path / "runs").iterdir()} == {
        "mnist-edm.json", "mnist-edm.safetensors", "mnist-classifier.json", "mnist-classifier.safetensors",
        "eval.json"}
    (row,) = json.loads((tmp_path / "runs" / "mnist-edm.json").read_text())["evaluations"]
    assert row["n"] == 10 and row["n_steps"] == 1            # the card row records the sample count it measured
    (row,) = [r for r in json.loads((tmp_path / "data/checkpoints/mnist-ddpm.json").read_text())["evaluations"]
              if r["n"] == 10]
    assert row["n_steps"] == 1 and "--force" in row["command"]


def _usage_error(argv, flag, capsys) -> None:
    """``python -m diffedu ARGV`` (in-process) exits 2 with a message naming ``flag``."""
    try:
        rc = cli(argv)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and flag in err, (argv, rc, err[-400:])


LATE_FLAGS = [  # review D3/D4: each used to fail after the work (or was ignored); now a usage error up front
    (["train", "mnist", "--bf16", "--steps", "1", "--device", "cpu"], "--bf16"),
    (["train", "mnist", "--compile", "--steps", "1", "--device", "cpu"], "--compile"),
    (["train", "mnist", "--channels", "12,16", "--steps", "1"], "--channels"),
    (["train", "mnist", "--channels", "8192,8192,8192", "--steps", "1"], "--channels"),
    (["train", "mnist", "--init", "nope", "--steps", "1"], "--init"),
    (["train", "mnist", "--init", "mnist-flow", "--steps", "1"], "--init"),              # another objective
    (["train", "mnist", "--out", "/proc/diffedu-out", "--steps", "1"], "--out"),
    (["train", "classifier", "--out", "/proc/diffedu-out", "--steps", "1"], "--out"),
    (["eval", "mnist", "--checkpoint", "mnist-classifier", "--n", "10", "--steps", "1"], "classifier"),
    (["eval", "mnist", "--checkpoint", "../checkpoints/mnist-edm", "--n", "10"], "plain file name"),
    (["eval", "mnist", "--n", "10", "--steps", "1", "--json", "/proc/x.json"], "--json"),
    (["bench", "samplers", "--json", "/proc/x.json"], "--json"),
    (["bench", "train-mnist", "--channels", "12,16"], "--channels"),
    (["info", "--bogus"], "info takes no arguments"),
]


@pytest.mark.parametrize("argv,flag", LATE_FLAGS, ids=[" ".join(a[:3]) for a, _ in LATE_FLAGS])
def test_flags_and_paths_checked_before_the_work(argv, flag, capsys):
    """Oracle: exit status 2 and the flag named, before any data is loaded (each returns in well under a second;
    /proc stands in for an unwritable place, as root can write everywhere else)."""
    if argv[-1] == "/proc/x.json" or "/proc/diffedu-out" in argv:
        if not Path("/proc").is_dir():
            pytest.skip("no /proc here")
    _usage_error(argv, flag, capsys)


def test_bad_diffedu_quick_is_a_usage_error(monkeypatch, capsys):
    """Oracle: DIFFEDU_QUICK must be '0' or '1' (runtime.quick); anything else is exit 2 naming the variable."""
    monkeypatch.setenv("DIFFEDU_QUICK", "yes")
    _usage_error(["info"], "DIFFEDU_QUICK", capsys)

"""One prepared GPU run (issue 20): tests, benchmark, training of all four MNIST models, evaluation — in one call.

    python -m tools.gpu_run --out "$OUT"            # on one H100/H200, about 7 minutes with the defaults
    python -m tools.gpu_run --out /tmp/smoke --smoke # the same steps on the CPU with tiny budgets (CI)

In order, each step's output kept in ``<out>/logs/``:

1. the ``gpu``-marked tests (``pytest -m gpu`` on the files that carry the mark);
2. ``bench train-mnist``: fp32 eager vs bf16 + channels_last vs + ``torch.compile`` (compile time apart);
3. training, the four runs at once on the one device (each is far too small to fill an H100): the classifier, then
   — concurrently — ``train mnist`` for edm, ddpm and flow with bf16 + compile, ``--time-budget`` seconds each and
   EMA snapshots for the FD-versus-training-time curve (``--fd-at``), into ``<out>/checkpoints``;
4. evaluation of each diffusion checkpoint with the shipped evaluation classifier (so that FD-MNIST stays
   comparable with the shipped cards): n = 2,000 at 20 NFE (Heun and DPM-Solver++(2M)), at 10 NFE, and guided
   (w = 2); the rows go into each new card's ``evaluations``;
5. ``<out>/summary.json``: command, commit, device, torch, wall time per step, the benchmark rows, the new cards'
   evaluation rows and FD curves, the test outcome.

Nothing is written outside ``<out>``; the shipped ``data/checkpoints`` are only read.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from diffedu.integrators import steps_for_nfe
from diffedu.mnist.data import load_mnist
from diffedu.mnist.evaluate import evaluate_model
from diffedu.mnist.pretrained import load, load_classifier
from diffedu.mnist.train import git_commit

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = ("edm", "ddpm", "flow")
FULL = dict(device="cuda", train_s=150, fd_at="50,100,150", batch=256, channels="32,64,64", classifier_steps=3000,
            n_eval=2000, bench_steps=50, flags=["--bf16", "--compile"], modes="fp32,bf16,compile")
SMOKE = dict(device="cpu", train_s=1, fd_at="0.5", batch=8, channels="8,8", classifier_steps=3, n_eval=20,
             bench_steps=1, flags=[], modes="fp32")
EVALS = (("heun", 20, 1.0), ("dpmpp_2m", 20, 1.0), ("dpmpp_2m", 10, 1.0), ("heun", 20, 2.0))  # sampler, NFE, w


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _run(cmd: list[str], log: Path, timeout: float) -> dict:
    """Run one command with its output in ``log``; returns dict(cmd, rc, wall_s)."""
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout,
                            env=dict(os.environ, PYTHONPATH=str(ROOT))).returncode
    return dict(cmd=" ".join(cmd), rc=rc, wall_s=round(time.perf_counter() - t0, 1), log=log.name)


def gpu_tests(logs: Path) -> dict:
    """Step 1: the ``gpu``-marked tests (they skip themselves without CUDA)."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                   if "mark.gpu" in p.read_text())
    res = _run(_python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", *files), logs / "gpu_tests.log",
               300)
    tail = (logs / "gpu_tests.log").read_text().strip().splitlines()
    return dict(res, files=files, outcome=tail[-1] if tail else "")


def bench(cfg: dict, logs: Path) -> dict:
    """Step 2: ``bench train-mnist`` as JSON (fp32 / bf16 + channels_last / compile)."""
    cmd = _python("-m", "diffedu", "bench", "train-mnist", "--json", "--modes", cfg["modes"], "--steps",
                  str(cfg["bench_steps"]), "--batch", str(cfg["batch"]), "--channels", cfg["channels"], "--device",
                  cfg["device"])
    res = _run(cmd, logs / "bench.log", 300)
    text = (logs / "bench.log").read_text()
    try:
        res["table"] = json.loads(text[text.index("{"):])
    except ValueError:
        res["table"] = None
    return res


def train_commands(cfg: dict, ckpt: Path) -> dict[str, list[str]]:
    """Step 3's four commands: the classifier and one ``train mnist`` per objective, into ``ckpt``."""
    common = ["--device", cfg["device"], "--batch", str(cfg["batch"]), "--out", str(ckpt), "--no-progress"]
    cmds = {"mnist-classifier": _python("-m", "diffedu", "train", "classifier", "--steps",
                                        str(cfg["classifier_steps"]), *common)}
    for objective in OBJECTIVES:
        cmds[f"mnist-{objective}"] = _python(
            "-m", "diffedu", "train", "mnist", "--objective", objective, "--steps", "1000000", "--time-budget",
            str(cfg["train_s"]), "--fd-at", cfg["fd_at"], "--channels", cfg["channels"], *cfg["flags"], *common)
    return cmds


def train_all(cfg: dict, ckpt: Path, logs: Path) -> dict:
    """Step 3: the four trainings as concurrent processes; waits for all of them."""
    ckpt.mkdir(parents=True, exist_ok=True)
    t0, procs = time.perf_counter(), {}
    for name, cmd in train_commands(cfg, ckpt).items():
        log = (logs / f"train_{name}.log").open("w")
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, PYTHONPATH=str(ROOT))), cmd, log)
    out = {}
    for name, (proc, cmd, log) in procs.items():
        rc = proc.wait(timeout=cfg["train_s"] + 400)
        log.close()
        out[name] = dict(cmd=" ".join(cmd), rc=rc, log=f"train_{name}.log")
    return dict(runs=out, wall_s=round(time.perf_counter() - t0, 1))


def evaluate_all(cfg: dict, ckpt: Path) -> dict:
    """Step 4: each new diffusion checkpoint at the EVALS settings, n = ``n_eval``, with the shipped classifier;
    the rows go into the new card's ``evaluations``."""
    device = cfg["device"] if cfg["device"] != "cuda" or torch.cuda.is_available() else "cpu"
    data, clf = load_mnist(), load_classifier(device=device)
    rows = {}
    for objective in OBJECTIVES:
        name, card_path = f"mnist-{objective}", ckpt / f"mnist-{objective}.json"
        if not card_path.exists():
            rows[name] = "missing (training failed: see its log)"
            continue
        model = load(name, device=device, folder=ckpt)
        rows[name] = [evaluate_model(model, cfg["n_eval"], steps_for_nfe(s, nfe, final_jump=True), s, device=device,
                                     data=data, classifier=clf, w=w) for s, nfe, w in EVALS]
        card = json.loads(card_path.read_text())
        card["evaluations"] = [{("guidance" if k == "w" else k): v for k, v in r.items()} |
                               dict(command="tools.gpu_run (evaluate_model, shipped classifier)") for r in rows[name]]
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return rows


def environment(cmd: str) -> dict:
    """Command, commit, device and versions, for the summary."""
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return dict(command=cmd, git_commit=git_commit(), device=dev, torch=torch.__version__,
                started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.gpu_run", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for checkpoints, cards, logs and summary.json")
    p.add_argument("--smoke", action="store_true", help="tiny budgets on the CPU: checks that every step runs")
    p.add_argument("--train-seconds", type=float, default=None, help="time budget of each training run")
    args = p.parse_args(argv)
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.train_seconds is not None:
        cfg.update(train_s=args.train_seconds)
    out = Path(args.out)
    logs, ckpt = out / "logs", out / "checkpoints"
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary = dict(environment("python -m tools.gpu_run " + " ".join(argv or sys.argv[1:])), config=cfg)
    for key, step in (("gpu_tests", lambda: gpu_tests(logs)), ("bench", lambda: bench(cfg, logs)),
                      ("training", lambda: train_all(cfg, ckpt, logs)), ("evaluation", lambda: evaluate_all(cfg, ckpt))):
        s0 = time.perf_counter()
        summary[key] = step()
        print(f"{key}: {time.perf_counter() - s0:.0f} s", flush=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")  # kept if a later step dies
    summary["fd_vs_wall_time"] = {p.stem: json.loads(p.read_text()).get("fd_vs_wall_time")
                                  for p in sorted(ckpt.glob("mnist-*.json")) if p.stem != "mnist-classifier"}
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    failed = [k for k, r in summary["training"]["runs"].items() if r["rc"] != 0]
    print(f"done in {summary['wall_s']:.0f} s; wrote {out / 'summary.json'}" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed or summary["bench"]["rc"] != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())

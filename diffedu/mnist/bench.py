"""``python -m diffedu bench train-mnist``: training throughput (img/s) of the MNIST U-Net in three modes.

Modes: ``fp32`` (eager float32), ``bf16`` (bf16 autocast + channels_last), ``compile`` (bf16 + ``torch.compile``).
bf16 and compile are the CUDA recipe of ``train mnist``; on a CPU they are skipped with the reason stated.
Each mode: a few warm-up steps (timed apart; compile happens there), then ``--steps`` timed steps. Then the sampling
throughput of the same network: 64 samples at 20 NFE (DPM-Solver++(2M)).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from ..checks import require_device, require_integer
from ..integrators import steps_for_nfe
from ..runtime import device as default_device
from ..runtime import quick
from .data import load_mnist
from .models import build_model
from .pretrained import Pretrained
from .train import parse_channels, train_diffusion

__all__ = ["MODES", "bench_mode", "bench_sampling", "main"]

MODES = {"fp32": dict(bf16=False, compile=False), "bf16": dict(bf16=True, compile=False),
         "compile": dict(bf16=True, compile=True)}


def skip_reason(mode: str, device: torch.device) -> str | None:
    """Why a mode cannot run on this device (None if it can)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}; got {mode!r}")
    if mode != "fp32" and device.type != "cuda":
        return "bf16 autocast + channels_last and torch.compile are the CUDA recipe; not run on CPU"
    if mode != "fp32" and not torch.cuda.is_bf16_supported():
        return "this GPU has no bf16 support"
    return None


def bench_mode(mode: str, objective: str = "edm", steps: int = 10, warmup: int = 3, batch: int = 128,
               device=None, data=None, channels=(32, 64, 64)) -> dict:
    """Warm-up steps (compilation happens there; timed apart as ``warmup_s``), then ``steps`` timed training steps.

    Returns dict(mode, img_per_s, s_per_step, warmup_s, …) over the timed steps only, or dict(mode, skipped=reason).
    """
    warmup = require_integer("warmup", warmup)
    device = torch.device(device) if device is not None else default_device()
    reason = skip_reason(mode, device)
    if reason is not None:
        return dict(mode=mode, skipped=reason)
    marks = {}

    def clock(step: int, loss: float) -> None:  # called after each step (the loss is synchronised by then)
        if step == warmup - 1:
            marks["warm"] = time.perf_counter()
    t0 = time.perf_counter()
    res = train_diffusion(objective, warmup + steps, batch, device=device, data=data, channels=channels,
                          progress=False, callback=clock, **MODES[mode])
    timed = time.perf_counter() - marks["warm"]
    return dict(mode=mode, objective=objective, batch=batch, steps=steps, device=res["device"],
                img_per_s=round(steps * batch / timed, 1), s_per_step=round(timed / steps, 4),
                warmup_steps=warmup, warmup_s=round(marks["warm"] - t0, 2))


def bench_sampling(n: int = 64, nfe: int = 20, integrator: str = "dpmpp_2m", objective: str = "edm",
                   channels=(32, 64, 64), device=None) -> dict:
    """Sampling throughput of the same network at ``nfe`` evaluations per sample (weights do not affect the cost)."""
    device = torch.device(device) if device is not None else default_device()
    net, process, kind = build_model(objective, channels)
    model = Pretrained.from_net("bench", net.to(device).eval().requires_grad_(False), process, kind)
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 10
    model.sample(min(n, 8), y[:8], n_steps=1, integrator=integrator, generator=g)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.sample(n, y, n_steps=steps_for_nfe(integrator, nfe), integrator=integrator, generator=g)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    return dict(mode="sample", integrator=integrator, nfe=nfe, n=n, wall_s=round(wall, 3),
                samples_per_s=round(n / wall, 1), device=str(device))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m diffedu bench train-mnist")
    p.add_argument("--modes", default="fp32,bf16,compile")
    p.add_argument("--objective", choices=("ddpm", "edm", "flow"), default="edm")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 3 quick, 50 full)")
    p.add_argument("--batch", type=int, default=None, help="default 16 quick, 256 full")
    p.add_argument("--channels", default="32,64,64")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    steps = (3 if quick() else 50) if args.steps is None else args.steps
    batch = (16 if quick() else 256) if args.batch is None else args.batch
    try:
        if steps < 1 or batch < 1:
            raise ValueError(f"--steps and --batch must be integers ≥ 1; got --steps {steps} --batch {batch}")
        device = require_device(args.device, "--device")
        channels = parse_channels(args.channels)
        modes = args.modes.split(",")
        if any(m not in ("fp32", "bf16", "compile") for m in modes):
            raise ValueError(f"--modes must be a comma-separated subset of fp32,bf16,compile; got {args.modes!r}")
    except ValueError as e:
        p.error(str(e))
    data = load_mnist(device=device)
    rows = [bench_mode(m, args.objective, steps, 1 if quick() else 5, batch, device, data, channels)
            for m in modes]
    sampling = bench_sampling(64, 20, "dpmpp_2m", args.objective, channels, device)
    if args.json:
        print(json.dumps(dict(device=str(device), torch=torch.__version__, results=rows, sampling=sampling), indent=2))
    else:
        for r in rows:
            print(f"{r['mode']:8s} " + (f"skipped: {r['skipped']}" if "skipped" in r else
                                       f"{r['img_per_s']:10.1f} img/s  {r['s_per_step']:.4f} s/step  warm-up "
                                       f"{r['warmup_s']:.1f} s ({r['device']})"))
        print(f"sampling {sampling['samples_per_s']:10.1f} samples/s  ({sampling['n']} samples, {sampling['integrator']}"
              f" at {sampling['nfe']} NFE in {sampling['wall_s']:.2f} s, {sampling['device']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m diffedu bench train-mnist``: training throughput (img/s) of the MNIST U-Net in three modes.

Modes: ``fp32`` (eager float32), ``bf16`` (bf16 autocast + channels_last), ``compile`` (bf16 + ``torch.compile``).
bf16 and compile are the CUDA recipe of ``train mnist``; on a CPU they are skipped with the reason stated.
Each mode: a few warm-up steps (not timed; compile happens there), then ``--steps`` timed steps.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from .data import load_mnist
from .runtime import device as default_device
from .runtime import quick

__all__ = ["MODES", "bench_mode", "main"]

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
    """Run warm-up + timed training steps in one mode; returns dict(mode, img_per_s, s_per_step, …) or a skip."""
    from .train import train_diffusion
    device = torch.device(device) if device is not None else default_device()
    reason = skip_reason(mode, device)
    if reason is not None:
        return dict(mode=mode, skipped=reason)
    flags = MODES[mode]
    res = train_diffusion(objective, warmup + steps, batch, device=device, data=data, channels=channels,
                          progress=False, **flags)  # warm-up included; timing below from the callback
    return dict(mode=mode, objective=objective, batch=batch, steps=steps, device=res["device"],
                img_per_s=round(res["img_per_s"], 1), s_per_step=round(res["wall_s"] / res["steps"], 4),
                note="includes warm-up/compile steps" if warmup else "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m diffedu bench train-mnist")
    p.add_argument("--modes", default="fp32,bf16,compile")
    p.add_argument("--objective", default="edm")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 3 quick, 50 full)")
    p.add_argument("--batch", type=int, default=None, help="default 16 quick, 256 full")
    p.add_argument("--channels", default="32,64,64")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    steps = args.steps or (3 if quick() else 50)
    batch = args.batch or (16 if quick() else 256)
    device = torch.device(args.device) if args.device else default_device()
    data = load_mnist(device=device)
    channels = tuple(int(c) for c in args.channels.split(","))
    rows = [bench_mode(m, args.objective, steps, 1 if quick() else 5, batch, device, data, channels)
            for m in args.modes.split(",")]
    if args.json:
        print(json.dumps(dict(device=str(device), torch=torch.__version__, results=rows), indent=2))
    else:
        for r in rows:
            print(f"{r['mode']:8s} " + (f"skipped: {r['skipped']}" if "skipped" in r else
                                       f"{r['img_per_s']:10.1f} img/s  {r['s_per_step']:.4f} s/step ({r['device']})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

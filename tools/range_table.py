"""How far the shipped MNIST checkpoints' samples leave the pixel range [−1, 1], before and after issue 20.

``before``: the raw network (``clip_x0=False``) and EDM's Algorithm 1 at every step (``max_correction_gain=inf``);
``after``: ``Pretrained.sample``'s defaults (x̂₀ clipped to [−1, 1], Heun's correction only where it multiplies the
network's error by ≤ 10). For each checkpoint, integrator and step count: the share of pixels outside [−1.1, 1.1] and max |x|
over n samples (labels 0–9 in turn, one seed).

    python -m tools.range_table [--n 50] [--integrators heun,dpmpp_2m,ddpm] [--steps 1,2,3,4,6,10,20]
"""
from __future__ import annotations

import argparse
import math

import torch

from diffedu.mnist.pretrained import available, load


def out_of_range(x: torch.Tensor) -> tuple[float, float]:
    """(share of pixels with |x| > 1.1, max |x|)."""
    return (x.abs() > 1.1).float().mean().item(), x.abs().max().item()


def measure(name: str, integrator: str, n_steps: int, n: int, after: bool) -> tuple[float, float]:
    """The two numbers for one setting, ``after`` the fix or ``before`` it."""
    model = load(name)
    kw = {} if after else dict(clip_x0=False, **({"max_correction_gain": math.inf} if integrator == "heun" else {}))
    x = model.sample(n, torch.arange(n) % 10, n_steps=n_steps, integrator=integrator,
                     generator=torch.Generator().manual_seed(0), **kw)
    return out_of_range(x.float())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--integrators", default="heun,dpmpp_2m,ddpm")
    p.add_argument("--steps", default="1,2,3,4,6,10,20")
    args = p.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    print(f"share of pixels outside [-1.1, 1.1] / max |x|, n = {args.n}; before → after")
    print(f"{'checkpoint':11s} {'sampler':9s} " + " ".join(f"{s:>24d}" for s in steps))
    for name in (m for m in ("mnist-edm", "mnist-ddpm", "mnist-flow") if m in available()):
        for integrator in args.integrators.split(","):
            cells = []
            for s in steps:
                (b, bm), (a, am) = (measure(name, integrator, s, args.n, after) for after in (False, True))
                cells.append(f"{b:4.0%}/{bm:5.3g} → {a:3.0%}/{am:4.3g}")
            print(f"{name:11s} {integrator:9s} " + " ".join(f"{c:>24s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()

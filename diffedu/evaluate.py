"""``python -m diffedu eval mnist``: FD-MNIST, conditional accuracy and samples/s of a shipped checkpoint.

FD-MNIST is the Fréchet distance in the shipped classifier's 128-d feature space between n generated digits (labels
0–9 in turn) and n test digits; its *floor* is the same distance between n train and n test digits (what a perfect
generator would score at this n: finite-sample noise). Conditional accuracy: how often the classifier reads the
asked-for label. Results go into the checkpoint's card (``evaluation``) unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from .data import load_mnist
from .metrics import classifier_features, conditional_accuracy, frechet_distance
from .pretrained import CHECKPOINT_DIR, load, load_classifier

__all__ = ["evaluate_checkpoint", "fd_floor", "parse_guidance", "main"]


def parse_guidance(value) -> float:
    """Guidance weight as a float ≥ 0 (guidance itself belongs to chapter 11; here it is only checked)."""
    try:
        w = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"guidance must be a number ≥ 0; got {value!r}") from None
    if not w == w or w < 0:  # NaN or negative
        raise ValueError(f"guidance must be a number ≥ 0; got {value!r}")
    return w


def fd_floor(classifier, data, n: int, generator: torch.Generator | None = None) -> float:
    """FD-MNIST between n random train digits and n random test digits: the best a generator can score at this n."""
    i = torch.randperm(len(data.y_train), generator=generator)[:n]
    j = torch.randperm(len(data.y_test), generator=generator)[:n]
    return frechet_distance(classifier_features(classifier, data.x_train[i]), classifier_features(classifier, data.x_test[j]))


def evaluate_checkpoint(name: str, n: int = 256, n_steps: int = 20, integrator: str = "heun", timer: str = "karras",
                        seed: int = 0, device="cpu", data=None, classifier=None) -> dict:
    """Sample n digits (labels i mod 10) and measure FD-MNIST, its floor, conditional accuracy and samples/s."""
    if int(n) != n or n < 10:
        raise ValueError(f"n must be an integer ≥ 10 (one per class at least); got {n}")
    model = load(name, device=device)
    classifier = classifier if classifier is not None else load_classifier(device=device)
    data = data if data is not None else load_mnist()
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    t0 = time.perf_counter()
    x = model.sample(n, y, n_steps=n_steps, integrator=integrator, timer=timer, generator=g).float()
    wall = time.perf_counter() - t0
    j = torch.randperm(len(data.y_test), generator=g)[:n]
    fd = frechet_distance(classifier_features(classifier, x), classifier_features(classifier, data.x_test[j]))
    return dict(n=int(n), n_steps=n_steps, integrator=integrator, timer=timer, fd_mnist=round(fd, 3),
                fd_floor=round(fd_floor(classifier, data, n, g), 3),
                conditional_accuracy=round(conditional_accuracy(classifier, x, y), 4),
                samples_per_s=round(n / wall, 2), sample_wall_s=round(wall, 2), device=str(device),
                finite=bool(torch.isfinite(x).all()))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m diffedu eval mnist")
    p.add_argument("--name", action="append", help="checkpoint(s); default mnist-edm, mnist-ddpm, mnist-flow")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="sampler steps")
    p.add_argument("--integrator", default="heun")
    p.add_argument("--timer", default="karras")
    p.add_argument("--guidance", default="0", help="reserved for chapter 11 (only checked here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-write", action="store_true", help="do not store the result in the checkpoint's card")
    args = p.parse_args(argv)
    try:
        parse_guidance(args.guidance)
    except ValueError as e:
        p.error(str(e))
    names = args.name or ["mnist-edm", "mnist-ddpm", "mnist-flow"]
    data = load_mnist()
    clf = load_classifier(device=args.device)
    results = {}
    for name in names:
        res = evaluate_checkpoint(name, args.n, args.steps, args.integrator, args.timer, args.seed, args.device,
                                  data, clf)
        results[name] = res
        if not args.no_write:
            path = CHECKPOINT_DIR / f"{name}.json"
            meta = json.loads(path.read_text())
            meta["evaluation"] = res
            meta["evaluation_command"] = "python -m diffedu eval mnist " + " ".join(argv)
            meta.setdefault("fd_vs_wall_time", []).append([meta.get("wall_s"), res["fd_mnist"]])
            path.write_text(json.dumps(meta, indent=2) + "\n")
        if not args.json:
            print(f"{name:12s} FD-MNIST {res['fd_mnist']:8.2f} (floor {res['fd_floor']:.2f})  "
                  f"cond. acc {res['conditional_accuracy']:.3f}  {res['samples_per_s']:.1f} samples/s "
                  f"(n={res['n']}, {res['integrator']} {res['n_steps']} steps, {res['device']})")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

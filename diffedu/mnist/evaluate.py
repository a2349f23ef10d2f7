"""``python -m diffedu eval mnist``: FD-MNIST, conditional accuracy and samples/s of a shipped checkpoint.

FD-MNIST is the Fréchet distance in the shipped classifier's 128-d feature space between n generated digits (labels
0–9 in turn) and n test digits; its *floor* is the same distance between n train and n test digits (what a perfect
generator would score at this n: finite-sample noise). Conditional accuracy: how often the classifier reads the
asked-for label. ``--write-card`` stores the result in the checkpoint's card (``evaluations``); the shipped cards in
``data/checkpoints`` are written only with ``--force``, and ``--json PATH`` replaces only an earlier results file.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..checks import is_shipped, require_device, require_integer, require_output_path, require_writable_folder
from ..guidance import parse_guidance
from ..integrators import SAMPLERS, steps_for_nfe
from ..metrics import classifier_features, conditional_accuracy, frechet_distance
from ..timers import TIMERS
from .data import load_mnist
from .models import build_model
from .pretrained import CHECKPOINT_DIR, Pretrained, card, load, load_classifier

__all__ = ["evaluate_model", "evaluate_checkpoint", "fd_floor", "parse_guidance", "fd_versus_wall_time", "main"]


def fd_floor(classifier, data, n: int, generator: torch.Generator | None = None) -> float:
    """FD-MNIST between n random train digits and n random test digits: the best a generator can score at this n."""
    n = require_integer("n", n, lo=2, hi=min(len(data.y_train), len(data.y_test)))
    i = torch.randperm(len(data.y_train), generator=generator)[:n]
    j = torch.randperm(len(data.y_test), generator=generator)[:n]
    return frechet_distance(classifier_features(classifier, data.x_train[i]), classifier_features(classifier, data.x_test[j]))


def evaluate_model(model: Pretrained, n: int = 256, n_steps: int = 20, integrator: str = "heun",
                   timer: str = "karras", seed: int = 0, device="cpu", data=None, classifier=None,
                   w: float = 1.0) -> dict:
    """Sample n ≥ 10 digits (labels i mod 10) with classifier-free guidance scale ``w`` and measure FD-MNIST, its
    floor, conditional accuracy, NFE and samples/s.

    NFE counts the network's forward calls per sample (with w ≠ 1 each call carries the conditional and the
    unconditional half of the batch).
    """
    n = require_integer("n", n, lo=10)
    w = parse_guidance(w)
    classifier = classifier if classifier is not None else load_classifier(device=device)
    data = data if data is not None else load_mnist()
    if n > len(data.y_test):
        raise ValueError(f"n must be ≤ {len(data.y_test)} (the test set's size); got {n}")
    g = torch.Generator().manual_seed(seed)
    g_data = torch.Generator().manual_seed(seed + 1)  # the test digits and the floor: the same whatever the sampler draws
    y = torch.arange(n) % 10
    calls = [0]
    hook = model.net.register_forward_pre_hook(lambda module, args: calls.__setitem__(0, calls[0] + 1))
    try:
        t0 = time.perf_counter()
        x = model.sample(n, y, n_steps=n_steps, integrator=integrator, timer=timer, generator=g, w=w).float()
        if x.device.type == "cuda":
            torch.cuda.synchronize()  # kernels run asynchronously: wait for them before reading the clock
        wall = time.perf_counter() - t0
    finally:
        hook.remove()
    j = torch.randperm(len(data.y_test), generator=g_data)[:n]
    fd = frechet_distance(classifier_features(classifier, x), classifier_features(classifier, data.x_test[j]))
    return dict(n=int(n), n_steps=n_steps, nfe=calls[0], integrator=integrator, timer=timer, w=w,
                fd_mnist=round(fd, 3), fd_floor=round(fd_floor(classifier, data, n, g_data), 3),
                conditional_accuracy=round(conditional_accuracy(classifier, x, y), 4),
                samples_per_s=round(n / wall, 2), sample_wall_s=round(wall, 2), device=str(device),
                finite=bool(torch.isfinite(x).all()))


def evaluate_checkpoint(name: str, n: int = 256, n_steps: int = 20, integrator: str = "heun", timer: str = "karras",
                        seed: int = 0, device="cpu", data=None, classifier=None, w: float = 1.0) -> dict:
    """``evaluate_model`` on the shipped checkpoint ``name``."""
    return evaluate_model(load(name, device=device), n, n_steps, integrator, timer, seed, device, data, classifier,
                          w)


def fd_versus_wall_time(res: dict, device, n: int = 500, n_steps: int = 10) -> list[dict]:
    """FD-MNIST (and its floor) of each EMA snapshot of a training run: how fast the checkpoint gets good."""
    if not res["snapshots"]:
        return []
    net, process, kind = build_model(res["objective"], tuple(res["net_config"]["channels"]), res["net_config"]["blocks"])
    net = net.to(device).eval().requires_grad_(False)
    curve = []
    for wall, steps, state in res["snapshots"]:
        net.load_state_dict(state)
        model = Pretrained.from_net(f"snapshot@{wall:.0f}s", net, process, kind)
        ev = evaluate_model(model, n=n, n_steps=n_steps, integrator="heun", device=device)
        curve.append(dict(wall_s=round(wall, 1), steps=steps, fd_mnist=ev["fd_mnist"], fd_floor=ev["fd_floor"],
                          conditional_accuracy=ev["conditional_accuracy"], n=n, n_steps=n_steps))
    return curve


def write_to_card(name: str, res: dict, command: str, folder: str | Path | None = None) -> None:
    """Store an evaluation in the card's ``evaluations`` list (replacing one of the same sampler, steps, timer, w, n).

    The row records the sample count ``n`` it was measured on. The cards are shipped data and name w ``guidance``:
    ``res["w"]`` is stored under that name."""
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    require_integer("the evaluation's n", res.get("n"), lo=2)
    path = folder / f"{name}.json"
    meta = json.loads(path.read_text())
    entry = {("guidance" if k == "w" else k): v for k, v in res.items()} | dict(command=command)
    key = lambda r: (r["integrator"], r["n_steps"], r["timer"], r["guidance"], r["n"])
    kept = [r for r in meta.get("evaluations", []) if key(r) != key(entry)]
    meta["evaluations"] = sorted(kept + [entry], key=lambda r: (r["guidance"], r["nfe"]))
    meta.pop("evaluation", None)  # the single evaluation of older cards
    path.write_text(json.dumps(meta, indent=2) + "\n")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m diffedu eval mnist",
                                description="FD-MNIST (with its train-vs-test floor), conditional accuracy and "
                                            "samples/s of shipped checkpoints")
    p.add_argument("--checkpoint", "--name", dest="names", action="append",
                   help="checkpoint name, repeatable (default: mnist-edm, mnist-ddpm, mnist-flow)")
    p.add_argument("--sampler", "--integrator", dest="integrator", default="heun", choices=list(SAMPLERS),
                   help="integrator name")
    p.add_argument("--nfe", type=int, default=None, help="network evaluations per sample (sets --steps)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (default: as many as --nfe allows, or 10)")
    p.add_argument("--timer", default="karras")
    p.add_argument("--guidance", default="1", help="classifier-free guidance scale w ≥ 0 (1 = no guidance)")
    p.add_argument("--n", type=int, default=256, help="number of generated (and of test) digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the results as JSON to PATH (or stdout without PATH)")
    p.add_argument("--write-card", action="store_true", help="store the result as the checkpoint card's evaluation")
    p.add_argument("--folder", default=None, help="the checkpoints' folder (default: the shipped data/checkpoints; "
                   "e.g. runs/ after `train mnist`)")
    p.add_argument("--force", action="store_true", help="allow --write-card into the shipped data/ folder and --json "
                   "to replace an earlier results file")
    return p


def is_results_json(path) -> bool:
    """Whether ``path`` holds what ``eval mnist --json PATH`` writes: {checkpoint name: {fd_mnist, …}}."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, dict) and "fd_mnist" in v for v in obj.values())


is_results_json.__doc__ = "a results JSON written by `eval mnist --json`"


def _check_outputs(args, names: list[str]) -> None:
    """--json and --write-card, checked before anything is sampled: a writable path that replaces only an earlier
    results file (with --force), and cards outside data/ unless --force."""
    folder = Path(args.folder) if args.folder is not None else CHECKPOINT_DIR
    for name in names:
        if card(name, folder)["kind"] == "classifier":
            raise ValueError(f"--checkpoint {name!r} is a classifier, not a diffusion model; give mnist-edm, "
                             "mnist-ddpm, mnist-flow or a `train mnist` checkpoint")
    if args.write_card:
        if is_shipped(folder) and not args.force:
            raise ValueError(f"--write-card would change the shipped cards in {folder}; pass --force to do so "
                             "(or evaluate a checkpoint of your own with --folder)")
        require_writable_folder(folder, "--write-card")
    if args.json not in (None, "-"):
        require_output_path(args.json, "--json", force=args.force, owned=is_results_json)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = _parser()
    args = p.parse_args(argv)
    try:
        w = parse_guidance(args.guidance)
        if args.nfe is not None and args.steps is not None:
            raise ValueError("give either --nfe or --steps, not both")
        n_steps = steps_for_nfe(args.integrator, args.nfe) if args.nfe is not None else \
            (10 if args.steps is None else args.steps)
        if n_steps < 1:
            raise ValueError(f"--steps must be ≥ 1; got {n_steps}")
        if not 10 <= args.n <= 10_000:
            raise ValueError(f"--n must be an integer in [10, 10000] (the MNIST test set's size); got {args.n}")
        if args.timer not in TIMERS:
            raise ValueError(f"--timer must be one of {sorted(TIMERS)}; got {args.timer!r}")
        names = args.names or ["mnist-edm", "mnist-ddpm", "mnist-flow"]
        require_device(args.device, "--device")
        _check_outputs(args, names)
    except (TypeError, ValueError) as e:
        p.error(str(e))
    data = load_mnist()
    clf = load_classifier(device=args.device)
    results = {}
    for name in names:
        model = load(name, device=args.device, folder=args.folder)
        res = evaluate_model(model, args.n, n_steps, args.integrator, args.timer, args.seed, args.device, data, clf, w)
        results[name] = res
        if args.write_card:
            write_to_card(name, res, "python -m diffedu eval mnist " + " ".join(argv), args.folder)
        if args.json is None:
            print(_summary_line(name, res))
    if args.json is not None:
        _write_json(results, args.json)
    return 0


def _summary_line(name: str, res: dict) -> str:
    """One row of ``eval mnist``'s table: FD-MNIST and its floor, accuracy, w, speed, sampler and device."""
    return (f"{name:12s} FD-MNIST {res['fd_mnist']:8.2f} (floor {res['fd_floor']:.2f})  "
            f"cond. acc {res['conditional_accuracy']:.3f}  w {res['w']:g}  {res['samples_per_s']:.1f} "
            f"samples/s (n={res['n']}, {res['integrator']} {res['n_steps']} steps = {res['nfe']} NFE, "
            f"{res['device']})")


def _write_json(results: dict, path: str) -> None:
    """``--json``: the results on stdout (path '-') or in the file ``path``."""
    text = json.dumps(results, indent=2)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m diffedu info | bench … | train … | eval …``.

This file only routes; each command lives beside the idea it measures and parses its own arguments:
``bench samplers`` → ``bench_samplers.main``, ``bench train-mnist`` → ``bench_mnist.main``,
``train mnist|classifier`` → ``train.main``, ``eval mnist`` → ``evaluate.main``.
"""
from __future__ import annotations

import importlib
import sys

ROUTES = {
    ("bench", "samplers"): "diffedu.bench_samplers",
    ("bench", "train-mnist"): "diffedu.bench_mnist",
    ("train", "mnist"): "diffedu.train",
    ("train", "classifier"): "diffedu.train",
    ("eval", "mnist"): "diffedu.evaluate",
}

USAGE = """usage: python -m diffedu COMMAND ...

commands:
  info                       versions, device, mode, shipped data and checkpoints
""" + "".join(f"  {' '.join(key):<26} see --help\n" for key in ROUTES)


def info() -> str:
    import platform

    import torch

    from . import __version__
    from .runtime import banner
    lines = [f"diffedu {__version__} · python {platform.python_version()} · torch {torch.__version__}", banner()]
    if torch.cuda.is_available():
        lines.append(f"cuda: {torch.cuda.get_device_name(0)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "info":
        print(info())
        return 0
    key = tuple(argv[:2])
    if key not in ROUTES:
        print(f"diffedu: unknown command {' '.join(argv[:2])!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(ROUTES[key])
    # train routes keep the target ('mnist' / 'classifier') as their first argument
    return int(module.main(argv[1:] if key[0] == "train" else argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m diffedu info | bench … | train … | eval …``.

This file only routes; each command lives beside the idea it measures and parses its own arguments:
``bench samplers`` → ``bench_samplers.main``, ``bench train-mnist`` → ``bench_mnist.main``,
``train mnist|classifier`` → ``train.main``, ``eval mnist`` → ``evaluate.main``.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch

from .mnist.data import MNIST_SHA256
from .runtime import DATA_DIR, device, quick

ROUTES = {
    ("bench", "samplers"): "diffedu.course.samplers",
    ("bench", "panels"): "diffedu.ui.bench",
    ("bench", "train-mnist"): "diffedu.mnist.bench",
    ("train", "mnist"): "diffedu.mnist.train",
    ("train", "classifier"): "diffedu.mnist.train",
    ("eval", "mnist"): "diffedu.mnist.evaluate",
}

USAGE = """usage: python -m diffedu COMMAND ...

commands:
  info                       versions, device, mode, and whether data/mnist.npz is present and intact
  grade PATH...              run student notebooks headless and print every lab's score (see --help)
""" + "".join(f"  {' '.join(key):<26} see --help\n" for key in ROUTES)


def mnist_status(path=None) -> str:
    """'present (…, sha256 ok)', 'present but damaged (sha256 mismatch)' or 'missing' for the shipped data/mnist.npz."""

    path = Path(path) if path is not None else DATA_DIR / "mnist.npz"
    if not path.is_file():
        return f"missing ({path})"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = f"{path.stat().st_size / 2**20:.1f} MiB"
    if digest != MNIST_SHA256:
        return f"present but damaged ({path}, {size}, sha256 mismatch)"
    return f"present ({path}, {size}, sha256 ok)"


def info() -> str:
    """Versions, device, mode and the shipped data, one fact per line."""


    from . import __version__

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    dev = device()
    lines = [
        f"diffedu     {__version__}",
        f"python      {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"torch       {torch.__version__}",
        f"numpy       {version('numpy')}",
        f"jupyterlab  {version('jupyterlab')}",
        f"device      {dev.type}" + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        f"mode        {'quick' if quick() else 'full'} (DIFFEDU_QUICK={os.environ.get('DIFFEDU_QUICK', 'unset')})",
        f"mnist       {mnist_status()}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    try:
        quick()  # a bad DIFFEDU_QUICK is a usage error before any command starts
    except ValueError as e:
        print(f"diffedu: {e}\n\n{USAGE}", file=sys.stderr)
        return 2
    if argv[0] == "info":
        if argv[1:]:
            print(f"diffedu: info takes no arguments; got {' '.join(argv[1:])!r}\n\n{USAGE}", file=sys.stderr)
            return 2
        print(info())
        return 0
    if argv[0] == "grade":
        return int(importlib.import_module("diffedu.labs.grade").main(argv[1:]) or 0)
    key = tuple(argv[:2])
    if key not in ROUTES:
        print(f"diffedu: unknown command {' '.join(argv[:2])!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(ROUTES[key])
    # train routes keep the target ('mnist' / 'classifier') as their first argument
    return int(module.main(argv[1:] if key[0] == "train" else argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())

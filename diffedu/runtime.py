"""Where and how the course runs: the device, seeding, and the quick/full mode switch (GUIDE §3)."""
from __future__ import annotations

import os
import random
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["device", "check_device", "check_output_path", "seed", "quick", "banner", "one_thread"]


def device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(value, name: str = "device") -> torch.device:
    """``value`` (a string or torch.device; None = :func:`device`) as a torch.device that exists here, else a
    ValueError naming ``name``: 'cpu', 'cuda' or 'cuda:N' with CUDA present, or 'mps' where Apple's MPS is."""
    if value is None:
        return device()
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got {value!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {value!r}, but this torch ({torch.__version__}) sees no CUDA device; use 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name} is {value!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
    mps = getattr(torch.backends, "mps", None)
    if dev.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"{name} is {value!r}, but Apple's MPS is not available here; use 'cpu'")
    return dev


def check_output_path(path, name: str, directory: bool = False):
    """Fail before the work, not after it: the folder that ``path`` writes into must exist (or be creatable, for a
    ``directory``) and ``path`` must not be a folder (a file when ``directory``). Returns a ``pathlib.Path``."""
    from pathlib import Path
    p = Path(path)
    if directory:
        if p.exists() and not p.is_dir():
            raise ValueError(f"{name} must be a folder; {p} is a file")
        return p
    if p.is_dir():
        raise ValueError(f"{name} must be a file path; {p} is a folder")
    if not p.parent.is_dir():
        raise ValueError(f"{name}: the folder {p.parent} does not exist")
    return p


def seed(value: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a fresh CPU ``torch.Generator`` seeded with ``value``."""
    if int(value) != value or value < 0:
        raise ValueError(f"seed value must be a non-negative integer; got {value}")
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    return torch.Generator().manual_seed(int(value))


def quick() -> bool:
    """Quick mode: ``DIFFEDU_QUICK=1`` (set by ``make test`` and CI), or no GPU and ``DIFFEDU_QUICK`` unset.

    Quick mode shrinks training steps and sample counts so that every chapter runs in about a minute on a laptop CPU.
    ``DIFFEDU_QUICK=0`` forces the full version even on a CPU.
    """
    flag = os.environ.get("DIFFEDU_QUICK")
    if flag is None:
        return device().type == "cpu"
    if flag not in ("0", "1"):
        raise ValueError(f"DIFFEDU_QUICK must be '0' or '1'; got {flag!r}")
    return flag == "1"


def banner() -> str:
    """One line naming the mode and device, printed by the first cell of every chapter."""
    mode = "quick" if quick() else "full"
    return f"diffedu: {mode} mode on {device().type} (torch {torch.__version__.split('+')[0]})"


@contextmanager
def one_thread():
    """Run the enclosed torch work on one intra-op CPU thread, then restore the setting.

    For small tensors (the 2-D toys: a (256, 64) MLP, a mixture's denoiser on 1000 points) splitting work across
    threads costs more than it saves; on a busy 2-core machine two threads took 10–20 times the CPU time of one
    (measured for chapters 08 and 09).
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)

"""Where and how the course runs: the device, seeding, and the quick/full mode switch (GUIDE §3)."""
from __future__ import annotations

import math
import numbers
import os
import random
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the course's shipped data and checkpoints

__all__ = ["DATA_DIR", "device", "seed", "quick", "banner", "one_thread"]


def device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed(value: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a fresh CPU ``torch.Generator`` seeded with ``value``: an integer in
    0 … 2³² − 1 (NumPy's range), a Python or NumPy integer."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and int(value) == value and 0 <= value < 2**32):
        raise ValueError(f"seed value must be a non-negative integer < 2**32 (NumPy's range); got {value!r}")
    value = int(value)
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    return torch.Generator().manual_seed(int(value))


def quick() -> bool:
    """Quick mode: ``DIFFEDU_QUICK=1`` (set by ``make test`` and CI), or no GPU and ``DIFFEDU_QUICK`` unset.

    Quick mode shrinks training steps and sample counts so that every chapter keeps to its CI budget on a CPU.
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

    For small tensors (the 2-D toys: a (256, 64) MLP, a mixture's denoiser on 1000 points) splitting the work across
    threads costs more in synchronisation than it saves; one thread also keeps such timings comparable between runs.
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)

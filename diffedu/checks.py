"""Argument checks, in one place and one wording: each raises a ``ValueError`` (or ``TypeError``) that names the
argument and the allowed range, and returns the value in the form the caller computes with.

Validators are named ``require_*``; in the course, ``check_*`` means "grade a student's answer".
"""
from __future__ import annotations

import math
import numbers
from pathlib import Path

import torch
from torch import Tensor

from .runtime import device

__all__ = ["require_integer", "require_positive", "require_real", "require_in_range", "require_float_tensor",
           "require_device", "require_output_path"]


def require_integer(name: str, value, lo: int = 1, hi: int | None = None) -> int:
    """An integer (not a bool) in [lo, hi]: an int, a NumPy integer or a float with an integer value such as 3.0."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and int(value) == value
    if not ok or value < lo or (hi is not None and value > hi):
        where = f"≥ {lo}" if hi is None else f"in {lo}–{hi}"
        raise ValueError(f"{name} must be an integer {where}; got {value!r}")
    return int(value)


def require_real(name: str, value) -> float:
    """A finite real number: an int, a float or a one-element tensor (bools and complex numbers are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex()):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    return value


def require_positive(name: str, value, allow_zero: bool = False) -> float:
    """A finite number > 0 (≥ 0 with ``allow_zero``)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {'≥ 0' if allow_zero else '> 0'} and finite; got {value!r}") from None
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not math.isfinite(value):
        raise ValueError(f"{name} must be {'≥ 0' if allow_zero else '> 0'} and finite; got {value}")
    return value


def require_in_range(name: str, value, lo: float, hi: float) -> float:
    """A finite real number in the closed interval [lo, hi]."""
    value = require_real(name, value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}]; got {value:g}")
    return value


def require_float_tensor(name: str, x, what: str = "") -> Tensor:
    """A floating-point torch tensor (``what`` describes it in the message, e.g. 'the start x_T')."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch tensor{f' ({what})' if what else ''}; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    return x


def require_device(value, name: str = "device") -> torch.device:
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


def require_output_path(path, name: str, directory: bool = False):
    """Fail before the work, not after it: the folder that ``path`` writes into must exist (or be creatable, for a
    ``directory``) and ``path`` must not be a folder (a file when ``directory``). Returns a ``pathlib.Path``."""
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

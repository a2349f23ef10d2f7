"""Argument checks, in one place and one wording: each raises a ``ValueError`` (or ``TypeError``) that names the
argument and the allowed range, and returns the value in the form the caller computes with.

Validators are named ``require_*``; in the course, ``check_*`` means "grade a student's answer".
"""
from __future__ import annotations

import json
import math
import numbers
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from .runtime import DATA_DIR, device

__all__ = ["require_integer", "require_positive", "require_real", "require_in_range", "require_float_tensor",
           "require_device", "require_output_path", "require_writable_folder", "is_shipped",
           "json_with_keys", "require_output_shape", "require_finite"]


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
    if type(value) is float:  # the common case, checked fast (the samplers call this on every step)
        if value - value == 0:  # finite: inf − inf and nan − nan are nan
            return float(value)
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) and not (
            isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex()):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite real number; got {value!r:.40}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    return value


def require_positive(name: str, value, allow_zero: bool = False) -> float:
    """A finite real number > 0 (≥ 0 with ``allow_zero``): not a bool, a string or a complex number."""
    try:
        if isinstance(value, (bool, str, bytes, complex)) or value is None:
            raise TypeError
        value = float(value)
    except (TypeError, ValueError, RuntimeError):
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


def require_output_shape(out, like: Tensor, what: str) -> Tensor:
    """A network's (score's, gradient's) output checked against the tensor ``like`` it must match, as the integrators
    check a prediction: another shape, e.g. (B, 1) for (B, D) data, would broadcast silently into a wrong answer."""
    if not isinstance(out, Tensor) or out.shape != like.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{what} must return a tensor of x's shape {tuple(like.shape)}; got {got}")
    return out


def require_finite(name: str, x: Tensor, what: str = "samples") -> Tensor:
    """A tensor whose entries are all finite; else a ValueError with the count of non-finite items (rows) of x."""
    bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(1) if x.ndim else ~torch.isfinite(x).reshape(1)
    if bool(bad.any()):
        raise ValueError(f"{name}: {what} are not finite ({int(bad.sum())} of {bad.numel()} contain NaN or ±inf)")
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


def is_shipped(path) -> bool:
    """Whether ``path`` lies inside the course's shipped ``data/`` folder (checkpoints, cards, MNIST)."""
    try:
        return Path(path).resolve().is_relative_to(DATA_DIR.resolve())
    except OSError:
        return False


def require_writable_folder(folder, name: str, create: bool = False) -> Path:
    """``folder`` exists (or is created, with ``create``) and a file can be written in it: tried now, with a scratch
    file that is deleted at once, so that an unwritable path fails before the work and not after it."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name} must be a folder; {p} is a file")
    if not p.is_dir():
        if not create:
            raise ValueError(f"{name}: the folder {p} does not exist")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"{name}: cannot create the folder {p}: {e.strerror or e}") from None
    try:
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        raise ValueError(f"{name}: cannot write in the folder {p}: {e.strerror or e}") from None
    return p


def json_with_keys(*keys: str):
    """An ownership test for :func:`require_output_path`: the file is a JSON object holding every key in ``keys``
    (the shape of what a command writes), so ``--force`` may replace it."""
    def owned(path: Path) -> bool:
        try:
            obj = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        return isinstance(obj, dict) and all(k in obj for k in keys)
    owned.__doc__ = f"a JSON object with the keys {', '.join(keys)}"
    return owned


def require_output_path(path, name: str, directory: bool = False, force: bool = False, owned=None):
    """Fail before the work, not after it, and never lose a file: the folder that ``path`` writes into must exist and
    be writable (a ``directory`` is created); a path inside the shipped ``data/`` folder or an existing file needs
    ``force``; and even with ``force`` an existing file is replaced only if ``owned(path)`` says it is the kind of
    file this command writes (a JSON of its results, a model card). Returns a ``pathlib.Path``."""
    p = Path(path)
    if is_shipped(p) and not force:
        raise ValueError(f"{name}: {p} is inside the course's shipped data folder {DATA_DIR}; pass --force to "
                         "write there (restore shipped files with `git checkout -- data`)")
    if directory:
        return require_writable_folder(p, name, create=True)
    if p.is_dir():
        raise ValueError(f"{name} must be a file path; {p} is a folder")
    require_writable_folder(p.parent, name)
    if p.exists():
        if not force:
            raise ValueError(f"{name}: {p} exists; pass --force to replace it")
        if owned is not None and not owned(p):
            raise ValueError(f"{name}: {p} is not a file this command wrote ({owned.__doc__ or 'wrong content'}); "
                             "refusing to replace it, even with --force")
    return p

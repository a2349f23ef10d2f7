"""``check_*`` functions: each tests a student's function against an independent answer and replies with a hint.

A check raises ``AssertionError`` with a hint on a wrong answer (so a failing exercise shows red in the notebook),
``NotImplementedError`` passes through untouched (the student version's stub), and prints a short success line.
"""
from __future__ import annotations

from typing import Callable

import torch


def _report(ok: bool, name: str, hint: str) -> None:
    if not ok:
        raise AssertionError(f"{name}: not yet. Hint: {hint}")
    print(f"✓ {name}: correct")


def _close(a, b, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


# --- 00–02 -------------------------------------------------------------------------------------------


# --- 03, 06, 07 --------------------------------------------------------------------------------------


# --- 04, 05 ------------------------------------------------------------------------------------------


# --- 08, 09 ------------------------------------------------------------------------------------------


# --- 10 ----------------------------------------------------------------------------------------------


# --- 11 ----------------------------------------------------------------------------------------------


# --- 12 ----------------------------------------------------------------------------------------------

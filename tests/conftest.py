"""Shared pytest set-up for diffedu's tests.

* Tests run in quick mode unless the caller chose otherwise (``make test`` sets DIFFEDU_QUICK=1 itself).
* ``@pytest.mark.gpu`` tests skip cleanly when torch sees no CUDA device.
* ``@pytest.mark.slow`` tests run by default (CI runs them); ``-m "not slow"`` leaves them out for a fast loop.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DIFFEDU_QUICK", "1")

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device; torch sees none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT

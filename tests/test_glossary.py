"""Chapter 00's glossary lists every symbol a chapter's math uses (issue 18: one notation, everywhere).

Oracle: the symbols are collected from the LaTeX of each chapter's markdown cells — every Greek letter
(``\\alpha``, ``\\varepsilon``, ...) and every decorated letter (``\\hat x``, ``\\tilde\\beta``, ``\\bar\\alpha``, ``\\dot\\sigma``)
— and each must occur in the symbol column of the glossary table in chapter 00, or in a short allowlist of generic
symbols (a mixture's μ_k, Σ_k, π_k; a test function φ; π the number). Every chapter.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta lambda mu nu xi pi rho sigma tau phi varphi chi "
         "psi omega Gamma Delta Lambda Sigma Phi Omega").split()
ACCENT = re.compile(r"\\(hat|tilde|bar|dot)\s*\{?\s*(\\[A-Za-z]+|[A-Za-z])")
GREEK_RE = re.compile(r"\\(" + "|".join(sorted(GREEK, key=len, reverse=True)) + r")(?![A-Za-z])")
# Generic symbols that need no glossary row: a Gaussian mixture's weights, means and covariances (π_k, μ_k, Σ_k),
# a test function (φ), Salimans & Ho's angle φ (named where used), and NCSN's step constant \epsilon (kept apart
# from the noise \varepsilon). A dot is d/dt: a dotted symbol needs only its base in the glossary.
ALLOW = {"pi", "mu", "Sigma", "varphi", "phi", "epsilon"}


def markdown_math(path: Path) -> str:
    """The LaTeX between $…$ / $$…$$ in the chapter's markdown cells (py:percent source)."""
    cells, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            inside = "[markdown]" in line
            continue
        if inside and line.startswith("#"):
            cells.append(line[2:])
    text = re.sub(r"`[^`]*`", " ", "\n".join(cells))  # code spans are not math
    return " ".join(a or b for a, b in re.findall(r"\$\$(.+?)\$\$|\$([^$]+?)\$", text, flags=re.S))


def symbols(latex: str) -> set[str]:
    """Greek letters by name ('alpha') and decorated letters as 'accent base' ('hat x', 'tilde beta')."""
    found = set(GREEK_RE.findall(latex))
    for accent, base in ACCENT.findall(latex):
        if accent != "dot":  # a time derivative: its base is collected as a Greek letter (or is a Latin letter)
            found.add(f"{accent} {base.lstrip(chr(92))}")
    return found


def glossary() -> set[str]:
    """Symbols of the first column of chapter 00's glossary table."""
    text = (CHAPTERS / "00_welcome.py").read_text(encoding="utf-8")
    table = text[text.index("### The notation table"):text.index("## See it")]
    first = [row.split("|")[1] for row in table.splitlines() if row.startswith("# | ")]
    return symbols(" ".join(first))


@pytest.mark.parametrize("chapter", sorted(p.name for p in CHAPTERS.glob("[0-9][0-9]_*.py")))
def test_every_symbol_is_in_the_glossary(chapter):
    missing = symbols(markdown_math(CHAPTERS / chapter)) - glossary() - ALLOW
    assert not missing, f"{chapter}: symbols missing from chapter 00's glossary: {sorted(missing)}"

"""Lecture slides (issue 9): `make slides` builds a reveal.js deck per chapter; here one deck is built and read back.

Oracles: the notebook's own headings (the convention in tools/slides.py: ``#``/``##`` start a slide, ``###`` a
sub-slide), counted by hand against the ``<section>`` elements of the written deck, parsed with html.parser; the
file system (every local script and stylesheet the deck names exists next to it).
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import slides  # noqa: E402

import _course  # noqa: E402


class Sections(HTMLParser):
    """Counts reveal.js slides: <section> elements directly inside div.slides, and those nested one level deeper."""

    def __init__(self):
        super().__init__()
        self.depth, self.in_slides, self.top, self.nested = 0, False, 0, 0
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "slides" in (attrs.get("class") or "").split():
            self.in_slides = True
        if tag == "section" and self.in_slides:
            self.depth += 1
            self.top += self.depth == 1
            self.nested += self.depth == 2
        if tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.assets.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "section" and self.in_slides:
            self.depth -= 1


def test_slide_convention_on_the_fixture():
    """Oracle: the fixture's headings read by hand — title, Theory, See it, Play, Exercise, Summary start slides;
    'Exercise 2' (a ### heading) starts a sub-slide; nothing else does."""
    nb = slides.mark(jupytext.read(_course.FIXTURE))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    starts = [c.source.splitlines()[0] for c, k in zip(nb.cells, kinds) if k != "-"]
    assert starts == ["# 99 · A miniature chapter (test fixture)", "## Theory", "## See it", "## Play",
                      "## Exercise", "### Exercise 2 · The signal-to-noise ratio", "## Summary"]
    assert kinds.count("subslide") == 1


def test_build_one_deck(tmp_path):
    """Build the deck of the first chapter (or of the executed fixture while there is none) the way `make slides`
    does, and check it: one top-level <section> per slide cell, one nested <section> per slide or sub-slide, every
    local asset present; with the offline assets (npm reachable), no reveal.js or MathJax from a CDN."""
    notebook = (_course.chapters() or [_course.executed_fixture(tmp_path / "nb")])[0]
    (deck,) = slides.build([notebook], tmp_path / "slides")
    marked = slides.mark(nbformat.read(notebook, as_version=4))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in marked.cells]
    html = deck.read_text(encoding="utf-8")
    parsed = Sections()
    parsed.feed(html)
    assert parsed.top == kinds.count("slide") >= 2
    assert parsed.nested == kinds.count("slide") + kinds.count("subslide")
    # long slides scroll inside the slide (90 % of its 1000 px), not inside 95 % of the window (tools/slides.py)
    assert "calc(95vh)" not in html and f".css('height', '{round(0.9 * slides.HEIGHT)}px')" in html
    assert f"width: {slides.WIDTH}," in html and f"height: {slides.HEIGHT}," in html
    local = [a.split("?")[0] for a in parsed.assets if not re.match(r"(https?:)?//|data:", a)]
    missing = [a for a in local if not (deck.parent / a).is_file()]
    assert not missing, f"the deck names local files that are not there: {missing}"
    if (deck.parent / "_static").is_dir():
        assert not re.search(r"unpkg\.com/reveal|cdnjs[^\"']*mathjax|cdnjs[^\"']*require", html)
        print(f"{deck.name}: {parsed.top} slides, {parsed.nested - parsed.top} sub-slides; reveal.js and MathJax local")
    else:
        print(f"{deck.name}: {parsed.top} slides; offline assets unavailable (no npm): reveal.js from its CDN")
    errors = [c for c in nbformat.read(notebook, as_version=4).cells
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert not errors, "the notebook behind the deck holds error outputs"

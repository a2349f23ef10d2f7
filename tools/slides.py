"""Lecture slides: one reveal.js deck per chapter, built from the executed notebooks by nbconvert's SlidesExporter.

The convention (set here, when the deck is built, so that the chapter sources carry no slide metadata):
a markdown cell that opens with a level-1 or level-2 heading (``# 03 · …``, ``## Theory``) starts a new slide, one
that opens with a level-3 heading (``### Exercise 1 · …``) starts a sub-slide (reveal.js's vertical stack below the
section's slide), every other cell continues the current slide. Code and outputs stay on the slides (long slides
scroll; the nbval markers are cell tags, which a deck does not show). ``make slides`` writes
``slides/NN_topic.slides.html`` with reveal.js, require.js, MathJax and the widgets' HTML manager copied next to them
(``tools.vendor``), so a deck opens offline from the file system.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

from tools import vendor

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1600, 1000  # the slide's size in reveal.js's own pixels (scaled to the screen)
SLIDE = re.compile(r"^#{1,2}\s")
SUBSLIDE = re.compile(r"^###\s")


def slide_type(cell) -> str:
    """'slide', 'subslide' or '-' (continue) by the convention above."""
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        if SLIDE.match(first):
            return "slide"
        if SUBSLIDE.match(first):
            return "subslide"
    return "-"


def mark(nb):
    """A copy of ``nb`` with ``metadata.slideshow.slide_type`` set on every cell by the convention (the first cell
    always starts a slide)."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        cell.metadata["slideshow"] = {"slide_type": "slide" if i == 0 else slide_type(cell)}
    return nb


def exporter(settings: dict[str, str] | None) -> SlidesExporter:
    """nbconvert's SlidesExporter, scrolling long slides, pointed at the vendored assets when there are any.

    The slide is 1600 × 1000 (reveal.js scales it to the screen) instead of reveal's 960 × 700, and the ``In [n]:``
    prompts are left out, so that a chapter's code lines (up to 120 characters) fit across a slide."""
    slides = SlidesExporter(reveal_scroll=True, reveal_number="c/t", reveal_transition="none", reveal_width=str(WIDTH),
                            reveal_height=str(HEIGHT), exclude_input_prompt=True, exclude_output_prompt=True)
    for name, value in (settings or {}).items():
        setattr(slides, name, value)
    return slides


def scroll_within_the_slide(body: str) -> str:
    """nbconvert's template gives a long slide a scroll box ``95vh`` high, but inside reveal.js's scaled slide that
    is 95 % of the window counted in slide pixels: on a screen smaller than the slide the box ends above the bottom
    edge, on a larger one below it (out of sight). Make it 90 % of the slide instead (the slide's padding and the
    box's top margin take the rest), and give the first slide its box too (the template only does it on a change of
    slide)."""
    patches = {".css('height', 'calc(95vh)')": f".css('height', '{round(0.9 * HEIGHT)}px')",
               "Reveal.addEventListener('slidechanged', setScrollingSlide);":
                   "Reveal.addEventListener('slidechanged', setScrollingSlide);\n"
                   "        Reveal.addEventListener('ready', setScrollingSlide);"}
    for old, new in patches.items():
        if body.count(old) != 1:
            raise RuntimeError(f"nbconvert's reveal template changed: {old!r} not found once in the deck")
        body = body.replace(old, new)
    return body


def build(notebooks: list[Path], out: Path, offline: bool = True) -> list[Path]:
    """Write one deck per notebook into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    settings = vendor.assets(out) if offline else None
    written = []
    for path in notebooks:
        body, _ = exporter(settings).from_notebook_node(mark(nbformat.read(path, as_version=4)))
        body = scroll_within_the_slide(body)
        target = out / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/NN_topic.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "slides", help="output folder (default: slides/)")
    parser.add_argument("--cdn", action="store_true", help="load reveal.js, MathJax, … from CDNs (no npm needed)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print("slides: no chapter notebooks yet (chapters/NN_topic.ipynb)")
        return 0
    for path in build(notebooks, args.out, offline=not args.cdn):
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

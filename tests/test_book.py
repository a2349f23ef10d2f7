"""The static site (issue 9): `make book` renders every chapter with its outputs into HTML pages with a contents page.

Oracles: the notebooks themselves (each figure output must appear in its page as an embedded image; each ``##``
section must be listed in the contents), the file system (every local link and asset exists), and the page text (no
stylesheet or script that the core text needs comes from the internet when the offline assets are there).
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters import markdown2html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import book  # noqa: E402

import _course  # noqa: E402

HREF = re.compile(r'(?:href|src)="([^"]+)"')


def figures(nb) -> int:
    """How many PNG outputs the notebook holds outside widgets (each becomes an <img> in the page)."""
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_book_of_every_chapter(tmp_path):
    """Build the site from every chapter (or the executed fixture while there is none) and check it: an index that
    links every page and every ``##`` section; each page with its figures embedded, its contents/previous/next links,
    and every local link or asset present; with offline assets, MathJax and the widget manager local."""
    notebooks = _course.chapters() or [_course.executed_fixture(tmp_path / "nb")]
    out = tmp_path / "_book"
    written = book.build(notebooks, out)
    assert [p.name for p in written] == [f"{p.stem}.html" for p in notebooks] + ["index.html"]
    index = (out / "index.html").read_text(encoding="utf-8")
    offline = (out / "_static").is_dir()
    for k, notebook in enumerate(notebooks):
        nb = nbformat.read(notebook, as_version=4)
        page = (out / f"{notebook.stem}.html").read_text(encoding="utf-8")
        title, intro = book.title_and_intro(nb)
        assert f'href="{notebook.stem}.html"' in index and html.escape(title.split("·")[-1].strip()) in index
        if intro:  # the whole "You will" sentence, however many source lines it spans, rendered from markdown
            assert intro.startswith("**You will**") and intro.endswith("."), f"{notebook.name}: intro {intro!r}"
            assert markdown2html(intro) in index
        sections = re.findall(r"^## (.+)$", "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"), re.M)
        listed = re.findall(rf'href="{re.escape(notebook.stem)}\.html#[^"]+">([^<]+)<', index)
        assert [s.strip() for s in sections] == listed, f"{notebook.name}: sections {sections} but contents {listed}"
        assert page.count('src="data:image/png;base64,') >= figures(nb) >= 0
        assert 'href="index.html"' in page
        if k > 0:
            assert f'href="{notebooks[k - 1].stem}.html"' in page
        if k + 1 < len(notebooks):
            assert f'href="{notebooks[k + 1].stem}.html"' in page
        local = {h.split("#")[0].split("?")[0] for h in HREF.findall(page) if not re.match(r"[a-z]+:|#|//", h)}
        missing = sorted(h for h in local if h and not (out / h).is_file())
        assert not missing, f"{notebook.name}: links to missing files {missing}"
        external_css = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="https?://[^"]+"', page)
        assert not external_css, f"{notebook.name}: stylesheets from the internet {external_css}"
        if offline:
            assert "cdnjs.cloudflare.com/ajax/libs/mathjax" not in page and "unpkg.com" not in page
    if offline:
        assert 'src="_static/mathjax/MathJax.js' in index and "cdnjs" not in index
    print(f"{len(notebooks)} page(s); offline assets: {'yes' if offline else 'no (no npm): MathJax from its CDN'}")

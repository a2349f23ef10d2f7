"""The static site (issue 9): `make book` renders every chapter with its outputs into HTML pages with a contents page.

Oracles: the notebooks themselves (each figure output must appear in its page as an embedded image; each ``##``
section must be listed in the contents; a notebook read by hand for the folded sections), the file system (every local link and asset exists), and the page text (no
stylesheet or script that the core text needs comes from the internet when the offline assets are there).
"""
from __future__ import annotations

import html
import re
import sys
from html.parser import HTMLParser
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


class _Where(HTMLParser):
    """For every text of a page: how many ``<details>`` enclose it, whether it is in a ``<summary>``, and whether
    every enclosing ``<details>`` is closed (no ``open`` attribute)."""

    def __init__(self):
        super().__init__()
        self.stack, self.texts = [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("details", "summary"):
            self.stack.append((tag, "open" in dict(attrs)))

    def handle_endtag(self, tag):
        if tag in ("details", "summary"):
            assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes {self.stack[-1:]}"
            self.stack.pop()

    def handle_data(self, data):
        if data.strip():
            depth = sum(t == "details" for t, _ in self.stack)
            summary = bool(self.stack) and self.stack[-1][0] == "summary"
            self.texts.append((data.strip(), depth, summary, not any(o for _, o in self.stack)))


def test_a_collapsed_section_is_a_closed_details():
    """Oracle: a five-section notebook read by hand. The collapsed "## Check it" heading is the summary of a closed
    ``<details>`` that holds the rest of its cell and every cell up to "## Play", a collapsed "###" heading inside it
    nests a second one; the headings and cells outside stay outside, and the tags are balanced."""
    v4 = nbformat.v4
    fold = {"jp-MarkdownHeadingCollapsed": True}
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# 99 · Folds\n**You will** fold."), v4.new_markdown_cell("## See it"),
        v4.new_code_cell("print('seen')"), v4.new_markdown_cell("## Check it · numbers\nthe rest", metadata=fold),
        v4.new_code_cell("print('checked')"), v4.new_markdown_cell("### Deep dive · more", metadata=fold),
        v4.new_code_cell("print('deeper')"), v4.new_markdown_cell("## Play"), v4.new_code_cell("print('played')")])
    assert book.folds(nb.cells) == [(3, 7), (5, 7)] and book.hidden(nb.cells) == {4, 5, 6}
    where = _Where()
    where.feed(book.page(nb, "99 · Folds", None))
    assert not where.stack, f"unclosed {where.stack}"
    got = {text: place for text, *place in where.texts if text in (
        "See it", "'seen'", "Check it · numbers", "the rest", "'checked'", "Deep dive · more", "'deeper'", "Play",
        "'played'")}
    assert got == {"See it": [0, False, True], "'seen'": [0, False, True], "Check it · numbers": [1, True, True],
                   "the rest": [1, False, True], "'checked'": [1, False, True], "Deep dive · more": [2, True, True],
                   "'deeper'": [2, False, True], "Play": [0, False, True], "'played'": [0, False, True]}, got


def test_heading_level_is_jupyterlabs():
    """Oracle: JupyterLab 4's ``MarkdownCell.headingInfo`` (the highest-rank heading of the cell), read by hand."""
    v4 = nbformat.v4
    cases = {"## A\n### B": 2, "text\n### B": 3, "no heading": 0, "```\n# a comment\n```\n#### D": 4, "#hashtag": 0}
    for source, level in cases.items():
        assert book.heading_level(v4.new_markdown_cell(source)) == level, source
    assert book.heading_level(v4.new_code_cell("# ## not markdown")) == 0

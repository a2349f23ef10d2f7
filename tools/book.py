"""The course as a static web site: every chapter, with its committed outputs, as an HTML page, plus a contents page.

Built with nbconvert's HTMLExporter (the JupyterLab look; figures embedded in the page as data URIs) and a small
index written here: no Jupyter Book, no extra dependency. ``make book`` writes ``_book/index.html`` (the table of
contents: each chapter's title, its "You will" line and links to its sections) and ``_book/NN_topic.html`` (each with
links to the contents and to the previous and next chapter). Text, code, figures and styles are inside each page;
MathJax, require.js, jQuery and the widgets' HTML manager are copied into ``_book/_static`` by ``tools.vendor``, so
the site reads offline from the file system. Widget panels show their controls and first figure; they need a
running kernel (JupyterLab or Binder) to respond.

A section whose heading cell is collapsed in JupyterLab (cell metadata ``jp-MarkdownHeadingCollapsed``: the chapters
fold their "Check it" and "Deep dive" sections) becomes a closed ``<details>`` element whose ``<summary>`` is the
heading: the page holds everything, and a reader's path through it is as short as in JupyterLab.
"""
from __future__ import annotations

import argparse
import copy
import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html

from tools import slides, vendor

ROOT = Path(__file__).resolve().parent.parent
H2 = re.compile(r'<h2 id="(?P<id>[^"]+)">(?P<text>.*?)<a class="anchor-link"', re.S)
STYLE = """<style>
nav.diffedu { font: 15px/1.4 system-ui, sans-serif; padding: 8px 16px; border-bottom: 1px solid #ddd;
              display: flex; gap: 24px; background: #fafafa; }
nav.diffedu a { text-decoration: none; }
details.diffedu-fold > summary { cursor: pointer; list-style: none; }
details.diffedu-fold > summary::-webkit-details-marker { display: none; }
details.diffedu-fold > summary :is(h2, h3, h4)::after { content: "  ▸ folded, click to open"; font-size: .55em;
                                                       font-weight: normal; color: #888; }
details.diffedu-fold[open] > summary :is(h2, h3, h4)::after { content: "  ▾"; }
</style>"""
COLLAPSED = "jp-MarkdownHeadingCollapsed"  # JupyterLab's cell metadata for a folded heading
FENCE = re.compile(r"^ {0,3}```.*?^ {0,3}```", re.M | re.S)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+\S", re.M)
FOLD = {"open": '<details class="diffedu-fold"><summary>', "summary": "</summary>", "close": "</details>"}


def title_and_intro(nb) -> tuple[str, str]:
    """The chapter's title (its first ``#`` heading) and its "You will …" sentence (up to "You need", if the same
    paragraph goes on) as markdown, its LaTeX left for MathJax."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown" and c.source.strip()), "")
    match = re.search(r"^#\s+(.+)$", first, re.M)
    title = match[1].strip() if match else "Untitled"
    paragraph = next((p for p in re.split(r"\n\s*\n", first) if "You will" in p), "")
    intro = re.split(r"\*\*You need\*\*|\bYou need\b", " ".join(paragraph.split()))[0]
    return title, intro.strip()


def heading_level(cell) -> int:
    """A markdown cell's level as JupyterLab reads it: its highest-rank ATX heading (1 for ``#``, 2 for ``##``, …;
    JupyterLab 4's ``MarkdownCell.headingInfo``), 0 for a cell without a heading (lines inside code fences do not
    count) and for every other kind of cell."""
    if cell.cell_type != "markdown":
        return 0
    levels = [len(m[1]) for m in HEADING.finditer(FENCE.sub("", cell.source))]
    return min(levels, default=0)


def folds(cells) -> list[tuple[int, int]]:
    """``(start, end)`` of every collapsed section: cell ``start`` is a markdown cell with a heading and
    ``jp-MarkdownHeadingCollapsed`` set, and it hides cells ``start + 1`` … ``end − 1``, up to the next cell whose
    heading has the same or a higher rank (JupyterLab's rule) or the end of the notebook."""
    found = []
    for i, cell in enumerate(cells):
        level = heading_level(cell)
        if level and cell.metadata.get(COLLAPSED):
            end = next((j for j in range(i + 1, len(cells)) if 0 < heading_level(cells[j]) <= level), len(cells))
            found.append((i, end))
    return found


def hidden(cells) -> set[int]:
    """The indices of the cells a reader does not see while every collapsed heading stays collapsed."""
    return {j for start, end in folds(cells) for j in range(start + 1, end)}


def _marker(kind: str, key: str):
    """A raw cell that holds only a token, replaced by ``FOLD[kind]`` in the page (nbconvert sanitises raw HTML)."""
    cell = nbformat.v4.new_raw_cell(f"@@diffedu-fold-{kind}@@", metadata={"raw_mimetype": "text/html"})
    cell.id = f"fold-{key}-{kind}"
    return cell


def with_folds(nb):
    """A copy of ``nb`` with each collapsed section between marker cells: open, the heading line, summary, the rest
    of the heading cell and the hidden cells, close (sections nest as the headings do)."""
    nb = copy.deepcopy(nb)
    sections = folds(nb.cells)
    starts, closing = dict(sections), [end for _, end in sections]
    cells = []
    for i, cell in enumerate(nb.cells):
        cells += [_marker("close", f"{i}-{k}") for k in range(closing.count(i))]
        if i not in starts:
            cells.append(cell)
            continue
        lines = cell.source.splitlines()
        first = next(k for k, line in enumerate(lines) if HEADING.match(line))
        rest = "\n".join(lines[first + 1:]).strip()
        cell.source = "\n".join(lines[:first + 1])
        cells += [_marker("open", str(i)), cell, _marker("summary", str(i))]
        if rest:
            cells.append(nbformat.v4.new_markdown_cell(rest, id=f"{cell.get('id', i)}-body"))
    cells += [_marker("close", f"end-{k}") for k in range(closing.count(len(nb.cells)))]
    nb.cells = cells
    return nb


def nav(prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    """The bar at the top of a chapter page: contents, previous and next chapter (href, title)."""
    links = ['<a href="index.html">☰ Contents</a>']
    if prev:
        links.append(f'<a href="{prev[0]}">← {html.escape(prev[1])}</a>')
    if nxt:
        links.append(f'<a href="{nxt[0]}">{html.escape(nxt[1])} →</a>')
    return f'{STYLE}<nav class="diffedu">{" ".join(links)}</nav>'


def page(nb, title: str, settings: dict[str, str] | None) -> str:
    """One chapter as a standalone HTML page (nbconvert's lab template, images embedded), each collapsed section a
    closed ``<details>`` whose ``<summary>`` is its heading."""
    nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    for name, value in (settings or {}).items():
        setattr(exporter, name, value)
    body, _ = exporter.from_notebook_node(with_folds(nb))
    for kind, tag in FOLD.items():
        body = body.replace(f"@@diffedu-fold-{kind}@@", tag)
    return body


def index(entries: list[dict], mathjax_url: str) -> str:
    """The contents page: one entry per chapter with its sections; MathJax typesets the formulas of the intros."""
    items = []
    for e in entries:
        sections = "".join(f'<li><a href="{e["href"]}#{s_id}">{s_text}</a></li>' for s_id, s_text in e["sections"])
        items.append(f'<li><h2><a href="{e["href"]}">{html.escape(e["title"])}</a></h2>'
                     f'{markdown2html(e["intro"])}<ul class="sections">{sections}</ul></li>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>diffedu — contents</title>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], processEscapes: true}}}});
</script>
<script src="{mathjax_url}"></script>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; color: #222; }}
ol.chapters > li {{ margin-bottom: 1.2em; }} h2 {{ font-size: 1.2em; margin: 0; }} p {{ margin: .2em 0; }}
ul.sections {{ display: flex; flex-wrap: wrap; gap: .2em 1.2em; padding: 0; list-style: none; font-size: .9em; }}
</style></head><body>
<h1>diffedu — an interactive course on diffusion models</h1>
<p>Every chapter with its outputs, as rendered from the executed notebooks. To run the code and move the sliders,
open the chapters in JupyterLab (<code>make lab</code>; on Binder once the repository is public).</p>
<ol class="chapters">
{"".join(items)}
</ol></body></html>
"""


def build(notebooks: list[Path], out: Path, offline: bool = True) -> list[Path]:
    """Write one page per notebook and ``index.html`` into ``out``; returns the paths written (index last)."""
    out.mkdir(parents=True, exist_ok=True)
    settings = vendor.assets(out) if offline else None
    books = [(path, nbformat.read(path, as_version=4)) for path in notebooks]
    heads = [(f"{path.stem}.html", title_and_intro(nb)[0]) for path, nb in books]
    entries, written = [], []
    for k, (path, nb) in enumerate(books):
        title, intro = title_and_intro(nb)
        body = page(nb, title, settings)
        bar = nav(heads[k - 1] if k > 0 else None, heads[k + 1] if k + 1 < len(heads) else None)
        body = re.sub(r"(<body[^>]*>)", lambda m: m[1] + bar, body, count=1)
        target = out / heads[k][0]
        target.write_text(body, encoding="utf-8")
        written.append(target)
        sections = [(m["id"], re.sub(r"<[^>]+>", "", m["text"]).strip()) for m in H2.finditer(body)]
        entries.append({"href": target.name, "title": title, "intro": intro, "sections": sections})
    mathjax_url = (settings or {}).get("mathjax_url", HTMLExporter().mathjax_url)
    (out / "index.html").write_text(index(entries, mathjax_url), encoding="utf-8")
    return written + [out / "index.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/NN_topic.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "_book", help="output folder (default: _book/)")
    parser.add_argument("--cdn", action="store_true", help="load MathJax, … from CDNs (no npm needed)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    written = build(notebooks, args.out, offline=not args.cdn)
    print(f"  {len(written) - 1} chapter page(s) and {written[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

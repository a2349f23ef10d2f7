"""The course as a static web site: every chapter, with its committed outputs, as an HTML page, plus a contents page.

Built with nbconvert's HTMLExporter (the JupyterLab look; figures embedded in the page as data URIs) and a small
index written here: no Jupyter Book, no extra dependency. ``make book`` writes ``_book/index.html`` (the table of
contents: each chapter's title, its "You will" line and links to its sections) and ``_book/NN_topic.html`` (each with
links to the contents and to the previous and next chapter). Text, code, figures and styles are inside each page;
MathJax, require.js, jQuery and the widgets' HTML manager are copied into ``_book/_static`` by ``tools.vendor``, so
the site reads offline from the file system. Widget panels show their controls and first figure; they need a
running kernel (JupyterLab or Binder) to respond.
"""
from __future__ import annotations

import argparse
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
</style>"""


def title_and_intro(nb) -> tuple[str, str]:
    """The chapter's title (its first ``#`` heading) and its "You will …" sentence (up to "You need", if the same
    paragraph goes on) as markdown, its LaTeX left for MathJax."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown" and c.source.strip()), "")
    match = re.search(r"^#\s+(.+)$", first, re.M)
    title = match[1].strip() if match else "Untitled"
    paragraph = next((p for p in re.split(r"\n\s*\n", first) if "You will" in p), "")
    intro = re.split(r"\*\*You need\*\*|\bYou need\b", " ".join(paragraph.split()))[0]
    return title, intro.strip()


def nav(prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    """The bar at the top of a chapter page: contents, previous and next chapter (href, title)."""
    links = ['<a href="index.html">☰ Contents</a>']
    if prev:
        links.append(f'<a href="{prev[0]}">← {html.escape(prev[1])}</a>')
    if nxt:
        links.append(f'<a href="{nxt[0]}">{html.escape(nxt[1])} →</a>')
    return f'{STYLE}<nav class="diffedu">{" ".join(links)}</nav>'


def page(nb, title: str, settings: dict[str, str] | None) -> str:
    """One chapter as a standalone HTML page (nbconvert's lab template, images embedded)."""
    nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    for name, value in (settings or {}).items():
        setattr(exporter, name, value)
    body, _ = exporter.from_notebook_node(nb)
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

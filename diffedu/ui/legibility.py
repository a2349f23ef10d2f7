"""How big a figure's text is where the reader sees it: JupyterLab shows an inline PNG at its own pixel size, shrunk
to the output area's width when wider (``max-width: 100%``). At the default 1,400-px window that width is about
1,000 px (``NOTEBOOK_PX``), so a 15-inch figure at 100 dpi is shown at 2/3 of its size.
"""
from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["NOTEBOOK_PX", "MIN_TEXT_PX", "shown_scale", "text_px", "smallest_text", "overlapping_titles"]

NOTEBOOK_PX = 1000  # the output area's width in JupyterLab at a 1,400-px window
MIN_TEXT_PX = 10.0  # the smallest text a projector (and a reader at arm's length) can take


def _visible_texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is not None
            and (t.axes is None or t.axes.get_visible())]


def shown_scale(fig: Figure, notebook_px: float = NOTEBOOK_PX) -> float:
    """The factor JupyterLab scales the figure's PNG by: min(1, notebook_px / width), the width in pixels of the
    tight bounding box that the inline backend saves (``bbox_inches="tight"``) at the figure's dpi."""
    renderer = fig.canvas.get_renderer()
    width = fig.get_tightbbox(renderer).width * fig.dpi
    return min(1.0, notebook_px / width)


def text_px(t: Text, scale: float) -> float:
    """The height in screen pixels of a text's font: its size in points at the figure's dpi, times ``scale``."""
    return t.get_fontsize() * t.figure.dpi / 72 * scale


def smallest_text(fig: Figure, notebook_px: float = NOTEBOOK_PX) -> tuple[float, str]:
    """(px, text) of the smallest visible text of ``fig`` as JupyterLab shows it; (inf, '') for a figure without
    text."""
    if not hasattr(fig.canvas, "get_renderer"):  # a Figure made without pyplot
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # lays out the figure (constrained layout, tick labels) as it will be saved
    scale = shown_scale(fig, notebook_px)
    sizes = [(text_px(t, scale), t.get_text()) for t in _visible_texts(fig)]
    return min(sizes, default=(float("inf"), ""))


def overlapping_titles(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of axes titles and suptitles whose drawn boxes overlap (colliding titles), after a draw."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes] + [f._suptitle for f in (fig, *fig.subfigs) if f._suptitle is not None]
    titles = [t for t in titles if t.get_visible() and t.get_text().strip()]
    boxes = [(t, t.get_window_extent(renderer)) for t in titles]
    return [(a.get_text(), b.get_text()) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
            if ba.overlaps(bb)]

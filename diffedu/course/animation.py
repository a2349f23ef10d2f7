"""Opening animations of chapters 07–12: a figure and its per-frame update, rendered to self-contained HTML/JavaScript
(``matplotlib.animation.FuncAnimation.to_jshtml``) so that they play offline in JupyterLab, the static book and the
slides. The chapters' own modules compute the frames; this module only turns them into a player."""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation

from ..checks import require_integer

__all__ = ["animation_html", "offline_controls", "opening_axes", "paths_animation", "FONT", "DPI"]

# matplotlib's player draws its buttons with Font Awesome from a CDN; offline those icons are blank, so each one is
# replaced by a plain Unicode symbol and the stylesheet link is dropped
ICONS = {"fa fa-plus": "+", "fa fa-minus": "−", "fa fa-step-forward": "&gt;", "fa fa-step-backward": "&lt;",
         "fa fa-fast-forward": "&gt;|", "fa fa-fast-backward": "|&lt;", "fa fa-play fa-flip-horizontal": "◀",
         "fa fa-play": "▶", "fa fa-pause": "||"}  # glyphs every font has (no emoji font needed)
FONT = 12  # points: 12 px at 72 dpi, and more when the notebook shows the figure wider than its pixels
DPI = 72  # a 10-inch figure is 720 px; the frames stay small


def opening_axes(ncols: int, width: float = 10.0, height: float = 3.4):
    """A figure of ``ncols`` panels in one row at ``DPI`` (fonts of ``FONT`` points stay ≥ 10 px)."""
    ncols = require_integer("ncols", ncols)
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=DPI, layout="constrained", squeeze=False)
    return fig, axes[0]


def animation_html(fig, update: Callable[[int], None], n_frames: int, interval_ms: int = 450) -> str:
    """The animation ``update(0..n_frames-1)`` of ``fig`` as HTML with JavaScript controls (frames embedded as JPEG;
    keep ``n_frames`` ≤ 30 and the figure small so the page stays under ~1 MB). Closes ``fig``."""
    n_frames = require_integer("n_frames", n_frames, lo=1, hi=30)
    anim = FuncAnimation(fig, update, frames=n_frames, interval=interval_ms)
    with plt.rc_context({"animation.frame_format": "jpeg"}):
        html = anim.to_jshtml(default_mode="loop")  # JPEG frames: a third of PNG's size for shaded panels
    plt.close(fig)
    return offline_controls(html)


def offline_controls(html: str) -> str:
    """``html`` of ``to_jshtml`` with its Font Awesome icons replaced by Unicode symbols and the CDN link removed, so
    that the player's buttons are labelled with no network."""
    start = html.find('<link rel="stylesheet"')
    if start >= 0:
        html = html[:start] + html[html.index(">", start) + 1:]
    for cls, symbol in ICONS.items():
        html = html.replace(f'<i class="{cls}"></i>', symbol)
    return html


def paths_animation(panels: list[tuple[str, object]], frame_titles: list[str], *, n_trails: int = 40,
                    lim: float = 3.2, background=None, height: float = 3.9):
    """Points moving along 2-D paths, one panel per (title, path) with path of shape (n_frames, n, 2) (a tensor or
    array), trails of the first ``n_trails`` points up to the current frame; ``frame_titles[k]`` is the figure's
    title at frame k; ``background`` (optional) is an (n, 2) array of reference points in grey. Returns
    (fig, update, n_frames) for ``animation_html``."""
    n_frames = len(frame_titles)
    paths = [(title, path.numpy() if hasattr(path, "numpy") else path) for title, path in panels]
    if any(p.shape[0] != n_frames for _, p in paths):
        raise ValueError(f"every path needs {n_frames} frames (one per frame title)")
    fig, axes = opening_axes(len(paths), height=height)

    def update(k: int):
        for ax, (title, p) in zip(axes, paths):
            ax.clear()
            if background is not None:
                ax.scatter(background[:, 0], background[:, 1], s=3, color="0.8")
            for j in range(min(n_trails, p.shape[1])):
                ax.plot(p[: k + 1, j, 0], p[: k + 1, j, 1], color="C3", lw=0.8, alpha=0.7)
            ax.scatter(p[k, :, 0], p[k, :, 1], s=5, color="C0")
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
            ax.set_title(title, fontsize=FONT)
        fig.suptitle(frame_titles[k], fontsize=FONT)

    return fig, update, n_frames

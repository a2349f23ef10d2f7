"""A widget panel that a front end cannot draw says so in a sentence, not as ``VBox(children=(HBox(…``.

Oracle: the mimebundle ipywidgets hands to the front end (``_repr_mimebundle_``). JupyterLab draws the
``application/vnd.jupyter.widget-view+json`` entry when its widget renderer is ready; when it is not (the page still
loading on a busy machine, or a viewer without ipywidgets), it shows the ``text/plain`` entry instead — which must be
the sentence, while the widget entry stays, pointing at the panel's own model.
"""
from __future__ import annotations

import matplotlib.pyplot as plt

from diffedu.ui.widgets import NO_CONTROLS, panel, slider


def test_a_panel_that_cannot_render_says_so():
    drawn = []

    def draw(x):
        drawn.append(x)
        plt.subplots()[1].plot([0, 1], [0, x])

    built = panel(draw, x=slider(0.5, 0.0, 1.0, 0.1, "x"))
    bundle = built._repr_mimebundle_()
    assert bundle["text/plain"] == NO_CONTROLS and "VBox" not in bundle["text/plain"]
    assert "did not load" in NO_CONTROLS and "Run this cell again" in NO_CONTROLS
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == built.model_id
    assert drawn == [0.5], "the panel draws its figure once when it is built"

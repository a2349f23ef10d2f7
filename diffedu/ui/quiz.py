"""Think questions in a small quiz widget with immediate feedback (the questions: ``diffedu.labs.think.Question``).

``think(*questions)`` shows them in JupyterLab; in a static page (book, slides) each shows its question with the
answer folded away in a ``<details>`` element.
"""
from __future__ import annotations

import html

import ipywidgets as W

from ..labs.think import Question

__all__ = ["think"]


class _QuizBox(W.VBox):
    """A widget box that also carries the static HTML version (shown where widgets cannot run)."""

    def __init__(self, children, static_html: str):
        super().__init__(children)
        self._static_html = static_html

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self._static_html
        return bundle


def _question_widget(q: Question) -> W.VBox:
    prompt = W.HTML(f"<b>Think.</b> {html.escape(q.prompt)}")
    answer = (W.RadioButtons(options=[(c, i) for i, c in enumerate(q.choices)], value=None, layout={"width": "auto"})
              if q.choices else W.Text(placeholder="a number", layout={"width": "12em"}))
    button, feedback = W.Button(description="Check"), W.HTML()

    def on_check(_):
        right, text = q.reply(answer.value)
        colour = "#1a7f37" if right else "#b35900"
        feedback.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    button.on_click(on_check)
    return W.VBox([prompt, answer, button, feedback], layout={"margin": "0 0 1em 0"})


def think(*questions: Question) -> W.VBox:
    """The chapter's Think questions as one quiz widget (static pages show them with the answers folded away)."""
    if not questions or not all(isinstance(q, Question) for q in questions):
        raise TypeError("think() takes one or more Question objects")
    return _QuizBox([_question_widget(q) for q in questions], "".join(q.folded() for q in questions))

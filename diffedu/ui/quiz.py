"""Think questions: multiple choice or a number, answered in a small quiz widget with immediate feedback.

A :class:`Question` holds its prompt, its choices (or none, for a number), the answer and the explanation;
``Question.reply(given)`` is the pure part (tested without widgets). ``think(*questions)`` shows them in JupyterLab;
in a static page (book, slides) each shows its question with the answer folded away in a ``<details>`` element.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import ipywidgets as W

__all__ = ["Question", "think"]


@dataclass(frozen=True)
class Question:
    """A Think question. Multiple choice: ``choices`` and ``answer`` = the index of the right one. A number:
    ``choices=()`` and ``answer`` = the value, accepted within ``tolerance`` (relative)."""
    prompt: str
    answer: float
    explanation: str
    choices: tuple[str, ...] = ()
    tolerance: float = 0.05

    def __post_init__(self):
        if self.choices and not (isinstance(self.answer, int) and 0 <= self.answer < len(self.choices)):
            raise ValueError(f"answer must index one of the {len(self.choices)} choices; got {self.answer!r}")
        if not self.choices and not math.isfinite(self.answer):
            raise ValueError(f"a numeric answer must be finite; got {self.answer!r}")

    def reply(self, given) -> tuple[bool, str]:
        """(right or not, the feedback to show): the explanation, after a verdict that says what was given."""
        if self.choices:
            right = given == self.answer
            verdict = "Right." if right else f"Not quite: the answer is “{self.choices[self.answer]}”."
        else:
            try:
                value = float(given)
            except (TypeError, ValueError):
                return False, "Type a number (e.g. 0.5 or 1e-3)."
            right = math.isfinite(value) and abs(value - self.answer) <= self.tolerance * max(abs(self.answer), 1e-12)
            verdict = "Right." if right else f"Not quite: the answer is {self.answer:g} (you gave {value:g})."
        return right, f"{verdict} {self.explanation}"

    def folded(self) -> str:
        """The question as static HTML, its answer folded away (for the book and the slides)."""
        options = "".join(f"<li>{html.escape(c)}</li>" for c in self.choices)
        answer = self.choices[self.answer] if self.choices else f"{self.answer:g}"
        return (f"<p><b>Think.</b> {html.escape(self.prompt)}</p>" + (f"<ol type='a'>{options}</ol>" if options else "")
                + f"<details><summary>Answer</summary><p>{html.escape(answer)}. {html.escape(self.explanation)}</p>"
                  "</details>")


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

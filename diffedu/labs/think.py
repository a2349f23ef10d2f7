"""Think questions as data: a prompt, choices (or none, for a number), the answer and an explanation.

The questions of a chapter live beside its lab (``diffedu/labs/<topic>.py``, ``THINK``), not in the chapter's cells,
so that the answers are not on the student's screen; ``diffedu.ui.quiz.think`` shows them as a quiz widget.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

__all__ = ["Question"]


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

"""Think questions: every chapter's quiz accepts its right answer and explains a wrong one, in the widget too.

Oracle: each question's own answer (the right one must be accepted, a wrong one refused with the explanation shown);
the questions are each lab module's ``THINK``, and the chapter shows them with ``think(*THINK)`` (the answers are
not in the chapter's cells); then the widget, driven as a student drives it (choose, click "Check"), shows the same
feedback.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from diffedu.labs.think import Question
from diffedu.ui.quiz import think

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
LAB_IMPORT = re.compile(r"from diffedu\.labs\.(\w+) import [^\n]*\bTHINK\b")


def questions_of(chapter: Path) -> list[Question]:
    """The Think questions a chapter shows: THINK of the lab module it imports them from, if it calls think(*THINK)."""
    text = chapter.read_text()
    modules = LAB_IMPORT.findall(text)
    if not modules or "think(*THINK)" not in text:
        return []
    return list(importlib.import_module(f"diffedu.labs.{modules[0]}").THINK)


def wrong_answer(q: Question):
    return (q.answer + 1) % len(q.choices) if q.choices else q.answer * 3 + 1


WITH_QUIZ = [c for c in CHAPTERS if questions_of(c)]


@pytest.mark.parametrize("chapter", WITH_QUIZ, ids=lambda p: p.stem)
def test_every_think_question_accepts_its_answer_and_explains_a_wrong_one(chapter):
    qs = questions_of(chapter)
    assert 2 <= len(qs) <= 4, f"{chapter.name}: {len(qs)} Think questions (2–4 per chapter)"
    for q in qs:
        right, text = q.reply(q.answer)
        assert right and q.explanation in text
        right, text = q.reply(wrong_answer(q))
        assert not right and text.startswith("Not quite") and q.explanation in text


@pytest.mark.parametrize("chapter", WITH_QUIZ, ids=lambda p: p.stem)
def test_the_quiz_widget_gives_the_same_feedback(chapter):
    box = think(*questions_of(chapter))
    for q, view in zip(questions_of(chapter), box.children):
        _, answer, button, feedback = view.children
        for given, verdict in ((wrong_answer(q), "Not quite"), (q.answer, "Right.")):
            answer.value = given if q.choices else str(given)
            button.click()
            assert verdict in feedback.value and "<details>" not in feedback.value


def test_static_pages_fold_the_answer_away():
    """Oracle: the HTML a static page shows holds the question, and the answer only inside <details>."""
    q = Question("Which?", choices=("a", "b"), answer=1, explanation="Because.")
    page = think(q, Question("How many?", answer=2.0, explanation="Two."))._repr_mimebundle_()["text/html"]
    assert "Which?" in page and page.index("<details>") < page.index("b. Because.")


def test_no_chapter_shows_an_answer_in_a_think_cell():
    """Oracle: the chapters' sources — a Think cell only calls think(*THINK); no Question(...) is written in one."""
    for chapter in CHAPTERS:
        assert "Question(" not in chapter.read_text(), f"{chapter.name} writes its Think questions in a cell"


def test_bad_questions_are_refused():
    with pytest.raises(ValueError, match="answer"):
        Question("?", choices=("a", "b"), answer=2, explanation="")
    with pytest.raises(ValueError, match="finite"):
        Question("?", answer=float("nan"), explanation="")
    with pytest.raises(TypeError, match="Question"):
        think("not a question")
    assert Question("?", answer=1.0, explanation="x").reply("abc") == (False, "Type a number (e.g. 0.5 or 1e-3).")

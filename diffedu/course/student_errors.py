"""What an exception raised inside a student's function usually means: one table and one wrapper for the warm-ups'
``check_…`` (:mod:`diffedu.course.exercises`) and the Build-it labs' grader (:mod:`diffedu.labs.grading`).

``guarded(fn)`` runs the student's function and turns any exception it raises into a :class:`StudentError` (the
check's own ``AssertionError`` on a wrong answer is raised outside it and passes unchanged). The reply names the
likely cause and repeats the exception's own message; it never gives the answer.
"""
from __future__ import annotations

import functools
from typing import Callable

__all__ = ["StudentError", "guarded", "explain", "stub_title"]

STUB_TAIL = ": replace this line with your code"  # the end of the student edition's stub message (tools/student.py)

_MEANINGS = (  # (exception type, words in its message, what it usually means)
    (NotImplementedError, "", "this is the stub: replace the `raise NotImplementedError` line with your code"),
    (TypeError, "returned None", "your function returned None — did you forget `return`?"),
    (ValueError, "math domain error", "math.sqrt or math.log of a negative number (or log of 0): is a variance "
                                      "negative, or did you mix up α and σ, or ᾱ and α?"),
    (RuntimeError, "size", "the shapes of two tensors do not fit: print the shapes; x has one row per sample "
                           "(N, D), a time or a noise level is a number or one per sample"),
    (RuntimeError, "shape", "the shapes of two tensors do not fit: print the shapes (x is (N, D))"),
    (RuntimeError, "dtype", "two tensors of different dtypes meet: keep x's dtype (e.g. `torch.randn(x.shape, "
                            "dtype=x.dtype)`)"),
    (ZeroDivisionError, "", "a division by zero: a σ, a step size or a count is 0 somewhere — the step into σ = 0 "
                            "needs its own branch"),
    (RuntimeError, "backward through the graph a second time", "a tensor made with the graph of an earlier step is "
                   "used again (e.g. pairs made by a network without torch.no_grad()): make it under torch.no_grad() "
                   "or .detach() it"),
    (IndexError, "", "an index out of range: check the bounds of your loop (an off-by-one in the grid?)"),
    (TypeError, "", "a value of the wrong type: a tensor where a number is expected (use float(t)), or a function "
                    "called with the wrong arguments"),
)


def explain(error: BaseException) -> str:
    """What an exception raised inside a student's function usually means, with its own message."""
    text = str(error)
    for kind, words, meaning in _MEANINGS:
        if isinstance(error, kind) and words in text:
            return f"{meaning} ({type(error).__name__}: {text})" if text and words != "returned None" else meaning
    return f"your function raised {type(error).__name__}: {text}"


def stub_title(error: BaseException) -> str:
    """The exercise a student-edition stub names (e.g. 'Warm-up 1 · ᾱ from β (alpha_bar)'), or '' when ``error`` is
    not a stub's ``NotImplementedError``."""
    text = str(error)
    return text[: -len(STUB_TAIL)] if isinstance(error, NotImplementedError) and text.endswith(STUB_TAIL) else ""


class StudentError(Exception):
    """An exception raised inside the student's function (``.error``), with what it usually means as its message."""

    def __init__(self, error: BaseException):
        super().__init__(explain(error))
        self.error = error


def guarded(fn: Callable) -> Callable:
    """The student's ``fn``, with any exception it raises re-raised as a :class:`StudentError`."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 — any error of the student's code becomes a one-line reply
            raise StudentError(error) from error
    return run

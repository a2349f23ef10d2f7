r"""The grader behind every Build-it lab: a lab is a few scored parts, each checked against an exact answer.

A chapter's lab module defines a :class:`Lab` — a table of :class:`Part` rows (name, points, threshold, test) and its
tiered hints — and exposes ``check_<lab>(fn)`` and ``hint(level)``. ``Lab.grade(fn)`` is the one grading loop: it
runs each row's test on the student's function and prints one line per part: the points, what was measured and the
threshold it is held to; a part that fails names the likely mistake. A test only measures and returns a
:class:`Verdict`; the loop does the rest. An exception raised inside the student's function (called through
:func:`call`) never escapes as a traceback: the part scores 0 and the report says what that exception usually means
(:func:`explain`); the stub is reported once. A test ends its part early with :class:`Reject` (:func:`expect` does so
for an answer of the wrong type, shape or with non-finite entries); several parts share one costly computation
through :meth:`Functions.once`. The answer is never printed.

With the environment variable ``DIFFEDU_GRADEBOOK`` set to a file, every grade is also appended to it as one JSON
line (``python -m diffedu grade`` reads them).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..course.student_errors import StudentError, explain, guarded

__all__ = ["Verdict", "Part", "Score", "Lab", "Functions", "StudentError", "Reject", "call", "expect", "explain", "close",
           "diagnose"]


@dataclass
class Verdict:
    """The outcome of one part: passed or not, what was measured (e.g. 'max error 3e-9'), and the likely mistake."""
    passed: bool
    measured: str
    hint: str = ""


@dataclass
class Part:
    """One scored part of a lab: ``test(fn) -> Verdict`` runs the student's ``fn`` against an exact answer."""
    name: str
    points: int
    threshold: str
    test: Callable[[Callable], Verdict]


@dataclass
class Score:
    """A lab's result: points per part (name, points, out of, measured, hint) and the total."""
    lab: str
    parts: list[dict] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(p["points"] for p in self.parts)

    @property
    def total(self) -> int:
        return sum(p["out_of"] for p in self.parts)

    @property
    def full_marks(self) -> bool:
        return self.points == self.total

    def __str__(self) -> str:
        lines = [f"Lab · {self.lab}: {self.points}/{self.total}"]
        for p in self.parts:
            mark = "✓" if p["points"] == p["out_of"] else "✗"
            lines.append(f"  {mark} {p['points']}/{p['out_of']}  {p['name']}: {p['measured']}  [pass: {p['threshold']}]")
            if p["hint"]:
                lines.append(f"        → {p['hint']}")
        if not self.full_marks:
            lines.append("  More help: hint(1), hint(2), … (each a little more specific).")
        return "\n".join(lines)


class Functions:
    """A lab's several student functions graded as one (``Lab.grade`` takes one callable).

    ``Functions(cfg=cfg, dps_step=dps_step)``: each function is an attribute under its name, calling the bundle calls
    the first, and ``memo`` keeps what several parts share (e.g. a model trained once with the student's code)."""

    def __init__(self, **functions: Callable):
        if not functions:
            raise ValueError("give at least one function, by name")
        for name, fn in functions.items():
            if not callable(fn):
                raise TypeError(f"pass your functions themselves, without calling them: {name} is a "
                                f"{type(fn).__name__}, not a function (check_…({', '.join(functions)}))")
        self.__dict__.update(functions)
        self.names, self.memo = tuple(functions), {}

    def __call__(self, *args, **kwargs):
        return getattr(self, self.names[0])(*args, **kwargs)

    def once(self, key: str, compute: Callable[[], object]):
        """``compute()`` run once per grading and kept under ``key`` for the parts that share it (e.g. a model trained
        with the student's loop); a :class:`StudentError` it raised is kept too, and raised again for every part."""
        if key not in self.memo:
            try:
                self.memo[key] = compute()
            except StudentError as error:
                self.memo[key] = error
        if isinstance(self.memo[key], StudentError):
            raise self.memo[key]
        return self.memo[key]


def call(fn: Callable, *args, **kwargs):
    """Run the student's ``fn``; an exception inside it becomes a :class:`StudentError`, a ``None`` result too."""
    out = guarded(fn)(*args, **kwargs)
    if out is None:
        raise StudentError(TypeError("returned None"))
    return out


class Reject(Exception):
    """Raised anywhere inside a part's test to end the part with ``verdict`` (a failed part found deep in a helper,
    e.g. a wrong shape: :func:`expect`)."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.measured)
        self.verdict = verdict


def expect(got, shape: tuple, hint: str, measured: str = "wrong shape", finite: bool = False) -> torch.Tensor:
    """The student's ``got`` when it is a tensor of ``shape`` (and finite, with ``finite``); otherwise the part ends
    here with ``Verdict(False, measured, hint)`` (:class:`Reject`)."""
    if (not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(shape)
            or (finite and not bool(torch.isfinite(got).all()))):
        raise Reject(Verdict(False, measured, hint))
    return got


def close(got, want, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Whether the student's ``got`` equals ``want`` in value and shape, compared in float64 (an answer computed in
    float32 is held to float32's precision)."""
    if isinstance(got, torch.Tensor) and got.dtype in (torch.float32, torch.float16, torch.bfloat16):
        eps = torch.finfo(got.dtype).eps
        rtol, atol = max(rtol, 50 * eps), max(atol, 50 * eps)
    try:
        got, want = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=rtol, atol=atol))


def diagnose(got, mistakes: list[tuple[object, str]], default: str) -> str:
    """The hint of the first typical mistake whose (wrong) answer the student's ``got`` reproduces, else ``default``.

    ``mistakes`` pairs a wrong answer, computed by the grader with the mistake made on purpose, with its hint."""
    if not isinstance(got, torch.Tensor):
        return f"return a tensor; yours is a {type(got).__name__}"
    for wrong, hint in mistakes:
        if close(got, wrong):
            return hint
    want = torch.as_tensor(mistakes[0][0]) if mistakes else None
    if want is not None and got.shape != want.shape:
        return f"your answer has shape {tuple(got.shape)}; it should have shape {tuple(want.shape)}"
    return default


class Lab:
    """A Build-it lab: scored parts and tiered hints (the first never gives the answer away)."""

    def __init__(self, title: str, parts: list[Part | tuple], hints: list[str]):
        if not parts or not hints:
            raise ValueError("a lab needs at least one part and one hint")
        self.title, self.hints = title, hints
        self.parts = [part if isinstance(part, Part) else Part(*part) for part in parts]  # rows: Part or its fields

    def grade(self, fn: Callable) -> Score:
        """Score ``fn`` part by part, print the report, and append it to the gradebook (if one is set)."""
        if not callable(fn):
            raise TypeError(f"pass your function itself (without calling it); got {type(fn).__name__}")
        score, stub = Score(self.title), None
        for part in self.parts:
            verdict = stub or self._run(part, fn)
            if isinstance(getattr(verdict, "error", None), NotImplementedError):  # the stub: say it once
                stub = Verdict(False, "not run", "")
            score.parts.append(dict(name=part.name, points=part.points if verdict.passed else 0, out_of=part.points,
                                    threshold=part.threshold, measured=verdict.measured,
                                    hint="" if verdict.passed else verdict.hint))
        print(score)
        _record(score)
        return score

    @staticmethod
    def _run(part: Part, fn: Callable) -> Verdict:
        try:
            return part.test(fn)
        except Reject as reject:
            return reject.verdict
        except StudentError as error:
            verdict = Verdict(False, "your function raised an error", str(error))
            verdict.error = error.error
            return verdict

    def hint(self, level: int = 1) -> None:
        """Print hint ``level`` (1 = the gentlest)."""
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(self.hints):
            raise ValueError(f"level must be an integer in 1–{len(self.hints)}; got {level!r}")
        print(f"Hint {level} of {len(self.hints)}: {self.hints[level - 1]}")


def _record(score: Score) -> None:
    path = os.environ.get("DIFFEDU_GRADEBOOK")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(lab=score.lab, points=score.points, total=score.total, parts=score.parts)) + "\n")

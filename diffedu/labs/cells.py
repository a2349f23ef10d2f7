"""Which cells of a notebook an exercise or a lab needs, read with Python's own scoping rules (``symtable``).

The student-version tests and ``python -m diffedu grade`` run only these cells: the chapter's setup and the cells
that bind the global names an exercise reads, not the whole chapter.
"""
from __future__ import annotations

import builtins
import symtable

__all__ = ["python_source", "names", "cells_needed"]


def python_source(source: str) -> str:
    """A cell's source with IPython magics and shell escapes commented out, so ``symtable`` can read it."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def names(source: str) -> tuple[set[str], set[str]]:
    """(defined, used): the names a cell binds at its top level, and the global names it reads anywhere.

    Read with Python's own scoping (``symtable``), so that a function's parameters and locals are not taken for
    names the cell needs: ``def langevin_step(x, score, tau, z)`` reads none of the chapter's ``x`` or ``score``,
    while a global that its body reads (``beta`` inside a check) is needed when the function is called.
    """
    table = symtable.symtable(python_source(source), "<cell>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    used = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    nested = list(table.get_children())
    while nested:  # functions, classes, lambdas, comprehensions: the globals they read
        scope = nested.pop()
        symbols = scope.get_symbols()
        used |= {s.get_name() for s in symbols if s.is_global() and s.is_referenced()}
        defined |= {s.get_name() for s in symbols if s.is_declared_global() and s.is_assigned()}
        nested += scope.get_children()
    return defined, used - set(dir(builtins))


def cells_needed(nb, targets: list[int]) -> list[int]:
    """Indices of the code cells before the ``targets`` that the targets need, in notebook order.

    Always the first code cell (the chapter's setup: imports, seed); then, transitively, for every name a needed cell
    reads and does not bind itself, the latest earlier cell that binds it. Cells that only mutate an object
    (``net.load_state_dict(…)``) are not found this way; a chapter whose exercise needs one should define what it
    needs in the exercise cell.
    """
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    info = {i: names(nb.cells[i].source) for i in code}
    needed: set[int] = {code[0]} if code else set()
    todo = list(targets) + list(needed)
    seen: set[int] = set()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        defined, used = info[i]
        for name in used - defined:
            source = next((j for j in reversed(code) if j < i and name in info[j][0]), None)
            if source is not None and source not in needed:
                needed.add(source)
                todo.append(source)
    return sorted(needed - set(targets))

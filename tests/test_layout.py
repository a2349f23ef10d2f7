"""The package's house rules, read from its own imports (``ast``, nothing is run).

The core sits at the package root; four wings stand on it in this order: ``mnist/`` (the capstone's pipeline),
``course/`` (the chapters' computations, which may load MNIST checkpoints), ``labs/`` (the graders of the Build-it
labs) and ``ui/`` (figures, panels and quizzes). An import may only run downwards: wing → core,
ui → labs → course → mnist, never back up, and never in a circle. No module uses another
module's private name, and imports sit at the top of a file except the optional heavy dependencies.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "diffedu"
FLOOR = {"core": 0, "mnist": 1, "course": 2, "labs": 3, "ui": 4}  # a higher floor may import a lower one
LAZY_OK = ("safetensors", "tqdm")  # optional heavy dependencies, imported where they are used


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in FLOOR else "core"


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module a relative ``from … import`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path) -> list[tuple[str, str, int, bool]]:
    """(imported module, imported name or '', line, at top level) for every diffedu import in a file."""
    module, tree = module_name(path), ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = resolve(module, node, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / sub.replace(".", "/")).is_dir()
                out.append((sub if is_module else target, "" if is_module else alias.name, node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            out += [(alias.name, "", node.lineno, id(node) in top) for alias in node.names]
    return out


FILES = sorted(p for p in PACKAGE.rglob("*.py"))
EDGES = {module_name(p): [(m, n, line, top) for m, n, line, top in imports(p) if m.startswith("diffedu")] for p in FILES}


def test_no_import_circle():
    """Oracle: a depth-first search over the module graph (every diffedu import, at any depth in a file; the package
    faces ``__init__``/``__main__`` excluded, since they only hand names on); any back edge is a circle."""
    graph = {m: {t for t, *_ in e if t in EDGES and not t.endswith(("__init__", "__main__")) and t != "diffedu"}
             for m, e in EDGES.items() if m != "diffedu" and not m.endswith("__main__")}
    state, circles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                circles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles: " + "; ".join(" → ".join(c) for c in circles)


def test_imports_only_run_downwards():
    """Oracle: the floor of each file's wing (core 0 < mnist 1 < course 2 < labs 3 < ui 4); an import to a higher
    floor fails.
    The package faces (``diffedu/__init__``, ``__main__``) route to every wing and stand above them all."""
    wrong = [f"{m}:{line} imports {t}" for m, edges in EDGES.items() if m not in ("diffedu", "diffedu.__main__")
             for t, _, line, _ in edges if t != "diffedu" and FLOOR[wing(t)] > FLOOR[wing(m)]]
    assert not wrong, "imports that run back up:\n" + "\n".join(wrong)


def test_no_private_name_crosses_a_module():
    """Oracle: every ``from diffedu… import _name`` and every ``diffedu.x._name`` in the package, the chapters and the
    tools; a private name belongs to the module that defines it."""
    wrong = [f"{m}:{line} imports {t}.{n}" for m, edges in EDGES.items() for t, n, line, _ in edges
             if n.startswith("_") and not n.startswith("__") and t != m]
    pattern = re.compile(r"\bdiffedu(?:\.\w+)*\._[a-z]\w*")
    for path in [*FILES, *sorted((ROOT / "chapters").glob("*.py")), *sorted((ROOT / "tools").glob("*.py"))]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            wrong += [f"{path.relative_to(ROOT)}:{i} uses {hit}" for hit in pattern.findall(line)
                      if not hit.endswith("__")]
            if path.parent.name == "chapters" and re.search(r"from diffedu[\w.]* import .*\b_[a-z]", line):
                wrong.append(f"{path.relative_to(ROOT)}:{i} imports a private name")
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)


def test_imports_sit_at_the_top():
    """Oracle: the line of every import statement inside a function body; only the optional heavy dependencies
    (safetensors, tqdm) and the package's own version string may be imported there."""
    inner = []
    for path in FILES:
        tree = ast.parse(path.read_text())
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in (n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                names += [a.name for a in node.names]
                if not any(n.split(".")[0] in LAZY_OK or n == "__version__" for n in names):
                    inner.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not inner, "imports inside functions:\n" + "\n".join(inner)


@pytest.mark.parametrize("wing_name", ["course", "mnist", "labs", "ui"])
def test_the_core_imports_no_wing(wing_name):
    """Oracle: the import list of every core module (the files at the package root other than the package faces)."""
    wrong = [f"{m}:{line} imports {t}" for m, edges in EDGES.items() if wing(m) == "core"
             and m not in ("diffedu", "diffedu.__main__") for t, _, line, _ in edges if wing(t) == wing_name]
    assert not wrong, "\n".join(wrong)

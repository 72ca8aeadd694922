"""gradekit's module structure (issue 19): no module uses another's private names, and no import loops.

The checks parse ``gradekit/*.py`` with :mod:`ast`; every import counts, also one inside a function (a
lazy import only hides a loop until the day someone moves it to the top).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GRADEKIT = Path(__file__).resolve().parents[2] / "gradekit"


def _imports(tree: ast.Module) -> list[tuple[str, str | None, int]]:
    """``(module, name or None, line)`` for each gradekit import in ``tree`` (``name``: what was imported
    from a module, or the submodule of ``from gradekit import X``)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "gradekit":
                out += [(a.name, None, node.lineno) for a in node.names]
            elif node.module.startswith("gradekit."):
                out += [(node.module.split(".")[1], a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[1], None, node.lineno) for a in node.names if a.name.startswith("gradekit.")]
    return out


def module_graph(folder: Path) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph of the package in ``folder`` (module -> modules it imports) and every use of
    another module's private name (``from gradekit.x import _y``, ``x._y`` after ``from gradekit import x``)."""
    modules = {p.stem: p for p in sorted(folder.glob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        bound: dict[str, str] = {}  # local name -> the gradekit module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "gradekit":
                bound.update({a.asname or a.name: a.name for a in node.names})
            elif isinstance(node, ast.Import):
                bound.update({a.asname: a.name.split(".")[1] for a in node.names
                              if a.asname and a.name.startswith("gradekit.")})
        for target, imported, line in _imports(tree):
            if target != name:
                graph[name].add(target)
            if imported is not None and imported.startswith("_") and not imported.startswith("__") and target != name:
                private.append(f"{name}.py:{line} imports {target}.{imported}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and bound[node.value.id] != name):
                private.append(f"{name}.py:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import loop per strongly connected part of ``graph`` that has one (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_uses_another_modules_private_names():
    _, private = module_graph(GRADEKIT)
    assert private == [], "give these names a public home:\n" + "\n".join(private)


def test_no_import_loops():
    graph, _ = module_graph(GRADEKIT)
    assert "sandbox" in graph["zygote"], "the graph is read (zygote imports sandbox)"
    assert cycles(graph) == []


@pytest.mark.parametrize("files, private, loops", [
    ({"a.py": "from gradekit.b import _hidden\n", "b.py": "_hidden = 1\n"}, ["a.py:1 imports b._hidden"], []),
    ({"a.py": "def f():\n    from gradekit import b\n    return b._hidden\n", "b.py": ""},
     ["a.py:3 uses b._hidden"], []),
    ({"a.py": "from gradekit import b\n", "b.py": "def f():\n    from gradekit.c import x\n",
      "c.py": "import gradekit.a\n"}, [], [["a", "b", "c"]]),
    ({"a.py": "from gradekit.b import public, __version__\n", "b.py": "import os\nos._exit\n"}, [], []),
])
def test_the_checks_find_what_they_look_for(tmp_path, files, private, loops):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    graph, found = module_graph(tmp_path)
    assert found == private
    assert cycles(graph) == loops

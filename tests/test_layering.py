"""The floors of DESIGN.md ("Floors (imports only go down)"), read from the import graph.

Every ``import`` counts, wherever it stands (module top, inside a function, under
``TYPE_CHECKING``), and so does a string that names a faithline module (a registry's lazy
``"module:attr"`` factory, an ``importlib`` target): a string is still a dependency. A package's
``__init__`` naming its own submodules (its lazy registration table) is the one exception.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import faithline

# DESIGN.md, lowest first. A module's floor is its top-level package's (or its own name).
FLOORS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "types", "stats", "paths", "registry", "io", "config", "invisible",
     "provenance"),
    ("models",),
    ("tasks", "runs"),
    ("report",),
    ("pipeline",),
    ("faithfulness", "monitors", "legibility", "stego"),
    ("interp",),
    ("train",),
    ("inspect",),
    ("cli", "experiments", "demo", "known_answers"),
)
ROOT = Path(faithline.__file__).parent


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["faithline", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the faithline modules it imports or names."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                target = node.value.partition(":")[0]
                own = path.name == "__init__.py" and target.startswith(name + ".")
                if target.startswith("faithline.") and target in mods and not own:
                    targets = [target]
            edges[name].update(t for t in targets if t in mods and t != name)
    return edges


def floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, names in enumerate(FLOORS):
        if top in names:
            return i
    raise AssertionError(f"{module}: its floor is not in FLOORS (add it here and to DESIGN.md)")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_floor() -> None:
    for module in modules():
        floor(module)


def test_no_lower_floor_imports_a_higher_one() -> None:
    edges = graph(modules())
    upward = sorted(f"{m} (floor {floor(m)}) -> {t} (floor {floor(t)})"
                    for m, targets in edges.items() for t in targets if floor(t) > floor(m))
    assert not upward, "imports that go up a floor:\n" + "\n".join(upward)


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph(modules())) == []


def test_the_checks_see_what_they_claim(tmp_path: Path) -> None:
    """The graph reader finds function-level, TYPE_CHECKING, relative and string imports, and
    the checks fail on an upward import and on a cycle."""
    pkg = tmp_path / "faithline"
    (pkg / "models").mkdir(parents=True)
    (pkg / "train").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text('X = "faithline.models.hf:load"\n')
    (pkg / "models" / "hf.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from faithline.train import a\n")
    (pkg / "train" / "__init__.py").write_text("")
    (pkg / "train" / "a.py").write_text("def f():\n    from ..models import hf\n")
    (pkg / "train" / "b.py").write_text('LAZY = "faithline.train.a:f"\n')
    mods = {n: p for n, p in {
        "faithline": pkg / "__init__.py", "faithline.models": pkg / "models" / "__init__.py",
        "faithline.models.hf": pkg / "models" / "hf.py",
        "faithline.train": pkg / "train" / "__init__.py",
        "faithline.train.a": pkg / "train" / "a.py", "faithline.train.b": pkg / "train" / "b.py",
    }.items()}
    edges = graph(mods)
    assert edges["faithline.models.hf"] == {"faithline.train.a"}  # TYPE_CHECKING counts
    assert edges["faithline.train.a"] == {"faithline.models.hf"}  # relative, in a function
    assert edges["faithline.train.b"] == {"faithline.train.a"}  # a string names a module
    assert "faithline.models" not in edges or not edges["faithline.models"]  # own table
    assert floor("faithline.models.hf") < floor("faithline.train.a")  # so hf -> a goes up
    assert cycles(edges) == [["faithline.models.hf", "faithline.train.a"]]

"""No import circles among pv's validation modules: what two of them share lives in a third,
lower one (pv.result for validate and cache, pv.ruletable for the rule modules). Every import
counts, deferred and type-only ones too, since each is a dependency someone must keep in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import pv

PV = Path(pv.__file__).parent
VALIDATION = {
    "cache", "crossfile", "findings", "kaizen", "kinds", "load", "obligations", "report",
    "result", "rules", "ruletable", "schema", "validate",
}  # fmt: skip


def imports(module: str) -> set[str]:
    """The pv modules `module` imports anywhere in its source."""
    tree = ast.parse((PV / f"{module}.py").read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pv":
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pv."):
            out.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("pv.")}
    return {m for m in out if (PV / f"{m}.py").is_file()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary circle found by a depth-first walk (one per back edge)."""
    found, state = [], dict.fromkeys(graph, 0)

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*trail[trail.index(nxt) :], nxt])
            elif state.get(nxt) == 0:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [node])
    return found


def test_the_validation_modules_import_no_circle() -> None:
    graph = {m: imports(m) & VALIDATION for m in VALIDATION}
    assert cycles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert imports("cache") >= {"result"}
    assert "validate" not in imports("cache")

"""No import circles in pv or distill: what two modules share lives in a third, lower one
(pv.result for validate and cache, pv.ruletable for the rule modules, pv.idreport for the
plugin and pv falsify, distill.kernel for the loss and the fused head). Every import counts,
deferred and type-only ones too, since each is a dependency someone must keep in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distill
import pv

PV = Path(pv.__file__).parent
PACKAGES = {"pv": PV, "distill": Path(distill.__file__).parent}
VALIDATION = {
    "cache", "crossfile", "findings", "kaizen", "kinds", "load", "obligations", "report",
    "result", "rules", "ruletable", "schema", "validate",
}  # fmt: skip


def imports(module: str, package: str = "pv") -> set[str]:
    """The modules of `package` that `module` imports anywhere in its source."""
    folder = PACKAGES[package]
    tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{package}."):
            out.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith(f"{package}.")}
    return {m for m in out if (folder / f"{m}.py").is_file()}


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


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_of_pv_or_distill_is_in_an_import_circle(package: str) -> None:
    modules = {p.stem for p in PACKAGES[package].glob("*.py")}
    graph = {m: imports(m, package) & modules for m in modules}
    assert cycles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert imports("cache") >= {"result"}
    assert "validate" not in imports("cache")

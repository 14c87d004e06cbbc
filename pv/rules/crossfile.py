"""Cross-file rules: they see only the facts each file left behind (ids, depends_on and
where they were written), so they run the same on fresh and on cached results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pv.contracts.result import Located
from pv.core.findings import Finding
from pv.core.ruletable import severity


def _at(rule: str, where: Located, path: str, message: str, hint: str | None = None) -> Finding:
    return Finding(
        rule=rule,
        severity=severity(rule),
        file=where.file,
        line=where.line,
        column=where.column,
        path=path,
        message=message,
        suggestion=hint,
    )


def contract_name(name: str) -> str:
    """The contract a `depends_on` entry names: `b`, `b.yaml` and `dir/b.yml` all name `b`."""
    base = name.replace("\\", "/").rpartition("/")[2]
    for suffix in (".yaml", ".yml"):
        base = base.removesuffix(suffix)
    return base


def unknown_dependencies(deps: Sequence[Located], known: set[str]) -> list[Finding]:
    """PV-006 (a warning: the reference does not check depends_on): an entry that names no
    contract in the run or beside the file; it may well live in another repository."""
    out = []
    for dep in deps:
        if contract_name(dep.name) not in known:
            import difflib  # deferred: only needed when something is wrong

            close = difflib.get_close_matches(contract_name(dep.name), sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
            message = (
                f"depends_on '{dep.name}' names no contract pv was given "
                "(it may live in another repository)"
            )
            out.append(_at("PV-006", dep, "$.metadata.depends_on", message, hint))
    return out


def cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each elementary cycle reachable by depth-first search, once, as the list of its nodes
    starting at its least one. Edges to nodes outside `graph` are ignored."""
    colour: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    found: dict[tuple[str, ...], list[str]] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        colour[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if colour.get(nxt) == 1:
                cyc = stack[stack.index(nxt) :]
                start = cyc.index(min(cyc))
                found.setdefault(tuple(cyc[start:] + cyc[:start]), cyc[start:] + cyc[:start])
            elif nxt in graph and nxt not in colour:
                visit(nxt)
        stack.pop()
        colour[node] = 2

    for node in sorted(graph):
        if node not in colour:
            visit(node)
    return list(found.values())


def dependency_cycles(graph: dict[str, list[Located]]) -> list[Finding]:
    """PV-007: one finding per cycle, on the edge that closes it (from the cycle's last node
    back to its first)."""
    names = {node: [contract_name(e.name) for e in edges] for node, edges in graph.items()}
    out = []
    for cycle in cycles(names):
        last, first = cycle[-1], cycle[0]
        edge = next(e for e in graph[last] if contract_name(e.name) == first)
        message = "dependency cycle: " + " -> ".join([*cycle, first])
        out.append(_at("PV-007", edge, "$.metadata.depends_on", message))
    return out


def cross_file_duplicates(ids: Sequence[Located]) -> list[Finding]:
    """PV-008: a falsification id defined by more than one file (a warning: the corpus
    reuses some); reported on every file after the first."""
    first: dict[str, Located] = {}
    out = []
    for loc in ids:
        seen = first.setdefault(loc.name, loc)
        if seen.file != loc.file:
            out.append(
                _at(
                    "PV-008",
                    loc,
                    "$.falsification_tests",
                    f"falsification id {loc.name} is also defined in {seen.file}:{seen.line}",
                )
            )
    return out

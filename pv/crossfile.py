"""Cross-file rules: they see only the facts each file left behind (ids, depends_on and
where they were written), so they run the same on fresh and on cached results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pv.findings import Finding, Severity

RULES_USED: dict[str, Severity] = {
    "PV-006": "error",
    "PV-007": "error",
    "PV-008": "warning",
}  # severities mirror pv.rules.RULES (a test keeps them equal); importing it costs a warm run


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """A name a file mentions, with where it mentions it (cross-file rules need both)."""

    file: str
    name: str
    line: int
    column: int


def _at(rule: str, where: Located, path: str, message: str, hint: str | None = None) -> Finding:
    return Finding(
        rule=rule,
        severity=RULES_USED[rule],
        file=where.file,
        line=where.line,
        column=where.column,
        path=path,
        message=message,
        suggestion=hint,
    )


def unknown_dependencies(deps: Sequence[Located], known: set[str]) -> list[Finding]:
    """PV-006: a depends_on entry that names no contract in the run or beside the file."""
    out = []
    for dep in deps:
        if dep.name not in known:
            import difflib  # deferred: only needed when something is wrong

            close = difflib.get_close_matches(dep.name, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
            out.append(
                _at(
                    "PV-006",
                    dep,
                    "$.metadata.depends_on",
                    f"depends_on '{dep.name}' names no known contract",
                    hint,
                )
            )
    return out


def dependency_cycles(graph: dict[str, list[Located]]) -> list[Finding]:
    """PV-007: one finding per cycle, reported on the edge that closes it."""
    out: list[Finding] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for edge in graph.get(node, []):
            if state.get(edge.name) == 1:
                cycle = [*trail[trail.index(edge.name) :], edge.name]
                out.append(
                    _at(
                        "PV-007",
                        edge,
                        "$.metadata.depends_on",
                        "dependency cycle: " + " -> ".join(cycle),
                    )
                )
            elif edge.name in graph and edge.name not in state:
                visit(edge.name, [*trail, edge.name])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
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

"""`pv graph`: the `metadata.depends_on` DAG of a contract set, as text, Graphviz dot, JSON
or Mermaid. A cycle is an error (PV-007); a dependency on a contract not in the set a warning
(PV-006), as `pv validate` reports them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pv.core.findings import Finding
from pv.core.ruletable import severity
from pv.rules import crossfile
from pv.views.corpus import Corpus, contract_name, model

FORMATS = ("text", "dot", "json", "mermaid")


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]  # (contract, what it depends on)
    findings: tuple[Finding, ...]


def build(corpus: Corpus) -> Graph:
    """Nodes are contract names (file stems); edges point from a contract to a dependency.
    A dependency outside the set is PV-006 (a warning: it may live in another repository) and a
    cycle PV-007, as `pv validate` reports them."""
    by_name = {contract_name(d): d for d in corpus.contracts}
    edges: list[tuple[str, str]] = []
    findings: list[Finding] = []
    for name, doc in sorted(by_name.items()):
        for index, dep in enumerate(model(doc).depends_on):
            dep_name = crossfile.contract_name(str(dep))
            if dep_name in by_name:
                edges.append((name, dep_name))
            else:
                findings.append(
                    doc.finding(
                        "PV-006",
                        severity("PV-006"),
                        ("metadata", "depends_on", index),
                        f"depends_on '{dep}' names no contract pv was given "
                        "(it may live in another repository)",
                    )
                )
    succ: dict[str, list[str]] = {n: [] for n in by_name}
    for a, b in edges:
        succ[a].append(b)
    for cycle in crossfile.cycles(succ):
        chain = " -> ".join([*cycle, cycle[0]])
        where = ("metadata", "depends_on")
        findings.append(
            by_name[cycle[-1]].finding(
                "PV-007", severity("PV-007"), where, f"dependency cycle: {chain}"
            )
        )
    return Graph(nodes=tuple(sorted(by_name)), edges=tuple(edges), findings=tuple(findings))


def render(graph: Graph, fmt: str) -> str:
    """The graph in one of FORMATS."""
    if fmt == "json":
        return json.dumps(
            {
                "nodes": list(graph.nodes),
                "edges": [{"from": a, "to": b} for a, b in graph.edges],
                "findings": [f.to_dict() for f in graph.findings],
            },
            indent=2,
        )
    if fmt == "dot":
        body = [f'  "{n}";' for n in graph.nodes] + [f'  "{a}" -> "{b}";' for a, b in graph.edges]
        return "digraph contracts {\n  rankdir=LR;\n" + "\n".join(body) + "\n}"
    if fmt == "mermaid":
        ids = {n: f"n{i}" for i, n in enumerate(graph.nodes)}
        body = [f'  {ids[n]}["{n}"]' for n in graph.nodes]
        body += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
        return "graph LR\n" + "\n".join(body)
    deps: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        deps[a].append(b)
    lines = [f"{n} -> {', '.join(deps[n])}" if deps[n] else n for n in graph.nodes]
    lines.append(f"{len(graph.nodes)} contracts, {len(graph.edges)} dependencies")
    return "\n".join(lines)

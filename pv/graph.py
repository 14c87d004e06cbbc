"""`pv graph`: the `metadata.depends_on` DAG of a contract set, as text, Graphviz dot, JSON
or Mermaid. A cycle, or a dependency on a contract not in the set, is an error finding."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pv.corpus import Corpus, contract_name, section_map
from pv.findings import Finding
from pv.load import Document

FORMATS = ("text", "dot", "json", "mermaid")


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]  # (contract, what it depends on)
    findings: tuple[Finding, ...]


def build(corpus: Corpus) -> Graph:
    """Nodes are contract names (file stems); edges point from a contract to a dependency."""
    by_name = {contract_name(d): d for d in (*corpus.contracts, *corpus.partials)}
    edges: list[tuple[str, str]] = []
    findings: list[Finding] = []
    for name, doc in sorted(by_name.items()):
        deps = section_map(doc, "metadata").get("depends_on")
        for index, dep in enumerate(deps if isinstance(deps, list) else []):
            dep_name = str(dep).removesuffix(".yaml")
            if dep_name in by_name:
                edges.append((name, dep_name))
            else:
                findings.append(
                    doc.finding(
                        "GRAPH-002",
                        "error",
                        ("metadata", "depends_on", index),
                        f"depends on '{dep}', which is not in the set",
                    )
                )
    for cycle in cycles(sorted(by_name), edges):
        doc = by_name[cycle[0]]
        findings.append(_cycle_finding(doc, cycle))
    return Graph(nodes=tuple(sorted(by_name)), edges=tuple(edges), findings=tuple(findings))


def _cycle_finding(doc: Document, cycle: list[str]) -> Finding:
    chain = " -> ".join([*cycle, cycle[0]])
    return doc.finding(
        "GRAPH-001", "error", ("metadata", "depends_on"), f"dependency cycle: {chain}"
    )


def cycles(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Each elementary cycle found by depth-first search, once, starting at its least node."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    colour: dict[str, int] = dict.fromkeys(nodes, 0)  # 0 new, 1 on stack, 2 done
    found: dict[tuple[str, ...], list[str]] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        colour[node] = 1
        stack.append(node)
        for nxt in succ[node]:
            if colour[nxt] == 1:
                cyc = stack[stack.index(nxt) :]
                start = cyc.index(min(cyc))
                canon = cyc[start:] + cyc[:start]
                found.setdefault(tuple(canon), canon)
            elif colour[nxt] == 0:
                visit(nxt)
        stack.pop()
        colour[node] = 2

    for node in nodes:
        if colour[node] == 0:
            visit(node)
    return list(found.values())


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

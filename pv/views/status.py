"""`pv status`: how much a contract (or a folder of them) states, counted the way the Rust
`pv status` counts: equations, proof obligations, falsification tests, Kani harnesses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pv.contracts.load import Document
from pv.views.corpus import Corpus, model


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    name: str
    version: str
    equations: int
    obligations: int
    falsification_tests: int
    kani_harnesses: int
    has_qa_gate: bool


def counts(doc: Document) -> Counts:
    """The counts of one loaded contract, from the contract model `pv validate` counts by."""
    c = model(doc)
    return Counts(
        name=c.name,
        version=c.version,
        equations=len(c.equations),
        obligations=len(c.obligations),
        falsification_tests=len(c.tests),
        kani_harnesses=len(c.harnesses),
        has_qa_gate=c.has_qa_gate,
    )


def totals(rows: Sequence[Counts]) -> dict[str, int]:
    """Sums over already counted contracts (`pv status` and `pv coverage` share them)."""
    return {
        "contracts": len(rows),
        "equations": sum(r.equations for r in rows),
        "obligations": sum(r.obligations for r in rows),
        "falsification_tests": sum(r.falsification_tests for r in rows),
        "kani_harnesses": sum(r.kani_harnesses for r in rows),
    }


def total_line(t: Mapping[str, int]) -> str:
    """The one "Total: ..." line of `totals`, as both commands print it."""
    return (
        f"Total: {t['contracts']} contracts, {t['equations']} equations, "
        f"{t['obligations']} obligations, {t['falsification_tests']} falsification tests, "
        f"{t['kani_harnesses']} Kani harnesses"
    )


def render(corpus: Corpus, fmt: str) -> str:
    """Text: one block per contract, then totals when there are several. json: one document."""
    rows = [counts(d) for d in corpus.contracts]
    if fmt == "json":
        payload = {
            "contracts": [
                {"file": d.file, **_row(r)} for d, r in zip(corpus.contracts, rows, strict=True)
            ],
            "totals": totals(rows),
        }
        return json.dumps(payload, indent=2)
    lines = []
    for r in rows:
        lines += [
            f"Contract: {r.name} v{r.version}",
            f"  Equations:           {r.equations}",
            f"  Proof obligations:   {r.obligations}",
            f"  Falsification tests: {r.falsification_tests}",
            f"  Kani harnesses:      {r.kani_harnesses}",
            f"  QA gate:             {'yes' if r.has_qa_gate else 'no'}",
        ]
    if len(rows) > 1:
        lines.append(total_line(totals(rows)))
    return "\n".join(lines)


def _row(r: Counts) -> dict[str, object]:
    return {
        "name": r.name,
        "version": r.version,
        "equations": r.equations,
        "obligations": r.obligations,
        "falsification_tests": r.falsification_tests,
        "kani_harnesses": r.kani_harnesses,
        "qa_gate": r.has_qa_gate,
    }

"""`pv status`: how much a contract (or a folder of them) states, counted the way the Rust
`pv status` counts: equations, proof obligations, falsification tests, Kani harnesses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pv.corpus import Corpus, contract_name, section_list, section_map
from pv.load import Document


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
    """The counts of one loaded contract."""
    metadata = section_map(doc, "metadata")
    return Counts(
        name=contract_name(doc),
        version=str(metadata.get("version", "")),
        equations=len(section_map(doc, "equations")),
        obligations=len(section_list(doc, "proof_obligations")),
        falsification_tests=len(section_list(doc, "falsification_tests")),
        kani_harnesses=len(section_list(doc, "kani_harnesses")),
        has_qa_gate=bool((doc.data or {}).get("qa_gate")),
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
    partials = [counts(d) for d in corpus.partials]
    if fmt == "json":
        payload = {
            "contracts": [
                {"file": d.file, **_row(r)} for d, r in zip(corpus.contracts, rows, strict=True)
            ],
            "partials": [
                {"file": d.file, **_row(r)} for d, r in zip(corpus.partials, partials, strict=True)
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
    if partials:
        tests = sum(r.falsification_tests for r in partials)
        lines.append(
            f"Partial contracts (not counted): {len(partials)}, with {tests} falsification tests"
        )
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

"""`pv audit`: the traceability chain of one contract, paper -> equation -> obligation ->
falsification -> check -> result, with binding coverage, so a reader can see where the chain
breaks: an equation no code implements, an id no check discharges, a check that did not pass."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pv.binding.bind import declared_ids
from pv.contracts.load import Document
from pv.views.corpus import model


@dataclass(frozen=True, slots=True, kw_only=True)
class IdLink:
    id: str
    checks: tuple[str, ...]
    result: str  # a state from a pv report, "unbound", or "not-run" without a report


@dataclass(frozen=True, slots=True, kw_only=True)
class Audit:
    contract: str
    version: str
    references: tuple[str, ...]
    equations: tuple[tuple[str, str], ...]  # (name, binding status or "unbound")
    obligations: tuple[str, ...]
    ids: tuple[IdLink, ...]
    has_binding_file: bool

    @property
    def gaps(self) -> list[str]:
        """Each break in the chain, as one line."""
        out = [] if self.references else ["no paper: metadata.references is empty"]
        if self.has_binding_file:
            out += [f"equation {n} is {s}" for n, s in self.equations if s != "implemented"]
        out += [f"{i.id} has no check" for i in self.ids if not i.checks]
        out += [f"{i.id} is {i.result}" for i in self.ids if i.checks and i.result != "passed"]
        return out


def bindings_for(binding_doc: Mapping[str, Any], contract_file: str) -> dict[str, str]:
    """Equation -> status from a binding registry, for the contract named `contract_file`."""
    out: dict[str, str] = {}
    for entry in binding_doc.get("bindings") or []:
        if isinstance(entry, dict) and entry.get("contract") == contract_file:
            out[str(entry.get("equation"))] = str(entry.get("status", "unknown"))
    return out


def audit(
    doc: Document,
    *,
    marked: Mapping[str, tuple[str, ...]],
    binding: Mapping[str, Any] | None = None,
    report: Mapping[str, Any] | None = None,
) -> Audit:
    """`marked` maps ids to the checks bound to them; `report` is a `pv falsify` JSON."""
    bound = bindings_for(binding, Path(doc.file).name) if binding is not None else {}
    states = {str(i.get("id")): str(i.get("state")) for i in (report or {}).get("ids", [])}
    links = []
    for decl in declared_ids(doc.file, doc.data or {}):
        named = tuple(r.nodeid for r in decl.refs if r.nodeid)
        checks = tuple(sorted(set(marked.get(decl.id, ()) + named)))
        default = "not-run" if checks else "unbound"
        links.append(IdLink(id=decl.id, checks=checks, result=states.get(decl.id, default)))
    contract = model(doc)
    return Audit(
        contract=contract.name,
        version=contract.version,
        references=contract.references,
        equations=tuple((e.name, bound.get(e.name, "unbound")) for e in contract.equations),
        obligations=tuple(o.property for o in contract.obligations),
        ids=tuple(links),
        has_binding_file=binding is not None,
    )


def coverage_line(a: Audit) -> str:
    implemented = sum(1 for _, s in a.equations if s == "implemented")
    checked = sum(1 for i in a.ids if i.checks)
    passed = sum(1 for i in a.ids if i.result == "passed")
    eq = (
        f"{implemented}/{len(a.equations)} equations implemented"
        if a.has_binding_file
        else ("equations: no binding file given")
    )
    return f"Binding coverage: {eq}; {checked}/{len(a.ids)} ids bound; {passed} passed"


def render(a: Audit, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "contract": a.contract,
                "version": a.version,
                "references": list(a.references),
                "equations": [{"name": n, "binding": s} for n, s in a.equations],
                "obligations": list(a.obligations),
                "falsification": [
                    {"id": i.id, "checks": list(i.checks), "result": i.result} for i in a.ids
                ],
                "coverage": coverage_line(a),
                "gaps": a.gaps,
            },
            indent=2,
        )
    lines = [f"Audit: {a.contract} v{a.version}", f"Paper: {len(a.references)} reference(s)"]
    lines += [f"  - {r}" for r in a.references]
    lines.append(f"Equations ({len(a.equations)}):")
    lines += [f"  {n}  binding: {s}" for n, s in a.equations]
    lines.append(f"Proof obligations ({len(a.obligations)}):")
    lines += [f"  - {o}" for o in a.obligations]
    lines.append(f"Falsification tests ({len(a.ids)}):")
    for i in a.ids:
        lines.append(f"  {i.id}  check: {', '.join(i.checks) or 'none'}  result: {i.result}")
    lines.append(coverage_line(a))
    gaps = a.gaps
    lines.append(f"Gaps ({len(gaps)}):" if gaps else "Chain complete.")
    lines += [f"  - {g}" for g in gaps]
    return "\n".join(lines)

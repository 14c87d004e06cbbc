"""`pv validate` end to end: discover files, load, schema, rules, cross-file rules.

Each file is classified by its shape, as the reference classifies it (pv.contracts.model.artifact):
a
contract, a binding registry, a publish manifest or an external-corpora declaration, each with
its own rules. A contract's `metadata.kind` (kernel when absent) decides which rules apply.
One run reports every file.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pv.contracts.files import Inputs, discover, display_name, stems_in
from pv.contracts.result import COUNTED, FileResult, Located, Report
from pv.core.findings import Finding, sort_findings
from pv.rules import crossfile

if TYPE_CHECKING:
    from pv.contracts.cache import Cache
    from pv.contracts.load import Document

__all__ = [
    "COUNTED",
    "FileResult",
    "Inputs",
    "Report",
    "check_document",
    "discover",
    "display_name",
    "validate_paths",
]

# Top-level keys the Rust parser reads as empty when they hold nothing (`key:` alone).
EMPTY_AS: dict[str, dict[str, Any] | list[Any]] = {
    "equations": {},
    "proof_obligations": [],
    "falsification_tests": [],
    "kani_harnesses": [],
}
EMPTY_AS_ABSENT = ("qa_gate", "kernel_structure", "verification_summary", "coq_spec", "beat")


def check_document(doc: Document) -> FileResult:
    """Every per-file finding for one loaded document (no file system access but a publish
    manifest's, which reads the schema beside it)."""
    if doc.data is None:
        return FileResult(file=doc.file, kind="refused", findings=doc.findings)
    from pv.contracts import model  # deferred: only a cache miss needs them
    from pv.rules import artifacts

    data = doc.data
    shape = model.artifact(data)
    if shape != "contract":
        findings = list(doc.findings) + artifacts.rules_for(shape, doc, data)
        if shape == "binding":
            findings = schema_findings(doc, data, "binding") + findings
        return FileResult(file=doc.file, kind=shape, findings=tuple(findings))
    findings = list(doc.findings) + _empty_sections(doc, data) + _contract_findings(doc, data)
    return FileResult(
        file=doc.file,
        kind="contract",
        contract_kind=model.effective_kind(data),
        findings=tuple(findings),
        depends_on=_located(doc, data, "metadata", "depends_on"),
        falsification_ids=_located(doc, data, "falsification_tests", "id"),
        equations=model.equation_names(data),
        counts=model.counts(data),
    )


def _contract_findings(doc: Document, data: dict[str, Any]) -> list[Finding]:
    from pv.contracts import schema
    from pv.rules import parse, rules

    findings = schema_findings(doc, data, "contract") + parse.refusals(doc, data)
    return findings + rules.contract_rules(doc, data, schema.known_keys("contract", ()))


def _empty_sections(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PV-012: `falsification_tests:` with nothing after it is YAML null; the Rust parser reads
    it as an empty list (or an absent block), so pv does too, and says so."""
    from pv.rules import rules

    out = []
    for key in [k for k in data if data[k] is None and (k in EMPTY_AS or k in EMPTY_AS_ABSENT)]:
        if key in EMPTY_AS:
            data[key] = type(EMPTY_AS[key])()
            message = f"'{key}:' has no value; read as empty"
        else:
            del data[key]
            message = f"'{key}:' has no value; read as absent"
        out.append(rules.make(doc, "PV-012", (key,), message, f"write '{key}: []' or remove it"))
    return out


def _located(doc: Document, data: dict[str, Any], section: str, key: str) -> tuple[Located, ...]:
    value = data.get(section)
    out = []
    if section == "metadata" and isinstance(value, dict) and isinstance(value.get(key), list):
        for i, name in enumerate(value[key]):
            line, col = doc.position((section, key, i))
            out.append(Located(file=doc.file, name=str(name), line=line, column=col))
    elif isinstance(value, list):
        where = doc.item_positions(section, key)
        if len(where) != len(value):  # the section came from a `<<` merge
            where = [doc.position((section, i, key)) for i in range(len(value))]
        for item, (line, col) in zip(value, where, strict=True):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                out.append(Located(file=doc.file, name=item[key], line=line, column=col))
    return tuple(out)


def schema_findings(doc: Document, data: dict[str, Any], kind: Any) -> list[Finding]:
    from pv.contracts import schema  # deferred: only a cache miss needs them
    from pv.rules import rules

    violations = schema.check(data, kind)
    if not violations:
        return []
    out = _coerce_plain_scalars(doc, data, violations)
    if out:
        violations = schema.check(data, kind)
    for v in violations:
        if v.keyword == "additionalProperties":
            known = schema.known_keys(kind, v.path)
            out += [rules.unknown_key(doc, v.path, key, known) for key in v.extra]
        elif v.keyword == "required":
            out += [
                rules.make(doc, "PV-001", v.path, f"missing required key '{k}'") for k in v.extra
            ]
        else:
            out.append(rules.make(doc, "PV-001", v.path, v.message))
    return list(dict.fromkeys(out))  # one finding per problem, however the schema reached it


def _coerce_plain_scalars(
    doc: Document, data: dict[str, Any], violations: Sequence[Any]
) -> list[Finding]:
    """`version: 1.10` where the schema wants text: keep what the user wrote ("1.10"), and
    say so, instead of silently validating the float 1.1."""
    from pv.rules import rules

    out = []
    for v in violations:
        source = doc.sources.get(v.path)
        if v.keyword != "type" or "string" not in v.extra or source is None or not v.path:
            continue
        parent: Any = data
        for part in v.path[:-1]:
            parent = parent[part]
        parent[v.path[-1]] = source
        message = f"unquoted {source} is not text in YAML; kept as the text written"
        out.append(rules.make(doc, "PV-004", v.path, message, f'quote it: "{source}"'))
    return out


def validate_file(path: str | os.PathLike[str], display: str | None = None) -> FileResult:
    """Load and check one file (no cache, no cross-file rules)."""
    from pv.contracts.load import load_file

    return check_document(load_file(path, display))


def validate_paths(
    files: Sequence[str | os.PathLike[str]],
    *,
    cache: Cache | None = None,
    inputs: Inputs | None = None,
) -> Report:
    """Check every file (through `cache` when given: an unchanged file is not parsed again),
    then the cross-file rules. `inputs`, when the caller already read them, saves a second
    read of every file."""
    inputs = inputs if inputs is not None else Inputs(files, cache)
    # Loading builds many short-lived trees that hold no cycles, so refcounting frees them;
    # the cyclic collector, run every few hundred allocations, only re-walks what is alive.
    collecting = gc.isenabled()
    gc.disable()
    try:
        results = [
            _one(*args, cache) for args in zip(files, inputs.names, inputs.raws, strict=True)
        ]
    finally:
        if collecting:
            gc.enable()
    findings = [f for r in results for f in r.findings]
    findings += _cross_file(results)
    if cache is not None:
        cache.flush()
    return Report(files=tuple(results), findings=tuple(sort_findings(findings)))


def _one(
    path: str | os.PathLike[str], display: str, raw: bytes | None, cache: Cache | None
) -> FileResult:
    if cache is not None and raw is not None:
        hit = cache.get(raw, display)
        if hit is not None:
            return hit
    from pv.contracts.load import load_bytes, load_file  # deferred: a cache hit never imports yaml

    if cache is None or raw is None:
        return check_document(load_file(path, display))
    result = check_document(load_bytes(raw, display))
    if result.cacheable:
        cache.put(raw, display, result)
    return result


def _cross_file(results: Sequence[FileResult]) -> list[Finding]:
    contracts = [r for r in results if r.kind == "contract"]
    stems = {r.stem for r in contracts}
    deps: list[Located] = []
    for r in contracts:
        if r.depends_on:
            siblings = stems_in(os.path.dirname(r.file))
            deps += [
                d for d in r.depends_on if crossfile.contract_name(d.name) not in stems | siblings
            ]
    out = crossfile.unknown_dependencies(deps, stems)
    out += crossfile.dependency_cycles({r.stem: list(r.depends_on) for r in contracts})
    out += crossfile.cross_file_duplicates([i for r in contracts for i in r.falsification_ids])
    return out

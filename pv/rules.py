"""The rule table: SCHEMA-001..013 keep the Rust pv's meaning and severity; PV-xxx are ours.

Per-file rules look at one loaded document; cross-file rules look at the facts every file
left behind (ids, depends_on), so they also work on results read back from the cache.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pv.findings import Finding, JsonPath

if TYPE_CHECKING:  # pv.load imports yaml; a fully cached run only needs the cross-file rules
    from pv.load import Document

RULES: dict[str, tuple[str, str]] = {
    "LOAD-001": ("error", "file cannot be read"),
    "LOAD-002": ("error", "file larger than 1 MiB"),
    "LOAD-003": ("error", "file is not UTF-8"),
    "LOAD-004": ("error", "file is empty"),
    "LOAD-005": ("error", "more than one YAML document"),
    "LOAD-006": ("error", "invalid YAML"),
    "LOAD-007": ("error", "top level is not a mapping"),
    "LOAD-008": ("error", "nesting too deep"),
    "LOAD-009": ("error", "alias explosion"),
    "LOAD-010": ("error", "unsafe or non-JSON YAML tag"),
    "LOAD-011": ("error", "mapping key is not a scalar"),
    "LOAD-012": ("error", "duplicate mapping key"),
    "SCHEMA-001": ("error", "metadata.references is empty"),
    "SCHEMA-002": ("error", "metadata.version is empty"),
    "SCHEMA-003": ("error", "no equations"),
    "SCHEMA-004": ("error", "equation formula is empty"),
    "SCHEMA-005": ("error", "proof obligation property is empty"),
    "SCHEMA-006": ("warning", "duplicate formal predicate"),
    "SCHEMA-007": ("error", "duplicate falsification test id"),
    "SCHEMA-008": ("error", "falsification prediction is empty"),
    "SCHEMA-009": ("warning", "falsification if_fails is empty"),
    "SCHEMA-010": ("error", "duplicate Kani harness id"),
    "SCHEMA-011": ("error", "Kani obligation is empty"),
    "SCHEMA-012": ("warning", "Kani bound missing"),
    "SCHEMA-013": ("warning", "no qa_gate"),
    "PV-001": ("error", "value does not match the contract schema"),
    "PV-002": ("warning", "unknown key"),
    "PV-003": ("error", "known misspelling of a contract key"),
    "PV-004": ("warning", "unquoted YAML scalar read as a number/boolean where text is expected"),
    "PV-005": ("warning", "Kani obligation names no obligation or equation"),
    "PV-006": ("error", "depends_on names no known contract"),
    "PV-007": ("error", "dependency cycle between contracts"),
    "PV-008": ("warning", "falsification id also used by another file"),
    "PV-009": ("warning", "id does not follow the PREFIX-NNN format"),
    "PV-010": ("warning", "metadata.version is not semver"),
    "PV-011": ("warning", "partial contract: only metadata and falsification tests checked"),
}

MISSPELLINGS: dict[str, str] = {
    "falsification": "falsification_tests",
    "falsification_test": "falsification_tests",
    "falsifications": "falsification_tests",
    "falsify": "falsification_tests",
    "tests": "falsification_tests",
    "proof_obligation": "proof_obligations",
    "obligations": "proof_obligations",
    "equation": "equations",
    "kani": "kani_harnesses",
    "kani_harness": "kani_harnesses",
    "harnesses": "kani_harnesses",
    "qa_gates": "qa_gate",
    "qagate": "qa_gate",
    "meta": "metadata",
    "meta_data": "metadata",
    "reference": "references",
    "depends": "depends_on",
    "dependencies": "depends_on",
    "if_fail": "if_fails",
    "iffails": "if_fails",
    "predictions": "prediction",
    "formulas": "formula",
    "invariant": "invariants",
}

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
_FALSIFY_ID = re.compile(r"^FALSIFY-(?:[A-Z][A-Z0-9]*-)*\d{3,}$")
_KANI_ID = re.compile(r"^KANI-(?:[A-Z][A-Z0-9]*-)*\d{3,}$")
_IMPLICIT = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*?)-(?P<abbr>[A-Z]+)-(?P<n>\d+)$")
_ABBREVIATIONS: dict[str, str] = {
    "INV": "invariant", "BND": "bound", "MON": "monotonicity", "MONO": "monotonicity",
    "ORD": "ordering", "EQV": "equivalence", "EQ": "equivalence", "LIN": "linearity",
    "CON": "conservation", "CONS": "conservation", "IDEM": "idempotency", "IDM": "idempotency",
    "SYM": "symmetry", "ASSOC": "associativity", "COMP": "completeness", "SND": "soundness",
    "DET": "determinism", "RT": "roundtrip", "TERM": "termination",
}  # fmt: skip


def make(
    doc: Document, rule: str, path: JsonPath, message: str, hint: str | None = None
) -> Finding:
    """A finding for `rule` at `path`, with the rule table's severity."""
    return doc.finding(rule, RULES[rule][0], path, message, hint)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def unknown_key(doc: Document, path: JsonPath, key: str, known: Iterable[str]) -> Finding:
    """PV-003 for a known misspelling, else PV-002 with a did-you-mean where one is close."""
    right = MISSPELLINGS.get(key)
    where = (*path, key)
    if right is not None and right in known:
        return make(
            doc, "PV-003", where, f"'{key}' is a misspelling of '{right}'", f"rename to '{right}'"
        )
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    hint = f"did you mean '{close[0]}'?" if close else None
    return make(doc, "PV-002", where, f"unknown key '{key}'", hint)


def contract_rules(doc: Document, data: dict[str, Any], *, kernel: bool = True) -> list[Finding]:
    """Every per-file rule for a contract. `kernel=False` (declared non-kernel kinds) skips
    the requirement to have equations, as the Rust pv's kinds do."""
    out = _metadata_rules(doc, data)
    out += _equation_rules(doc, data, kernel=kernel)
    out += _obligation_rules(doc, data)
    out += falsification_rules(doc, data)
    out += _kani_rules(doc, data)
    if "qa_gate" not in data:
        out.append(
            make(
                doc, "SCHEMA-013", (), "no qa_gate defined: a contract should define a quality gate"
            )
        )
    return out


def _metadata_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return out
    refs = meta.get("references")
    if not isinstance(refs, list) or not any(_text(r) for r in refs):
        out.append(
            make(
                doc,
                "SCHEMA-001",
                ("metadata", "references"),
                "metadata.references must not be empty: cite the source paper(s)",
            )
        )
    version = meta.get("version")
    if not _text(version) and not isinstance(version, (int, float)):
        out.append(
            make(doc, "SCHEMA-002", ("metadata", "version"), "metadata.version must not be empty")
        )
    elif isinstance(version, str) and not _SEMVER.match(version):
        out.append(
            make(
                doc,
                "PV-010",
                ("metadata", "version"),
                f"metadata.version '{version}' is not semver",
                'use MAJOR.MINOR.PATCH, e.g. "1.0.0"',
            )
        )
    return out


def _equation_rules(doc: Document, data: dict[str, Any], *, kernel: bool) -> list[Finding]:
    equations = data.get("equations")
    if not isinstance(equations, dict) or not equations:
        if not kernel:
            return []
        return [
            make(doc, "SCHEMA-003", ("equations",), "equations must contain at least one equation")
        ]
    return [
        make(
            doc,
            "SCHEMA-004",
            ("equations", name, "formula"),
            f"equations.{name}.formula must not be empty",
        )
        for name, eq in equations.items()
        if isinstance(eq, dict) and not _text(eq.get("formula"))
    ]


def _obligation_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for i, ob in _items(data, "proof_obligations"):
        if not _text(ob.get("property")):
            out.append(
                make(
                    doc,
                    "SCHEMA-005",
                    ("proof_obligations", i, "property"),
                    f"proof_obligations[{i}].property must not be empty",
                )
            )
        formal = ob.get("formal")
        if isinstance(formal, str):
            if formal in seen:
                out.append(
                    make(
                        doc,
                        "SCHEMA-006",
                        ("proof_obligations", i, "formal"),
                        f"duplicate formal predicate: {formal}",
                    )
                )
            seen.add(formal)
    return out


def falsification_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """SCHEMA-007/008/009 and the id format, for contracts and partial contracts alike."""
    out: list[Finding] = []
    seen: set[str] = set()
    for i, test in _items(data, "falsification_tests"):
        tid, where = str(test.get("id", "")), ("falsification_tests", i)
        if tid in seen:
            out.append(
                make(doc, "SCHEMA-007", (*where, "id"), f"duplicate falsification test id: {tid}")
            )
        seen.add(tid)
        if tid and not _FALSIFY_ID.match(tid):
            out.append(
                make(
                    doc,
                    "PV-009",
                    (*where, "id"),
                    f"falsification id '{tid}' is not FALSIFY-PREFIX-NNN",
                )
            )
        if not _text(test.get("prediction")):
            out.append(
                make(
                    doc,
                    "SCHEMA-008",
                    (*where, "prediction"),
                    f"{tid}: prediction must not be empty: a test must make a falsifiable claim",
                )
            )
        if not _text(test.get("if_fails")):
            out.append(
                make(
                    doc,
                    "SCHEMA-009",
                    (*where, "if_fails"),
                    f"{tid}: if_fails is empty: it should describe the root-cause diagnosis",
                )
            )
    return out


def _kani_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for i, harness in _items(data, "kani_harnesses"):
        hid, where = str(harness.get("id", "")), ("kani_harnesses", i)
        if hid in seen:
            out.append(make(doc, "SCHEMA-010", (*where, "id"), f"duplicate Kani harness id: {hid}"))
        seen.add(hid)
        if hid and not _KANI_ID.match(hid):
            message = f"Kani harness id '{hid}' is not KANI-PREFIX-NNN"
            out.append(make(doc, "PV-009", (*where, "id"), message))
        out += _kani_obligation(doc, data, hid, where, harness.get("obligation"))
        if "bound" not in harness:
            message = f"{hid}: bound not specified: Kani needs an unwind bound"
            out.append(make(doc, "SCHEMA-012", (*where, "bound"), message))
    return out


def _kani_obligation(
    doc: Document, data: dict[str, Any], hid: str, where: JsonPath, obligation: Any
) -> list[Finding]:
    if not _text(obligation):
        message = f"{hid}: obligation must not be empty: a harness must name a proof obligation"
        return [make(doc, "SCHEMA-011", (*where, "obligation"), message)]
    if resolve_obligation(data, str(obligation).strip()):
        return []
    message = f"{hid}: obligation '{obligation}' names no equation or proof obligation"
    hint = (
        "use an equation name, a 1-based obligation index, or PREFIX-ABBR-N "
        "(e.g. CE-BND-2: the second `bound` obligation)"
    )
    return [make(doc, "PV-005", (*where, "obligation"), message, hint)]


def _prefixes(data: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key, head in (("falsification_tests", "FALSIFY-"), ("kani_harnesses", "KANI-")):
        for _, item in _items(data, key):
            tid = str(item.get("id", ""))
            if tid.startswith(head):
                out.add(re.sub(r"-?\d+$", "", tid[len(head) :]))
    return out


def resolve_obligation(data: dict[str, Any], name: str) -> bool:
    """Whether a Kani `obligation` names something real: an equation, an obligation id or
    property, a 1-based index (``"2"``), or an implicit id ``PREFIX-ABBR-N`` (the N-th
    obligation of that type in the contract whose ids use PREFIX)."""
    equations = data.get("equations")
    if isinstance(equations, dict) and name in equations:
        return True
    obligations = [ob for _, ob in _items(data, "proof_obligations")]
    if any(name in (ob.get("id"), ob.get("property")) for ob in obligations):
        return True
    if name.isdigit():
        return 1 <= int(name) <= len(obligations)
    match = _IMPLICIT.match(name)
    if match is None or match["abbr"] not in _ABBREVIATIONS:
        return False
    if match["prefix"] not in _prefixes(data):
        return False
    wanted = _ABBREVIATIONS[match["abbr"]]
    return 1 <= int(match["n"]) <= sum(1 for ob in obligations if ob.get("type") == wanted)

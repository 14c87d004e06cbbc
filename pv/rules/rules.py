"""Per-file rules, decided by the contract's kind as the newer Rust pv decides them: every kind
gets its metadata and top-level keys checked, and any obligations, tests and harnesses it carries;
only a kernel must carry them (PROVABILITY-001), with equations and a qa_gate. The rule table
lives in pv.core.ruletable; cross-file rules (which also run on cached results) in
pv.rules.crossfile.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pv.contracts import model
from pv.core import semver
from pv.core.findings import Finding, JsonPath
from pv.core.ruletable import RULES, first, items, make, text
from pv.rules import kaizen, kinds
from pv.rules.obligations import obligation_rules

if TYPE_CHECKING:
    from pv.contracts.load import Document

__all__ = ["MISSPELLINGS", "RULES", "contract_rules", "make", "resolve_obligation", "unknown_key"]

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

_FALSIFY_ID = re.compile(r"^FALSIFY-(?:[A-Z][A-Z0-9]*-)*\d{3,}$")
_KANI_ID = re.compile(r"^KANI-(?:[A-Z][A-Z0-9]*-)*\d{3,}$")
_IMPLICIT = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*?)-(?P<abbr>[A-Z]+)-(?P<n>\d+)$")
_TRAILING_NUMBER = re.compile(r"-?\d+$")
_ABBREVIATIONS: dict[str, str] = {
    "INV": "invariant", "BND": "bound", "MON": "monotonicity", "MONO": "monotonicity",
    "ORD": "ordering", "EQV": "equivalence", "EQ": "equivalence", "LIN": "linearity",
    "CON": "conservation", "CONS": "conservation", "IDEM": "idempotency", "IDM": "idempotency",
    "SYM": "symmetry", "ASSOC": "associativity", "COMP": "completeness", "SND": "soundness",
    "DET": "determinism", "RT": "roundtrip", "TERM": "termination",
}  # fmt: skip


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


def contract_rules(doc: Document, data: dict[str, Any], known: frozenset[str]) -> list[Finding]:
    """Every per-file rule for a contract of any kind; `known` are the top-level keys the
    schema declares (the rest are downstream blocks, checked only for near-misses)."""
    kind = kinds.effective_kind(data)
    out = metadata_rules(doc, data)
    out += kinds.top_level_rules(doc, data, known)
    out += misspelled_blocks(doc, data)
    if kind == "kernel":
        out += _kernel_rules(doc, data)
    else:
        out += obligation_rules(doc, data) + falsification_rules(doc, data) + _kani_rules(doc, data)
    if kind == "beat-benchmark":
        out += kinds.beat_rules(doc, data)
    if kind == "competitive-parity":
        from pv.rules import ledger, parity

        out += parity.provability(doc, data)
        if not ledger.parse_refusals(doc, data):  # the reference reads nothing further
            out += parity.parity_rules(doc, data)
    if kind == "kaizen":
        out += kaizen.kaizen_rules(doc, data)
    return out + kinds.crux_rules(doc, data) + summary_rules(doc, data)


def summary_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """SCHEMA-024: a stated count must equal the list it counts. A `schema` contract that
    carries no obligations may state the count of a list it does not carry (a generated work
    contract does)."""
    summary = data.get("verification_summary")
    stated = summary.get("total_obligations") if isinstance(summary, dict) else None
    if not isinstance(stated, int) or isinstance(stated, bool):
        return []
    listed = data.get("proof_obligations")
    count = len(listed) if isinstance(listed, list) else 0
    if stated == count or (kinds.effective_kind(data) == "schema" and count == 0):
        return []
    message = (
        f"verification_summary.total_obligations is {stated} but proof_obligations lists "
        f"{count}: a copy that disagrees with what it counts"
    )
    where = ("verification_summary", "total_obligations")
    return [make(doc, "SCHEMA-024", where, message, "state the count of the list, or drop it")]


def _kernel_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out = _equation_rules(doc, data) + _provability(doc, data)
    out += obligation_rules(doc, data) + falsification_rules(doc, data) + _kani_rules(doc, data)
    if "qa_gate" not in data:
        message = "no qa_gate defined: a contract should define a quality gate"
        out.append(make(doc, "SCHEMA-013", (), message))
    if "kind" not in kinds.metadata(data):
        # Say once, on the first error, why a file that never called itself a kernel was held
        # to the kernel rules.
        for i, f in enumerate(out):
            if f.severity == "error":
                hint = f.suggestion or "declare metadata.kind if this is not a kernel"
                out[i] = replace(f, message=f"{f.message} ({kinds.KIND_DEFAULT})", suggestion=hint)
                break
    return out


def _provability(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PROVABILITY-001: a kernel states obligations, tests and harnesses, and has at least as
    many tests as obligations."""
    lengths = {
        k: len(v) if isinstance(v := data.get(k), list) else 0
        for k in ("proof_obligations", "falsification_tests", "kani_harnesses")
    }
    messages = [f"kernel contract has no {k}" for k, n in lengths.items() if n == 0]
    tests, obligations = lengths["falsification_tests"], lengths["proof_obligations"]
    if tests < obligations:
        messages.append(f"falsification_tests ({tests}) < proof_obligations ({obligations})")
    hint = "add them, or declare metadata.kind if this is not a kernel"
    return [make(doc, "PROVABILITY-001", (), m, hint) for m in messages]


def misspelled_blocks(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PV-003 (a warning) for a top-level key in our misspelling table that is no near-miss
    (those are SCHEMA-019): `falsification:` is read by nothing that counts tests."""
    return [
        make(
            doc,
            "PV-003",
            (key,),
            f"'{key}' is not '{MISSPELLINGS[key]}': nothing counts or checks what is under it",
            f"rename to '{MISSPELLINGS[key]}'",
        )
        for key in data
        if key in MISSPELLINGS and kinds.near_miss(key) in (None, key)
    ]


def metadata_rules(
    doc: Document, data: dict[str, Any], *, references: bool = True
) -> list[Finding]:
    """SCHEMA-001 (unless `references` is False: partial contracts cite in their comments),
    SCHEMA-002 and PV-010 (a version must be MAJOR.MINOR.PATCH)."""
    out: list[Finding] = []
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return out
    refs = meta.get("references")
    if references and (not isinstance(refs, list) or not any(text(r) for r in refs)):
        message = "metadata.references must not be empty: cite the source paper(s)"
        out.append(make(doc, "SCHEMA-001", ("metadata", "references"), message))
    version = meta.get("version")
    where = ("metadata", "version")
    if (isinstance(version, str) and version == "") or (version is None and "version" in meta):
        out.append(make(doc, "SCHEMA-002", where, "metadata.version must not be empty"))
        return out
    if not isinstance(version, str):
        return out  # a number or a list is the schema's finding
    reading = semver.read(version)
    if reading.version is None:
        message = f"metadata.version '{version}' cannot be read as a version"
        out.append(make(doc, "PV-010", where, message, 'use MAJOR.MINOR.PATCH such as "1.0.0"'))
    elif not reading.exact:
        message = f"metadata.version '{version}' is read as {reading.version}"
        out.append(make(doc, "PV-013", where, message, f'write "{reading.version}"'))
    return out


def equations(data: dict[str, Any]) -> dict[str, Any]:
    """`equations` as a map of name -> body, named as the contract model names them."""
    value = data.get("equations")
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        names = [e.name for e in model.equations(data)]
        bodies = {
            (
                eq.get("id")
                if isinstance(eq, dict) and isinstance(eq.get("id"), str)
                else f"equation_{i}"
            ): eq
            for i, eq in enumerate(value)
        }
        return {name: bodies[name] for name in names}
    return {}


def _equation_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    found = equations(data)
    if not found:
        message = "equations must contain at least one equation"
        return [make(doc, "SCHEMA-003", ("equations",), message)]
    listed = isinstance(data.get("equations"), list)
    return [
        make(
            doc,
            "SCHEMA-004",
            ("equations", i if listed else name, "formula"),
            f"equations.{name}.formula must not be empty",
        )
        for i, (name, eq) in enumerate(found.items())
        if isinstance(eq, dict) and not text(eq.get("formula"))
    ]


def falsification_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """SCHEMA-007/008/009 and the id format, for contracts and partial contracts alike. The
    older spellings `expected` / `fails_if` count as `prediction` / `if_fails`."""
    out: list[Finding] = []
    seen: set[str] = set()
    for i, test in items(data, "falsification_tests"):
        tid, where = str(test.get("id", "")), ("falsification_tests", i)
        if tid in seen:
            message = f"duplicate falsification test id: {tid}"
            out.append(make(doc, "SCHEMA-007", (*where, "id"), message))
        seen.add(tid)
        if tid and not _FALSIFY_ID.match(tid):
            message = f"falsification id '{tid}' is not FALSIFY-PREFIX-NNN"
            out.append(make(doc, "PV-009", (*where, "id"), message))
        if not text(first(test, "prediction", "expected")):
            message = f"{tid}: prediction must not be empty: a test must make a falsifiable claim"
            out.append(make(doc, "SCHEMA-008", (*where, "prediction"), message))
        if not text(first(test, "if_fails", "fails_if")):
            message = f"{tid}: if_fails is empty: it should describe the root-cause diagnosis"
            out.append(make(doc, "SCHEMA-009", (*where, "if_fails"), message))
    return out


def _kani_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    index: _Obligations | None = None
    for i, harness in items(data, "kani_harnesses"):
        hid, where = str(harness.get("id", "")), ("kani_harnesses", i)
        if hid in seen:
            out.append(make(doc, "SCHEMA-010", (*where, "id"), f"duplicate Kani harness id: {hid}"))
        seen.add(hid)
        if hid and not _KANI_ID.match(hid):
            message = f"Kani harness id '{hid}' is not KANI-PREFIX-NNN"
            out.append(make(doc, "PV-009", (*where, "id"), message))
        obligation = harness.get("obligation")
        if not text(obligation):
            message = f"{hid}: obligation must not be empty: a harness must name a proof obligation"
            out.append(make(doc, "SCHEMA-011", (*where, "obligation"), message))
        else:
            index = index or _Obligations(data)
            if not index.resolves(str(obligation).strip()):
                message = f"{hid}: obligation '{obligation}' names no equation or proof obligation"
                out.append(make(doc, "PV-005", (*where, "obligation"), message, _PV005_HINT))
        if "bound" not in harness:
            message = f"{hid}: bound not specified: Kani needs an unwind bound"
            out.append(make(doc, "SCHEMA-012", (*where, "bound"), message))
    return out


_PV005_HINT = (
    "use an equation name, a 1-based obligation index, or PREFIX-ABBR-N "
    "(e.g. CE-BND-2: the second `bound` obligation)"
)


class _Obligations:
    """What a Kani `obligation` may name in one contract, gathered once per contract."""

    def __init__(self, data: dict[str, Any]) -> None:
        obligations = [ob for _, ob in items(data, "proof_obligations")]
        self.names = set(equations(data))
        for ob in obligations:
            for name in (ob.get("id"), first(ob, "property", "statement")):
                if isinstance(name, str):
                    self.names.add(name)
        self.count = len(obligations)
        self.types = [ob.get("type") for ob in obligations]
        self.prefixes: set[str] = set()
        for key, head in (("falsification_tests", "FALSIFY-"), ("kani_harnesses", "KANI-")):
            for _, item in items(data, key):
                tid = str(item.get("id", ""))
                if tid.startswith(head):
                    self.prefixes.add(_TRAILING_NUMBER.sub("", tid[len(head) :]))

    def resolves(self, name: str) -> bool:
        if name in self.names:
            return True
        if name.isdigit():
            return 1 <= int(name) <= self.count
        match = _IMPLICIT.match(name)
        if match is None or match["abbr"] not in _ABBREVIATIONS:
            return False
        if match["prefix"] not in self.prefixes:
            return False
        wanted = _ABBREVIATIONS[match["abbr"]]
        return 1 <= int(match["n"]) <= self.types.count(wanted)


def resolve_obligation(data: dict[str, Any], name: str) -> bool:
    """Whether a Kani `obligation` names something real: an equation, an obligation id or
    property, a 1-based index (``"2"``), or an implicit id ``PREFIX-ABBR-N`` (the N-th
    obligation of that type in the contract whose ids use PREFIX)."""
    return _Obligations(data).resolves(name)

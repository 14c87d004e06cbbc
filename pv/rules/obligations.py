"""Proof-obligation rules (SCHEMA-005/006, 014..017, 021..023): they run on every kind, because
an exempt contract that does carry obligations should still have them right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pv.core.findings import Finding
from pv.core.ruletable import first, items, make, text

if TYPE_CHECKING:
    from pv.contracts.load import Document

# A Design-by-Contract field only means something on the obligation types that read it.
_DBC_FIELDS = (
    ("requires", "SCHEMA-014", ("postcondition",)),
    ("applies_to_phase", "SCHEMA-015", ("loop_invariant", "loop_variant")),
    ("parent_contract", "SCHEMA-016", ("subcontract",)),
)


def obligation_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """Every obligation rule, in the order the Rust pv reports them."""
    out: list[Finding] = []
    seen: set[str] = set()
    meta = data.get("metadata")
    depends = meta.get("depends_on") if isinstance(meta, dict) else None
    parents = set(depends) if isinstance(depends, list) else set()
    for i, ob in items(data, "proof_obligations"):
        out += _identity(doc, i, ob, seen)
        out += _dbc_fields(doc, i, ob)
        out += _parent_link(doc, i, ob, parents)
        out += _not_applicable(doc, i, ob)
    return out


def _identity(doc: Document, i: int, ob: dict[str, Any], seen: set[str]) -> list[Finding]:
    out = []
    where = ("proof_obligations", i)
    if not text(first(ob, "property", "statement")):
        message = f"proof_obligations[{i}].property must not be empty"
        out.append(make(doc, "SCHEMA-005", (*where, "property"), message))
    formal = first(ob, "formal", "verification")
    if isinstance(formal, str):
        if formal in seen:
            message = f"duplicate formal predicate: {formal}"
            out.append(make(doc, "SCHEMA-006", (*where, "formal"), message))
        seen.add(formal)
    return out


def _kind(ob: dict[str, Any]) -> str:
    kind = ob.get("type")
    return kind if isinstance(kind, str) else "invariant"  # the newer dialect's default


def _dbc_fields(doc: Document, i: int, ob: dict[str, Any]) -> list[Finding]:
    out = []
    for name, rule, valid_on in _DBC_FIELDS:
        if ob.get(name) is not None and _kind(ob) not in valid_on:
            message = (
                f"proof_obligations[{i}].{name} is only valid on {' or '.join(valid_on)} "
                f"obligations (found on {_kind(ob)})"
            )
            out.append(make(doc, rule, ("proof_obligations", i, name), message))
    return out


def _parent_link(doc: Document, i: int, ob: dict[str, Any], parents: set[str]) -> list[Finding]:
    parent = ob.get("parent_contract")
    if parent is None or _kind(ob) != "subcontract" or parent in parents:
        return []
    message = f'proof_obligations[{i}].parent_contract "{parent}" is not in metadata.depends_on'
    hint = f"add '{parent}' to metadata.depends_on"
    return [make(doc, "SCHEMA-017", ("proof_obligations", i, "parent_contract"), message, hint)]


# The reference reads `N/A` (exactly so) as not_applicable; any other spelling is a target.
NOT_APPLICABLE = ("not_applicable", "N/A")


def _not_applicable(doc: Document, i: int, ob: dict[str, Any]) -> list[Finding]:
    where = ("proof_obligations", i)
    if ob.get("applies_to") in NOT_APPLICABLE:
        out = []
        if not text(ob.get("na_reason")):
            message = f"proof_obligations[{i}] is not_applicable but has no na_reason"
            hint = "say why it is not a property of code"
            out.append(make(doc, "SCHEMA-021", (*where, "na_reason"), message, hint))
        if not text(ob.get("na_owner")):
            message = f"proof_obligations[{i}] is not_applicable but has no na_owner"
            hint = "name the bench, check or evidence command that verifies it"
            out.append(make(doc, "SCHEMA-022", (*where, "na_owner"), message, hint))
        return out
    return [
        make(
            doc,
            "SCHEMA-023",
            (*where, name),
            f"proof_obligations[{i}].{name} is only valid with applies_to: not_applicable",
            "declare applies_to: not_applicable, or remove it",
        )
        for name in ("na_reason", "na_owner")
        if name in ob
    ]

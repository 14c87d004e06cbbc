"""What the reference's parser refuses that a JSON Schema cannot say: a field written together
with its older spelling (the parser reads both as one field and stops at "duplicate field"),
and a parity ledger's typed fields and dates (pv.rules.parity). Each refusal is PV-001, an error, as
every parse failure is: the reference would not read the file at all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pv.contracts.model import OBLIGATION_ALIASES, TEST_ALIASES, effective_kind
from pv.core.findings import Finding
from pv.core.ruletable import items, make

if TYPE_CHECKING:
    from pv.contracts.load import Document


def refusals(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out = _aliases(doc, data, "falsification_tests", TEST_ALIASES)
    out += _aliases(doc, data, "proof_obligations", OBLIGATION_ALIASES)
    if effective_kind(data) == "competitive-parity":
        from pv.rules import ledger

        out += ledger.parse_refusals(doc, data)
    return out


def _aliases(
    doc: Document, data: dict[str, Any], section: str, aliases: dict[str, str]
) -> list[Finding]:
    out = []
    for i, item in items(data, section):
        for name, older in aliases.items():
            if name in item and older in item:
                message = (
                    f"{section}[{i}] writes both `{name}` and `{older}`, one field to the "
                    f"reference parser, which refuses the file (duplicate field `{name}`)"
                )
                hint = f"keep `{name}` and delete `{older}`"
                out.append(make(doc, "PV-001", (section, i, older), message, hint))
    return out

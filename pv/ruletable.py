"""The rule table every per-file check draws on, kept below the rule modules so they can share
it without importing each other. SCHEMA-xxx, PROVABILITY, BEAT, CRUX and KAIZEN ids keep the Rust
pv's meaning and severity; LOAD-xxx and PV-xxx are ours.
"""

from __future__ import annotations

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
    "SCHEMA-014": ("error", "`requires` on an obligation that is not a postcondition"),
    "SCHEMA-015": ("error", "`applies_to_phase` on an obligation that is not a loop (in)variant"),
    "SCHEMA-016": ("error", "`parent_contract` on an obligation that is not a subcontract"),
    "SCHEMA-017": ("error", "subcontract parent not listed in metadata.depends_on"),
    "SCHEMA-018": ("error", "top-level `kind:` (the kind lives in metadata.kind)"),
    "SCHEMA-019": ("error", "top-level key is a near-miss of a contract block name"),
    "SCHEMA-020": ("error", "duplicate mapping key"),
    "SCHEMA-021": ("error", "not_applicable obligation without na_reason"),
    "SCHEMA-022": ("error", "not_applicable obligation without na_owner"),
    "SCHEMA-023": ("error", "na_reason / na_owner on an obligation that is applicable"),
    "PROVABILITY-001": ("error", "kernel lacks obligations, tests or harnesses"),
    "BEAT-001": ("error", "beat-benchmark without a beat: block"),
    "BEAT-002": ("error", "beat.incumbent names none of the four pillars"),
    "BEAT-003": ("error", "beat.metric is empty"),
    "BEAT-004": ("error", "beat.direction is not higher_is_better / lower_is_better"),
    "BEAT-005": ("error", "beat.beat_threshold missing or not finite"),
    "BEAT-006": ("error", "beat.ci_gate_name is empty"),
    "BEAT-007": ("error", "beat.approved_compute is not CPU or GPU"),
    "CRUX-001": ("error", "demand_score missing or outside 1..5"),
    "CRUX-002": ("error", "competitor missing or not a known research source"),
    "KAIZEN-001": ("error", "kaizen record without a contract id"),
    "KAIZEN-002": ("error", "kaizen status missing or unknown"),
    "KAIZEN-003": ("error", "kaizen record states nothing that can fail"),
    "KAIZEN-004": ("error", "kaizen target without a comparable baseline"),
    "KAIZEN-005": ("error", "kaizen baseline -> target moves no number"),
    "KAIZEN-006": ("error", "kaizen raises every cost it measures"),
    "PV-001": ("error", "value does not match the contract schema"),
    "PV-002": ("warning", "unknown key"),
    "PV-003": ("warning", "known misspelling of a contract key"),
    "PV-004": ("warning", "unquoted YAML scalar read as a number/boolean where text is expected"),
    "PV-005": ("warning", "Kani obligation names no obligation or equation"),
    "PV-006": ("error", "depends_on names no known contract"),
    "PV-007": ("error", "dependency cycle between contracts"),
    "PV-008": ("warning", "falsification id also used by another file"),
    "PV-009": ("warning", "id does not follow the PREFIX-NNN format"),
    "PV-010": ("error", "metadata.version is not MAJOR.MINOR.PATCH"),
    "PV-011": ("warning", "partial contract: only metadata and falsification tests checked"),
    "PV-012": ("warning", "top-level key with no value, read as empty"),
}


def make(
    doc: Document, rule: str, path: JsonPath, message: str, hint: str | None = None
) -> Finding:
    """A finding for `rule` at `path`, with the rule table's severity."""
    return doc.finding(rule, RULES[rule][0], path, message, hint)


def text(value: Any) -> str:
    """A value's text, stripped; anything that is not a string counts as empty."""
    return value.strip() if isinstance(value, str) else ""


def items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) for every mapping in the list at `key` (other shapes are the schema's)."""
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def first(item: dict[str, Any], *names: str) -> Any:
    """The first of `names` present in `item`: the newer dialect reads older spellings
    (`statement` for `property`, `expected` for `prediction`, ...) as aliases."""
    for name in names:
        if name in item:
            return item[name]
    return None

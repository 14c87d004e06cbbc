"""pv.rules.rules pinned down to what a user reads: every finding of every example contract with
its rule, severity, place, JSON path, message and suggestion (tests/pv/examples/findings.json),
plus the branches the examples do not reach. Written to kill the mutants mutmut found
surviving `test_rules.py`, which checks rule ids only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pv.contracts import schema
from pv.contracts.load import load_bytes
from pv.core.ruletable import RULES
from pv.rules import rules
from pv.rules.validate import validate_file

EXAMPLES = Path(__file__).parents[1] / "examples"
EXPECTED: dict[str, list[list[Any]]] = json.loads(
    (EXAMPLES / "findings.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_example_reports_exactly_its_recorded_findings(name: str) -> None:
    got = [
        [f.rule, f.severity, f.line, f.column, f.path, f.message, f.suggestion]
        for f in validate_file(EXAMPLES / name).findings
    ]
    assert got == EXPECTED[name]


def test_the_recorded_findings_cover_every_example_file() -> None:
    files = {f"{p.parent.name}/{p.name}" for p in EXAMPLES.glob("*/*.yaml")}
    assert files == set(EXPECTED)


KNOWN = schema.known_keys("contract", ())


def _doc(data: dict[str, Any]) -> Any:
    return load_bytes(yaml.safe_dump(data).encode(), "c.yaml")


def _rules(data: dict[str, Any]) -> list[Any]:
    return rules.contract_rules(_doc(data), data, KNOWN)


def _contract(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "metadata": {"version": "1.0.0", "description": "d", "references": ["r"]},
        "equations": {"e": {"formula": "f"}},
        "proof_obligations": [{"type": "invariant", "property": "p", "formal": "x"}],
        "falsification_tests": [
            {"id": "FALSIFY-ABC-001", "rule": "r", "prediction": "p", "if_fails": "f"}
        ],
        "kani_harnesses": [{"id": "KANI-ABC-001", "obligation": "e", "bound": 1}],
        "qa_gate": {"id": "Q", "name": "q"},
    }
    data.update(overrides)
    return data


def test_contract_rules_default_to_kernel_contracts_that_need_equations() -> None:
    data = _contract(equations={})
    found = [f.rule for f in _rules(data)]
    assert "SCHEMA-003" in found
    pattern = {**data, "metadata": {**data["metadata"], "kind": "pattern"}}
    assert "SCHEMA-003" not in [f.rule for f in _rules(pattern)]


def test_a_complete_contract_has_no_rule_findings() -> None:
    data = _contract()
    assert _rules(data) == []


def test_implicit_obligation_ids_resolve_through_the_id_prefixes() -> None:
    data = _contract(
        kani_harnesses=[{"id": "KANI-DEF-001", "obligation": "x", "bound": 1}],
        proof_obligations=[
            {"type": "invariant", "property": "p1"},
            {"type": "invariant", "property": "p2"},
            {"type": "bound", "property": "p3"},
        ],
    )
    assert rules.resolve_obligation(data, "ABC-INV-2")
    assert rules.resolve_obligation(data, "DEF-BND-1")
    assert not rules.resolve_obligation(data, "ABC-INV-3")
    assert not rules.resolve_obligation(data, "ABC-BND-2")
    assert not rules.resolve_obligation(data, "XYZ-INV-1")
    assert not rules.resolve_obligation(data, "ABC-NOPE-1")
    assert rules.resolve_obligation(data, "p3")
    assert rules.resolve_obligation(data, "e")
    assert rules.resolve_obligation(data, "3")
    assert not rules.resolve_obligation(data, "4")
    assert not rules.resolve_obligation(data, "0")
    # a kani id's prefix does not come from the falsification tests, nor the other way round
    only_kani = _contract(
        falsification_tests=[{"id": "KANI-ABC-001"}],
        kani_harnesses=[{"id": "FALSIFY-DEF-001"}],
    )
    assert not rules.resolve_obligation(only_kani, "ABC-INV-1")
    assert not rules.resolve_obligation(only_kani, "DEF-INV-1")


def test_unknown_keys_suggest_a_spelling_only_when_the_right_key_is_known() -> None:
    doc = _doc(_contract())
    known = ["falsification_tests", "equations"]
    wrong = next(iter(rules.MISSPELLINGS))
    right = rules.MISSPELLINGS[wrong]
    hit = rules.unknown_key(doc, ("x",), wrong, [*known, right])
    assert (hit.rule, hit.path, hit.suggestion) == (
        "PV-003",
        f"$.x.{wrong}",
        f"rename to '{right}'",
    )
    assert hit.message == f"'{wrong}' is a misspelling of '{right}'"
    miss = rules.unknown_key(doc, ("x",), wrong, ["zzz"])
    assert miss.rule == "PV-002"
    assert miss.message == f"unknown key '{wrong}'"
    plain = rules.unknown_key(doc, (), "equationz", known)
    assert (plain.rule, plain.suggestion) == ("PV-002", "did you mean 'equations'?")
    far = rules.unknown_key(doc, (), "qqqqqqq", known)
    assert far.suggestion is None


def test_a_close_but_not_close_enough_key_gets_no_suggestion() -> None:
    doc = _doc(_contract())
    # difflib ratio 0.615: under the 0.7 cutoff, so no did-you-mean
    assert rules.unknown_key(doc, (), "equa", ["equations"]).suggestion is None
    assert rules.unknown_key(doc, (), "equat", ["equations"]).suggestion is not None


def test_a_text_field_that_is_not_a_string_counts_as_empty() -> None:
    data = _contract(
        metadata={"version": "1.0.0", "description": "d", "references": [["not text"]]},
        equations={"e": {"formula": ["x"]}},
        proof_obligations=[{"type": "invariant", "property": 3}],
    )
    found = {f.rule for f in _rules(data)}
    assert {"SCHEMA-001", "SCHEMA-004", "SCHEMA-005"} <= found


def test_an_entry_without_an_id_is_not_an_id_format_error() -> None:
    data = _contract(
        falsification_tests=[{"rule": "r", "prediction": "p", "if_fails": "f"}],
        kani_harnesses=[{"obligation": "e", "bound": 1}],
    )
    assert _rules(data) == []


def test_a_malformed_kani_id_is_reported_at_its_id() -> None:
    data = _contract(kani_harnesses=[{"id": "KANI-bad", "obligation": "e", "bound": 1}])
    found = [f for f in _rules(data) if f.rule == "PV-009"]
    assert [(f.path, f.message, f.severity) for f in found] == [
        (
            "$.kani_harnesses[0].id",
            "Kani harness id 'KANI-bad' is not KANI-PREFIX-NNN",
            RULES["PV-009"].severity,
        )
    ]

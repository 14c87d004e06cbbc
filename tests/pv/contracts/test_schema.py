"""Tests for pv.contracts.schema: the shipped schemas, and the fast path (fastjsonschema) agreeing
with
jsonschema (the reference) on real and broken documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pv.contracts import schema
from pv.contracts.load import load_file

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "provable-contracts"
EXAMPLES = Path(__file__).parents[1] / "examples"


def _keyset(violations: list[schema.Violation]) -> set[tuple[Any, ...]]:
    return {(v.path, v.keyword, v.extra) for v in violations}


@pytest.mark.parametrize("kind", ["contract", "binding"])
def test_shipped_schemas_are_valid_draft_2020_12(kind: schema.SchemaKind) -> None:
    loaded = json.loads(schema.schema_text(kind))
    Draft202012Validator.check_schema(loaded)
    assert loaded["$schema"].endswith("2020-12/schema")
    assert callable(schema._fast_validator(kind))


def test_known_keys_follow_refs_items_and_additional_properties() -> None:
    assert "falsification_tests" in schema.known_keys("contract", ())
    assert "binding" in schema.known_keys("contract", ("falsification_tests", 3))
    assert "formula" in schema.known_keys("contract", ("equations", "anything"))
    assert schema.known_keys("contract", ("metadata", "version", "deeper")) == frozenset()


def _mutations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, value in [
        (("metadata", "version"), 1.1),
        (("metadata", "kind"), "bogus"),
        (("metadata", "registry"), "yes"),
        (("kani_harnesses", 0, "bound"), -1),
        (("kani_harnesses", 0, "bound"), True),
        (("kani_harnesses", 0, "strategy"), "magic"),
        (("falsification_tests", 0, "binding"), "not a node id"),
        (("falsification_tests", 0, "typo"), "x"),
        (("proof_obligations", 0), "not a mapping"),
        (("equations",), []),
        (("verification_summary",), {"l2_property_tested": 2.5}),
    ]:
        mutated = copy.deepcopy(doc)
        target: Any = mutated
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        out.append(mutated)
    return out


def _docs() -> list[dict[str, Any]]:
    files = sorted(EXAMPLES.glob("good/*.yaml"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.glob("*.yaml"))[:30]
    docs = [load_file(f).data for f in files]
    return [d for d in docs if d is not None]


def test_fast_path_agrees_with_jsonschema_on_real_and_mutated_documents() -> None:
    docs = _docs()
    mutated = [m for d in docs[:6] for m in _mutations(d) if "kani_harnesses" in d]
    assert len(mutated) > 20
    for doc in docs + mutated:
        fast = schema.check(doc, "contract")
        reference = schema.check_reference(doc, "contract")
        assert _keyset(fast) == _keyset(reference)
    assert any(schema.check(m) for m in mutated)


def test_binding_schema_rejects_unknown_status_in_both_checkers() -> None:
    entry = {"contract": "a.yaml", "equation": "e", "status": "meh"}
    doc = {"version": "1", "target_crate": "c", "bindings": [entry]}
    assert [v.keyword for v in schema.check(doc, "binding")] == ["enum"]
    assert _keyset(schema.check_reference(doc, "binding")) == _keyset(schema.check(doc, "binding"))


def test_a_document_the_fast_path_rejects_gets_every_violation_from_jsonschema() -> None:
    doc = {"metadata": {"version": 1, "description": 2}, "equations": {"e": {"formula": 3}}}
    paths = {v.path for v in schema.check(doc)}
    assert {
        ("metadata", "version"),
        ("metadata", "description"),
        ("equations", "e", "formula"),
    } <= paths


def test_long_values_are_shortened_in_messages() -> None:
    out = schema.check({"metadata": {"version": ["x" * 500]}})
    assert out
    assert all(len(v.message) < 200 for v in out)


def test_the_schema_names_every_kind_and_an_editor_accepts_every_valid_case() -> None:
    from pv.contracts.model import artifact
    from pv.rules.kinds import KINDS
    from tests.pv.rules.test_aprender_cases import FILES, expectations

    assert schema.schema("contract")["$defs"]["metadata"]["properties"]["kind"]["enum"] == list(
        KINDS
    )
    editor = Draft202012Validator(schema.schema("contract"))
    valid = [p for p in FILES if ("verdict", ["valid"]) in expectations(p)]
    assert len(valid) > 10
    for path in valid:
        data = load_file(path).data
        if artifact(data or {}) != "contract":
            continue  # binding registries, manifests and corpora declarations have their own
        assert list(editor.iter_errors(data)) == [], path.name

"""The binding model: classifying `test:` text, declared ids, and folding results to states."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.binding.bind import (
    CheckRef,
    CheckResult,
    DeclaredId,
    classify,
    contract_files,
    declared_ids,
    fold_outcomes,
    resolve,
    strip_params,
    undeclared,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("falsify/test_apr.py::test_001_student_changes", "node-id"),
        ("falsify/test_apr.py::TestLoss::test_alpha[0.5-2]", "node-id"),
        ("  tests/pv/test_x.py::test_y  ", "node-id"),
        ("falsify.test_apr:test_001", "module-function"),
        ("falsify.test_apr:TestLoss.test_alpha", "module-function"),
        ("proptest with random seq_len and d, verify output dimensions match", "prose"),
        ("Deterministic: 28 % 4 == 0", "prose"),
        ("pv coverage --binding check", "prose"),
        ("test_apr.py", "prose"),
        ("", "prose"),
    ],
)
def test_test_text_is_classified_as_node_id_module_function_or_prose(text: str, kind: str) -> None:
    assert classify(text) == kind


def test_a_module_function_reference_names_the_matching_node_id() -> None:
    ref = CheckRef(kind="module-function", text="falsify.test_a:TestX.test_y", source="binding")
    assert ref.nodeid == "falsify/test_a.py::TestX::test_y"


def test_a_parametrised_node_id_reference_names_the_whole_function() -> None:
    ref = CheckRef(kind="node-id", text="f/t.py::test_y[1-2]", source="test")
    assert ref.nodeid == "f/t.py::test_y"
    assert strip_params("a.py::b[c[d]") == "a.py::b"


def test_prose_names_no_node_id() -> None:
    assert CheckRef(kind="prose", text="by hand", source="test").nodeid is None


def test_declared_ids_keep_prediction_if_fails_and_every_reference() -> None:
    doc = {
        "falsification_tests": [
            {
                "id": "FALSIFY-A-001",
                "prediction": " p ",
                "if_fails": "f",
                "test": "proptest by hand",
                "binding": ["f/t.py::test_a", "f.t:test_b"],
            },
            {"id": "FALSIFY-A-002", "binding": "f/t.py::test_c"},
            {"prediction": "no id: skipped, validate reports it"},
            "not a mapping",
        ]
    }
    ids = declared_ids("c.yaml", doc)
    assert [d.id for d in ids] == ["FALSIFY-A-001", "FALSIFY-A-002"]
    first = ids[0]
    assert (first.prediction, first.if_fails, first.contract) == ("p", "f", "c.yaml")
    assert [(r.source, r.kind) for r in first.refs] == [
        ("binding", "node-id"),
        ("binding", "module-function"),
        ("test", "prose"),
    ]
    assert ids[1].refs[0].nodeid == "f/t.py::test_c"


def test_a_contract_without_falsification_tests_declares_nothing() -> None:
    assert declared_ids("c.yaml", {"falsification_tests": "oops"}) == []
    assert declared_ids("c.yaml", {}) == []


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        (["passed", "passed"], "passed"),
        (["passed", "failed", "skipped"], "failed"),
        (["passed", "skipped"], "skipped"),
        ([], "not-run"),
    ],
)
def test_the_worst_outcome_decides_the_state(outcomes: list[str], state: str) -> None:
    assert fold_outcomes(outcomes) == state  # type: ignore[arg-type]


def _decl(ident: str, *refs: CheckRef) -> DeclaredId:
    return DeclaredId(id=ident, contract="c.yaml", prediction="", if_fails="", refs=refs)


def _result(nodeid: str, outcome: str, *ids: str) -> CheckResult:
    return CheckResult(nodeid=nodeid, outcome=outcome, ids=ids, duration=0.5)  # type: ignore[arg-type]


def test_resolve_gives_each_id_one_state() -> None:
    declared = [
        _decl("F-1"),
        _decl("F-2", CheckRef(kind="prose", text="by hand", source="test")),
        _decl("F-3", CheckRef(kind="node-id", text="t.py::test_bound", source="binding")),
        _decl("F-4"),
        _decl("F-5"),
    ]
    results = [
        _result("t.py::test_one[a]", "passed", "F-1"),
        _result("t.py::test_one[b]", "failed", "F-1"),
        _result("t.py::test_bound[x]", "passed"),
        _result("t.py::test_five", "passed", "F-5"),
    ]
    collected = {"t.py::test_deselected": ["F-4"]}
    states = {s.declared.id: s for s in resolve(declared, results, collected)}
    assert {k: s.state for k, s in states.items()} == {
        "F-1": "failed",
        "F-2": "unbound",
        "F-3": "passed",
        "F-4": "not-run",
        "F-5": "passed",
    }
    assert states["F-1"].nodeids == ("t.py::test_one[a]", "t.py::test_one[b]")
    assert states["F-1"].durations == (0.5, 0.5)


def test_a_bound_check_that_never_reported_leaves_its_id_not_run() -> None:
    decl = _decl("F-9", CheckRef(kind="module-function", text="t:test_z", source="binding"))
    (state,) = resolve([decl], [], {"t.py::test_z": []})
    assert state.state == "not-run"


def test_ids_no_contract_declares_are_listed_with_their_checks() -> None:
    results = [_result("t.py::a", "passed", "F-1", "F-X"), _result("t.py::b", "passed", "F-X")]
    assert undeclared([_decl("F-1")], results) == {"F-X": ["t.py::a", "t.py::b"]}


def test_contract_files_searches_folders_for_yaml(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.yaml", "sub/b.yml", "c.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = contract_files([tmp_path, tmp_path / "c.txt", tmp_path / "missing.yaml"])
    assert found == [tmp_path / "a.yaml", tmp_path / "sub/b.yml", tmp_path / "c.txt"]


def test_kani_harnesses_are_declared_as_bindable_ids_after_the_falsification_ids() -> None:
    from pv.binding.bind import declared_checks, declared_harnesses

    doc = {
        "falsification_tests": [{"id": "FALSIFY-A-001"}],
        "kani_harnesses": [
            {
                "id": "KANI-A-001",
                "obligation": "eq",
                "property": "ranks",
                "bound": 8,
                "harness": "verify_ranks",
            },
            {"obligation": "no id: skipped"},
        ],
    }
    harnesses = declared_harnesses("c.yaml", doc)
    assert [(h.id, h.kind, h.refs) for h in harnesses] == [("KANI-A-001", "harness", ())]
    assert harnesses[0].prediction == "ranks within bound 8"
    assert "verify_ranks" in harnesses[0].if_fails
    assert [d.id for d in declared_checks("c.yaml", doc)] == ["FALSIFY-A-001", "KANI-A-001"]
    assert declared_ids("c.yaml", doc)[0].kind == "falsification"

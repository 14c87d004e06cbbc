"""Stated evidence against results (pv.binding.claims.evidence_vs_results), and bounded-harness ids
in
the contracts <-> tests drift check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pv.binding.claims import contracts_vs_tests, evidence_vs_results, status_claims
from pv.binding.testscan import scan
from pv.contracts.load import Document, load_file

CONTRACT = """\
falsification_tests:
  - id: FALSIFY-E-001
    prediction: "p"
    if_fails: "f"
    algorithm_evidence:
      status: {status}
      test_locations:
        - "tests/test_e.py::test_one[case]"
  - id: FALSIFY-E-002
    prediction: "p"
    if_fails: "f"
kani_harnesses:
  - id: KANI-E-001
    obligation: "eq"
    property: "bounded"
    bound: 4
"""


def _doc(tmp_path: Path, status: str = "PARTIAL_ALGORITHM_LEVEL") -> Document:
    path = tmp_path / "e-v1.yaml"
    path.write_text(CONTRACT.format(status=status), encoding="utf-8")
    return load_file(path, display="contracts/e-v1.yaml")


def _report(state: str, outcome: str = "passed") -> dict[str, Any]:
    return {
        "ids": [{"id": "FALSIFY-E-001", "state": state}],
        "checks": [{"nodeid": "tests/test_e.py::test_one[case]", "outcome": outcome}],
    }


@pytest.mark.parametrize(
    ("status", "claims"),
    [
        ("PARTIAL_ALGORITHM_LEVEL", True),
        ("ALGORITHM_LEVEL", True),
        ("verified", True),
        ("UNVERIFIED", False),
        ("NOT_STARTED", False),
        ("pending", False),
        ("banana", None),
    ],
)
def test_a_status_word_claims_a_passing_check_or_not(status: str, claims: bool | None) -> None:
    assert status_claims(status) is claims


def test_partial_algorithm_level_over_a_failing_check_is_an_error(tmp_path: Path) -> None:
    findings = evidence_vs_results((_doc(tmp_path),), _report("failed", "failed"))
    assert [(f.rule, f.severity) for f in findings] == [("DRIFT-031", "error")] * 2
    assert "FALSIFY-E-001 is failed" in findings[0].message
    assert "tests/test_e.py::test_one[case] failed" in findings[1].message
    assert findings[0].path == "$.falsification_tests[0].algorithm_evidence.status"
    assert findings[0].line == 6


def test_a_claim_over_an_id_that_never_ran_is_an_error(tmp_path: Path) -> None:
    findings = evidence_vs_results((_doc(tmp_path),), {"ids": [], "checks": []})
    assert [f.message.rsplit("but ", 1)[1] for f in findings] == ["FALSIFY-E-001 is not-run"]


def test_a_claim_the_results_bear_out_is_no_finding(tmp_path: Path) -> None:
    assert evidence_vs_results((_doc(tmp_path),), _report("passed")) == []


def test_a_status_that_claims_nothing_is_not_contradicted_by_a_failure(tmp_path: Path) -> None:
    report = _report("failed", "failed")
    assert evidence_vs_results((_doc(tmp_path, "NOT_STARTED"),), report) == []


def test_an_unknown_status_word_is_a_warning(tmp_path: Path) -> None:
    findings = evidence_vs_results((_doc(tmp_path, "banana"),), _report("passed"))
    assert [(f.rule, f.severity) for f in findings] == [("DRIFT-032", "warning")]


def test_harness_ids_are_bindable_and_unbound_ones_are_drift(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_e.py").write_text(
        "import pytest\n\n"
        '@pytest.mark.falsifies("FALSIFY-E-001", "FALSIFY-E-002")\n'
        "def test_one():\n    pass\n",
        encoding="utf-8",
    )
    doc = _doc(tmp_path)
    unbound = contracts_vs_tests((doc,), scan(tmp_path, (tests,), {}), tmp_path)
    assert [(f.rule, f.path) for f in unbound] == [("DRIFT-020", "$.kani_harnesses[0].id")]
    (tests / "test_k.py").write_text(
        'import pytest\n\n@pytest.mark.falsifies("KANI-E-001")\ndef test_k():\n    pass\n',
        encoding="utf-8",
    )
    # bound now, and not "an id no contract declares" either
    assert contracts_vs_tests((doc,), scan(tmp_path, (tests,), {}), tmp_path) == []

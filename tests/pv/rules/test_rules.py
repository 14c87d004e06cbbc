"""Tests for pv.rules.rules and pv.rules.crossfile, driven by the example contracts and small
documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pv.contracts.load import load_bytes
from pv.contracts.result import Located
from pv.core.ruletable import RULES
from pv.rules import crossfile, rules
from pv.rules.validate import check_document, validate_file, validate_paths

EXAMPLES = Path(__file__).parents[1] / "examples"
BAD = sorted(EXAMPLES.glob("bad/*.yaml"))
GOOD = sorted(EXAMPLES.glob("good/*.yaml"))


def _rule_of(path: Path) -> str:
    return "-".join(path.stem.split("-")[:2])


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_examples_have_no_findings(path: Path) -> None:
    assert validate_file(path).findings == ()


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_example_reports_the_rule_its_name_starts_with(path: Path) -> None:
    report = validate_paths([path])
    rule = _rule_of(path)
    hits = [f for f in report.findings if f.rule == rule]
    assert hits, f"{rule} not reported: {report.findings}"
    expected = RULES[rule].severity
    assert all(f.severity == expected for f in hits)
    assert all(f.file.endswith(path.name) and f.line >= 1 for f in report.findings)


def test_every_rule_in_the_table_has_a_bad_example_or_a_case_or_a_cross_file_test() -> None:
    from tests.pv.rules.test_aprender_cases import FILES, expectations

    cases = {w[0] for p in FILES for kind, w in expectations(p) if kind == "rule"}
    covered = {_rule_of(p) for p in BAD} | cases | {"LOAD-001", "LOAD-002", "LOAD-011", "PV-007"}
    covered |= {"PV-008"}
    covered |= {f"PM-SHAPE-00{n}" for n in range(1, 6)}  # tests/pv/rules/test_artifacts.py
    own = {
        r for r in RULES if r.startswith(("DRIFT-", "GATE-"))
    }  # tests/pv/drift/test_drift.py, ...
    assert set(RULES) - own <= covered, sorted(set(RULES) - own - covered)


def test_rust_rule_severities_match_the_rust_table() -> None:
    warnings = {"SCHEMA-006", "SCHEMA-009", "SCHEMA-012", "SCHEMA-013"}
    for n in range(1, 14):
        rule = f"SCHEMA-{n:03d}"
        assert RULES[rule].severity == ("warning" if rule in warnings else "error")


def _check(text: str) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in check_document(load_bytes(text.encode(), "t.yaml")).findings]


BASE = (EXAMPLES / "good" / "minimal.yaml").read_text()


def test_legacy_falsification_block_is_flagged_and_never_counted_as_tests() -> None:
    # The newer Rust pv keeps a top-level `falsification:` as a legacy block (no SCHEMA-019),
    # but counts none of it: the kernel then has no falsification_tests (PROVABILITY-001).
    findings = check_document(
        load_bytes(BASE.replace("falsification_tests:", "falsification:").encode(), "t")
    ).findings
    hit = [f for f in findings if f.rule == "PV-003"]
    assert len(hit) == 1
    assert hit[0].severity == "warning"
    assert "SCHEMA-019" not in {f.rule for f in findings}
    assert "PROVABILITY-001" in {f.rule for f in findings}
    assert "falsification_tests" in (hit[0].suggestion or "")
    assert hit[0].line == BASE.splitlines().index("falsification_tests:") + 1


def test_unknown_key_suggests_the_closest_known_key() -> None:
    findings = check_document(
        load_bytes(BASE.replace("    prediction:", "    predicton:").encode(), "t")
    ).findings
    hit = [f for f in findings if f.rule == "PV-002"]
    assert hit
    assert hit[0].suggestion == "did you mean 'prediction'?"
    assert hit[0].path == "$.falsification_tests[0].predicton"


@pytest.mark.parametrize("version", ["1.0.0.0", "latest", "banana", "x1.0.0"])
def test_a_version_that_cannot_be_read_is_an_error_that_says_how(version: str) -> None:
    findings = check_document(
        load_bytes(BASE.replace('"1.0.0"', f'"{version}"').encode(), "t")
    ).findings
    (hit,) = [f for f in findings if f.rule == "PV-010"]
    assert hit.severity == "error"
    assert "MAJOR.MINOR.PATCH such as" in (hit.suggestion or "")
    assert hit.path == "$.metadata.version"


@pytest.mark.parametrize(
    ("version", "read"),
    [("1.0", "1.0.0"), ("1", "1.0.0"), ("v1.2.3", "1.2.3"), ("01.0.0", "1.0.0")],
)
def test_a_short_version_a_person_meant_is_read_with_a_warning(version: str, read: str) -> None:
    findings = check_document(
        load_bytes(BASE.replace('"1.0.0"', f'"{version}"').encode(), "t")
    ).findings
    (hit,) = [f for f in findings if f.rule in ("PV-010", "PV-013")]
    assert (hit.rule, hit.severity) == ("PV-013", "warning")
    assert f"is read as {read}" in hit.message


def test_unquoted_version_is_kept_as_written_and_flagged() -> None:
    doc = load_bytes(BASE.replace('version: "1.0.0"', "version: 1.10").encode(), "t")
    findings = check_document(doc).findings
    assert doc.data is not None
    assert doc.data["metadata"]["version"] == "1.10"
    assert {f.rule for f in findings} == {"PV-004", "PV-013"}
    assert all(f.rule != "PV-001" for f in findings)


def _data(obligations: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    return {
        "equations": {"softmax": {}},
        "proof_obligations": obligations,
        "falsification_tests": [{"id": i} for i in ids],
    }


@pytest.mark.parametrize(
    ("name", "resolved"),
    [
        ("softmax", True),
        ("1", True),
        ("3", True),
        ("4", False),
        ("0", False),
        ("CE-BND-002", True),
        ("CE-BND-003", False),
        ("CE-INV-001", True),
        ("XX-BND-001", False),
        ("CE-SHP-001", False),
        ("by id", True),
        ("stays finite", True),
        ("nonsense", False),
    ],
)
def test_kani_obligation_resolution(name: str, resolved: bool) -> None:
    obligations = [
        {"type": "bound", "property": "p1"},
        {"type": "invariant", "property": "stays finite", "id": "by id"},
        {"type": "bound", "property": "p3"},
    ]
    assert rules.resolve_obligation(_data(obligations, ["FALSIFY-CE-001"]), name) is resolved


def _loc(file: str, name: str, line: int = 1) -> Located:
    return Located(file=file, name=name, line=line, column=3)


def test_dependency_cycles_are_reported_once_per_cycle() -> None:
    graph = {
        "a": [_loc("a.yaml", "b")],
        "b": [_loc("b.yaml", "c")],
        "c": [_loc("c.yaml", "a", 7)],
        "d": [_loc("d.yaml", "a")],
    }
    found = crossfile.dependency_cycles(graph)
    assert [(f.rule, f.file, f.line) for f in found] == [("PV-007", "c.yaml", 7)]
    assert "a -> b -> c -> a" in found[0].message


def test_self_dependency_is_a_cycle() -> None:
    found = crossfile.dependency_cycles({"a": [_loc("a.yaml", "a")]})
    assert [f.message for f in found] == ["dependency cycle: a -> a"]


def test_unknown_dependency_suggests_a_known_contract() -> None:
    found = crossfile.unknown_dependencies(
        [_loc("a.yaml", "softmax-kernel-v2")], {"softmax-kernel-v1"}
    )
    assert found[0].rule == "PV-006"
    assert found[0].suggestion == "did you mean 'softmax-kernel-v1'?"


def test_cross_file_duplicate_ids_warn_on_later_files_only() -> None:
    ids = [
        _loc("a.yaml", "FALSIFY-X-001", 4),
        _loc("a.yaml", "FALSIFY-X-002"),
        _loc("b.yaml", "FALSIFY-X-001", 9),
    ]
    found = crossfile.cross_file_duplicates(ids)
    assert [(f.file, f.line, f.severity) for f in found] == [("b.yaml", 9, "warning")]
    assert "a.yaml:4" in found[0].message


def _findings(text: str) -> list[tuple[str, str]]:
    """(rule, path) of every finding for one document."""
    return [(f.rule, f.path) for f in check_document(load_bytes(text.encode(), "c.yaml")).findings]


_PATTERN = """\
metadata:
  version: "1.0.0"
  description: "a pattern"
  kind: {kind}
  references: ["Paper (2024)"]
proof_obligations:
  - type: invariant
falsification_tests:
  - id: FALSIFY-PAT-001
    rule: "r"
    if_fails: "x"
{extra}"""


@pytest.mark.parametrize("kind", ["pattern", "beat-benchmark", "kaizen"])
def test_any_kind_s_obligations_and_tests_are_checked_beside_its_own_rules(kind: str) -> None:
    found = _findings(_PATTERN.format(kind=kind, extra=""))
    assert ("SCHEMA-005", "$.proof_obligations[0].property") in found
    assert ("SCHEMA-008", "$.falsification_tests[0].prediction") in found
    own = {"beat-benchmark": "BEAT-", "kaizen": "KAIZEN-"}.get(kind)
    if own is not None:  # the kind's own rules add to the others, never replace them
        assert any(rule.startswith(own) for rule, _ in found), found


def test_a_kind_less_kernel_says_why_it_was_held_to_the_kernel_rules() -> None:
    text = (
        (EXAMPLES / "good" / "minimal.yaml")
        .read_text()
        .replace('formula: "f(x) = x"', 'formula: ""')
    )
    (kindless,) = check_document(load_bytes(text.encode(), "c.yaml")).findings
    assert kindless.rule == "SCHEMA-004"
    assert kindless.message.endswith("(no metadata.kind, judged kernel by default)")
    declared = text.replace("metadata:\n", "metadata:\n  kind: kernel\n", 1)
    (kernel,) = check_document(load_bytes(declared.encode(), "c.yaml")).findings
    assert (kernel.rule, kernel.message) == ("SCHEMA-004", "equations.f.formula must not be empty")


def test_equations_written_as_a_list_are_named_by_id_or_position() -> None:
    data: dict[str, Any] = {"equations": [{"id": "softmax", "formula": "s"}, {"formula": "t"}, 3]}
    assert list(rules.equations(data)) == ["softmax", "equation_1", "equation_2"]
    assert rules.equations({"equations": {"f": {}}}) == {"f": {}}
    assert rules.equations({"equations": "f"}) == {}
    text = (
        (EXAMPLES / "good" / "minimal.yaml")
        .read_text()
        .replace(
            'equations:\n  f:\n    formula: "f(x) = x"',
            'equations:\n  - id: f\n    formula: "f(x) = x"\n  - id: g\n    formula: ""',
        )
    )
    assert _findings(text) == [("SCHEMA-004", "$.equations[1].formula")]


def test_the_older_spellings_of_a_test_and_an_obligation_count() -> None:
    text = (EXAMPLES / "good" / "minimal.yaml").read_text()
    text = text.replace("prediction:", "expected:").replace("if_fails:", "fails_if:")
    text = text.replace("property:", "statement:").replace(
        "obligation: MIN-INV-001", "obligation: output is finite"
    )
    assert _findings(text) == []
    unresolved = text.replace("obligation: output is finite", "obligation: output is small")
    assert _findings(unresolved) == [("PV-005", "$.kani_harnesses[0].obligation")]

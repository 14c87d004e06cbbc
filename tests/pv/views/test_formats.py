"""Tests for pv.views.formats: text, json, SARIF 2.1.0 and GitHub annotations."""

from __future__ import annotations

import json

from pv.core.findings import Finding
from pv.rules.validate import FileResult, Report
from pv.views import formats as report


def _finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "rule": "SCHEMA-004", "severity": "error", "file": "contracts/a b.yaml", "line": 3,
        "column": 5, "path": "$.equations.f.formula", "message": "formula must not be empty",
    }  # fmt: skip
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def _report(*findings: Finding) -> Report:
    files = (FileResult(file="contracts/a b.yaml", kind="contract", counts={"equations": 2}),)
    return Report(files=files, findings=tuple(findings))


def test_text_lists_findings_then_the_rust_summary_and_counts() -> None:
    out = report.text(
        _report(
            _finding(), _finding(severity="warning", rule="PV-002", suggestion="did you mean 'x'?")
        )
    )
    lines = out.splitlines()
    assert lines[0] == "contracts/a b.yaml:3:5: error SCHEMA-004 formula must not be empty"
    assert lines[1].endswith("(did you mean 'x'?)")
    assert "1 error(s), 1 warning(s)" in lines
    assert lines[-1].startswith("Checked 1 file: 1 contract, 2 equations")


def test_text_says_contract_is_valid_when_there_is_nothing() -> None:
    assert report.text(_report()).splitlines()[0] == "Contract is valid."


def test_json_is_one_document_with_every_finding() -> None:
    doc = json.loads(report.as_json(_report(_finding(), _finding(line=9))))
    assert doc["summary"]["errors"] == 2
    assert [f["line"] for f in doc["findings"]] == [3, 9]
    assert doc["files"] == [
        {
            "file": "contracts/a b.yaml",
            "kind": "contract",
            "counts": {"equations": 2},
            "equations": [],
        }
    ]


def test_sarif_has_one_rule_entry_per_rule_and_relative_encoded_uris() -> None:
    findings = [
        _finding(),
        _finding(line=7),
        _finding(rule="PV-002", severity="warning"),
        _finding(rule="PV-012", severity="info"),
    ]
    doc = json.loads(report.sarif(_report(*findings)))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["PV-002", "PV-012", "SCHEMA-004"]
    first = run["results"][0]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "contracts/a%20b.yaml"
    assert location["region"] == {"startLine": 3, "startColumn": 5}
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    assert [r["level"] for r in run["results"]] == ["error", "error", "warning", "note"]


def test_github_annotations_escape_properties_and_data() -> None:
    out = report.github(_report(_finding(file="a,b:c.yaml", message="100% bad\nnext line")))
    line = out.splitlines()[0]
    assert (
        line == "::error file=a%2Cb%3Ac.yaml,line=3,col=5,title=SCHEMA-004::100%25 bad%0Anext line"
    )
    assert out.splitlines()[-1] == "1 error(s), 0 warning(s)"


def test_every_format_is_registered() -> None:
    assert set(report.REPORTERS) == {"text", "json", "sarif", "github"}

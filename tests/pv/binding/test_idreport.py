"""The id report: merging the reports of CI shards and matrix jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pv.binding.idreport import ReportError, merge, read
from pv.cli import main
from pv.core.config import PvConfig
from pv.gate.gate import report_step


def entry(ident: str, state: str, *nodeids: str) -> dict[str, Any]:
    return {
        "id": ident,
        "contract": "contracts/c.yaml",
        "state": state,
        "nodeids": list(nodeids),
        "durations": [1.0] * len(nodeids),
        "prediction": "p",
        "if_fails": "f",
        "refs": [],
    }


def report(*entries: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "verdict": "failed",
        "summary": {},
        "ids": list(entries),
        "undeclared": {},
        "load_errors": [],
        "checks": checks or [],
        "environment": {"python": "3.11"},
    }


@pytest.mark.parametrize(
    ("states", "merged"),
    [
        (("passed", "not-run"), "passed"),
        (("not-run", "passed"), "passed"),
        (("passed", "skipped"), "passed"),
        (("passed", "failed"), "failed"),
        (("failed", "passed"), "failed"),
        (("skipped", "not-run"), "skipped"),
        (("not-run", "not-run"), "not-run"),
        (("unbound", "not-run"), "not-run"),
        (("unbound", "unbound"), "unbound"),
    ],
)
def test_an_id_passes_when_it_passed_somewhere_and_failed_nowhere(
    states: tuple[str, str], merged: str
) -> None:
    runs = [(f"r{i}", report(entry("FALSIFY-X-001", s))) for i, s in enumerate(states)]
    assert merge(runs)["ids"][0]["state"] == merged


def test_the_verdict_summary_nodeids_and_checks_are_recomputed() -> None:
    check_a = {"nodeid": "t.py::a", "outcome": "passed", "ids": ["A"], "duration": 1.0}
    check_b = {"nodeid": "t.py::a", "outcome": "failed", "ids": ["A"], "duration": 2.0}
    one = report(entry("A", "passed", "t.py::a"), entry("B", "not-run"), checks=[check_a])
    two = report(entry("A", "not-run"), entry("B", "passed", "t.py::b"), checks=[check_b])
    merged = merge([("one.json", one), ("two.json", two)])
    assert merged["verdict"] == "passed"
    assert merged["summary"]["passed"] == 2
    assert [e["nodeids"] for e in merged["ids"]] == [["t.py::a"], ["t.py::b"]]
    assert merged["checks"] == [
        {"nodeid": "t.py::a", "outcome": "failed", "ids": ["A"], "duration": 3.0}
        | {"mutants": [], "mutant_applied": None, "mutant_error": None, "properties": {}}
    ]
    assert [r["source"] for r in merged["runs"]] == ["one.json", "two.json"]
    # a merged report merges again, keeping the runs it came from
    again = merge([("m.json", merged), ("three.json", report(entry("A", "failed")))])
    assert again["verdict"] == "failed"
    assert [r["source"] for r in again["runs"]] == ["one.json", "two.json", "three.json"]


def test_undeclared_ids_and_load_errors_survive_the_merge() -> None:
    one = report(entry("A", "passed", "t.py::a"))
    one["undeclared"] = {"FALSIFY-GHOST": ["t.py::g"]}
    merged = merge([("one", one), ("two", report(entry("A", "passed", "t.py::a")))])
    assert merged["verdict"] == "failed"
    assert merged["undeclared"] == {"FALSIFY-GHOST": ["t.py::g"]}
    assert merged["ids"][0]["durations"] == [2.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not readable JSON"),
        ("[]", "not a pv report"),
        ('{"version": 2, "ids": []}', "not a pv report"),
        ('{"version": 1, "ids": [{"id": 1}]}', "must be a list of id entries"),
        (
            '{"version": 1, "ids": [{"id": "A", "contract": "c", "state": "great",'
            ' "nodeids": [], "durations": []}]}',
            "unknown state 'great'",
        ),
    ],
)
def test_a_file_that_is_not_a_report_is_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        read(path)


@pytest.mark.cli("pv report merge")
def test_pv_report_merge_writes_a_report_pv_gate_accepts(tmp_path: Path) -> None:
    contract = tmp_path / "contracts" / "c.yaml"
    contract.parent.mkdir()
    contract.write_text(
        'metadata: {version: "1.0.0"}\nfalsification_tests:\n'
        "  - {id: A, rule: r, prediction: p, if_fails: f}\n"
        "  - {id: B, rule: r, prediction: p, if_fails: f}\n",
        encoding="utf-8",
    )
    shard1 = report(entry("A", "passed", "t.py::a"), entry("B", "not-run"))
    shard2 = report(entry("A", "not-run"), entry("B", "passed", "t.py::b"))
    for name, data in (("1.json", shard1), ("2.json", shard2)):
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "merged.json"
    result = CliRunner().invoke(
        main, ["report", "merge", str(out), str(tmp_path / "1.json"), str(tmp_path / "2.json")]
    )
    assert result.exit_code == 0, result.output
    assert "merged 2 report(s)" in result.output
    assert ": passed" in result.output
    config = PvConfig(
        root=tmp_path,
        contracts=(tmp_path / "contracts",),
        tests=(),
        registry=tmp_path / "r.yaml",
        apps=(),
    )
    assert report_step(config, out).ok
    assert not report_step(config, tmp_path / "1.json").ok  # one shard alone does not cover B


def test_pv_report_merge_refuses_a_bad_input_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    out = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["report", "merge", str(out), str(tmp_path / "bad.json")])
    assert result.exit_code == 1
    assert result.output.startswith("pv report merge: error: ")
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()

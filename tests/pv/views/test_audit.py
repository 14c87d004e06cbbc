"""pv audit: the chain paper -> equation -> obligation -> falsification -> check -> result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main
from tests.reports import id_entry, report

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "provable-contracts"
CONTRACT = """\
metadata:
  version: "1.0.0"
  references: ["Hinton et al. (2015)"]
equations:
  kd: {formula: "L = KL"}
  ce: {formula: "L = CE"}
proof_obligations:
  - {type: bound, property: "L >= 0"}
falsification_tests:
  - {id: FALSIFY-A-001, rule: r, prediction: p, if_fails: f}
  - {id: FALSIFY-A-002, rule: r, prediction: p, if_fails: f}
"""
BINDING = """\
version: "1.0.0"
target_crate: a
bindings:
  - {contract: a-v1.yaml, equation: kd, status: implemented}
  - {contract: a-v1.yaml, equation: ce, status: partial}
"""
CHECK = """\
import pytest

@pytest.mark.falsifies("FALSIFY-A-001", "FALSIFY-A-002")
def test_both():
    pass
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "a-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    (tmp_path / "binding.yaml").write_text(BINDING, encoding="utf-8")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_a.py").write_text(CHECK, encoding="utf-8")
    states = report(id_entry("FALSIFY-A-001", "passed"), id_entry("FALSIFY-A-002", "failed"))
    (tmp_path / "report.json").write_text(json.dumps(states), encoding="utf-8")
    return tmp_path


def test_the_chain_shows_bindings_checks_results_and_every_gap(files: Path) -> None:
    args = [
        "audit",
        "--format",
        "json",
        "--binding",
        str(files / "binding.yaml"),
        "--report",
        str(files / "report.json"),
        "--tests",
        str(files / "checks"),
        str(files / "a-v1.yaml"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["references"] == ["Hinton et al. (2015)"]
    assert data["equations"] == [
        {"name": "kd", "binding": "implemented"},
        {"name": "ce", "binding": "partial"},
    ]
    assert [i["result"] for i in data["falsification"]] == ["passed", "failed"]
    assert data["falsification"][0]["checks"][0].endswith("test_a.py::test_both")
    assert data["gaps"] == ["equation ce is partial", "FALSIFY-A-002 is failed"]


def test_a_complete_chain_exits_0(files: Path) -> None:
    (files / "report.json").write_text(
        json.dumps(
            report(id_entry("FALSIFY-A-001", "passed"), id_entry("FALSIFY-A-002", "passed"))
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "--report",
            str(files / "report.json"),
            "--tests",
            str(files / "checks"),
            str(files / "a-v1.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Chain complete." in result.output


def test_a_report_that_is_not_json_is_a_clean_error(files: Path) -> None:
    (files / "report.json").write_text("{", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["audit", "--report", str(files / "report.json"), str(files / "a-v1.yaml")]
    )
    assert result.exit_code == 1
    assert "not readable JSON" in result.output


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")
def test_audit_reads_the_aprender_binding_registry() -> None:
    args = [
        "audit",
        "--format",
        "json",
        "--tests",
        str(CORPUS),
        "--binding",
        str(CORPUS / "aprender" / "binding.yaml"),
        str(CORPUS / "softmax-kernel-v1.yaml"),
    ]
    data = json.loads(CliRunner().invoke(main, args).output)
    assert data["equations"] == [{"name": "softmax", "binding": "implemented"}]
    assert len(data["falsification"]) == 6
    assert all(i["result"] == "unbound" for i in data["falsification"])

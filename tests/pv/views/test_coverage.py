"""pv coverage: ids bound to checks, per contract and in total."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "provable-contracts"
CONTRACT = """\
metadata: {version: "1.0.0"}
equations: {a: {formula: "x"}}
falsification_tests:
  - {id: FALSIFY-C-001, rule: r, prediction: p, if_fails: f}
  - {id: FALSIFY-C-002, rule: r, prediction: p, if_fails: f}
"""
CHECK = """\
import pytest

@pytest.mark.falsifies("FALSIFY-C-001")
def test_one():
    pass
"""


def test_coverage_counts_bound_ids_from_the_tests_folder(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "c-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_c.py").write_text(CHECK, encoding="utf-8")
    args = [
        "coverage",
        "--format",
        "json",
        "--tests",
        str(tmp_path / "checks"),
        str(tmp_path / "contracts"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (row,) = data["contracts"]
    assert (row["bound"], row["unbound"]) == (["FALSIFY-C-001"], ["FALSIFY-C-002"])
    assert data["totals"]["percent_bound"] == 50.0
    text = CliRunner().invoke(main, args[:1] + args[3:]).output
    assert "1/2 ids bound (50.0%)" in text


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")
def test_coverage_totals_match_the_corpus() -> None:
    result = CliRunner().invoke(main, ["coverage", "--format", "json", str(CORPUS)])
    totals = json.loads(result.output)["totals"]
    # 87 kernels plus the 4 kind-less fragments of aprender/, contracts as the reference reads them
    assert (totals["contracts"], totals["obligations"]) == (91, 472)
    assert (totals["falsification_tests"], totals["kani_harnesses"]) == (513, 160)


def test_coverage_totals_are_pv_status_totals_plus_binding(tmp_path: Path) -> None:
    (tmp_path / "c-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    (tmp_path / "d-v1.yaml").write_text(CONTRACT.replace("-C-", "-D-"), encoding="utf-8")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_c.py").write_text(CHECK, encoding="utf-8")
    runner = CliRunner()
    status_json = json.loads(
        runner.invoke(main, ["status", "--format", "json", str(tmp_path)]).output
    )
    cov = ["coverage", "--tests", str(tmp_path / "checks"), str(tmp_path)]
    cov_json = json.loads(runner.invoke(main, [*cov, "--format", "json"]).output)
    assert cov_json["totals"] == {**status_json["totals"], "bound": 1, "percent_bound": 25.0}
    status_total = runner.invoke(main, ["status", str(tmp_path)]).output.splitlines()[-1]
    cov_total = runner.invoke(main, cov).output.splitlines()[-1]
    assert status_total.startswith("Total: 2 contracts, 2 equations")
    assert cov_total == f"{status_total}; 1/4 ids bound (25.0%)"

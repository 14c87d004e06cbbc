"""pv status: counts per contract and totals, checked against the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main
from pv.contracts.load import Document
from pv.views import status as status_mod
from pv.views.corpus import load_corpus

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "provable-contracts"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")

CONTRACT = """\
metadata:
  version: "2.1.0"
equations:
  a: {formula: "x"}
  b: {formula: "y"}
proof_obligations:
  - {type: bound, property: "p"}
falsification_tests:
  - {id: FALSIFY-T-001, rule: r, prediction: p, if_fails: f}
kani_harnesses:
  - {id: KANI-T-001, obligation: a, bound: 4}
"""


def test_status_counts_one_contract(tmp_path: Path) -> None:
    path = tmp_path / "t-v1.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    result = CliRunner().invoke(main, ["status", str(path)])
    assert result.exit_code == 0
    assert "Contract: t-v1 v2.1.0" in result.output
    assert "Equations:           2" in result.output
    assert "Kani harnesses:      1" in result.output
    assert "QA gate:             no" in result.output


def test_status_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_status_of_a_broken_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: [1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["status", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 1
    assert "invalid YAML" in result.output
    assert "Traceback" not in result.output


@needs_corpus
def test_status_totals_match_the_corpus() -> None:
    result = CliRunner().invoke(main, ["status", "--format", "json", str(CORPUS)])
    assert result.exit_code == 0
    data = json.loads(result.output)
    # 87 kernels and aprender/'s 4 kind-less fragments, which the reference reads as kernels
    assert data["totals"] == {
        "contracts": 91,
        "equations": 315,
        "obligations": 472,
        "falsification_tests": 513,
        "kani_harnesses": 160,
    }


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_render_counts_each_contract_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    for name in ("a-v1.yaml", "b-v1.yaml", "c-v1.yaml"):
        (tmp_path / name).write_text(CONTRACT, encoding="utf-8")
    corpus = load_corpus([tmp_path])
    calls: list[str] = []
    real = status_mod.counts

    def counting(doc: Document) -> status_mod.Counts:
        calls.append(doc.file)
        return real(doc)

    monkeypatch.setattr(status_mod, "counts", counting)
    out = status_mod.render(corpus, fmt)
    assert sorted(calls) == sorted(d.file for d in corpus.contracts)
    if fmt == "json":
        assert json.loads(out)["totals"]["contracts"] == 3
    else:
        assert out.splitlines()[-1].startswith("Total: 3 contracts, 6 equations")

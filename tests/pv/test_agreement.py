"""Every command reads a contract through the one contract model (pv.contracts.model), so on the
same
files they agree on which contracts there are, their equations' names and how many obligations,
tests and harnesses each has, whichever dialect the file is written in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main

# A kernel in the older dialect: equations as a mapping, older spellings for fields.
OLDER = """\
metadata:
  version: "1.0.0"
  description: "older spellings"
  references: ["a paper"]
  depends_on: [listed-v1.yaml]
equations:
  softmax: {formula: "p_i = exp(x_i) / sum_j exp(x_j)"}
  logsumexp: "lse(x) = log sum exp(x)"
proof_obligations:
  - {type: invariant, statement: "probabilities sum to one", verification: "sum p = 1"}
falsification_tests:
  - {id: FALSIFY-OLD-001, description: "sum", expected: "sums to one", fails_if: "it does not"}
  - {id: FALSIFY-OLD-002, rule: "range", prediction: "in [0, 1]", if_fails: "out of range"}
kani_harnesses:
  - {id: KANI-OLD-001, obligation: softmax, bound: 4}
qa_gate: {id: Q, name: q}
"""

# The newer dialect: equations as a list of items with ids, a declared kind.
LISTED = """\
metadata:
  version: "1.0.0"
  description: "listed equations"
  kind: pattern
  references: ["a paper"]
equations:
  - id: first
    formula: "a = b"
  - id: second
    formula: "c = d"
  - formula: "e = f"
proof_obligations:
  - {type: bound, property: "a is small", formal: "a < 1"}
falsification_tests:
  - {id: FALSIFY-LIST-001, rule: r, prediction: p, if_fails: f}
"""

# No kind and no equations: a kernel the reference refuses, still counted the same everywhere.
FRAGMENT = """\
metadata:
  version: "1.0.0"
  description: "a fragment"
  references: ["notes"]
falsification_tests:
  - {id: FALSIFY-FRAG-001, rule: r, prediction: p, if_fails: f}
  - {id: FALSIFY-FRAG-002, rule: r, prediction: p, if_fails: f}
"""

EXPECTED = {
    "older-v1": {"equations": ["softmax", "logsumexp"], "counts": (1, 2, 1)},
    "listed-v1": {"equations": ["first", "second", "equation_2"], "counts": (1, 1, 0)},
    "fragment-v1": {"equations": [], "counts": (0, 2, 0)},
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in (("older-v1", OLDER), ("listed-v1", LISTED), ("fragment-v1", FRAGMENT)):
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


def test_every_command_counts_and_names_the_same(folder: Path, tmp_path: Path) -> None:
    validated = json.loads(run("validate", "--no-cache", "--format", "json", str(folder)))
    by_validate = {
        Path(f["file"]).stem: (f["equations"], tuple(f["counts"][k] for k in SECTIONS))
        for f in validated["files"]
    }
    status = json.loads(run("status", "--format", "json", str(folder)))
    by_status = {
        r["name"]: (r["equations"], r["obligations"], r["falsification_tests"], r["kani_harnesses"])
        for r in status["contracts"]
    }
    coverage = json.loads(run("coverage", "--format", "json", str(folder)))
    by_coverage = {
        r["name"]: (r["obligations"], r["falsification_tests"], r["kani_harnesses"])
        for r in coverage["contracts"]
    }
    graph = json.loads(run("graph", "--format", "json", str(folder)))
    assert graph["edges"] == [{"from": "older-v1", "to": "listed-v1"}]
    assert set(graph["nodes"]) == set(EXPECTED)
    for name, want in EXPECTED.items():
        path = str(folder / f"{name}.yaml")
        assert by_validate[name] == (want["equations"], want["counts"]), name
        assert by_status[name] == (len(want["equations"]), *want["counts"]), name
        assert by_coverage[name] == want["counts"], name
        audit = json.loads(run("audit", "--format", "json", path))
        assert [e["name"] for e in audit["equations"]] == want["equations"], name
        assert len(audit["obligations"]) == want["counts"][0], name
        assert len(audit["falsification"]) == want["counts"][1], name
        if want["equations"]:
            equations = json.loads(run("equations", "--format", "json", path))
            assert list(equations["equations"]) == want["equations"], name
    assert status["totals"]["contracts"] == validated["summary"]["contracts"] == 3
    page = tmp_path / "board.html"
    run("report", "--html", str(page), str(folder))
    ids = set(re.findall(r'data-id="([A-Z0-9-]+)"', page.read_text(encoding="utf-8")))
    assert ids == {
        "FALSIFY-OLD-001", "FALSIFY-OLD-002", "KANI-OLD-001", "FALSIFY-LIST-001",
        "FALSIFY-FRAG-001", "FALSIFY-FRAG-002",
    }  # fmt: skip


SECTIONS = ("proof_obligations", "falsification_tests", "kani_harnesses")


def test_the_older_spellings_reach_every_view(folder: Path) -> None:
    audit = json.loads(run("audit", "--format", "json", str(folder / "older-v1.yaml")))
    assert audit["obligations"] == ["probabilities sum to one"]  # `statement`, read as property
    text = run("equations", str(folder / "older-v1.yaml"))
    assert "lse(x) = log sum exp(x)" in text  # a bare formula string

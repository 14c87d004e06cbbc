"""pv graph: the depends_on DAG in four formats; a cycle is an error and an unknown dependency
a warning, under the same rules (PV-007, PV-006) as pv validate reports them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pv.cli import main
from pv.rules.crossfile import cycles


def write(folder: Path, name: str, deps: list[str]) -> None:
    body = (
        f'metadata:\n  version: "1.0.0"\n  depends_on: {json.dumps(deps)}\n'
        'equations:\n  e: {formula: "x"}\n'
    )
    (folder / f"{name}.yaml").write_text(body, encoding="utf-8")


def test_a_dag_renders_in_every_format(tmp_path: Path) -> None:
    write(tmp_path, "a-v1", ["b-v1"])
    write(tmp_path, "b-v1", [])
    runner = CliRunner()
    text = runner.invoke(main, ["graph", str(tmp_path)])
    assert text.exit_code == 0
    assert "a-v1 -> b-v1" in text.output
    dot = runner.invoke(main, ["graph", "--format", "dot", str(tmp_path)]).output
    assert '"a-v1" -> "b-v1";' in dot
    assert dot.startswith("digraph")
    mermaid = runner.invoke(main, ["graph", "--format", "mermaid", str(tmp_path)]).output
    assert "n0 --> n1" in mermaid
    data = json.loads(runner.invoke(main, ["graph", "--format", "json", str(tmp_path)]).output)
    assert data["edges"] == [{"from": "a-v1", "to": "b-v1"}]


def test_a_cycle_is_an_error_naming_the_whole_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a-v1", ["b-v1"])
    write(tmp_path, "b-v1", ["c-v1"])
    write(tmp_path, "c-v1", ["a-v1"])
    result = CliRunner().invoke(main, ["graph", str(tmp_path)])
    assert result.exit_code == 1
    assert "PV-007 dependency cycle: a-v1 -> b-v1 -> c-v1 -> a-v1" in result.output
    validated = CliRunner().invoke(main, ["validate", "--no-cache", str(tmp_path)])
    assert "PV-007 dependency cycle: a-v1 -> b-v1 -> c-v1 -> a-v1" in validated.output


def test_an_unknown_dependency_is_a_warning_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a-v1", ["ghost-v1"])
    result = CliRunner().invoke(main, ["graph", "--format", "json", str(tmp_path)])
    (finding,) = json.loads(result.output)["findings"]
    assert (finding["rule"], finding["severity"], finding["line"]) == ("PV-006", "warning", 3)
    assert "may live in another repository" in finding["message"]
    assert result.exit_code == 0


def test_a_dependency_spelled_as_a_file_name_is_the_same_contract(tmp_path: Path) -> None:
    write(tmp_path, "a-v1", ["b-v1.yaml"])
    write(tmp_path, "b-v1", [])
    result = CliRunner().invoke(main, ["graph", "--format", "json", str(tmp_path)])
    assert json.loads(result.output)["edges"] == [{"from": "a-v1", "to": "b-v1"}]
    validated = CliRunner().invoke(main, ["validate", "--no-cache", str(tmp_path)])
    assert "PV-006" not in validated.output


def test_cycles_are_found_once_each() -> None:
    graph = {"a": ["b"], "b": ["a"], "c": ["c"], "d": ["a"]}
    assert sorted(cycles(graph)) == [["a", "b"], ["c"]]

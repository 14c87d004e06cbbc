"""pv scaffold: a failing stub per unbound id, appended, never overwriting a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.binding.bind import DeclaredId
from pv.cli import main
from pv.views.scaffold import default_target, scaffold

CONTRACT = r"""
metadata:
  version: "1.0.0"
  description: "scaffold test"
  references: ["r"]
equations:
  e: {formula: "x = 1"}
falsification_tests:
  - id: FALSIFY-S-001
    rule: 'a TRIPLEquotedTRIPLE rule with a \ backslash'
    prediction: "x is one"
    if_fails: "x is not one"
  - id: FALSIFY-S-002
    rule: "second"
    prediction: "y is two"
    if_fails: "y is not two"
kani_harnesses:
  - {id: KANI-S-001, obligation: OBL-1, harness: verify_x, bound: 4, property: "x bounded"}
""".replace("TRIPLE", '"' * 3)


def declared(*ids: str) -> list[DeclaredId]:
    return [
        DeclaredId(id=i, contract="c.yaml", prediction="p", if_fails="f", refs=(), rule="r")
        for i in ids
    ]


def test_each_stub_is_marked_with_its_id_and_fails(tmp_path: Path) -> None:
    target = tmp_path / "tests" / "test_c.py"
    result = scaffold(declared("FALSIFY-A-001", "FALSIFY-A-002"), set(), target, "c.yaml")
    assert result.written == ("FALSIFY-A-001", "FALSIFY-A-002")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "2 failed" in run.stdout
    assert "FALSIFY-A-001 has no check yet" in run.stdout


def test_bound_ids_are_skipped_and_existing_tests_are_kept_byte_for_byte(tmp_path: Path) -> None:
    target = tmp_path / "test_c.py"
    mine = "def test_falsify_a_002():\n    assert True\n"
    target.write_text(mine, encoding="utf-8")
    result = scaffold(
        declared("FALSIFY-A-001", "FALSIFY-A-002"), {"FALSIFY-A-001"}, target, "c.yaml"
    )
    assert (result.written, result.bound) == (("FALSIFY-A-002",), ("FALSIFY-A-001",))
    text = target.read_text(encoding="utf-8")
    assert text.startswith(mine)
    assert "import pytest  # for the stubs below" in text
    assert "def test_falsify_a_002_2() -> None:" in text  # the user's name is taken


def test_a_test_file_that_does_not_parse_is_not_appended_to(tmp_path: Path) -> None:
    target = tmp_path / "test_c.py"
    target.write_text("def broken(:\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not parse"):
        scaffold(declared("FALSIFY-A-001"), set(), target, "c.yaml")
    assert target.read_text(encoding="utf-8") == "def broken(:\n"


def test_default_target_is_named_after_the_contract() -> None:
    assert default_target(Path("tests"), Path("contracts/my-tool-v1.yaml")) == Path(
        "tests/test_my_tool_v1.py"
    )


@pytest.mark.cli("pv scaffold")
def test_pv_scaffold_writes_stubs_for_falsification_and_harness_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["scaffold", "c-v1.yaml"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 stub(s)" in result.output
    text = (tmp_path / "tests" / "test_c_v1.py").read_text(encoding="utf-8")
    compile(text, "stubs", "exec")  # the quoted rule cannot break the docstring
    for ident in ("FALSIFY-S-001", "FALSIFY-S-002", "KANI-S-001"):
        assert f'@pytest.mark.falsifies("{ident}")' in text
    again = CliRunner().invoke(main, ["scaffold", "c-v1.yaml"])
    assert "nothing written" in again.output
    assert (tmp_path / "tests" / "test_c_v1.py").read_text(encoding="utf-8") == text


def test_pv_scaffold_refuses_a_contract_without_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text("metadata: {version: '1.0.0'}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["scaffold", "c.yaml"])
    assert result.exit_code == 2
    assert "declares no falsification id" in result.output


def test_pv_scaffold_reports_a_broken_target_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    (tmp_path / "t.py").write_text("x = (\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["scaffold", "c-v1.yaml", "--out", "t.py"])
    assert result.exit_code == 1
    assert result.output.startswith("pv scaffold: error: ")
    assert "does not parse" in result.output

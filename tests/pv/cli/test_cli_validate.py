"""CLI tests for `pv validate` and `pv schema` (click's CliRunner), plus import hygiene."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pv.cli import main
from pv.contracts import cache as cache_mod
from pv.contracts import files
from pv.rules import validate

EXAMPLES = Path(__file__).parents[1] / "examples"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PV_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def test_valid_contracts_exit_zero_with_the_rust_summary(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(EXAMPLES / "good")])
    assert result.exit_code == 0, result.output
    assert "Contract is valid." in result.output
    assert "Checked 2 files: 2 contracts" in result.output


def test_our_own_contracts_are_valid_without_warnings(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--strict", str(ROOT / "contracts")])
    assert result.exit_code == 0, result.output
    assert "Contract is valid." in result.output


def test_errors_exit_one_and_print_located_lines(runner: CliRunner) -> None:
    bad = EXAMPLES / "bad" / "SCHEMA-004-empty-formula.yaml"
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert ":7:5: error SCHEMA-004 equations.f.formula must not be empty" in result.output
    assert "1 error(s), 0 warning(s)" in result.output


def test_warnings_pass_unless_strict(runner: CliRunner) -> None:
    warn = str(EXAMPLES / "bad" / "SCHEMA-013-no-qa-gate.yaml")
    assert runner.invoke(main, ["validate", warn]).exit_code == 0
    assert runner.invoke(main, ["validate", "--strict", warn]).exit_code == 1


def test_missing_path_or_nothing_to_check_exits_two(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", "nope.yaml"])
    assert result.exit_code == 2
    assert "no such file or folder: nope.yaml" in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["validate", "empty"])
    assert result.exit_code == 2
    assert "no *.yaml" in result.output
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["validate", "--format", "xml", "empty"]).exit_code == 2


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_formats_are_valid_json(runner: CliRunner, fmt: str) -> None:
    bad = EXAMPLES / "bad" / "PV-003-misspelled-falsification.yaml"
    result = runner.invoke(main, ["validate", "--format", fmt, str(bad)])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["version"] in ("2.1.0", "0.1.0")


def test_github_format_emits_annotations(runner: CliRunner) -> None:
    bad = EXAMPLES / "bad" / "PV-003-misspelled-falsification.yaml"
    result = runner.invoke(main, ["validate", "--format", "github", str(bad)])
    assert result.output.startswith("::error file=")


def test_second_run_is_served_from_the_cache_with_the_same_output(
    runner: CliRunner, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLES / "bad" / "PV-005-unresolved-kani-obligation.yaml", tmp_path / "c.yaml")
    first = runner.invoke(main, ["validate", "c.yaml"])
    entries = {p.name for p in (tmp_path / "cache").glob("*.*")}
    second = runner.invoke(main, ["validate", "c.yaml"])
    assert entries == {"validate-v2.json", "last-run-v3.txt", "CACHEDIR.TAG", ".gitignore"}
    assert (second.output, second.exit_code) == (first.output, first.exit_code)
    assert "PV-005" in first.output
    (tmp_path / "c.yaml").write_text("a: [\n")
    third = runner.invoke(main, ["validate", "c.yaml"])
    assert third.exit_code == 1
    assert "LOAD-006" in third.output


def test_the_last_output_is_reprinted_only_while_nothing_it_read_changed(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files, names, neighbours and format: a change to any one checks again."""
    text = (EXAMPLES / "good" / "minimal.yaml").read_bytes()
    depends = text.replace(b"metadata:", b"metadata:\n  depends_on: [b]", 1)
    (tmp_path / "a.yaml").write_bytes(depends)
    (tmp_path / "b.yaml").write_bytes(text)
    first = runner.invoke(main, ["validate", "a.yaml"])
    assert (first.exit_code, "PV-006" in first.output) == (0, False)  # b.yaml sits beside it
    checked: list[int] = []
    real = validate.validate_paths

    def counted(*args: Any, **kwargs: Any) -> Any:
        checked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(validate, "validate_paths", counted)

    def again(*args: str) -> tuple[str, int]:
        files._stems_at.cache_clear()  # as a new process would list the folder again
        result = runner.invoke(main, ["validate", *args])
        return result.output, len(checked)

    same = (first.output, 0)
    assert again("a.yaml") == same
    assert again("--strict", "a.yaml") == same  # the same output; the exit code is recomputed
    assert again("./a.yaml") == same  # the same display name
    output, runs = again("--format", "json", "a.yaml")
    assert (json.loads(output)["summary"]["errors"], runs) == (0, 1)
    assert again("a.yaml") == (first.output, 2)  # one last output is kept, not one per format
    (tmp_path / "b.yaml").unlink()  # a.yaml is unchanged, its neighbour is gone
    output, runs = again("a.yaml")
    assert ("PV-006" in output, runs) == (True, 3)
    (tmp_path / "b.yaml").write_bytes(text)
    assert again("a.yaml") == (first.output, 4)
    (tmp_path / "a.yaml").write_bytes(text)  # its own bytes changed
    assert again("a.yaml")[1] == 5


@pytest.mark.parametrize("damage", [b"", b"x", b"{damaged", b"0" * 64 + b"\nkey\n0 0\nforged"])
def test_a_damaged_last_output_is_never_printed(
    runner: CliRunner, tmp_path: Path, damage: bytes
) -> None:
    shutil.copy(EXAMPLES / "bad" / "PV-005-unresolved-kani-obligation.yaml", tmp_path / "c.yaml")
    first = runner.invoke(main, ["validate", "c.yaml"])
    stored = tmp_path / "cache" / cache_mod.RUN
    sealed = stored.read_bytes()
    seal, _, body = sealed.partition(b"\n")
    for broken in (damage, sealed[:-3], seal + b"\n" + body.replace(b"PV-005", b"PV-000")):
        stored.write_bytes(broken)
        again = runner.invoke(main, ["validate", "c.yaml"])
        assert (again.output, again.exit_code) == (first.output, first.exit_code)
        assert stored.read_bytes() == sealed  # checked again and rewritten


def test_no_cache_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", "--no-cache", str(EXAMPLES / "good")])
    assert result.exit_code == 0
    assert not (tmp_path / "cache").exists()


def test_refused_input_never_prints_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(EXAMPLES / "bad")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("kind", ["contract", "binding"])
def test_schema_prints_the_shipped_schema(runner: CliRunner, kind: str) -> None:
    result = runner.invoke(main, ["schema", "--kind", kind])
    assert result.exit_code == 0
    assert json.loads(result.output)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _imports_after(code: str, tmp_path: Path) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    return set(done.stdout.split())


def test_cli_and_a_warm_validate_import_neither_torch_nor_yaml(tmp_path: Path) -> None:
    good = EXAMPLES / "good" / "minimal.yaml"
    run = (
        "from pv.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(good)!r}])\n"
        "except SystemExit:\n"
        "    pass"
    )
    cold = _imports_after(run, tmp_path)
    warm = _imports_after(run, tmp_path)
    assert not {"torch", "jsonschema"} & cold  # a clean file never needs the reference validator
    assert "yaml" in cold
    assert not {"torch", "yaml", "jsonschema", "pv.rules.validate", "pv.contracts.result"} & warm

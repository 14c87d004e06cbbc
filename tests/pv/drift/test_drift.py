"""pv drift on a planted project: a tiny click app, its registry, tests and a contract in
tmp_path, configured through [tool.pv]. Each test plants one kind of drift and asserts the
exact rule id and location the tool reports."""

from __future__ import annotations

import itertools
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.cli import main
from pv.core.config import load_config
from pv.core.findings import Finding
from pv.drift.drift import run_drift, same_value

_counter = itertools.count()

APP = '''
import click

@click.group()
def cli():
    """A tiny app."""

@cli.command()
@click.option("--name", default="world", help="Who to greet.")
@click.option("--times", type=int, default=1)
def greet(name, times):
    """Say hello."""

@cli.command(name="sum")
@click.argument("numbers", nargs=-1, type=int)
def sum_(numbers):
    """Add numbers."""
'''

REGISTRY = """\
metadata:
  version: "1.0.0"
  kind: registry
  description: "tiny registry"
commands:
  tiny:
    description: A tiny app
    group: true
    writes_files: false
    options: {}
  tiny greet:
    description: Say hello
    writes_files: false
    options:
      --name:
        type: text
        default: world
        required: false
      --times:
        type: int
        default: 1
        required: false
  tiny sum:
    description: Add numbers
    writes_files: false
    options:
      NUMBERS:
        kind: argument
        type: int
        default: null
        required: false
        multiple: true
"""

CONTRACT = """\
metadata:
  version: "1.0.0"
  description: "tiny contract"
equations:
  greet:
    formula: "greet(n) = hello n"
falsification_tests:
  - id: FALSIFY-TINY-001
    rule: "greets"
    prediction: "greet says hello"
    test: "tests/test_tiny.py::test_greet"
    if_fails: "no greeting"
"""

TESTS = """
import pytest
from click.testing import CliRunner
from {module} import cli


@pytest.mark.falsifies("FALSIFY-TINY-001")
def test_greet():
    CliRunner().invoke(cli, ["greet", "--name", "x"])


@pytest.mark.cli("tiny sum")
def test_sum():
    pass
"""


class Project:
    """A planted project; `edit` replaces text in one of its files."""

    def __init__(self, root: Path, module: str) -> None:
        self.root, self.module = root, module

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = (self.root / rel).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        (self.root / rel).write_text(text.replace(old, new, 1), encoding="utf-8")

    def line_of(self, rel: str, needle: str, after: str = "") -> int:
        """1-based line of the first `needle` that comes after the first `after`."""
        lines = (self.root / rel).read_text(encoding="utf-8").splitlines()
        start = next(i for i, ln in enumerate(lines) if after in ln) if after else 0
        return next(i + 1 for i, ln in enumerate(lines) if i >= start and needle in ln)

    def findings(self) -> list[Finding]:
        return list(run_drift(load_config(pyproject=self.root / "pyproject.toml")).findings)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    module = f"tinyapp_{next(_counter)}_{tmp_path.name.replace('-', '_')}"
    proj = Project(tmp_path, module)
    proj.write(
        "pyproject.toml",
        f"""\
        [project]
        name = "tiny"

        [tool.pv]
        contracts = ["contracts"]
        tests = ["tests"]
        registry = "contracts/registry.yaml"
        apps = {{ tiny = "{module}:cli" }}
        """,
    )
    proj.write(f"{module}.py", APP)
    proj.write("contracts/registry.yaml", REGISTRY)
    proj.write("contracts/tiny-v1.yaml", CONTRACT)
    proj.write("tests/test_tiny.py", TESTS.format(module=module))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield proj
    sys.modules.pop(module, None)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, "\n".join(
        f"{f.rule} {f.file}:{f.line} {f.message}" for f in findings
    )
    return findings[0]


def test_a_consistent_project_has_no_drift(project: Project) -> None:
    assert project.findings() == []


def test_an_option_added_to_the_cli_but_not_the_registry_is_drift_003(project: Project) -> None:
    project.edit(
        f"{project.module}.py", "def greet(", '@click.option("--loud", is_flag=True)\ndef greet('
    )
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-003", "contracts/registry.yaml")
    assert f.line == project.line_of("contracts/registry.yaml", "options:", after="tiny greet:")
    assert "--loud" in f.message


def test_a_deleted_registry_entry_is_drift_001_at_the_commands_section(project: Project) -> None:
    text = (project.root / "contracts/registry.yaml").read_text(encoding="utf-8")
    project.write("contracts/registry.yaml", text[: text.index("  tiny sum:")])
    f = only(project.findings())
    assert (f.rule, f.file, f.line) == ("DRIFT-001", "contracts/registry.yaml", 5)
    assert "'tiny sum'" in f.message


def test_a_registry_entry_the_cli_lacks_is_drift_002(project: Project) -> None:
    project.edit(
        "contracts/registry.yaml", "  tiny sum:", "  tiny gone:\n    options: {}\n  tiny sum:"
    )
    found = project.findings()
    drift = [f for f in found if f.rule == "DRIFT-002"]
    assert only(drift).line == project.line_of("contracts/registry.yaml", "tiny gone:")
    # One finding per fact: no "no test exercises it" for a command that does not exist.
    assert {f.rule for f in found} == {"DRIFT-002"}


def test_a_changed_default_is_drift_006_at_the_default_line(project: Project) -> None:
    project.edit(f"{project.module}.py", "type=int, default=1", "type=int, default=2")
    f = only(project.findings())
    assert f.rule == "DRIFT-006"
    assert f.line == project.line_of("contracts/registry.yaml", "default: 1", after="--times:")
    assert "2" in f.message
    assert "1" in f.message


def test_a_changed_type_is_drift_005(project: Project) -> None:
    project.edit(f"{project.module}.py", "type=int, default=1", "type=float, default=1.0")
    rules = sorted(f.rule for f in project.findings())
    # The default changed from the int 1 to the float 1.0 as well: both are reported.
    assert rules == ["DRIFT-005", "DRIFT-006"]


def test_deleting_the_only_test_of_a_command_is_drift_010(project: Project) -> None:
    project.edit("tests/test_tiny.py", '@pytest.mark.cli("tiny sum")\n', "")
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-010", "contracts/registry.yaml")
    assert f.line == project.line_of("contracts/registry.yaml", "  tiny sum:")


def test_a_test_running_a_missing_command_is_drift_011_at_the_call(project: Project) -> None:
    project.edit(
        "tests/test_tiny.py",
        "def test_sum():\n    pass",
        'def test_sum():\n    CliRunner().invoke(cli, ["sum"])\n'
        '    CliRunner().invoke(cli, ["nosuch", "-v"])',
    )
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-011", "tests/test_tiny.py")
    assert (f.line, f.column) == (project.line_of("tests/test_tiny.py", '"nosuch"'), 5)
    assert "'tiny nosuch'" in f.message
    assert "test_sum" in f.message


def test_a_marker_naming_an_unknown_cli_is_drift_011(project: Project) -> None:
    project.edit(
        "tests/test_tiny.py",
        '@pytest.mark.cli("tiny sum")',
        '@pytest.mark.cli("tiny sum", "tinny sum")',
    )
    f = only(project.findings())
    assert f.rule == "DRIFT-011"
    assert "'tinny sum'" in f.message


def test_subprocess_and_python_m_invocations_count_as_tests(project: Project) -> None:
    project.edit("tests/test_tiny.py", '@pytest.mark.cli("tiny sum")\n', "")
    project.write(
        "tests/test_more.py",
        f"""\
        import subprocess, sys
        def test_sum_by_subprocess():
            subprocess.run([sys.executable, "-m", "{project.module}", "sum", "1"], check=False)
        def test_unknown_by_subprocess():
            subprocess.run("tiny nope --x", shell=True, check=False)
        """,
    )
    f = only(project.findings())
    assert (f.rule, f.file, f.line) == ("DRIFT-011", "tests/test_more.py", 5)


def test_a_check_bound_to_an_unknown_id_is_drift_021(project: Project) -> None:
    project.edit(
        "tests/test_tiny.py",
        '@pytest.mark.cli("tiny sum")',
        '@pytest.mark.cli("tiny sum")\n@pytest.mark.falsifies("FALSIFY-NOPE-001")',
    )
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-021", "tests/test_tiny.py")
    assert f.line == project.line_of("tests/test_tiny.py", "FALSIFY-NOPE-001")
    assert "FALSIFY-NOPE-001" in f.message
    assert "test_sum" in f.message


def test_a_falsification_id_with_no_check_is_drift_020(project: Project) -> None:
    project.edit(
        "contracts/tiny-v1.yaml",
        '    if_fails: "no greeting"\n',
        '    if_fails: "no greeting"\n  - id: FALSIFY-TINY-002\n    rule: "r"\n'
        '    prediction: "p"\n    test: "a proptest over names"\n    if_fails: "f"\n',
    )
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-020", "contracts/tiny-v1.yaml")
    assert f.line == project.line_of("contracts/tiny-v1.yaml", "FALSIFY-TINY-002")


def test_a_binding_to_an_existing_test_binds_the_id(project: Project) -> None:
    project.edit("tests/test_tiny.py", '@pytest.mark.falsifies("FALSIFY-TINY-001")\n', "")
    project.edit(
        "contracts/tiny-v1.yaml",
        "    test:",
        '    binding: "tests/test_tiny.py::test_greet"\n    test:',
    )
    assert project.findings() == []


def test_a_test_path_that_names_nothing_is_drift_030(project: Project) -> None:
    project.edit("contracts/tiny-v1.yaml", "test_tiny.py::test_greet", "test_tiny.py::test_gone")
    f = only(project.findings())
    assert (f.rule, f.file) == ("DRIFT-030", "contracts/tiny-v1.yaml")
    assert f.line == project.line_of("contracts/tiny-v1.yaml", "test_gone")
    assert f.path == "$.falsification_tests[0].test"


def test_test_locations_naming_missing_files_are_drift_030(project: Project) -> None:
    project.edit(
        "contracts/tiny-v1.yaml",
        '    if_fails: "no greeting"\n',
        '    if_fails: "no greeting"\n    algorithm_evidence:\n      test_locations:\n'
        '        - "tests/test_tiny.py::test_sum"\n        - "src/missing.rs"\n',
    )
    f = only(project.findings())
    assert f.rule == "DRIFT-030"
    assert f.path == "$.falsification_tests[0].algorithm_evidence.test_locations[1]"


def test_a_tests_side_that_yields_nothing_is_an_error_not_a_pass(project: Project) -> None:
    (project.root / "tests/test_tiny.py").unlink()
    found = project.findings()
    empty = [f for f in found if f.rule == "DRIFT-040"]
    assert only(empty).file == "pyproject.toml"
    assert only(empty).line == project.line_of("pyproject.toml", "[tool.pv]")
    assert "no test files" in only(empty).message


def test_an_empty_registry_is_an_error(project: Project) -> None:
    text = (project.root / "contracts/registry.yaml").read_text(encoding="utf-8")
    project.write("contracts/registry.yaml", text[: text.index("commands:")] + "commands: {}\n")
    assert (
        "lists no commands"
        in only([f for f in project.findings() if f.rule == "DRIFT-040"]).message
    )


def test_an_app_that_cannot_be_imported_is_drift_041(project: Project) -> None:
    project.edit("pyproject.toml", f'"{project.module}:cli"', f'"{project.module}:nope"')
    f = only([f for f in project.findings() if f.rule == "DRIFT-041"])
    assert "nope" in f.message
    assert f.file == "pyproject.toml"


def test_pv_drift_exit_codes_and_json_output(project: Project) -> None:
    runner = CliRunner()
    config = str(project.root / "pyproject.toml")
    clean = runner.invoke(main, ["drift", "--config", config, "--format", "json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["summary"]["commands"] == 3
    project.edit(f"{project.module}.py", "type=int, default=1", "type=int, default=2")
    sys.modules.pop(project.module)  # a real `pv drift` is a fresh process
    dirty = runner.invoke(main, ["drift", "--config", config])
    assert dirty.exit_code == 1
    assert "contracts/registry.yaml:" in dirty.output
    assert "DRIFT-006" in dirty.output
    (project.root / "tests/test_tiny.py").unlink()
    assert runner.invoke(main, ["drift", "--config", config]).exit_code == 2


def test_pv_drift_github_format_goes_through_the_shared_reporter(project: Project) -> None:
    project.edit(f"{project.module}.py", "type=int, default=1", "type=int, default=2")
    result = CliRunner().invoke(
        main, ["drift", "--config", str(project.root / "pyproject.toml"), "--format", "github"]
    )
    assert result.output.startswith("::error file=contracts/registry.yaml,line=")
    assert "title=DRIFT-006" in result.output


def test_write_registry_fixes_cli_drift_and_keeps_writes_files(project: Project) -> None:
    project.edit(
        "contracts/registry.yaml",
        "  tiny sum:\n    description: Add numbers\n    writes_files: false",
        "  tiny sum:\n    description: Add numbers\n    writes_files: true",
    )
    project.edit(
        f"{project.module}.py", "def greet(", '@click.option("--loud", is_flag=True)\ndef greet('
    )
    config = str(project.root / "pyproject.toml")
    result = CliRunner().invoke(main, ["drift", "--config", config, "--write-registry"])
    assert result.exit_code == 0, result.output
    text = (project.root / "contracts/registry.yaml").read_text(encoding="utf-8")
    assert "--loud:" in text
    assert 'description: "tiny registry"' in text
    assert "  tiny sum:\n    description: Add numbers\n    writes_files: true" in text


def test_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["drift", "--config", str(tmp_path / "pyproject.toml")])
    assert result.exit_code == 2
    assert "no [tool.pv] table" in result.output


def test_same_value_does_not_let_true_equal_one() -> None:
    assert same_value(1, 1)
    assert same_value([1, "a"], [1, "a"])
    assert not same_value(True, 1)
    assert not same_value(1, 1.0)
    assert not same_value([1], [1, 2])


@pytest.mark.cli("pv drift")
def test_this_repository_has_no_cli_drift() -> None:
    root = Path(__file__).resolve().parents[3]
    report = run_drift(load_config(pyproject=root / "pyproject.toml"))
    # CLI <-> registry only: the other pairs depend on every engineer's tests (pv gate).
    cli_rules = [f for f in report.findings if f.rule < "DRIFT-010"]
    assert cli_rules == [], [f.message for f in cli_rules]
    assert report.commands >= 10
    assert report.registered == report.commands


def test_a_binding_written_as_prose_names_nothing_and_is_drift_030(project: Project) -> None:
    project.edit(
        "contracts/tiny-v1.yaml", "    test:", '    binding: "the greet proptest"\n    test:'
    )
    f = only(project.findings())
    assert (f.rule, f.path) == ("DRIFT-030", "$.falsification_tests[0].binding")


def test_write_registry_creates_a_missing_registry_that_validates(project: Project) -> None:
    (project.root / "contracts/registry.yaml").unlink()
    config = str(project.root / "pyproject.toml")
    result = CliRunner().invoke(main, ["drift", "--config", config, "--write-registry"])
    assert "created" in result.output
    assert "3 commands" in result.output
    text = (project.root / "contracts/registry.yaml").read_text(encoding="utf-8")
    assert "kind: registry" in text
    assert "  tiny greet:\n" in text
    registry = str(project.root / "contracts/registry.yaml")
    assert CliRunner().invoke(main, ["validate", "--no-cache", registry]).exit_code == 0
    assert not [f for f in project.findings() if f.rule < "DRIFT-010"]


def test_a_registry_that_cannot_be_written_is_one_error_line_and_stays_whole(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from pv.core import atomic

    project.edit(
        f"{project.module}.py", "def greet(", '@click.option("--loud", is_flag=True)\ndef greet('
    )
    registry = project.root / "contracts/registry.yaml"
    before = registry.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    config = str(project.root / "pyproject.toml")
    result = CliRunner().invoke(main, ["drift", "--config", config, "--write-registry"])
    assert result.exit_code == 1
    assert result.output == f"pv drift: error: cannot write {registry}: No space left on device\n"
    assert registry.read_bytes() == before
    assert sorted(p.name for p in registry.parent.iterdir()) == ["registry.yaml", "tiny-v1.yaml"]

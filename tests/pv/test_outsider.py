"""pv adopted by projects that are not this one: a click, a typer and an argparse tool, each
built in tmp_path and taken the whole way a new user goes: init -> validate -> scaffold ->
`pytest --pv-strict` red -> the real check -> green -> planted drift -> `pv gate --base` on a
git history that drops an id without a major bump."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pv.cli import main

_counter = itertools.count()

CLICK_APP = '''
import click


@click.group()
def main():
    """Add numbers."""


@main.command()
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.option("--scale", type=int, default=1, help="Multiply the sum.")
def add(a, b, scale):
    """Print (a + b) * scale."""
    click.echo((a + b) * scale)
'''

TYPER_APP = '''
import typer

app = typer.Typer(help="Add numbers.")


@app.command()
def add(a: int, b: int, scale: int = typer.Option(1, help="Multiply the sum.")):
    """Print (a + b) * scale."""
    typer.echo((a + b) * scale)


@app.command()
def neg(a: int):
    """Print -a."""
    typer.echo(-a)
'''

ARGPARSE_APP = """
import argparse


def build_parser():
    parser = argparse.ArgumentParser(prog="{name}", description="Add numbers.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="Print (a + b) * scale.")
    add.add_argument("a", type=int)
    add.add_argument("b", type=int)
    add.add_argument("--scale", type=int, default=1, help="Multiply the sum.")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    print((args.a + args.b) * args.scale)
    return 0
"""

# The project's own tests (they exercise every command) and its real check for the id.
CLICK_TESTS = """
import pytest
from click.testing import CliRunner
from {module}.cli import main


def test_add():
    assert CliRunner().invoke(main, ["add", "1", "2", "--scale", "3"]).output == "9\\n"


@pytest.mark.falsifies("{id}")
def test_every_command_answers_help():
    for args in ([], ["add"]):
        assert CliRunner().invoke(main, [*args, "--help"]).exit_code == 0
"""

TYPER_TESTS = """
import pytest
from typer.testing import CliRunner
from {module}.cli import app


def test_add_and_neg():
    assert CliRunner().invoke(app, ["add", "1", "2", "--scale", "3"]).output == "9\\n"
    assert CliRunner().invoke(app, ["neg", "4"]).output == "-4\\n"


@pytest.mark.falsifies("{id}")
def test_every_command_answers_help():
    for args in ([], ["add"], ["neg"]):
        assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0
"""

ARGPARSE_TESTS = """
import pytest
from {module}.cli import main


def test_add(capsys):
    assert main(["add", "1", "2", "--scale", "3"]) == 0
    assert capsys.readouterr().out == "9\\n"


@pytest.mark.falsifies("{id}")
def test_every_command_answers_help():
    for args in ([], ["add"]):
        with pytest.raises(SystemExit) as exit_:
            main([*args, "--help"])
        assert exit_.value.code == 0
"""


@dataclass(frozen=True)
class Kind:
    name: str
    app: str
    tests: str
    script: str  # the [project.scripts] attribute
    found: str  # the attribute pv init must find
    commands: tuple[str, ...]
    add_command: tuple[str, str]  # (text to find, text to insert before it) in cli.py
    default: tuple[str, str]  # a default changed in cli.py


KINDS = {
    "click": Kind(
        name="click",
        app=CLICK_APP,
        tests=CLICK_TESTS,
        script="main",
        found="main",
        commands=("", " add"),
        add_command=("@main.command()", '@main.command()\ndef mul():\n    """Multiply."""\n\n\n'),
        default=("default=1", "default=2"),
    ),
    "typer": Kind(
        name="typer",
        app=TYPER_APP,
        tests=TYPER_TESTS,
        script="app",
        found="app",
        commands=("", " add", " neg"),
        add_command=("@app.command()", '@app.command()\ndef mul():\n    """Multiply."""\n\n\n'),
        default=("typer.Option(1,", "typer.Option(2,"),
    ),
    "argparse": Kind(
        name="argparse",
        app=ARGPARSE_APP,
        tests=ARGPARSE_TESTS,
        script="main",
        found="main",  # main(argv=None) builds its parser inside: read up to its parse
        commands=("", " add"),
        add_command=("    return parser", '    sub.add_parser("mul", help="Multiply.")\n'),
        default=("default=1", "default=2"),
    ),
}


class Outsider:
    """A project of another team: its package, pyproject and tests, and a git history."""

    def __init__(self, root: Path, kind: Kind) -> None:
        self.root, self.kind = root, kind
        self.module = f"{kind.name}tool_{next(_counter)}"
        self.name = f"{kind.name}tool"
        self.ident = f"FALSIFY-{self.name.upper()}-001"

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        (self.root / rel).write_text(text.replace(old, new, 1), encoding="utf-8")

    def pv(self, *args: str) -> Result:
        """`pv ARGS` in the project, the project's modules imported afresh each time."""
        for name in [m for m in sys.modules if m.split(".")[0] == self.module]:
            del sys.modules[name]
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def pytest(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=False)

    def git(self, *args: str) -> None:
        identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run(["git", *identity, *args], cwd=self.root, check=True, capture_output=True)


@pytest.fixture(params=sorted(KINDS))
def outsider(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Outsider]:
    proj = Outsider(tmp_path, KINDS[request.param])
    proj.write(
        "pyproject.toml",
        f"""
        [project]
        name = "{proj.name}"
        version = "0.1.0"

        [project.scripts]
        {proj.name} = "{proj.module}.cli:{proj.kind.script}"
        """,
    )
    proj.write(f"{proj.module}/__init__.py", "")
    proj.write(f"{proj.module}/cli.py", proj.kind.app.replace("{name}", proj.name))
    monkeypatch.chdir(tmp_path)
    # Edits below keep a file's size; a cached .pyc of the same second would hide them.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield proj
    for name in [m for m in sys.modules if m.split(".")[0] == proj.module]:
        del sys.modules[name]


@pytest.mark.cli("pv init", "pv validate", "pv scaffold", "pv drift", "pv gate")
def test_a_new_project_goes_from_nothing_to_a_green_gate(outsider: Outsider) -> None:
    kind, name = outsider.kind, outsider.name
    contract = f"contracts/{name}-v1.yaml"
    registry = "contracts/cli-commands-v1.yaml"

    # init: [tool.pv] with the CLI found, the registry from the live CLI, a first contract
    first = outsider.pv("init")
    assert first.exit_code == 0, first.output
    assert f'{name} = "{outsider.module}.cli:{kind.found}"' in outsider.read("pyproject.toml")
    written = {p: outsider.read(p) for p in ("pyproject.toml", registry, contract)}
    assert "--scale:\n        type: int\n        default: 1" in written[registry]
    assert [f"{name}{c}" for c in kind.commands] == [
        line[2:-1] for line in written[registry].splitlines() if line.startswith(f"  {name}")
    ]
    again = outsider.pv("init")
    assert again.exit_code == 0
    assert all(line.startswith("kept") for line in again.output.splitlines()), again.output
    assert written == {p: outsider.read(p) for p in written}
    assert outsider.pv("validate", "contracts/").exit_code == 0

    # scaffold: a stub per unbound id that fails, so --pv-strict is red
    scaffolded = outsider.pv("scaffold", contract)
    assert scaffolded.exit_code == 0
    assert outsider.ident in scaffolded.output
    stub = f"tests/test_{name}_v1.py"
    assert f'@pytest.mark.falsifies("{outsider.ident}")' in outsider.read(stub)
    red = outsider.pytest("--pv-strict")
    assert red.returncode == 1, red.stdout
    assert f"failed   {outsider.ident}" in red.stdout
    before = outsider.read(stub)
    assert "nothing written" in outsider.pv("scaffold", contract).output
    assert outsider.read(stub) == before

    # the real check replaces the stub: green, and drift finds nothing
    (outsider.root / stub).unlink()
    outsider.write(
        "tests/test_cli.py", kind.tests.format(module=outsider.module, id=outsider.ident)
    )
    green = outsider.pytest("--pv-strict", "--pv-report=report.json")
    assert green.returncode == 0, green.stdout
    assert "every id passed" in green.stdout
    clean = outsider.pv("drift")
    assert clean.exit_code == 0, clean.output

    # planted drift, one at a time: a new command, a changed default, a dropped entry
    cli = f"{outsider.module}/cli.py"
    source = outsider.read(cli)
    outsider.edit(cli, kind.add_command[0], kind.add_command[1] + kind.add_command[0])
    assert f"DRIFT-001 command '{name} mul'" in outsider.pv("drift").output
    outsider.write(cli, source)
    outsider.edit(cli, *kind.default)
    changed = outsider.pv("drift")
    assert f"DRIFT-006 '{name} add' --scale: default is 2 in the CLI, 1" in changed.output
    outsider.write(cli, source)
    entry = f"  {name} add:\n"
    text = written[registry]
    start = text.index(entry)
    end = text.find(f"\n  {name} ", start + len(entry))
    outsider.write(registry, text[:start] + (text[end + 1 :] if end != -1 else ""))
    assert f"DRIFT-001 command '{name} add'" in outsider.pv("drift").output
    outsider.write(registry, text)

    # the gate: clean at the base, then an id dropped without a major bump is refused
    outsider.write(".gitignore", "report.json\n")
    outsider.git("init", "-q")
    outsider.git("add", ".")
    outsider.git("commit", "-q", "-m", "base")
    gate = ["gate", "--base", "HEAD", "--falsify-report", "report.json"]
    assert outsider.pv(*gate).exit_code == 0
    body = outsider.read(contract)
    outsider.write(contract, body[: body.index("falsification_tests:")])
    outsider.git("commit", "-qam", "drop the id")
    refused = outsider.pv("gate", "--base", "HEAD~1", "--no-falsify")
    assert refused.exit_code == 1
    assert "semver" in refused.output
    assert outsider.ident in refused.output


def test_init_lists_what_exists_and_changes_nothing_in_a_configured_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject = '[project]\nname = "x"\n\n[tool.pv]\napps = {}\n'
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0
    assert "kept     pyproject.toml: [tool.pv] exists (no apps)" in result.output
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == pyproject
    assert "no CLI to register" in result.output
    assert not (tmp_path / "contracts" / "cli-commands-v1.yaml").exists()


def test_init_takes_apps_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--app", "pv=pv.cli:main"])
    assert result.exit_code == 0, result.output
    assert 'apps = {pv = "pv.cli:main"}' in (tmp_path / "pyproject.toml").read_text()
    registry = (tmp_path / "contracts" / "cli-commands-v1.yaml").read_text()
    assert "  pv validate:\n" in registry
    assert CliRunner().invoke(main, ["validate", "contracts/"]).exit_code == 0


@pytest.mark.parametrize("app", ["pv", "pv=nocolon", "=m:a"])
def test_a_malformed_app_option_is_a_usage_error(
    app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--app", app])
    assert result.exit_code == 2
    assert "NAME=MODULE:ATTRIBUTE" in result.output
    assert not (tmp_path / "pyproject.toml").exists()


def test_init_refuses_a_broken_pyproject_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert result.output.startswith("pv init: error:")
    assert "cannot read TOML" in result.output
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == "[project\n"


def test_report_merge_output_is_a_report_the_gate_reads(tmp_path: Path) -> None:
    report = {"version": 1, "verdict": "empty", "summary": {}, "ids": [], "checks": []}
    (tmp_path / "a.json").write_text(json.dumps(report), encoding="utf-8")
    args = ["report", "merge", str(tmp_path / "m.json"), str(tmp_path / "a.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1  # zero ids never pass
    merged = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert merged["verdict"] == "empty"
    assert merged["runs"][0]["source"].endswith("a.json")

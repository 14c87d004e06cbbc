"""The tests' surface of drift on a project of another team, built in tmp_path: a click CLI
with a default subcommand, an argparse CLI built inside `run(argv=None)` with a global option,
and a typer CLI, each exercised by tests in the ways real suites write them (an argv built
with `+`, an invoker in a fixture or a `partial`, the program's own `run` function, an argv
kept in a variable, a helper of the CLI's module, a command registered while a test runs).
The static scan reads all of them but the last; the CLI calls pytest records are exact."""

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

LEDGER = '''
import click


class DefaultGroup(click.Group):
    """Runs `query` when the first word names no command."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["query", *args]
        return super().resolve_command(ctx, args)


@click.group(cls=DefaultGroup)
@click.option("--db", default="ledger.db", help="The database file.")
def cli(db):
    """Keep a ledger."""


@cli.command()
@click.argument("path")
@click.argument("sql")
def query(path, sql):
    """Run SQL."""
    click.echo(f"{path}: {sql}")


@cli.command()
@click.argument("path")
@click.option("--fast", is_flag=True)
def schema(path, fast):
    """Print the schema."""


@cli.command()
@click.argument("row")
def insert(row):
    """Insert a row."""


@cli.command()
def update():
    """Update rows."""


@cli.command()
def purge():
    """Delete everything."""


@cli.group()
def admin():
    """Administer the ledger."""


@admin.command()
def vacuum():
    """Compact the file."""
'''

NOTES = """
import argparse
import pathlib
import shutil
import sys


def find_exe(name):
    return shutil.which(name)


def run(argv=None):
    args = make_parser().parse_args(argv)
    pathlib.Path("the-program-ran.txt").write_text(args.command)
    return 0


def make_parser():
    parser = argparse.ArgumentParser(prog="notes", description="Take notes.")
    parser.add_argument("-f", "--format", default="plain", choices=["plain", "json"])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="Build the notes.")
    build.add_argument("path")
    lint = sub.add_parser("lint", help="Lint the notes.")
    lint.add_argument("path")
    sub.add_parser("show", help="Show the notes.").add_argument("path")
    return parser


if __name__ == "__main__":
    sys.exit(run())
"""

TALLY = '''
import typer

app = typer.Typer(help="Count things.")


@app.command()
def add(n: int, step: int = 1):
    """Add n."""
    typer.echo(n + step)


@app.command()
def reset():
    """Start again."""


if __name__ == "__main__":
    app()
'''

CONFTEST = """
from functools import partial

import pytest
from click.testing import CliRunner

from {pkg}.ledger import cli


@pytest.fixture
def run_ledger():
    return partial(CliRunner().invoke, cli)
"""

TESTS = """
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from typer.testing import CliRunner as TyperRunner

from {pkg} import notes
from {pkg}.ledger import cli
from {pkg}.notes import find_exe, run
from {pkg}.tally import app

OPTIONS = ["--fast"]


def test_default_subcommand(run_ledger):
    assert run_ledger(["books.db", "select 1"]).output == "books.db: select 1\\n"


def test_argv_built_with_plus(tmp_path):
    assert CliRunner().invoke(cli, ["schema", str(tmp_path)] + OPTIONS).exit_code == 0


def test_a_fixture_invoker(run_ledger):
    assert run_ledger(["insert", "row"]).exit_code == 0
    assert run_ledger(["update"]).exit_code == 0


def test_the_programs_own_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert notes.run(("-f", "json", "show", "x")) == 0


def test_the_parser_made_by_the_programs_own_helper():
    assert notes.make_parser().parse_args(["lint", "y"]).path == "y"


def test_a_global_option_before_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(["-f", "json", "build", "x"]) == 0
    assert find_exe("python") or True


def test_an_argv_kept_in_a_variable(tmp_path):
    argv = [sys.executable, "-m", "{pkg}.notes", "lint", "x"]
    subprocess.run(argv, check=True, cwd=tmp_path, env={{"PYTHONPATH": "{root}"}})


def test_a_command_registered_while_the_test_runs():
    admin = cli.commands["admin"]
    name = "-".join(["hello", "world"])
    admin.add_command(click.Command(name, callback=lambda: None))
    try:
        assert CliRunner().invoke(cli, ["admin", "hello-world"]).exit_code == 0
        assert CliRunner().invoke(cli, ["admin", "vacuum"]).exit_code == 0
    finally:
        del admin.commands[name]


def test_a_subcommand_object_invoked_itself(tmp_path):
    from {pkg}.ledger import insert

    assert CliRunner().invoke(insert, ["row"]).exit_code == 0


def test_the_package_run_with_python_m(tmp_path):
    env = {{"PYTHONPATH": "{root}"}}
    subprocess.run([sys.executable, "-m", "{pkg}", "update"], check=True, cwd=tmp_path, env=env)


def test_a_refusal_a_test_expects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        run(["-f", "json", "no-such-command", "x"])


def test_typer():
    assert TyperRunner().invoke(app, ["add", "2", "--step", "3"]).output == "5\\n"
    env = {{"PYTHONPATH": "{root}"}}
    subprocess.run([sys.executable, "-m", "{pkg}.tally", "reset"], check=True, env=env)


@pytest.mark.falsifies("FALSIFY-KIT-001")
def test_every_command_answers_help():
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0
"""

CONTRACT = """\
metadata:
  version: "1.0.0"
  kind: pattern
  description: "The kit's command line"
  references: ["the kit's --help"]
equations:
  help:
    formula: "exit_code(cmd --help) = 0"
proof_obligations:
  - type: invariant
    property: "every command answers --help"
    formal: "forall cmd: exit_code(cmd --help) = 0"
falsification_tests:
  - id: FALSIFY-KIT-001
    rule: "help"
    prediction: "--help exits 0"
    if_fails: "a command is broken"
"""


@dataclass
class Kit:
    root: Path
    pkg: str

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def pv(self, *args: str) -> Result:
        for name in [m for m in sys.modules if m.split(".")[0] == self.pkg]:
            del sys.modules[name]
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def pytest(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        cmd += args
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=False)

    def calls(self) -> set[str]:
        report = json.loads(self.read(".pv-cache/pv-report.json"))
        return {json.dumps(c, sort_keys=True) for c in report["cli"]["calls"]}

    def drift(self) -> tuple[int, dict[str, object]]:
        result = self.pv("drift", "--format", "json")
        return result.exit_code, json.loads(result.output)


def rules(body: dict[str, object]) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["message"]) for f in body["findings"])  # type: ignore[attr-defined, index]


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    pkg = f"kit_{next(_counter)}"
    proj = Kit(tmp_path, pkg)
    proj.write(
        "pyproject.toml",
        f"""
        [project]
        name = "kit"
        version = "0.1.0"

        [project.scripts]
        ledger = "{pkg}.entry:main"
        notes = "{pkg}.notes:run"
        tally = "{pkg}.tally:app"
        """,
    )
    proj.write(f"{pkg}/__init__.py", "")
    proj.write(f"{pkg}/ledger.py", LEDGER)
    # the program's entry module, which the tests never import: they import the ledger
    proj.write(f"{pkg}/entry.py", "from .ledger import cli as main\n")
    proj.write(f"{pkg}/notes.py", NOTES)
    proj.write(f"{pkg}/tally.py", TALLY)
    # unguarded, as many are: pv must read it, never import it
    proj.write(
        f"{pkg}/__main__.py",
        "import pathlib\nfrom .ledger import cli\n\npathlib.Path('main-ran.txt').touch()\ncli()\n",
    )
    proj.write("tests/conftest.py", CONFTEST.format(pkg=pkg))
    proj.write("tests/test_kit.py", TESTS.format(pkg=pkg, root=tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield proj
    for name in [m for m in sys.modules if m.split(".")[0] == pkg]:
        del sys.modules[name]


@pytest.mark.cli("pv init", "pv drift")
def test_recorded_calls_leave_only_the_true_finding_where_the_scan_had_a_false_one(
    kit: Kit,
) -> None:
    init = kit.pv("init")
    assert init.exit_code == 0, init.output
    assert not (kit.root / "the-program-ran.txt").exists()  # run() stopped at its parse
    assert f'notes = "{kit.pkg}.notes:run"' in kit.read("pyproject.toml")
    registry = kit.read("contracts/cli-commands-v1.yaml")
    assert "  notes build:\n" in registry
    assert "  tally add:\n" in registry
    kit.write("contracts/kit-v1.yaml", CONTRACT)

    code, static = kit.drift()
    assert "static scan" in str(static["surface"])
    assert rules(static) == [
        ("DRIFT-010", "command 'ledger purge' is registered but no test exercises it"),
        (
            "DRIFT-011",
            "test_a_command_registered_while_the_test_runs: runs 'ledger admin hello-world' "
            "(clirunner), which is not a command",
        ),
    ]

    ran = kit.pytest()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    code, observed = kit.drift()
    assert "recorded in .pv-cache/pv-report.json" in str(observed["surface"])
    message = (
        "command 'ledger purge' is registered but no test in the run recorded in "
        ".pv-cache/pv-report.json exercises it"
    )
    assert rules(observed) == [("DRIFT-010", message)]
    assert code == 1
    report = json.loads(kit.read(".pv-cache/pv-report.json"))
    reached = {
        (c["app"] or c.get("origin") or c.get("creator"), tuple(map(tuple, c["commands"])))
        for c in report["cli"]["calls"]
    }
    # the ledger's entry module was never imported by the tests: its calls carry the function
    # the root command runs, which pv drift matches with the app's
    ledger = f"{kit.pkg}.ledger:cli"
    assert (ledger, (("query",),)) in reached  # the default subcommand, as click ran it
    assert (ledger, (("insert",),)) in reached  # the subcommand's own object
    assert ("notes", (("build",),)) in reached  # after the global option
    assert (f"{kit.pkg}.notes:make_parser", (("lint",),)) in reached  # made by a helper
    modules = {c.get("module") for c in report["cli"]["calls"]}
    assert kit.pkg in modules  # `python -m kit`: pv drift finds which app that runs
    assert (kit.root / ".pv-cache" / ".gitignore").is_file()


def test_the_calls_recorded_under_xdist_are_the_serial_ones_and_a_partial_run_keeps_them(
    kit: Kit,
) -> None:
    assert kit.pv("init").exit_code == 0
    assert kit.pytest().returncode == 0
    serial = kit.calls()
    assert kit.pytest("-n", "2").returncode == 0
    assert kit.calls() == serial
    # a run of some tests only does not replace the record of the whole suite
    assert kit.pytest("-k", "typer").returncode == 0
    assert kit.calls() == serial
    report = json.loads(kit.read(".pv-cache/pv-report.json"))
    assert (report["cli"]["complete"], report["cli"]["tests"]) == (True, 13)


def test_python_m_of_a_package_is_the_app_its_main_runs_read_never_imported(kit: Kit) -> None:
    from pv.clis.apps import load_app
    from pv.clis.identity import Identity

    apps = {"ledger": load_app("ledger", f"{kit.pkg}.ledger:cli", kit.root)}
    identity = Identity(apps, kit.root)
    assert identity.of_module(kit.pkg) == "ledger"
    assert identity.of_module(f"{kit.pkg}.ledger") == "ledger"
    assert identity.of_module(f"{kit.pkg}.notes") is None
    assert identity.of_origin(f"{kit.pkg}.ledger.insert") == ("ledger", ("insert",))
    assert not (kit.root / "main-ran.txt").exists()


def test_a_waiver_accepts_a_finding_with_its_reason_and_an_unused_one_is_a_finding(
    kit: Kit,
) -> None:
    assert kit.pv("init").exit_code == 0
    kit.write("contracts/kit-v1.yaml", CONTRACT)
    assert kit.pytest().returncode == 0
    pyproject = kit.read("pyproject.toml")
    kit.write(
        "pyproject.toml",
        pyproject
        + '\n[[tool.pv.waivers]]\nrule = "DRIFT-010"\ncommand = "ledger purge"\n'
        + 'reason = "destructive: tried by hand before each release"\n',
    )
    code, body = kit.drift()
    assert (code, rules(body)) == (0, [])
    (waived,) = body["waived"]  # type: ignore[misc]
    assert waived["rule"] == "DRIFT-010"
    assert waived["reason"] == "destructive: tried by hand before each release"
    text = kit.pv("drift").output
    assert "1 finding(s) waived:" in text
    assert "waived by [tool.pv].waivers[0]: destructive" in text

    kit.write(
        "pyproject.toml",
        kit.read("pyproject.toml")
        + '\n[[tool.pv.waivers]]\nrule = "DRIFT-010"\ncommand = "ledger update"\n'
        + 'reason = "stale"\n',
    )
    code, body = kit.drift()
    (finding,) = body["findings"]  # type: ignore[misc]
    assert (code, finding["rule"], finding["file"]) == (1, "DRIFT-060", "pyproject.toml")
    assert "DRIFT-010 (command=ledger update) matches no finding" in finding["message"]
    assert (
        finding["line"]
        == kit.read("pyproject.toml")
        .splitlines()
        .index("[[tool.pv.waivers]]", len(pyproject.splitlines()) + 3)
        + 1
    )


def test_a_waiver_without_a_reason_is_refused(kit: Kit) -> None:
    assert kit.pv("init").exit_code == 0
    kit.write(
        "pyproject.toml",
        kit.read("pyproject.toml") + '\n[[tool.pv.waivers]]\nrule = "DRIFT-010"\n',
    )
    result = kit.pv("drift")
    assert result.exit_code == 2
    assert "[tool.pv].waivers[0] needs a non-empty `reason`" in result.output


def test_an_inline_waiver_accepts_a_finding_about_its_test(kit: Kit) -> None:
    assert kit.pv("init").exit_code == 0
    kit.write("contracts/kit-v1.yaml", CONTRACT)
    kit.write(
        "tests/test_more.py",
        f"""
        import pytest
        from click.testing import CliRunner
        from {kit.pkg}.ledger import cli


        @pytest.mark.waives("DRIFT-011", reason="shows the message for the old name")
        def test_old_name():
            CliRunner().invoke(cli, ["--db", "x", "admin", "frobnicate-all"])


        @pytest.mark.waives("DRIFT-011", reason="")
        def test_no_reason():
            pass


        def test_purge():
            CliRunner().invoke(cli, ["purge"])
        """,
    )
    _, body = kit.drift()
    found = rules(body)
    assert ("DRIFT-061", "test_no_reason: waives DRIFT-011 without a reason: say why") in found
    assert not any(rule == "DRIFT-011" and "frobnicate" in m for rule, m in found)
    assert any("frobnicate" in w["message"] for w in body["waived"])  # type: ignore[attr-defined]


def test_a_failing_init_changes_no_file(kit: Kit) -> None:
    before = {p: p.read_bytes() for p in kit.root.rglob("*") if p.is_file()}
    result = kit.pv("init", "--app", f"broken={kit.pkg}.ledger:nothing_here")
    assert result.exit_code == 1
    assert "(no file was changed)" in result.output
    assert {p: p.read_bytes() for p in kit.root.rglob("*") if p.is_file()} == before
    assert not (kit.root / "contracts").exists()


def test_init_app_adds_to_an_existing_tool_pv_and_keeps_the_users_comments(kit: Kit) -> None:
    assert kit.pv("init").exit_code == 0
    text = kit.read("pyproject.toml").replace("[tool.pv]", "# our own note about pv\n[tool.pv]")
    kit.write("pyproject.toml", text.replace(f'ledger = "{kit.pkg}.entry:main", ', ""))
    result = kit.pv("init", "--app", f"ledger={kit.pkg}.ledger:cli")
    assert result.exit_code == 0, result.output
    after = kit.read("pyproject.toml")
    assert "# our own note about pv" in after
    assert f'ledger = "{kit.pkg}.ledger:cli"' in after
    assert "updated  pyproject.toml: [tool.pv].apps" in result.output
    again = kit.pv("init", "--app", f"ledger={kit.pkg}.ledger:cli")
    assert all(line.startswith("kept ") for line in again.output.splitlines()), again.output
    assert "  notes build:\n" in kit.read("contracts/cli-commands-v1.yaml")  # others kept


def test_init_says_why_it_skipped_an_entry_point(kit: Kit) -> None:
    kit.write(
        "pyproject.toml",
        kit.read("pyproject.toml").replace(
            "[project.scripts]", f'[project.scripts]\nserve = "{kit.pkg}.serve:start"'
        ),
    )
    kit.write(f"{kit.pkg}/serve.py", "def start(port):\n    raise SystemExit('served')\n")
    result = kit.pv("init")
    assert result.exit_code == 0, result.output
    assert (
        f"skipped  [project.scripts] serve = {kit.pkg}.serve:start: {kit.pkg}.serve:start "
        "needs arguments (port)"
    ) in result.output
    assert "serve =" not in kit.read("pyproject.toml").split("[tool.pv]")[1]

"""The recorder of the tests' CLI calls, in process: what it hears from click, typer, argparse
and subprocesses, which app it credits, and that it undoes every patch."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest
import typer
from click.testing import CliRunner
from typer.testing import CliRunner as TyperRunner

from pv.clis.observe import Recorder, callback_origin, dedupe, python_module, subcommand_chain

MODULE = __name__  # the apps below are this module's, as a project's are its package's


@click.group()
@click.option("-v", "--verbose", is_flag=True)
def cli(verbose: bool) -> None:
    """Tool."""


@cli.command()
@click.argument("x")
def build(x: str) -> None:
    """Build."""


@cli.group()
def db() -> None:
    """Database."""


@db.command(name="drop")
def drop() -> None:
    """Drop."""


cli.add_command(build, "b")  # an alias

tally = typer.Typer()


@tally.command()
def add(n: int) -> None:
    """Add."""


@tally.command()
def reset() -> None:
    """Reset."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notes")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("lint", aliases=["l"])
    return parser


def main(argv: list[str] | None = None) -> None:
    make_parser().parse_args(argv)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    apps = {"tool": f"{MODULE}:cli", "tally": f"{MODULE}:tally", "notes": f"{MODULE}:main"}
    rec = Recorder(apps, {"tool-alias": f"{MODULE}:cli"})
    before = (click.Command.parse_args, argparse.ArgumentParser.parse_known_args)
    rec.install()
    rec.test = "tests/test_x.py::test_y"
    try:
        yield rec
    finally:
        rec.uninstall()
        assert (click.Command.parse_args, argparse.ArgumentParser.parse_known_args) == before


def calls(rec: Recorder) -> list[tuple[str, str, list[list[str]], object]]:
    return [(c["app"], c["via"], c["commands"], c["refused"]) for c in rec.calls]


def test_click_dispatch_after_global_options_aliases_and_refusals(recorder: Recorder) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["-v", "build", "q"])
    runner.invoke(cli, ["b", "x"])
    runner.invoke(cli, ["db", "drop", "--help"])
    runner.invoke(cli, ["db", "nope"])
    runner.invoke(drop, [])  # a subcommand's own object
    assert calls(recorder) == [
        ("tool", "click", [["build"]], None),
        ("tool", "click", [["build"]], None),
        ("tool", "click", [["db"], ["db", "drop"]], None),
        ("tool", "click", [["db"]], {"at": ["db"], "word": "nope"}),
        ("tool", "click", [["db", "drop"]], None),
    ]
    assert {c["test"] for c in recorder.calls} == {"tests/test_x.py::test_y"}


def test_typer_apps_are_credited_through_the_app_typer_made_them_from(recorder: Recorder) -> None:
    recorder.refresh()
    TyperRunner().invoke(tally, ["add", "2"])
    TyperRunner().invoke(tally, ["nope"])
    assert calls(recorder) == [
        ("tally", "typer", [["add"]], None),
        ("tally", "typer", [], {"at": [], "word": "nope"}),
    ]


def test_argparse_parsers_made_by_the_entry_or_by_its_helper(recorder: Recorder) -> None:
    main(["l"])
    with pytest.raises(SystemExit):
        main(["zzz"])
    make_parser().parse_args(["lint"])  # made apart from main: credited by its maker
    assert calls(recorder)[:2] == [
        ("notes", "argparse", [["lint"]], None),
        ("notes", "argparse", [], {"at": [], "word": "zzz"}),
    ]
    assert recorder.calls[2]["app"] == ""
    assert recorder.calls[2]["creator"] == f"{__name__}:make_parser"
    elsewhere = {"__name__": "another_library", "argparse": argparse}
    exec("made = argparse.ArgumentParser(prog='theirs')", elsewhere)
    elsewhere["made"].parse_args([])  # a parser of another package's: not heard
    assert len(recorder.calls) == 3


def test_subprocesses_of_the_projects_programs(recorder: Recorder) -> None:
    recorder._subprocess(["tool-alias", "build", "x"], shell=False)
    recorder._subprocess("tool build 'a b'", shell=True)
    recorder._subprocess([sys.executable, "-m", f"{MODULE}.sub", "lint"], shell=False)
    recorder._subprocess(["git", "status"], shell=False)
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # heard, and not ours
    assert [(c["app"], c.get("module"), c["argv"]) for c in recorder.calls] == [
        ("tool", None, ["build", "x"]),
        ("tool", None, ["build", "a b"]),
        ("", f"{MODULE}.sub", ["lint"]),
    ]


def test_the_helpers() -> None:
    assert python_module(["python3", "-m", "coverage", "run", "-m", "pkg", "a"]) == ("pkg", ["a"])
    assert python_module(["python", "-m", "pkg.cli"]) == ("pkg.cli", [])
    assert python_module(["ls"]) is None
    assert subcommand_chain(cli, drop) == ["db", "drop"]
    assert subcommand_chain(cli, tally) is None
    assert callback_origin(build) == f"{__name__}:build"
    assert dedupe([{"a": 1}, {"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]  # type: ignore[list-item]

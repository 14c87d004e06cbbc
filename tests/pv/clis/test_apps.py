"""CLIs beyond click: argparse parsers and typer apps read into the same command specs, and
the loader that tells the kinds apart (and never runs a program's main)."""

from __future__ import annotations

import argparse
import enum
import sys
import textwrap
from pathlib import Path
from typing import Literal

import click
import pytest
import typer

from pv.clis import apps, argspec
from pv.clis.apps import AppImportError, app_specs, discover, specs_of
from pv.clis.clispec import CommandSpec


def by_path(specs: tuple[CommandSpec, ...]) -> dict[str, CommandSpec]:
    return {s.path: s for s in specs}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tool", description="The tool.\n\nMore text.")
    p.add_argument("--version", action="version", version="1")
    p.add_argument("-v", "--verbose", action="count", help="Louder.")
    sub = p.add_subparsers(dest="cmd")
    run = sub.add_parser("run", aliases=["r", "go"], help="Run it (default %(default)s).")
    run.add_argument("target", type=Path, help="What to run.")
    run.add_argument("extra", nargs="*", metavar="EXTRA_ARG")
    run.add_argument("--level", choices=["low", "high"], default="low", help="Level %(default)s.")
    run.add_argument("--tag", action="append", default=["a"], help="Tags.")
    run.add_argument("--no-cache", dest="cache", action="store_false", help="Skip the cache.")
    run.add_argument("--ratio", type=float, required=True)
    run.add_argument("--secret", help=argparse.SUPPRESS)
    run.add_argument("--out", type=argparse.FileType("w"))
    run.add_argument("--color", action=argparse.BooleanOptionalAction, default=True)
    run.add_argument("--when", type=lambda s: s, default=None)
    run.add_argument("--size", type=positive_size)
    nested = sub.add_parser("db", help="Database.").add_subparsers()
    nested.add_parser("init", help="Create it.")
    return p


def test_argparse_subparsers_are_commands_and_aliases_name_the_same_parser() -> None:
    specs = by_path(argspec.introspect("tool", parser()))
    assert list(specs) == ["tool", "tool run", "tool db", "tool db init"]
    assert specs["tool"].is_group
    assert specs["tool db"].is_group
    assert not specs["tool run"].is_group
    assert specs["tool run"].aliases == ("go", "r")
    assert specs["tool"].description == "The tool"
    assert specs["tool db init"].description == "Create it"


def test_argparse_options_carry_type_default_required_and_choices() -> None:
    root = by_path(argspec.introspect("tool", parser()))["tool"].options
    assert set(root) == {"--version", "--verbose"}  # -h/--help left out, as for click
    assert (root["--version"].type, root["--version"].default) == ("flag", False)
    assert (root["--verbose"].type, root["--verbose"].default) == ("count", 0)
    assert root["--verbose"].flags == ("--verbose", "-v")
    run = by_path(argspec.introspect("tool", parser()))["tool run"].options
    assert (run["target"].kind, run["target"].type, run["target"].required) == (
        "argument",
        "path",
        True,
    )
    assert run["EXTRA_ARG"].multiple  # named by its metavar, as --help shows it
    assert not run["EXTRA_ARG"].required
    assert (run["--level"].type, run["--level"].default) == ("choice[low|high]", "low")
    assert run["--level"].description == "Level low"
    assert (run["--tag"].multiple, run["--tag"].default) == (True, ["a"])
    assert (run["--no-cache"].type, run["--no-cache"].default) == ("flag", True)
    assert (run["--ratio"].type, run["--ratio"].required) == ("float", True)
    assert run["--secret"].hidden
    assert run["--secret"].description == ""
    assert run["--out"].type == "file"
    assert run["--color"].type == "flag"
    assert "--no-color" in run["--color"].flags
    assert run["--when"].type == "custom"  # an anonymous type has no name worth keeping
    assert run["--size"].type == "positive_size"


def positive_size(text: str) -> int:
    return int(text)


def test_argparse_defaults_are_what_argparse_gives_the_dest() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--color", dest="color", action="store_true", default=None)
    p.add_argument("--no-color", dest="color", action="store_false")
    p.add_argument("--level", type=int)
    p.set_defaults(level=3)
    (spec,) = argspec.introspect("p", p)
    opts = spec.options
    assert (opts["--color"].default, opts["--no-color"].default) == (None, None)
    assert opts["--level"].default == 3


def test_argparse_help_with_an_unknown_field_is_kept_as_written() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--x", help="100%% sure, %(nope)s")
    (spec,) = argspec.introspect("p", p)
    assert spec.options["--x"].description == "100%% sure, %(nope)s"


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


def typer_app() -> typer.Typer:
    app = typer.Typer(help="Typer tool.")
    db = typer.Typer(help="Database.")
    app.add_typer(db, name="db")

    @app.command()
    def paint(
        path: Path,
        colour: Colour = Colour.RED,
        mode: Literal["a", "b"] = "a",
        tag: list[str] = typer.Option([], "--tag", "-t", help="Tags."),
        verbose: int = typer.Option(0, "-v", count=True),
        ratio: float = typer.Option(0.5, min=0, max=1),
        force: bool = typer.Option(False, "--force/--no-force", help="Force it."),
        out: Path | None = None,
    ) -> None:
        """Paint a file."""

    @db.command("init", hidden=True)
    def db_init() -> None:
        """Create the database."""

    return app


def test_typer_apps_read_like_click_apps() -> None:
    specs = by_path(specs_of("tt", typer_app(), "m:app"))
    assert set(specs) == {"tt", "tt paint", "tt db", "tt db init"}
    assert specs["tt"].is_group
    assert specs["tt"].options == {}
    assert specs["tt db init"].hidden
    opts = specs["tt paint"].options
    assert (opts["PATH"].kind, opts["PATH"].type, opts["PATH"].required) == (
        "argument",
        "path",
        True,
    )
    assert (opts["--colour"].type, opts["--colour"].default) == ("choice[red|blue]", "red")
    assert opts["--mode"].type == "choice[a|b]"
    assert (opts["--tag"].multiple, opts["--tag"].flags) == (True, ("--tag", "-t"))
    assert opts["--tag"].type == "text"
    assert (opts["-v"].type, opts["-v"].default) == ("count", 0)
    assert opts["--ratio"].type == "float[0..1]"
    assert opts["--force"].type == "flag"
    assert "--no-force" in opts["--force"].flags
    assert (opts["--out"].type, opts["--out"].default) == ("path", None)
    assert specs["tt paint"].description == "Paint a file"


def test_a_typer_default_that_is_a_function_is_dynamic() -> None:
    app = typer.Typer()

    @app.command()
    def one(n: int = typer.Option(lambda: 3)) -> None: ...

    @app.command()
    def two() -> None: ...

    spec = by_path(specs_of("x", app, "m:app"))["x one"]
    assert spec.options["--n"].default == "<dynamic>"


def test_a_factory_is_called_and_a_main_runs_only_until_it_parses() -> None:
    calls: list[str] = []

    def build() -> argparse.ArgumentParser:
        calls.append("build")
        return argparse.ArgumentParser(prog="f")

    def main(argv: list[str] | None = None) -> int:
        calls.append("main")
        p = argparse.ArgumentParser(prog="g")
        p.add_subparsers().add_parser("sub")
        p.parse_args(argv)
        calls.append("the program ran")
        return 0

    assert [s.path for s in specs_of("f", build, "m:build")] == ["f"]
    assert [s.path for s in specs_of("g", main, "m:main")] == ["g", "g sub"]
    assert calls == ["build", "main"]


def test_a_dispatch_that_takes_its_argv_is_given_one_it_never_parses() -> None:
    def dispatch(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="d")
        parser.add_subparsers().add_parser("upload")
        parser.parse_args(argv)
        raise AssertionError("never reached: the parse is intercepted")

    assert [s.path for s in specs_of("d", dispatch, "m:dispatch")] == ["d", "d upload"]


def test_a_main_that_runs_a_click_group_yields_the_group() -> None:
    ran: list[str] = []

    @click.group()
    def cli() -> None:
        ran.append("cli")

    @cli.command()
    def go() -> None:
        ran.append("go")

    def main() -> None:
        cli(obj={})

    assert [s.path for s in specs_of("t", main, "m:main")] == ["t", "t go"]
    assert ran == []


def test_a_main_pv_cannot_read_says_why() -> None:
    def needs(path: str) -> None: ...

    def quits() -> None:
        raise SystemExit(3)

    def breaks() -> None:
        raise ValueError("no config file")

    def returns() -> int:
        return 0

    with pytest.raises(AppImportError, match=r"m:needs needs arguments \(path\)"):
        specs_of("b", needs, "m:needs")
    with pytest.raises(AppImportError, match=r"m:quits\(\) exited \(code 3\) before it parsed"):
        specs_of("b", quits, "m:quits")
    with pytest.raises(AppImportError, match=r"raised ValueError: no config file before"):
        specs_of("b", breaks, "m:breaks")
    with pytest.raises(AppImportError, match=r"m:returns\(\) returned int and parsed no"):
        specs_of("b", returns, "m:returns")
    assert sys.argv[1:2] != ["--help"]  # argv is the test run's again


def test_a_non_cli_is_one_error() -> None:
    with pytest.raises(AppImportError, match="is a int"):
        specs_of("b", 3, "m:three")
    with pytest.raises(AppImportError, match="cannot import no_such_module_xyz"):
        app_specs("b", "no_such_module_xyz:app")
    with pytest.raises(AppImportError, match="AttributeError"):
        app_specs("b", "pv.cli:nothing_here")


def test_click_apps_still_load_through_the_same_door() -> None:
    specs = app_specs("pv", "pv.cli:main")
    assert "pv validate" in by_path(specs)
    assert apps.kind_of(click.Command("x")) == "click"
    assert apps.kind_of(typer_app()) == "typer"
    assert apps.kind_of(parser()) == "argparse"
    assert apps.kind_of(object()) is None


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import click\n@click.command()\ndef a(): ...\n@click.group()\ndef z(): ...\n", "z"),
        ("import typer\napp = typer.Typer()\n", "app"),
        ("import argparse\nparser = argparse.ArgumentParser()\n", "parser"),
        (
            "import argparse\ndef make_parser():\n    return argparse.ArgumentParser()\n"
            "def main():\n    raise RuntimeError('fails before parsing')\n",
            "make_parser",
        ),
        ("def main():\n    raise RuntimeError('fails before parsing')\n", None),
        (
            "import argparse\ndef main(argv=None):\n    p = argparse.ArgumentParser()\n"
            "    p.parse_args(argv)\n    raise RuntimeError('never run')\n",
            "main",
        ),
        ("raise ImportError('broken module')\n", None),
    ],
)
def test_discover_finds_the_cli_a_module_defines(
    source: str, found: str | None, tmp_path: Path
) -> None:
    name = f"discover_{abs(hash(source))}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    try:
        hit = discover(name, tmp_path)
    finally:
        sys.modules.pop(name, None)
    assert (hit[0] if hit else None) == found


def test_a_src_layout_project_is_read_without_being_installed(tmp_path: Path) -> None:
    package = tmp_path / "src" / "srcapp_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text(
        "import click\n@click.group()\ndef main(): ...\n@main.command()\ndef go(): ...\n",
        encoding="utf-8",
    )
    try:
        specs = app_specs("srcapp", "srcapp_pkg.cli:main", tmp_path)
    finally:
        for name in [m for m in sys.modules if m.startswith("srcapp_pkg")]:
            del sys.modules[name]
    assert [s.path for s in specs] == ["srcapp", "srcapp go"]
    assert str(tmp_path / "src") not in sys.path

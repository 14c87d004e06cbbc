"""Live introspection of click apps: hidden commands, aliases, --help policy, types, defaults."""

from __future__ import annotations

import click
import pytest

from pv.clis.apps import AppImportError, app_specs, load_object
from pv.clis.clispec import DYNAMIC, introspect, type_name


@click.group()
@click.version_option("1.0")
def app() -> None:
    """An app.

    Second paragraph is not the description."""


@app.command()
@click.option("--out", "-o", type=click.Path(), required=True, help="Where to write.")
@click.option("--steps", type=click.IntRange(1, 10), default=3)
@click.option("--mode", type=click.Choice(["a", "b"]), default="a")
@click.option("--verbose/--quiet", default=True)
@click.option("--tag", multiple=True, default=("x", "y"))
@click.option("--seed", type=int, default=lambda: 7)
@click.option("--secret", hidden=True, default="s")
@click.argument("inputs", nargs=-1, type=click.Path())
def train(**_: object) -> None:
    """Train it."""


@app.command(hidden=True)
def debug() -> None:
    """Hidden helper."""


app.add_command(train, name="fit")  # an alias: the same command under a second name


def specs() -> dict[str, object]:
    return {s.path: s for s in introspect("tool", app)}


def test_every_command_is_listed_hidden_ones_included_and_aliases_folded() -> None:
    found = specs()
    assert sorted(found) == ["tool", "tool debug", "tool train"]
    assert found["tool debug"].hidden is True  # type: ignore[attr-defined]
    assert found["tool train"].aliases == ("fit",)  # type: ignore[attr-defined]
    assert found["tool"].description == "An app"  # type: ignore[attr-defined]


def test_help_is_left_out_and_version_is_kept() -> None:
    root = specs()["tool"]
    assert list(root.options) == ["--version"]  # type: ignore[attr-defined]
    assert "--help" not in specs()["tool train"].options  # type: ignore[attr-defined]


def test_options_have_normalised_types_and_defaults() -> None:
    opts = specs()["tool train"].options  # type: ignore[attr-defined]
    assert (opts["--out"].type, opts["--out"].required, opts["--out"].default) == (
        "path",
        True,
        None,
    )
    assert opts["--out"].flags == ("--out", "-o")
    assert (opts["--steps"].type, opts["--steps"].default) == ("int[1..10]", 3)
    assert opts["--mode"].type == "choice[a|b]"
    assert (opts["--verbose"].type, opts["--verbose"].default) == ("flag", True)
    assert opts["--verbose"].flags == ("--quiet", "--verbose")
    assert (opts["--tag"].multiple, opts["--tag"].default) == (True, ["x", "y"])
    assert opts["--seed"].default == DYNAMIC
    assert opts["--secret"].hidden is True
    assert (opts["INPUTS"].kind, opts["INPUTS"].multiple) == ("argument", True)


def test_a_flag_without_default_defaults_to_false() -> None:
    @click.command()
    @click.option("--dry-run", is_flag=True)
    @click.option("-v", "--verbose", count=True)
    def cmd(**_: object) -> None:
        """x"""

    (spec,) = introspect("cmd", cmd)
    assert spec.options["--dry-run"].default is False
    assert spec.options["--verbose"].type == "count"
    assert type_name(cmd.params[0]) == "flag"


def test_load_object_imports_module_attribute() -> None:
    assert load_object("pv.cli:main").name == "main"


@pytest.mark.parametrize("target", ["pv.nope:main", "pv.cli:nope", "pv.cli:__version__"])
def test_app_specs_turns_failures_into_one_error(target: str) -> None:
    with pytest.raises(AppImportError, match=target.split(":")[0]):
        app_specs("x", target)

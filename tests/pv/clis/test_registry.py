"""The registry section: reading it into specs, rendering it back, replacing only it."""

from __future__ import annotations

import click
import pytest

from pv.clis.clispec import introspect
from pv.clis.registry import read_registry, render_section, replace_section
from pv.contracts.load import load_bytes

HEADER = 'metadata:\n  version: "1.0.0"\n  kind: registry\n# keep me\n'


@click.group()
def app() -> None:
    """App."""


@app.command()
@click.option("--n", type=int, default=2, help="How many.")
def go(n: int) -> None:
    """Go."""


def test_rendered_section_reads_back_to_the_same_specs() -> None:
    specs = introspect("app", app)
    text = HEADER + render_section(specs, {})
    entries, findings = read_registry(load_bytes(text.encode(), "r.yaml"))
    assert findings == []
    assert [e.spec.params for e in entries] == [s.params for s in specs]
    assert [e.spec.path for e in entries] == ["app", "app go"]
    assert all(e.writes_files is None for e in entries)  # unknown until a person says
    assert "writes_files" not in text


def test_rendering_keeps_writes_files_from_the_old_registry() -> None:
    specs = introspect("app", app)
    old, _ = read_registry(
        load_bytes(
            (HEADER + "commands:\n  app go:\n    writes_files: true\n    options: {}\n").encode(),
            "r",
        )
    )
    text = render_section(specs, {e.spec.path: e for e in old})
    entries, _ = read_registry(load_bytes((HEADER + text).encode(), "r"))
    assert {e.spec.path: e.writes_files for e in entries} == {"app": None, "app go": True}


@click.command()
@click.option("--color/--no-color", default=None, help="Colour, or as the terminal says.")
@click.option("--fast", is_flag=True)
@click.argument("src", metavar="FILE_OR_DIR")
def tri(color: bool | None, fast: bool, src: str) -> None:
    """Tri-state."""


def test_defaults_and_names_are_what_the_cli_has() -> None:
    (spec,) = introspect("tri", tri)
    text = HEADER + render_section((spec,), {})
    (entry,), _ = read_registry(load_bytes(text.encode(), "r.yaml"))
    options = entry.spec.options
    assert options["--color"].default is None  # unset: neither on nor off
    assert options["--fast"].default is False
    assert "FILE_OR_DIR" in options  # the metavar --help shows
    assert entry.spec.params == spec.params


def test_replace_section_keeps_everything_else_byte_for_byte() -> None:
    text = HEADER + "commands:\n  old: {}\n  older: {}\nqa_gate:\n  id: X\n"
    out = replace_section(text, "commands:\n  new: {}\n")
    assert out == HEADER + "commands:\n  new: {}\nqa_gate:\n  id: X\n"
    assert replace_section("a: 1", "commands: {}\n") == "a: 1\n\ncommands: {}\n"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("commands: []\n", "$.commands"),
        ("commands:\n  app: 3\n", "$.commands.app"),
        (
            "commands:\n  app:\n    options:\n      --n: {default: 1}\n",
            "$.commands.app.options['--n']",
        ),
        (
            "commands:\n  app:\n    options:\n      --n: {type: int, colour: red}\n",
            "$.commands.app.options['--n'].colour",
        ),
    ],
)
def test_malformed_entries_are_drift_050_findings(body: str, where: str) -> None:
    _, findings = read_registry(load_bytes((HEADER + body).encode(), "r.yaml"))
    assert [(f.rule, f.path) for f in findings] == [("DRIFT-050", where)]

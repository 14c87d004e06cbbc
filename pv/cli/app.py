"""The `pv` command line: thin click wrappers that parse options, call the noun modules and
turn their results into output and an exit code (0 ok, 1 findings, 2 usage / nothing to check).

Must stay light: importing this module never imports torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pv import __version__
from pv.cli import project_commands
from pv.cli.commands import COMMANDS, FINDINGS_FORMATS, format_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pv")
def main() -> None:
    """Contract-driven verification: validate contracts, run their falsification checks,
    report drift between CLIs, the command registry, the tests and the contracts."""


# --- validate / schema ------------------------------------------------------------------


class _Unchecked(click.Path):
    """A path completed as a path but passed through as given: click.Path's stat and access
    per argument are a measurable part of a warm run over 1,726 files, and `discover`
    reports a path that names nothing in its own words."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value


@main.command()
@format_option(*FINDINGS_FORMATS[1:])
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not write the result cache.")
@click.argument("paths", nargs=-1, type=_Unchecked())
def validate(fmt: str, strict: bool, no_cache: bool, paths: tuple[str, ...]) -> None:
    """Validate contract files or folders (searched recursively for *.yaml / *.yml).

    Exit 0 when there are no errors, 1 on errors (or warnings with --strict), 2 when a PATH
    does not exist or no contract file was found. Results are cached by content in
    .pv-cache/ (or $PV_CACHE_DIR)."""
    from pv.contracts import files as files_mod  # a warm run needs no more than this and the cache

    if not paths:
        raise click.UsageError("give at least one contract file or folder")
    files, missing = files_mod.discover(paths)
    for arg in missing:
        click.echo(f"pv validate: error: no such file or folder: {arg}", err=True)
    if missing or not files:
        if not missing:
            click.echo("pv validate: error: no *.yaml / *.yml file found", err=True)
        sys.exit(2)
    cache = None
    if not no_cache:
        from pv.contracts.cache import Cache

        cache = Cache.open()
    inputs = files_mod.Inputs(files, cache)
    # a run whose files, names, neighbours, format and pv are unchanged prints what it printed
    key = f"{inputs.key}\0{fmt}" if inputs.key is not None else None
    last = cache.get_output(key) if cache is not None and key is not None else None
    if last is not None:
        errors, warnings, output = last
    else:
        from pv.rules import validate as validate_mod
        from pv.views.formats import REPORTERS

        report = validate_mod.validate_paths(files, cache=cache, inputs=inputs)
        errors, warnings, output = report.errors, report.warnings, REPORTERS[fmt](report)
        if cache is not None and key is not None and report.cacheable:
            cache.put_output(key, errors, warnings, output)
    click.echo(output, nl=False)
    sys.exit(1 if errors or (strict and warnings) else 0)


@main.command()
@click.option(
    "--kind",
    type=click.Choice(["contract", "binding"]),
    default="contract",
    show_default=True,
    help="Which schema to print.",
)
def schema(kind: str) -> None:
    """Print the JSON Schema (draft 2020-12) that contracts are validated against."""
    from pv.contracts.schema import schema_text

    click.echo(schema_text(kind), nl=False)


# --- falsify ----------------------------------------------------------------------------


@main.command()
@click.option("--mutants", is_flag=True, help="Also run each check once per mutant it names.")
@click.option("--quiet", is_flag=True, help="No progress bar (it is also off when not a tty).")
@format_option("json")
@click.argument("contracts", nargs=-1, type=click.Path(exists=True))
def falsify(mutants: bool, quiet: bool, fmt: str, contracts: tuple[str, ...]) -> None:
    """Run the checks bound to the CONTRACTS' falsification ids (default: contracts/) and
    print each id's state; exit 1 unless every id passed (and, with --mutants, every mutant
    was killed), 2 when there is nothing to check."""
    from pv.binding import falsify as falsify_mod
    from pv.binding import idreport

    result = falsify_mod.run(
        [Path(c) for c in contracts], mutants=mutants, root=Path.cwd(), quiet=quiet
    )
    code = result.exit_code
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        if result.shows_failures:
            click.echo(falsify_mod.check_output(result.output).rstrip())
        for line in idreport.render_text(result.report):
            click.echo(line)
        if result.mutants_run and result.error is None:
            for line in falsify_mod.render_mutants(result.mutants):
                click.echo(line)
        for line in falsify_mod.render_claims(result.claims):
            click.echo(line)
    if result.error is not None:
        click.echo(f"pv falsify: error: {result.error}", err=True)
    elif code == 2:
        click.echo("pv falsify: nothing to check (no contract or no falsification id)", err=True)
    sys.exit(code)


# --- drift / gate / status / audit / coverage / graph / diff / equations -----------------
# Defined in pv/cli/commands.py and pv/cli/project_commands.py (light to import: each command
# imports
# its module when run).
for _command in (*COMMANDS, *project_commands.COMMANDS):
    main.add_command(_command)

"""The click commands that set a project up for pv and present what its CI produced: init,
scaffold, and `pv report` (the contract dashboard, and merging the reports of CI shards).
Light at import time, like pv/cli/commands.py; pv/cli/app.py registers them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pv.cli.commands import CONFIG, _config, _fail, _load_or_fail

if TYPE_CHECKING:
    from pv.core.config import PvConfig


@click.command()
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="NAME=MODULE:ATTR",
    help="A CLI to register (repeatable); default: found from [project.scripts].",
)
def init(apps: tuple[str, ...]) -> None:
    """Set this project up for pv: a [tool.pv] table in pyproject.toml (its CLIs found from
    the programs it declares), the command registry from the live CLIs (click, typer or
    argparse), a first contract. --app adds or replaces an app in an existing [tool.pv].
    Every file is written or none is; running it twice changes nothing."""
    from pv.clis.apps import AppImportError
    from pv.core.atomic import WriteError
    from pv.core.config import ConfigError
    from pv.views.onboard import init as run_init

    given: dict[str, str] = {}
    for item in apps:
        name, sep, target = item.partition("=")
        if not sep or not name or ":" not in target:
            raise click.UsageError(f"--app {item!r}: expected NAME=MODULE:ATTRIBUTE")
        given[name] = target
    try:
        steps = run_init(Path.cwd(), given or None)
    except (ConfigError, AppImportError, WriteError) as exc:
        _fail("init", f"{exc} (no file was changed)", 1)
    width = max(len(s.action) for s in steps)
    for step in steps:
        click.echo(f"{step.action:<{width}}  {step.path}: {step.detail}")
    if any(s.action not in ("kept", "skipped") for s in steps):
        click.echo("next: pv validate contracts/ && pv scaffold <contract> && pytest && pv drift")


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Test file to append the stubs to (default: tests/test_<contract>.py).",
)
@CONFIG
@click.argument("contract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def scaffold(out: Path | None, pyproject: Path | None, contract: Path) -> None:
    """Write a failing pytest stub, marked falsifies(ID), for every id of CONTRACT that no
    check binds yet. Existing tests are never rewritten; stubs fail until written."""
    from pv.binding.bind import declared_checks
    from pv.binding.testscan import scan
    from pv.core.config import ConfigError, load_config
    from pv.views.scaffold import default_target
    from pv.views.scaffold import scaffold as write_stubs

    doc = _load_or_fail("scaffold", contract)
    declared = declared_checks(str(contract), doc.data or {})
    if not declared:
        _fail("scaffold", f"{contract} declares no falsification id", 2)
    try:
        config = load_config(pyproject=pyproject) if pyproject else load_config()
        root, tests = config.root, config.tests
    except ConfigError:
        root, tests = Path.cwd(), (Path.cwd() / "tests",)
    target = out or default_target(tests[0], contract)
    bound = {i for b in scan(root, (*tests, target), {}).bound for i in b.ids}
    try:
        result = write_stubs(declared, bound, target, contract.as_posix())
    except (ValueError, OSError) as exc:
        _fail("scaffold", str(exc), 1)
    if result.written:
        click.echo(f"wrote {len(result.written)} stub(s) to {target}: {', '.join(result.written)}")
    else:
        click.echo(f"every id of {contract} is bound to a check; nothing written")


class _ReportGroup(click.Group):
    """`pv report merge ...` is a subcommand; anything else is the dashboard, so the page is
    `pv report --html OUT [CONTRACTS...]` as well as `pv report html --html OUT ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["html", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ReportGroup)
def report() -> None:
    """The contract dashboard (`pv report --html OUT`), and merging --pv-report files."""


@report.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument(
    "inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def merge(out: Path, inputs: tuple[Path, ...]) -> None:
    """Merge the --pv-report files of CI shards or a matrix into OUT: an id passed when it
    passed in some run and failed in none, failed if it failed anywhere, not-run only if it
    ran nowhere. OUT is accepted by `pv gate --falsify-report`; exit 1 unless it passes."""
    from pv.binding import idreport

    try:
        merged = idreport.merge([(str(p), idreport.read(p)) for p in inputs])
        idreport.write_json(out, merged)
    except idreport.ReportError as exc:
        _fail("report merge", str(exc), 1)
    except OSError as exc:
        _fail("report merge", f"{out}: {exc.strerror or exc}", 1)
    for line in idreport.render_text(merged):
        click.echo(line)
    click.echo(f"merged {len(inputs)} report(s) into {out}: {merged['verdict']}")
    sys.exit(0 if merged["verdict"] == "passed" else 1)


@report.command(name="html")
@click.option(
    "--html",
    "html_out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the contract dashboard (one static HTML page) to this file.",
)
@click.option(
    "--falsify-report",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A --pv-report JSON (or `pv falsify --format json`) with each id's state.",
)
@CONFIG
@click.argument("contracts", nargs=-1, type=click.Path(exists=True, path_type=Path))
def html(
    html_out: Path, falsify_report: Path | None, pyproject: Path | None, contracts: tuple[Path, ...]
) -> None:
    """Write the contract dashboard for CONTRACTS (default: [tool.pv].contracts): equations,
    obligations, every id's state, checks, mutants and the findings that name it. The
    default of `pv report`: `pv report --html OUT` is this command."""
    from pv.core import atomic
    from pv.core.config import ConfigError, load_config
    from pv.views.board import gather
    from pv.views.dashboard import render

    config: PvConfig | None = None
    if pyproject is not None or not contracts:
        config = _config("report", pyproject)  # the contracts and drift come from [tool.pv]
    else:
        try:
            config = load_config()
        except ConfigError:
            config = None  # CONTRACTS alone are enough: no drift findings then
    paths = list(contracts) or list(config.contracts if config else ())
    try:
        board = gather(paths, falsify_report, config)
    except ValueError as exc:
        _fail("report", str(exc), 1)
    if not board.contracts:
        _fail("report", "no contract found", 2)
    html_out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(html_out, render(board))
    click.echo(f"dashboard: {html_out} ({len(board.rows)} ids)")


COMMANDS = (init, scaffold, report)

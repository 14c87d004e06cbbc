"""The click commands drift, gate, status, audit, coverage, graph, diff, equations and rules, kept
out of pv/cli/app.py so that file stays a short table of contents; pv/cli/app.py registers them.
Light at import time (never torch): each command imports its noun module when it runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from pv.contracts.load import Document
    from pv.core.config import PvConfig
    from pv.core.findings import Finding
    from pv.views.corpus import Corpus

F = TypeVar("F", bound=Callable[..., Any])
FINDINGS_FORMATS = ("text", "json", "sarif", "github")


def format_option(*choices: str) -> Callable[[F], F]:
    """`--format` with `text` first and the default; one definition for every command."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", *choices]),
        default="text",
        show_default=True,
        help="Output format.",
    )


CONFIG = click.option(
    "--config",
    "pyproject",
    type=click.Path(dir_okay=False, path_type=Path),
    help="pyproject.toml with the [tool.pv] table (default: the nearest one above here).",
)

TESTS = click.option(
    "--tests",
    "tests",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Folders to scan for bound checks (default: [tool.pv].tests, if any).",
)


def _fail(command: str, message: str, code: int) -> NoReturn:
    click.echo(f"pv {command}: error: {message}", err=True)
    sys.exit(code)


def _config(command: str, pyproject: Path | None) -> PvConfig:
    from pv.core.config import ConfigError, load_config

    try:
        return load_config(pyproject=pyproject)
    except ConfigError as exc:
        _fail(command, str(exc), 2)


def _load_or_fail(command: str, path: Path) -> Document:
    """The parsed YAML document at `path`, or the first load finding as a one-line error."""
    from pv.contracts.load import load_file

    doc = load_file(path)
    if doc.data is None:
        first = doc.findings[0]
        _fail(command, f"{first.file}:{first.line}: {first.message}", 1)
    return doc


def _corpus(command: str, paths: tuple[str, ...]) -> Corpus:
    from pv.views.corpus import load_corpus

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        _fail(command, f"no such file or folder: {missing[0]}", 2)
    corpus = load_corpus(Path(p) for p in paths)
    if corpus.refused:
        f = corpus.refused[0]
        _fail(command, f"{f.file}:{f.line}: {f.message}", 1)
    if not corpus.contracts:
        _fail(command, "no contract found", 2)
    return corpus


def _findings_text(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """One line per finding, as every command prints them."""
    from pv.core.findings import format_line

    return "".join(format_line(f) + "\n" for f in findings)


REPORT = click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A --pv-report JSON whose recorded CLI calls are the tests' surface "
    "(default: [tool.pv].report; without one, a static scan of the test files).",
)


@click.command()
@format_option(*FINDINGS_FORMATS[1:])
@click.option(
    "--write-registry",
    is_flag=True,
    help="Rewrite the registry's `commands:` section from the live CLIs first.",
)
@REPORT
@CONFIG
def drift(fmt: str, write_registry: bool, report: Path | None, pyproject: Path | None) -> None:
    """Report drift between the CLIs, the command registry, the tests and the contracts
    (configured in [tool.pv]); exit 1 on any drift, 2 when a surface yields nothing."""
    import json

    from pv.drift import drift as drift_mod
    from pv.rules.validate import Report
    from pv.views import formats as reporters

    config = _config("drift", pyproject)
    if report is not None and not report.is_file():
        _fail("drift", f"no such report: {report}", 2)
    if write_registry:
        _write_registry(config)
    result = drift_mod.run_drift(config, report)
    rep = Report(files=(), findings=result.findings)
    if fmt == "json":
        summary = {
            "errors": rep.errors,
            "warnings": rep.warnings,
            "commands": result.commands,
            "registered": result.registered,
            "test_files": result.test_files,
            "contracts": result.contracts,
        }
        findings = [f.to_dict() for f in result.findings]
        body = {"summary": summary, "findings": findings, **drift_mod.as_dict(result)}
        click.echo(json.dumps(body, indent=2))
    elif fmt == "sarif":
        click.echo(reporters.sarif(rep, waived=result.waived), nl=False)
    elif fmt == "github":
        click.echo(reporters.github(rep), nl=False)
    else:
        click.echo(_findings_text(result.findings), nl=False)
        for line in drift_mod.waived_lines(result):
            click.echo(line)
        for note in result.notes:
            click.echo(f"note: {note}")
        if result.surface:
            click.echo(f"tests: {result.surface}")
        click.echo(drift_mod.describe(result))
    if any(f.rule == "DRIFT-040" for f in result.findings):
        sys.exit(2)
    sys.exit(1 if rep.errors else 0)


def _write_registry(config: PvConfig) -> None:
    from pv.clis.apps import AppImportError
    from pv.clis.registry import write_registry
    from pv.core.atomic import WriteError
    from pv.core.config import project_name

    existed = config.registry.is_file()
    try:
        written, fresh = write_registry(config, project_name(config.root))
    except (AppImportError, WriteError) as exc:  # a registry that cannot be written stays whole
        _fail("drift", str(exc), 1)
    verb = "wrote" if existed else "created"
    click.echo(f"{verb} {config.registry} with {written} commands", err=True)
    if fresh:
        click.echo("review writes_files for: " + ", ".join(fresh), err=True)


@click.command()
@click.option(
    "--base",
    default=None,
    help="Git ref to diff contracts against for the semver check "
    "(default: the merge-base of HEAD and origin/HEAD, origin/main or main).",
)
@click.option("--mutants", is_flag=True, help="Also run every check against its mutants.")
@click.option("--no-falsify", is_flag=True, help="Skip running the bound checks.")
@click.option(
    "--falsify-report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the bound checks' verdict from this --pv-report JSON of a pytest run that "
    "already ran them, instead of running them again.",
)
@format_option("json")
@CONFIG
def gate(
    base: str | None,
    mutants: bool,
    no_falsify: bool,
    falsify_report: Path | None,
    fmt: str,
    pyproject: Path | None,
) -> None:
    """The pre-merge gate: validate, drift, the bound checks and semver, one verdict.
    Writes a markdown summary to $GITHUB_STEP_SUMMARY when set."""
    from pv.gate.gate import render, run_gate, write_summary

    if falsify_report is not None and (mutants or no_falsify):
        _fail("gate", "--falsify-report cannot be combined with --mutants or --no-falsify", 2)
    config = _config("gate", pyproject)
    result = run_gate(
        config,
        base=base,
        falsify=not no_falsify,
        mutants=mutants,
        falsify_report=falsify_report,
    )
    write_summary(result)
    click.echo(render(result, fmt))
    sys.exit(0 if result.ok else 1)


@click.command()
@format_option("json")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def status(fmt: str, paths: tuple[str, ...]) -> None:
    """Count equations, obligations, falsification tests and Kani harnesses of contracts
    (files or folders)."""
    from pv.views.status import render

    corpus = _corpus("status", paths)
    click.echo(render(corpus, fmt))


@click.command()
@format_option("json")
@TESTS
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def coverage(fmt: str, tests: tuple[Path, ...], paths: tuple[str, ...]) -> None:
    """Per contract: obligations, falsification tests, harnesses and how many ids are bound
    to a check."""
    from pv.views.coverage import coverage as measure
    from pv.views.coverage import render

    corpus = _corpus("coverage", paths)
    click.echo(render(measure(corpus, set(_marked(tests))), fmt))


def _marked(tests: tuple[Path, ...]) -> dict[str, tuple[str, ...]]:
    """id -> node ids of the checks marked for it, scanning `tests` or [tool.pv].tests."""
    from pv.binding.testscan import scan
    from pv.core.config import ConfigError, load_config

    root = Path.cwd()
    if not tests:
        try:
            config = load_config()
        except ConfigError:
            return {}
        root, tests = config.root, config.tests
    out: dict[str, tuple[str, ...]] = {}
    for bound in scan(root, tests, {}).bound:
        for ident in bound.ids:
            out[ident] = (*out.get(ident, ()), f"{bound.site.file}::{bound.site.test}")
    return out


@click.command()
@format_option("json")
@click.option(
    "--binding",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Binding registry mapping equations to code (e.g. binding.yaml).",
)
@click.option(
    "--report",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A `pv falsify --format json` / --pv-report file with check results.",
)
@TESTS
@click.argument("contract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit(
    fmt: str, binding: Path | None, report: Path | None, tests: tuple[Path, ...], contract: Path
) -> None:
    """The traceability chain paper -> equation -> obligation -> falsification -> check ->
    result, with binding coverage; exit 1 when the chain has a gap."""
    from pv.views.audit import audit as trace
    from pv.views.audit import render

    result = trace(
        _load_or_fail("audit", contract),
        marked=_marked(tests),
        binding=_load_or_fail("audit", binding).data if binding is not None else None,
        report=_report("audit", report),
    )
    click.echo(render(result, fmt))
    sys.exit(1 if result.gaps else 0)


def _report(command: str, path: Path | None) -> dict[str, Any] | None:
    """A --pv-report (or `pv falsify --format json`) file, or a clean error saying why not."""
    from pv.binding.idreport import ReportError, read

    if path is None:
        return None
    try:
        return dict(read(path))
    except ReportError as exc:
        _fail(command, str(exc), 1)


@click.command()
@format_option("dot", "json", "mermaid")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def graph(fmt: str, paths: tuple[str, ...]) -> None:
    """The depends_on graph of contracts; exit 1 on a cycle (a dependency pv was not given is a
    warning: it may live in another repository)."""
    from pv.views.graph import build, render

    corpus = _corpus("graph", paths)
    result = build(corpus)
    click.echo(render(result, fmt))
    if result.findings and fmt != "json":
        click.echo(_findings_text(list(result.findings)), err=True, nl=False)
    sys.exit(1 if any(f.severity == "error" for f in result.findings) else 0)


@click.command(name="diff")
@format_option("json")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def diff_command(fmt: str, old: Path, new: Path) -> None:
    """Compare two versions of a contract and suggest none/patch/minor/major; exit 1 when
    NEW's version bump is smaller than its changes need."""
    from pv.gate.diff import diff, render

    before, after = _load_or_fail("diff", old), _load_or_fail("diff", new)
    result = diff(before.data or {}, after.data or {})
    click.echo(render(result, fmt))
    sys.exit(0 if result.version_ok else 1)


@click.command()
@format_option("latex", "json")
@click.argument("contract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def equations(fmt: str, contract: Path) -> None:
    """Print a contract's equations as text, a LaTeX fragment, or JSON."""
    from pv.views.equations import render

    doc = _load_or_fail("equations", contract)
    if not (doc.data or {}).get("equations"):
        _fail("equations", f"{contract} has no equations", 2)
    click.echo(render(doc, fmt))


@click.command()
@format_option("json")
@click.argument("ids", nargs=-1)
def rules(fmt: str, ids: tuple[str, ...]) -> None:
    """Every rule pv reports, or the rules IDS name (a rule id such as SCHEMA-001, or a family
    such as PARITY), with its severity, title and how to fix what it finds."""
    import json

    from pv.core.ruletable import RULES

    chosen = list(RULES.values())
    if ids:
        wanted = {i.upper() for i in ids}
        chosen = [r for r in chosen if r.id in wanted or r.family in wanted]
        unknown = sorted(wanted - {r.id for r in chosen} - {r.family for r in chosen})
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(RULES), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            _fail("rules", f"no rule or family {unknown[0]}{hint}", 2)
    if fmt == "json":
        body = [
            {"id": r.id, "severity": r.severity, "title": r.title, "help": r.help} for r in chosen
        ]
        click.echo(json.dumps(body, indent=2))
    elif ids:
        click.echo("\n\n".join(f"{r.id} ({r.severity}): {r.title}\n  {r.help}" for r in chosen))
    else:
        width = max(len(r.id) for r in chosen)
        for r in chosen:
            click.echo(f"{r.id:<{width}}  {r.severity:<7}  {r.title}")


COMMANDS = (drift, gate, status, audit, coverage, graph, diff_command, equations, rules)

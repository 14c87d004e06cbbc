"""3-surface drift: the live CLIs, the command registry and the tests must agree about every
command and option, and contracts must only claim checks and tests that exist. The tests'
surface is what they really ran when a --pv-report recorded it (pv.clis.observe), else a static
scan of the test files; every argv is judged by the CLI's own parser (pv.clis.dispatch). Each
disagreement is a Finding with a DRIFT-* rule id; a waiver accepts one, with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pv.binding.bind import contract_files
from pv.binding.claims import contracts_vs_reality, contracts_vs_tests
from pv.binding.testscan import TestScan, scan, site_finding
from pv.clis.apps import App, AppImportError, load_app
from pv.clis.clispec import CommandSpec, ParamSpec, same_type
from pv.clis.identity import Identity
from pv.clis.registry import SECTION, RegistryEntry, read_registry
from pv.contracts.load import Document, load_bytes, load_file
from pv.core.config import PvConfig
from pv.core.findings import Finding, sort_findings
from pv.core.waivers import Waived, Waiver, apply
from pv.drift.surface import Exercise, Surface, surface_of


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    findings: tuple[Finding, ...]
    commands: int
    registered: int
    test_files: int
    contracts: int
    surface: str = ""  # which test surface drift judged by, in a few words
    waived: tuple[Waived, ...] = ()
    notes: tuple[str, ...] = ()


def run_drift(config: PvConfig, report: Path | None = None) -> DriftReport:
    """Read all three surfaces plus the contracts and report every disagreement. `report` is a
    --pv-report JSON to take the tests' CLI calls from (default: [tool.pv].report)."""
    anchor = _Anchor(config.root)
    findings: list[Finding] = []
    notes: list[str] = []
    contracts = _contracts(config)
    library = not config.apps and not config.registry.is_file()
    apps: dict[str, App] = {}
    entries: tuple[RegistryEntry, ...] = ()
    surface = Surface(kind="none", detail="no CLI", exercises=())
    if library:
        notes.append("no CLI configured and no registry: only the contracts' claims were checked")
        scanned = scan(config.root, config.tests, {})
    else:
        apps, failed = _load_apps(config, anchor, findings)
        identity = Identity(apps, config.root)
        scanned = scan(config.root, config.tests, dict(config.apps), _programs(config), identity)
        if config.registry.is_file():  # a missing one is DRIFT-040's, said once
            reg_doc = load_file(config.registry, display=_rel(config.registry, config.root))
            findings.extend(reg_doc.findings)
            entries, bad = read_registry(reg_doc) if reg_doc.data is not None else ((), [])
            findings.extend(bad)
        else:
            reg_doc = load_bytes(b"{}", _rel(config.registry, config.root))
        cli = tuple(s for app in apps.values() for s in app.specs)
        known = cli + tuple(e.spec for e in entries if e.spec.path.split()[0] in failed)
        surface = surface_of(config, apps, known, scanned, report or config.report, identity)
        findings.extend(cli_vs_registry(cli, entries, reg_doc, failed))
        gone = {c.path for c in known}
        findings.extend(registry_vs_tests(known, entries, reg_doc, surface, scanned, gone))
        if surface.problem is not None:
            findings.append(anchor.finding("DRIFT-042", surface.problem))
    findings.extend(_empty_sides(config, anchor, apps, entries, scanned, contracts, library))
    findings.extend(contracts_vs_tests(contracts, scanned, config.root))
    findings.extend(contracts_vs_reality(contracts, config.root))
    kept, waived, unused = apply(findings, _waivers(config, scanned))
    kept += [_unused(anchor, w) for w in unused]
    kept += _reasonless(scanned)
    return DriftReport(
        findings=tuple(sort_findings(kept)),
        commands=sum(len(a.specs) for a in apps.values()),
        registered=len(entries),
        test_files=len(scanned.files),
        contracts=len(contracts),
        surface=surface.detail,
        waived=tuple(waived),
        notes=tuple(notes),
    )


class _Anchor:
    """Findings about the configuration itself point at the `[tool.pv]` line."""

    def __init__(self, root: Path) -> None:
        self.file = "pyproject.toml"
        path = root / self.file
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        self.lines = text.splitlines()
        self.line = next((i + 1 for i, ln in enumerate(self.lines) if ln.startswith("[tool.pv")), 1)

    def finding(
        self, rule: str, message: str, *, line: int | None = None, subjects: tuple[str, ...] = ()
    ) -> Finding:
        return Finding(
            rule=rule,
            severity="error",
            file=self.file,
            line=line or self.line,
            column=1,
            path="$.tool.pv",
            message=message,
            subjects=subjects,
        )

    def waiver_line(self, index: int) -> int:
        """The line of the index-th waiver (`[[tool.pv.waivers]]` tables, else `waivers =`)."""
        tables = [i + 1 for i, ln in enumerate(self.lines) if ln.strip() == "[[tool.pv.waivers]]"]
        if index < len(tables):
            return tables[index]
        inline = [i + 1 for i, ln in enumerate(self.lines) if ln.strip().startswith("waivers")]
        return inline[0] if inline else self.line


def _programs(config: PvConfig) -> dict[str, str]:
    """Console scripts that run an app under another name."""
    from pv.clis.entrypoints import scripts
    from pv.clis.observe import programs

    declared = {s.name: s.target for s in scripts(config.root)}
    return programs(dict(config.apps), declared)


def _load_apps(
    config: PvConfig, anchor: _Anchor, findings: list[Finding]
) -> tuple[dict[str, App], set[str]]:
    apps: dict[str, App] = {}
    failed: set[str] = set()
    for name, target in config.apps:
        try:
            apps[name] = load_app(name, target, config.root)
        except AppImportError as exc:
            failed.add(name)
            findings.append(anchor.finding("DRIFT-041", f"app '{name}': {exc}", subjects=(name,)))
    return apps, failed


def _contracts(config: PvConfig) -> tuple[Document, ...]:
    docs = []
    for path in contract_files(config.contracts):
        doc = load_file(path, display=_rel(path, config.root))
        # Broken files are `pv validate`'s to report; binding registries declare no ids, and
        # the command registry is a surface of its own.
        if doc.data is not None and "bindings" not in doc.data and SECTION not in doc.data:
            docs.append(doc)
    return tuple(docs)


def _empty_sides(
    config: PvConfig,
    anchor: _Anchor,
    apps: dict[str, App],
    entries: tuple[RegistryEntry, ...],
    tests: TestScan,
    contracts: tuple[Document, ...],
    library: bool,
) -> list[Finding]:
    empty = []
    if not library:
        if not config.apps:
            empty.append("no CLI apps configured in [tool.pv].apps, but a registry exists")
        if (
            config.apps
            and len(apps) == len(config.apps)
            and not any(a.specs for a in apps.values())
        ):
            empty.append("no commands found in any configured app")
        if not entries and config.registry.is_file():
            empty.append(f"the registry {_rel(config.registry, config.root)} lists no commands")
        if not config.registry.is_file():
            empty.append(f"registry {_rel(config.registry, config.root)} does not exist")
        if not tests.files:
            names = ", ".join(_rel(t, config.root) for t in config.tests)
            empty.append(f"no test files found under {names}")
    if not contracts and (library or not config.contracts):
        names = ", ".join(_rel(c, config.root) for c in config.contracts)
        empty.append(f"no contracts found under {names}")
    return [anchor.finding("DRIFT-040", msg) for msg in empty]


def cli_vs_registry(
    cli: tuple[CommandSpec, ...],
    entries: tuple[RegistryEntry, ...],
    doc: Document,
    skip_apps: set[str] | None = None,
) -> list[Finding]:
    """Commands and options in one surface and not the other, and differing options."""
    skip = skip_apps or set()
    registered = {e.spec.path: e.spec for e in entries}
    out = [
        doc.finding(
            "DRIFT-001",
            "error",
            (SECTION,),
            f"command '{c.path}' exists in the CLI but not in the registry",
            suggestion="run `pv drift --write-registry` and review the new entry",
            subjects=(c.path,),
        )
        for c in cli
        if c.path not in registered
    ]
    live = {c.path for c in cli}
    for path in registered:
        if path.split()[0] in skip:
            continue
        if path not in live:
            out.append(
                doc.finding(
                    "DRIFT-002",
                    "error",
                    (SECTION, path),
                    f"command '{path}' is registered but the CLI has no such command",
                    subjects=(path,),
                )
            )
    for spec in cli:
        if spec.path in registered:
            out.extend(_compare_command(spec, registered[spec.path], doc))
    return out


def _compare_command(live: CommandSpec, reg: CommandSpec, doc: Document) -> list[Finding]:
    where = (SECTION, live.path)
    out = []
    if sorted(live.aliases) != sorted(reg.aliases) or live.hidden != reg.hidden:
        out.append(
            doc.finding(
                "DRIFT-008",
                "error",
                where,
                f"'{live.path}': CLI has aliases={list(live.aliases)} "
                f"hidden={live.hidden}, registry has aliases={list(reg.aliases)} "
                f"hidden={reg.hidden}",
                subjects=(live.path,),
            )
        )
    mine, theirs = live.options, reg.options
    for name in mine.keys() - theirs.keys():
        out.append(
            doc.finding(
                "DRIFT-003",
                "error",
                (*where, "options"),
                f"'{live.path}': option {name} is in the CLI but not the registry",
                subjects=(f"{live.path} {name}",),
            )
        )
    for name in theirs.keys() - mine.keys():
        out.append(
            doc.finding(
                "DRIFT-004",
                "error",
                (*where, "options", name),
                f"'{live.path}': registered option {name} is not in the CLI",
                subjects=(f"{live.path} {name}",),
            )
        )
    for name in mine.keys() & theirs.keys():
        out.extend(_compare_param(live.path, mine[name], theirs[name], doc))
    return out


def _compare_param(path: str, live: ParamSpec, reg: ParamSpec, doc: Document) -> list[Finding]:
    where = (SECTION, path, "options", live.name)
    subjects = (f"{path} {live.name}",)
    out = []
    if not same_type(live.type, reg.type):
        out.append(
            doc.finding(
                "DRIFT-005",
                "error",
                (*where, "type"),
                f"'{path}' {live.name}: type is {live.type} in the CLI, {reg.type} in the registry",
                subjects=subjects,
            )
        )
    if not same_value(live.default, reg.default):
        out.append(
            doc.finding(
                "DRIFT-006",
                "error",
                (*where, "default"),
                f"'{path}' {live.name}: default is {live.default!r} in the CLI, "
                f"{reg.default!r} in the registry",
                subjects=subjects,
            )
        )
    for attr in ("required", "multiple", "kind"):
        a, b = getattr(live, attr), getattr(reg, attr)
        if a != b:
            out.append(
                doc.finding(
                    "DRIFT-007",
                    "error",
                    where,
                    f"'{path}' {live.name}: {attr} is {a} in the CLI, {b} in the registry",
                    subjects=subjects,
                )
            )
    return out


def same_value(a: object, b: object) -> bool:
    """Equality that does not let True == 1 or 1 == 1.0 hide a changed default."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def registry_vs_tests(
    known: tuple[CommandSpec, ...],
    entries: tuple[RegistryEntry, ...],
    doc: Document,
    surface: Surface,
    tests: TestScan,
    live: set[str],
) -> list[Finding]:
    """Registered commands no test exercises (one finding per fact: a command the CLI no
    longer has is DRIFT-002 alone); tests running a command the CLI refuses."""
    exercised: set[str] = set()
    out = []
    for ex in surface.exercises:
        exercised.update(ex.reached)
        if ex.refused is not None and ex.judged and ex.refused_word not in tests.local_commands:
            message = f"runs '{ex.refused}' ({ex.via}), which is not a command"
            out.append(site_finding("DRIFT-011", ex.site, message))
    ancestors = {p.rpartition(" ")[0] for p in exercised}
    while ancestors - exercised - {""}:
        exercised |= ancestors - {""}
        ancestors = {p.rpartition(" ")[0] for p in exercised}
    where = surface.where
    out.extend(
        doc.finding(
            "DRIFT-010",
            "error",
            (SECTION, e.spec.path),
            f"command '{e.spec.path}' is registered but no test {where}exercises it",
            suggestion=f'mark a test @pytest.mark.cli("{e.spec.path}") or invoke it',
            subjects=(e.spec.path,),
        )
        for e in entries
        if e.spec.path not in exercised and e.spec.path in live
    )
    out.extend(site_finding("DRIFT-051", s, f"cannot parse: {s.test}") for s in tests.broken)
    return out


def _waivers(config: PvConfig, scanned: TestScan) -> list[Waiver]:
    inline = [
        Waiver(
            rule=w.rule,
            reason=w.reason,
            origin=f"{w.site.file}:{w.site.line}",
            line=w.site.line,
            test=w.site.nodeid,
        )
        for w in scanned.waivers
        if w.reason.strip()
    ]
    return [*config.waivers, *inline]


def _unused(anchor: _Anchor, waiver: Waiver) -> Finding:
    message = f"waiver {waiver.describe()} matches no finding: remove it"
    if waiver.origin.startswith("[tool.pv]"):
        index = int(waiver.origin.rpartition("[")[2].rstrip("]"))
        return anchor.finding("DRIFT-060", message, line=anchor.waiver_line(index))
    file, _, line = waiver.origin.rpartition(":")
    return Finding(
        rule="DRIFT-060",
        severity="error",
        file=file,
        line=int(line),
        column=1,
        path="$",
        message=f"{waiver.test}: {message}",
        subjects=(waiver.test or "",),
    )


def _reasonless(scanned: TestScan) -> list[Finding]:
    return [
        site_finding("DRIFT-061", w.site, f"waives {w.rule} without a reason: say why")
        for w in scanned.waivers
        if not w.reason.strip()
    ]


def describe(report: DriftReport) -> str:
    """The summary line of a drift run."""
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    waived = f", {len(report.waived)} waived" if report.waived else ""
    return (
        f"{errors} error(s), {warnings} warning(s){waived}; {report.commands} commands, "
        f"{report.registered} registered, {report.test_files} test files, "
        f"{report.contracts} contracts" + ("" if errors else ": no drift.")
    )


def waived_lines(report: DriftReport) -> list[str]:
    """The waivers in force, each finding it accepts with the reason."""
    lines = [f"{len(report.waived)} finding(s) waived:"] if report.waived else []
    for w in report.waived:
        f = w.finding
        lines.append(
            f"  {f.file}:{f.line}: {f.rule} {f.message} -- waived by {w.waiver.origin}: "
            f"{w.waiver.reason}"
        )
    return lines


def as_dict(report: DriftReport) -> dict[str, Any]:
    return {
        "surface": report.surface,
        "waived": [
            {**w.finding.to_dict(), "waiver": w.waiver.origin, "reason": w.waiver.reason}
            for w in report.waived
        ],
        "notes": list(report.notes),
    }


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


__all__ = ["DriftReport", "Exercise", "cli_vs_registry", "run_drift", "same_value"]

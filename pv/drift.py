"""3-surface drift: the live CLIs, the command registry and the tests must agree about every
command and option, and contracts must only claim checks and tests that exist. Each
disagreement is a Finding with a DRIFT-* rule id, reported like `pv validate` findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pv.apps import AppImportError, app_specs
from pv.bind import contract_files
from pv.claims import contracts_vs_reality, contracts_vs_tests
from pv.clispec import CommandSpec, ParamSpec
from pv.config import PvConfig
from pv.findings import Finding, sort_findings
from pv.load import Document, load_file
from pv.registry import SECTION, RegistryEntry, read_registry
from pv.testscan import Invocation, TestScan, scan, site_finding

RULES: dict[str, str] = {
    "DRIFT-001": "command in the CLI but not in the registry",
    "DRIFT-002": "command in the registry but not in the CLI",
    "DRIFT-003": "option in the CLI but not in the registry",
    "DRIFT-004": "option in the registry but not in the CLI",
    "DRIFT-005": "option type differs between CLI and registry",
    "DRIFT-006": "option default differs between CLI and registry",
    "DRIFT-007": "option required/multiple/kind differs between CLI and registry",
    "DRIFT-008": "command aliases or hidden flag differ between CLI and registry",
    "DRIFT-010": "registered command that no test exercises",
    "DRIFT-011": "test runs a command that does not exist",
    "DRIFT-020": "falsification id with no bound check",
    "DRIFT-021": "check bound to an id no contract declares",
    "DRIFT-030": "test:, binding: or test_locations names nothing that exists",
    "DRIFT-031": "algorithm_evidence.status claims a passing check the results contradict",
    "DRIFT-032": "algorithm_evidence.status is a word pv does not know",
    "DRIFT-040": "a surface yields nothing (no apps, commands, tests or contracts)",
    "DRIFT-041": "a configured app cannot be imported or is not a CLI pv can read",
    "DRIFT-050": "malformed registry entry",
    "DRIFT-051": "test file does not parse",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    findings: tuple[Finding, ...]
    commands: int
    registered: int
    test_files: int
    contracts: int


def run_drift(config: PvConfig) -> DriftReport:
    """Read all three surfaces plus the contracts and report every disagreement."""
    pyproject = _Anchor(config.root)
    findings: list[Finding] = []
    cli, failed = _live_commands(config, pyproject, findings)
    reg_doc = load_file(config.registry, display=_rel(config.registry, config.root))
    findings.extend(reg_doc.findings)
    entries, bad = read_registry(reg_doc) if reg_doc.data is not None else ((), [])
    findings.extend(bad)
    tests = scan(config.root, config.tests, dict(config.apps))
    contracts = _contracts(config)
    findings.extend(_empty_sides(config, pyproject, cli, entries, tests, contracts))
    findings.extend(cli_vs_registry(cli, entries, reg_doc, failed))
    known = cli + tuple(e.spec for e in entries if e.spec.path.split()[0] in failed)
    findings.extend(registry_vs_tests(known, entries, reg_doc, tests))
    findings.extend(contracts_vs_tests(contracts, tests, config.root))
    findings.extend(contracts_vs_reality(contracts, config.root))
    return DriftReport(
        findings=tuple(sort_findings(findings)),
        commands=len(cli),
        registered=len(entries),
        test_files=len(tests.files),
        contracts=len(contracts),
    )


class _Anchor:
    """Findings about the configuration itself point at the `[tool.pv]` line."""

    def __init__(self, root: Path) -> None:
        self.file = "pyproject.toml"
        lines = (root / self.file).read_text(encoding="utf-8").splitlines()
        self.line = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("[tool.pv")), 1)

    def finding(self, rule: str, message: str) -> Finding:
        return Finding(
            rule=rule,
            severity="error",
            file=self.file,
            line=self.line,
            column=1,
            path="$.tool.pv",
            message=message,
        )


def _live_commands(
    config: PvConfig, anchor: _Anchor, findings: list[Finding]
) -> tuple[tuple[CommandSpec, ...], set[str]]:
    specs: list[CommandSpec] = []
    failed: set[str] = set()
    for name, target in config.apps:
        try:
            specs.extend(app_specs(name, target, config.root))
        except AppImportError as exc:
            failed.add(name)
            findings.append(anchor.finding("DRIFT-041", f"app '{name}': {exc}"))
    return tuple(specs), failed


def _contracts(config: PvConfig) -> tuple[Document, ...]:
    docs = []
    for path in contract_files(config.contracts):
        doc = load_file(path, display=_rel(path, config.root))
        # Broken files are `pv validate`'s to report; binding registries declare no ids.
        if doc.data is not None and "bindings" not in doc.data:
            docs.append(doc)
    return tuple(docs)


def _empty_sides(
    config: PvConfig,
    anchor: _Anchor,
    cli: tuple[CommandSpec, ...],
    entries: tuple[RegistryEntry, ...],
    tests: TestScan,
    contracts: tuple[Document, ...],
) -> list[Finding]:
    empty = []
    if not config.apps:
        empty.append("no CLI apps configured in [tool.pv].apps")
    if config.apps and not cli and not entries:
        empty.append("no commands found in any configured app")
    if not entries and config.registry.is_file():
        empty.append(f"the registry {_rel(config.registry, config.root)} lists no commands")
    if not config.registry.is_file():
        empty.append(f"registry {_rel(config.registry, config.root)} does not exist")
    if not tests.files:
        names = ", ".join(_rel(t, config.root) for t in config.tests)
        empty.append(f"no test files found under {names}")
    if not contracts:
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
            )
        )
    for name in theirs.keys() - mine.keys():
        out.append(
            doc.finding(
                "DRIFT-004",
                "error",
                (*where, "options", name),
                f"'{live.path}': registered option {name} is not in the CLI",
            )
        )
    for name in mine.keys() & theirs.keys():
        out.extend(_compare_param(live.path, mine[name], theirs[name], doc))
    return out


def _compare_param(path: str, live: ParamSpec, reg: ParamSpec, doc: Document) -> list[Finding]:
    where = (SECTION, path, "options", live.name)
    out = []
    if live.type != reg.type:
        out.append(
            doc.finding(
                "DRIFT-005",
                "error",
                (*where, "type"),
                f"'{path}' {live.name}: type is {live.type} in the CLI, {reg.type} in the registry",
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
                )
            )
    return out


def same_value(a: object, b: object) -> bool:
    """Equality that does not let True == 1 or 1 == 1.0 hide a changed default."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def resolve_invocation(
    inv: Invocation, tree: dict[str, CommandSpec]
) -> tuple[str | None, str | None]:
    """(deepest existing command the invocation reaches, the path it names that does not
    exist or None). Words past a leaf command are its arguments."""
    path = inv.app
    if path not in tree:
        return None, " ".join((inv.app, *inv.words))
    aliases = {f"{p.rsplit(' ', 1)[0]} {a}": p for p, s in tree.items() for a in s.aliases}
    for word in inv.words:
        if not tree[path].is_group:
            break
        candidate = f"{path} {word}"
        if candidate in tree or candidate in aliases:
            path = aliases.get(candidate, candidate)
        else:
            return path, candidate
    return path, None


def registry_vs_tests(
    known: tuple[CommandSpec, ...],
    entries: tuple[RegistryEntry, ...],
    doc: Document,
    tests: TestScan,
) -> list[Finding]:
    """Registered commands no test exercises; tests running commands that do not exist."""
    tree = {c.path: c for c in known}
    exercised: set[str] = set()
    out = []
    for inv in tests.invocations:
        reached, missing = resolve_invocation(inv, tree)
        while reached:
            exercised.add(reached)
            reached = reached.rpartition(" ")[0]
        if missing is not None:
            message = f"runs '{missing}' ({inv.via}), which is not a command"
            out.append(site_finding("DRIFT-011", inv.site, message))
    out.extend(
        doc.finding(
            "DRIFT-010",
            "error",
            (SECTION, e.spec.path),
            f"command '{e.spec.path}' is registered but no test exercises it",
            suggestion=f'mark a test @pytest.mark.cli("{e.spec.path}") or invoke it',
        )
        for e in entries
        if e.spec.path not in exercised
    )
    out.extend(site_finding("DRIFT-051", s, f"cannot parse: {s.test}") for s in tests.broken)
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

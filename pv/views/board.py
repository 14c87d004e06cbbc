"""What the contract dashboard shows, gathered once: per contract its equations, obligations
and every id with its state (from a --pv-report JSON, else what a static scan can say), the
checks behind it, the mutants they kill and the findings that name it. Pure data; the HTML
is pv/views/dashboard.py's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pv.binding.bind import CheckRef, State, declared_checks
from pv.contracts.load import Document
from pv.contracts.model import Obligation
from pv.core.config import PvConfig
from pv.core.findings import Finding
from pv.core.waivers import Waived


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    nodeid: str
    outcome: str  # passed / failed / skipped, or "not-run" without a report
    duration: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MutantVerdict:
    name: str
    status: str  # killed / survived / error, or "not-run" when the report has no verdict
    nodeid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdRow:
    id: str
    kind: str
    state: State
    rule: str
    prediction: str
    if_fails: str
    checks: tuple[Check, ...]
    mutants: tuple[MutantVerdict, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractView:
    file: str
    name: str
    version: str
    description: str
    equations: tuple[tuple[str, Mapping[str, Any]], ...]
    obligations: tuple[Obligation, ...]
    ids: tuple[IdRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Board:
    contracts: tuple[ContractView, ...]
    source: str  # where the states come from: the report's path, or a static scan
    environment: Mapping[str, Any]
    undeclared: Mapping[str, Sequence[str]]
    mutants_run: bool  # the report carries mutant verdicts (`pv falsify --mutants`)
    waived: tuple[Waived, ...] = ()  # drift findings a waiver accepts, with its reason

    @property
    def rows(self) -> list[IdRow]:
        return [row for c in self.contracts for row in c.ids]

    def count(self, state: str) -> int:
        return sum(1 for row in self.rows if row.state == state)


def _names_id(finding: Finding, ident: str, entry_paths: Sequence[str]) -> bool:
    """A finding names an id when its message does, or when it sits in the id's entry."""
    if re.search(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", finding.message):
        return True
    return any(finding.path == p or finding.path.startswith(p + ".") for p in entry_paths)


def _entry_paths(data: Mapping[str, Any], ident: str) -> list[str]:
    out = []
    for section in ("falsification_tests", "kani_harnesses"):
        entries = data.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping) and entry.get("id") == ident:
                out.append(f"$.{section}[{i}]")
    return out


def _id_state(
    ident: str,
    static: Sequence[str],
    report: Mapping[str, Any] | None,
    entries: Mapping[str, Mapping[str, Any]],
) -> tuple[State, tuple[Check, ...]]:
    """The report's state and checks for `ident`; without a report, what a scan can say:
    not-run when some check is bound to it, unbound when none is."""
    entry = entries.get(ident) if report is not None else None
    if entry is None:
        checks = tuple(Check(nodeid=n, outcome="not-run", duration=None) for n in static)
        return ("not-run" if static or report is not None else "unbound"), checks
    outcomes = {c["nodeid"]: c.get("outcome", "") for c in (report or {}).get("checks", [])}
    checks = tuple(
        Check(nodeid=n, outcome=outcomes.get(n, ""), duration=float(d))
        for n, d in zip(entry.get("nodeids", []), entry.get("durations", []), strict=False)
    )
    state: State = entry["state"]
    return state, checks


def _mutants(
    checks: Sequence[Check], report: Mapping[str, Any] | None, named: Mapping[str, list[str]]
) -> tuple[MutantVerdict, ...]:
    """Each mutant the id's checks name, with its verdict where the report carries one
    (`pv falsify --mutants --format json` does; a pytest --pv-report only names them)."""
    verdicts = {(m["nodeid"], m["mutant"]): m["status"] for m in (report or {}).get("mutants", [])}
    out = []
    for check in checks:
        for name in named.get(check.nodeid, []):
            status = verdicts.get((check.nodeid, name), "not-run")
            out.append(MutantVerdict(name=name, status=status, nodeid=check.nodeid))
    return tuple(out)


def contract_view(
    doc: Document,
    report: Mapping[str, Any] | None,
    findings: Sequence[Finding],
    marked: Mapping[str, Sequence[str]],
) -> ContractView:
    """One contract's page section. `marked`: id -> node ids of the checks a scan found."""
    data = doc.data or {}
    entries = {e["id"]: e for e in (report or {}).get("ids", []) if e.get("contract") == doc.file}
    entries = entries or {e["id"]: e for e in (report or {}).get("ids", [])}
    named = {c["nodeid"]: list(c.get("mutants", [])) for c in (report or {}).get("checks", [])}
    mine = [f for f in findings if Path(f.file).as_posix() == Path(doc.file).as_posix()]
    others = [f for f in findings if f not in mine]
    rows = []
    for declared in declared_checks(doc.file, data):
        static = list(dict.fromkeys([*marked.get(declared.id, ()), *_ref_nodeids(declared.refs)]))
        state, checks = _id_state(declared.id, static, report, entries)
        paths = _entry_paths(data, declared.id)
        named_here = [f for f in mine if _names_id(f, declared.id, paths)]
        rows.append(
            IdRow(
                id=declared.id,
                kind=declared.kind,
                state=state,
                rule=_rule(data, declared.id),
                prediction=declared.prediction,
                if_fails=declared.if_fails,
                checks=checks,
                mutants=_mutants(checks, report, named),
                findings=(*named_here, *(f for f in others if _names_id(f, declared.id, ()))),
            )
        )
    return _view(doc, tuple(rows))


def _view(doc: Document, rows: tuple[IdRow, ...]) -> ContractView:
    from pv.views.corpus import model
    from pv.views.equations import equations

    contract = model(doc)
    return ContractView(
        file=doc.file,
        name=contract.name,
        version=contract.version,
        description=contract.description,
        equations=tuple(equations(doc)),
        obligations=contract.obligations,
        ids=rows,
    )


def _ref_nodeids(refs: Sequence[CheckRef]) -> list[str]:
    return [r.nodeid for r in refs if r.nodeid is not None]


def _rule(data: Mapping[str, Any], ident: str) -> str:
    for section, key in (("falsification_tests", "rule"), ("kani_harnesses", "obligation")):
        for entry in data.get(section) or []:
            if isinstance(entry, Mapping) and entry.get("id") == ident:
                return str(entry.get(key, ""))
    return ""


def build(
    docs: Sequence[Document],
    *,
    report: Mapping[str, Any] | None,
    source: str,
    findings: Sequence[Finding],
    marked: Mapping[str, Sequence[str]],
) -> Board:
    return Board(
        contracts=tuple(contract_view(d, report, findings, marked) for d in docs),
        source=source,
        environment=dict((report or {}).get("environment", {})),
        undeclared=dict((report or {}).get("undeclared", {})),
        mutants_run="mutants" in (report or {}),
    )


def gather(contracts: Sequence[Path], report_path: Path | None, config: PvConfig | None) -> Board:
    """Load the contracts, the report and every finding that can name an id: validation, the
    stated evidence against the results, and drift where a [tool.pv] config is found."""
    from pv.binding.bind import contract_files
    from pv.binding.testscan import scan
    from pv.contracts.load import load_file
    from pv.rules.validate import display_name, validate_paths

    root = config.root if config is not None else Path.cwd()
    files = contract_files(contracts)
    docs = [load_file(f, display=display_name(f, str(root))) for f in files]
    from pv.binding.idreport import read

    report = dict(read(report_path)) if report_path is not None else None
    findings = list(validate_paths(files).findings)
    marked: dict[str, list[str]] = {}
    waived: tuple[Waived, ...] = ()
    if config is not None:
        from pv.drift.drift import run_drift

        drift = run_drift(config, report_path)
        findings += drift.findings
        waived = drift.waived
        for bound in scan(config.root, config.tests, {}).bound:
            for ident in bound.ids:
                marked.setdefault(ident, []).append(f"{bound.site.file}::{bound.site.test}")
    if report is not None:
        from pv.binding.falsify import evidence_findings

        findings += evidence_findings(files, report, root)
    board = build(
        [d for d in docs if d.data is not None],
        report=report,
        source=str(report_path) if report_path is not None else "a static scan (no report)",
        findings=findings,
        marked=marked,
    )
    return replace(board, waived=waived)

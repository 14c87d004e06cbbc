"""`pv gate`: the one pre-merge verdict. Validates every contract, runs drift, runs the bound
checks through `pv falsify`, and enforces semver on every contract changed since a base ref:
a removed or changed equation / obligation / falsification id needs a major bump, an
addition at least a minor one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pv.contracts.load import load_bytes, load_file
from pv.core.config import PvConfig
from pv.core.findings import Finding, count, format_line, sort_findings
from pv.core.git import ask, default_base, git
from pv.gate.diff import LEVELS, diff


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    steps: tuple[Step, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


def run_gate(
    config: PvConfig,
    *,
    base: str | None = None,
    falsify: bool = True,
    mutants: bool = False,
    falsify_report: Path | None = None,
) -> GateResult:
    """Every step runs (one verdict lists every problem); the gate passes only if all pass.
    `base` None compares with the merge-base of HEAD and the upstream default branch."""
    from pv.drift.drift import run_drift
    from pv.rules import validate as validate_mod

    files, _ = validate_mod.discover(config.contracts)
    report = validate_mod.validate_paths(files)
    steps = [
        Step(
            name="validate",
            ok=bool(files) and report.errors == 0,
            detail=f"{len(files)} files, {report.errors} error(s), {report.warnings} warning(s)",
        )
    ]
    drift = run_drift(config, falsify_report)
    drift_errors = count(drift.findings, "error")
    waived = f", {len(drift.waived)} waived" if drift.waived else ""
    notes = "".join(f"; {n}" for n in drift.notes)
    steps.append(
        Step(
            name="drift",
            ok=drift_errors == 0,
            detail=f"{drift.commands} commands, {drift.registered} registered, "
            f"{drift.test_files} test files, {drift_errors} error(s){waived}{notes}",
        )
    )
    semver, semver_findings = semver_step(config, base)
    steps.append(semver)
    if falsify_report is not None:
        steps.append(report_step(config, falsify_report))
    elif falsify:
        steps.append(falsify_step(config, mutants))
    findings = [*report.findings, *drift.findings, *semver_findings]
    return GateResult(steps=tuple(steps), findings=tuple(sort_findings(findings)))


def falsify_step(config: PvConfig, mutants: bool) -> Step:
    """The bound checks, through `pv falsify`'s Python API (a pytest subprocess)."""
    from pv.binding import falsify as falsify_mod

    result = falsify_mod.run(
        list(config.contracts),
        mutants=mutants,
        root=config.root,
        check_paths=list(config.tests),
        quiet=False,  # the bar shows on a terminal only
    )
    summary = result.report.get("summary") or {}
    detail = ", ".join(f"{v} {k}" for k, v in summary.items() if v) or "no ids"
    if result.error:
        detail += f"; {result.error}"
    if result.mutants_run:
        killed = sum(1 for m in result.mutants if m.status == "killed")
        detail += f"; mutants {killed}/{len(result.mutants)} killed"
    return Step(name="falsify", ok=result.exit_code == 0, detail=detail)


def report_step(config: PvConfig, path: Path) -> Step:
    """The bound checks' verdict read from the `--pv-report` JSON of a pytest run that already
    ran them (as `make test` does), instead of running every check a second time. The report
    must pass and cover every id the configured contracts declare."""
    from pv.binding.bind import contract_files, declared_ids
    from pv.binding.idreport import ReportError, read

    try:
        report = read(path)
    except ReportError as exc:
        return Step(name="falsify", ok=False, detail=f"unreadable report: {exc}")
    verdict, summary = report["verdict"], report["summary"]
    reported = {entry["id"] for entry in report["ids"] if entry["state"] == "passed"}
    declared: set[str] = set()
    for file in contract_files(config.contracts):
        doc = load_file(file)
        if doc.data is not None:
            declared.update(d.id for d in declared_ids(str(file), doc.data))
    missing = sorted(declared - reported)
    detail = ", ".join(f"{v} {k}" for k, v in summary.items() if v) or "no ids"
    detail += f" (from {path})"
    if missing:
        detail += f"; not passed in the report: {', '.join(missing)}"
    return Step(name="falsify", ok=verdict == "passed" and not missing, detail=detail)


def semver_step(config: PvConfig, base: str | None) -> tuple[Step, list[Finding]]:
    """Diff every contract (and the command registry) that changed since `base` and check
    its version bump."""
    if git(config.root, "rev-parse", "--git-dir") is None:
        return Step(name="semver", ok=True, detail="not a git checkout: skipped"), []
    how = f"--base {base}"
    if base is None:
        base, how = default_base(config.root)
        if base is None:
            return Step(name="semver", ok=True, detail=f"skipped: {how}"), []
    paths = [*config.contracts, config.registry]
    # --relative: paths relative to the project folder, which may sit below the repository top
    changed = ask(
        config.root,
        "diff",
        "--name-only",
        "--relative",
        "--no-renames",
        base,
        "--",
        *dict.fromkeys(_rel(p, config.root) for p in paths),
    )
    if not changed.ok:
        reason = f"git cannot compare the contracts with '{base}': {changed.why}"
        return Step(name="semver", ok=False, detail=reason), [
            Finding(
                rule="GATE-003",
                severity="error",
                file="pyproject.toml",
                line=1,
                column=1,
                path="$",
                message=reason,
                suggestion="fetch the base (actions/checkout with fetch-depth: 0) or pass --base",
            )
        ]
    findings: list[Finding] = []
    files = [p for p in changed.out.splitlines() if p.endswith((".yaml", ".yml"))]
    for rel in files:
        findings.extend(check_bump(config.root, base, rel))
    errors = count(findings, "error")
    detail = f"{len(files)} contract(s) changed since {how}, {errors} error(s)"
    return Step(name="semver", ok=errors == 0, detail=detail), findings


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def check_bump(root: Path, base: str, rel: str) -> list[Finding]:
    """GATE-001: the bump is smaller than the change needs; GATE-002: edits, no bump."""
    # "./" resolves `rel` against `root`, not the repository top (a project in a subfolder)
    old_text = git(root, "show", f"{base}:./{rel}")
    if not (root / rel).is_file():
        message = f"contract deleted since {base}"
        return [
            Finding(
                rule="GATE-004",
                severity="warning",
                file=rel,
                line=1,
                column=1,
                path="$",
                message=message,
            )
        ]
    new = load_file(root / rel, display=rel)
    old = load_bytes(old_text.encode("utf-8"), f"{base}:{rel}") if old_text else None
    if old is None or old.data is None or new.data is None:
        return []  # a new file needs no bump; a broken one is `pv validate`'s finding
    result = diff(old.data, new.data)
    needed, actual = result.required, result.actual
    where = ("metadata", "version")
    if needed in ("major", "minor") and not result.version_ok:
        what = "; ".join(
            f"{c.section}.{c.key} {c.what}" for c in result.changes if c.level == needed
        )
        return [
            new.finding(
                "GATE-001",
                "error",
                where,
                f"needs a {needed} version bump ({result.old_version} -> "
                f"{result.new_version} is {actual or 'not an increase'}): {what}",
            )
        ]
    if needed == "patch" and actual is not None and LEVELS.index(actual) < 1:
        message = f"edited since {base} but the version is still {result.new_version}"
        return [new.finding("GATE-002", "warning", where, message)]
    return []


def markdown(result: GateResult) -> str:
    """The summary GitHub shows on the run page ($GITHUB_STEP_SUMMARY)."""
    lines = [
        f"## pv gate: {'passed' if result.ok else 'FAILED'}",
        "",
        "| step | verdict | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {s.name} | {'pass' if s.ok else 'FAIL'} | {s.detail} |" for s in result.steps]
    errors = [f for f in result.findings if f.severity == "error"]
    if errors:
        lines += ["", f"### {len(errors)} error(s)", ""]
        lines += [f"- `{f.file}:{f.line}` {f.rule}: {f.message}" for f in errors[:50]]
    return "\n".join(lines) + "\n"


def write_summary(result: GateResult) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(markdown(result))


def render(result: GateResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "verdict": "passed" if result.ok else "failed",
                "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in result.steps],
                "findings": [f.to_dict() for f in result.findings],
            },
            indent=2,
        )
    lines = [format_line(f) for f in result.findings if f.severity == "error"]
    lines += [f"{s.name:<9} {'pass' if s.ok else 'FAIL'}  {s.detail}" for s in result.steps]
    lines.append(f"pv gate: {'passed' if result.ok else 'failed'}")
    return "\n".join(lines)

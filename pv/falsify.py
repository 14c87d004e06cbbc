"""`pv falsify`: run the checks bound to the contracts' falsification ids in a pytest
subprocess (the plugin writes the report), optionally once more per mutant, and turn the
result into one report, one table and one exit code."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pv.bind import STATES, CheckResult, contract_files
from pv.findings import Finding
from pv.git import git
from pv.mutants import ENV_VAR, MutantResult, judge
from pv.progress import Bar

if TYPE_CHECKING:
    from pv.plugin import PvSession

REPORT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FalsifyReport:
    """The plugin's id report, the mutant verdicts, and what pytest printed."""

    report: Mapping[str, Any]
    mutants: tuple[MutantResult, ...] = ()
    mutants_run: bool = False
    error: str | None = None
    output: str = field(default="", repr=False)
    # stated evidence (algorithm_evidence.status) the results contradict: pv.claims
    claims: tuple[Finding, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 every id passed (and every mutant killed); 1 otherwise; 2 nothing to check."""
        if self.error is not None:
            return 1
        if not self.report.get("ids"):
            return 2
        if self.report.get("verdict") != "passed":
            return 1
        if any(f.severity == "error" for f in self.claims):
            return 1
        return 1 if any(m.status != "killed" for m in self.mutants) else 0

    @property
    def shows_failures(self) -> bool:
        """Whether pytest's output explains something (a failed check, a crash, a survivor)."""
        states = {entry.get("state") for entry in self.report.get("ids", [])}
        survivors = any(m.status != "killed" for m in self.mutants)
        return bool(self.output) and bool(self.error or survivors or states & {"failed", "skipped"})

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.report)
        if self.mutants_run:
            data["mutants"] = [m.to_dict() for m in self.mutants]
        if self.error is not None:
            data["error"] = self.error
        data["claims"] = [f.to_dict() for f in self.claims]
        data["exit_code"] = self.exit_code
        return data


# --- the report (also written by the plugin for --pv-report) -----------------------------


def build_report(session: PvSession, root: Path) -> dict[str, Any]:
    """The JSON report: every id with its state, checks, durations, and the environment."""
    results = session.results()
    ids = [
        {
            "id": s.declared.id,
            "contract": s.declared.contract,
            "state": s.state,
            "nodeids": list(s.nodeids),
            "durations": list(s.durations),
            "prediction": s.declared.prediction,
            "if_fails": s.declared.if_fails,
            "refs": [{"kind": r.kind, "source": r.source, "text": r.text} for r in s.declared.refs],
        }
        for s in session.states
    ]
    undeclared = session.undeclared()
    bound = {n for s in session.states for n in s.nodeids}
    summary = {state: sum(1 for i in ids if i["state"] == state) for state in STATES}
    clean = not undeclared and not session.load_errors
    verdict = (
        "empty" if not ids else ("passed" if clean and summary["passed"] == len(ids) else "failed")
    )
    return {
        "version": REPORT_VERSION,
        "verdict": verdict,
        "summary": summary,
        "ids": ids,
        "undeclared": undeclared,
        "load_errors": list(session.load_errors),
        "checks": [
            _check_dict(r)
            for r in results
            if r.ids or r.mutants or r.mutant_error or r.nodeid in bound
        ],
        "environment": environment(root),
    }


def _check_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "nodeid": result.nodeid,
        "outcome": result.outcome,
        "ids": list(result.ids),
        "duration": result.duration,
        "mutants": list(result.mutants),
        "mutant_applied": result.mutant_applied,
        "mutant_error": result.mutant_error,
        "properties": dict(result.properties),
    }


def environment(root: Path) -> dict[str, str | None]:
    """Where the checks ran. torch's version comes from package metadata: never import it."""
    return {
        "git_commit": _git_commit(root),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "torch": _version("torch"),
        "pytest": _version("pytest"),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit(root: Path) -> str | None:
    head = git(root, "rev-parse", "HEAD")
    return head.strip() or None if head is not None else None


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically: a reader never sees half a report, a crash never truncates one."""
    from pv import atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(data, indent=2) + "\n")


def render_text(report: Mapping[str, Any]) -> list[str]:
    """The id table: per contract, each id with its state and the checks behind it."""
    lines: list[str] = []
    contract = None
    for entry in report.get("ids", []):
        if entry["contract"] != contract:
            contract = entry["contract"]
            lines.append(str(contract))
        lines.append(f"  {entry['state']:<8} {entry['id']}  {_where(entry)}".rstrip())
    for ident, nodeids in report.get("undeclared", {}).items():
        lines.append(f"  UNDECLARED {ident} (no loaded contract declares it): {', '.join(nodeids)}")
    lines.extend(f"  NOT LOADED {err}" for err in report.get("load_errors", []))
    counts = report.get("summary", {})
    total = len(report.get("ids", []))
    parts = [f"{counts[s]} {s}" for s in STATES if counts.get(s)]
    lines.append(f"{total} id(s): {', '.join(parts) if parts else 'nothing to check'}")
    return lines


def _where(entry: Mapping[str, Any]) -> str:
    if entry["nodeids"]:
        total = sum(entry["durations"])
        more = f" (+{len(entry['nodeids']) - 1} more)" if len(entry["nodeids"]) > 1 else ""
        return f"{entry['nodeids'][0]}{more} {total:.2f}s"
    if entry["state"] == "unbound":
        named = [r["text"] for r in entry["refs"] if r["kind"] != "prose"]
        if named:
            return f"(no check: {named[0]} was not collected)"
        prose = [r for r in entry["refs"] if r["kind"] == "prose"]
        return "(no check; the test: text is prose)" if prose else "(no check)"
    return ""


def check_output(output: str) -> str:
    """pytest's output without the plugin's own id table (the caller prints the table)."""
    lines, skipping = [], False
    for line in output.splitlines():
        if line.startswith("=") and "pv falsification ids" in line:
            skipping = True
            continue
        if skipping and line.startswith("="):
            skipping = False
        if not skipping:
            lines.append(line)
    return "\n".join(lines)


def render_mutants(mutants: Sequence[MutantResult]) -> list[str]:
    width = max((len(m.mutant) for m in mutants), default=0)
    lines = [
        f"  {m.status:<8} {m.mutant:<{width}} {m.nodeid}  {m.detail}".rstrip() for m in mutants
    ]
    killed = sum(1 for m in mutants if m.status == "killed")
    return ["mutants", *lines, f"{len(mutants)} mutant run(s): {killed} killed"]


# --- running ------------------------------------------------------------------------------


def run(
    contracts: Sequence[Path],
    *,
    mutants: bool = False,
    root: Path | None = None,
    check_paths: Sequence[Path] | None = None,
    quiet: bool = True,
) -> FalsifyReport:
    """Run the checks bound to `contracts` (files or folders; default `root/contracts`).
    `check_paths` default to `root/falsify`. The public entry point for `pv gate`.
    `quiet=False` shows a progress bar over the mutant runs (on a terminal only)."""
    root = (root or Path.cwd()).resolve()
    files = contract_files(contracts or [root / "contracts"])
    if not files:
        return FalsifyReport(report={"ids": []}, output="no contract found")
    paths = [str(p) for p in (check_paths or [root / "falsify"]) if p.exists()]
    args = [*paths, "--pv-only-bound", *(f"--pv-contracts={f}" for f in files)]
    report, output, error = _pytest(root, args, mutant=None)
    claims = tuple(evidence_findings(files, report, root))
    if error is not None or not mutants:
        return FalsifyReport(
            report=report, error=error, output=output, mutants_run=mutants, claims=claims
        )
    results, output2, error2 = _run_mutants(root, report, quiet=quiet)
    return FalsifyReport(
        report=report,
        mutants=tuple(results),
        mutants_run=True,
        error=error2,
        output=output + output2,
        claims=claims,
    )


def evidence_findings(
    files: Sequence[Path], report: Mapping[str, Any], root: Path
) -> list[Finding]:
    """The contracts' stated evidence checked against this run's results (pv.claims)."""
    from pv.claims import evidence_vs_results
    from pv.load import load_file

    docs = []
    for file in files:
        try:
            display = file.resolve().relative_to(root).as_posix()
        except ValueError:
            display = str(file)
        docs.append(load_file(file, display=display))
    return evidence_vs_results(docs, report)


def render_claims(claims: Sequence[Finding]) -> list[str]:
    """One line per claim finding, as `pv validate` prints findings."""
    return [f"{f.file}:{f.line}:{f.column}: {f.severity} {f.rule} {f.message}" for f in claims]


def _run_mutants(
    root: Path, report: Mapping[str, Any], *, quiet: bool = True
) -> tuple[list[MutantResult], str, str | None]:
    """Each bound check once per mutant it names, batched by mutant (one pytest per name).
    Only a check that passes unmutated can kill a mutant; a check that names none is an error."""
    results: list[MutantResult] = []
    wanted: dict[str, list[str]] = {}
    bound = {n for entry in report.get("ids", []) for n in entry["nodeids"]}
    for check in (c for c in report.get("checks", []) if c["nodeid"] in bound):
        nodeid = check["nodeid"]
        if not check["mutants"]:
            results.append(_error(nodeid, "-", "the check names no mutant"))
        for name in check["mutants"]:
            if check["mutant_error"]:
                results.append(_error(nodeid, name, check["mutant_error"]))
            elif check["outcome"] == "passed":
                wanted.setdefault(name, []).append(nodeid)
            else:
                results.append(_error(nodeid, name, "the check does not pass without the mutant"))
    output = ""
    bar = Bar("mutants", len(wanted), quiet=quiet)
    try:
        for name, nodeids in sorted(wanted.items()):
            mutated, text, error = _pytest(root, nodeids, mutant=name)
            if error is not None:
                return results, text, f"mutant {name}: {error}"
            by_node = {c["nodeid"]: c for c in mutated.get("checks", [])}
            verdicts = [judge(n, name, by_node.get(n)) for n in nodeids]
            if any(v.status != "killed" for v in verdicts):
                output += text  # show the run only where something went wrong
            results.extend(verdicts)
            killed = sum(1 for r in results if r.status == "killed")
            bar.advance(f"{name}; {killed}/{len(results)} killed")
    finally:
        bar.close()
    return sorted(results, key=lambda m: (m.nodeid, m.mutant)), output, None


def _error(nodeid: str, mutant: str, detail: str) -> MutantResult:
    return MutantResult(nodeid=nodeid, mutant=mutant, status="error", detail=detail)


def _pytest(
    root: Path, args: Sequence[str], *, mutant: str | None
) -> tuple[dict[str, Any], str, str | None]:
    """One pytest subprocess with the pv plugin's report; (report, output, error)."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if mutant is not None:
        env[ENV_VAR] = mutant
    with tempfile.TemporaryDirectory(prefix="pv-falsify-") as tmp:
        report_file = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--tb=short",
            "-p",
            "no:cacheprovider",
            f"--pv-report={report_file}",
            *args,
        ]
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        if done.returncode not in (0, 1, 5) or not report_file.is_file():
            tail = " | ".join(output.strip().splitlines()[-3:])
            return {"ids": []}, output, f"pytest exited {done.returncode}: {tail}"
        return json.loads(report_file.read_text(encoding="utf-8")), output, None

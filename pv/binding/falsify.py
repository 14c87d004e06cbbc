"""`pv falsify`: run the checks bound to the contracts' falsification ids in a pytest
subprocess (the plugin writes the report), optionally once more per mutant, and turn the
result into one report, one table and one exit code."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pv.binding.bind import contract_files
from pv.binding.mutants import ENV_VAR, MutantResult, judge
from pv.core.findings import Finding
from pv.core.progress import Bar


@dataclass(frozen=True, slots=True, kw_only=True)
class FalsifyReport:
    """The plugin's id report, the mutant verdicts, and what pytest printed."""

    report: Mapping[str, Any]
    mutants: tuple[MutantResult, ...] = ()
    mutants_run: bool = False
    error: str | None = None
    output: str = field(default="", repr=False)
    # stated evidence (algorithm_evidence.status) the results contradict: pv.binding.claims
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
    if importlib.util.find_spec("pytest") is None:
        return FalsifyReport(
            report={"ids": []}, error="pytest is not installed here; the checks run under it"
        )
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
    """The contracts' stated evidence checked against this run's results (pv.binding.claims)."""
    from pv.binding.claims import evidence_vs_results
    from pv.contracts.load import load_file

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

"""The falsification-id report (`--pv-report` JSON): built from plain results, rendered as the
id table, and merged across the runs of a sharded or matrix CI. Below the pytest plugin and
`pv falsify`, which both use it; it needs neither of them, nor pytest."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from pv.binding.bind import STATES, CheckResult, IdState
from pv.core.git import git

REPORT_VERSION = 1
# How one id's states across several runs fold into one: a failure anywhere wins, then a pass
# somewhere; `not-run` only when it ran nowhere. The same order folds a check's outcomes.
PRECEDENCE = ("failed", "passed", "skipped", "not-run", "unbound")


class ReportError(ValueError):
    """A file that is not a pv id report; the message names it and what is wrong."""


def build(
    *,
    states: Sequence[IdState],
    results: Sequence[CheckResult],
    undeclared: Mapping[str, list[str]],
    load_errors: Sequence[str],
    root: Path,
    cli: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report: every id with its state, checks, durations, and the environment;
    `cli` is the record of the CLI calls the tests made (pv.clis.observe), when one was kept."""
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
        for s in states
    ]
    bound = {n for s in states for n in s.nodeids}
    checks = [
        _check_dict(r) for r in results if r.ids or r.mutants or r.mutant_error or r.nodeid in bound
    ]
    return {
        "version": REPORT_VERSION,
        **_verdict(ids, dict(undeclared), list(load_errors)),
        "ids": ids,
        "undeclared": dict(undeclared),
        "load_errors": list(load_errors),
        "checks": checks,
        "environment": environment(root),
        **({"cli": dict(cli)} if cli is not None else {}),
    }


def _verdict(
    ids: list[dict[str, Any]], undeclared: dict[str, Any], load_errors: list[str]
) -> dict[str, Any]:
    summary = {state: sum(1 for i in ids if i["state"] == state) for state in STATES}
    clean = not undeclared and not load_errors
    verdict = (
        "empty" if not ids else ("passed" if clean and summary["passed"] == len(ids) else "failed")
    )
    return {"verdict": verdict, "summary": summary}


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
    from pv.contracts import cache
    from pv.core import atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.name == cache.DEFAULT_DIR:
        cache.mark_cache_dir(path.parent)  # out of git status, as the result cache is
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


# --- merging the reports of several runs -----------------------------------------------------


class IdEntry(TypedDict):
    """One falsification id in a report."""

    id: str
    contract: str
    state: str
    nodeids: list[str]
    durations: list[float]
    prediction: str
    if_fails: str
    refs: list[dict[str, str]]


class PvReport(TypedDict, total=False):
    """The --pv-report JSON as the plugin writes it, `pv report merge` merges it and `pv
    falsify --format json` extends it (mutants, claims): the one shape every reader reads."""

    version: int
    verdict: str  # passed | failed | empty
    summary: dict[str, int]
    ids: list[IdEntry]
    undeclared: dict[str, list[str]]
    load_errors: list[str]
    checks: list[dict[str, Any]]
    environment: dict[str, Any]
    cli: dict[str, Any]  # the CLI calls the tests made (pv.clis.observe.CliCall records)
    runs: list[dict[str, Any]]
    mutants: list[dict[str, Any]]
    claims: list[dict[str, Any]]


def read(path: Path) -> PvReport:
    """A report file, checked for every field a reader relies on; ReportError (a ValueError)
    says what is wrong, naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != REPORT_VERSION:
        raise ReportError(f"{path}: not a pv report (version {REPORT_VERSION} expected)")
    ids = data.get("ids")
    fields = {"id": str, "contract": str, "state": str, "nodeids": list, "durations": list}
    if not isinstance(ids, list) or not all(
        isinstance(e, dict) and all(isinstance(e.get(k), t) for k, t in fields.items()) for e in ids
    ):
        raise ReportError(f"{path}: `ids` must be a list of id entries (id, state, nodeids...)")
    bad = sorted({e["state"] for e in ids} - set(STATES))
    if bad:
        raise ReportError(f"{path}: unknown state {bad[0]!r}")
    if not isinstance(data.get("verdict"), str) or not isinstance(data.get("summary"), dict):
        raise ReportError(f"{path}: no `verdict` and `summary`")
    checks = data.get("checks", [])
    if not isinstance(checks, list) or not all(
        isinstance(c, dict) and isinstance(c.get("nodeid"), str) for c in checks
    ):
        raise ReportError(f"{path}: `checks` must be a list of checks with a nodeid")
    if "cli" in data and not cli_record_ok(data["cli"]):
        raise ReportError(f"{path}: `cli` is not a record of CLI calls")
    report: PvReport = data  # type: ignore[assignment]  # every field a reader uses is checked
    return report


def cli_record_ok(record: Any) -> bool:
    """Whether `record` is a record of CLI calls (pv.clis.observe) every field of which is
    usable."""
    if not isinstance(record, dict) or not isinstance(record.get("calls"), list):
        return False
    return all(_call_ok(call) for call in record["calls"])


def _call_ok(call: Any) -> bool:
    if not isinstance(call, dict) or not all(isinstance(call.get(k), str) for k in ("app", "via")):
        return False
    commands = call.get("commands", [])
    if not isinstance(commands, list) or not all(
        isinstance(c, list) and all(isinstance(w, str) for w in c) for c in commands
    ):
        return False
    refused = call.get("refused")
    if refused is not None and not (
        isinstance(refused, dict)
        and isinstance(refused.get("word"), str)
        and isinstance(refused.get("at"), list)
    ):
        return False
    argv = call.get("argv", [])
    return isinstance(argv, list) and all(isinstance(a, str) for a in argv)


def merge(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One report from the reports of several runs (`(source, report)` pairs): an id passed
    when it passed in some run and failed in none, failed if it failed anywhere, not-run only
    if it ran nowhere. Checks run in several runs fold the same way; `runs` says where each
    part came from (a merged input contributes its own runs)."""
    ids: dict[str, dict[str, Any]] = {}
    checks: dict[str, dict[str, Any]] = {}
    undeclared: dict[str, list[str]] = {}
    load_errors: list[str] = []
    runs: list[dict[str, Any]] = []
    cli: dict[str, Any] | None = None
    for source, report in reports:
        cli = _merge_cli(cli, report.get("cli"))
        for entry in report["ids"]:
            _merge_id(ids, entry)
        for check in report.get("checks", []):
            _merge_check(checks, check)
        for ident, nodeids in report.get("undeclared", {}).items():
            undeclared[ident] = _union(undeclared.get(ident, []), nodeids)
        load_errors = _union(load_errors, report.get("load_errors", []))
        runs.extend(report.get("runs") or [_run_record(source, report)])
    entries = list(ids.values())
    return {
        "version": REPORT_VERSION,
        **_verdict(entries, undeclared, load_errors),
        "ids": entries,
        "undeclared": undeclared,
        "load_errors": load_errors,
        "checks": list(checks.values()),
        "runs": runs,
        **({"cli": cli} if cli is not None else {}),
    }


def _merge_cli(merged: dict[str, Any] | None, cli: Any) -> dict[str, Any] | None:
    """The CLI calls of every run, once each; complete when some run ran the whole suite."""
    if not isinstance(cli, Mapping):
        return merged
    if merged is None:
        return {**cli, "calls": list(cli.get("calls", []))}
    seen = {json.dumps(c, sort_keys=True) for c in merged["calls"]}
    for call in cli.get("calls", []):
        if json.dumps(call, sort_keys=True) not in seen:
            merged["calls"].append(call)
    merged["tests"] = merged.get("tests", 0) + cli.get("tests", 0)
    merged["complete"] = bool(merged.get("complete")) or bool(cli.get("complete"))
    merged["partial"] = None if merged["complete"] else merged.get("partial") or cli.get("partial")
    return merged


def _run_record(source: str, report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": source,
        "verdict": report.get("verdict"),
        "summary": report.get("summary"),
        "environment": report.get("environment"),
    }


def _first(values: Sequence[str]) -> str:
    return min(values, key=PRECEDENCE.index)


def _union(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys([*a, *b]))


def _merge_id(ids: dict[str, dict[str, Any]], entry: Mapping[str, Any]) -> None:
    old = ids.get(entry["id"])
    if old is None:
        ids[entry["id"]] = {**entry, "nodeids": list(entry["nodeids"])}
        return
    old["state"] = _first([old["state"], entry["state"]])
    spent = dict(zip(old["nodeids"], old["durations"], strict=False))
    for nodeid, seconds in zip(entry["nodeids"], entry["durations"], strict=False):
        spent[nodeid] = round(spent.get(nodeid, 0.0) + seconds, 6)
    old["nodeids"], old["durations"] = list(spent), list(spent.values())


def _merge_check(checks: dict[str, dict[str, Any]], check: Mapping[str, Any]) -> None:
    old = checks.get(check["nodeid"])
    if old is None:
        checks[check["nodeid"]] = dict(check)
        return
    old["outcome"] = _first([old["outcome"], check["outcome"]])
    old["duration"] = round(old.get("duration", 0.0) + check.get("duration", 0.0), 6)
    for key in ("ids", "mutants"):
        old[key] = _union(old.get(key, []), check.get(key, []))
    for key in ("mutant_applied", "mutant_error"):
        old[key] = old.get(key) or check.get(key)
    old["properties"] = {**check.get("properties", {}), **old.get("properties", {})}

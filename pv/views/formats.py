"""Output formats: a validation Report as text, json, SARIF 2.1.0 or GitHub annotations.

Each reporter is a plain function `(Report) -> str`; `REPORTERS` maps `--format` to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

from pv import __version__
from pv.contracts.result import Report
from pv.core.findings import Finding, format_line

if TYPE_CHECKING:
    from pv.core.waivers import Waived


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def text(report: Report) -> str:
    """`file:line:col: severity RULE message` lines, then the Rust pv's summary lines."""
    lines = [format_line(f) for f in report.findings]
    if lines:
        lines.append("")
    if report.errors or report.warnings:
        lines.append(f"{report.errors} error(s), {report.warnings} warning(s)")
    else:
        lines.append("Contract is valid.")
    kinds = report.kinds()
    if kinds:
        lines.append("Kinds: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
    totals = report.totals()
    lines.append(
        f"Checked {_plural(len(report.files), 'file')}: "
        f"{_plural(totals['contracts'], 'contract')}, "
        f"{totals['equations']} equations, {totals['proof_obligations']} obligations, "
        f"{totals['falsification_tests']} falsification tests, "
        f"{totals['kani_harnesses']} harnesses."
    )
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    """One JSON document with every finding, per-file kinds and the totals."""
    doc = {
        "version": __version__,
        "summary": {
            "errors": report.errors,
            "warnings": report.warnings,
            **report.totals(),
            "kinds": report.kinds(),
        },
        "files": [
            {
                "file": r.file,
                "kind": r.kind,
                **({"contract_kind": r.contract_kind} if r.contract_kind else {}),
                **({"counts": dict(r.counts), "equations": list(r.equations)} if r.counts else {}),
            }
            for r in report.files
        ],
        "findings": [f.to_dict() for f in report.findings],
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(file: str) -> str:
    """Repo-relative, forward slashes, percent-encoded (GitHub code scanning needs this)."""
    from urllib.parse import quote  # deferred: only SARIF needs it, and every run imports this

    return quote(PurePath(file).as_posix())


def sarif(report: Report, waived: Sequence[Waived] = ()) -> str:
    """SARIF 2.1.0: one run, one rule entry per rule id used, one result per finding; a
    waived finding is a result with its waiver as an external suppression."""
    used = sorted({f.rule for f in report.findings} | {w.finding.rule for w in waived})
    rules = [sarif_rule(rule) for rule in used]
    results = [_sarif_result(f, used.index(f.rule)) for f in report.findings]
    for w in waived:
        result = _sarif_result(w.finding, used.index(w.finding.rule))
        result["suppressions"] = [
            {"kind": "external", "justification": f"{w.waiver.origin}: {w.waiver.reason}"}
        ]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "pv", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def sarif_rule(rule_id: str) -> dict[str, object]:
    """A SARIF reportingDescriptor from the rule table: title, help and default level."""
    from pv.core.ruletable import RULES  # deferred: only SARIF needs the rule descriptions

    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": rule.id.replace("-", ""),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. {rule.help}"},
        "help": {"text": rule.help},
        "defaultConfiguration": {"level": _level(rule.severity)},
    }


def _level(severity: str) -> str:
    return {"error": "error", "warning": "warning"}.get(severity, "note")


def _sarif_result(f: Finding, index: int) -> dict[str, object]:
    message = f.message + (f" ({f.suggestion})" if f.suggestion else "")
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": _level(f.severity),
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.file)},
                    "region": {"startLine": f.line, "startColumn": f.column},
                },
                "logicalLocations": [{"fullyQualifiedName": f.path}],
            }
        ],
    }


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(report: Report) -> str:
    """GitHub Actions workflow commands: `::error file=..,line=..,col=..,title=..::message`."""
    lines = []
    for f in report.findings:
        kind = {"error": "error", "warning": "warning"}.get(f.severity, "notice")
        props = ",".join(
            f"{k}={_escape_property(v)}"
            for k, v in (
                ("file", f.file),
                ("line", str(f.line)),
                ("col", str(f.column)),
                ("title", f.rule),
            )
        )
        message = f.message + (f" ({f.suggestion})" if f.suggestion else "")
        lines.append(f"::{kind} {props}::{_escape_data(message)}")
    lines.append(f"{report.errors} error(s), {report.warnings} warning(s)")
    return "\n".join(lines) + "\n"


REPORTERS: dict[str, Callable[[Report], str]] = {
    "text": text,
    "json": as_json,
    "sarif": sarif,
    "github": github,
}

"""The one value every pv check produces: a Finding says what is wrong, where, and how to fix it.

Findings are data, exceptions are bugs: loaders, the schema and the rules all return these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
JsonPath = tuple[str | int, ...]

SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem in one file. `line`/`column` are 1-based; `path` is a JSON path like
    `$.falsification_tests[2].id` (`$` for the whole document)."""

    rule: str
    severity: Severity
    file: str
    line: int
    column: int
    path: str
    message: str
    suggestion: str | None = None
    # what the finding is about, for waivers: a command path (`tool sub`), an option under it
    # (`tool sub --out`), a falsification id, a test's node id
    subjects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.line < 1 or self.column < 1:
            raise ValueError(f"line and column are 1-based, got {self.line}:{self.column}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with stable keys (used by the json reporter and the cache)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "suggestion": self.suggestion,
            **({"subjects": list(self.subjects)} if self.subjects else {}),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Finding:
        """Inverse of `to_dict`; raises KeyError/TypeError/ValueError on a malformed dict."""
        sev = str(raw["severity"])
        if sev not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity {sev!r}")
        suggestion = raw.get("suggestion")
        subjects = raw.get("subjects", [])
        line, column = raw["line"], raw["column"]
        if not isinstance(line, int) or not isinstance(column, int):
            raise TypeError("line and column must be integers")
        return cls(
            rule=str(raw["rule"]),
            severity=sev,  # type: ignore[arg-type]  # checked against SEVERITY_ORDER above
            file=str(raw["file"]),
            line=line,
            column=column,
            path=str(raw["path"]),
            message=str(raw["message"]),
            suggestion=None if suggestion is None else str(suggestion),
            subjects=tuple(str(s) for s in subjects) if isinstance(subjects, list) else (),
        )


def json_path(parts: Sequence[str | int]) -> str:
    """Render path parts as a JSON path: ("a", 2, "b c") -> `$.a[2]['b c']`."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.isidentifier():
            out.append(f".{part}")
        else:
            out.append("['" + part.replace("'", "\\'") + "']")
    return "".join(out)


def format_line(f: Finding) -> str:
    """The one text form of a finding: `file:line:col: severity RULE message (hint)`."""
    hint = f" ({f.suggestion})" if f.suggestion else ""
    return f"{f.file}:{f.line}:{f.column}: {f.severity} {f.rule} {f.message}{hint}"


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable report order: by file, then position, then severity, then rule."""
    return sorted(
        findings,
        key=lambda f: (f.file, f.line, f.column, SEVERITY_ORDER[f.severity], f.rule, f.message),
    )


def count(findings: Iterable[Finding], severity: Severity) -> int:
    """How many findings have the given severity."""
    return sum(1 for f in findings if f.severity == severity)

"""A competitive-parity ledger's vocabulary and what the reference refuses to parse in one:
strict ISO dates bounded against today (no date may reach more than 180 days ahead), closed
vocabularies for verdicts and reasons, text where text is due. pv.rules.parity judges what
parses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pv.core.findings import Finding, JsonPath
from pv.core.ruletable import make

if TYPE_CHECKING:
    from pv.contracts.load import Document

HORIZON = 180  # days: the longest a verdict, a recheck or any date may reach past today
VERDICTS = ("BETTER", "PARITY", "WORSE", "NOT_COMPARABLE", "UNMEASURED")
DOWNGRADE_REASONS = (
    "RECEIPT_MISSING", "HARNESS_DELETED", "MEASUREMENT_UNDATED", "COMPETITOR_UNPINNABLE",
    "HOST_UNAVAILABLE", "SUPERSEDED", "REMEASURED", "NO_COUNTERPART", "COMPARISON_RESPECIFIED",
)  # fmt: skip
REMOVAL_REASONS = ("RETIRED", "RENAMED", "MERGED_INTO")
UNPINNED = frozenset(
    [
        "latest",
        "unpinned",
        "unknown",
        "tbd",
        "todo",
        "na",
        "any",
        "current",
        "head",
        "main",
        "master",
        "whatever",
    ]
)
COMMANDS = ("cargo", "bash", "sh", "make", "pv", "apr")
# Which fields of the ledger are dates, and which hold a closed vocabulary.
DATES = {"rows": ("measured_on", "valid_until"), "downgrades": ("recorded_on", "recheck_by"),
         "removals": ("recorded_on",)}  # fmt: skip
VOCABULARIES = {("rows", "verdict"): VERDICTS, ("downgrades", "reason"): DOWNGRADE_REASONS,
                ("downgrades", "from_verdict"): VERDICTS, ("downgrades", "to_verdict"): VERDICTS,
                ("removals", "reason"): REMOVAL_REASONS}  # fmt: skip


def today() -> dt.date:
    """Today in UTC: every date of a ledger is judged against it."""
    return dt.datetime.now(dt.timezone.utc).date()


def iso_date(value: Any) -> dt.date | None:
    """A strict ISO date (exactly YYYY-MM-DD, a real day), after trimming; else None."""
    raw = value.strip() if isinstance(value, str) else ""
    if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
        return None
    if not (raw[:4] + raw[5:7] + raw[8:]).isdigit() or not raw.isascii():
        return None
    try:
        return dt.date(int(raw[:4]), int(raw[5:7]), int(raw[8:]))
    except ValueError:
        return None


def parse_refusals(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PV-001 for what the reference's parser refuses in a ledger: a value of the wrong type,
    a word outside a closed vocabulary, or a date past the horizon."""
    ledger = data.get("parity")
    if not isinstance(ledger, dict):
        return []
    out = []
    for path, value, expected in _typed_fields(ledger):
        if expected == "text" and value is not None and not isinstance(value, str):
            out.append(_refuse(doc, path, f"{dotted(path)} must be text, got {value!r}"))
        elif expected == "count" and not count_ok(value):
            out.append(_refuse(doc, path, f"{dotted(path)} must be a whole number >= 0"))
        elif isinstance(expected, tuple) and value is not None and value not in expected:
            allowed = " / ".join(expected)
            out.append(_refuse(doc, path, f"{dotted(path)} is {value!r}, not one of {allowed}"))
        elif expected == "date" and (day := iso_date(value)) is not None:
            over = (day - today()).days - HORIZON
            if over > 0:
                message = (
                    f'{dotted(path)}: date "{day}" is {over} day(s) past the {HORIZON}-day '
                    f"horizon from today ({today()}); every date in a ledger is bounded "
                    "against today"
                )
                out.append(_refuse(doc, path, message))
    return out


def _typed_fields(ledger: dict[str, Any]) -> Iterator[tuple[JsonPath, Any, Any]]:
    """(path, value, what it must be) for each typed field of the ledger that is present."""
    for section in ("rows", "downgrades", "removals"):
        for i, entry in entries(ledger, section):
            for key, value in entry.items():
                where: JsonPath = ("parity", section, i, key)
                if key in DATES[section]:
                    yield where, value, "date"
                    yield where, value, "text"
                elif (section, key) in VOCABULARIES:
                    yield where, value, VOCABULARIES[(section, key)]
                else:
                    yield where, value, "text"
    coverage = ledger.get("coverage")
    if isinstance(coverage, dict):
        for key in ("rationale", "dissent"):
            if key in coverage:
                yield ("parity", "coverage", key), coverage[key], "text"
        steps = coverage.get("steps")
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict):
                where = ("parity", "coverage", "steps", i)
                if "by" in step:
                    yield (*where, "by"), step["by"], "date"
                for key in ("covered_min", "scope_min"):
                    if key in step and not (key == "scope_min" and step[key] is None):
                        yield (*where, key), step[key], "count"


def count_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refuse(doc: Document, path: JsonPath, message: str) -> Finding:
    return make(doc, "PV-001", path, message)


def dotted(path: JsonPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def entries(ledger: dict[str, Any], section: str) -> list[tuple[int, dict[str, Any]]]:
    value = ledger.get(section)
    return [
        (i, e)
        for i, e in enumerate(value if isinstance(value, list) else [])
        if isinstance(e, dict)
    ]


def key_problem(where: str, key: str) -> str | None:
    """Why `key` is not a canonical ratchet key (printable ASCII, no surrounding space)."""
    for index, char in enumerate(key):
        if not " " <= char <= "~":
            return (
                f"{where} contains {char!r} (U+{ord(char):04X}) at character {index} - a "
                "ratchet key must be printable ASCII"
            )
    if key != key.strip():
        return (
            f"{where} {key!r} has leading or trailing whitespace - write the key in canonical form"
        )
    return None

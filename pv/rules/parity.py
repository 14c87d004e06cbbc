"""Competitive-parity ledgers (`metadata.kind: competitive-parity`), judged as the reference
judges them: every row names an entry point, a pinned competitor, both invocations, a verdict,
an owner and evidence, and carries real dates that expire within 180 days; falsification tests
run commands; no date reaches past the horizon. Downgrades, removals and the coverage ratchet
are pv.rules.parity_records'; the vocabulary and the parse-level refusals pv.rules.ledger's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pv.core.findings import Finding, JsonPath
from pv.core.ruletable import make, text
from pv.rules import ledger, parity_records

if TYPE_CHECKING:
    from pv.contracts.load import Document


def provability(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PROVABILITY-001 for a ledger: it needs obligations and at least as many tests (no
    Kani harnesses: a ledger is measured, not model-checked)."""
    n_obl, n_tests = (
        len(v) if isinstance(v := data.get(k), list) else 0
        for k in ("proof_obligations", "falsification_tests")
    )
    out = []
    if n_obl == 0:
        out.append("Competitive-parity contract has no proof_obligations")
    if n_tests == 0:
        out.append("Competitive-parity contract has no falsification_tests")
    if n_tests < n_obl:
        out.append(f"falsification_tests ({n_tests}) < proof_obligations ({n_obl})")
    return [make(doc, "PROVABILITY-001", (), m) for m in out]


def parity_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PARITY-000..027 (as `validate` reports them), in the reference's order."""
    out: list[Finding] = []
    meta = data.get("metadata")
    if isinstance(meta, dict) and meta.get("registry") is True:
        message = "a competitive-parity ledger cannot be a registry: remove metadata.registry"
        out.append(make(doc, "PARITY-000", ("metadata", "registry"), message))
    block = data.get("parity")
    if not isinstance(block, dict):
        message = "competitive-parity contract must define a `parity:` block with `rows:`"
        return [*out, make(doc, "PARITY-001", ("parity",), message)]
    rows = ledger.entries(block, "rows")
    if not rows:
        message = "parity.rows must not be empty - an empty ledger is a 100% ratio over nothing"
        return [*out, make(doc, "PARITY-001", ("parity", "rows"), message)]
    live: dict[str, dict[str, Any]] = {}
    for i, row in rows:
        out += _row(doc, i, row, live)
    out += parity_records.downgrades(doc, block, live)
    out += parity_records.removals(doc, block, live)
    out += parity_records.coverage(doc, block)
    out += _bindings(doc, data)
    out += _horizon_sweep(doc, data)
    return out


def _row(
    doc: Document, i: int, row: dict[str, Any], live: dict[str, dict[str, Any]]
) -> list[Finding]:
    base: JsonPath = ("parity", "rows", i)
    out: list[Finding] = []

    def add(rule: str, key: str, message: str) -> None:
        out.append(make(doc, rule, (*base, key), message))

    entry = text(row.get("entry_point"))
    raw = row.get("entry_point") if isinstance(row.get("entry_point"), str) else ""
    where = f"parity.rows[{i}].entry_point"
    if not entry:
        add("PARITY-002", "entry_point", f"{where} must name the apr entry point")
    elif entry in live:
        add(
            "PARITY-002",
            "entry_point",
            f'duplicate entry_point "{entry}" - two rows for one entry point',
        )
    if raw and (problem := ledger.key_problem(where, raw)) is not None:
        add("PARITY-002", "entry_point", problem)
    if entry and entry not in live:
        live[entry] = row
    version = text(row.get("competitor_version"))
    vwhere = f"parity.rows[{i}].competitor_version"
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in version.lower())
    tokens = words.split()
    moving = next((t for t in tokens if t in ledger.UNPINNED), None)
    if not version:
        add("PARITY-004", "competitor_version", f"{vwhere} must pin the competitor's version")
    elif moving is not None:
        add(
            "PARITY-004",
            "competitor_version",
            f"{vwhere} {version!r} contains {moving!r}, which names a moving target",
        )
    elif not any(c.isdigit() and c.isascii() for c in version):
        add("PARITY-004", "competitor_version", f"{vwhere} {version!r} has no digit: pin a version")
    for rule, key, what in (
        ("PARITY-003", "competitor", "must name the competing tool"),
        ("PARITY-005", "invocation_apr", "must give the apr command compared"),
        ("PARITY-005", "invocation_competitor", "must give the competitor's command compared"),
        ("PARITY-008", "owner", "must name who re-measures the row"),
        ("PARITY-009", "evidence", "must point at the measurement"),
        ("PARITY-010", "dimension", "must say what was compared"),
    ):
        if not text(row.get(key)):
            add(rule, key, f"parity.rows[{i}].{key} {what}")
    if row.get("verdict") is None:
        add(
            "PARITY-006",
            "verdict",
            f"parity.rows[{i}].verdict is required - one of {' / '.join(ledger.VERDICTS)}",
        )
    out += _row_dates(doc, i, row)
    return out


def _row_dates(doc: Document, i: int, row: dict[str, Any]) -> list[Finding]:
    base: JsonPath = ("parity", "rows", i)
    out = []
    measured, until = (
        ledger.iso_date(row.get("measured_on")),
        ledger.iso_date(row.get("valid_until")),
    )
    loc = f"parity.rows[{i}]"
    if measured is not None and measured > ledger.today():
        days = (measured - ledger.today()).days
        message = (
            f"{loc}.measured_on ({measured}) is {days} day(s) in the FUTURE as of {ledger.today()}"
        )
        out.append(make(doc, "PARITY-017", (*base, "measured_on"), message))
    if measured is None:
        got = row.get("measured_on")
        message = f"{loc}.measured_on must be a real ISO date (YYYY-MM-DD), got {got!r}"
        out.append(make(doc, "PARITY-007", (*base, "measured_on"), message))
    if until is None:
        message = (
            f"{loc}.valid_until must be a real ISO date (YYYY-MM-DD), got "
            f"{row.get('valid_until')!r} - every verdict class expires, including BETTER and PARITY"
        )
        return [*out, make(doc, "PARITY-007", (*base, "valid_until"), message)]
    if measured is None:
        return out
    if until <= measured:
        message = f"{loc}.valid_until ({until}) must be AFTER measured_on ({measured})"
        out.append(make(doc, "PARITY-007", (*base, "valid_until"), message))
    elif (until - measured).days > ledger.HORIZON:
        message = (
            f"{loc}.valid_until ({until}) is {(until - measured).days} days after measured_on: "
            f"re-measure within {ledger.HORIZON} days"
        )
        out.append(make(doc, "PARITY-011", (*base, "valid_until"), message))
    return out


def _bindings(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PARITY-015: every falsification test runs a command (never prose)."""
    out = []
    tests = data.get("falsification_tests")
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            continue
        command = next(
            (text(test.get(k)) for k in ("test", "command", "test_harness") if text(test.get(k))),
            "",
        )
        where = ("falsification_tests", i, "test")
        if not command:
            message = (
                f"falsification_tests[{i}] has no executable binding (test, command or "
                "test_harness)"
            )
            out.append(make(doc, "PARITY-015", where, message))
        else:
            word = command.split()[0]
            if word not in ledger.COMMANDS and not word.startswith("./"):
                message = (
                    f"falsification_tests[{i}].test starts with {word!r}: bind it to a command "
                    f"({', '.join(ledger.COMMANDS)} or ./script)"
                )
                out.append(make(doc, "PARITY-015", where, message))
    return out


def _horizon_sweep(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """PARITY-016: any text field that is a date more than 180 days past today."""
    out = []
    for path, value in _strings(data, ()):
        day = ledger.iso_date(value)
        if day is not None and (day - ledger.today()).days > ledger.HORIZON:
            over = (day - ledger.today()).days - ledger.HORIZON
            message = (
                f'{ledger.dotted(path) or "<root>"} is the date "{day}", {over} day(s) past the '
                f"{ledger.HORIZON}-day horizon from today ({ledger.today()})"
            )
            out.append(make(doc, "PARITY-016", path, message))
    return out


def _strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))

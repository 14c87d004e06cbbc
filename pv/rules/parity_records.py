"""The records of a competitive-parity ledger beside its rows: downgrades (a verdict moved,
with the reason, owner and a recheck date), removals (an entry point retired, renamed or
merged) and the coverage ratchet (a dated schedule that only ever tightens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pv.core.findings import Finding, JsonPath
from pv.core.ruletable import make, text
from pv.rules import ledger

if TYPE_CHECKING:
    from pv.contracts.load import Document


def downgrades(
    doc: Document, block: dict[str, Any], live: dict[str, dict[str, Any]]
) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for i, rec in ledger.entries(block, "downgrades"):
        base: JsonPath = ("parity", "downgrades", i)
        where = f"parity.downgrades[{i}]"
        entry = text(rec.get("entry_point"))
        raw = rec.get("entry_point") if isinstance(rec.get("entry_point"), str) else ""
        row = live.get(entry)
        if not entry:
            out.append(
                make(doc, "PARITY-012", (*base, "entry_point"), f"{where}.entry_point is required")
            )
        elif row is None:
            message = f'{where}.entry_point "{entry}" matches no row in this ledger'
            out.append(make(doc, "PARITY-012", (*base, "entry_point"), message))
        elif entry in seen:
            message = f'{where}.entry_point "{entry}" is recorded twice'
            out.append(make(doc, "PARITY-012", (*base, "entry_point"), message))
        seen.add(entry)
        if raw and (problem := ledger.key_problem(f"{where}.entry_point", raw)) is not None:
            out.append(make(doc, "PARITY-012", (*base, "entry_point"), problem))
        if row is not None:
            out += _transition(doc, i, rec, row)
        out += _downgrade_record(doc, i, rec)
    return out


def _transition(doc: Document, i: int, rec: dict[str, Any], row: dict[str, Any]) -> list[Finding]:
    base: JsonPath = ("parity", "downgrades", i)
    where = f"parity.downgrades[{i}]"
    out = []
    declared = row.get("verdict") or "UNMEASURED"
    destination = rec.get("to_verdict") or "UNMEASURED"
    if declared != destination:
        message = (
            f"{where}: the row's verdict {declared} is not the downgrade's destination "
            f"{destination}"
        )
        out.append(make(doc, "PARITY-014", (*base, "entry_point"), message))
    source, target = rec.get("from_verdict"), rec.get("to_verdict")
    if source is not None and target is None:
        out.append(
            make(
                doc,
                "PARITY-019",
                (*base, "to_verdict"),
                f"{where}: from_verdict without to_verdict",
            )
        )
    elif target is not None and source is None:
        out.append(
            make(
                doc,
                "PARITY-019",
                (*base, "from_verdict"),
                f"{where}: to_verdict without from_verdict",
            )
        )
    elif source is not None and source == target:
        out.append(
            make(
                doc,
                "PARITY-019",
                (*base, "from_verdict"),
                f"{where}: a move from {source} to itself",
            )
        )
    return out


def _downgrade_record(doc: Document, i: int, rec: dict[str, Any]) -> list[Finding]:
    base: JsonPath = ("parity", "downgrades", i)
    where = f"parity.downgrades[{i}]"
    out = []
    if rec.get("reason") is None:
        message = f"{where}.reason is required - one of {' / '.join(ledger.DOWNGRADE_REASONS)}"
        out.append(make(doc, "PARITY-013", (*base, "reason"), message))
    if not text(rec.get("owner")):
        out.append(make(doc, "PARITY-013", (*base, "owner"), f"{where}.owner is required"))
    recorded, recheck = (
        ledger.iso_date(rec.get("recorded_on")),
        ledger.iso_date(rec.get("recheck_by")),
    )
    if recorded is not None and recorded > ledger.today():
        message = f"{where}.recorded_on ({recorded}) is in the FUTURE as of {ledger.today()}"
        out.append(make(doc, "PARITY-017", (*base, "recorded_on"), message))
    for key, value in (("recorded_on", recorded), ("recheck_by", recheck)):
        if value is None:
            message = f"{where}.{key} must be a real ISO date (YYYY-MM-DD), got {rec.get(key)!r}"
            out.append(make(doc, "PARITY-013", (*base, key), message))
    if recorded is not None and recheck is not None:
        days = (recheck - recorded).days
        if days <= 0:
            message = f"{where}.recheck_by ({recheck}) must be AFTER recorded_on ({recorded})"
            out.append(make(doc, "PARITY-013", (*base, "recheck_by"), message))
        elif days > ledger.HORIZON:
            message = (
                f"{where}.recheck_by is {days} days after recorded_on: recheck within "
                f"{ledger.HORIZON}"
            )
            out.append(make(doc, "PARITY-013", (*base, "recheck_by"), message))
    return out


def removals(
    doc: Document, block: dict[str, Any], live: dict[str, dict[str, Any]]
) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    downgraded = {text(d.get("entry_point")) for _, d in ledger.entries(block, "downgrades")}
    for i, rec in ledger.entries(block, "removals"):
        base: JsonPath = ("parity", "removals", i)
        where = f"parity.removals[{i}]"

        def add(
            rule: str, key: str, message: str, base: JsonPath = base, out: list[Finding] = out
        ) -> None:
            out.append(make(doc, rule, (*base, key), message))

        entry = text(rec.get("entry_point"))
        raw = rec.get("entry_point") if isinstance(rec.get("entry_point"), str) else ""
        if not entry:
            add("PARITY-025", "entry_point", f"{where}.entry_point is required")
        elif entry in seen:
            add("PARITY-025", "entry_point", f'{where}.entry_point "{entry}" is recorded twice')
        seen.add(entry)
        if raw and (problem := ledger.key_problem(f"{where}.entry_point", raw)) is not None:
            add("PARITY-025", "entry_point", problem)
        reason = rec.get("reason")
        if reason is None:
            add(
                "PARITY-025",
                "reason",
                f"{where}.reason is required - one of {' / '.join(ledger.REMOVAL_REASONS)}",
            )
        if not text(rec.get("owner")):
            add("PARITY-025", "owner", f"{where}.owner is required")
        recorded = rec.get("recorded_on")
        if not text(recorded):
            add("PARITY-025", "recorded_on", f"{where}.recorded_on is required (ISO YYYY-MM-DD)")
        elif (day := ledger.iso_date(recorded)) is None:
            add(
                "PARITY-025",
                "recorded_on",
                f"{where}.recorded_on must be a real ISO date, got {recorded!r}",
            )
        elif day > ledger.today():
            add(
                "PARITY-017",
                "recorded_on",
                f"{where}.recorded_on ({day}) is in the FUTURE as of {ledger.today()}",
            )
        if entry and entry in live:
            add("PARITY-026", "entry_point", f'{where}: "{entry}" is removed but still has a row')
        if entry and entry in downgraded:
            add(
                "PARITY-026",
                "entry_point",
                f'{where}: "{entry}" is removed but still has a downgrade',
            )
        out += _replacement(doc, i, rec, entry, reason)
    return out


def _replacement(
    doc: Document, i: int, rec: dict[str, Any], entry: str, reason: Any
) -> list[Finding]:
    where: JsonPath = ("parity", "removals", i, "replacement")
    loc = f"parity.removals[{i}].replacement"
    successor = text(rec.get("replacement"))
    if not successor:
        if reason in ("RENAMED", "MERGED_INTO"):
            return [
                make(
                    doc,
                    "PARITY-027",
                    where,
                    f"{loc} is required: a {reason} entry point names its successor",
                )
            ]
        return []
    out = []
    problem = ledger.key_problem(loc, successor)
    if problem is not None:
        out.append(make(doc, "PARITY-027", where, problem))
    if successor == entry:
        out.append(make(doc, "PARITY-027", where, f"{loc} names the removed entry point itself"))
    return out


def coverage(doc: Document, block: dict[str, Any]) -> list[Finding]:
    coverage = block.get("coverage")
    if not isinstance(coverage, dict):
        message = "parity.coverage is required: a dated ratchet of how much of the scope is covered"
        return [make(doc, "PARITY-021", ("parity", "coverage"), message)]
    out = []
    for key in ("rationale", "dissent"):
        if not text(coverage.get(key)):
            out.append(
                make(
                    doc,
                    "PARITY-021",
                    ("parity", "coverage", key),
                    f"parity.coverage.{key} is required",
                )
            )
    steps = (
        [s for s in (coverage.get("steps") or []) if isinstance(s, dict)]
        if isinstance(coverage.get("steps"), list)
        else []
    )
    if not steps:
        return [
            *out,
            make(
                doc,
                "PARITY-022",
                ("parity", "coverage", "steps"),
                "parity.coverage.steps must not be empty",
            ),
        ]
    out += _steps(doc, steps)
    return out


def _steps(doc: Document, steps: list[dict[str, Any]]) -> list[Finding]:
    out = []
    last_scope: int | None = None
    for i, step in enumerate(steps):
        base: JsonPath = ("parity", "coverage", "steps", i)
        covered = step.get("covered_min", 0)
        covered = covered if ledger.count_ok(covered) else 0
        scope = step.get("scope_min")
        if scope is None:
            out.append(
                make(
                    doc,
                    "PARITY-022",
                    (*base, "scope_min"),
                    f"coverage step {i} declares no `scope_min`",
                )
            )
        elif not ledger.count_ok(scope) or scope == 0:
            out.append(
                make(
                    doc,
                    "PARITY-022",
                    (*base, "scope_min"),
                    f"coverage step {i}: scope_min must be at least 1",
                )
            )
        else:
            if scope < covered:
                message = (
                    f"coverage step {i} requires {covered} covered entry point(s) but only "
                    f"{scope} in scope"
                )
                out.append(make(doc, "PARITY-022", (*base, "scope_min"), message))
            if last_scope is not None and scope <= last_scope:
                message = f"coverage step {i}: steps must be STRICTLY increasing in `scope_min` too"
                out.append(make(doc, "PARITY-022", (*base, "scope_min"), message))
            last_scope = scope
        if ledger.iso_date(step.get("by")) is None:
            out.append(
                make(
                    doc, "PARITY-022", (*base, "by"), f"coverage step {i}: `by` must be an ISO date"
                )
            )
        if covered == 0:
            out.append(
                make(
                    doc,
                    "PARITY-022",
                    (*base, "covered_min"),
                    f"coverage step {i}: covered_min must be at least 1",
                )
            )
        if i > 0:
            prev = steps[i - 1]
            a, b = ledger.iso_date(prev.get("by")), ledger.iso_date(step.get("by"))
            before = prev.get("covered_min", 0)
            rising = (
                a is not None
                and b is not None
                and b > a
                and ledger.count_ok(before)
                and covered > before
            )
            if not rising:
                message = (
                    "coverage steps must be STRICTLY increasing in both `by` and `covered_min`; "
                    f"step {i} is not"
                )
                out.append(make(doc, "PARITY-022", base, message))
    return out

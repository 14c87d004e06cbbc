"""Kaizen improvement records (`metadata.kind: kaizen`): a measurement, not a theorem, so it is
exempt from the kernel rules and held to its own (KAIZEN-001..006): name itself, declare a known
status, claim something that can fail, and move at least one number the right way."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from pv.core.findings import Finding
from pv.core.ruletable import make, text

if TYPE_CHECKING:
    from pv.contracts.load import Document

STATUSES = ("draft", "implemented", "implementing", "pending", "planned")
# Name fragments of a metric a kaizen exists to reduce (a quantity of waste, not of work).
COST_FRAGMENTS = ("alloc", "bytes", "churn", "launch", "overhead", "sync", "wasted", "_us", "_ms")
# A closed table of units: a date such as 2026-03-04 must not read as the number 2026.
_QUANTITY = re.compile(
    r"^(?:<=|>=|<|>|~)?\s*(-?[\d_]*\.?[\d_]+)\s*(%|\+|x|B|KB|MB|GB|KiB|MiB|GiB|ms|us|s)?$"
)


def kaizen_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """Every KAIZEN rule for one record."""
    out = []
    if not text(data.get("contract")):
        message = "a kaizen record must carry a non-empty `contract:` id"
        out.append(make(doc, "KAIZEN-001", ("contract",), message))
    status = text(data.get("status"))
    if status not in STATUSES:
        message = f"kaizen status {status!r} is not one of: {', '.join(STATUSES)}"
        out.append(make(doc, "KAIZEN-002", ("status",), message))
    pair = _delta_pair(data)
    claims = pair is not None or any(
        data.get(k) not in (None, [], {}, "")
        for k in ("invariants", "proof_obligations", "falsification_tests")
    )
    if not claims:
        message = "the record has no baseline/target delta, invariants, obligations or tests"
        out.append(make(doc, "KAIZEN-003", ("baseline",), message))
    out += _shape(doc, data)
    if pair is not None:
        out += _moves(doc, _comparable(*pair))
    return out


def _delta_pair(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    baseline, target = data.get("baseline"), data.get("target")
    if not isinstance(baseline, dict):
        return None
    before, after = baseline.get("before"), baseline.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        return before, after
    return (baseline, target) if isinstance(target, dict) else None


def _shape(doc: Document, data: dict[str, Any]) -> list[Finding]:
    target, baseline = data.get("target"), data.get("baseline")
    if target is None:
        return []
    if not isinstance(target, dict):
        return [make(doc, "KAIZEN-004", ("target",), "`target:` must map metric -> value")]
    if not isinstance(baseline, dict):
        message = "`target:` has no `baseline:` map to improve on"
        return [make(doc, "KAIZEN-004", ("baseline",), message)]
    if not set(baseline) & set(target):
        message = "`baseline:` and `target:` share no metric"
        return [make(doc, "KAIZEN-004", ("target",), message)]
    return []


def quantity(value: Any) -> float | None:
    """A baseline/target value as a number, or None when it is not a measurement."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and (match := _QUANTITY.match(value.strip())):
        try:
            number = float(match[1].replace("_", ""))
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _comparable(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, float, float]]:
    out = []
    for key, old in before.items():
        if key in after:
            a, b = quantity(old), quantity(after[key])
            if a is not None and b is not None:
                out.append((str(key), a, b))
    return out


def _moves(doc: Document, metrics: list[tuple[str, float, float]]) -> list[Finding]:
    if not metrics:
        message = "`baseline:` and `target:` share no metric whose values are both numbers"
        return [make(doc, "KAIZEN-005", ("target",), message)]
    if all(a == b for _, a, b in metrics):
        message = "`target:` restates `baseline:` unchanged: the record claims no movement"
        return [make(doc, "KAIZEN-005", ("target",), message)]
    costs = [(n, a, b) for n, a, b in metrics if any(f in n.lower() for f in COST_FRAGMENTS)]
    risen = [f"{n} {a:g} -> {b:g}" for n, a, b in costs if b > a]
    if costs and risen and not any(b < a for _, a, b in costs):
        message = "every cost this record measures rises or holds: " + "; ".join(risen)
        hint = "is baseline/target written the wrong way round?"
        return [make(doc, "KAIZEN-006", ("target",), message, hint)]
    return []

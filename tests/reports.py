"""--pv-report documents for tests, complete in every field the typed reader checks
(pv.binding.idreport.read), so a test states only what it is about."""

from __future__ import annotations

from typing import Any

from pv.binding.bind import STATES


def id_entry(
    ident: str, state: str, contract: str = "contracts/c.yaml", nodeids: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "id": ident,
        "contract": contract,
        "state": state,
        "nodeids": list(nodeids),
        "durations": [0.01] * len(nodeids),
        "prediction": "",
        "if_fails": "",
        "refs": [],
    }


def report(*entries: dict[str, Any], verdict: str | None = None, **extra: Any) -> dict[str, Any]:
    """A version-1 report of `entries`; the verdict passes when every id passed."""
    summary = {s: sum(1 for e in entries if e["state"] == s) for s in STATES}
    passed = bool(entries) and summary["passed"] == len(entries)
    return {
        "version": 1,
        "verdict": verdict or ("passed" if passed else "failed"),
        "summary": summary,
        "ids": list(entries),
        "undeclared": {},
        "load_errors": [],
        "checks": [],
        **extra,
    }

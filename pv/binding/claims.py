"""Claim drift: what contracts say about checks and tests against what the tests hold.
Falsification ids with no bound check, checks bound to ids no contract declares,
`test:` / `binding:` / `algorithm_evidence.test_locations` that name nothing, and evidence
whose stated status the checks' results contradict."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pv.binding.bind import classify, declared_checks, strip_params
from pv.binding.testscan import TestScan, defined_tests, site_finding
from pv.contracts.load import Document
from pv.core.findings import Finding

_PATHLIKE = re.compile(r"^[\w./-]+\.\w+(::[\w:\[\]-]+)?$")


def contracts_vs_tests(
    contracts: tuple[Document, ...], tests: TestScan, root: Path
) -> list[Finding]:
    """Declared ids without a bound check, and checks bound to ids no contract declares."""
    marked = {i for b in tests.bound for i in b.ids}
    declared: set[str] = set()
    out = []
    for doc in contracts:
        for decl in declared_checks(doc.file, doc.data or {}):
            section = "falsification_tests" if decl.kind == "falsification" else "kani_harnesses"
            index = _entry_index(doc.data, section, decl.id)
            declared.add(decl.id)
            named = any(r.nodeid and _test_exists(root, r.nodeid) for r in decl.refs)
            if decl.id not in marked and not named:
                out.append(
                    doc.finding(
                        "DRIFT-020",
                        "error",
                        (section, index, "id"),
                        f"{decl.id} has no bound check",
                        suggestion=f'mark a test @pytest.mark.falsifies("{decl.id}")',
                        subjects=(decl.id,),
                    )
                )
    for bound in tests.bound:
        for ident in bound.ids:
            if ident not in declared:
                message = f"bound to {ident}, which no contract declares"
                finding = site_finding("DRIFT-021", bound.site, message)
                out.append(replace(finding, subjects=(ident, *finding.subjects)))
    return out


def contracts_vs_reality(contracts: tuple[Document, ...], root: Path) -> list[Finding]:
    """`test:`, `binding:` and `algorithm_evidence.test_locations` that name nothing."""
    out = []
    for doc in contracts:
        tests = (doc.data or {}).get("falsification_tests")
        for index, entry in enumerate(tests if isinstance(tests, list) else []):
            if isinstance(entry, dict):
                for where, text in _claims(entry):
                    if not _claim_holds(root, text, where[0] == "binding"):
                        out.append(
                            doc.finding(
                                "DRIFT-030",
                                "error",
                                ("falsification_tests", index, *where),
                                f"{'.'.join(map(str, where))} names '{text}', which does not exist",
                                subjects=_subject(entry),
                            )
                        )
    return out


def _subject(entry: Mapping[str, Any]) -> tuple[str, ...]:
    ident = entry.get("id")
    return (ident,) if isinstance(ident, str) else ()


def _claims(entry: dict[str, object]) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Each reference with its path; a `test:` equal to the `binding:` is reported once."""
    seen: set[str] = set()
    for key in ("binding", "test"):
        value = entry.get(key)
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            if isinstance(item, str) and item.strip() and item.strip() not in seen:
                seen.add(item.strip())
                yield ((key, i) if isinstance(value, list) else (key,)), item.strip()
    evidence = entry.get("algorithm_evidence")
    locations = evidence.get("test_locations") if isinstance(evidence, dict) else None
    for i, item in enumerate(locations if isinstance(locations, list) else []):
        if isinstance(item, str):
            yield ("algorithm_evidence", "test_locations", i), item.strip()


def _claim_holds(root: Path, text: str, is_binding: bool) -> bool:
    """A check name must resolve; a path-like location must exist; prose in `test:` is
    classified (not a claim of existence) but a `binding:` must name a check."""
    kind = classify(text)
    if kind == "node-id":
        return _test_exists(root, text.split("[", 1)[0])
    if kind == "module-function":
        module, _, function = text.partition(":")
        return _test_exists(root, module.replace(".", "/") + ".py::" + function.replace(".", "::"))
    if _PATHLIKE.match(text):
        return (root / text.split("::", 1)[0]).exists()
    return not is_binding


def _test_exists(root: Path, nodeid: str) -> bool:
    """The file of a node id exists (a module may be a package) and defines the test."""
    file, _, qualname = nodeid.partition("::")
    candidates = (root / file, root / file.removesuffix(".py") / "__init__.py")
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return False
    if not qualname:
        return True
    try:
        return qualname in defined_tests(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False


def _entry_index(data: Mapping[str, Any] | None, section: str, ident: str) -> int:
    """Position of the entry with `ident` in `section` (for the finding's line)."""
    entries = (data or {}).get(section)
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, Mapping) and entry.get("id") == ident:
            return index
    return 0


# --- stated evidence against the checks' results ------------------------------------------

# An `algorithm_evidence.status` either claims a passing check or states that none exists
# yet. Words that deny are tested first: "UNVERIFIED" contains "VERIFIED".
_DENIES = ("UNVERIFIED", "NOT_", "PENDING", "PROPOSED", "TODO", "BLOCKED", "DEFERRED", "PLANNED")
_CLAIMS = ("VERIFIED", "ALGORITHM_LEVEL", "PASS", "COMPLETE", "FULL", "DONE", "PROVEN")


def status_claims(status: str) -> bool | None:
    """True: the status claims a passing check; False: it claims none; None: unknown word."""
    word = status.strip().upper().replace("-", "_").replace(" ", "_")
    if any(deny in word for deny in _DENIES):
        return False
    if any(claim in word for claim in _CLAIMS):
        return True
    return None


def evidence_vs_results(contracts: Sequence[Document], report: Mapping[str, Any]) -> list[Finding]:
    """Where a falsification test states `algorithm_evidence.status`, the checks' results (a
    `--pv-report` / `pv falsify` report) must agree: a status that claims a passing check
    (PARTIAL_ALGORITHM_LEVEL, VERIFIED, ...) over an id that is not passed, or over a
    `test_locations` check that failed, is DRIFT-031; a status word pv does not know is
    DRIFT-032 (a warning), so a new word is looked at rather than trusted."""
    states = {e.get("id"): e.get("state") for e in report.get("ids", [])}
    outcomes = {strip_params(c["nodeid"]): c.get("outcome") for c in report.get("checks", [])}
    out: list[Finding] = []
    for doc in contracts:
        tests = (doc.data or {}).get("falsification_tests")
        for index, entry in enumerate(tests if isinstance(tests, list) else []):
            evidence = entry.get("algorithm_evidence") if isinstance(entry, dict) else None
            if isinstance(evidence, dict) and isinstance(evidence.get("status"), str):
                out.extend(_judge_evidence(doc, index, entry, evidence, states, outcomes))
    return out


def _judge_evidence(
    doc: Document,
    index: int,
    entry: Mapping[str, Any],
    evidence: Mapping[str, Any],
    states: Mapping[object, object],
    outcomes: Mapping[str, object],
) -> list[Finding]:
    status, ident = evidence["status"], entry.get("id")
    where = ("falsification_tests", index, "algorithm_evidence", "status")
    claims = status_claims(status)
    if claims is None:
        message = f"{ident}: unknown algorithm_evidence.status '{status}'"
        return [doc.finding("DRIFT-032", "warning", where, message, subjects=_subject(entry))]
    if not claims:
        return []
    problems = []
    state = states.get(ident, "not-run")
    if state != "passed":
        problems.append(f"{ident} is {state}")
    locations = evidence.get("test_locations")
    for location in locations if isinstance(locations, list) else []:
        if isinstance(location, str) and outcomes.get(strip_params(location.strip())) == "failed":
            problems.append(f"{location.strip()} failed")
    return [
        doc.finding(
            "DRIFT-031",
            "error",
            where,
            f"algorithm_evidence.status '{status}' claims a passing check, but {problem}",
            suggestion="fix the check, or state the evidence the checks really give",
            subjects=_subject(entry),
        )
        for problem in problems
    ]

"""Claim drift: what contracts say about checks and tests against what the tests hold.
Falsification ids with no bound check, checks bound to ids no contract declares, and
`test:` / `binding:` / `algorithm_evidence.test_locations` that name nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pv.bind import classify, declared_ids
from pv.findings import Finding
from pv.load import Document
from pv.testscan import TestScan, defined_tests, site_finding

_PATHLIKE = re.compile(r"^[\w./-]+\.\w+(::[\w:\[\]-]+)?$")


def contracts_vs_tests(
    contracts: tuple[Document, ...], tests: TestScan, root: Path
) -> list[Finding]:
    """Declared ids without a bound check, and checks bound to ids no contract declares."""
    marked = {i for b in tests.bound for i in b.ids}
    declared: set[str] = set()
    out = []
    for doc in contracts:
        for index, decl in enumerate(declared_ids(doc.file, doc.data or {})):
            declared.add(decl.id)
            named = any(r.nodeid and _test_exists(root, r.nodeid) for r in decl.refs)
            if decl.id not in marked and not named:
                out.append(
                    doc.finding(
                        "DRIFT-020",
                        "error",
                        ("falsification_tests", index, "id"),
                        f"{decl.id} has no bound check",
                        suggestion=f'mark a test @pytest.mark.falsifies("{decl.id}")',
                    )
                )
    for bound in tests.bound:
        for ident in bound.ids:
            if ident not in declared:
                message = f"bound to {ident}, which no contract declares"
                out.append(site_finding("DRIFT-021", bound.site, message))
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
                            )
                        )
    return out


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

"""The newer Rust pv's own validator tests, as contract files: each file in aprender_cases/
names the test it comes from and the verdicts and rules that test asserts (see SOURCES.md)."""

from __future__ import annotations

import datetime as dt
from fnmatch import fnmatch
from pathlib import Path

import pytest

from pv.contracts.result import FileResult
from pv.core.ruletable import RULES
from pv.rules import ledger
from pv.rules.validate import validate_file

CASES = Path(__file__).parents[1] / "aprender_cases"
FILES = sorted(CASES.glob("*.yaml"))


def expectations(path: Path) -> list[tuple[str, list[str]]]:
    """(kind, words) for every `# expect KIND: WORDS` line at the top of a case file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# expect "):
            kind, _, rest = line[len("# expect ") :].partition(": ")
            out.append((kind, rest.split(maxsplit=2)))
    return out


def holds(result: FileResult, kind: str, words: list[str]) -> bool:
    """Whether one expectation holds for a validated file."""
    findings = result.findings
    if kind == "verdict":
        errors = sum(1 for f in findings if f.severity == "error")
        return (errors == 0) == (words[0] == "valid")
    if kind == "no-rule":
        return not any(fnmatch(f.rule, words[0]) for f in findings)
    if kind == "count":
        return result.counts.get(words[0], 0) == int(words[1])
    assert kind == "rule", kind
    rule, severity, needle = words[0], words[1], words[2] if len(words) > 2 else ""
    return any(
        f.rule == rule
        and f.severity == severity
        and needle in f"{f.message} {f.suggestion or ''} {f.path}"
        for f in findings
    )


def pinned_day(path: Path) -> dt.date | None:
    """The day a case is judged on (`# today: YYYY-MM-DD`): ledgers are dated against today."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# today: "):
            return dt.date.fromisoformat(line.removeprefix("# today: ").strip())
    return None


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_case_gets_the_verdict_and_rule_the_rust_test_asserts(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = pinned_day(path)
    if day is not None:
        monkeypatch.setattr(ledger, "today", lambda: day)
    result = validate_file(path)
    wanted = expectations(path)
    assert wanted, f"{path.name} states no expectation"
    failed = [(kind, words) for kind, words in wanted if not holds(result, kind, words)]
    got = [(f.rule, f.severity, f.message) for f in result.findings]
    assert not failed, f"{failed} not met; findings: {got}"


def test_every_case_names_its_source_and_every_source_is_listed() -> None:
    listed = (CASES / "SOURCES.md").read_text(encoding="utf-8")
    for path in FILES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# source: "), path.name
        assert first.split("::")[0].removeprefix("# source: ") in listed, path.name


def test_every_rule_the_cases_expect_is_in_the_rule_table() -> None:
    named = {w[0] for p in FILES for k, w in expectations(p) if k == "rule"}
    assert named <= set(RULES)


def test_every_dated_ledger_case_is_judged_on_a_fixed_day() -> None:
    for path in FILES:
        if "kind: competitive-parity" in path.read_text(encoding="utf-8"):
            assert pinned_day(path) is not None, path.name

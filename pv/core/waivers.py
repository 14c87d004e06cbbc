"""Waivers: a finding a team accepts, stated once with the reason, as ruff's `noqa` and mypy's
`ignore` are. In `[tool.pv].waivers` (the rule, what it is about, a reason) or on a test
(`@pytest.mark.waives("DRIFT-011", reason="...")`). A waiver that matches no finding is itself a
finding (DRIFT-060), so waivers do not outlive what they waive."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pv.core.findings import Finding

FIELDS = ("rule", "reason", "command", "option", "id", "test", "file")


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiver:
    """Accepts the findings of `rule` (a pattern such as `DRIFT-01?` allowed) about what the
    other fields name; a field left out matches anything. `origin` says where it is written."""

    rule: str
    reason: str
    origin: str
    line: int = 1
    command: str | None = None
    option: str | None = None
    id: str | None = None
    test: str | None = None
    file: str | None = None

    def matches(self, finding: Finding) -> bool:
        if not fnmatchcase(finding.rule, self.rule):
            return False
        if self.file is not None and finding.file != self.file:
            return False
        subjects = finding.subjects
        if self.command is not None:
            wanted = f"{self.command} {self.option}" if self.option else self.command
            if not any(s == wanted or s.startswith(wanted + " ") for s in subjects):
                return False
        elif self.option is not None and not any(s.endswith(" " + self.option) for s in subjects):
            return False
        if self.id is not None and self.id not in subjects:
            return False
        return self.test is None or any(s.split("[", 1)[0] == self.test for s in subjects)

    def describe(self) -> str:
        named = [f"{k}={getattr(self, k)}" for k in FIELDS[2:] if getattr(self, k) is not None]
        return f"{self.rule}" + (f" ({', '.join(named)})" if named else "")


class WaiverError(ValueError):
    """A `[tool.pv].waivers` entry pv cannot read; the message says which and why."""


def read_waivers(raw: Any, where: str) -> tuple[Waiver, ...]:
    """The `[tool.pv].waivers` array of tables; raises WaiverError when malformed."""
    if not isinstance(raw, list):
        raise WaiverError(f"{where}: [tool.pv].waivers must be an array of tables")
    out = []
    for index, entry in enumerate(raw):
        name = f"[tool.pv].waivers[{index}]"
        if not isinstance(entry, dict):
            raise WaiverError(f"{where}: {name} must be a table (rule, reason, ...)")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise WaiverError(f"{where}: {name} has an unknown key '{unknown[0]}'")
        if not all(isinstance(v, str) for v in entry.values()):
            raise WaiverError(f"{where}: {name}: every value must be a string")
        for key in ("rule", "reason"):
            if not str(entry.get(key, "")).strip():
                raise WaiverError(f"{where}: {name} needs a non-empty `{key}`")
        out.append(Waiver(origin=name, **{k: v.strip() for k, v in entry.items()}))
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Waived:
    finding: Finding
    waiver: Waiver


def apply(
    findings: Sequence[Finding], waivers: Iterable[Waiver]
) -> tuple[list[Finding], list[Waived], list[Waiver]]:
    """(findings no waiver accepts, the accepted ones with their waiver, waivers unused)."""
    waivers = list(waivers)
    used: set[int] = set()
    kept: list[Finding] = []
    waived: list[Waived] = []
    for finding in findings:
        hit = next((i for i, w in enumerate(waivers) if w.matches(finding)), None)
        if hit is None:
            kept.append(finding)
        else:
            used.add(hit)
            waived.append(Waived(finding=finding, waiver=waivers[hit]))
    return kept, waived, [w for i, w in enumerate(waivers) if i not in used]

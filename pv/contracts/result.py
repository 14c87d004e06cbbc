"""What `pv validate` produces per file and per run. Below both pv.rules.validate (which makes them)
and pv.contracts.cache (which stores them), so neither has to import the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pv.core.findings import Finding, count


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """A name a file mentions, with where it mentions it (cross-file rules need both)."""

    file: str
    name: str
    line: int
    column: int


COUNTED = ("equations", "proof_obligations", "falsification_tests", "kani_harnesses")
# Results that depend on more than the file's bytes (a publish manifest reads the schema
# beside it; a parity ledger is judged against today's date): never kept in the cache.
UNCACHED_KINDS = ("publish-manifest",)
UNCACHED_CONTRACT_KINDS = ("competitive-parity",)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What one file contributed: its findings plus the facts the cross-file rules need."""

    file: str
    kind: str  # contract | binding | publish-manifest | external-corpora | refused
    contract_kind: str = ""  # metadata.kind as judged (kernel when absent); "" when not a contract
    findings: tuple[Finding, ...] = ()
    depends_on: tuple[Located, ...] = ()
    falsification_ids: tuple[Located, ...] = ()
    equations: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def cacheable(self) -> bool:
        """Whether the file's bytes alone decide this result."""
        return self.kind not in UNCACHED_KINDS and self.contract_kind not in UNCACHED_CONTRACT_KINDS

    @property
    def stem(self) -> str:
        return os.path.splitext(os.path.basename(self.file))[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the inverse of `from_dict` (the cache stores this)."""
        return {
            "kind": self.kind,
            "contract_kind": self.contract_kind,
            "file": self.file,
            # positional and without the file name: the pack holds thousands of these
            "findings": [
                [f.rule, f.severity, f.line, f.column, f.path, f.message, f.suggestion]
                for f in self.findings
            ],
            "depends_on": [[x.name, x.line, x.column] for x in self.depends_on],
            "falsification_ids": [[x.name, x.line, x.column] for x in self.falsification_ids],
            "equations": list(self.equations),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, file: str, raw: dict[str, Any]) -> FileResult:
        """Rebuild a result for `file`; raises on malformed input (the cache then ignores it)."""
        if raw["file"] != file:
            raise ValueError("cached findings name another file")
        findings = tuple(_finding(file, *row) for row in raw["findings"])
        return cls(
            file=file,
            kind=str(raw["kind"]),
            contract_kind=str(raw["contract_kind"]),
            findings=findings,
            depends_on=_unlocate(file, raw["depends_on"]),
            falsification_ids=_unlocate(file, raw["falsification_ids"]),
            equations=tuple(str(e) for e in raw["equations"]),
            counts={str(k): int(v) for k, v in raw["counts"].items()},
        )


def _finding(
    file: str, rule: str, severity: Any, line: int, column: int, path: str, message: str, hint: Any
) -> Finding:
    if not all(isinstance(v, str) for v in (rule, path, message)) or type(line) is not int:
        raise TypeError("malformed cached finding")
    if type(column) is not int or not isinstance(hint, (str, type(None))):
        raise TypeError("malformed cached finding")
    return Finding(
        rule=rule,
        severity=severity,
        file=file,
        line=line,
        column=column,
        path=path,
        message=message,
        suggestion=hint,
    )


def _unlocate(file: str, rows: list[list[Any]]) -> tuple[Located, ...]:
    return tuple(Located(file=file, name=str(n), line=int(a), column=int(b)) for n, a, b in rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The whole run: per-file results and every finding, sorted for output."""

    files: tuple[FileResult, ...]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return count(self.findings, "error")

    @property
    def warnings(self) -> int:
        return count(self.findings, "warning")

    def kinds(self) -> dict[str, int]:
        """How many files of each contract kind (kernel, registry, beat-benchmark, ...)."""
        out: dict[str, int] = {}
        for r in self.files:
            if r.contract_kind:
                out[r.contract_kind] = out.get(r.contract_kind, 0) + 1
        return dict(sorted(out.items()))

    @property
    def cacheable(self) -> bool:
        return all(r.cacheable for r in self.files)

    def totals(self) -> dict[str, int]:
        """Contracts and their equations / obligations / tests / harnesses, summed."""
        out = {"contracts": sum(1 for r in self.files if r.kind == "contract")}
        for key in COUNTED:
            out[key] = sum(r.counts.get(key, 0) for r in self.files if r.kind == "contract")
        return out

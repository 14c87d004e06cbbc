"""`pv diff OLD NEW`: what changed between two versions of a contract and the semver bump it
needs. Removing or changing an equation, obligation or falsification id (its rule,
prediction or if_fails included, which the Rust tool misses) is major; adding one is minor;
any other edit is patch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

LEVELS = ("none", "patch", "minor", "major")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
# Fields whose change alters what a falsification test claims (major), by section.
_SEMANTIC: dict[str, tuple[str, ...]] = {
    "equations": ("formula", "domain", "codomain", "invariants"),
    "proof_obligations": ("type", "property", "formal", "applies_to", "tolerance"),
    "falsification_tests": ("rule", "prediction", "if_fails"),
    "kani_harnesses": ("obligation", "property", "bound"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    level: str  # patch, minor or major
    section: str
    key: str
    what: str  # added, removed, changed


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractDiff:
    changes: tuple[Change, ...]
    old_version: str
    new_version: str

    @property
    def required(self) -> str:
        """The smallest bump that covers every change."""
        return max((c.level for c in self.changes), key=LEVELS.index, default="none")

    @property
    def actual(self) -> str | None:
        """The bump the versions show, or None when either is not semver (or it went down)."""
        return bump(self.old_version, self.new_version)

    @property
    def version_ok(self) -> bool:
        actual = self.actual
        return actual is not None and LEVELS.index(actual) >= LEVELS.index(self.required)


def bump(old: str, new: str) -> str | None:
    a, b = _SEMVER.match(old.strip()), _SEMVER.match(new.strip())
    if a is None or b is None:
        return None
    x, y = tuple(map(int, a.groups())), tuple(map(int, b.groups()))
    if y < x:
        return None
    for level, i in (("major", 0), ("minor", 1), ("patch", 2)):
        if y[i] != x[i]:
            return level
    return "none"


def diff(old: dict[str, Any], new: dict[str, Any]) -> ContractDiff:
    """Compare two loaded contracts section by section, keyed by stable names."""
    changes: list[Change] = []
    for section, fields in _SEMANTIC.items():
        before, after = _keyed(section, old.get(section)), _keyed(section, new.get(section))
        for key in before.keys() - after.keys():
            changes.append(Change(level="major", section=section, key=key, what="removed"))
        for key in after.keys() - before.keys():
            changes.append(Change(level="minor", section=section, key=key, what="added"))
        for key in before.keys() & after.keys():
            a, b = before[key], after[key]
            if any(_get(a, f) != _get(b, f) for f in fields):
                changed = [f for f in fields if _get(a, f) != _get(b, f)]
                what = "changed " + ", ".join(changed)
                changes.append(Change(level="major", section=section, key=key, what=what))
            elif a != b:
                changes.append(Change(level="patch", section=section, key=key, what="edited"))
    rest = (set(old) | set(new)) - set(_SEMANTIC) - {"metadata"}
    for key in sorted(rest):
        if old.get(key) != new.get(key):
            changes.append(Change(level="patch", section=key, key="", what="edited"))
    meta_old, meta_new = _strip_version(old), _strip_version(new)
    if meta_old != meta_new:
        changes.append(Change(level="patch", section="metadata", key="", what="edited"))
    return ContractDiff(
        changes=tuple(sorted(changes, key=lambda c: (c.section, c.key))),
        old_version=_version(old),
        new_version=_version(new),
    )


def _keyed(section: str, value: object) -> dict[str, object]:
    """Entries by stable key: equations by name, falsification/kani by id, obligations by
    their property text (they carry no id)."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, list):
        return {}
    key_field = "property" if section == "proof_obligations" else "id"
    out: dict[str, object] = {}
    for index, item in enumerate(value):
        key = item.get(key_field) if isinstance(item, dict) else None
        out[str(key) if key is not None else f"#{index + 1}"] = item
    return out


def _get(entry: object, field: str) -> object:
    return entry.get(field) if isinstance(entry, dict) else entry


def _version(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata")
    return str(meta.get("version", "")) if isinstance(meta, dict) else ""


def _strip_version(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("metadata")
    return {k: v for k, v in meta.items() if k != "version"} if isinstance(meta, dict) else {}


def render(result: ContractDiff, fmt: str) -> str:
    """Text lines per change, then the suggestion; or one JSON document."""
    if fmt == "json":
        return json.dumps(
            {
                "old_version": result.old_version,
                "new_version": result.new_version,
                "required_bump": result.required,
                "actual_bump": result.actual,
                "version_ok": result.version_ok,
                "changes": [
                    {"level": c.level, "section": c.section, "key": c.key, "what": c.what}
                    for c in result.changes
                ],
            },
            indent=2,
        )
    lines = [
        f"{c.level:<5}  {c.section}{'.' + c.key if c.key else ''}: {c.what}" for c in result.changes
    ]
    lines.append(
        f"Suggested bump: {result.required} "
        f"({result.old_version or '?'} -> {result.new_version or '?'}: "
        f"{result.actual or 'not a semver increase'})"
    )
    return "\n".join(lines)

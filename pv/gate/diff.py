"""`pv diff OLD NEW`: what changed between two versions of a contract and the semver bump it
needs. Removing or changing an equation, obligation or falsification id (its rule,
prediction or if_fails included, which the Rust tool misses) is major; adding one is minor;
any other edit is patch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pv.core.semver import LEVELS, bump

__all__ = ["LEVELS", "Change", "ContractDiff", "bump", "diff", "registry_changes", "render"]

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
    changes += registry_changes(old.get("commands"), new.get("commands"))
    rest = (set(old) | set(new)) - set(_SEMANTIC) - {"metadata", "commands"}
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


# A registered option's fields whose change breaks a caller (major), and the rest (patch).
_OPTION_BREAKING = ("type", "default", "kind", "multiple")


def registry_changes(old: object, new: object) -> list[Change]:
    """A command registry's `commands:` as a public interface: removing a command, an option
    or an alias, or changing an option's type, default, kind or arity, or making it required,
    is major; adding one (optional) is minor; help text and `writes_files` are patch."""
    before = old if isinstance(old, dict) else {}
    after = new if isinstance(new, dict) else {}
    out: list[Change] = []
    for path in before.keys() - after.keys():
        out.append(Change(level="major", section="commands", key=str(path), what="removed"))
    for path in after.keys() - before.keys():
        out.append(Change(level="minor", section="commands", key=str(path), what="added"))
    for path in before.keys() & after.keys():
        a, b = before[path], after[path]
        if isinstance(a, dict) and isinstance(b, dict):
            out += _command_changes(str(path), a, b)
    return out


def _command_changes(path: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    gone = set(old.get("aliases") or ()) - set(new.get("aliases") or ())
    added = set(new.get("aliases") or ()) - set(old.get("aliases") or ())
    if gone:
        out.append(_change("major", path, f"alias {', '.join(sorted(gone))} removed"))
    if added:
        out.append(_change("minor", path, f"alias {', '.join(sorted(added))} added"))
    a: dict[str, Any] = old["options"] if isinstance(old.get("options"), dict) else {}
    b: dict[str, Any] = new["options"] if isinstance(new.get("options"), dict) else {}
    for name in a.keys() - b.keys():
        out.append(_change("major", path, f"option {name} removed"))
    for name in b.keys() - a.keys():
        required = isinstance(b[name], dict) and b[name].get("required") is True
        level = "major" if required else "minor"
        out.append(_change(level, path, f"{'required ' if required else ''}option {name} added"))
    for name in a.keys() & b.keys():
        x, y = a[name], b[name]
        if not isinstance(x, dict) or not isinstance(y, dict):
            continue
        broken = [f for f in _OPTION_BREAKING if not _same(f, x.get(f), y.get(f))]
        if not x.get("required") and y.get("required"):
            broken.append("required")
        if broken:
            out.append(_change("major", path, f"option {name}: changed {', '.join(broken)}"))
        elif x.get("required") and not y.get("required"):
            out.append(_change("minor", path, f"option {name} now optional"))
        elif x != y:
            out.append(_change("patch", path, f"option {name} edited"))
    rest = {k for k in old.keys() | new.keys() if k not in ("aliases", "options")}
    if any(old.get(k) != new.get(k) for k in rest):
        out.append(_change("patch", path, "edited"))
    return out


def _same(field: str, a: Any, b: Any) -> bool:
    if field == "type" and isinstance(a, str) and isinstance(b, str):
        from pv.clis.clispec import same_type  # deferred: a contract's diff needs no CLI reader

        return same_type(a, b)
    return bool(a == b)


def _change(level: str, path: str, what: str) -> Change:
    return Change(level=level, section="commands", key=path, what=what)


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

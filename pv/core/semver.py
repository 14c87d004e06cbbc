"""The one reading of a contract's version, for the rules that check it and the gate that
compares two: MAJOR.MINOR.PATCH (with an optional pre-release and build), and the shorter
`1.0` / `1` a person writes, read as `1.0.0`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FULL = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
_SHORT = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")
LEVELS = ("none", "patch", "minor", "major")


@dataclass(frozen=True, slots=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """A version as written: `version` None when none can be read; `exact` when it is
    MAJOR.MINOR.PATCH as semver spells it."""

    version: Version | None
    exact: bool


def read(text: object) -> Reading:
    """`1.2.3`, `1.2.3-rc.1+b5` exact; `1.2`, `1`, `v1.2.3`, `01.2.3` read but not exact
    (the digits a person meant); anything else (`banana`) no version."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return Reading(version=None, exact=False)
    raw = str(text).strip()
    full = _FULL.match(raw)
    if full is not None:
        return Reading(version=Version(*map(int, full.groups()[:3])), exact=True)
    short = _SHORT.match(raw)
    if short is None or (short.end() != len(raw) and raw[short.end()] not in "-+"):
        return Reading(version=None, exact=False)
    parts = [int(p) if p is not None else 0 for p in short.groups()]
    return Reading(version=Version(*parts), exact=False)


def bump(old: object, new: object) -> str | None:
    """The bump from `old` to `new` (none, patch, minor, major), or None when either cannot be
    read or the version went down."""
    a, b = read(old).version, read(new).version
    if a is None or b is None or b < a:
        return None
    for level, i in (("major", 0), ("minor", 1), ("patch", 2)):
        if (b.major, b.minor, b.patch)[i] != (a.major, a.minor, a.patch)[i]:
            return level
    return "none"

"""The project's named mutants: deliberate, minimal breaks that the checks in falsify/ must
kill. A check names them with `@pytest.mark.mutants(...)`; `pv falsify --mutants` runs it once
per name with `PV_MUTANT` set, and falsify/conftest.py applies the break for that check only."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pv.mutants import Registry

REGISTRY = Registry()
REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = REPO_ROOT / "contracts"

_FALSIFY_ID = re.compile(r"^(\s*-?\s*id:\s*)([\"']?)(FALSIFY-[A-Za-z0-9_-]+)\2\s*$", re.MULTILINE)


def contract_path(name: str) -> Path:
    """Checks read contracts through here (never a hard-coded path), so a mutant can put a
    broken copy in their place for the duration of one check."""
    return CONTRACTS_DIR / name


def duplicate_falsification_id(text: str) -> str:
    """The minimal contract break: the second falsification id becomes a copy of the first.
    A text edit, not a YAML round trip, so nothing else in the file changes."""
    found = list(_FALSIFY_ID.finditer(text))
    if len(found) < 2:
        raise ValueError("a duplicated id needs at least two falsification ids")
    first, second = found[0], found[1]
    start, end = second.span(3)
    return text[:start] + first.group(3) + text[end:]


@REGISTRY.register(
    "contract-duplicate-falsification-id",
    "every contract the check reads has its second FALSIFY id replaced by its first "
    "(SCHEMA-007: `pv validate` must fail)",
)
def _contract_duplicate_falsification_id(monkeypatch: Any, tmp_path: Path) -> None:
    broken = tmp_path / "mutant-contracts"
    broken.mkdir()
    for source in sorted(CONTRACTS_DIR.glob("*.y*ml")):
        text = source.read_text(encoding="utf-8")
        if len(_FALSIFY_ID.findall(text)) >= 2:
            text = duplicate_falsification_id(text)
        (broken / source.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "CONTRACTS_DIR", broken)

"""`python -m bench [NAME...]`: run every bench module in this folder (or the named ones).

A bench module is any `bench/*.py` with a `main() -> int` function; modules are found at
run time, so new benches need no registration here. A module that says `LONG = True` (a line
of its own at module level) runs only when named: `make bench` stays the ratio benches.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def discover() -> list[str]:
    """Names of the bench modules in this package, sorted."""
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def is_long(name: str) -> bool:
    """Whether bench/NAME.py declares `LONG = True` (read as text: nothing is imported)."""
    text = (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8")
    return any(line.split("#")[0].strip() == "LONG = True" for line in text.splitlines())


def run(names: list[str]) -> int:
    """Run the named benches; the exit status is the worst of theirs."""
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        print(f"== bench.{name}", flush=True)
        status = max(status, int(entry() or 0))
    return status


if __name__ == "__main__":
    wanted = sys.argv[1:] or [n for n in discover() if not is_long(n)]
    unknown = sorted(set(wanted) - set(discover()))
    if unknown:
        print(
            f"unknown bench: {', '.join(unknown)}; have: {', '.join(discover())}", file=sys.stderr
        )
        sys.exit(2)
    sys.exit(run(wanted))

"""Static (ast) scan of test files, the fallback third drift surface when no report of what the
tests really ran exists: which argv tests hand to the project's CLIs, which falsification ids
they check (`@pytest.mark.falsifies`) and which findings they waive (`@pytest.mark.waives`).
The test files are read, never imported or run (pv.binding.testvisit walks each one); only pv
drift's
identity check (pv.clis.identity) may import the project's own modules a test names."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pv.binding.testsites import (
    BoundCheck,
    InlineWaiver,
    Invocation,
    Site,
    TestScan,
    defined_tests,
    definition_lines,
    site_finding,
)

if TYPE_CHECKING:
    from pv.clis.identity import Identity

SKIP_DIRS = {"__pycache__", ".venv", "venv", "node_modules", ".tox", ".nox", ".git"}


def python_files(folders: tuple[Path, ...]) -> list[Path]:
    """Every .py file under `folders`, sorted, skipping caches and virtualenvs."""
    out: set[Path] = set()
    for folder in folders:
        if folder.is_file() and folder.suffix == ".py":
            out.add(folder)
        elif folder.is_dir():
            out.update(
                p for p in folder.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(folder).parts)
            )
    return sorted(out)


def is_test_file(path: str) -> bool:
    """Whether pytest collects the file (test_*.py, *_test.py) or loads it (conftest.py):
    a helper module that does not parse is not a test file that does not."""
    name = path.rsplit("/", 1)[-1]
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def scan(
    root: Path,
    folders: tuple[Path, ...],
    apps: Mapping[str, str],
    scripts: Mapping[str, str] | None = None,
    identity: Identity | None = None,
) -> TestScan:
    """Scan the .py files under `folders`; `apps` maps CLI names to `module:attribute`,
    `scripts` program names to the app they run (a console script named otherwise), and
    `identity` says which app an object a test imports under another name is."""
    from pv.binding.testvisit import Context, Visitor, fixtures_of, module_name

    trees: list[tuple[str, ast.Module]] = []
    files, broken = [], []
    for path in python_files(folders):
        rel = _relative(path, root)
        files.append(rel)
        try:
            trees.append((rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)))
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            if is_test_file(rel):
                line = getattr(exc, "lineno", None) or 1
                broken.append(Site(file=rel, line=line, column=1, test=str(exc)))
    context = Context(apps, scripts or {}, identity)
    for rel, tree in trees:  # fixtures a conftest defines are usable from every test file
        if rel.endswith("conftest.py"):
            context.share(fixtures_of(tree, module_name(rel, root), context))
    invocations, bound, waivers, local = [], [], [], set()
    for rel, tree in trees:
        visitor = Visitor(rel, module_name(rel, root), tree, context)
        visitor.visit(tree)
        invocations.extend(visitor.invocations)
        bound.extend(visitor.bound)
        waivers.extend(visitor.waivers)
        local.update(visitor.local_commands)
    return TestScan(
        files=tuple(files),
        invocations=tuple(invocations),
        bound=tuple(bound),
        broken=tuple(broken),
        waivers=tuple(waivers),
        local_commands=frozenset(local),
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


__all__ = [
    "BoundCheck",
    "InlineWaiver",
    "Invocation",
    "Site",
    "TestScan",
    "defined_tests",
    "definition_lines",
    "is_test_file",
    "python_files",
    "scan",
    "site_finding",
]

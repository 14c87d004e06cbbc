"""`pv scaffold`: a failing pytest stub for every id of a contract that no check binds yet, so
the work left is visible and `pytest --pv-strict` stays red until each check is written.
A stub never passes, and existing tests are never rewritten: new stubs are appended."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pv.binding.bind import DeclaredId
from pv.core import atomic

HEADER = '''"""Checks for the falsification ids of {contract}, scaffolded by `pv scaffold`.

Each stub fails until it is written: replace its `pytest.fail` with the check its
prediction describes, and name the deliberate breaks it must catch with
@pytest.mark.mutants(...) (`pv falsify --mutants`)."""

from __future__ import annotations

import pytest
'''

STUB = '''

@pytest.mark.falsifies("{id}")
def {name}() -> None:
    """{id}: {rule}

    Prediction: {prediction}
    If it fails: {if_fails}
    """
    pytest.fail("{id} has no check yet: write this test (a stub from pv scaffold)")
'''


@dataclass(frozen=True, slots=True, kw_only=True)
class Scaffolded:
    path: Path
    written: tuple[str, ...]  # ids that got a stub
    bound: tuple[str, ...]  # ids already bound to a check, left alone


def default_target(tests: Path, contract: Path) -> Path:
    """`tests/test_<contract stem>.py`, the stem made an identifier."""
    stem = re.sub(r"\W+", "_", contract.stem).strip("_").lower() or "contract"
    return tests / f"test_{stem}.py"


def scaffold(
    declared: Sequence[DeclaredId], bound: set[str], target: Path, contract: str
) -> Scaffolded:
    """Append a stub to `target` (created with a header when absent) for each declared id
    not in `bound` (the ids some test is already marked for)."""
    todo = [d for d in declared if d.id not in bound]
    done = tuple(d.id for d in declared if d.id in bound)
    if not todo:
        return Scaffolded(path=target, written=(), bound=done)
    text = target.read_text(encoding="utf-8") if target.is_file() else ""
    names = _defined(text, target)
    parts = [text] if text else [HEADER.format(contract=contract)]
    if text and "pytest" not in names:
        parts.append("\nimport pytest  # for the stubs below (pv scaffold)\n")
    for decl in todo:
        name = _unique(_test_name(decl.id), names)
        names.add(name)
        parts.append(
            STUB.format(
                id=decl.id,
                name=name,
                rule=_doc(decl.rule or decl.id),
                prediction=_doc(decl.prediction or "(none stated)"),
                if_fails=_doc(decl.if_fails or "(none stated)"),
            )
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(target, "".join(parts))
    return Scaffolded(path=target, written=tuple(d.id for d in todo), bound=done)


def _defined(text: str, target: Path) -> set[str]:
    """Top-level names `text` defines or imports (a file that does not parse is refused:
    appending to it would hide the error)."""
    if not text:
        return set()
    try:
        tree = ast.parse(text, filename=str(target))
    except SyntaxError as exc:
        raise ValueError(
            f"{target}:{exc.lineno}: does not parse, not appending: {exc.msg}"
        ) from exc
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _test_name(ident: str) -> str:
    return "test_" + (re.sub(r"\W+", "_", ident).strip("_").lower() or "id")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


def _doc(text: str) -> str:
    """Contract prose made safe inside a triple-quoted docstring, on one line."""
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')

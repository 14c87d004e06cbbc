"""What a scan of test files finds, as plain data: the places in test files, the argv a test
hands to a CLI, the falsifies markers and the waivers. Below pv.binding.testvisit (which finds them)
and pv.binding.testscan (which runs the scan), so neither imports the other."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from pv.core.findings import Finding


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A place in a test file: repo-relative file, 1-based line/column, enclosing test."""

    file: str
    line: int
    column: int
    test: str

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.test}" if self.test else self.file


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """A test running `app` with `argv` (None for an element the scan cannot read)."""

    site: Site
    app: str
    argv: tuple[str | None, ...]
    via: str  # "marker", "clirunner", "subprocess" or "argv"
    expects_error: bool = False  # made inside `pytest.raises(...)`: a refusal is the point

    @property
    def words(self) -> tuple[str, ...]:
        """The leading words before the first option or unreadable element."""
        out: list[str] = []
        for item in self.argv:
            if item is None or item.startswith("-"):
                break
            out.append(item)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundCheck:
    """A test marked `@pytest.mark.falsifies(*ids)`."""

    site: Site
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class InlineWaiver:
    """A test marked `@pytest.mark.waives(rule, reason=...)`."""

    site: Site
    rule: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TestScan:
    files: tuple[str, ...]
    invocations: tuple[Invocation, ...]
    bound: tuple[BoundCheck, ...]
    broken: tuple[Site, ...]  # files that do not parse; `test` holds the syntax error
    waivers: tuple[InlineWaiver, ...] = ()
    # command names test files define themselves (a plugin's command registered in a test)
    local_commands: frozenset[str] = field(default_factory=frozenset)


def site_finding(rule: str, site: Site, message: str, severity: str = "error") -> Finding:
    """A finding at a place in a test file, naming the test it is in."""
    where = f"{site.test}: " if site.test and rule != "DRIFT-051" else ""
    return Finding(
        rule=rule,
        severity=severity,  # type: ignore[arg-type]  # Finding validates it
        file=site.file,
        line=site.line,
        column=site.column,
        path="$",
        message=where + message,
        subjects=(site.nodeid,) if site.test else (),
    )


def defined_tests(source: str) -> set[str]:
    """Qualified names of the functions and classes a module defines: `f`, `TestC::test_m`."""
    return set(definition_lines(source))


def definition_lines(source: str) -> dict[str, int]:
    """Qualified name -> line of each function and class a module defines."""
    names: dict[str, int] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names[prefix + node.name] = node.lineno
                if isinstance(node, ast.ClassDef):
                    walk(node.body, f"{prefix}{node.name}::")

    walk(ast.parse(source).body, "")
    return names

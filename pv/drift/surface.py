"""The tests' side of drift: which commands the tests exercise, and which argv a CLI refused.
Taken from the CLI calls a --pv-report recorded (what the tests really ran, pv.clis.observe) when
there is one, else from the static scan of the test files (pv.binding.testscan). Every argv is
resolved by the CLI's own parser (pv.clis.dispatch), so global options, default subcommands and
aliases count as the program counts them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pv.binding.testscan import Invocation, Site, TestScan, definition_lines
from pv.clis.apps import App
from pv.clis.clispec import CommandSpec
from pv.clis.dispatch import Dispatch, dispatch
from pv.clis.identity import Identity
from pv.core.config import PvConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class Exercise:
    """What one call reached: full command paths (`tool`, `tool sub`), and the path it named
    that the CLI refused. `judged` is False where a refusal is no drift: the test that made
    it passed, so refusing is what it tests."""

    site: Site
    via: str
    reached: tuple[str, ...]
    refused: str | None = None
    refused_word: str | None = None
    judged: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Surface:
    kind: str  # observed | static | observed+static
    detail: str  # which surface, in words, for the summary
    exercises: tuple[Exercise, ...]
    where: str = ""  # qualifies "no test" in DRIFT-010 ("in the run recorded in r.json")
    problem: str | None = None  # a report that was asked for but cannot be read


def surface_of(
    config: PvConfig,
    apps: Mapping[str, App],
    known: Sequence[CommandSpec],
    scanned: TestScan,
    report: Path | None,
    identity: Identity | None = None,
) -> Surface:
    tree = _Tree(known)
    static = tuple(_static(inv, apps, tree) for inv in scanned.invocations)
    files = f"{len(scanned.files)} test files"
    if report is None:
        detail = f"static scan of {files} (set [tool.pv].report to judge by what tests run)"
        return Surface(kind="static", detail=detail, exercises=static)
    shown = _rel(report, config.root)
    if not report.is_file():
        detail = f"static scan of {files} (no report at {shown} yet: run pytest to write it)"
        return Surface(kind="static", detail=detail, exercises=static)
    record, problem = _read(report)
    if record is None:
        detail = f"static scan of {files} ({problem or 'the report recorded no CLI calls'})"
        return Surface(kind="static", detail=detail, exercises=static, problem=problem)
    index = _Sites(config.root)
    observed = tuple(
        _observed(call, apps, tree, index)
        for call in (_named_app(c, identity) for c in record["calls"])
        if call is not None
    )
    tests = record.get("tests", 0)
    if record.get("complete", False):
        detail = f"the CLI calls {tests} tests made, recorded in {shown}"
        where = f"in the run recorded in {shown} "
        return Surface(kind="observed", detail=detail, exercises=observed, where=where)
    partial = record.get("partial") or "a partial run"
    detail = f"the calls recorded in {shown} ({partial}) and a static scan of {files}"
    fallback = tuple(
        Exercise(site=e.site, via=e.via, reached=e.reached, judged=False) for e in static
    )
    return Surface(kind="observed+static", detail=detail, exercises=observed + fallback)


class _Tree:
    """Command paths and aliases, for naming a chain of subcommand names by canonical path."""

    def __init__(self, known: Sequence[CommandSpec]) -> None:
        self.paths = {c.path for c in known}
        self.groups = {c.path for c in known if c.is_group}
        self.aliases = {
            f"{c.path.rpartition(' ')[0]} {alias}": c.path for c in known for alias in c.aliases
        }

    def path(self, app: str, chain: Sequence[str]) -> str:
        path = app
        for name in chain:
            candidate = f"{path} {name}"
            path = self.aliases.get(candidate, candidate)
        return path

    def walk(self, app: str, argv: Sequence[str | None]) -> Dispatch:
        """How the registry says `argv` dispatches, for an app that cannot be loaded: words
        up to the first option, each a subcommand while the path is a group."""
        chain: list[str] = []
        reached: list[tuple[str, ...]] = [()]
        for word in argv:
            if word is None or word.startswith("-"):
                break
            if self.path(app, chain) not in self.groups:
                break
            if self.path(app, [*chain, word]) not in self.paths:
                return Dispatch(reached=tuple(reached), refused=(tuple(chain), word))
            chain.append(word)
            reached.append(tuple(chain))
        return Dispatch(reached=tuple(reached))


def _resolve(
    app: str, argv: Sequence[str | None], apps: Mapping[str, App], tree: _Tree
) -> Dispatch:
    if app in apps:
        return dispatch(apps[app].cli, app, argv)
    return tree.walk(app, argv)


def _exercise(
    site: Site, via: str, app: str, result: Dispatch, tree: _Tree, judged: bool
) -> Exercise:
    reached = tuple(tree.path(app, chain) for chain in result.reached)
    if result.refused is None:
        return Exercise(site=site, via=via, reached=reached, judged=judged)
    at, word = result.refused
    refused = f"{tree.path(app, at)} {word}"
    return Exercise(
        site=site, via=via, reached=reached, refused=refused, refused_word=word, judged=judged
    )


def _static(inv: Invocation, apps: Mapping[str, App], tree: _Tree) -> Exercise:
    if inv.via == "marker":
        path = tree.path(inv.app, inv.words)
        if path in tree.paths:
            return Exercise(site=inv.site, via=inv.via, reached=(path,))
        return Exercise(
            site=inv.site,
            via=inv.via,
            reached=(),
            refused=" ".join((inv.app, *inv.words)),
            refused_word=inv.words[-1] if inv.words else inv.app,
        )
    result = _resolve(inv.app, inv.argv, apps, tree)
    return _exercise(inv.site, inv.via, inv.app, result, tree, not inv.expects_error)


def _named_app(call: Mapping[str, Any], identity: Identity | None) -> Mapping[str, Any] | None:
    """The app of a call the recorder could not name: a `python -m MODULE`, or a command
    whose app the tests imported under another name (named by the function it runs)."""
    if call.get("app") or identity is None:
        return call if call.get("app") else None
    if "module" in call or "creator" in call:
        app = (
            identity.of_module(str(call["module"]))
            if "module" in call
            else identity.of_creator(str(call["creator"]))
        )
        return {**call, "app": app} if app is not None else None
    found = identity.of_callback(str(call.get("origin", "")))
    if found is None:
        return None
    app, chain = found
    refused = call.get("refused")
    return {
        **call,
        "app": app,
        "commands": [list(chain), *([*chain, *c] for c in call.get("commands", []))],
        "refused": {**refused, "at": [*chain, *refused["at"]]} if refused else None,
    }


def _observed(
    call: Mapping[str, Any], apps: Mapping[str, App], tree: _Tree, sites: _Sites
) -> Exercise:
    app, via = call["app"], call["via"]
    site = sites.site(call.get("test", ""))
    judged = call.get("outcome") != "passed"
    if via == "subprocess":
        result = _resolve(app, call.get("argv", []), apps, tree)
    else:
        refused = call.get("refused")
        result = Dispatch(
            reached=((), *(tuple(c) for c in call.get("commands", []))),
            refused=(tuple(refused["at"]), refused["word"]) if refused else None,
        )
    return _exercise(site, via, app, result, tree, judged)


class _Sites:
    """Where a test is written, from its node id (the line of its `def`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, dict[str, int]] = {}

    def site(self, nodeid: str) -> Site:
        file, _, test = nodeid.partition("::")
        test = test.split("[", 1)[0]
        if file not in self._lines:
            try:
                source = (self.root / file).read_text(encoding="utf-8") if file else ""
                self._lines[file] = definition_lines(source)
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                self._lines[file] = {}
        line = self._lines[file].get(test, 1)
        return Site(file=file or "pyproject.toml", line=line, column=1, test=test)


def _read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The report's record of CLI calls, or (None, why not)."""
    from pv.binding.idreport import ReportError, read

    try:
        report = read(path)
    except ReportError as exc:
        return None, str(exc)
    return report.get("cli"), None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


__all__ = ["Exercise", "Surface", "surface_of"]

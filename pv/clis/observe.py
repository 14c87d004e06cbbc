"""What the tests really ran: while a pytest session writes a --pv-report, every invocation of
one of the project's CLIs is recorded with the test that made it. In process: each command a
click or typer CLI makes a context for (after default subcommands and global options), each
subparser argparse selects, and a subcommand name either refused. Subprocesses of the project's
own programs (a console script, `python -m pkg`): their argv, which `pv drift` resolves with
the CLI's own parser. pv.drift.drift reads these records instead of guessing from the test files."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import weakref
from collections.abc import Iterator, Mapping
from typing import Any, TypedDict

from pv.clis.intercept import (
    ArgparseListener,
    ClickListener,
    Origins,
    Patch,
    entry_code,
    stack_codes,
)


class Refusal(TypedDict):
    at: list[str]  # the group's path below the app
    word: str  # the subcommand name it refused


class CliCall(TypedDict, total=False):
    """One recorded invocation, as the --pv-report JSON holds it."""

    test: str  # the node id of the test that made it ("" during collection)
    app: str  # the [tool.pv].apps name
    via: str  # click | typer | argparse | subprocess
    commands: list[list[str]]  # each command reached, as its path below the app
    refused: Refusal | None
    argv: list[str]  # subprocess only: the arguments after the program
    module: str  # subprocess of `python -m MODULE`: which app it runs, pv drift finds out
    origin: str  # `module:qualname` of the root's callback, when its app was not loaded
    creator: str  # `module:qualname` of the function that made a parser no app was found for
    outcome: str  # the test's outcome: passed | failed | skipped


def programs(apps: Mapping[str, str], scripts: Mapping[str, str]) -> dict[str, str]:
    """Program name -> app: each app by its own name, and each console script whose target is
    an app's target (a project often names its app after the script)."""
    out = {name: name for name in apps}
    by_target = {target: name for name, target in apps.items()}
    for script, target in scripts.items():
        if target in by_target:
            out.setdefault(script, by_target[target])
    return out


class Recorder:
    """Listens to every CLI call of one pytest process; `test` names the running test."""

    def __init__(self, apps: Mapping[str, str], scripts: Mapping[str, str]) -> None:
        self.apps = dict(apps)
        self.programs = programs(apps, scripts)
        self.test = ""
        self.calls: list[CliCall] = []
        self._patch = Patch()
        self._origins = Origins()
        self._click = ClickListener(self._on_context, self._on_click_refuse)
        self._argparse = ArgparseListener(self._on_parser, self._on_select, self._on_refuse)
        self._contexts: weakref.WeakKeyDictionary[Any, tuple[CliCall, list[str]]] = (
            weakref.WeakKeyDictionary()
        )
        self._typer_of: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._typer = False

    # --- installing ---------------------------------------------------------------------------

    def install(self) -> None:
        import argparse

        import click

        self._origins.install(self._patch, argparse.ArgumentParser)
        self._origins.install(self._patch, click.Command)
        self._argparse.install(self._patch)
        self._click.install(self._patch)
        self._patch.wrap(subprocess.Popen, "__init__", self._popen)
        self.refresh()

    def refresh(self) -> None:
        """Listen to typer too once the tests have imported it (cheap when nothing is new).
        A typer pv cannot listen to is not listened to: the test run goes on."""
        if self._typer or "typer.main" not in sys.modules:
            return
        self._typer = True
        with contextlib.suppress(Exception):
            self._listen_to_typer()

    def _listen_to_typer(self) -> None:
        self._click.install(self._patch)
        typer_main = sys.modules["typer.main"]
        self._patch.wrap(typer_main, "get_command", self._get_command)
        testing = sys.modules.get("typer.testing")
        if testing is not None and hasattr(testing, "_get_command"):
            self._patch.wrap(testing, "_get_command", self._get_command)

    def uninstall(self) -> None:
        self._patch.undo()

    # --- which app a CLI object is ------------------------------------------------------------

    def _loaded(self, target: str) -> Any:
        """The object `module:attr` names, if the tests have imported its module (never
        imported here: a recorder must not change what a test session imports)."""
        module_name, _, attr = target.partition(":")
        obj: Any = sys.modules.get(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part, None)
        return obj

    def _app_of(self, cli: Any) -> tuple[str, list[str]] | None:
        """(app, chain): the app whose object `cli` is (or one of its subcommands, at that
        chain), whose typer app made it, or whose entry function made it or is running it now
        (a `main(argv)` that builds its parser inside)."""
        running = None
        for name, target in self.apps.items():
            obj = self._loaded(target)
            if obj is None:
                continue
            made_by = self._typer_of.get(cli)
            if obj is cli or made_by is obj:
                return name, []
            chain = subcommand_chain(obj, made_by if made_by is not None else cli)
            if chain is not None:
                return name, chain
            code = entry_code(obj) if callable(obj) and not hasattr(obj, "params") else None
            if code is None:
                continue
            if self._origins.made_by(cli, code):
                return name, []
            running = running if running is not None else stack_codes()
            if code in running:
                return name, []
        return None

    def _get_command(self, original: Any) -> Any:
        def get_command(app: Any, *args: Any, **kwargs: Any) -> Any:
            command = original(app, *args, **kwargs)
            self._typer_of[command] = app
            return command

        return get_command

    def _start(self, app: str, via: str) -> CliCall:
        call = CliCall(test=self.test, app=app, via=via, commands=[], refused=None)
        self.calls.append(call)
        return call

    # --- click and typer ----------------------------------------------------------------------

    def _on_context(self, ctx: Any) -> None:
        parent = ctx.parent
        if ctx in self._contexts:
            return  # a group parses again to report a bad option: still the same command
        if parent is None:
            via = "typer" if ctx.command in self._typer_of else "click"
            root = self._app_of(ctx.command)
            if root is not None:
                app, start = root
                call = self._start(app, via)
                self._contexts[ctx] = (call, start)
                if start:
                    call["commands"].append(start)
                return
            origin = callback_origin(ctx.command)
            if origin is not None and _package(origin) in self.packages:
                # the app's object is not loaded here (the tests imported it under another
                # name): which app, and where in it, pv drift finds from the callback
                call = self._start("", via)
                call["origin"] = origin
                self._contexts[ctx] = (call, [])
            return
        found = self._contexts.get(parent)
        if found is None:
            return
        call, chain = found
        name = _canonical(parent.command, ctx.command, ctx.info_name)
        chain = [*chain, name]
        self._contexts[ctx] = (call, chain)
        call["commands"].append(chain)

    def _on_click_refuse(self, ctx: Any, word: str) -> None:
        found = self._contexts.get(ctx)
        if found is not None:
            found[0]["refused"] = Refusal(at=list(found[1]), word=word)

    # --- argparse -----------------------------------------------------------------------------

    def _on_parser(self, parser: Any) -> CliCall | None:
        found = self._app_of(parser)
        if found is not None:
            return self._start(found[0], "argparse")
        made_by = self._origins.creator(parser)
        if made_by and _package(made_by) in self.packages:
            # made apart from the app's entry (a test builds the parser itself): pv drift
            # matches the function that made it with the one that makes the app's parser
            call = self._start("", "argparse")
            call["creator"] = made_by
            return call
        return None

    def _on_select(self, call: CliCall, chain: list[str]) -> None:
        call["commands"].append(chain)

    def _on_refuse(self, call: CliCall, chain: list[str], word: str) -> None:
        call["refused"] = Refusal(at=chain, word=word)

    # --- subprocesses -------------------------------------------------------------------------

    def _popen(self, original: Any) -> Any:
        def __init__(popen: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
            with contextlib.suppress(Exception):  # reading an argv must never break a test
                self._subprocess(args, bool(kwargs.get("shell")))
            original(popen, args, *rest, **kwargs)

        return __init__

    def _subprocess(self, args: Any, shell: bool) -> None:
        argv = _argv(args, shell)
        if not argv:
            return
        program = os.path.basename(argv[0]).removesuffix(".exe")
        app = self.programs.get(program)
        if app is not None:
            call = self._start(app, "subprocess")
            call["argv"] = argv[1:]
            return
        module = python_module(argv)
        if module is not None and _package(module[0]) in self.packages:
            # which app a module runs is pv drift's to find out, importing it (never here)
            call = self._start("", "subprocess")
            call["module"], call["argv"] = module

    @property
    def packages(self) -> set[str]:
        return {_package(target) for target in self.apps.values()}


def _canonical(group: Any, command: Any, word: str) -> str:
    """The name a command is registered under in its group (an alias resolves to it)."""
    name = getattr(command, "name", None)
    commands = getattr(group, "commands", None)
    if isinstance(name, str) and isinstance(commands, dict) and commands.get(name) is command:
        return name
    return str(word)


def _argv(args: Any, shell: bool) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        return shlex.split(text) if shell else [text]
    return [os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a) for a in args]


def _package(origin: str) -> str:
    """The top-level package of `module:qualname` (or of a dotted module name)."""
    return origin.partition(":")[0].split(".")[0]


def _is_python(program: str) -> bool:
    return program == sys.executable or os.path.basename(program).startswith("python")


def python_module(argv: list[str]) -> tuple[str, list[str]] | None:
    """(module, its arguments) for `python -m MODULE ...`, seen through `python -m coverage
    run [options] -m MODULE ...`; None for any other command line."""
    if not argv or not _is_python(argv[0]) or argv[1:2] != ["-m"] or len(argv) < 3:
        return None
    module, rest = argv[2], argv[3:]
    if module == "coverage" and rest[:1] == ["run"] and "-m" in rest:
        at = rest.index("-m")
        return (rest[at + 1], rest[at + 2 :]) if len(rest) > at + 1 else None
    return module, rest


def callback_origin(command: Any) -> str | None:
    """`module:qualname` of the function a click or typer command runs (through decorators),
    which names it across processes and imports."""
    import inspect

    callback = getattr(command, "callback", None)
    if callback is None:
        return None
    try:
        func = inspect.unwrap(callback)
    except ValueError:
        return None
    module, name = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    return f"{module}:{name}" if isinstance(module, str) and isinstance(name, str) else None


def tree_origins(cli: Any) -> dict[str, list[str]]:
    """callback origin -> the chain of names it sits at, for a click-family command tree."""
    out: dict[str, list[str]] = {}
    for node, chain in _walk(cli):
        origin = callback_origin(node)
        if origin is not None:
            out.setdefault(origin, chain)
    return out


def subcommand_chain(app: Any, cli: Any) -> list[str] | None:
    """The chain of names under which `cli` is a subcommand of the click or typer `app` (a
    test may invoke a subcommand's own object), or None."""
    return next((chain for node, chain in _walk(app) if node is cli and chain), None)


def _walk(root: Any) -> Iterator[tuple[Any, list[str]]]:
    """Every command under `root` once, with the chain of names it sits at. Groups are walked
    through their `commands` (and a typer app through the groups it registers), never by
    calling a lazy group's loader."""
    todo: list[tuple[Any, list[str]]] = [(root, [])]
    seen: set[int] = set()
    while todo:
        node, chain = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node, chain
        todo += [(child, [*chain, name]) for name, child in _children(node)]


def _children(node: Any) -> list[tuple[str, Any]]:
    commands = getattr(node, "commands", None)
    if isinstance(commands, dict):
        return [(str(k), v) for k, v in commands.items()]
    out: list[tuple[str, Any]] = []
    for info in getattr(node, "registered_groups", None) or []:
        name = getattr(info, "name", None)
        sub = getattr(info, "typer_instance", None)
        if isinstance(name, str) and sub is not None:
            out.append((name, sub))
    return out


def dedupe(calls: list[CliCall]) -> list[CliCall]:
    """One record per distinct call, in the order first seen."""
    seen: dict[str, CliCall] = {}
    for call in calls:
        seen.setdefault(json.dumps(call, sort_keys=True), call)
    return list(seen.values())

"""Where pv listens to a CLI without changing what it does: the few methods through which click,
typer's own click and argparse make a command's context, pick a subcommand or refuse one, and
through which a program starts a subprocess. Each is wrapped for a while and restored exactly,
for the recorder of the tests' CLI calls (pv.clis.observe), for asking a CLI how it dispatches an
argv (pv.clis.dispatch) and for finding the parser a `main(argv)` builds (pv.clis.apps)."""

from __future__ import annotations

import argparse
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType
from typing import Any

_MISSING = object()
STACK_DEPTH = 128  # frames looked at when a parser is made; a CLI builds its parser near the top


class Patch:
    """Attributes replaced on classes for a while, restored in reverse order by `undo`."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace `owner.name` (the attribute `owner` itself defines, else the inherited one)
        by `make(original)`."""
        original = getattr(owner, name)
        self._undo.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, make(original))

    def undo(self) -> None:
        while self._undo:
            owner, name, old = self._undo.pop()
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


_QUIET = threading.local()


@contextmanager
def quiet() -> Iterator[None]:
    """pv's own parsing (asking a CLI how it dispatches an argv) is no call a test made."""
    before = getattr(_QUIET, "on", False)
    _QUIET.on = True
    try:
        yield
    finally:
        _QUIET.on = before


def is_quiet() -> bool:
    return bool(getattr(_QUIET, "on", False))


@dataclass(frozen=True, slots=True)
class ClickFamily:
    """One click implementation: the Command class whose `parse_args` every command of an
    invocation passes through (root first, `--help` included), and the group classes that
    resolve a subcommand name themselves (click's Group; typer's TyperGroup does not call it)."""

    name: str
    command: type
    resolvers: tuple[type, ...]
    usage_error: type[BaseException]


def click_families() -> list[ClickFamily]:
    """click, and typer's own copy of it where typer is imported (typer >= 0.2x)."""
    import click

    group = next(c for c in click.Group.__mro__ if "resolve_command" in c.__dict__)
    base = next(c for c in click.Command.__mro__ if "parse_args" in c.__dict__)
    out = [ClickFamily("click", base, (group,), click.UsageError)]
    typer_core = sys.modules.get("typer.core")
    fork = sys.modules.get("typer._click.core")
    errors = sys.modules.get("typer._click.exceptions")
    if typer_core is not None and fork is not None and errors is not None:
        resolvers = tuple(
            cls for cls in (getattr(typer_core, "TyperGroup", None),) if isinstance(cls, type)
        )
        out.append(ClickFamily("typer", fork.Command, resolvers, errors.UsageError))
    return out


def stack_codes(skip: int = 1) -> frozenset[CodeType]:
    """The code objects of the calling frames: who is making a parser, or running a CLI."""
    frame = sys._getframe(skip + 1)
    codes: list[CodeType] = []
    while frame is not None and len(codes) < STACK_DEPTH:
        codes.append(frame.f_code)
        frame = frame.f_back  # type: ignore[assignment]
    return frozenset(codes)


def entry_code(obj: Any) -> CodeType | None:
    """The code object of a function (through decorators), to find it on a stack."""
    import inspect

    try:
        func = inspect.unwrap(obj)
    except ValueError:
        return None
    code = getattr(func, "__code__", None)
    return code if isinstance(code, CodeType) else None


class Origins:
    """Which code was running when each parser or command was made (weakly kept), so a CLI
    object can be traced to the `main`, `build_parser` or factory that made it."""

    def __init__(self) -> None:
        self._made: weakref.WeakKeyDictionary[Any, frozenset[CodeType]] = (
            weakref.WeakKeyDictionary()
        )
        self._creator: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def install(self, patch: Patch, cls: type) -> None:
        made, creators = self._made, self._creator

        def make(original: Callable[..., None]) -> Callable[..., None]:
            def __init__(obj: Any, *args: Any, **kwargs: Any) -> None:
                original(obj, *args, **kwargs)
                made[obj] = stack_codes()
                creators.setdefault(obj, creator())

            return __init__

        patch.wrap(cls, "__init__", make)

    def made_by(self, obj: Any, code: CodeType) -> bool:
        return code in self._made.get(obj, frozenset())

    def creator(self, obj: Any) -> str | None:
        """`module:qualname` of the function that made `obj` (pv's own frames and the CLI
        libraries' skipped): the same in a test run and in pv drift's reading of the app."""
        return self._creator.get(obj)


_LIBRARIES = ("argparse", "click", "typer", "pv", "importlib", "functools")


def creator() -> str:
    """`module:qualname` of the innermost calling frame outside the CLI libraries and pv."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.split(".")[0] not in _LIBRARIES:
            code = frame.f_code
            return f"{module}:{getattr(code, 'co_qualname', code.co_name)}"
        frame = frame.f_back
    return ""


class ArgparseListener:
    """The subparsers one root `parse_known_args` selects, and the name it refused. `on_root`
    sees each root parser and returns a token to follow it by (None: not listened to);
    `on_select` gets (token, chain of canonical names), `on_refuse` (token, chain, word)."""

    def __init__(
        self,
        on_root: Callable[[argparse.ArgumentParser], Any],
        on_select: Callable[[Any, list[str]], None],
        on_refuse: Callable[[Any, list[str], str], None],
        *,
        heed_quiet: bool = True,
    ) -> None:
        self.on_root, self.on_select, self.on_refuse = on_root, on_select, on_refuse
        self.heed_quiet = heed_quiet
        self._local = threading.local()

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] | None = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = {"depth": 0, "token": None, "chain": []}
        return state

    def install(self, patch: Patch) -> None:
        patch.wrap(argparse.ArgumentParser, "parse_known_args", self._parse)
        patch.wrap(argparse._SubParsersAction, "__call__", self._select)
        patch.wrap(argparse.ArgumentParser, "_check_value", self._check)

    def _parse(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def parse_known_args(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
            state = self._state()
            root = state["depth"] == 0
            if root:
                token = None if self.heed_quiet and is_quiet() else self.on_root(parser)
                state["token"], state["chain"] = token, []
            state["depth"] += 1
            try:
                return original(parser, *args, **kwargs)
            finally:
                state["depth"] -= 1
                if root:
                    state["token"] = None

        return parse_known_args

    def _select(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def __call__(action: Any, parser: Any, namespace: Any, values: Any, *rest: Any) -> Any:
            state = self._state()
            if state["token"] is not None and values and values[0] in action.choices:
                chosen = action.choices[values[0]]
                canonical = next(k for k, p in action.choices.items() if p is chosen)
                state["chain"] = [*state["chain"], canonical]
                self.on_select(state["token"], list(state["chain"]))
            return original(action, parser, namespace, values, *rest)

        return __call__

    def _check(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def _check_value(parser: Any, action: Any, value: Any) -> Any:
            try:
                return original(parser, action, value)
            except argparse.ArgumentError:
                state = self._state()
                token = state["token"]
                if token is not None and isinstance(action, argparse._SubParsersAction):
                    self.on_refuse(token, list(state["chain"]), str(value))
                raise

        return _check_value


class ClickListener:
    """Every command a click-family CLI parses arguments for (one per command reached, root
    first), and the subcommand name a group refused. Callbacks get the command's context, or
    the group's context and the refused word. A context made by hand (to render help, or by
    pv's own introspection) parses nothing and is not heard."""

    def __init__(
        self, on_context: Callable[[Any], None], on_refuse: Callable[[Any, str], None]
    ) -> None:
        self.on_context, self.on_refuse = on_context, on_refuse
        self.families: set[str] = set()

    def install(self, patch: Patch) -> None:
        """Listen to every click family imported now; call again after typer is imported."""
        for family in click_families():
            if family.name in self.families:
                continue
            self.families.add(family.name)
            patch.wrap(family.command, "parse_args", self._parse)
            for group in family.resolvers:
                patch.wrap(group, "resolve_command", self._resolver(family.usage_error))

    def _parse(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def parse_args(command: Any, ctx: Any, args: Any) -> Any:
            if not is_quiet():
                self.on_context(ctx)
            return original(command, ctx, args)

        return parse_args

    def _resolver(self, usage_error: type[BaseException]) -> Callable[..., Any]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def resolve_command(group: Any, ctx: Any, args: list[str]) -> Any:
                try:
                    return original(group, ctx, args)
                except usage_error:
                    if args and not str(args[0]).startswith("-") and not is_quiet():
                        self.on_refuse(ctx, str(args[0]))
                    raise

            return resolve_command

        return make


@contextmanager
def patched() -> Iterator[Patch]:
    """A Patch undone when the block ends, however it ends."""
    patch = Patch()
    try:
        yield patch
    finally:
        patch.undo()

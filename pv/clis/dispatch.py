"""How a CLI dispatches an argv, asked of the CLI's own parser without running a command: the
commands it reaches (after its global options and any default subcommand) and the subcommand
name it refuses. pv.drift.drift resolves the tests' subprocess calls and the static scan's argv
lists
through it, so a test is judged by what the program would do, not by the words' order."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pv.clis.intercept import ArgparseListener, patched, quiet

# Stands for an argv element the static scan cannot read (a variable): never a command name.
UNKNOWN = "\x00pv-unknown\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispatch:
    """Each command reached, as its path of names below the app (the app itself is `()`), and
    the name refused with the group that refused it. `unread` is True when a word the scan could
    not read stood where a command name goes (the reach below it is unknown, not refused)."""

    reached: tuple[tuple[str, ...], ...]
    refused: tuple[tuple[str, ...], str] | None = None
    unread: bool = False


def dispatch(cli: Any, name: str, argv: Sequence[str | None]) -> Dispatch:
    """Resolve `argv` (None for an unreadable element) with `cli`: a click or typer command
    (typer's own click included) or an argparse parser."""
    args = [UNKNOWN if a is None else str(a) for a in argv]
    with quiet(), contextlib.redirect_stdout(io.StringIO()), _stderr():
        if isinstance(cli, argparse.ArgumentParser):
            return _argparse(cli, args)
        return _click(cli, name, args)


def _stderr() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stderr(io.StringIO())


def _protected(ctx: Any) -> list[str]:
    """The words a group kept back for its subcommand (click 8.2 renamed the attribute)."""
    value = ctx.__dict__.get("_protected_args")
    if value is None:
        value = ctx.__dict__.get("protected_args", [])
    return list(value or [])


def _click(cli: Any, name: str, args: list[str]) -> Dispatch:
    chain: tuple[str, ...] = ()
    reached: list[tuple[str, ...]] = [chain]
    try:
        ctx = cli.make_context(name, list(args), resilient_parsing=True)
        command = cli
        while callable(getattr(command, "resolve_command", None)):
            rest = [*_protected(ctx), *ctx.args]
            if not rest or rest[0].startswith("-"):
                break
            if rest[0] == UNKNOWN:
                return Dispatch(reached=tuple(reached), unread=True)
            first = rest[0]
            word, sub, rest = command.resolve_command(ctx, rest)
            if sub is None:
                return Dispatch(reached=tuple(reached), refused=(chain, first))
            chain = (*chain, _canonical(command, sub, word))
            reached.append(chain)
            ctx = sub.make_context(word, list(rest), parent=ctx, resilient_parsing=True)
            command = sub
    except Exception:  # the CLI's own code refused in its own way: stop there
        pass
    return Dispatch(reached=tuple(reached))


def _canonical(group: Any, command: Any, word: str | None) -> str:
    name = getattr(command, "name", None)
    commands = getattr(group, "commands", None)
    if isinstance(name, str) and isinstance(commands, dict) and commands.get(name) is command:
        return name
    return str(word or name)


def _argparse(parser: argparse.ArgumentParser, args: list[str]) -> Dispatch:
    seen: dict[str, Any] = {"chains": [()], "refused": None}

    def on_select(_token: object, chain: list[str]) -> None:
        seen["chains"].append(tuple(chain))

    def on_refuse(_token: object, chain: list[str], word: str) -> None:
        seen["refused"] = (tuple(chain), word)

    listener = ArgparseListener(
        lambda p: p if p is parser else None, on_select, on_refuse, heed_quiet=False
    )
    with patched() as patch:
        listener.install(patch)
        # a refusal (or --help, --version) ends argparse's parse with SystemExit
        with contextlib.suppress(SystemExit, Exception):
            parser.parse_known_args(args)
    refused = seen["refused"]
    if refused is not None and refused[1] == UNKNOWN:
        return Dispatch(reached=tuple(seen["chains"]), unread=True)
    return Dispatch(reached=tuple(seen["chains"]), refused=refused)

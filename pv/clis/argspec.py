"""Live introspection of argparse parsers, into the same specs as click apps (pv.clis.clispec), so
the registry format and every drift rule are the same whatever a CLI is built with.

Policy, as for click: subparsers are commands (an alias names the same parser), `-h/--help`
is left out, every other option is listed (`--version` included), and a positional is an
argument named as `--help` shows it (its metavar, else its dest). A default is the value
argparse gives the dest when the option is absent (the first action of a dest, then
`set_defaults`), so `--x`/`--no-x` sharing a dest share one default. argparse keeps its
structure in private attributes (`_actions`, `_choices_actions`, `_defaults`); they have been
stable since Python 3.2.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pv.clis.clispec import (
    DYNAMIC,
    CommandSpec,
    JsonScalar,
    ParamSpec,
    callable_name,
    first_line,
    scalar,
)

_FLAG_ACTIONS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._VersionAction,
    argparse.BooleanOptionalAction,
)


def introspect(name: str, parser: argparse.ArgumentParser) -> tuple[CommandSpec, ...]:
    """Every command of `parser` (called `name` on the command line), parents first."""
    return tuple(_walk(name, parser, (), parser.description or ""))


def _walk(
    path: str, parser: argparse.ArgumentParser, aliases: tuple[str, ...], help_text: str
) -> Iterator[CommandSpec]:
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    defaults = resolved_defaults(parser)
    yield CommandSpec(
        path=path,
        description=first_line(help_text or parser.description or ""),
        is_group=sub is not None,
        hidden=False,
        aliases=aliases,
        params=tuple(
            param_spec(a, defaults)
            for a in parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        ),
    )
    if sub is None:
        return
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    names: dict[int, list[str]] = {}
    for key, child in sub.choices.items():
        names.setdefault(id(child), []).append(key)
    for keys in names.values():
        canonical, others = keys[0], tuple(sorted(keys[1:]))  # argparse lists the name first
        child = sub.choices[canonical]
        yield from _walk(f"{path} {canonical}", child, others, helps.get(canonical, ""))


def resolved_defaults(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """dest -> the value argparse puts there when nothing is given, as parse_known_args
    resolves it: the first action naming a dest sets it, then `set_defaults` fills the rest."""
    out: dict[str, Any] = {}
    for action in parser._actions:
        if action.dest is not argparse.SUPPRESS and action.dest not in out:
            out[action.dest] = action.default
    for dest, value in parser._defaults.items():
        out.setdefault(dest, value)
    return out


def param_spec(action: argparse.Action, defaults: dict[str, Any] | None = None) -> ParamSpec:
    """An argparse action as plain data; types and defaults normalised for YAML."""
    is_option = bool(action.option_strings)
    long_flags = [o for o in action.option_strings if o.startswith("--")]
    name = (long_flags or action.option_strings)[0] if is_option else _shown(action)
    help_text = action.help if isinstance(action.help, str) else ""
    return ParamSpec(
        name=name,
        kind="option" if is_option else "argument",
        type=type_name(action),
        default=_default(action, (defaults or {}).get(action.dest, action.default)),
        required=bool(action.required) if is_option else action.nargs not in ("?", "*"),
        multiple=isinstance(action, argparse._AppendAction | argparse._ExtendAction)
        or action.nargs in ("*", "+", argparse.REMAINDER),
        hidden=help_text == argparse.SUPPRESS,
        flags=tuple(sorted(action.option_strings)) if is_option else (),
        description="" if help_text == argparse.SUPPRESS else first_line(_expand(action)),
    )


def _shown(action: argparse.Action) -> str:
    metavar = action.metavar
    if isinstance(metavar, tuple):
        return " ".join(str(m) for m in metavar)
    return str(metavar) if metavar else str(action.dest)


def _expand(action: argparse.Action) -> str:
    """The help text with argparse's `%(default)s`-style fields filled, as --help shows it."""
    text = str(action.help or "")
    try:
        return text % dict(vars(action), prog="")
    except (KeyError, TypeError, ValueError):
        return text


def type_name(action: argparse.Action) -> str:
    """The spelling click options get: `flag`, `count`, `int`, `path`, `choice[a|b]`..."""
    if isinstance(action, argparse._CountAction):
        return "count"
    if isinstance(action, _FLAG_ACTIONS):
        return "flag"
    if action.choices is not None:
        return "choice[" + "|".join(str(c) for c in action.choices) + "]"
    kind = action.type
    if kind is None or kind is str:
        return "text"
    known: dict[Any, str] = {int: "int", float: "float", Path: "path", bool: "bool"}
    if kind in known:
        return known[kind]
    if isinstance(kind, argparse.FileType):
        return "file"
    return callable_name(kind)


def _default(action: argparse.Action, value: Any) -> JsonScalar | list[JsonScalar]:
    if isinstance(action, argparse._VersionAction) or value is argparse.SUPPRESS:
        return False if isinstance(action, argparse._VersionAction) else None
    if callable(value):
        return DYNAMIC
    if isinstance(value, list | tuple):
        return [scalar(v) for v in value]
    if isinstance(action, argparse._CountAction) and value is None:
        return 0
    return scalar(value)

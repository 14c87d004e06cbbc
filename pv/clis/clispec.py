"""Live introspection of click apps (typer apps are click underneath): the first of the
three drift surfaces, and the command specs every kind of CLI is read into (pv.clis.argspec reads
argparse parsers into the same specs; pv.clis.apps loads an app of any kind).

Policy: every command and subcommand is listed, hidden ones included (marked hidden). The
automatic `--help` option is left out (click adds it to every command, it is not a choice
anyone makes); every other option, eager ones such as `--version` included, is listed. A
command registered under a second name in its group is an alias of its canonical entry,
not a command of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click

JsonScalar = None | bool | int | float | str
DYNAMIC = "<dynamic>"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    """One option (`name` is its first long flag, e.g. `--out`) or argument (`name` = `OUT`)."""

    name: str
    kind: str  # "option" or "argument"
    type: str
    default: JsonScalar | list[JsonScalar]
    required: bool
    multiple: bool = False
    hidden: bool = False
    flags: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    """A command addressed by its path from the CLI's name: `distill`, `distill train`."""

    path: str
    description: str
    is_group: bool
    hidden: bool
    aliases: tuple[str, ...]
    params: tuple[ParamSpec, ...]

    @property
    def options(self) -> dict[str, ParamSpec]:
        return {p.name: p for p in self.params}


def introspect(name: str, app: click.Command) -> tuple[CommandSpec, ...]:
    """Every command of `app` (called `name` on the command line), parents before children."""
    return tuple(walk(name, app, click.Context(app, info_name=name), (), param_spec))


def walk(
    path: str,
    cmd: Any,
    ctx: Any,
    aliases: tuple[str, ...],
    to_param: Callable[[Any], ParamSpec | None],
) -> Iterator[CommandSpec]:
    """Walk a click-shaped command tree (click's, or typer's own click-like classes): a
    group lists and gets its children through a context; `to_param` reads one parameter
    (None leaves it out)."""
    is_group = callable(getattr(cmd, "list_commands", None))
    yield CommandSpec(
        path=path,
        description=first_line(cmd.help or cmd.short_help or ""),
        is_group=is_group,
        hidden=bool(cmd.hidden),
        aliases=aliases,
        params=tuple(p for p in map(to_param, cmd.params) if p is not None),
    )
    if not is_group:
        return
    names: dict[int, list[str]] = {}
    children: dict[int, Any] = {}
    for key in cmd.list_commands(ctx):
        child = cmd.get_command(ctx, key)
        if child is not None:
            names.setdefault(id(child), []).append(key)
            children[id(child)] = child
    for ident, keys in names.items():
        child = children[ident]
        canonical = child.name if child.name in keys else sorted(keys)[0]
        others = tuple(sorted(k for k in keys if k != canonical))
        sub = type(ctx)(child, info_name=canonical, parent=ctx)
        yield from walk(f"{path} {canonical}", child, sub, others, to_param)


def param_spec(param: click.Parameter) -> ParamSpec:
    """A click parameter as plain data; types and defaults normalised for YAML."""
    info = param.to_info_dict()
    is_option = isinstance(param, click.Option)
    long_flags = [o for o in param.opts if o.startswith("--")]
    name = (long_flags or list(param.opts))[0] if is_option else argument_name(param)
    return ParamSpec(
        name=name,
        kind="option" if is_option else "argument",
        type=type_name(param),
        default=normalise_default(info.get("default"), param),
        required=bool(param.required),
        multiple=bool(info.get("multiple")) or (not is_option and param.nargs == -1),
        hidden=bool(info.get("hidden", False)),
        flags=tuple(sorted(param.opts + param.secondary_opts)) if is_option else (),
        description=first_line(str(info.get("help") or "")),
    )


def argument_name(param: Any) -> str:
    """An argument by the name `--help` shows: its metavar, else its name in upper case."""
    metavar = getattr(param, "metavar", None)
    return metavar if isinstance(metavar, str) and metavar else str(param.name or "").upper()


def callable_name(func: Any) -> str:
    """A custom type's stable name: its qualified name without `<locals>`; an anonymous
    function is `custom` (its name, `<lambda>`, says nothing)."""
    name = str(getattr(func, "__qualname__", None) or type(func).__qualname__)
    parts = [p for p in name.split(".") if p != "<locals>"]
    return "custom" if not parts or parts[-1] == "<lambda>" else ".".join(parts)


def type_name(param: click.Parameter) -> str:
    """A short, stable spelling of a parameter's type: `int`, `path`, `choice[a|b]`, `flag`."""
    if isinstance(param, click.Option) and param.count:
        return "count"
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    t = param.type
    if isinstance(t, click.Choice):
        return "choice[" + "|".join(str(c) for c in t.choices) + "]"
    if isinstance(t, click.IntRange | click.FloatRange):
        base = "int" if isinstance(t, click.IntRange) else "float"
        low = "" if t.min is None else str(t.min)
        high = "" if t.max is None else str(t.max)
        return f"{base}[{low}..{high}]"
    simple = {
        click.types.IntParamType: "int",
        click.types.FloatParamType: "float",
        click.types.StringParamType: "text",
        click.types.BoolParamType: "bool",
        click.Path: "path",
        click.File: "file",
    }
    for cls, spelled in simple.items():
        if isinstance(t, cls):
            return spelled
    if isinstance(t, click.types.FuncParamType):
        return callable_name(t.func)
    return str(t.name).replace(" ", "-")


def same_type(a: str, b: str) -> bool:
    """Type spellings equal; a choice is the set of values it accepts, in any order (a CLI
    may list them in an order that changes between runs)."""
    if a.startswith("choice[") and b.startswith("choice["):
        return sorted(a[7:-1].split("|")) == sorted(b[7:-1].split("|"))
    return a == b


def normalise_default(value: object, param: click.Parameter) -> JsonScalar | list[JsonScalar]:
    """Defaults as the CLI has them, as YAML can hold them: callables are `<dynamic>`, tuples
    lists, paths text; None stays null (a `--x/--no-x` flag left unset is neither)."""
    if callable(value):
        return DYNAMIC
    if isinstance(value, list | tuple):
        return [scalar(v) for v in value]
    return scalar(value)


def scalar(value: object) -> JsonScalar:
    """A default as YAML holds it: JSON scalars as they are, enums by value, the rest as text
    (a path, a decimal...)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def first_line(text: str) -> str:
    """The first paragraph of a help text, on one line (click wraps docstrings freely)."""
    paragraph = text.strip().split("\n\n")[0]
    return " ".join(paragraph.replace("\b", " ").split()).rstrip(".")

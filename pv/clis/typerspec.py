"""Live introspection of typer apps into the same specs as click apps (pv.clis.clispec). typer up
to 0.2x built real click commands (read by pv.clis.clispec as they are); later versions carry their
own click-like classes, whose parameters know their Python annotation instead of a click
type, so types are spelled here from the annotation, the way pv.clis.clispec spells click's.

Policy, as for click: `--help` and typer's automatic completion options are left out."""

from __future__ import annotations

import enum
import typing
from pathlib import Path
from typing import Any

from pv.clis.clispec import (
    DYNAMIC,
    CommandSpec,
    JsonScalar,
    ParamSpec,
    argument_name,
    callable_name,
    first_line,
    scalar,
    walk,
)

AUTOMATIC = {"install_completion", "show_completion", "help"}
_SIMPLE: dict[Any, str] = {int: "int", float: "float", str: "text", bool: "bool", Path: "path"}


def introspect(name: str, command: Any) -> tuple[CommandSpec, ...]:
    """Every command of typer's command object for an app (typer.main.get_command)."""
    from typer._click import Context  # typer >= 0.2x; the caller checked the kind

    return tuple(walk(name, command, Context(command, info_name=name), (), param_spec))


def param_spec(param: Any) -> ParamSpec | None:
    if param.name in AUTOMATIC:
        return None
    is_option = param.param_type_name == "option"
    long_flags = [o for o in param.opts if o.startswith("--")]
    name = (long_flags or list(param.opts))[0] if is_option else argument_name(param)
    return ParamSpec(
        name=name,
        kind="option" if is_option else "argument",
        type=type_name(param),
        default=_default(param.default, param),
        required=bool(param.required),
        multiple=bool(param.multiple) or param.nargs == -1,
        hidden=bool(param.hidden),
        flags=tuple(sorted([*param.opts, *param.secondary_opts])) if is_option else (),
        description=first_line(str(param.help or "")),
    )


def type_name(param: Any) -> str:
    """`flag`, `count`, `int`, `int[0..9]`, `path`, `choice[a|b]`... as click options get."""
    if getattr(param, "count", False):
        return "count"
    if getattr(param, "is_flag", False):
        return "flag"
    annotation = _item_type(param.type_descriptor.annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "choice[" + "|".join(str(m.value) for m in annotation) + "]"
    if typing.get_origin(annotation) is typing.Literal:
        return "choice[" + "|".join(str(v) for v in typing.get_args(annotation)) + "]"
    spelled = _SIMPLE.get(annotation)
    if spelled in ("int", "float") and (param.min is not None or param.max is not None):
        low = "" if param.min is None else str(param.min)
        high = "" if param.max is None else str(param.max)
        return f"{spelled}[{low}..{high}]"
    if spelled is not None:
        return spelled
    parser = getattr(param, "parser", None) or getattr(param.type_descriptor, "parser", None)
    if callable(parser):
        return callable_name(parser)
    return str(getattr(annotation, "__name__", annotation)).lower().replace(" ", "-")


def _item_type(annotation: Any) -> Any:
    """`list[X]`, `X | None` and `Annotated[X, ...]` -> X."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated or origin in (list, tuple, set):
        return _item_type(typing.get_args(annotation)[0])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is not None and origin is not typing.Literal and len(args) == 1:
        return _item_type(args[0])
    return annotation


def _default(value: Any, param: Any) -> JsonScalar | list[JsonScalar]:
    if callable(value) and not isinstance(value, enum.Enum):
        return DYNAMIC
    if isinstance(value, list | tuple):
        return [scalar(v) for v in value]
    return scalar(value)

"""Load a CLI named in `[tool.pv].apps` (`module:attribute`) and read its commands, whatever it
is built with: a click command or group, a typer app, an `argparse.ArgumentParser`, or a
function of no arguments that returns one of those. Also finds the CLIs of a project that
has no `[tool.pv]` yet (`pv init`), without ever running a program's `main`."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

import click

from pv import argspec, clispec
from pv.clispec import CommandSpec

KINDS = "a click command, a typer app or an argparse parser (or a function returning one)"


class AppImportError(RuntimeError):
    """The configured `module:attribute` cannot be imported or is not a CLI pv can read."""


def load_object(target: str, root: Path | None = None) -> Any:
    """Import `module:attribute`. `root` (the project folder, and `root/src`) is searched
    first, as pytest does, so an app need not be installed."""
    module_name, _, attr = target.partition(":")
    obj = _import(module_name, root)
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise AppImportError(f"cannot import {target}: {type(exc).__name__}: {exc}") from exc
    return obj


def _import(module_name: str, root: Path | None) -> Any:
    """Import with the project's folder (and its `src/`, for a src layout) searched first."""
    paths = [] if root is None else [str(p) for p in (root / "src", root) if p.is_dir()]
    sys.path[:0] = paths
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is the app's, reported as a finding
        raise AppImportError(f"cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    finally:
        for path in paths:
            sys.path.remove(path)


def app_specs(name: str, target: str, root: Path | None = None) -> tuple[CommandSpec, ...]:
    """Every command of the CLI `target` names, called `name` on the command line."""
    return specs_of(name, load_object(target, root), target)


def specs_of(name: str, obj: Any, target: str) -> tuple[CommandSpec, ...]:
    cli = as_cli(obj)
    if cli is None and _is_factory(obj):
        try:
            cli = as_cli(obj())
        except (Exception, SystemExit) as exc:  # the factory is the app's code
            raise AppImportError(f"{target}() failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(cli, click.Command):
        return clispec.introspect(name, cli)
    if isinstance(cli, argparse.ArgumentParser):
        return argspec.introspect(name, cli)
    if cli is not None:
        from pv import typerspec

        return typerspec.introspect(name, cli)
    raise AppImportError(f"{target} is a {type(obj).__name__}, not {KINDS}")


def as_cli(obj: Any) -> Any:
    """`obj` as something pv introspects, or None: click commands and argparse parsers as
    they are, a typer app as the command typer builds for it (a click command up to typer
    0.2x, typer's own click-like command since)."""
    if isinstance(obj, click.Command | argparse.ArgumentParser):
        return obj
    if _is_typer(obj):
        from typer.main import get_command  # the project's own dependency

        return get_command(obj)
    return None


def kind_of(obj: Any) -> str | None:
    """`click`, `typer`, `argparse`, or None: how a CLI object is built."""
    if _is_typer(obj):
        return "typer"
    if isinstance(obj, click.Command):
        return "click"
    if isinstance(obj, argparse.ArgumentParser):
        return "argparse"
    return None


def _is_typer(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "Typer" and cls.__module__.split(".")[0] == "typer"


def _is_factory(obj: Any) -> bool:
    """A plain function that takes no arguments at all. One with an optional `argv` is a
    program's `main`, which pv must never run."""
    if not inspect.isfunction(obj):
        return False
    return not inspect.signature(obj).parameters


def discover(module_name: str, root: Path) -> tuple[str, str] | None:
    """(attribute, kind) of the CLI a module defines, for `pv init`: a module-level click
    group or command, typer app or parser; else a no-argument function whose name says it
    builds a parser (`build_parser`, `make_parser`...), which is called to check. None when
    the module cannot be imported or defines none."""
    try:
        module = _import(module_name, root)
    except AppImportError:
        return None
    members = list(vars(module).items())
    # A group (or typer app, or parser) is the whole CLI; a lone click command may be one of
    # its subcommands, so it comes last.
    ranked = sorted(
        (isinstance(obj, click.Command) and not isinstance(obj, click.Group), attr, kind)
        for attr, obj in members
        if (kind := kind_of(obj)) is not None
    )
    if ranked:
        _, attr, kind = ranked[0]
        return attr, kind
    for attr, obj in members:
        if "parser" in attr.lower() and _is_factory(obj) and obj.__module__ == module_name:
            try:
                kind = kind_of(obj())
            except (Exception, SystemExit):
                continue
            if kind is not None:
                return attr, kind
    return None

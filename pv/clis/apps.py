"""Load a CLI named in `[tool.pv].apps` (`module:attribute`) and read its commands, whatever it
is built with: a click command or group, a typer app, an `argparse.ArgumentParser`, or a
function of no arguments that returns one of those. Also finds the CLIs of a project that
has no `[tool.pv]` yet (`pv init`), without ever running a program's `main`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pv.clis import argspec, clispec
from pv.clis.clispec import CommandSpec
from pv.clis.intercept import Origins, Patch, click_families, patched

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


@dataclass(frozen=True, slots=True, kw_only=True)
class App:
    """A CLI as pv reads it: the object it introspects (a click or typer command, or an
    argparse parser) and every command of it, called `name` on the command line."""

    name: str
    target: str
    obj: Any  # what `target` names: the command, typer app, parser or function
    cli: Any
    specs: tuple[CommandSpec, ...]
    creator: str = ""  # `module:qualname` of the function that made its parser, if pv saw it


def load_app(name: str, target: str, root: Path | None = None) -> App:
    """The CLI `target` names; raises AppImportError saying why it cannot be read."""
    obj = load_object(target, root)
    cli = as_cli(obj)
    origins = Origins()
    if cli is None and callable(obj) and not isinstance(obj, type):
        with patched() as patch:
            origins.install(patch, argparse.ArgumentParser)
            cli = capture(obj, target, name)
    specs = _specs(name, cli, obj, target)
    made_by = origins.creator(cli) or ""
    return App(name=name, target=target, obj=obj, cli=cli, specs=specs, creator=made_by)


def app_specs(name: str, target: str, root: Path | None = None) -> tuple[CommandSpec, ...]:
    """Every command of the CLI `target` names, called `name` on the command line."""
    return load_app(name, target, root).specs


def specs_of(name: str, obj: Any, target: str) -> tuple[CommandSpec, ...]:
    """Every command of the CLI `obj` is, builds or parses with (a `main` function runs only
    until it parses; see `capture`)."""
    cli = as_cli(obj)
    if cli is None and callable(obj) and not isinstance(obj, type):
        cli = capture(obj, target, name)
    return _specs(name, cli, obj, target)


def _specs(name: str, cli: Any, obj: Any, target: str) -> tuple[CommandSpec, ...]:
    if isinstance(cli, click.Command):
        return clispec.introspect(name, cli)
    if isinstance(cli, argparse.ArgumentParser):
        return argspec.introspect(name, cli)
    if cli is not None:
        from pv.clis import typerspec

        return typerspec.introspect(name, cli)
    raise AppImportError(f"{target} is a {type(obj).__name__}, not {KINDS}")


# The one required parameter that says a function takes the command line (pv passes `--help`).
ARGV_NAMES = ("argv", "args", "arguments", "cmdline", "command_line", "cli_args")


class _Captured(BaseException):
    """Raised in place of parsing: carries the CLI a program was about to run. A
    BaseException, so a program's own `except Exception` cannot swallow it."""

    def __init__(self, cli: Any) -> None:
        super().__init__("pv captured the CLI before it parsed anything")
        self.cli = cli


def capture(func: Any, target: str, name: str) -> Any:
    """The CLI a function builds or runs, without running the program: `func()` (or
    `func(["--help"])` when its one required parameter is an argv) is called with
    `sys.argv` set to `[name, "--help"]`, stdin empty and its output discarded, and with
    argparse's parsing, click's and typer's `main` replaced by a raise that carries the parser,
    command or app out. A factory that returns a CLI is read as it returns. Nothing after the
    first parse runs. Raises AppImportError saying why no CLI came out."""
    required = _required_parameters(func)
    given: tuple[Any, ...] = ()
    if len(required) == 1 and required[0] in ARGV_NAMES:
        required, given = [], (["--help"],)  # a dispatch(argv): its argv is never parsed here
    if required:
        raise AppImportError(
            f"{target} needs arguments ({', '.join(required)}): pv can only call a function "
            "that takes none (a factory, or a main(argv=None)); name the CLI object instead"
        )
    with patched() as patch, _isolated(name):
        _intercept_parsing(patch)
        try:
            returned = func(*given)
        except _Captured as got:
            return as_cli(got.cli)
        except SystemExit as exc:
            raise AppImportError(
                f"{target}() exited (code {exc.code}) before it parsed any arguments"
            ) from None
        except Exception as exc:  # the program's own failure, reported as its own
            raise AppImportError(
                f"{target}() raised {type(exc).__name__}: {exc} before it parsed any arguments"
            ) from exc
    cli = as_cli(returned)
    if cli is None:
        raise AppImportError(
            f"{target}() returned {type(returned).__name__} and parsed no arguments: it "
            f"neither builds nor runs {KINDS} that pv can see"
        )
    return cli


def _required_parameters(func: Any) -> list[str]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in params if p.default is p.empty and p.kind not in kinds]


@contextlib.contextmanager
def _isolated(name: str) -> Iterator[None]:
    """argv, stdin, stdout and stderr as a program run with `--help` would see them, restored."""
    saved = sys.argv, sys.stdin
    sys.argv, sys.stdin = [name, "--help"], io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.argv, sys.stdin = saved


def _intercept_parsing(patch: Patch) -> None:
    def raising(_original: Any) -> Any:
        def carry(cli: Any, *args: Any, **kwargs: Any) -> Any:
            raise _Captured(cli)

        return carry

    patch.wrap(argparse.ArgumentParser, "parse_known_args", raising)
    for family in click_families():
        for cls in {family.command, *_subclasses_with_main(family.command)}:
            patch.wrap(cls, "main", raising)
    typer_main = sys.modules.get("typer.main")
    if typer_main is not None:
        patch.wrap(typer_main.Typer, "__call__", raising)


def _subclasses_with_main(base: type) -> list[type]:
    """Loaded subclasses that define `main` themselves (typer's commands do)."""
    out: list[type] = []
    todo: list[type] = list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "main" in cls.__dict__:
            out.append(cls)
    return out


def as_cli(obj: Any) -> Any:
    """`obj` as something pv introspects, or None: click commands and argparse parsers as
    they are, a typer app as the command typer builds for it (a click command up to typer
    0.2x, typer's own click-like command since)."""
    if isinstance(obj, click.Command | argparse.ArgumentParser):
        return obj
    if _is_typer(obj):
        from typer.main import get_command  # the project's own dependency

        return get_command(obj)
    if _is_fork_command(obj):
        return obj
    return None


def kind_of(obj: Any) -> str | None:
    """`click`, `typer`, `argparse`, or None: how a CLI object is built."""
    if _is_typer(obj) or _is_fork_command(obj):
        return "typer"
    if isinstance(obj, click.Command):
        return "click"
    if isinstance(obj, argparse.ArgumentParser):
        return "argparse"
    return None


def _is_typer(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "Typer" and cls.__module__.split(".")[0] == "typer"


def _is_fork_command(obj: Any) -> bool:
    """A command of typer's own click (what a typer app's `main` runs)."""
    fork = sys.modules.get("typer._click.core")
    return fork is not None and isinstance(obj, fork.Command)


# Functions `discover` may call to find a CLI a module builds or runs (run only until parsing).
ENTRY_FUNCTIONS = ("main", "run", "cli", "build_parser", "make_parser", "get_parser", "parser")


def discover(module_name: str, root: Path) -> tuple[str, str] | None:
    """(attribute, kind) of the CLI a module defines, for `pv init`: a module-level click
    group or command, typer app or parser; else a function of the module named like an entry
    point or a parser factory that builds or runs one (see `capture`). None when the module
    cannot be imported or defines none."""
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
    for attr in ENTRY_FUNCTIONS:
        obj = getattr(module, attr, None)
        if inspect.isfunction(obj) and obj.__module__ == module_name:
            try:
                kind = kind_of(capture(obj, f"{module_name}:{attr}", attr))
            except AppImportError:
                continue
            if kind is not None:
                return attr, kind
    return None

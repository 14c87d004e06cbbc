"""Which of the project's CLIs a name in a test file is, found by identity rather than by
spelling: a test imports the app under another module's name (`from tool import cli` where the
entry point says `tool.__main__:cli`), invokes one subcommand's own object, or runs
`python -m tool.cli` where the entry point is `tool.__main__`. pv drift imports the project's
own modules to ask (it imports its CLIs anyway); nothing outside the project is imported."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pv.clis.apps import App
from pv.clis.intercept import entry_code
from pv.clis.observe import callback_origin, subcommand_chain, tree_origins

Found = tuple[str, tuple[str, ...]]  # (app, the subcommand chain below it)


class Identity:
    def __init__(self, apps: Mapping[str, App], root: Path) -> None:
        self.apps = dict(apps)
        self.root = root
        self.packages = {a.target.partition(":")[0].split(".")[0] for a in apps.values()}

    def of_object(self, obj: Any) -> Found | None:
        """The app `obj` is (the target itself, the CLI pv reads, the same function), or one
        of whose subcommands it is; a command or typer app made apart from the one pv reads
        is matched by the function it runs."""
        code = entry_code(obj) if callable(obj) and not hasattr(obj, "params") else None
        for name, app in self.apps.items():
            if obj is app.obj or obj is app.cli:
                return name, ()
            if code is not None and code is entry_code(app.obj):
                return name, ()
            for tree in (app.obj, app.cli):
                chain = subcommand_chain(tree, obj)
                if chain is not None:
                    return name, tuple(chain)
        from pv.clis.apps import as_cli

        try:
            command = as_cli(obj)
        except Exception:  # an object pv cannot read names no app
            return None
        origin = callback_origin(command) if command is not None else None
        return self.of_callback(origin) if origin is not None else None

    def of_creator(self, creator: str) -> str | None:
        """The argparse app whose parser the function `module:qualname` makes."""
        return next((n for n, a in self.apps.items() if creator and a.creator == creator), None)

    def of_callback(self, origin: str) -> Found | None:
        """The app (and chain) whose command runs the function `module:qualname`."""
        for name, app in self.apps.items():
            if app.cli is None or isinstance(app.cli, argparse.ArgumentParser):
                continue
            chain = tree_origins(app.cli).get(origin)
            if chain is not None:
                return name, tuple(chain)
        return None

    def of_origin(self, origin: str) -> Found | None:
        """What a dotted name a test imports (`pkg.mod.attr`) is, importing the longest
        module prefix of it that belongs to the project."""
        if origin.split(".")[0] not in self.packages:
            return None
        parts = origin.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self._module(".".join(parts[:cut]))
            if module is None:
                continue
            obj: Any = module
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            return self.of_object(obj) if obj is not None else None
        return None

    def of_module(self, module: str) -> str | None:
        """The app `python -m MODULE` runs: the one whose target lives in MODULE or its
        `__main__`, else the one whose object MODULE (or its `__main__`) holds."""
        for name, app in self.apps.items():
            if app.target.partition(":")[0] in (module, f"{module}.__main__"):
                return name
        if module.split(".")[0] not in self.packages:
            return None
        for origin in self._main_imports(module):
            found = self.of_origin(origin)
            if found is not None and not found[1]:
                return found[0]
        loaded = self._module(module)
        for value in vars(loaded).values() if loaded is not None else ():
            found = self.of_object(value)
            if found is not None and not found[1]:
                return found[0]
        return None

    def _main_imports(self, package: str) -> list[str]:
        """The dotted origins a package's `__main__.py` imports, read with ast: importing a
        `__main__` would run the program."""
        import ast

        parts = package.split(".")
        for base in (self.root / "src", self.root):
            path = base.joinpath(*parts) / "__main__.py"
            if path.is_file():
                break
        else:
            return []
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return []
        out = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                level = node.level
                base_parts = parts[: len(parts) - level + 1] if level else []
                module = ".".join([*base_parts, *([node.module] if node.module else [])])
                out += [f"{module}.{alias.name}" for alias in node.names]
        return out

    def _module(self, name: str) -> Any:
        if name in sys.modules:
            return sys.modules[name]
        paths = [str(p) for p in (self.root / "src", self.root) if p.is_dir()]
        sys.path[:0] = paths
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                return importlib.import_module(name)
        except (Exception, SystemExit):  # a module that cannot be imported names nothing
            return None
        finally:
            for path in paths:
                sys.path.remove(path)

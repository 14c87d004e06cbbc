"""The programs a project declares, wherever it declares them: PEP 621 `[project.scripts]`,
poetry's `[tool.poetry.scripts]`, setup.cfg's `console_scripts` and a literal `entry_points` in
setup.py (read with ast, never run). `pv init` finds the CLIs behind them; the pytest plugin
knows a subprocess of the project's own program by them."""

from __future__ import annotations

import ast
import configparser
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """A console script: its program name, `module:attr` target and where it is declared."""

    name: str
    target: str
    source: str


def scripts(root: Path) -> list[Script]:
    """Every console script `root` declares, first declaration of a name winning."""
    found: dict[str, Script] = {}
    for script in (*_pyproject(root), *_setup_cfg(root), *_setup_py(root)):
        found.setdefault(script.name, script)
    return list(found.values())


def _target(value: str) -> str:
    """`pkg.mod:attr [extra]` -> `pkg.mod:attr`."""
    return value.split("[", 1)[0].strip()


def _pyproject(root: Path) -> list[Script]:
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # an unreadable pyproject.toml is reported by whoever needs its [tool.pv]
    out: list[Script] = []
    project = data.get("project")
    table = project.get("scripts") if isinstance(project, dict) else None
    for name, value in (table or {}).items() if isinstance(table, dict) else ():
        if isinstance(value, str):
            out.append(Script(name=str(name), target=_target(value), source="[project.scripts]"))
    poetry = data.get("tool", {}).get("poetry", {})
    table = poetry.get("scripts") if isinstance(poetry, dict) else None
    for name, value in (table or {}).items() if isinstance(table, dict) else ():
        ref = value.get("reference") if isinstance(value, dict) else value
        if isinstance(ref, str) and ":" in ref:
            source = "[tool.poetry.scripts]"
            out.append(Script(name=str(name), target=_target(ref), source=source))
    return out


def _setup_cfg(root: Path) -> list[Script]:
    path = root / "setup.cfg"
    if not path.is_file():
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        text = parser.get("options.entry_points", "console_scripts", fallback="")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    return _lines(text.splitlines(), "setup.cfg")


def _lines(lines: list[Any], source: str) -> list[Script]:
    out = []
    for line in lines:
        name, sep, target = str(line).partition("=")
        if sep and name.strip() and ":" in target:
            out.append(Script(name=name.strip(), target=_target(target), source=source))
    return out


def _setup_py(root: Path) -> list[Script]:
    path = root / "setup.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "entry_points":
                    return _lines(_console_scripts(keyword.value), "setup.py")
    return []


def _console_scripts(node: ast.expr) -> list[Any]:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return []
    scripts = value.get("console_scripts") if isinstance(value, dict) else None
    if isinstance(scripts, str):
        return scripts.splitlines()
    return list(scripts) if isinstance(scripts, list | tuple) else []

"""Where a project keeps its contracts, tests, registry and CLIs: read once from `[tool.pv]`
in pyproject.toml, so `pv drift` and `pv gate` need no flags in CI or pre-commit."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pv.core.waivers import Waiver

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """The `[tool.pv]` table is missing or malformed; the message says which key and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PvConfig:
    """Resolved `[tool.pv]`: every path absolute, apps as `name -> module:attribute`."""

    root: Path
    contracts: tuple[Path, ...]
    tests: tuple[Path, ...]
    registry: Path
    apps: tuple[tuple[str, str], ...]
    report: Path | None = None  # where pytest writes the --pv-report that drift reads
    waivers: tuple[Waiver, ...] = ()

    def __post_init__(self) -> None:
        for name, target in self.apps:
            module, _, attr = target.partition(":")
            if not name or not module or not attr:
                raise ConfigError(
                    f"[tool.pv].apps.{name}: expected 'module:attribute', got {target!r}"
                )


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a `[tool.pv]` table."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "pv" in _read_toml(candidate).get("tool", {}):
            return candidate
    return None


def load_config(start: Path | None = None, pyproject: Path | None = None) -> PvConfig:
    """Read `[tool.pv]` from `pyproject` (or the nearest one above `start`)."""
    path = pyproject if pyproject is not None else find_pyproject(start or Path.cwd())
    if path is None:
        raise ConfigError("no pyproject.toml with a [tool.pv] table found here or above")
    table = _read_toml(path).get("tool", {}).get("pv")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [tool.pv] table")
    return config_from_table(path.parent.resolve(), table, str(path))


KEYS = ("contracts", "tests", "registry", "apps", "report", "waivers")


def config_from_table(root: Path, table: dict[str, Any], where: str) -> PvConfig:
    """A `[tool.pv]` table read (from `where`, for messages) for a project at `root`."""
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: [tool.pv] has an unknown key '{unknown[0]}'")
    apps = table.get("apps", {})
    if not isinstance(apps, dict) or not all(isinstance(v, str) for v in apps.values()):
        raise ConfigError(f"{where}: [tool.pv].apps must map CLI names to 'module:attribute'")
    report = table.get("report")
    if report is not None and not isinstance(report, str):
        raise ConfigError(f"{where}: [tool.pv].report must be a path")
    from pv.core.waivers import WaiverError, read_waivers

    try:
        waivers = read_waivers(table.get("waivers", []), where)
    except WaiverError as exc:
        raise ConfigError(str(exc)) from None
    return PvConfig(
        root=root,
        contracts=_paths(root, table, "contracts", ["contracts"]),
        tests=_paths(root, table, "tests", ["tests"]),
        registry=root / _string(table, "registry", "contracts/cli-commands-v1.yaml"),
        apps=tuple(sorted(apps.items())),
        report=root / report if report else None,
        waivers=waivers,
    )


def pytest_testpaths(root: Path) -> list[str]:
    """pytest's `testpaths` for the project at `root`, read where pytest reads it
    (pyproject.toml, pytest.ini, tox.ini, setup.cfg), or [] when it sets none."""
    import configparser

    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            ini = _read_toml(pyproject).get("tool", {}).get("pytest", {}).get("ini_options", {})
        except ConfigError:
            ini = {}
        paths = ini.get("testpaths") if isinstance(ini, dict) else None
        if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
            return list(paths)
        if isinstance(paths, str):
            return paths.split()
    for name, section in (
        ("pytest.ini", "pytest"),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_option(section, "testpaths"):
            return parser.get(section, "testpaths").split()
    return []


def project_name(root: Path) -> str:
    """`[project].name` of root's pyproject.toml, else the folder's name."""
    path = root / "pyproject.toml"
    try:
        name = _read_toml(path).get("project", {}).get("name") if path.is_file() else None
    except ConfigError:
        name = None
    return name if isinstance(name, str) and name else root.resolve().name


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read TOML: {exc}") from exc


def _paths(root: Path, table: dict[str, Any], key: str, default: list[str]) -> tuple[Path, ...]:
    value = table.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.pv].{key} must be a list of folders")
    return tuple(root / v for v in value)


def _string(table: dict[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"[tool.pv].{key} must be a string")
    return value

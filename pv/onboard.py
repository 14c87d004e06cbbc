"""`pv init`: take a project from nothing to a first `pv validate` / `pv drift` run. Adds the
`[tool.pv]` table (finding its click, typer or argparse CLIs), writes the command registry from
the live CLIs and a first contract. Idempotent: what exists is reported and left alone."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pv import atomic
from pv.apps import AppImportError, as_cli, discover, load_object
from pv.config import load_config, project_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

SCHEMA_FILE = "contract.schema.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What `pv init` did to one file: `created`, `added`, `updated` or `kept` (unchanged)."""

    path: str
    action: str
    detail: str


def init(root: Path, apps: dict[str, str] | None = None) -> list[Step]:
    """Set `root` up for pv; `apps` (name -> module:attribute) overrides CLI discovery.
    Raises pv.config.ConfigError for an unreadable pyproject.toml or [tool.pv] table and
    pv.apps.AppImportError when a CLI cannot be read for the registry."""
    from pv.registry import write_registry

    steps = [_tool_table(root, apps)]
    config = load_config(pyproject=root / "pyproject.toml")
    folder = config.contracts[0] if config.contracts else root / "contracts"
    folder.mkdir(parents=True, exist_ok=True)
    steps.append(_write_if_changed(root, folder / SCHEMA_FILE, _schema_text()))
    registry = _rel(config.registry, root)
    if config.registry.is_file():
        steps.append(Step(path=registry, action="kept", detail="the registry exists"))
    elif not config.apps:
        detail = "no CLI to register: name one in [tool.pv].apps, then `pv drift --write-registry`"
        steps.append(Step(path=registry, action="kept", detail=detail))
    else:
        count, _ = write_registry(config, project_name(root))
        detail = f"{count} commands read from the live CLIs; set writes_files where it is true"
        steps.append(Step(path=registry, action="created", detail=detail))
    steps.append(_first_contract(root, folder, config.registry))
    return steps


def _tool_table(root: Path, apps: dict[str, str] | None) -> Step:
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    try:
        existing = tomllib.loads(text).get("tool", {}).get("pv")
    except tomllib.TOMLDecodeError as exc:
        from pv.config import ConfigError

        raise ConfigError(f"{pyproject}: cannot read TOML: {exc}") from exc
    if existing is not None:
        named = ", ".join(sorted(existing.get("apps", {}))) or "no apps"
        return Step(path="pyproject.toml", action="kept", detail=f"[tool.pv] exists ({named})")
    found = dict(apps) if apps is not None else find_apps(root, tomllib.loads(text))
    tests = "tests" if (root / "tests").is_dir() or not (root / "test").is_dir() else "test"
    table = (
        "[tool.pv]\n"
        "# pv drift / pv gate: where the contracts, the tests, the command registry and the\n"
        "# CLIs (click, typer or argparse; `module:attribute`) of this project live.\n"
        'contracts = ["contracts"]\n'
        f'tests = ["{tests}"]\n'
        'registry = "contracts/cli-commands-v1.yaml"\n'
        f"apps = {{ {', '.join(f'{_key(n)} = {_quote(t)}' for n, t in sorted(found.items()))} }}\n"
    ).replace("apps = {  }", "apps = {}")
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    atomic.write_text(pyproject, text + sep + table)
    named = ", ".join(f"{n} = {t}" for n, t in sorted(found.items())) or "no CLI found"
    return Step(
        path="pyproject.toml", action="added" if text else "created", detail=f"[tool.pv]: {named}"
    )


def find_apps(root: Path, pyproject: dict[str, object]) -> dict[str, str]:
    """The project's CLIs: each `[project.scripts]` entry that is (or whose module defines) a
    click group, typer app or argparse parser; without scripts, a package's `cli` or
    `__main__` module. A program's `main` function is never called."""
    project = pyproject.get("project")
    scripts = project.get("scripts", {}) if isinstance(project, dict) else {}
    found: dict[str, str] = {}
    for name, target in sorted(scripts.items()) if isinstance(scripts, dict) else ():
        resolved = _resolve(str(target), root)
        if resolved is not None:
            found[str(name)] = resolved
    if scripts:
        return found
    for package in _packages(root):
        for module in (f"{package}.cli", f"{package}.__main__"):
            hit = discover(module, root)
            if hit is not None:
                found[package.replace("_", "-")] = f"{module}:{hit[0]}"
                break
    return found


def _resolve(target: str, root: Path) -> str | None:
    module, _, _ = target.partition(":")
    try:
        if as_cli(load_object(target, root)) is not None:
            return target
    except AppImportError:
        return None
    hit = discover(module, root)
    return f"{module}:{hit[0]}" if hit is not None else None


def _packages(root: Path) -> list[str]:
    """The project's top-level packages, in `src/` for a src layout."""
    base = root / "src" if (root / "src").is_dir() else root
    skip = {"tests", "test", "docs", "contracts"}
    return sorted(
        p.name
        for p in base.iterdir()
        if (p / "__init__.py").is_file() and p.name not in skip and p.name.isidentifier()
    )


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quote(name)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _schema_text() -> str:
    from pv.schema import schema_text

    return schema_text("contract")


def _write_if_changed(root: Path, path: Path, text: str) -> Step:
    rel = _rel(path, root)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return Step(path=rel, action="kept", detail="pv's contract schema, for editors")
    action = "updated" if path.exists() else "created"
    atomic.write_text(path, text)
    return Step(path=rel, action=action, detail="pv's contract schema, for editors")


def _first_contract(root: Path, folder: Path, registry: Path) -> Step:
    others = [
        p
        for p in sorted(folder.glob("*.y*ml"))
        if p.suffix in (".yaml", ".yml") and p.resolve() != registry.resolve()
    ]
    if others:
        return Step(path=_rel(others[0], root), action="kept", detail="a contract exists")
    name = re.sub(r"[^a-z0-9]+", "-", project_name(root).lower()).strip("-") or "project"
    path = folder / f"{name}-v1.yaml"
    atomic.write_text(path, first_contract(name, _rel(registry, root)))
    return Step(path=_rel(path, root), action="created", detail="a first contract to edit")


def first_contract(name: str, registry: str) -> str:
    """A small, valid contract about the CLI itself, to be edited into the project's own."""
    ident = name.upper()
    return f"""# yaml-language-server: $schema={SCHEMA_FILE}
# {name}-v1: what {name} promises. Every falsification test names a prediction that a check
# (a pytest test marked @pytest.mark.falsifies("<id>")) must hold; `pv scaffold` writes the
# stubs, `pytest --pv-strict` fails until each check exists and passes.

metadata:
  version: "1.0.0"
  author: "{name}"
  # a behavioural contract, so no Kani harnesses are required (a numerical kernel is `kernel`)
  kind: pattern
  description: >-
    The command-line contract of {name}: every registered command answers --help, and the
    registry ({registry}) matches the live CLI.
  references:
    - "the {name} command line as its --help documents it"
  depends_on: []

equations:
  help_exits_zero:
    formula: "exit_code(cmd --help) = 0 for every cmd in the registry"
    domain: "cmd ranges over the commands listed in {registry}"
    codomain: "boolean"
    invariants:
      - "a registered command that cannot print its help is a broken command"

proof_obligations:
  - type: invariant
    property: "Every registered command answers --help"
    formal: "forall cmd in registry: exit_code(cmd --help) = 0"
    applies_to: all

falsification_tests:
  - id: FALSIFY-{ident}-001
    rule: "Every registered command answers --help"
    prediction: "running each registered command with --help exits 0 and prints its usage"
    test: "a pytest check marked falsifies(FALSIFY-{ident}-001)"
    if_fails: "a command is registered but broken, or the registry lists a removed command"

qa_gate:
  id: F-{ident}-001
  name: "Every command answers --help"
  checks:
    - "help_exits_zero"
"""


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

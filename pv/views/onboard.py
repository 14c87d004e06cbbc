"""`pv init`: take a project from nothing to a first `pv validate` / `pv drift` run. Adds the
`[tool.pv]` table (finding its click, typer or argparse CLIs from the programs it declares),
writes the command registry from the live CLIs and a first contract. Every file is planned
first and written together: a failing init changes nothing. Run twice, it changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from pv.clis.apps import App, AppImportError, discover, load_app
from pv.clis.entrypoints import scripts
from pv.core import atomic
from pv.core.config import ConfigError, config_from_table, project_name

SCHEMA_FILE = "contract.schema.json"
REPORT = ".pv-cache/pv-report.json"
TEST_FOLDERS = ("tests", "test", "testing")


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What `pv init` did to one file or entry point: `created`, `added`, `updated`, `kept`
    (there and unchanged) or `skipped` (nothing written; the detail says why)."""

    path: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """The CLIs found for [tool.pv].apps, and each entry point not taken, with why."""

    apps: dict[str, App]
    rejected: list[Step]


def init(root: Path, apps: dict[str, str] | None = None) -> list[Step]:
    """Set `root` up for pv; `apps` (name -> module:attribute) are added to [tool.pv].apps
    (replacing an entry of the same name) instead of discovery. Raises ConfigError for an
    unreadable pyproject.toml or [tool.pv] table and AppImportError when a CLI named with
    `apps` cannot be read; then no file has been changed."""
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{pyproject}: cannot read TOML: {exc}") from exc
    table = document.get("tool", {}).get("pv")
    found = _given(root, apps) if apps else Found(apps={}, rejected=[])
    if table is None and not apps:
        found = find_apps(root)
    plan = _Plan(root)
    steps = [*found.rejected]
    steps.append(_tool_table(document, table, found, root, plan, text))
    config = config_from_table(root, document["tool"]["pv"].unwrap(), "pyproject.toml")
    folder = config.contracts[0] if config.contracts else root / "contracts"
    steps.append(
        plan.add(folder / SCHEMA_FILE, _schema_text(), "pv's contract schema, for editors")
    )
    steps.append(_registry(root, config, found, plan))
    steps.append(_first_contract(root, folder, config.registry, plan))
    plan.commit()
    return steps


def _given(root: Path, apps: dict[str, str]) -> Found:
    """The CLIs named with --app, each read now: one that cannot be read stops init."""
    return Found(apps={n: load_app(n, t, root) for n, t in sorted(apps.items())}, rejected=[])


def find_apps(root: Path) -> Found:
    """The project's CLIs: each declared console script ([project.scripts], poetry's scripts,
    setup.cfg or setup.py) whose target is, builds or runs a click, typer or argparse CLI (a
    `main(argv=None)` runs only until it parses; see pv.clis.apps.capture). Without scripts, a
    package's `cli` or `__main__` module. Each entry point not taken says why."""
    found: dict[str, App] = {}
    rejected: list[Step] = []
    declared = scripts(root)
    for script in declared:
        try:
            found[script.name] = load_app(script.name, script.target, root)
        except AppImportError as exc:
            where = f"{script.source} {script.name} = {script.target}"
            rejected.append(Step(path=where, action="skipped", detail=str(exc)))
    if declared:
        return Found(apps=found, rejected=rejected)
    for package in _packages(root):
        for module in (f"{package}.cli", f"{package}.__main__"):
            hit = discover(module, root)
            if hit is not None:
                name = package.replace("_", "-")
                found[name] = load_app(name, f"{module}:{hit[0]}", root)
                break
    return Found(apps=found, rejected=rejected)


class _Plan:
    """Files to write, held in memory until `commit` writes them all; a failed write restores
    every file already written, so init leaves all of them or none."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[Path, str] = {}

    def add(self, path: Path, text: str, detail: str) -> Step:
        rel = _rel(path, self.root)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return Step(path=rel, action="kept", detail=detail)
        self.files[path] = text
        return Step(path=rel, action="updated" if path.exists() else "created", detail=detail)

    def commit(self) -> None:
        done: list[tuple[Path, bytes | None]] = []
        try:
            for path, text in self.files.items():
                old = path.read_bytes() if path.is_file() else None
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic.write_text(path, text)
                done.append((path, old))
        except BaseException:
            for path, old in reversed(done):
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic.write_bytes(path, old)
            raise


def _tool_table(
    document: Any, table: Any, found: Found, root: Path, plan: _Plan, text: str
) -> Step:
    pyproject = root / "pyproject.toml"
    named = ", ".join(f"{n} = {a.target}" for n, a in sorted(found.apps.items())) or "no CLI found"
    if table is None:
        tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
        tool["pv"] = _new_table(root, found)
        plan.files[pyproject] = tomlkit.dumps(document)
        action = "added" if text else "created"
        return Step(path="pyproject.toml", action=action, detail=f"[tool.pv]: {named}")
    if not found.apps:
        listed = ", ".join(sorted(table.get("apps", {}))) or "no apps"
        return Step(path="pyproject.toml", action="kept", detail=f"[tool.pv] exists ({listed})")
    apps = table.get("apps")
    if apps is None:
        apps = table["apps"] = tomlkit.inline_table()
    changed = [n for n, a in found.apps.items() if apps.get(n) != a.target]
    for name, app in found.apps.items():
        apps[name] = app.target
    if not changed:
        return Step(path="pyproject.toml", action="kept", detail=f"[tool.pv].apps has {named}")
    plan.files[pyproject] = tomlkit.dumps(document)
    return Step(path="pyproject.toml", action="updated", detail=f"[tool.pv].apps: {named}")


def _new_table(root: Path, found: Found) -> Any:
    table = tomlkit.table()
    table.add(tomlkit.comment("Where pv finds this project's contracts, tests, command registry"))
    table.add(tomlkit.comment("and CLIs (click, typer or argparse). pytest writes `report` on"))
    table.add(tomlkit.comment("every run, with the CLI calls the tests made; `pv drift` reads it."))
    table["contracts"] = ["contracts"]
    table["tests"] = find_test_folders(root)
    table["registry"] = "contracts/cli-commands-v1.yaml"
    table["report"] = REPORT
    apps = tomlkit.inline_table()
    for name, app in sorted(found.apps.items()):
        apps[name] = app.target
    table["apps"] = apps
    return table


def find_test_folders(root: Path) -> list[str]:
    """Where the project's tests live: pytest's own `testpaths` when it sets them, else a
    usual folder name at the top, else such folders inside the packages, else `tests`."""
    from pv.core.config import pytest_testpaths

    paths = pytest_testpaths(root)
    if paths:
        return paths
    top = [name for name in TEST_FOLDERS if (root / name).is_dir()]
    if top:
        return top[:1]
    inside = [  # tests kept inside the package: pkg/tests, src/pkg/test
        p.relative_to(root).as_posix()
        for base in (root, root / "src")
        for p in sorted(base.glob("*/*"))
        if p.is_dir() and p.name in TEST_FOLDERS and any(p.rglob("test_*.py"))
    ]
    return inside or ["tests"]


def _registry(root: Path, config: Any, found: Found, plan: _Plan) -> Step:
    from pv.clis.registry import header, render_section, replace_section

    rel = _rel(config.registry, root)
    apps = {name: found.apps.get(name) or load_app(name, t, root) for name, t in config.apps}
    if not apps:
        detail = "no CLI to register: name one with `pv init --app NAME=MODULE:ATTR`"
        return Step(path=rel, action="skipped", detail=detail)
    if config.registry.is_file() and not found.apps:
        return Step(path=rel, action="kept", detail="the registry exists")
    specs = tuple(s for app in apps.values() for s in app.specs)
    if config.registry.is_file():
        from pv.clis.registry import read_registry
        from pv.contracts.load import load_file

        doc = load_file(config.registry)
        keep = {e.spec.path: e for e in (read_registry(doc)[0] if doc.data is not None else ())}
        current = config.registry.read_text(encoding="utf-8")
        text = replace_section(current, render_section(specs, keep))
        return plan.add(config.registry, text, f"{len(specs)} commands read from the live CLIs")
    text = replace_section(header(project_name(root), tuple(apps)), render_section(specs, {}))
    detail = f"{len(specs)} commands read from the live CLIs; set writes_files where you know it"
    return plan.add(config.registry, text, detail)


def _packages(root: Path) -> list[str]:
    """The project's top-level packages, in `src/` for a src layout."""
    base = root / "src" if (root / "src").is_dir() else root
    skip = {"tests", "test", "docs", "contracts"}
    return sorted(
        p.name
        for p in base.iterdir()
        if (p / "__init__.py").is_file() and p.name not in skip and p.name.isidentifier()
    )


def _schema_text() -> str:
    from pv.contracts.schema import schema_text

    return schema_text("contract")


def _first_contract(root: Path, folder: Path, registry: Path, plan: _Plan) -> Step:
    others = [
        p
        for p in sorted(folder.glob("*.y*ml"))
        if p.suffix in (".yaml", ".yml") and p.resolve() != registry.resolve()
    ]
    if others:
        return Step(path=_rel(others[0], root), action="kept", detail="a contract exists")
    name = re.sub(r"[^a-z0-9]+", "-", project_name(root).lower()).strip("-") or "project"
    return plan.add(
        folder / f"{name}-v1.yaml", first_contract(name, _rel(registry, root)), "a first contract"
    )


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

"""The command registry: the `commands:` section of a contract such as
contracts/cli-commands-v1.yaml, the second drift surface. Reads it into the same specs that
live introspection yields, and rewrites that section (only it) from the live CLIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from pv.clis.clispec import CommandSpec, ParamSpec
from pv.contracts.load import Document
from pv.core.findings import Finding

if TYPE_CHECKING:
    from pv.core.config import PvConfig

SECTION = "commands"
PARAM_KEYS = {"type", "default", "required", "multiple", "hidden", "flags", "kind", "description"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryEntry:
    """A registered command: its spec plus what introspection cannot know (`writes_files`:
    None until a person states it; pv never reads a missing value as false)."""

    spec: CommandSpec
    writes_files: bool | None


def read_registry(doc: Document) -> tuple[tuple[RegistryEntry, ...], list[Finding]]:
    """The entries of `doc`'s `commands:` section; malformed entries become findings."""
    section = (doc.data or {}).get(SECTION)
    if not isinstance(section, dict):
        what = "missing" if section is None else f"a {type(section).__name__}"
        return (), [
            doc.finding(
                "DRIFT-050",
                "error",
                (SECTION,),
                f"`{SECTION}:` is {what}, expected a mapping of command paths to entries",
            )
        ]
    entries: list[RegistryEntry] = []
    findings: list[Finding] = []
    for path, raw in section.items():
        if not isinstance(raw, dict):
            findings.append(
                doc.finding(
                    "DRIFT-050",
                    "error",
                    (SECTION, path),
                    f"registry entry '{path}' must be a mapping",
                )
            )
            continue
        params, bad = _params(doc, path, raw.get("options") or {})
        findings.extend(bad)
        spec = CommandSpec(
            path=" ".join(str(path).split()),
            description=str(raw.get("description") or ""),
            is_group=bool(raw.get("group", False)),
            hidden=bool(raw.get("hidden", False)),
            aliases=tuple(str(a) for a in raw.get("aliases") or ()),
            params=params,
        )
        writes = raw.get("writes_files")
        entries.append(
            RegistryEntry(spec=spec, writes_files=writes if isinstance(writes, bool) else None)
        )
    return tuple(entries), findings


def _params(doc: Document, path: str, raw: Any) -> tuple[tuple[ParamSpec, ...], list[Finding]]:
    if not isinstance(raw, dict):
        message = "`options:` must map option names to their type and default"
        return (), [doc.finding("DRIFT-050", "error", (SECTION, path, "options"), message)]
    out: list[ParamSpec] = []
    bad: list[Finding] = []
    for name, fields in raw.items():
        where = (SECTION, path, "options", name)
        if not isinstance(fields, dict) or "type" not in fields:
            message = f"option '{name}' needs a mapping with at least `type:`"
            bad.append(doc.finding("DRIFT-050", "error", where, message))
            continue
        unknown = sorted(set(fields) - PARAM_KEYS)
        if unknown:
            message = f"option '{name}': unknown field '{unknown[0]}'"
            bad.append(doc.finding("DRIFT-050", "error", (*where, unknown[0]), message))
        kind = str(fields.get("kind", "option" if str(name).startswith("-") else "argument"))
        out.append(
            ParamSpec(
                name=str(name),
                kind=kind,
                type=str(fields["type"]),
                default=fields.get("default"),
                required=bool(fields.get("required", False)),
                multiple=bool(fields.get("multiple", False)),
                hidden=bool(fields.get("hidden", False)),
                # One flag is not written out: it is the option's name.
                flags=tuple(
                    str(f) for f in fields.get("flags") or ([name] if kind == "option" else [])
                ),
                description=str(fields.get("description") or ""),
            )
        )
    return tuple(out), bad


def render_section(specs: tuple[CommandSpec, ...], keep: dict[str, RegistryEntry]) -> str:
    """The `commands:` section for `specs` as YAML text. `writes_files` is kept from `keep`
    (introspection cannot see it); a new command gets none, for a person to state."""
    section: dict[str, Any] = {}
    for spec in specs:
        old = keep.get(spec.path)
        entry: dict[str, Any] = {
            "description": spec.description or (old.spec.description if old else "")
        }
        if spec.is_group:
            entry["group"] = True
        if spec.hidden:
            entry["hidden"] = True
        if spec.aliases:
            entry["aliases"] = list(spec.aliases)
        if old is not None and old.writes_files is not None:
            entry["writes_files"] = old.writes_files
        entry["options"] = {p.name: _param_dict(p) for p in spec.params}
        section[spec.path] = entry
    text = yaml.safe_dump({SECTION: section}, sort_keys=False, allow_unicode=True, width=100)
    return str(text)


def _param_dict(p: ParamSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": p.kind} if p.kind == "argument" else {}
    out.update(type=p.type, default=p.default, required=p.required)
    if p.multiple:
        out["multiple"] = True
    if p.hidden:
        out["hidden"] = True
    if len(p.flags) > 1:
        out["flags"] = list(p.flags)
    if p.description:
        out["description"] = p.description
    return out


def replace_section(text: str, section: str) -> str:
    """`text` with its top-level `commands:` block replaced by `section` (appended if absent);
    everything else, comments included, is kept byte for byte."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{SECTION}:")), None)
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + "\n" + section
    end = start + 1
    while end < len(lines) and not _top_level_key(lines[end]):
        end += 1
    return "".join(lines[:start]) + section + "".join(lines[end:])


def _top_level_key(line: str) -> bool:
    return bool(line) and not line[0].isspace() and not line.startswith(("#", "-")) and ":" in line


def header(project: str, apps: tuple[str, ...]) -> str:
    """The comment and metadata a new registry starts with; pv validate accepts it as is."""
    names = ", ".join(f"`{a}`" for a in apps) or "the project's CLIs"
    return (
        f"# The command registry of {project}: one of the three surfaces `pv drift` compares\n"
        "# (the live CLIs, this file, the tests). Regenerate `commands:` with\n"
        "# `pv drift --write-registry` and review the diff. `writes_files: true|false` is yours\n"
        "# to add per command: pv cannot see it, so it writes none.\n"
        "\n"
        "metadata:\n"
        '  version: "1.0.0"\n'
        f"  description: Every command of {names} with its options, read from the live CLIs.\n"
        "  kind: registry\n"
        "  references:\n"
        f'    - "the live command line of {project} (its --help)"\n'
    )


def write_registry(config: PvConfig, project: str) -> tuple[int, list[str]]:
    """Rewrite the registry's `commands:` section from the live CLIs, creating the file (with
    `header`) when it does not exist. Returns (commands written, commands that are new).
    Raises pv.clis.apps.AppImportError when an app cannot be read."""
    from pv.clis.apps import app_specs
    from pv.contracts.load import load_file
    from pv.core import atomic

    specs = tuple(s for name, target in config.apps for s in app_specs(name, target, config.root))
    keep: dict[str, RegistryEntry] = {}
    if config.registry.is_file():
        doc = load_file(config.registry)
        entries = read_registry(doc)[0] if doc.data is not None else ()
        keep = {e.spec.path: e for e in entries}
        text = config.registry.read_text(encoding="utf-8")
    else:
        config.registry.parent.mkdir(parents=True, exist_ok=True)
        text = header(project, tuple(name for name, _ in config.apps))
    atomic.write_text(config.registry, replace_section(text, render_section(specs, keep)))
    return len(specs), [s.path for s in specs if s.path not in keep]

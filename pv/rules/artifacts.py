"""The files beside contracts that the reference classifies by shape and checks by rules of
their own: binding registries (equation -> code, BINDING-002..006), publish manifests
(PM-SHAPE-000..005, against the publish-manifest schema contract found beside them) and
external-corpora declarations (EXT-CORPORA-001..009)."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from pv.contracts.model import EXT_CORPORA_FAMILY
from pv.core.findings import Finding, JsonPath
from pv.core.ruletable import make, text

if TYPE_CHECKING:
    from pv.contracts.load import Document

MANIFEST_SCHEMA = "publish-manifest-v1.yaml"
EXT_VERSIONS = ("v1alpha1",)
EXT_TOP_KEYS = ("schema", "corpora")
EXT_ENTRY_KEYS = ("name", "repo", "ref", "head", "n_files", "mark", "counted_by", "note")
_HEX = re.compile(r"^[0-9a-fA-F]{7,40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def rules_for(shape: str, doc: Document, data: dict[str, Any]) -> list[Finding]:
    """The rules of a binding registry (its schema is checked by the caller), publish manifest
    or corpora declaration."""
    if shape == "binding":
        return binding_rules(doc, data)
    if shape == "publish-manifest":
        return manifest_rules(doc, data)
    return corpora_rules(doc, data)


# --- binding registries ----------------------------------------------------------------------


def _contract_id(name: str) -> str:
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name


def binding_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out = []
    if not text(data.get("target_crate")):
        message = "target_crate must name the crate (or package) the bindings point into"
        out.append(make(doc, "BINDING-002", ("target_crate",), message))
    bindings = data.get("bindings")
    if isinstance(bindings, list) and not bindings:
        out.append(make(doc, "BINDING-003", ("bindings",), "bindings must not be empty"))
    seen: dict[tuple[str, str, str], int] = {}
    for i, entry in enumerate(bindings if isinstance(bindings, list) else []):
        if not isinstance(entry, dict):
            continue
        equation = text(entry.get("equation"))
        if "equation" in entry and not equation:
            out.append(
                make(
                    doc,
                    "BINDING-004",
                    ("bindings", i, "equation"),
                    f"bindings[{i}] names no equation",
                )
            )
        named = text(entry.get("function")) or text(entry.get("module_path"))
        if entry.get("status") == "implemented" and not named and not text(entry.get("notes")):
            message = (
                f"bindings[{i}] is implemented but names no function or module_path, and no "
                "notes say what discharges it"
            )
            out.append(make(doc, "BINDING-005", ("bindings", i, "status"), message))
        # one equation may be bound in two modules (a crate and its reference kernel); the same
        # equation twice in one module is a copy
        key = (_contract_id(text(entry.get("contract"))), equation, text(entry.get("module_path")))
        if key in seen and all(key[:2]):
            message = (
                f"bindings[{i}] binds {key[0]} / {key[1]} in {key[2] or 'no module'} again "
                f"(first at bindings[{seen[key]}])"
            )
            out.append(make(doc, "BINDING-006", ("bindings", i), message))
        seen.setdefault(key, i)
    return out


# --- publish manifests -----------------------------------------------------------------------


def manifest_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    """The manifest's required fields come from the schema contract beside it (its folder, or
    one of the two above); without that file nothing can be checked, and that is the finding."""
    folder = os.path.dirname(os.path.abspath(doc.file))
    places = [folder, os.path.dirname(folder), os.path.dirname(os.path.dirname(folder))]
    found = next(
        (
            os.path.join(p, MANIFEST_SCHEMA)
            for p in places
            if os.path.isfile(os.path.join(p, MANIFEST_SCHEMA))
        ),
        None,
    )
    if found is None:
        message = (
            f"cannot locate {MANIFEST_SCHEMA} near {doc.file}: the manifest's required-field "
            "list is declared there, so nothing about this manifest can be checked"
        )
        return [make(doc, "PM-SHAPE-000", (), message)]
    schema = _manifest_schema(found)
    if schema is None:
        message = f"{found} declares no `schema.required_fields`: nothing can be checked"
        return [make(doc, "PM-SHAPE-000", (), message)]
    out = _required(doc, data, schema.get("required_fields"), (), "PM-SHAPE-001")
    provenance = data.get("provenance")
    if isinstance(provenance, dict):
        fields = schema.get("provenance_required_fields")
        out += _required(doc, provenance, fields, ("provenance",), "PM-SHAPE-002")
    out += _manifest_values(doc, data)
    return out


def _manifest_schema(path: str) -> dict[str, Any] | None:
    from pv.contracts.load import load_file

    loaded = load_file(path)
    schema = loaded.data.get("schema") if loaded.data is not None else None
    if loaded.data is None or "schema" not in loaded.data:
        return None
    return schema if isinstance(schema, dict) else {}


def _required(
    doc: Document, data: dict[str, Any], fields: Any, base: JsonPath, rule: str
) -> list[Finding]:
    out = []
    for name in fields if isinstance(fields, list) else []:
        if not isinstance(name, str):
            continue
        value = data.get(name)
        state = "missing" if name not in data else "null" if value is None else None
        if state is None and isinstance(value, str) and not value.strip():
            state = "an empty string"
        if state is not None:
            where = ".".join(str(p) for p in (*base, name))
            out.append(
                make(doc, rule, (*base, name), f"required manifest field `{where}` is {state}")
            )
    return out


def _manifest_values(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out = []
    digest = data.get("sha256")
    if isinstance(digest, str) and not _SHA256.match(digest):
        out.append(
            make(doc, "PM-SHAPE-003", ("sha256",), "sha256 must be 64 lower-case hex digits")
        )
    if "size_bytes" in data:
        size = data["size_bytes"]
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            out.append(
                make(
                    doc,
                    "PM-SHAPE-004",
                    ("size_bytes",),
                    f"size_bytes must be a whole number > 0, got {size!r}",
                )
            )
    url = data.get("artifact_url")
    if isinstance(url, str) and not (url.startswith("https://") and len(url) > len("https://")):
        out.append(
            make(doc, "PM-SHAPE-005", ("artifact_url",), f"artifact_url must be https, got {url!r}")
        )
    return out


# --- external-corpora declarations -----------------------------------------------------------


def corpora_rules(doc: Document, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    schema = data.get("schema")
    if not isinstance(schema, str):
        return [
            make(
                doc, "EXT-CORPORA-001", ("schema",), "`schema` must name the declaration's version"
            )
        ]
    version = schema
    while version.startswith(EXT_CORPORA_FAMILY):
        version = version[len(EXT_CORPORA_FAMILY) :]
    if version not in EXT_VERSIONS:
        message = (
            f'`schema` "{schema}" is version "{version}", which these rules were not written '
            f"for; accepted versions are {list(EXT_VERSIONS)}"
        )
        out.append(make(doc, "EXT-CORPORA-001", ("schema",), message))
    keys: list[Any] = list(data)
    for key in keys:
        if not isinstance(key, str):
            out.append(make(doc, "EXT-CORPORA-007", (), f"key {key!r} is not a string"))
        elif key not in EXT_TOP_KEYS:
            out.append(make(doc, "EXT-CORPORA-007", (key,), f"unknown key `{key}`"))
    corpora = data.get("corpora")
    if not isinstance(corpora, list) or not corpora:
        what = "must be a list of corpora" if not isinstance(corpora, list) else "must not be empty"
        return [*out, make(doc, "EXT-CORPORA-002", ("corpora",), f"`corpora` {what}")]
    names: dict[str, int] = {}
    for i, entry in enumerate(corpora):
        out += _corpus(doc, i, entry, names)
    if not _census_reads(corpora):
        message = (
            "the census cannot read this declaration: every entry needs name, n_files and "
            "counted_by"
        )
        out.append(make(doc, "EXT-CORPORA-009", (), message))
    return out


def _corpus(doc: Document, i: int, entry: Any, names: dict[str, int]) -> list[Finding]:
    base: JsonPath = ("corpora", i)
    if not isinstance(entry, dict):
        return [make(doc, "EXT-CORPORA-003", base, f"corpora[{i}] is not a mapping")]
    out = [
        make(doc, "EXT-CORPORA-007", (*base, str(k)), f"corpora[{i}]: unknown key `{k}`")
        for k in entry
        if k not in EXT_ENTRY_KEYS
    ]
    for key in ("name", "repo", "ref", "head"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            out.append(
                make(
                    doc,
                    "EXT-CORPORA-003",
                    (*base, key),
                    f"corpora[{i}].{key} must be non-empty text",
                )
            )
    repo = entry.get("repo")
    if isinstance(repo, str) and repo.strip():
        parts = repo.split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            out.append(
                make(
                    doc,
                    "EXT-CORPORA-004",
                    (*base, "repo"),
                    f"corpora[{i}].repo {repo!r} is not OWNER/NAME",
                )
            )
    head = entry.get("head")
    if isinstance(head, str) and head.strip() and not _HEX.match(head):
        out.append(
            make(
                doc,
                "EXT-CORPORA-005",
                (*base, "head"),
                f"corpora[{i}].head {head!r} is not a commit",
            )
        )
    if "n_files" in entry and not _whole(entry["n_files"]):
        out.append(
            make(
                doc,
                "EXT-CORPORA-006",
                (*base, "n_files"),
                f"corpora[{i}].n_files must be a whole number",
            )
        )
    for key in ("counted_by", "mark", "note"):
        if key in entry and not isinstance(entry[key], str):
            out.append(
                make(doc, "EXT-CORPORA-006", (*base, key), f"corpora[{i}].{key} must be text")
            )
    name = entry.get("name")
    if isinstance(name, str):
        if name in names:
            message = f'corpora[{i}].name "{name}" is also corpora[{names[name]}]'
            out.append(make(doc, "EXT-CORPORA-008", (*base, "name"), message))
        names.setdefault(name, i)
    return out


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _census_reads(corpora: list[Any]) -> bool:
    """Whether the census's reader takes every entry: name and counted_by text, n_files a
    whole number, the optional fields text."""
    for entry in corpora:
        if not isinstance(entry, dict):
            return False
        if not isinstance(entry.get("name"), str) or not isinstance(entry.get("counted_by"), str):
            return False
        if not _whole(entry.get("n_files")):
            return False
        if any(
            k in entry and not isinstance(entry[k], (str, type(None)))
            for k in ("repo", "ref", "head", "mark", "note")
        ):
            return False
    return True

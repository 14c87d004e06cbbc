"""Safe YAML loading with source positions, so every later finding can name a line.

Refusals (python/* tags, several documents, duplicate keys, alias explosions, huge or
non-UTF-8 or empty files, a non-mapping top level) come back as findings, never exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pv.findings import Finding, JsonPath, json_path

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
# Aliases may add at most this many nodes beyond the ones written out: real contracts
# use a handful of merges; a billion-laughs file needs billions.
MAX_ALIAS_EXPANSION = 100_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Constructor = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + t for t in ("int", "float", "bool", "null")}
_KNOWN_TAGS = {_TAG + t for t in ("str", "timestamp", "map", "seq", "merge")} | _PLAIN_TAGS


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A loaded YAML file. `data` is None when loading was refused (see `findings`).

    `positions` maps a JSON path (tuple of keys / indices) to its 1-based (line, column);
    `sources` keeps the source text of unquoted numbers/booleans, so a schema that expects a
    string (``version: 1.10``) can recover what the user wrote instead of the float 1.1."""

    file: str
    data: dict[str, Any] | None
    positions: Mapping[JsonPath, tuple[int, int]] = field(default_factory=dict)
    sources: Mapping[JsonPath, str] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    def position(self, path: JsonPath) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest ancestor that has one, else (1, 1)."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos is not None:
                return pos
        return (1, 1)

    def finding(
        self, rule: str, severity: str, path: JsonPath, message: str, suggestion: str | None = None
    ) -> Finding:
        """A Finding located at `path` in this document."""
        line, column = self.position(path)
        return Finding(
            rule=rule,
            severity=severity,  # type: ignore[arg-type]  # Finding validates the value
            file=self.file,
            line=line,
            column=column,
            path=json_path(path),
            message=message,
            suggestion=suggestion,
        )


class _Refused(Exception):
    """Internal: loading stops at the first refusal, which becomes one finding."""

    def __init__(self, rule: str, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.rule, self.message, self.line, self.column = rule, message, line, column


def _refusal(file: str, err: _Refused) -> Document:
    finding = Finding(
        rule=err.rule,
        severity="error",
        file=file,
        line=err.line,
        column=err.column,
        path="$",
        message=err.message,
    )
    return Document(file=file, data=None, findings=(finding,))


def load_file(path: Path | str, display: str | None = None) -> Document:
    """Read and load one file; `display` is the name findings use (defaults to `path`)."""
    file = display if display is not None else str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return _refusal(file, _Refused("LOAD-001", f"cannot read file: {exc.strerror or exc}"))
    return load_bytes(raw, file)


def load_bytes(raw: bytes, file: str) -> Document:
    """Load YAML bytes into a Document; never raises for bad input."""
    try:
        text = _decode(raw)
        return _compose_and_build(text, file)
    except _Refused as err:
        return _refusal(file, err)


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise _Refused("LOAD-002", f"file is larger than {MAX_BYTES} bytes (1 MiB); refused")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _Refused(
            "LOAD-003", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line, column
        ) from None
    if not text.strip():
        raise _Refused("LOAD-004", "file is empty")
    return text


def _compose_and_build(text: str, file: str) -> Document:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or "invalid YAML"
        if "single document" in (exc.context or ""):
            raise _Refused("LOAD-005", "more than one YAML document in file", line, col) from None
        raise _Refused("LOAD-006", f"invalid YAML: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise _Refused("LOAD-006", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _Refused("LOAD-008", f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    if node is None:
        raise _Refused("LOAD-004", "file holds no YAML document (only comments?)")
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise _Refused("LOAD-007", "top level must be a mapping of keys to values", line, col)
    # Aliases are rebuilt (not shared) so data stays a tree; a file of n characters holds at
    # most 2n distinct nodes, so anything beyond that plus the allowance came from aliases.
    builder = _Builder(budget=2 * len(text) + MAX_ALIAS_EXPANSION)
    data = builder.build(node, (), 0)
    return Document(file=file, data=data, positions=builder.positions, sources=builder.sources)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns composed nodes into plain JSON-like values, recording positions on the way."""

    def __init__(self, *, budget: int) -> None:
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.sources: dict[JsonPath, str] = {}
        self.budget = budget

    def build(self, node: yaml.Node, path: JsonPath, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _Refused(
                "LOAD-009",
                f"aliases expand the document by more than {MAX_ALIAS_EXPANSION} nodes; "
                "refused as an alias explosion",
            )
        if depth > MAX_DEPTH:
            raise _Refused("LOAD-008", f"nesting deeper than {MAX_DEPTH} levels", *_mark(node))
        self.positions.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self._check_tag(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)  # the composer makes only these three kinds
        return self._mapping(node, path, depth)

    def _check_tag(self, node: yaml.Node) -> None:
        tag = node.tag or ""
        if tag in _KNOWN_TAGS or tag == "!":
            return
        kind = "python tags run code" if "python/" in tag else "not a JSON-compatible YAML tag"
        raise _Refused("LOAD-010", f"tag {tag} refused: {kind}", *_mark(node))

    def _scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            return node.value
        if tag in _PLAIN_TAGS:
            self.sources[path] = node.value
            if tag == _TAG + "null":
                return None
            return _Constructor.construct_object(node)
        if tag == _TAG + "timestamp":
            # JSON has no dates: keep exactly what the user wrote.
            return node.value
        self._check_tag(node)
        return node.value

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merged_value = self.build(value_node, (*path, "<<"), depth + 1)
                self.positions.pop((*path, "<<"), None)
                for part in merged_value if isinstance(merged_value, list) else [merged_value]:
                    if not isinstance(part, dict):
                        raise _Refused("LOAD-006", "`<<` needs a mapping", *_mark(value_node))
                    merged = {**part, **merged}
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("LOAD-011", "mapping keys must be plain scalars", *_mark(key_node))
            key = key_node.value
            if key in out:
                first = self.positions[(*path, key)]
                raise _Refused(
                    "LOAD-012",
                    f"duplicate key '{key}' (first defined at line {first[0]})",
                    *_mark(key_node),
                )
            self.positions[(*path, key)] = _mark(key_node)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return {**merged, **out} if merged else out

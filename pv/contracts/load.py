"""Safe YAML loading, so every later finding can name a line without every file paying for it.

Refusals (python/* tags, several documents, alias explosions, huge or non-UTF-8 or empty
files, a non-mapping top level) come back as findings, never exceptions. Line/column
positions are read from the composed node tree only when a finding asks for one: a file with
no finding never builds them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from pv.contracts.files import MAX_BYTES, read
from pv.core.findings import Finding, JsonPath, json_path

MAX_DEPTH = 64
# Aliases may add at most this many nodes beyond the ones written out: real contracts
# use a handful of merges; a billion-laughs file needs billions.
MAX_ALIAS_EXPANSION = 100_000

_Constructor = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_STR, _MERGE, _NULL, _INT = _TAG + "str", _TAG + "merge", _TAG + "null", _TAG + "int"
# A plain scalar can only be read as something other than text if its first character starts
# one of the implicit resolvers' patterns (y/n/t/f/o for booleans, digits, ~, ...).
_MAYBE_TYPED = frozenset(k for k in yaml.SafeLoader.yaml_implicit_resolvers if k)


# The only implicit types a plain scalar starting with a letter can have: YAML 1.1 booleans
# and null, each an exact word (the stock resolver's anchored patterns).
_BOOLS = ("yes", "no", "true", "false", "on", "off")
_WORDS = {
    **{w: _TAG + "bool" for b in _BOOLS for w in (b, b.capitalize(), b.upper())},
    **dict.fromkeys(("null", "Null", "NULL"), _NULL),
}


def _resolve(self: Any, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
    """The stock resolver's answer, without its regex loop for the plain text most scalars are
    (the C parser calls this once per node, which costs as much as parsing them)."""
    if kind is yaml.ScalarNode:
        if not implicit[0]:
            return _STR
        if value[:1].isalpha():
            return _WORDS.get(value, _STR)
        if not value or value[0] in _MAYBE_TYPED:
            tag: str = yaml.resolver.Resolver.resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped in the stubs
            return tag
        return _STR
    return _TAG + ("seq" if kind is yaml.SequenceNode else "map")


def _no_path_resolvers(self: Any, *_: Any) -> None:
    """Path resolvers are never registered, so there is nothing to track per node."""


_CLoader = getattr(yaml, "CSafeLoader", None)
_Loader: Any = (
    type(
        "_FastCLoader",
        (_CLoader,),
        {
            "resolve": _resolve,
            "descend_resolver": _no_path_resolvers,
            "ascend_resolver": _no_path_resolvers,
        },
    )
    if _CLoader is not None
    else yaml.SafeLoader
)
_PLAIN_TAGS = {_TAG + t for t in ("int", "float", "bool", "null")}
_KNOWN_TAGS = {_TAG + t for t in ("str", "timestamp", "map", "seq", "merge")} | _PLAIN_TAGS
_SCALAR, _SEQUENCE = yaml.ScalarNode, yaml.SequenceNode


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A loaded YAML file. `data` is None when loading was refused (see `findings`).

    `node` is the composed tree the data came from; `position()` and `sources` read it on
    demand. `sources` keeps the source text of unquoted numbers/booleans, so a schema that
    expects a string (``version: 1.10``) can recover what the user wrote instead of 1.1."""

    file: str
    data: dict[str, Any] | None
    node: yaml.Node | None = None
    findings: tuple[Finding, ...] = ()
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _walk(self) -> _Walker:
        walker = self._memo.get("walk")
        if walker is None:
            walker = self._memo["walk"] = _Walker()
            if self.node is not None:
                walker.walk(self.node, ())
        return walker

    @property
    def positions(self) -> Mapping[JsonPath, tuple[int, int]]:
        """Every path's 1-based (line, column); built on first use."""
        return self._walk().positions

    @property
    def sources(self) -> Mapping[JsonPath, str]:
        """Source text of every plain number/boolean/null; built on first use."""
        return self._walk().sources

    def position(self, path: JsonPath) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest ancestor that has one, else (1, 1).
        Follows the node tree along `path` only, so one lookup never maps the whole file."""
        node = self.node
        if node is None:
            return (1, 1)
        found = _mark(node)
        for part in path:
            step = _child(node, part)
            if step is None:
                break
            found, node = step
        return found

    def item_positions(self, section: str, key: str) -> list[tuple[int, int]]:
        """Position of `key` in each item of the top-level list `section` (of the item where
        it has no such key): one walk for all items, where `position` would start from the
        root for each."""
        found = _child(self.node, section) if self.node is not None else None
        if found is None or not isinstance(found[1], _SEQUENCE):
            return []
        out = []
        for item in found[1].value:
            step = _child(item, key)
            out.append(step[0] if step is not None else _mark(item))
        return out

    def finding(
        self,
        rule: str,
        severity: str,
        path: JsonPath,
        message: str,
        suggestion: str | None = None,
        *,
        subjects: tuple[str, ...] = (),
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
            subjects=subjects,
        )


def _child(node: yaml.Node, part: str | int) -> tuple[tuple[int, int], yaml.Node] | None:
    """(position, node) of one step down; a mapping entry is located at its key."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, _SCALAR) and key_node.value == part and key_node.tag != _MERGE:
                return _mark(key_node), value_node
        return None
    if isinstance(node, _SEQUENCE) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return _mark(item), item
    return None


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


def load_file(path: str | os.PathLike[str], display: str | None = None) -> Document:
    """Read and load one file; `display` is the name findings use (defaults to `path`)."""
    file = display if display is not None else os.fspath(path)
    try:
        raw = read(path)
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


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]  # untyped in stubs
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


def _compose_and_build(text: str, file: str) -> Document:
    node = _compose(text)
    if node is None:
        raise _Refused("LOAD-004", "file holds no YAML document (only comments?)")
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise _Refused("LOAD-007", "top level must be a mapping of keys to values", line, col)
    # Aliases are rebuilt (not shared) so data stays a tree; a file of n characters holds at
    # most 2n distinct nodes, so anything beyond that plus the allowance came from aliases.
    builder = _Builder(budget=2 * len(text) + MAX_ALIAS_EXPANSION)
    data = builder.build(node, 0)
    doc = Document(file=file, data=data, node=node)
    duplicates = tuple(_duplicate(doc, *dup) for dup in builder.duplicates)
    return Document(file=file, data=data, node=node, findings=duplicates) if duplicates else doc


def _duplicate(doc: Document, key_node: yaml.Node, first: yaml.Node, key: str) -> Finding:
    line, column = _mark(key_node)
    return Finding(
        rule="SCHEMA-020",
        severity="error",
        file=doc.file,
        line=line,
        column=column,
        path="$",
        message=f"duplicate key '{key}' (first defined at line {_mark(first)[0]}): YAML readers "
        "keep one of the two values and drop the other without a word",
        suggestion="merge the two blocks into one",
    )


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _check_tag(node: yaml.Node) -> None:
    tag = node.tag or ""
    if tag in _KNOWN_TAGS or tag == "!":
        return
    kind = "python tags run code" if "python/" in tag else "not a JSON-compatible YAML tag"
    raise _Refused("LOAD-010", f"tag {tag} refused: {kind}", *_mark(node))


def _scalar(node: yaml.Node) -> Any:
    tag, value = node.tag, node.value
    if tag == _INT and value.isdigit() and (value[0] != "0" or len(value) == 1):
        return int(value)  # the common case; YAML 1.1 reads 0-prefixed digits as octal
    if tag in _PLAIN_TAGS:
        return None if tag == _NULL else _Constructor.construct_object(node)
    if tag != _TAG + "timestamp":  # JSON has no dates: a timestamp keeps what the user wrote
        _check_tag(node)
    return value


class _Builder:
    """Turns composed nodes into plain JSON-like values: no paths, no positions (those are
    read from the nodes when a finding needs one), so a clean file pays for nothing else."""

    __slots__ = ("budget", "duplicates")

    def __init__(self, *, budget: int) -> None:
        self.budget = budget
        self.duplicates: list[tuple[yaml.Node, yaml.Node, str]] = []

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _Refused(
                "LOAD-009",
                f"aliases expand the document by more than {MAX_ALIAS_EXPANSION} nodes; "
                "refused as an alias explosion",
            )
        if node.__class__ is _SCALAR:
            return node.value if node.tag == _STR else _scalar(node)
        if depth > MAX_DEPTH:
            raise _Refused("LOAD-008", f"nesting deeper than {MAX_DEPTH} levels", *_mark(node))
        _check_tag(node)
        if node.__class__ is _SEQUENCE:
            return [self.build(item, depth + 1) for item in node.value]
        return self._mapping(node, depth)

    def _mapping(self, node: yaml.Node, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = self._merge(value_node, depth, merged)
                continue
            if key_node.__class__ is not _SCALAR:
                raise _Refused("LOAD-011", "mapping keys must be plain scalars", *_mark(key_node))
            key = key_node.value
            if key in out:
                first = next(k for k, _ in node.value if getattr(k, "value", None) == key)
                self.duplicates.append((key_node, first, key))
            out[key] = self.build(value_node, depth + 1)
        return {**merged, **out} if merged else out

    def _merge(self, value_node: yaml.Node, depth: int, merged: dict[str, Any]) -> dict[str, Any]:
        value = self.build(value_node, depth + 1)
        for part in value if isinstance(value, list) else [value]:
            if not isinstance(part, dict):
                raise _Refused("LOAD-006", "`<<` needs a mapping", *_mark(value_node))
            merged = {**part, **merged}
        return merged


class _Walker:
    """The slow, complete map of a document's positions and plain-scalar source text, for the
    few callers that want all of it (a finding only needs `Document.position`)."""

    def __init__(self) -> None:
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.sources: dict[JsonPath, str] = {}
        self._seen = 0

    def walk(self, node: yaml.Node, path: JsonPath) -> None:
        self._seen += 1
        if self._seen > MAX_ALIAS_EXPANSION:  # the builder already bounded the document
            return
        self.positions.setdefault(path, _mark(node))
        if isinstance(node, _SCALAR):
            if node.tag in _PLAIN_TAGS:
                self.sources[path] = node.value
        elif isinstance(node, _SEQUENCE):
            for i, item in enumerate(node.value):
                self.walk(item, (*path, i))
        else:
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, _SCALAR):
                    continue
                where = (*path, key_node.value)
                self.positions.setdefault(where, _mark(key_node))
                self.walk(value_node, where)

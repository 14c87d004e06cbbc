"""The shipped JSON Schema compiled once into nested Python closures.

jsonschema's general validator costs more than parsing the YAML itself; our schemas use a
small keyword set, so they compile to direct checks (a schema using anything else falls back
to jsonschema). tests/pv/test_schema.py holds both to the same violations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pv.findings import JsonPath
from pv.schema import SchemaKind, Violation, schema

Check = Callable[[Any, JsonPath, list[Violation]], None]
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
SUPPORTED = ANNOTATIONS | {
    "type", "properties", "additionalProperties", "required", "items", "enum", "pattern",
    "minimum", "$ref",
}  # fmt: skip


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not implement."""


@cache
def compile_schema(kind: SchemaKind) -> Check | None:
    """A checker for the shipped schema, or None when it needs full jsonschema."""
    root = schema(kind)
    try:
        return _Compiler(root).compile(root)
    except Unsupported:
        return None


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return name == "number" or isinstance(value, int) or value.is_integer()


def _repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, node: dict[str, Any] | bool) -> Check:
        if node is True:
            return lambda value, path, out: None
        if node is False or not isinstance(node, dict):
            raise Unsupported("boolean false schema")
        unknown = set(node) - SUPPORTED
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        checks = [self._keyword(key, node) for key in node if key not in ANNOTATIONS]
        parts = [c for c in checks if c is not None]

        def run(value: Any, path: JsonPath, out: list[Violation]) -> None:
            for part in parts:
                part(value, path, out)

        return parts[0] if len(parts) == 1 else run

    def _ref(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/"):
            raise Unsupported(ref)
        name = ref[len("#/$defs/") :]
        if name not in self.refs:
            self.refs[name] = lambda v, p, o: self.refs[name + "!"](v, p, o)
            self.refs[name + "!"] = self.compile(self.root["$defs"][name])
        return self.refs[name]

    def _keyword(self, key: str, node: dict[str, Any]) -> Check | None:
        value = node[key]
        if key == "$ref":
            return self._ref(value)
        if key == "type":
            return _type_check((value,) if isinstance(value, str) else tuple(value))
        if key == "properties":
            return _properties({k: self.compile(v) for k, v in value.items()})
        if key == "additionalProperties":
            return self._additional(node, value)
        if key == "items":
            return _items(self.compile(value))
        if key == "required":
            return _required(tuple(value))
        if key == "enum":
            return _enum(tuple(value))
        if key == "pattern":
            return _pattern(value)
        return _minimum(value)

    def _additional(self, node: dict[str, Any], extra: Any) -> Check | None:
        known = frozenset(node.get("properties", {}))
        if extra is True:
            return None
        if extra is False:

            def closed(value: Any, path: JsonPath, out: list[Violation]) -> None:
                if isinstance(value, dict):
                    keys = tuple(k for k in value if k not in known)
                    if keys:
                        listed = ", ".join(repr(k) for k in keys)
                        msg = f"Additional properties are not allowed ({listed} unexpected)"
                        out.append(Violation(path=path, keyword="additionalProperties",
                                             message=msg, extra=keys))  # fmt: skip

            return closed
        sub = self.compile(extra)

        def each(value: Any, path: JsonPath, out: list[Violation]) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    if k not in known:
                        sub(v, (*path, k), out)

        return each


def _type_check(types: tuple[str, ...]) -> Check:
    if types == ("string",):  # most of a contract: skip the generic loop

        def text(value: Any, path: JsonPath, out: list[Violation]) -> None:
            if not isinstance(value, str):
                msg = f"{_repr(value)} is not of type 'string'"
                out.append(Violation(path=path, keyword="type", message=msg, extra=types))

        return text

    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if not any(_is_type(value, t) for t in types):
            want = types[0] if len(types) == 1 else list(types)
            msg = f"{_repr(value)} is not of type {want!r}"
            out.append(Violation(path=path, keyword="type", message=msg, extra=types))

    return check


def _properties(subs: dict[str, Check]) -> Check:
    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                sub = subs.get(k)
                if sub is not None:
                    sub(v, (*path, k), out)

    return check


def _items(sub: Check) -> Check:
    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                sub(item, (*path, i), out)

    return check


def _required(keys: tuple[str, ...]) -> Check:
    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if isinstance(value, dict):
            missing = tuple(k for k in keys if k not in value)
            if missing:
                msg = f"{missing[0]!r} is a required property"
                out.append(Violation(path=path, keyword="required", message=msg, extra=missing))

    return check


def _enum(options: tuple[Any, ...]) -> Check:
    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if not any(type(value) is type(o) and value == o for o in options):
            msg = f"{_repr(value)} is not one of {list(options)!r}"
            out.append(Violation(path=path, keyword="enum", message=msg))

    return check


def _pattern(pattern: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if isinstance(value, str) and compiled.search(value) is None:
            msg = f"{_repr(value)} does not match {pattern!r}"
            out.append(Violation(path=path, keyword="pattern", message=msg))

    return check


def _minimum(bound: float) -> Check:
    def check(value: Any, path: JsonPath, out: list[Violation]) -> None:
        if _is_type(value, "number") and value < bound:
            msg = f"{value!r} is less than the minimum of {bound!r}"
            out.append(Violation(path=path, keyword="minimum", message=msg))

    return check

"""The one typed reading of a contract that every command uses (validate's counts, status,
audit, equations, graph, coverage, the dashboard), so no two commands can count a file
differently. Both dialects read the same: equations as a mapping or as a list of items with
`id`, and the older spellings the newer parser accepts as aliases (`statement` for
`property`, `verification` for `formal`, `description` for `rule`, `expected` for
`prediction`, `command` for `test`, `fails_if` for `if_fails`). Which kind of file a YAML is
(contract, binding registry, publish manifest, external-corpora declaration) is decided here
too, by its shape, as the reference decides it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# How the reference tells artifacts apart, first match wins: a `metadata` key is a contract;
# else a `schema:` naming the external-corpora family; else bindings + target_crate; else
# model_id + provenance; anything else is read (and refused) as a contract.
EXT_CORPORA_FAMILY = "ont.paiml.dev/external-corpora/"
ARTIFACTS = ("contract", "binding", "publish-manifest", "external-corpora")

# field -> the older spelling the newer parser reads as the same field
TEST_ALIASES = {
    "rule": "description",
    "prediction": "expected",
    "test": "command",
    "if_fails": "fails_if",
}
OBLIGATION_ALIASES = {"property": "statement", "formal": "verification"}
COUNTED = ("equations", "proof_obligations", "falsification_tests", "kani_harnesses")


def artifact(data: Mapping[str, Any]) -> str:
    """contract, binding, publish-manifest or external-corpora (the reference's table)."""
    if "metadata" in data:
        return "contract"
    schema = data.get("schema")
    if isinstance(schema, str) and schema.startswith(EXT_CORPORA_FAMILY):
        return "external-corpora"
    if "bindings" in data and "target_crate" in data:
        return "binding"
    if "model_id" in data and "provenance" in data:
        return "publish-manifest"
    return "contract"


def effective_kind(data: Mapping[str, Any]) -> str:
    """metadata.kind (kernel when absent); `registry: true` makes a kernel a registry."""
    meta = _map(data.get("metadata"))
    kind = meta.get("kind", "kernel")
    kind = kind if isinstance(kind, str) else "kernel"
    return "registry" if kind == "kernel" and meta.get("registry") is True else kind


@dataclass(frozen=True, slots=True, kw_only=True)
class Equation:
    name: str
    formula: str
    domain: str = ""
    codomain: str = ""
    invariants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Obligation:
    index: int
    id: str
    type: str
    property: str
    formal: str
    applies_to: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Test:
    index: int
    id: str
    rule: str
    prediction: str
    if_fails: str
    test: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Harness:
    index: int
    id: str
    obligation: str
    property: str
    bound: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Contract:
    """A contract as every command reads it. `name` is what `depends_on` calls it."""

    file: str
    name: str
    kind: str
    kind_declared: bool
    version: str
    description: str
    references: tuple[str, ...]
    depends_on: tuple[str, ...]
    equations: tuple[Equation, ...]
    obligations: tuple[Obligation, ...]
    tests: tuple[Test, ...]
    harnesses: tuple[Harness, ...]
    has_qa_gate: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.raw)


def read_contract(file: str, data: Mapping[str, Any]) -> Contract:
    """The typed reading of a loaded contract (any shape the schema let through is read as far
    as it goes; what is missing reads as empty)."""
    meta = _map(data.get("metadata"))
    return Contract(
        file=file,
        name=os.path.splitext(os.path.basename(file))[0],
        kind=effective_kind(data),
        kind_declared="kind" in meta,
        version=_text(meta.get("version")),
        description=_text(meta.get("description")),
        references=_texts(meta.get("references")),
        depends_on=_texts(meta.get("depends_on")),
        equations=equations(data),
        obligations=tuple(_obligation(i, o) for i, o in _items(data, "proof_obligations")),
        tests=tuple(_test(i, t) for i, t in _items(data, "falsification_tests")),
        harnesses=tuple(_harness(i, h) for i, h in _items(data, "kani_harnesses")),
        has_qa_gate=bool(data.get("qa_gate")),
        raw=data,
    )


def counts(data: Mapping[str, Any]) -> dict[str, int]:
    """How many equations, obligations, tests and harnesses the model reads in `data` (what
    `pv validate` counts; computed without building every item, the same way)."""
    return {
        "equations": len(_equation_pairs(data)),
        "proof_obligations": len(_items(data, "proof_obligations")),
        "falsification_tests": len(_items(data, "falsification_tests")),
        "kani_harnesses": len(_items(data, "kani_harnesses")),
    }


def equation_names(data: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(name for name, _ in _equation_pairs(data))


def equations(data: Mapping[str, Any]) -> tuple[Equation, ...]:
    """`equations` as a mapping, or a list whose items carry an `id` (the key is then that id,
    else `equation_{i}`); a bare string is the formula."""
    return tuple(_equation(name, body) for name, body in _equation_pairs(data))


def _equation_pairs(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    value = data.get("equations")
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        keyed: dict[str, Any] = {}
        for i, item in enumerate(value):
            ident = item.get("id") if isinstance(item, Mapping) else None
            keyed[ident if isinstance(ident, str) else f"equation_{i}"] = item
        return list(keyed.items())
    return []


def _equation(name: str, body: Any) -> Equation:
    if not isinstance(body, Mapping):
        return Equation(name=name, formula=_text(body))
    return Equation(
        name=name,
        formula=_text(body.get("formula")),
        domain=_text(body.get("domain")),
        codomain=_text(body.get("codomain")),
        invariants=_texts(body.get("invariants")),
    )


def _obligation(index: int, item: Mapping[str, Any]) -> Obligation:
    return Obligation(
        index=index,
        id=_text(item.get("id")),
        type=_text(item.get("type")) or "invariant",
        property=_text(_aliased(item, "property", OBLIGATION_ALIASES)),
        formal=_text(_aliased(item, "formal", OBLIGATION_ALIASES)),
        applies_to=_text(item.get("applies_to")),
    )


def _test(index: int, item: Mapping[str, Any]) -> Test:
    return Test(
        index=index,
        id=_text(item.get("id")),
        rule=_text(_aliased(item, "rule", TEST_ALIASES)),
        prediction=_text(_aliased(item, "prediction", TEST_ALIASES)),
        if_fails=_text(_aliased(item, "if_fails", TEST_ALIASES)),
        test=_text(_aliased(item, "test", TEST_ALIASES)),
    )


def _harness(index: int, item: Mapping[str, Any]) -> Harness:
    bound = item.get("bound")
    return Harness(
        index=index,
        id=_text(item.get("id")),
        obligation=_text(item.get("obligation")),
        property=_text(item.get("property")),
        bound=bound if isinstance(bound, int) and not isinstance(bound, bool) else None,
    )


def aliased(item: Mapping[str, Any], name: str) -> Any:
    """A falsification test's or obligation's field, read through its older spelling."""
    aliases = TEST_ALIASES if name in TEST_ALIASES else OBLIGATION_ALIASES
    return _aliased(item, name, aliases)


def _aliased(item: Mapping[str, Any], name: str, aliases: Mapping[str, str]) -> Any:
    if name in item:
        return item[name]
    return item.get(aliases.get(name, ""))


def _items(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    return str(value).strip() if isinstance(value, (str, int, float)) else ""


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(v) for v in value) if isinstance(value, list) else ()

"""The id <-> check binding model: which falsification ids (and bounded-harness ids) a
contract declares, which checks claim them, and the one state each id ends in. Only `passed`
discharges an id.

Pure data and functions, no pytest and no YAML parser here, so the plugin, `pv falsify` and
`pv drift` share one meaning of "bound"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pv.contracts.model import aliased

State = Literal["passed", "failed", "skipped", "not-run", "unbound"]
STATES: tuple[State, ...] = ("passed", "failed", "skipped", "not-run", "unbound")
Outcome = Literal["passed", "failed", "skipped"]
RefKind = Literal["node-id", "module-function", "prose"]
IdKind = Literal["falsification", "harness"]

# `path/to/test_x.py::test_name[param]` or `...::Class::test_name`
_NODE_ID = re.compile(r"^[\w./-]+\.py(::[A-Za-z_]\w*)+(\[[^\]\n]*\])?$")
# `package.module:function` or `package.module:Class.method`
_MODULE_FUNCTION = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRef:
    """A contract's pointer at a check: a `binding:` value or a classified `test:` string."""

    kind: RefKind
    text: str
    source: Literal["binding", "test"]

    @property
    def nodeid(self) -> str | None:
        """The pytest node id this reference names (params stripped), or None for prose."""
        if self.kind == "node-id":
            return strip_params(self.text)
        if self.kind == "module-function":
            module, _, function = self.text.partition(":")
            return module.replace(".", "/") + ".py::" + function.replace(".", "::")
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredId:
    """A falsification id as a contract declares it, with the text shown when it fails."""

    id: str
    contract: str
    prediction: str
    if_fails: str
    refs: tuple[CheckRef, ...]
    kind: IdKind = "falsification"
    rule: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One pytest item's end result, folded over setup / call / teardown."""

    nodeid: str
    outcome: Outcome
    ids: tuple[str, ...]
    duration: float
    mutants: tuple[str, ...] = ()
    mutant_applied: str | None = None
    mutant_error: str | None = None
    # what the check measured (`record_property`), carried into the JSON report
    properties: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IdState:
    """The verdict for one declared id and the checks it rests on."""

    declared: DeclaredId
    state: State
    nodeids: tuple[str, ...]
    durations: tuple[float, ...]


def classify(text: str) -> RefKind:
    """Classify a free-text `test:` or `binding:` value; anything not a check name is prose."""
    stripped = text.strip()
    if _NODE_ID.match(stripped):
        return "node-id"
    if _MODULE_FUNCTION.match(stripped):
        return "module-function"
    return "prose"


def strip_params(nodeid: str) -> str:
    """`a.py::t[1-2]` -> `a.py::t`: a binding names the test function, not one parameter."""
    return nodeid.split("[", 1)[0]


def declared_ids(contract: str, document: Mapping[str, object]) -> list[DeclaredId]:
    """Every well-formed entry of `falsification_tests`; malformed ones are `pv validate`'s job."""
    entries = document.get("falsification_tests")
    if not isinstance(entries, list):
        return []
    out: list[DeclaredId] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        out.append(
            DeclaredId(
                id=entry["id"],
                contract=contract,
                prediction=_text(aliased(entry, "prediction")),
                if_fails=_text(aliased(entry, "if_fails")),
                refs=_refs(entry),
                rule=_text(aliased(entry, "rule")),
            )
        )
    return out


def declared_harnesses(contract: str, document: Mapping[str, object]) -> list[DeclaredId]:
    """Every `kani_harnesses` entry with an id, as a bindable id like a falsification id: a
    Python project discharges it with a bounded exhaustive check marked
    `@pytest.mark.falsifies("KANI-...")`. The harness name is a Rust function, never a check."""
    entries = document.get("kani_harnesses")
    out: list[DeclaredId] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        harness, bound = _text(entry.get("harness")) or entry["id"], entry.get("bound")
        within = f" within bound {bound}" if isinstance(bound, int) else ""
        out.append(
            DeclaredId(
                id=entry["id"],
                contract=contract,
                prediction=_text(entry.get("property")) + within,
                if_fails=f"{harness} finds a counterexample to {_text(entry.get('obligation'))}",
                refs=(),
                kind="harness",
                rule=f"bounded check of {harness}",
            )
        )
    return out


def declared_checks(contract: str, document: Mapping[str, object]) -> list[DeclaredId]:
    """Every id a check can discharge: falsification ids, then bounded-harness ids."""
    return declared_ids(contract, document) + declared_harnesses(contract, document)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _refs(entry: Mapping[str, object]) -> tuple[CheckRef, ...]:
    refs: list[CheckRef] = []
    binding = entry.get("binding")
    bindings = binding if isinstance(binding, list) else [binding]
    for value in bindings:
        if isinstance(value, str) and value.strip():
            refs.append(CheckRef(kind=classify(value), text=value.strip(), source="binding"))
    test = aliased(entry, "test")
    if isinstance(test, str) and test.strip():
        refs.append(CheckRef(kind=classify(test), text=test.strip(), source="test"))
    return tuple(refs)


def fold_outcomes(outcomes: Iterable[Outcome]) -> State:
    """The worst outcome wins: one failing check fails the id, one skip withholds a pass."""
    seen = set(outcomes)
    if not seen:
        return "not-run"
    worst_first: tuple[State, ...] = ("failed", "skipped")
    for state in worst_first:
        if state in seen:
            return state
    return "passed"


def checks_for(declared: DeclaredId, results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results that discharge `declared`: by marker id, or named by a `binding:`/`test:`."""
    named = {ref.nodeid for ref in declared.refs if ref.nodeid is not None}
    return [r for r in results if declared.id in r.ids or strip_params(r.nodeid) in named]


def resolve(
    declared: Sequence[DeclaredId],
    results: Sequence[CheckResult],
    collected: Mapping[str, Sequence[str]],
) -> list[IdState]:
    """One state per declared id. `collected` maps every collected node id to its marker ids,
    so a check that was collected (or deselected) but never reported is `not-run`, and an id
    no check claims at all is `unbound`, even if its `test:` prose describes one."""
    out: list[IdState] = []
    for decl in declared:
        mine = checks_for(decl, results)
        named = {ref.nodeid for ref in decl.refs if ref.nodeid is not None}
        bound = bool(mine) or any(
            decl.id in ids or strip_params(nodeid) in named for nodeid, ids in collected.items()
        )
        state: State = fold_outcomes(r.outcome for r in mine) if bound else "unbound"
        out.append(
            IdState(
                declared=decl,
                state=state,
                nodeids=tuple(r.nodeid for r in mine),
                durations=tuple(r.duration for r in mine),
            )
        )
    return out


def undeclared(
    declared: Sequence[DeclaredId], results: Iterable[CheckResult]
) -> dict[str, list[str]]:
    """Marker ids that no loaded contract declares -> the checks that name them."""
    known = {d.id for d in declared}
    out: dict[str, list[str]] = {}
    for result in results:
        for ident in result.ids:
            if ident not in known:
                out.setdefault(ident, []).append(result.nodeid)
    return out


def contract_files(paths: Iterable[Path]) -> list[Path]:
    """Contract files under `paths`, found as `pv validate` finds them; absent paths are
    `pv validate`'s to report."""
    from pv.rules.validate import discover

    return [Path(p) for p in discover(paths)[0]]

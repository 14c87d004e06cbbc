"""Mutants prove a check can fail: a check names its mutants with `@pytest.mark.mutants(...)`,
a registry maps each name to a deliberate break, and the break is applied (through
monkeypatch, so it is undone at teardown) only while that one check runs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ENV_VAR = "PV_MUTANT"
MutantStatus = Literal["killed", "survived", "error"]
Scope = Literal["check", "session"]
# apply(monkeypatch, tmp_path): break something; monkeypatch undoes it afterwards
ApplyFn = Callable[[Any, Path], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    """A named, minimal, deliberate break of the code under test. scope="check" applies it
    around each check; scope="session" applies it before any session fixture is built (for
    checks that share an engine run), which is sound because a mutant session holds only
    the checks that name this mutant."""

    name: str
    description: str
    apply: ApplyFn
    scope: Scope = "check"


class Registry:
    """Named mutants for one check folder; `falsify/mutants.py` holds the project's."""

    def __init__(self) -> None:
        self._mutants: dict[str, Mutant] = {}

    def register(
        self, name: str, description: str, *, scope: Scope = "check"
    ) -> Callable[[ApplyFn], ApplyFn]:
        """Decorator: `@registry.register("no-t-squared", "drops the T^2 factor")`."""

        def wrap(apply: ApplyFn) -> ApplyFn:
            if name in self._mutants:
                raise ValueError(f"mutant {name!r} is registered twice")
            self._mutants[name] = Mutant(
                name=name, description=description, apply=apply, scope=scope
            )
            return apply

        return wrap

    def get(self, name: str) -> Mutant | None:
        return self._mutants.get(name)

    def names(self) -> list[str]:
        return sorted(self._mutants)

    def __iter__(self) -> Iterator[Mutant]:
        return iter(self._mutants[name] for name in self.names())


def wanted() -> str:
    """The mutant this process runs under (`PV_MUTANT`), or "" for a normal run."""
    return os.environ.get(ENV_VAR, "")


def named_by(item: Any) -> list[str]:
    """The mutant names a pytest item declares with `@pytest.mark.mutants(...)`."""
    return [str(arg) for mark in item.iter_markers("mutants") for arg in mark.args]


def undefined(named: list[str], registry: Registry) -> list[str]:
    """The mutant names a check uses that the registry does not define."""
    return [name for name in named if registry.get(name) is None]


def keep_only_mutant_checks(config: Any, items: list[Any]) -> None:
    """Under `PV_MUTANT=name`, deselect every check that does not name that mutant."""
    name = wanted()
    if not name:
        return
    drop = [item for item in items if name not in named_by(item)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if name in named_by(item)]


@contextmanager
def session_scope(registry: Registry) -> Iterator[str | None]:
    """Apply a session-scoped `PV_MUTANT` for the whole (mutant-only) session."""
    import pytest

    mutant = registry.get(wanted())
    if mutant is None or mutant.scope != "session":
        yield None
        return
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as tmp:
        mutant.apply(patch, Path(tmp))
        yield mutant.name


def activate(request: Any, registry: Registry, session_applied: str | None) -> str | None:
    """Called by an autouse fixture before each check. Fails a check that names an undefined
    mutant (in every run, so a typo never waits for `--mutants`). When `PV_MUTANT` names one
    of this check's mutants, applies it (check scope) and records on the report that it is
    active; returns its name."""
    import pytest

    from pv.binding.plugin import APPLIED_PROPERTY, MUTANT_ERROR_PROPERTY

    named = named_by(request.node)
    missing = undefined(named, registry)
    if missing:
        message = (
            f"undefined mutant(s) {', '.join(missing)}; defined: {', '.join(registry.names())}"
        )
        request.node.user_properties.append((MUTANT_ERROR_PROPERTY, message))
        pytest.fail(message, pytrace=False)
    name = wanted()
    mutant = registry.get(name) if name in named else None
    if mutant is None:
        return None
    if mutant.scope == "check":
        mutant.apply(request.getfixturevalue("monkeypatch"), request.getfixturevalue("tmp_path"))
    elif session_applied != name:
        return None
    request.node.user_properties.append((APPLIED_PROPERTY, name))
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class MutantResult:
    """One check run once with one mutant active."""

    nodeid: str
    mutant: str
    status: MutantStatus
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "nodeid": self.nodeid,
            "mutant": self.mutant,
            "status": self.status,
            "detail": self.detail,
        }


def judge(nodeid: str, mutant: str, check: Mapping[str, Any] | None) -> MutantResult:
    """A mutant is killed only if it was really applied and the check then failed."""

    def result(status: MutantStatus, detail: str = "") -> MutantResult:
        return MutantResult(nodeid=nodeid, mutant=mutant, status=status, detail=detail)

    if check is None:
        return result("error", "the check did not run with the mutant")
    if check.get("mutant_error"):
        return result("error", str(check["mutant_error"]))
    if check.get("mutant_applied") != mutant:
        return result("error", "the mutant was not applied (is falsify/conftest.py loaded?)")
    if check.get("outcome") == "failed":
        return result("killed")
    if check.get("outcome") == "passed":
        return result("survived", "the check passed with the mutant active")
    return result("error", f"the check was {check.get('outcome')} with the mutant active")

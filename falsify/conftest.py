"""Wires pv's mutant mechanism into the checks: every check gets an autouse fixture that
fails on an undefined mutant name and, under `PV_MUTANT=name`, applies that mutant while
(only) the checks that name it run. See pv/mutants.py and falsify/mutants.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from falsify.mutants import REGISTRY
from pv import mutants as pv_mutants


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    pv_mutants.keep_only_mutant_checks(config, items)


@pytest.fixture(scope="session", autouse=True)
def _pv_session_mutant() -> Iterator[str | None]:
    with pv_mutants.session_scope(REGISTRY) as applied:
        yield applied


@pytest.fixture(autouse=True)
def _pv_mutant(request: pytest.FixtureRequest, _pv_session_mutant: str | None) -> str | None:
    return pv_mutants.activate(request, REGISTRY, _pv_session_mutant)

"""The mutant mechanism: the registry, applying a mutant only to the checks that name it,
judging killed / survived / error, and the project's real contract mutant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import falsify.mutants as project_mutants
import pv.binding.falsify
import pv.contracts.load  # keep yaml loaded across pytester runs (see test_plugin.py)
from pv.binding.mutants import ENV_VAR, Registry, judge, undefined
from pv.cli import main

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]
CONTRACT = REPO / "contracts" / "apr-cli-distill-train-v1.yaml"


def _noop(monkeypatch: object, tmp_path: Path) -> None:
    return None


def test_a_registry_maps_names_to_mutants_in_name_order() -> None:
    registry = Registry()
    registry.register("zeta", "z")(_noop)
    registry.register("alpha", "a", scope="session")(_noop)
    assert registry.names() == ["alpha", "zeta"]
    assert [m.name for m in registry] == ["alpha", "zeta"]
    alpha = registry.get("alpha")
    assert alpha is not None
    assert (alpha.scope, alpha.description) == ("session", "a")
    assert registry.get("missing") is None
    assert undefined(["alpha", "nope", "zeta"], registry) == ["nope"]


def test_registering_a_mutant_name_twice_is_an_error() -> None:
    registry = Registry()
    registry.register("x", "first")(_noop)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("x", "second")(_noop)


@pytest.mark.parametrize(
    ("check", "status"),
    [
        ({"outcome": "failed", "mutant_applied": "m"}, "killed"),
        ({"outcome": "passed", "mutant_applied": "m"}, "survived"),
        ({"outcome": "failed", "mutant_applied": None}, "error"),
        ({"outcome": "failed", "mutant_applied": "m", "mutant_error": "undefined"}, "error"),
        ({"outcome": "skipped", "mutant_applied": "m"}, "error"),
        (None, "error"),
    ],
)
def test_a_mutant_is_killed_only_when_it_was_applied_and_the_check_failed(
    check: dict[str, object] | None, status: str
) -> None:
    assert judge("t.py::test_x", "m", check).status == status


def test_duplicating_a_falsification_id_changes_only_the_second_id() -> None:
    text = "falsification_tests:\n  - id: FALSIFY-A-001\n    rule: r\n  - id: 'FALSIFY-A-002'\n"
    assert project_mutants.duplicate_falsification_id(text) == text.replace("A-002", "A-001")
    with pytest.raises(ValueError, match="at least two"):
        project_mutants.duplicate_falsification_id("falsification_tests:\n  - id: FALSIFY-A-1\n")


def test_the_contract_mutant_makes_pv_validate_fail_and_leaves_the_real_file_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = CONTRACT.read_bytes()
    runner = CliRunner()
    clean = project_mutants.contract_path(CONTRACT.name)
    assert runner.invoke(main, ["validate", str(clean)]).exit_code == 0
    mutant = project_mutants.REGISTRY.get("contract-duplicate-falsification-id")
    assert mutant is not None
    mutant.apply(monkeypatch, tmp_path)
    broken = project_mutants.contract_path(CONTRACT.name)
    assert broken.parent == tmp_path / "mutant-contracts"
    result = runner.invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "SCHEMA-007" in result.output
    assert CONTRACT.read_bytes() == before


CONFTEST = """\
import pytest
from pv.binding import mutants as pv_mutants
from checks.registry import REGISTRY

def pytest_collection_modifyitems(config, items):
    pv_mutants.keep_only_mutant_checks(config, items)

@pytest.fixture(scope="session", autouse=True)
def _pv_session_mutant():
    with pv_mutants.session_scope(REGISTRY) as applied:
        yield applied

@pytest.fixture(autouse=True)
def _pv_mutant(request, _pv_session_mutant):
    return pv_mutants.activate(request, REGISTRY, _pv_session_mutant)
"""

REGISTRY_MODULE = """\
from pv.binding.mutants import Registry
from checks import calc

REGISTRY = Registry()

@REGISTRY.register("off-by-one", "add returns a + b + 1")
def _off_by_one(monkeypatch, tmp_path):
    monkeypatch.setattr(calc, "add", lambda a, b: a + b + 1)

@REGISTRY.register("harmless", "patches a name no check reads")
def _harmless(monkeypatch, tmp_path):
    monkeypatch.setattr(calc, "unused", 1)

@REGISTRY.register("zero", "add returns 0, for the whole session", scope="session")
def _zero(monkeypatch, tmp_path):
    monkeypatch.setattr(calc, "add", lambda a, b: 0)
"""

CHECKS = """\
import pytest
from checks import calc

@pytest.fixture(scope="session")
def shared_sum():
    return calc.add(2, 2)

@pytest.mark.falsifies("FALSIFY-M-001")
@pytest.mark.mutants("off-by-one", "harmless", "zero")
def test_add(shared_sum):
    assert calc.add(1, 1) == 2
    assert shared_sum == 4

@pytest.mark.falsifies("FALSIFY-M-002")
@pytest.mark.mutants("zero")
def test_other():
    assert calc.add(0, 3) == 3
"""


def _mutant_project(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("checks")
    files = {"conftest.py": CONFTEST, "registry.py": REGISTRY_MODULE, "test_calc.py": CHECKS}
    files["calc.py"] = "unused = 0\n\ndef add(a, b):\n    return a + b\n"
    for name, text in files.items():
        (pytester.path / "checks" / name).write_text(text, encoding="utf-8")


def _checks(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return {c["nodeid"].rsplit("::", 1)[1]: c for c in report["checks"]}


def test_without_pv_mutant_no_mutant_is_applied(pytester: pytest.Pytester) -> None:
    _mutant_project(pytester)
    result = pytester.runpytest("--pv-report", "r.json")
    result.assert_outcomes(passed=2)
    assert all(c["mutant_applied"] is None for c in _checks(pytester).values())


def test_a_check_scoped_mutant_breaks_only_the_checks_that_name_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mutant_project(pytester)
    monkeypatch.setenv(ENV_VAR, "off-by-one")
    result = pytester.runpytest("--pv-report", "r.json")
    result.assert_outcomes(failed=1, deselected=1)
    add = _checks(pytester)["test_add"]
    assert (add["outcome"], add["mutant_applied"]) == ("failed", "off-by-one")


def test_a_session_scoped_mutant_is_active_before_session_fixtures_are_built(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mutant_project(pytester)
    monkeypatch.setenv(ENV_VAR, "zero")
    result = pytester.runpytest("--pv-report", "r.json")
    result.assert_outcomes(failed=2)
    assert {c["mutant_applied"] for c in _checks(pytester).values()} == {"zero"}
    result.stdout.fnmatch_lines(["shared_sum = 0"])  # the shared fixture saw the mutant


def test_a_mutant_that_changes_nothing_the_check_sees_survives(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mutant_project(pytester)
    monkeypatch.setenv(ENV_VAR, "harmless")
    pytester.runpytest("--pv-report", "r.json").assert_outcomes(passed=1, deselected=1)
    add = _checks(pytester)["test_add"]
    assert judge("x", "harmless", add).status == "survived"


def test_a_check_naming_an_undefined_mutant_fails_in_every_run(pytester: pytest.Pytester) -> None:
    _mutant_project(pytester)
    test_file = pytester.path / "checks" / "test_calc.py"
    test_file.write_text(CHECKS.replace('"zero")\ndef test_other', '"zeroo")\ndef test_other'))
    result = pytester.runpytest("--pv-report", "r.json")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*undefined mutant(s) zeroo; defined: harmless, off-by-one, zero*"]
    )
    assert "zeroo" in str(_checks(pytester)["test_other"]["mutant_error"])


def test_pv_falsify_mutants_reports_killed_survived_and_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mutant_project(pytester)
    (pytester.path / "contracts").mkdir()
    contract = "falsification_tests:\n" + "".join(
        f"  - id: FALSIFY-M-00{i}\n    prediction: p{i}\n    if_fails: f{i}\n" for i in (1, 2, 3)
    )
    (pytester.path / "contracts" / "m-v1.yaml").write_text(contract, encoding="utf-8")
    shutil.copy(
        pytester.path / "checks" / "test_calc.py", pytester.path / "checks" / "test_more.py"
    )
    more = pytester.path / "checks" / "test_more.py"
    more.write_text(
        more.read_text().replace("M-002", "M-003").replace('    @pytest.mark.mutants("zero")\n', "")
    )
    report = pv.binding.falsify.run(
        [], mutants=True, root=pytester.path, check_paths=[pytester.path / "checks"]
    )
    verdicts = {(m.nodeid.rsplit("/", 1)[1], m.mutant): m.status for m in report.mutants}
    assert verdicts[("test_calc.py::test_add", "off-by-one")] == "killed"
    assert verdicts[("test_calc.py::test_add", "zero")] == "killed"
    assert verdicts[("test_calc.py::test_add", "harmless")] == "survived"
    assert verdicts[("test_calc.py::test_other", "zero")] == "killed"
    assert report.report["verdict"] == "passed"
    assert report.exit_code == 1  # a survivor fails the run

"""The pytest plugin through pytester, serially and under xdist (`-n 2`): states, the
terminal summary, --pv-strict, --pv-report, and silence when nothing asks for it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imported here, before any in-process pytester run: pytester drops modules a run imported,
# and a re-imported `yaml` no longer matches the C loader's node classes.
import pv.binding.falsify
import pv.contracts.load  # noqa: F401

pytest_plugins = ["pytester"]

CONTRACT = """\
metadata:
  version: "1.0.0"
  description: demo
falsification_tests:
  - id: FALSIFY-DEMO-001
    rule: sums
    prediction: "one plus one is two"
    test: "falsify/test_demo.py::test_bound_by_test_field"
    if_fails: "arithmetic is broken"
  - id: FALSIFY-DEMO-002
    rule: parity
    prediction: "two is even"
    test: "checked by hand"
    if_fails: "parity is broken"
  - id: FALSIFY-DEMO-003
    rule: order
    prediction: "three exceeds two"
    if_fails: "ordering is broken"
"""

CHECKS = """\
import pytest

def test_bound_by_test_field():
    assert 1 + 1 == 2

@pytest.mark.falsifies("FALSIFY-DEMO-003")
def test_three():
    assert 3 > {bound}
"""

MODES = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]


def _project(pytester: pytest.Pytester, *, bound: int = 2, contract: str = CONTRACT) -> None:
    pytester.mkdir("contracts")
    pytester.mkdir("falsify")
    (pytester.path / "contracts" / "demo-v1.yaml").write_text(contract, encoding="utf-8")
    (pytester.path / "falsify" / "test_demo.py").write_text(
        CHECKS.format(bound=bound), encoding="utf-8"
    )


def _report(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return data


def _states(report: dict[str, object]) -> dict[str, str]:
    return {e["id"]: e["state"] for e in report["ids"]}  # type: ignore[attr-defined, index]


@pytest.mark.parametrize("mode", MODES)
def test_the_summary_lists_every_id_with_its_state(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester)
    result = pytester.runpytest(*mode)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*pv falsification ids*",
            "contracts/demo-v1.yaml",
            "*passed*FALSIFY-DEMO-001*test_bound_by_test_field*",
            "*unbound*FALSIFY-DEMO-002*prose*",
            "*passed*FALSIFY-DEMO-003*test_three*",
            "3 id(s): 2 passed, 1 unbound",
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_check_shows_the_contract_prediction_and_if_fails(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester, bound=5)
    result = pytester.runpytest(*mode)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pv FALSIFY-DEMO-003*",
            "prediction: three exceeds two",
            "if_fails:   ordering is broken",
            "*failed*FALSIFY-DEMO-003*",
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_strict_fails_a_green_session_that_leaves_an_id_unbound(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester)
    result = pytester.runpytest("--pv-strict", *mode)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*pv --pv-strict: FAILED: FALSIFY-DEMO-002 is unbound*"])


def test_strict_passes_when_every_id_passed(pytester: pytest.Pytester) -> None:
    _project(pytester, contract=CONTRACT.replace("checked by hand", "falsify.test_demo:test_three"))
    result = pytester.runpytest("--pv-strict")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*pv --pv-strict: every id passed*"])


def test_strict_never_passes_a_session_over_zero_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("--pv-strict")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*zero ids never passes*"])


def test_strict_can_be_set_in_the_ini_file(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makeini("[pytest]\npv_strict = true\npv_report = out/r.json\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _states(_report(pytester, "out/r.json"))["FALSIFY-DEMO-002"] == "unbound"


@pytest.mark.parametrize("mode", MODES)
def test_the_json_report_has_states_node_ids_durations_and_environment(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester, bound=5)
    pytester.runpytest("--pv-report", "r.json", *mode)
    report = _report(pytester)
    assert _states(report) == {
        "FALSIFY-DEMO-001": "passed",
        "FALSIFY-DEMO-002": "unbound",
        "FALSIFY-DEMO-003": "failed",
    }
    third = report["ids"][2]  # type: ignore[index]
    assert third["nodeids"] == ["falsify/test_demo.py::test_three"]
    assert len(third["durations"]) == 1
    assert third["durations"][0] >= 0
    assert report["verdict"] == "failed"
    env = report["environment"]
    assert set(env) >= {"git_commit", "python", "torch", "platform"}  # type: ignore[arg-type]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
def test_a_deselected_check_leaves_its_id_not_run(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester)
    pytester.runpytest("-k", "not three", "--pv-report", "r.json", *mode)
    assert _states(_report(pytester))["FALSIFY-DEMO-003"] == "not-run"


@pytest.mark.parametrize("mode", MODES)
def test_a_marker_naming_an_undeclared_id_is_reported_not_a_crash(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester)
    pytester.makepyfile(
        test_typo="import pytest\n\n@pytest.mark.falsifies('FALSIFY-DEMO-999')\n"
        "def test_typo():\n    pass\n"
    )
    result = pytester.runpytest("--pv-strict", "--pv-report", "r.json", *mode)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*UNDECLARED FALSIFY-DEMO-999*test_typo.py::test_typo*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _report(pytester)["undeclared"] == {"FALSIFY-DEMO-999": ["test_typo.py::test_typo"]}


def test_the_plugin_is_silent_without_options_or_marked_checks(pytester: pytest.Pytester) -> None:
    pytester.mkdir("contracts")
    (pytester.path / "contracts" / "demo-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert "pv falsification ids" not in result.stdout.str()


def test_contracts_option_selects_contract_files(pytester: pytest.Pytester) -> None:
    _project(pytester)
    other = pytester.path / "elsewhere.yaml"
    other.write_text(CONTRACT.replace("DEMO", "ELSE"), encoding="utf-8")
    pytester.runpytest("--pv-contracts", str(other), "--pv-report", "r.json")
    report = _report(pytester)
    assert sorted(_states(report)) == ["FALSIFY-ELSE-001", "FALSIFY-ELSE-002", "FALSIFY-ELSE-003"]
    assert set(report["undeclared"]) == {"FALSIFY-DEMO-003"}  # type: ignore[arg-type]


def test_a_contract_that_cannot_be_loaded_is_reported(pytester: pytest.Pytester) -> None:
    _project(pytester)
    (pytester.path / "contracts" / "broken.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    result = pytester.runpytest("--pv-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*NOT LOADED*broken.yaml*"])


def test_only_bound_deselects_checks_no_contract_claims(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_other="def test_unrelated():\n    pass\n")
    result = pytester.runpytest("--pv-only-bound")
    result.assert_outcomes(passed=2, deselected=1)


def test_importing_the_plugin_imports_neither_torch_nor_jsonschema() -> None:
    code = (
        "import sys, pv.binding.plugin; "
        "print([m for m in ('torch', 'jsonschema') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


MEASURING = """\
import pytest

@pytest.mark.falsifies("FALSIFY-DEMO-003")
def test_three(record_property):
    record_property("margin", {"seed": 0, "value": 0.25})
    record_property("pv_private", "the plugin's own keys stay out of properties")
    assert 3 > 2

@pytest.mark.falsifies("KANI-DEMO-001")
def test_bounded():
    assert all(a + b == b + a for a in range(4) for b in range(4))
"""

HARNESS = "kani_harnesses:\n  - id: KANI-DEMO-001\n    obligation: sums\n    bound: 4\n"


@pytest.mark.parametrize("mode", MODES)
def test_measured_properties_and_harness_ids_reach_the_json_report(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    _project(pytester, contract=CONTRACT + HARNESS)
    (pytester.path / "falsify" / "test_demo.py").write_text(MEASURING, encoding="utf-8")
    pytester.runpytest("--pv-report", "r.json", *mode)
    report = _report(pytester)
    assert _states(report)["KANI-DEMO-001"] == "passed"
    assert _states(report)["FALSIFY-DEMO-003"] == "passed"
    checks = {c["nodeid"]: c for c in report["checks"]}  # type: ignore[attr-defined]
    three = checks["falsify/test_demo.py::test_three"]
    assert three["properties"] == {"margin": {"seed": 0, "value": 0.25}}


def test_a_report_that_cannot_be_written_is_one_error_line_and_exit_1(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester)
    pytester.mkdir("r.json")  # a folder where the report goes: the rename onto it fails
    result = pytester.runpytest("--pv-report", "r.json")
    assert result.ret == 1
    result.stderr.fnmatch_lines(["pv: error: cannot write *r.json: Is a directory"])
    assert list((pytester.path / "r.json").iterdir()) == []

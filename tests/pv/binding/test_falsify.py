"""`pv falsify` through click's CliRunner on small self-contained projects: the id table,
exit codes 0 / 1 / 2, the JSON report, and `--mutants`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pv.binding import falsify as falsify_mod
from pv.binding.falsify import FalsifyReport
from pv.binding.idreport import render_text, write_json
from pv.binding.mutants import MutantResult
from pv.cli import main
from pv.core.progress import Bar

CONTRACT = """\
falsification_tests:
  - id: FALSIFY-F-001
    rule: sums
    prediction: "one plus one is two"
    if_fails: "arithmetic is broken"
  - id: FALSIFY-F-002
    rule: parity
    prediction: "two is even"
    binding: "falsify.test_f:test_even"
    if_fails: "parity is broken"
"""

CHECKS = """\
import pytest
from falsify import calc

@pytest.mark.falsifies("FALSIFY-F-001")
@pytest.mark.mutants("off-by-one")
def test_sum():
    assert calc.add(1, 1) == 2

@pytest.mark.mutants("off-by-one")
def test_even():
    assert calc.add(1, 1) % 2 == 0

def test_unrelated_is_not_run():
    raise AssertionError("pv falsify runs only bound checks")
"""

CONFTEST = """\
import pytest
from pv.binding import mutants as pv_mutants
from pv.binding.mutants import Registry
from falsify import calc

REGISTRY = Registry()

@REGISTRY.register("off-by-one", "add returns a + b + 1")
def _off_by_one(monkeypatch, tmp_path):
    monkeypatch.setattr(calc, "add", lambda a, b: a + b + 1)

def pytest_collection_modifyitems(config, items):
    pv_mutants.keep_only_mutant_checks(config, items)

@pytest.fixture(autouse=True)
def _pv_mutant(request):
    return pv_mutants.activate(request, REGISTRY, None)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "falsify").mkdir()
    files = {
        "contracts/f-v1.yaml": CONTRACT,
        "falsify/__init__.py": "",
        "falsify/calc.py": "def add(a, b):\n    return a + b\n",
        "falsify/conftest.py": CONFTEST,
        "falsify/test_f.py": CHECKS,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _falsify(*args: str) -> Result:
    return CliRunner().invoke(main, ["falsify", *args])


def test_every_id_passing_exits_0_with_the_id_table(project: Path) -> None:
    result = _falsify()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4
    assert lines[0] == "contracts/f-v1.yaml"
    assert lines[1].startswith("  passed   FALSIFY-F-001  falsify/test_f.py::test_sum ")
    assert lines[2].startswith("  passed   FALSIFY-F-002  falsify/test_f.py::test_even ")
    assert lines[3] == "2 id(s): 2 passed"


def test_a_failing_check_exits_1_and_shows_the_failure_with_its_prediction(project: Path) -> None:
    checks = project / "falsify" / "test_f.py"
    checks.write_text(CHECKS.replace("== 2\n", "== 3\n"), encoding="utf-8")
    result = _falsify()
    assert result.exit_code == 1
    assert "prediction: one plus one is two" in result.output
    assert "  failed   FALSIFY-F-001" in result.output


def test_json_output_is_the_report(project: Path) -> None:
    result = _falsify("--format", "json")
    data = json.loads(result.output)
    assert result.exit_code == data["exit_code"] == 0
    assert [(i["id"], i["state"]) for i in data["ids"]] == [
        ("FALSIFY-F-001", "passed"),
        ("FALSIFY-F-002", "passed"),
    ]
    assert data["summary"]["passed"] == 2
    assert "mutants" not in data
    assert data["environment"]["python"]


def test_an_unbound_id_exits_1(project: Path) -> None:
    contract = project / "contracts" / "f-v1.yaml"
    contract.write_text(CONTRACT.replace('binding: "falsify.test_f:test_even"', 'test: "by eye"'))
    result = _falsify()
    assert result.exit_code == 1
    assert "  unbound  FALSIFY-F-002  (no check; the test: text is prose)" in result.output


def test_a_named_contract_limits_the_run_to_its_ids(project: Path) -> None:
    other = project / "contracts" / "g-v1.yaml"
    other.write_text(CONTRACT.replace("-F-", "-G-"), encoding="utf-8")
    assert _falsify().exit_code == 1  # G's ids have no checks
    result = _falsify("contracts/f-v1.yaml")
    assert result.exit_code == 0
    assert "FALSIFY-G" not in result.output


def test_nothing_to_check_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _falsify()
    assert result.exit_code == 2
    assert "nothing to check" in result.output
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "empty-v1.yaml").write_text("metadata:\n  version: '1.0.0'\n")
    assert _falsify().exit_code == 2


def test_a_missing_contract_path_is_a_usage_error(project: Path) -> None:
    result = _falsify("contracts/nope.yaml")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_crashing_pytest_is_an_error_not_a_pass(project: Path) -> None:
    (project / "falsify" / "conftest.py").write_text("raise RuntimeError('boom')\n")
    result = _falsify()
    assert result.exit_code == 1
    assert "pv falsify: error: pytest exited" in result.output


def test_without_pytest_installed_the_run_is_one_clear_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytest" else real(name, *a)
    )
    result = _falsify()
    assert result.exit_code == 1
    assert "pv falsify: error: pytest is not installed here" in result.output


def test_mutants_killed_by_every_check_exit_0(project: Path) -> None:
    result = _falsify("--mutants")
    assert result.exit_code == 0, result.output
    assert "  killed   off-by-one" in result.output
    assert result.output.rstrip().endswith("2 mutant run(s): 2 killed")


def test_a_surviving_mutant_or_a_check_without_mutants_fails_the_run(project: Path) -> None:
    checks = project / "falsify" / "test_f.py"
    text = CHECKS.replace("assert calc.add(1, 1) % 2 == 0", "assert calc.add(1, 1) > 0")
    checks.write_text(
        text.replace('@pytest.mark.mutants("off-by-one")\ndef test_sum', "def test_sum")
    )
    result = _falsify("--mutants", "--format", "json")
    data = json.loads(result.output)
    assert result.exit_code == data["exit_code"] == 1
    statuses = {(m["nodeid"].rsplit("::", 1)[1], m["mutant"]): m["status"] for m in data["mutants"]}
    assert statuses == {("test_even", "off-by-one"): "survived", ("test_sum", "-"): "error"}


def _report(verdict: str, ids: int = 1) -> dict[str, object]:
    return {"verdict": verdict, "ids": [{}] * ids}


@pytest.mark.parametrize(
    ("report", "kwargs", "code"),
    [
        (_report("passed"), {}, 0),
        (_report("failed"), {}, 1),
        (_report("empty", ids=0), {}, 2),
        (_report("passed"), {"error": "pytest exited 3"}, 1),
        (
            _report("passed"),
            {"mutants": (MutantResult(nodeid="t", mutant="m", status="survived"),)},
            1,
        ),
        (
            _report("passed"),
            {"mutants": (MutantResult(nodeid="t", mutant="m", status="killed"),)},
            0,
        ),
    ],
)
def test_the_exit_code_follows_ids_mutants_and_errors(
    report: dict[str, object], kwargs: dict[str, object], code: int
) -> None:
    assert FalsifyReport(report=report, **kwargs).exit_code == code  # type: ignore[arg-type]


def test_the_text_table_names_undeclared_ids_and_unloadable_contracts() -> None:
    lines = render_text(
        {
            "ids": [],
            "undeclared": {"FALSIFY-X-1": ["t.py::a"]},
            "load_errors": ["c.yaml:1: bad"],
            "summary": {},
        }
    )
    assert lines == [
        "  UNDECLARED FALSIFY-X-1 (no loaded contract declares it): t.py::a",
        "  NOT LOADED c.yaml:1: bad",
        "0 id(s): nothing to check",
    ]


def test_stated_evidence_that_a_failing_check_contradicts_fails_the_run(project: Path) -> None:
    contract = project / "contracts" / "f-v1.yaml"
    contract.write_text(
        CONTRACT.replace(
            '    if_fails: "parity is broken"\n',
            '    if_fails: "parity is broken"\n'
            "    algorithm_evidence:\n      status: PARTIAL_ALGORITHM_LEVEL\n",
        ),
        encoding="utf-8",
    )
    assert _falsify().exit_code == 0  # the claim holds while the check passes
    checks = project / "falsify" / "test_f.py"
    checks.write_text(
        CHECKS.replace("calc.add(1, 1) % 2 == 0", "calc.add(1, 1) % 2 == 1"), encoding="utf-8"
    )
    result = _falsify()
    assert result.exit_code == 1
    assert (
        "contracts/f-v1.yaml:12:7: error DRIFT-031 algorithm_evidence.status "
        "'PARTIAL_ALGORITHM_LEVEL' claims a passing check, but FALSIFY-F-002 is failed"
    ) in result.output
    data = json.loads(_falsify("--format", "json").output)
    assert [c["rule"] for c in data["claims"]] == ["DRIFT-031"]


def test_a_report_that_cannot_be_written_leaves_no_temp_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    write_json(target, {"verdict": "passed"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"verdict": "passed"}
    with pytest.raises(TypeError):
        write_json(target, {"verdict": "passed", "bad": object()})
    blocked = tmp_path / "out" / "blocked.json"
    blocked.mkdir()  # a folder where the report should go: the final rename fails
    with pytest.raises(OSError, match=r"cannot write .*blocked.json: Is a directory"):
        write_json(blocked, {"verdict": "failed"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"verdict": "passed"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["blocked.json", "report.json"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mutant_runs_show_a_progress_bar_on_a_terminal_only_without_quiet(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    class Recorder(Bar):
        def __init__(self, label: str, total: int, *, quiet: bool) -> None:
            seen.append(quiet)
            super().__init__(label, total, quiet=quiet, stream=stream)

    stream = _Tty()
    monkeypatch.setattr(falsify_mod, "Bar", Recorder)
    assert _falsify("--mutants", "--quiet").exit_code == 0
    assert seen == [True]
    assert stream.getvalue() == ""
    result = falsify_mod.run([], mutants=True, root=project, quiet=False)
    assert result.exit_code == 0
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("mutants: 100%")
    assert "1/1" in last
    assert "off-by-one; 2/2 killed" in last

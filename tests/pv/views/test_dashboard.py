"""`pv report --html`: the contract dashboard from contracts and a --pv-report JSON: every
id with its state, checks, durations, mutants and the findings that name it; valid HTML;
rendered and filtered in a real browser; bad input refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pv.cli import main
from tests.pages import assert_screenshot_not_blank, assert_valid_html, probe

CONTRACT = """\
metadata:
  version: "1.2.0"
  description: "A dashboard fixture"
  references: ["Paper"]
equations:
  f:
    formula: "L_KD = T^2 * sum_i KL(p_i || q_i)"
proof_obligations:
  - type: bound
    property: "non-negative"
    formal: "forall x: f(x) >= 0"
falsification_tests:
{tests}
kani_harnesses:
  - id: KANI-DASH-001
    obligation: f
    bound: 4
"""
STATES = {
    "FALSIFY-DASH-001": "passed",
    "FALSIFY-DASH-002": "failed",
    "FALSIFY-DASH-003": "skipped",
    "FALSIFY-DASH-004": "not-run",
    "FALSIFY-DASH-005": "unbound",
    "falsify_dash_6": "passed",  # PV-009: not FALSIFY-PREFIX-NNN, a finding in its entry
    "KANI-DASH-001": "passed",
}
NODE = "t/test_dash.py::test_{n}"


def write_project(root: Path) -> tuple[Path, Path]:
    """The contract (folder c/) and a --pv-report with one id in each state."""
    tests = "".join(
        f'  - id: {ident}\n    rule: "rule {n}"\n    prediction: "prediction {n}"\n'
        f'    test: "{NODE.format(n=n)}"\n    if_fails: "if_fails {n}"\n'
        for n, ident in enumerate(STATES, 1)
        if not ident.startswith("KANI")
    )
    (root / "c").mkdir()
    contract = root / "c" / "dash.yaml"
    contract.write_text(CONTRACT.format(tests=tests), encoding="utf-8")
    ids, checks = [], []
    for n, (ident, state) in enumerate(STATES.items(), 1):
        ran = state in ("passed", "failed", "skipped")
        nodeids = [NODE.format(n=n)] if ran else []
        ids.append(
            {"id": ident, "contract": "c/dash.yaml", "state": state, "nodeids": nodeids,
             "durations": [0.25 * n] if ran else [], "prediction": "", "if_fails": "", "refs": []}
        )  # fmt: skip
        if ran:
            checks.append(
                {"nodeid": NODE.format(n=n), "outcome": state, "ids": [ident],
                 "duration": 0.25 * n, "mutants": ["stub", "no-step"] if n == 1 else [],
                 "mutant_applied": None, "mutant_error": None, "properties": {}}
            )  # fmt: skip
    report = {
        "version": 1, "verdict": "failed", "summary": {"failed": 1}, "ids": ids, "checks": checks,
        "undeclared": {},
        "load_errors": [], "environment": {"python": "3.11"},
        "mutants": [
            {"nodeid": NODE.format(n=1), "mutant": "stub", "status": "killed", "detail": ""},
            {"nodeid": NODE.format(n=1), "mutant": "no-step", "status": "survived", "detail": ""},
        ],
    }  # fmt: skip
    path = root / "runs" / "pv-report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(report), encoding="utf-8")
    return contract, path


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no [tool.pv] above: CONTRACTS alone, no drift
    _contract, report = write_project(tmp_path)
    out = tmp_path / "runs" / "pv-report.html"
    result = invoke("report", "--html", out, "--falsify-report", report, "c")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"dashboard: {out} (7 ids)\n"
    return out


def rows(page: str) -> dict[str, str]:
    import re

    return dict(
        re.findall(r'<tr class="id-row" id="[^"]+" data-id="([^"]+)" data-state="([^"]+)"', page)
    )


@pytest.mark.cli("pv report")
def test_every_id_shows_its_state_checks_and_mutants(dashboard: Path) -> None:
    page = dashboard.read_text(encoding="utf-8")
    assert_valid_html(page)
    assert rows(page) == STATES
    assert "<code>t/test_dash.py::test_2</code> 0.50 s" in page
    assert 'stub <span class="mutant mutant-killed">killed</span>' in page
    assert 'no-step <span class="mutant mutant-survived">survived</span>' in page
    assert '<span id="count-passed">3</span>' in page
    assert "3 of 7 ids passed" in page
    assert "Mutant verdicts are not in this report" not in page
    assert "<script>" in page
    assert "src=" not in page
    assert "https://" not in page


def test_formulas_are_typeset_and_findings_land_on_the_id_they_name(dashboard: Path) -> None:
    page = dashboard.read_text(encoding="utf-8")
    assert "<var>L</var><sub>KD</sub> = <var>T</var><sup>2</sup>" in page
    assert "∀ <var>x</var>: <var>f</var>(<var>x</var>) ≥ 0" in page
    row = page.split('data-id="falsify_dash_6"')[1].split("</tr>")[0]
    assert "PV-009" in row
    other = page.split('data-id="FALSIFY-DASH-001"')[1].split("</tr>")[0]
    assert "PV-009" not in other


@pytest.mark.cli("pv report html")
def test_without_a_report_the_states_come_from_the_bindings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path)
    (tmp_path / "c" / "dash.yaml").write_text(
        (tmp_path / "c" / "dash.yaml")
        .read_text()
        .replace('test: "t/test_dash.py::test_5"', 'test: "prose"')
    )
    assert invoke("report", "html", "--html", "d.html", "c").exit_code == 0  # the long form
    states = rows((tmp_path / "d.html").read_text(encoding="utf-8"))
    assert states["FALSIFY-DASH-001"] == "not-run"  # bound by its test: node id
    assert states["FALSIFY-DASH-005"] == "unbound"  # prose names no check
    assert states["KANI-DASH-001"] == "unbound"
    assert "Mutant verdicts are not in this report" in (tmp_path / "d.html").read_text()


def test_drift_findings_land_on_the_id_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "test_dash.py").write_text(
        "import pytest\n\n\n@pytest.mark.falsifies('FALSIFY-DASH-001')\n"
        "def test_1() -> None:\n    assert True\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pv]\ncontracts = ["c"]\ntests = ["t"]\nregistry = "c/dash.yaml"\n'
    )
    assert invoke("report", "--html", "d.html").exit_code == 0
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert rows(page)["FALSIFY-DASH-001"] == "not-run"
    row = page.split('data-id="FALSIFY-DASH-002"')[1].split("</tr>")[0]
    assert "DRIFT-" in row
    assert "FALSIFY-DASH-002" in row.split("DRIFT-")[1]


def test_the_waivers_in_force_are_listed_with_their_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path)
    (tmp_path / "t").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pv]\ncontracts = ["c"]\ntests = ["t"]\nregistry = "c/dash.yaml"\n'
        '[[tool.pv.waivers]]\nrule = "DRIFT-020"\nid = "FALSIFY-DASH-002"\n'
        'reason = "checked by the <release> team"\n'
    )
    assert invoke("report", "--html", "d.html").exit_code == 0
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert_valid_html(page)
    waivers = page.split('<section id="waivers">')[1].split("</section>")[0]
    assert "DRIFT-020" in waivers
    assert "FALSIFY-DASH-002 has no bound check" in waivers
    assert "checked by the &lt;release&gt; team" in waivers
    row = page.split('data-id="FALSIFY-DASH-002"')[1].split("</tr>")[0]
    assert "DRIFT-020" not in row  # accepted, so not shown as a problem of the id


def test_the_project_dashboard_reads_its_config(tmp_path: Path) -> None:
    """In this repository (a [tool.pv] config): default contracts, drift and the scan run."""
    out = tmp_path / "d.html"
    result = invoke("report", "--html", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert_valid_html(page)
    states = rows(page)
    assert states["FALSIFY-APR-DISTILL-TRAIN-001"] == "not-run"
    assert len(states) >= 10


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not readable JSON"), ('{"ids": [{"id": "X"}]}', "not a pv report")],
    ids=["unreadable", "not-a-report"],
)
def test_a_bad_report_is_refused_in_one_line_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path)
    (tmp_path / "bad.json").write_text(content)
    result = invoke("report", "--html", "d.html", "--falsify-report", "bad.json", "c")
    assert result.exit_code == 1
    assert result.stderr.startswith("pv report: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d.html").exists()


def test_nothing_to_show_and_a_directory_as_output_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert invoke("report", "--html", "d.html", "empty").exit_code == 2
    write_project(tmp_path)
    result = invoke("report", "--html", "c", "c")
    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert invoke("report", "c").exit_code == 2  # --html is required


def test_the_dashboard_never_imports_torch_numpy_or_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys; from pv.cli import main\n"
        "try:\n    main(['report', '--html', sys.argv[1]])\nexcept SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = {'torch', 'numpy', 'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d.html")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_dashboard_renders_and_filters_by_state_in_a_browser(
    dashboard: Path, tmp_path: Path
) -> None:
    seen = probe(
        dashboard,
        "var states = {};"
        "document.querySelectorAll('tr.id-row').forEach(function (r) {"
        " states[r.dataset.id] = r.querySelector('.state').textContent; });"
        "var box = document.querySelector('#filter input[value=passed]');"
        "box.checked = false; box.dispatchEvent(new Event('change'));"
        "var hidden = Array.from(document.querySelectorAll('tr.id-row'))"
        " .filter(function (r) { return r.offsetParent === null; })"
        " .map(function (r) { return r.dataset.id; });"
        "window.probe = {states: states, hidden: hidden};",
        tmp_path,
    )
    assert seen["states"] == STATES
    assert sorted(seen["hidden"]) == sorted(i for i, s in STATES.items() if s == "passed")  # type: ignore[arg-type]
    assert_screenshot_not_blank(dashboard, tmp_path)


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_every_value_from_a_contract_or_report_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template autoescapes: markup in a description, a prediction, a formula, an
    environment value or a check's node id reaches the page as text, never as elements."""
    monkeypatch.chdir(tmp_path)
    contract, report = write_project(tmp_path)
    text = contract.read_text(encoding="utf-8")
    text = text.replace("A dashboard fixture", HOSTILE.replace('"', '\\"'))
    text = text.replace("prediction 1", HOSTILE.replace('"', '\\"'))
    text = text.replace("L_KD = T^2", "L_KD = <b>T</b>^2")
    contract.write_text(text, encoding="utf-8")
    data = json.loads(report.read_text(encoding="utf-8"))
    data["environment"] = {"python": HOSTILE}
    data["checks"][0]["nodeid"] = data["ids"][0]["nodeids"][0] = f"t/x.py::{HOSTILE}"
    report.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "page.html"
    result = invoke("report", "--html", out, "--falsify-report", report, "c")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert_valid_html(page)
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "<b>T</b>" not in page
    assert page.count("&lt;script&gt;alert(") >= 3
    assert page.count("<script>") == 1  # the page's own filter script

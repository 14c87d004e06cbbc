"""pv gate: one verdict over validate, drift, the bound checks and semver since a base ref.
The semver step runs against real git repositories made in tmp_path."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv.binding import falsify as falsify_mod
from pv.cli import main
from pv.core.config import PvConfig
from pv.gate.gate import (
    GateResult,
    Step,
    check_bump,
    falsify_step,
    markdown,
    report_step,
    semver_step,
)
from tests.reports import id_entry, report

CONTRACT = """\
metadata:
  version: "1.0.0"
  kind: pattern
  description: "gate test"
  references: ["r"]
equations:
  e: {formula: "x = 1"}
proof_obligations:
  - {type: bound, property: "x >= 0", formal: "x >= 0"}
falsification_tests:
  - id: FALSIFY-G-001
    rule: "r"
    prediction: "x is one"
    if_fails: "x is not one"
qa_gate: {id: F-G-001, name: "g"}
"""


def git(root: Path, *args: str) -> None:
    cmd = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
        *args,
    ]
    subprocess.run(cmd, cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "g-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def edit(root: Path, old: str, new: str) -> None:
    path = root / "contracts" / "g-v1.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def config(root: Path) -> PvConfig:
    return PvConfig(
        root=root,
        contracts=(root / "contracts",),
        tests=(root / "tests",),
        registry=root / "contracts" / "r.yaml",
        apps=(),
    )


def test_a_changed_prediction_without_a_major_bump_is_gate_001(repo: Path) -> None:
    edit(repo, '"x is one"', '"x is two"')
    edit(repo, '"1.0.0"', '"1.1.0"')
    (finding,) = check_bump(repo, "HEAD", "contracts/g-v1.yaml")
    assert (finding.rule, finding.severity, finding.line) == ("GATE-001", "error", 2)
    assert "needs a major version bump" in finding.message
    assert "prediction" in finding.message


def test_the_same_change_with_a_major_bump_passes(repo: Path) -> None:
    edit(repo, '"x is one"', '"x is two"')
    edit(repo, '"1.0.0"', '"2.0.0"')
    step, findings = semver_step(config(repo), "HEAD")
    assert step.ok
    assert findings == []
    assert "1 contract(s) changed" in step.detail


def test_an_added_id_needs_a_minor_bump(repo: Path) -> None:
    added = "  - {id: FALSIFY-G-002, rule: r, prediction: p, if_fails: f}\nqa_gate:"
    edit(repo, "qa_gate:", added)
    assert [f.rule for f in check_bump(repo, "HEAD", "contracts/g-v1.yaml")] == ["GATE-001"]
    edit(repo, '"1.0.0"', '"1.1.0"')
    assert check_bump(repo, "HEAD", "contracts/g-v1.yaml") == []


def test_a_prose_edit_without_a_bump_is_only_a_warning(repo: Path) -> None:
    edit(repo, '"gate test"', '"gate test, reworded"')
    (finding,) = check_bump(repo, "HEAD", "contracts/g-v1.yaml")
    assert (finding.rule, finding.severity) == ("GATE-002", "warning")
    assert semver_step(config(repo), "HEAD")[0].ok


def test_a_project_in_a_subfolder_of_the_repository_still_enforces_semver(
    tmp_path: Path,
) -> None:
    project = tmp_path / "proj"
    (project / "contracts").mkdir(parents=True)
    (project / "contracts" / "g-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    edit(project, '"x is one"', '"x is two"')
    step, findings = semver_step(config(project), "HEAD")
    assert not step.ok
    assert [(f.rule, f.file) for f in findings] == [("GATE-001", "contracts/g-v1.yaml")]
    assert "1 contract(s) changed" in step.detail


def test_a_contract_deleted_in_a_subfolder_project_is_gate_004(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "contracts").mkdir(parents=True)
    (project / "contracts" / "g-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    (project / "contracts" / "keep-v1.yaml").write_text(CONTRACT, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    (project / "contracts" / "g-v1.yaml").unlink()
    step, findings = semver_step(config(project), "HEAD")
    assert step.ok
    assert [(f.rule, f.file) for f in findings] == [("GATE-004", "contracts/g-v1.yaml")]


def test_an_unknown_base_ref_fails_the_step_with_gits_reason(repo: Path) -> None:
    step, findings = semver_step(config(repo), "no-such-ref")
    assert not step.ok
    assert [f.rule for f in findings] == ["GATE-003"]
    assert "git cannot compare the contracts with 'no-such-ref': fatal:" in step.detail
    assert "no-such-ref" in findings[0].message.split(": ", 1)[1]


def test_without_a_base_a_committed_change_is_compared_with_where_it_branched(
    repo: Path,
) -> None:
    git(repo, "branch", "-M", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo, '"x is one"', '"x is two"')
    git(repo, "commit", "-qam", "change a prediction, no bump")
    step, findings = semver_step(config(repo), None)
    assert not step.ok  # against HEAD the commit would be compared with itself and pass
    assert [f.rule for f in findings] == ["GATE-001"]
    assert "since merge-base of HEAD and main (" in step.detail


def test_without_an_upstream_branch_the_semver_step_says_so(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    git(tmp_path, "init", "-q", "-b", "trunk")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "base")
    step, findings = semver_step(config(tmp_path), None)
    assert (step.ok, findings) == (True, [])
    assert "no upstream branch to compare with" in step.detail
    assert "pass --base REF" in step.detail


REGISTRY_V1 = """\
metadata: {version: "1.0.0", kind: registry, description: "r", references: ["r"]}
commands:
  tool:
    description: Tool
    group: true
    options: {}
  tool sync:
    description: Sync
    options:
      --dry-run: {type: flag, default: false, required: false}
  tool purge:
    description: Purge
    options: {}
"""


@pytest.mark.parametrize(
    ("old", "new", "needed"),
    [
        ("  tool purge:\n    description: Purge\n    options: {}\n", "", "major"),
        ("default: false", "default: true", "major"),
        ("--dry-run: {", "--dry-run-renamed: {", "major"),
        (
            "  tool purge:",
            "  tool stats:\n    description: Stats\n    options: {}\n  tool purge:",
            "minor",
        ),
        ("description: Sync", "description: Sync the ledger", "patch"),
    ],
)
def test_the_registry_is_semver_checked_like_a_contract(
    repo: Path, old: str, new: str, needed: str
) -> None:
    registry = repo / "contracts" / "r.yaml"
    registry.write_text(REGISTRY_V1, encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "registry")
    registry.write_text(REGISTRY_V1.replace(old, new), encoding="utf-8")
    findings = check_bump(repo, "HEAD", "contracts/r.yaml")
    if needed == "patch":
        assert [(f.rule, f.severity) for f in findings] == [("GATE-002", "warning")]
        return
    (finding,) = findings
    assert finding.rule == "GATE-001"
    assert f"needs a {needed} version bump" in finding.message
    bump = {"major": '"2.0.0"', "minor": '"1.1.0"'}[needed]
    registry.write_text(REGISTRY_V1.replace(old, new).replace('"1.0.0"', bump), encoding="utf-8")
    assert check_bump(repo, "HEAD", "contracts/r.yaml") == []


def test_a_library_with_no_cli_gets_a_green_gate_with_a_note(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "tests").mkdir()
    (repo / "tests" / "test_lib.py").write_text(
        'import pytest\n\n@pytest.mark.falsifies("FALSIFY-G-001")\ndef test_x():\n    pass\n',
        encoding="utf-8",
    )
    (repo / "pyproject.toml").write_text("[tool.pv]\n", encoding="utf-8")
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["gate", "--no-falsify"])
    assert result.exit_code == 0, result.output
    assert "no CLI configured and no registry: only the contracts' claims" in result.output
    drift = CliRunner().invoke(main, ["drift"])
    assert drift.exit_code == 0, drift.output
    assert drift.output.startswith("note: no CLI configured")


def test_outside_git_the_semver_step_is_skipped_not_failed(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    step, findings = semver_step(config(tmp_path), "HEAD")
    assert step.ok
    assert "not a git checkout" in step.detail
    assert findings == []


def test_the_falsify_step_follows_pv_falsify_s_verdict(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def fake_run(contracts: list[Path], **kwargs: object) -> falsify_mod.FalsifyReport:
        seen.update(kwargs, contracts=contracts)
        return falsify_mod.FalsifyReport(
            report={
                "ids": [{"id": "FALSIFY-G-001"}],
                "verdict": "failed",
                "summary": {"passed": 0, "failed": 1},
            }
        )

    monkeypatch.setattr(falsify_mod, "run", fake_run)
    step = falsify_step(config(repo), mutants=True)
    assert not step.ok
    assert step.detail.startswith("1 failed")
    assert seen["mutants"] is True
    assert seen["check_paths"] == [repo / "tests"]


def _report(path: Path, state: str, verdict: str) -> Path:
    data = report(id_entry("FALSIFY-G-001", state), verdict=verdict)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_passing_report_that_covers_every_declared_id_passes_the_step(repo: Path) -> None:
    step = report_step(config(repo), _report(repo / "r.json", "passed", "passed"))
    assert step.ok
    assert step.detail.startswith("1 passed")


def test_a_report_with_a_failed_id_fails_the_step_and_names_it(repo: Path) -> None:
    step = report_step(config(repo), _report(repo / "r.json", "failed", "failed"))
    assert not step.ok
    assert "not passed in the report: FALSIFY-G-001" in step.detail


def test_a_report_from_other_contracts_does_not_cover_ours(repo: Path) -> None:
    path = repo / "r.json"
    data = report(id_entry("X", "passed"))
    path.write_text(json.dumps(data), encoding="utf-8")
    step = report_step(config(repo), path)
    assert not step.ok
    assert "FALSIFY-G-001" in step.detail


@pytest.mark.parametrize("text", ["", "{", "[]", '{"verdict": "passed"}'])
def test_an_unreadable_or_malformed_report_fails_the_step(repo: Path, text: str) -> None:
    (repo / "r.json").write_text(text, encoding="utf-8")
    step = report_step(config(repo), repo / "r.json")
    assert not step.ok
    assert step.detail.startswith("unreadable report")


def test_a_missing_report_fails_the_step(repo: Path) -> None:
    assert not report_step(config(repo), repo / "absent.json").ok


def test_markdown_summary_lists_steps_and_errors() -> None:
    result = GateResult(
        steps=(
            Step(name="validate", ok=True, detail="1 files"),
            Step(name="drift", ok=False, detail="1 error(s)"),
        ),
        findings=(),
    )
    text = markdown(result)
    assert text.startswith("## pv gate: FAILED")
    assert "| drift | FAIL | 1 error(s) |" in text


APP = '''
import click

@click.group()
def cli():
    """Tiny."""
'''
TESTS = """
import pytest
from click.testing import CliRunner
from {module} import cli

@pytest.mark.falsifies("FALSIFY-G-001")
def test_cli():
    CliRunner().invoke(cli, [])
"""
REGISTRY = """\
metadata: {version: "1.0.0", kind: registry, description: "r", references: ["r"]}
commands:
  tiny:
    description: Tiny
    group: true
    writes_files: false
    options: {}
"""


def test_pv_gate_passes_a_clean_project_then_fails_an_unbumped_change(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = f"gateapp_{tmp_path.name.replace('-', '_')}"
    (repo / f"{module}.py").write_text(APP, encoding="utf-8")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_tiny.py").write_text(TESTS.format(module=module), encoding="utf-8")
    (repo / "contracts" / "r.yaml").write_text(REGISTRY, encoding="utf-8")
    (repo / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [tool.pv]
        registry = "contracts/r.yaml"
        apps = {{ tiny = "{module}:cli" }}
        """),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(repo))
    monkeypatch.chdir(repo)
    summary = repo.parent / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    args = ["gate", "--no-falsify", "--config", str(repo / "pyproject.toml")]
    clean = CliRunner().invoke(main, args)
    assert clean.exit_code == 0, clean.output
    assert "pv gate: passed" in clean.output
    assert summary.read_text(encoding="utf-8").startswith("## pv gate: passed")
    edit(repo, '"x is one"', '"x is two"')
    dirty = CliRunner().invoke(main, [*args, "--format", "json"])
    assert dirty.exit_code == 1
    assert '"rule": "GATE-001"' in dirty.output


def test_pv_gate_refuses_a_report_together_with_mutants(repo: Path) -> None:
    args = ["gate", "--falsify-report", str(repo / "r.json"), "--mutants"]
    result = CliRunner().invoke(main, [*args, "--config", str(repo / "pyproject.toml")])
    assert result.exit_code == 2
    assert "cannot be combined" in result.output

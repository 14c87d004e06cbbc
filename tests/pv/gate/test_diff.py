"""pv diff: the semver bump a contract change needs, including prediction/if_fails edits."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from pv.cli import main
from pv.gate.diff import bump, diff

BASE: dict[str, Any] = {
    "metadata": {"version": "1.2.3", "description": "d"},
    "equations": {"loss": {"formula": "L = x"}},
    "proof_obligations": [{"type": "bound", "property": "L >= 0", "formal": "L >= 0"}],
    "falsification_tests": [
        {"id": "FALSIFY-D-001", "rule": "r", "prediction": "p", "if_fails": "f", "test": "t"}
    ],
}


def changed(edit: str) -> dict[str, Any]:
    """BASE with one edit applied; `edit` is a statement over `new` from the table below."""
    new = copy.deepcopy(BASE)
    exec(edit, {"new": new})  # the table reads best as the edits themselves
    return new


@pytest.mark.parametrize(
    ("edit", "level"),
    [
        ("pass", "none"),
        ("new['metadata']['description'] = 'e'", "patch"),
        ("new['falsification_tests'][0]['test'] = 'other'", "patch"),
        ("new['equations']['extra'] = {'formula': 'y'}", "minor"),
        ("new['falsification_tests'].append({'id': 'FALSIFY-D-002'})", "minor"),
        ("del new['equations']['loss']", "major"),
        ("new['equations']['loss']['formula'] = 'L = 2x'", "major"),
        ("new['proof_obligations'][0]['formal'] = 'L > 0'", "major"),
        ("new['falsification_tests'][0]['prediction'] = 'q'", "major"),
        ("new['falsification_tests'][0]['if_fails'] = 'g'", "major"),
        ("new['falsification_tests'][0]['id'] = 'FALSIFY-D-009'", "major"),
    ],
)
def test_each_kind_of_change_needs_its_bump(edit: str, level: str) -> None:
    assert diff(BASE, changed(edit)).required == level


@pytest.mark.parametrize(
    ("old", "new", "level"),
    [
        ("1.2.3", "2.0.0", "major"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "1.2.4", "patch"),
        ("1.2.3", "1.2.3", "none"),
        ("1.2.3", "1.2.2", None),
        ("1.2", "1.3.0", "minor"),  # 1.2 is read as 1.2.0
        ("banana", "1.3.0", None),
    ],
)
def test_bump_reads_semver(old: str, new: str, level: str | None) -> None:
    assert bump(old, new) == level


def test_a_changed_prediction_without_a_major_bump_fails_pv_diff(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    edited = changed("new['falsification_tests'][0]['prediction'] = 'q'")
    edited["metadata"]["version"] = "1.3.0"
    new.write_text(yaml.safe_dump(edited), encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", str(old), str(new)])
    assert result.exit_code == 1
    assert "falsification_tests.FALSIFY-D-001: changed prediction" in result.output
    assert "Suggested bump: major" in result.output
    edited["metadata"]["version"] = "2.0.0"
    new.write_text(yaml.safe_dump(edited), encoding="utf-8")
    ok = CliRunner().invoke(main, ["diff", "--format", "json", str(old), str(new)])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["required_bump"] == "major"

"""The pre-commit hooks: their definitions, and their entry commands run on good and bad
examples exactly as pre-commit would (no pre-commit, no network)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BAD_CONTRACT = """\
metadata:
  version: "1.0.0"
  references: ["r"]
equations:
  e: {formula: "x"}
falsification_tests:
  - {id: FALSIFY-H-001, rule: r, prediction: p, if_fails: f}
  - {id: FALSIFY-H-001, rule: r, prediction: p, if_fails: f}
"""


def hooks(name: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    listed = data if isinstance(data, list) else [h for r in data["repos"] for h in r["hooks"]]
    return {h["id"]: h for h in listed}


def run_entry(
    hook: dict[str, Any], files: list[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run a hook's entry as pre-commit does: entry words, then the files unless disabled."""
    words = shlex.split(hook["entry"])
    words[0] = str(BIN / Path(words[0]).name)  # the console script of this interpreter
    args = files if hook.get("pass_filenames", True) else []
    return subprocess.run([*words, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_both_hook_files_define_pv_validate_and_pv_drift() -> None:
    shipped, local = hooks(".pre-commit-hooks.yaml"), hooks(".pre-commit-config.yaml")
    assert set(shipped) == set(local) == {"pv-validate", "pv-drift"}
    for hook_id in shipped:
        assert shipped[hook_id]["entry"].split()[-1] == local[hook_id]["entry"].split()[-1]
        assert shipped[hook_id]["files"] == local[hook_id]["files"]
    assert shipped["pv-drift"]["pass_filenames"] is False


@pytest.mark.parametrize(
    ("path", "validate", "drift"),
    [
        ("contracts/x-v1.yaml", True, True),
        ("contracts/sub/x.yml", True, True),
        ("README.md", False, False),
        ("pv/drift/drift.py", False, True),
        ("pyproject.toml", False, True),
    ],
)
def test_hook_file_patterns_select_the_right_files(path: str, validate: bool, drift: bool) -> None:
    shipped = hooks(".pre-commit-hooks.yaml")
    assert bool(re.search(shipped["pv-validate"]["files"], path)) is validate
    assert bool(re.search(shipped["pv-drift"]["files"], path)) is drift


@pytest.mark.cli("pv validate")
def test_pv_validate_hook_passes_good_contracts_and_fails_bad_ones(tmp_path: Path) -> None:
    hook = hooks(".pre-commit-hooks.yaml")["pv-validate"]
    good = run_entry(hook, ["contracts/cli-commands-v1.yaml"], ROOT)
    assert good.returncode == 0, good.stdout + good.stderr
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "bad-v1.yaml").write_text(BAD_CONTRACT, encoding="utf-8")
    bad = run_entry(hook, ["contracts/bad-v1.yaml"], tmp_path)
    assert bad.returncode == 1
    assert "SCHEMA-007" in bad.stdout  # the duplicate falsification id


@pytest.mark.cli("pv drift")
def test_pv_drift_hook_passes_a_clean_project_and_fails_a_drifted_one(tmp_path: Path) -> None:
    hook = hooks(".pre-commit-hooks.yaml")["pv-drift"]
    (tmp_path / "hookapp.py").write_text(
        'import click\n\n@click.group()\ndef cli():\n    """Hook app."""\n', encoding="utf-8"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pv]\nregistry = "contracts/r.yaml"\napps = { app = "hookapp:cli" }\n',
        encoding="utf-8",
    )
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "r.yaml").write_text(
        'metadata: {version: "1.0.0", kind: registry}\ncommands:\n  app:\n    group: true\n'
        "    options: {}\n",
        encoding="utf-8",
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text(
        "import pytest\n\n@pytest.mark.cli('app')\ndef test_app():\n    pass\n", encoding="utf-8"
    )
    good = run_entry(hook, ["ignored.py"], tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "no drift" in good.stdout
    with (tmp_path / "hookapp.py").open("a", encoding="utf-8") as fh:
        fh.write('\n@cli.command()\ndef new():\n    """Unregistered."""\n')
    bad = run_entry(hook, [], tmp_path)
    assert bad.returncode == 1
    assert "contracts/r.yaml:2:1: error DRIFT-001 command 'app new'" in bad.stdout


def test_the_shipped_validate_hook_installs_pv_alone_and_drift_uses_the_project_env() -> None:
    shipped = hooks(".pre-commit-hooks.yaml")
    assert shipped["pv-validate"]["language"] == "python"  # pv's base install: no torch
    assert shipped["pv-drift"]["language"] == "system"  # it must import the project's CLIs


def test_the_action_installs_pv_from_itself_and_runs_the_gate_against_the_base() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    runs = [step.get("run", "") for step in action["runs"]["steps"]]
    assert any('pip install "${{ github.action_path }}"' in r for r in runs)
    gate = next(r for r in runs if "pv gate" in r)
    assert 'base=$(git merge-base HEAD "origin/$PV_UPSTREAM")' in gate  # where the branch left
    assert 'pv gate ${base:+--base "$base"}' in gate
    assert {"base", "install", "args", "python-version", "working-directory"} <= set(
        action["inputs"]
    )

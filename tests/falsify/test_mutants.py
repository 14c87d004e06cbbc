"""The project's mutant registry (falsify/mutants.py): every mutant is named by a check, and
the tensor-clone stub is killed for real by FALSIFY-001's check. (`make test` runs this one mutant;
`pv falsify --mutants` runs them all.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from falsify.mutants import REGISTRY, REPO_ROOT
from pv.binding.mutants import ENV_VAR, judge

CHECKS = REPO_ROOT / "falsify" / "test_apr_cli_distill_train_v1.py"
CHECK_001 = "falsify/test_apr_cli_distill_train_v1.py::test_001_train_changes_student_weights"


def test_every_registered_mutant_is_named_by_a_check() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in CHECKS.parent.glob("test_*.py"))
    unnamed = [name for name in REGISTRY.names() if f'"{name}"' not in text]
    assert unnamed == []
    assert len(REGISTRY.names()) >= 6


def test_the_tensor_clone_stub_is_killed_by_the_weights_check(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {**os.environ, ENV_VAR: "train-tensor-clone-stub"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--pv-report={report}",
            CHECK_001,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    checks = {c["nodeid"]: c for c in json.loads(report.read_text(encoding="utf-8"))["checks"]}
    verdict = judge(CHECK_001, "train-tensor-clone-stub", checks.get(CHECK_001))
    assert verdict.status == "killed", verdict.detail
    assert "no student tensor moved" in done.stdout

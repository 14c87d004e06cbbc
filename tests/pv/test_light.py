"""pv without the engine: `pv validate`, `pv drift` and the pytest plugin work where importing
torch or numpy fails (pv's base install has neither), and `distill` says which extra it needs
in one line instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENGINE = ("torch", "numpy", "safetensors")


@pytest.fixture
def no_engine(tmp_path: Path) -> dict[str, str]:
    """An environment whose first import path holds packages that refuse to import."""
    blocked = tmp_path / "blocked"
    for name in ENGINE:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed here', name='{name}')\n",
            encoding="utf-8",
        )
    return {**os.environ, "PYTHONPATH": str(blocked), "PV_CACHE_DIR": str(tmp_path / "cache")}


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_the_blocker_really_blocks(no_engine: dict[str, str]) -> None:
    done = run([sys.executable, "-c", "import torch"], no_engine)
    assert done.returncode == 1
    assert "torch is not installed here" in done.stderr


@pytest.mark.cli("pv validate", "pv drift")
def test_pv_validate_and_drift_run_without_torch_or_numpy(no_engine: dict[str, str]) -> None:
    validate = run([str(BIN / "pv"), "validate", "contracts/"], no_engine)
    assert validate.returncode == 0, validate.stderr
    # drift imports this repository's CLIs, distill's included: its CLI module is light too
    drift = run([str(BIN / "pv"), "drift"], no_engine)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "no drift" in drift.stdout


def test_the_plugin_binds_ids_without_torch_or_numpy(
    no_engine: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "contracts").mkdir(parents=True)
    (project / "contracts" / "c.yaml").write_text(
        'metadata: {version: "1.0.0", description: "d", references: ["r"]}\n'
        "falsification_tests:\n  - {id: FALSIFY-L-001, rule: r, prediction: p, if_fails: f}\n",
        encoding="utf-8",
    )
    (project / "test_c.py").write_text(
        "import pytest\n\n@pytest.mark.falsifies('FALSIFY-L-001')\ndef test_it():\n"
        "    assert 1 + 1 == 2\n",
        encoding="utf-8",
    )
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pv-strict"]
    done = run([*args, "--pv-report=r.json", "test_c.py"], no_engine, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pv --pv-strict: every id passed" in done.stdout
    assert (project / "r.json").is_file()


@pytest.mark.cli("distill train")
def test_distill_without_its_extra_says_so_in_one_line(
    no_engine: dict[str, str], tmp_path: Path
) -> None:
    done = run(
        [str(BIN / "distill"), "train", "--cache", str(tmp_path), "--out", str(tmp_path / "o")],
        no_engine,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: distill needs its extra: pip install 'pv-distill[distill]'"
    )
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


# What pv imports from the project it runs in, never installed by pv: pytest (the plugin is
# loaded by the project's own pytest), typer (a typer app's own dependency) and tqdm (a bar
# where it happens to be installed).
OPTIONAL = {"pytest", "typer", "tqdm", "_pytest"}
DISTRIBUTIONS = {"yaml": "pyyaml", "tomli": "tomli"}


def test_every_module_pv_imports_is_a_declared_dependency() -> None:
    import ast

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    declared = {
        dep.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()
        for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    imported: set[str] = set()
    for path in (ROOT / "pv").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "pv"}
    needed = {DISTRIBUTIONS.get(m, m) for m in third_party - OPTIONAL}
    assert needed <= declared, sorted(needed - declared)

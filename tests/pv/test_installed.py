"""The installed entry points: the `pv` and `distill` console scripts and the pytest11 plugin
load from the names pyproject declares, whatever module now holds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import EntryPoint, distribution
from pathlib import Path

import click
import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
DIST = distribution("pv-distill")


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in DIST.entry_points if ep.group == group}


@pytest.mark.parametrize("name", ["pv", "distill"])
def test_each_console_script_loads_a_click_command(name: str) -> None:
    points = _entry_points("console_scripts")
    assert name in points, sorted(points)
    command = points[name].load()
    assert isinstance(command, click.Command)


@pytest.mark.parametrize("name", ["pv", "distill"])
def test_each_console_script_runs(name: str) -> None:
    done = subprocess.run(
        [str(BIN / name), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"Usage: {name} " in done.stdout


def test_the_pytest11_plugin_loads_with_its_hooks() -> None:
    points = _entry_points("pytest11")
    assert "pv" in points, sorted(points)
    plugin = points["pv"].load()
    assert callable(plugin.pytest_addoption)


def test_pytest_in_a_fresh_process_offers_the_plugins_options(tmp_path: Path) -> None:
    """pytest finds the plugin through the entry point alone: no conftest, no -p."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--pv-report" in done.stdout
    assert "--pv-strict" in done.stdout


def test_the_wheel_carries_every_file_the_packages_read(tmp_path: Path) -> None:
    """A wheel built from the tracked sources holds every non-Python file of pv and distill
    (templates, JSON Schemas, py.typed): an editable install reads them from the tree, so only
    a real build shows that package-data lists them."""
    tracked = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "README.md", "pv", "distill"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in tracked:
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / "src" / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "wheel"), str(tmp_path / "src")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    data = {n for n in tracked if n.startswith(("pv/", "distill/")) and not n.endswith(".py")}
    assert {
        "pv/views/templates/dashboard.html.j2",
        "distill/templates/report.html.j2",
        "pv/contracts/contract.schema.json",
    } <= data
    assert data <= inside, sorted(data - inside)

"""The installed entry points: the `pv` and `distill` console scripts and the pytest11 plugin
load from the names pyproject declares, whatever module now holds them."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, distribution
from pathlib import Path

import click
import pytest

BIN = Path(sys.executable).parent
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

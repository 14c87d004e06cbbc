"""The one way pv asks git something (the gate's base-ref diff, the report's commit): a
subprocess whose failure, or git's absence, is an answer of None rather than an exception."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(root: Path, *args: str) -> str | None:
    """`git ARGS` run in `root`: its stdout, or None when git is missing or says no."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None

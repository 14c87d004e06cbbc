"""The one way pv asks git something (the gate's base-ref diff, the report's commit): a
subprocess whose failure, or git's absence, is an answer rather than an exception."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class GitAnswer:
    ok: bool
    out: str
    why: str  # git's own reason when it said no (its last stderr line), else ""


def ask(root: Path, *args: str) -> GitAnswer:
    """`git ARGS` run in `root`, with git's reason when it fails."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return GitAnswer(ok=False, out="", why=f"cannot run git: {exc}")
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    why = lines[-1] if lines else f"git exited {done.returncode}"
    return GitAnswer(
        ok=done.returncode == 0, out=done.stdout, why="" if not done.returncode else why
    )


def git(root: Path, *args: str) -> str | None:
    """`git ARGS` run in `root`: its stdout, or None when git is missing or says no."""
    answer = ask(root, *args)
    return answer.out if answer.ok else None


# Where a pull request merges to, in the order a gate looks for it.
UPSTREAMS = ("origin/main", "origin/master", "main", "master")


def default_base(root: Path) -> tuple[str | None, str]:
    """(the commit to compare a change with, how it was chosen): the merge-base of HEAD and
    the upstream default branch (origin/HEAD, then origin/main, origin/master, main, master),
    so a committed change is compared with where it branched off, never with itself."""
    head = git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    candidates = ([head.strip()] if head and head.strip() else []) + list(UPSTREAMS)
    for ref in dict.fromkeys(candidates):
        if git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None:
            continue
        base = git(root, "merge-base", "HEAD", ref)
        if base and base.strip():
            return base.strip(), f"merge-base of HEAD and {ref} ({base.strip()[:12]})"
    tried = ", ".join(dict.fromkeys(candidates))
    return None, f"no upstream branch to compare with (tried {tried}); pass --base REF"

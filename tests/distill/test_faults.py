"""Real processes under faults: SIGKILL at random moments (bench/faults.py, 5 per stage, a
fixed seed), two runs on one directory, and a full disk (RLIMIT_FSIZE in the child)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from bench import faults
from distill.runlock import LOCK_FILE

SEED = 12


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, faults.Stage]]:
    root = tmp_path_factory.mktemp("faults")
    return root, {s.name: s for s in faults.stages(root)}


@pytest.fixture(scope="module")
def base(harness: tuple[Path, dict[str, faults.Stage]]) -> Path:
    """One uninterrupted train run."""
    root, stages = harness
    out = root / "base"
    done = faults.run(stages["train"].argv(out), root / "base.log")
    assert done.code == 0, done.output
    return out


def errors(output: str) -> list[str]:
    assert "Traceback" not in output, output
    return [line for line in output.splitlines() if line.startswith("error:")]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file under `run_dir` (through the model symlink) but the lock, by content."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    } | {"student ->": os.readlink(run_dir / "student").encode()}


@pytest.mark.parametrize("stage", ["train", "pretrain", "onpolicy", "precompute", "prepare"])
def test_a_stage_killed_at_random_moments_recovers_to_the_uninterrupted_end_state(
    harness: tuple[Path, dict[str, faults.Stage]], stage: str
) -> None:
    root, stages = harness
    (root / stage).mkdir()
    tally = faults.hammer(stages[stage], root / stage, kills=5, seed=SEED)
    assert tally.problems == []
    assert tally.kills >= 5  # a run that ends before its moment is drawn again
    assert (tally.identical, tally.lost) == (tally.runs, 0)


def test_a_second_run_on_a_locked_directory_is_refused_and_a_dead_holder_blocks_nothing(
    harness: tuple[Path, dict[str, faults.Stage]],
) -> None:
    root, stages = harness
    out = root / "held"
    proc = faults.holder(out)
    try:
        teacher, cache, size = root / "teacher", root / "cache", root / "micro.json"
        attempts = {
            "train": stages["train"].argv(out),
            "precompute": stages["precompute"].argv(out),
            "pretrain": [
                "pretrain",
                "--out",
                str(out),
                "--model-size",
                str(size),
                "--data",
                str(root / "corpus.txt"),
                *faults.SEQ,
            ],
            "run": ["run", "--out", str(out), "--quiet", "--device", "cpu"],
        }
        for name, argv in attempts.items():
            refused = faults.run(argv, root / f"held-{name}.log")
            assert refused.code == 1, (name, refused.output)
            [line] = errors(refused.output)
            assert f"is in use by pid {proc.pid}" in line, line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing was written
        assert (teacher / "model").is_symlink()
        assert (cache / "teacher_logits").is_dir()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the kernel drops the lock with the process
        proc.join()
    assert faults.run(stages["train"].argv(out), root / "held-after.log").code == 0


def test_two_runs_started_together_on_one_new_directory_end_with_one_winner(
    harness: tuple[Path, dict[str, faults.Stage]], base: Path
) -> None:
    root, stages = harness
    out = root / "race"
    procs = [faults.start(stages["train"].argv(out), root / f"race-{i}.log") for i in (0, 1)]
    for proc in procs:
        proc.join()
    codes = sorted(p.exitcode for p in procs)
    assert codes == [0, 1]
    loser = next(i for i, p in enumerate(procs) if p.exitcode == 1)
    [line] = errors((root / f"race-{loser}.log").read_text())
    assert "is in use by pid" in line or "already holds another run" in line, line
    assert stages["train"].state(out) == stages["train"].state(base)


def _limited(harness: Any, argv: list[str], log: str, fsize: int) -> tuple[int, str]:
    done = faults.run(argv, harness[0] / log, fsize=fsize)
    [line] = errors(done.output)
    return done.code, line


def test_a_full_disk_at_the_first_checkpoint_names_it_and_leaves_no_partial_file(
    harness: tuple[Path, dict[str, faults.Stage]], base: Path
) -> None:
    root, stages = harness
    initial, ckpt = (base / n for n in ("initial_model.pt", "checkpoint.pt"))
    fsize = (initial.stat().st_size + ckpt.stat().st_size) // 2  # the first fits, not the second
    out = root / "full-ckpt"
    code, line = _limited(harness, stages["train"].argv(out), "full-ckpt.log", fsize)
    assert code == 1
    assert line.startswith(f"error: cannot write {out / 'checkpoint.pt'} (disk full"), line
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "initial_model.pt"]


@pytest.mark.parametrize(("failing", "fsize"), [("model.safetensors", 4096), ("metadata.json", 64)])
def test_a_full_disk_on_republishing_keeps_the_previous_run_whole(
    harness: tuple[Path, dict[str, faults.Stage]], base: Path, failing: str, fsize: int
) -> None:
    root, stages = harness
    out = root / f"full-{failing}"
    shutil.copytree(base, out, symlinks=True)
    before = snapshot(out)
    argv = [*stages["train"].argv(out), "--resume"]  # a finished run: it only republishes
    code, line = _limited(harness, argv, f"full-{failing}.log", fsize)
    assert code == 1
    assert line.startswith(f"error: cannot write {out}"), line
    assert failing in line, line
    assert snapshot(out) == before
    assert faults.leftovers(out, ("student",)) == []


def test_a_full_disk_in_precompute_publishes_no_cache_and_leaves_no_partial(
    harness: tuple[Path, dict[str, faults.Stage]],
) -> None:
    root, stages = harness
    out = root / "full-cache"
    code, line = _limited(harness, stages["precompute"].argv(out), "full-cache.log", 1024)
    assert code == 1
    assert line.startswith(f"error: cannot write {out}/.teacher_logits.partial-"), line
    assert ".bin: File too large" in line, line  # EFBIG, named with the file it hit
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]

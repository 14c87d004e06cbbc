"""Every writer under injected I/O errors (ENOSPC, EIO at write, fsync and rename), the
symlink publish, the sweep of dead writers' leftovers, and the run-directory lock."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from distill import cache, durable, runlock
from distill.checkpoint import load_checkpoint, save_checkpoint
from distill.errors import RunLockedError, WriteError
from tests.distill.conftest import TinyRun


def fail(code: int) -> Any:
    def raiser(*args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code))

    return raiser


def test_a_write_that_hits_a_full_disk_keeps_the_old_file_and_no_temporary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metadata.json"
    durable.atomic_write_json(path, {"epochs": [1]})

    def half_then_full(tmp: Path) -> None:
        tmp.write_bytes(b"{half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(WriteError, match=rf"cannot write {path}: No space left on device"):
        durable.replace_file(path, half_then_full)
    assert path.read_text() == '{\n  "epochs": [\n    1\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_an_io_error_at_flush_or_rename_keeps_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"config": {}, "w": torch.ones(2)})
    monkeypatch.setattr(durable.os, call, fail(errno.EIO))
    with pytest.raises(WriteError, match=rf"cannot write {path}: Input/output error"):
        save_checkpoint(path, {"config": {}, "w": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path, {})["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_torch_reporting_a_full_disk_as_runtime_error_becomes_one_write_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def torch_full(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64\nmore")

    monkeypatch.setattr(torch, "save", torch_full)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(WriteError) as info:
        save_checkpoint(path, {"config": {}})
    assert str(info.value) == (
        f"cannot write {path} (disk full or over a size limit?): "
        "[enforce fail at inline_container.cc:672] . unexpected pos 64"
    )
    assert list(tmp_path.iterdir()) == []


def _fill(text: str) -> Any:
    def fill(stage: Path) -> None:
        (stage / "config.json").write_text(text)

    return fill


def test_publishing_swaps_a_symlink_and_removes_the_old_version(tmp_path: Path) -> None:
    target = tmp_path / "student"
    durable.publish_dir(target, _fill("one"))
    durable.publish_dir(target, _fill("two"))
    assert os.readlink(target) == ".student.v-2"
    assert (target / "config.json").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student.v-2", "student"]


@pytest.mark.parametrize("where", ["fill", "fsync", "swap"])
def test_a_failed_publish_keeps_the_old_directory_live_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    target = tmp_path / "student"
    durable.publish_dir(target, _fill("old"))
    fill = _fill("new")
    if where == "fill":
        fill = fail(errno.ENOSPC)
    else:
        monkeypatch.setattr(durable.os, "fsync" if where == "fsync" else "replace", fail(errno.EIO))
    with pytest.raises((WriteError, OSError)):
        durable.publish_dir(target, fill)
    monkeypatch.undo()
    assert (target / "config.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student.v-1", "student"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "no-exchange"])
def test_publishing_over_a_real_directory_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    target = tmp_path / "student"
    target.mkdir()
    (target / "config.json").write_text("legacy")
    if not exchange:
        monkeypatch.setattr(durable, "_exchange", lambda a, b: False)
    durable.publish_dir(target, _fill("new"))
    assert target.is_symlink()
    assert (target / "config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student.v-1", "student"]


def test_the_sweep_removes_dead_writers_leftovers_and_keeps_the_live_version(
    tmp_path: Path,
) -> None:
    target = tmp_path / "student"
    durable.publish_dir(target, _fill("live"))
    for name in (".student.v-7", ".checkpoint.pt.partial-99", ".teacher_logits.partial-3"):
        (tmp_path / name).mkdir() if "v-" in name or "logits" in name else (tmp_path / name).touch()
    (tmp_path / "keep.txt").touch()
    stale = durable.sweep(tmp_path, published=("student",))
    assert stale == [".checkpoint.pt.partial-99", ".student.v-7", ".teacher_logits.partial-3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student.v-1", "keep.txt", "student"]
    assert durable.sweep(tmp_path / "absent") == []


def test_a_manifest_that_cannot_be_written_publishes_no_cache(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Path.write_text

    def full_on_manifest(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == cache.MANIFEST and self.parent.name.startswith(f".{cache.CACHE_DIR}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_on_manifest)
    from distill import stages
    from distill.config import DataConfig, PrecomputeConfig

    with pytest.raises(WriteError, match=r"manifest.json: No space left on device"):
        stages.precompute(
            teacher_path=tiny_run.teacher,
            out_dir=tmp_path / "c",
            data_paths=[tiny_run.data_file],
            data_cfg=DataConfig(seq_len=32),
            cfg=PrecomputeConfig(top_k=8, max_windows=16),
            device="cpu",
            quiet=True,
        )
    # no cache and no partial one; the raw --data prepared on the fly stays, for the rerun
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [runlock.LOCK_FILE, "data"]


def test_one_process_cannot_take_a_held_lock_twice_and_the_file_names_the_holder(
    tmp_path: Path,
) -> None:
    with runlock.hold(tmp_path / "run") as lock:
        assert lock.read_text() == f"{os.getpid()}\n"
        with (
            pytest.raises(RunLockedError, match=rf"in use by pid {os.getpid()} "),
            runlock.hold(tmp_path / "run"),
        ):
            pass
    with runlock.hold(tmp_path / "run"):  # released on leaving the block
        pass


def test_a_lock_on_a_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(WriteError, match="is not a directory"), runlock.hold(tmp_path / "f"):
        pass


def test_a_lock_held_by_a_process_that_has_not_written_its_pid_says_so(tmp_path: Path) -> None:
    import fcntl

    (tmp_path / "run").mkdir()
    fd = os.open(tmp_path / "run" / runlock.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with (
            pytest.raises(RunLockedError, match=r"pid not yet written"),
            runlock.hold(tmp_path / "run"),
        ):
            pass
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("call", "message"),
    [("open", "cannot create lock file"), ("ftruncate", "cannot write lock file")],
)
def test_a_lock_file_that_cannot_be_made_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, message: str
) -> None:
    monkeypatch.setattr(runlock.os, call, fail(errno.ENOSPC))
    with pytest.raises(WriteError, match=message), runlock.hold(tmp_path / "run"):
        pass


def test_a_lock_the_file_system_cannot_take_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runlock.fcntl, "flock", fail(errno.ENOLCK))
    with pytest.raises(WriteError, match="cannot lock"), runlock.hold(tmp_path / "run"):
        pass

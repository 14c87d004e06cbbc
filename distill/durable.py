"""Every write the engine makes goes through here, so each has the same guarantees: a reader
finds the old complete file (or directory) or the new one, never a half; a failed write (full
disk, file-size limit, I/O error) becomes one WriteError naming the file and keeps the old."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from distill.errors import DistillError, WriteError

PARTIAL = ".partial-"  # every temporary name holds this, so a sweep can tell it from output
VERSION = ".v-"  # a published directory's real name: `.<name>.v-<random>`, behind a symlink
RENAME_EXCHANGE = 2  # linux/fs.h


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn any failure of the write inside the block into one WriteError naming `path`.

    torch.save reports a full disk as RuntimeError ("unexpected pos"), safetensors as its
    own error type, Python and numpy as OSError: a writer cannot tell them apart usefully,
    and in every case the file was not written.
    """
    try:
        yield
    except DistillError:  # already one line that says what went wrong
        raise
    except Exception as exc:
        if isinstance(exc, OSError) and exc.strerror:
            raise WriteError(f"cannot write {path}: {exc.strerror}") from None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WriteError(
            f"cannot write {path} (disk full or over a size limit?): {first}"
        ) from None


def partial_name(path: Path) -> Path:
    """Where a temporary copy of `path` is written before it is renamed over `path`."""
    return path.with_name(f".{path.name}{PARTIAL}{os.getpid()}")


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(tmp)` on a temp file beside `path`, flush it to disk, rename it over `path`.

    On any failure the temp file is removed and `path` keeps its old content.
    """
    tmp = partial_name(path)
    try:
        with writing(path):
            write(tmp)
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    replace_file(path, lambda tmp: _write_bytes(tmp, data))


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def publish_dir(target: Path, fill: Callable[[Path], None]) -> None:
    """Publish a directory with no moment where `target` is absent or half-written.

    `fill` writes the new content into a temp directory beside `target`, which is flushed
    and renamed to `.<name>.v-<n>` (n counts the publications); then a symlink to it replaces
    `target` by one rename (atomic on POSIX) and the old version is removed. A reader
    resolving `target` finds the old complete directory or the new one.
    """
    parent = target.parent
    stage, link = partial_name(target), partial_name(target.with_name(f"{target.name}-link"))
    old = live_version(target)
    final: Path | None = None
    _remove(stage)
    try:
        with writing(stage):
            stage.mkdir(parents=True)
            fill(stage)
        _flush(stage)
        final = parent / f".{target.name}{VERSION}{_count(old) + 1}"
        _remove(final)
        with writing(target):
            stage.rename(final)
            os.symlink(final.name, link)  # relative: the run directory may be moved
            _swap(link, target)
        fsync_dir(parent)
    except BaseException:
        if final is not None and live_version(target) != final.name:
            _remove(final)
        raise
    finally:
        _remove(stage)
        _remove(link)
    if old is not None:
        _remove(parent / old)


def _flush(folder: Path) -> None:
    """fsync every file of `folder` and the folder itself, before it becomes visible."""
    for file in sorted(folder.iterdir()):
        with writing(file), file.open("rb+") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)


def _count(version: str | None) -> int:
    tail = (version or "").rpartition(VERSION)[2]
    return int(tail) if tail.isdigit() else 0


def live_version(target: Path) -> str | None:
    """The name of the directory `target` points at, when it is one of our symlinks."""
    if target.is_symlink():
        name = os.readlink(target)
        return name if VERSION in name and "/" not in name else None
    return None


def _swap(link: Path, target: Path) -> None:
    """Put `link` at `target`. A symlink replaces a symlink by rename; a real directory
    (published before directories were versioned) is exchanged with it by renameat2."""
    if target.is_symlink() or not target.exists():
        os.replace(link, target)
        return
    if not _exchange(link, target):
        # a kernel or file system without RENAME_EXCHANGE: the one path with a short gap
        aside = target.with_name(f".{target.name}{PARTIAL}old")
        _remove(aside)
        target.rename(aside)
        os.replace(link, target)
        _remove(aside)
    _remove(link)  # after the exchange or rename it holds the old real directory


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def sweep(run_dir: Path, published: tuple[str, ...] = ()) -> list[str]:
    """Remove what dead writers left in `run_dir`: temp files and directories, and versions
    of `published` directories that no symlink points at. Call it only while holding the
    directory's lock (distill.runlock), when no live writer can own any of them."""
    if not run_dir.is_dir():
        return []
    live = {live_version(run_dir / name) for name in published}
    stale = []
    for entry in sorted(run_dir.iterdir()):
        name = entry.name
        dead_version = any(name.startswith(f".{p}{VERSION}") for p in published)
        if name.startswith(".") and (PARTIAL in name or (dead_version and name not in live)):
            _remove(entry)
            stale.append(name)
    return stale

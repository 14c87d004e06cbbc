"""One writer per run directory: an OS advisory lock (flock) on a file inside it, held for
the whole run and released by the kernel when the process ends however it ends, so a second
run on the same directory is refused at once and a killed run never blocks the next."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from distill.errors import RunLockedError, WriteError

LOCK_FILE = ".distill.lock"


def _holder(fd: int) -> str:
    """The pid the holder wrote into the lock file, or a phrase when it has not yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "another process (pid not yet written)"


@contextlib.contextmanager
def hold(run_dir: Path) -> Iterator[Path]:
    """Create `run_dir` if needed and hold its lock until the block ends."""
    if run_dir.exists() and not run_dir.is_dir():
        raise WriteError(f"{run_dir} exists and is not a directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {run_dir}: {exc.strerror or exc}") from None
    with hold_file(run_dir / LOCK_FILE, f"run directory {run_dir}") as path:
        yield path


@contextlib.contextmanager
def hold_file(path: Path, what: str) -> Iterator[Path]:
    """Hold the lock on `path` (created if needed) for the block; `what` it guards names the
    refusal. An output published by rename (a token store) is guarded by a lock file beside it.

    The lock file is never deleted: unlinking it while a second process waits on the old
    inode would let two writers in. Its content is the holder's pid, for the refusal line.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise WriteError(f"cannot create lock file {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise WriteError(f"cannot lock {path}: {exc.strerror or exc}") from None
            raise RunLockedError(
                f"{what} is in use by {_holder(fd)} (lock {path}); "
                "wait for that run to end or choose another --out"
            ) from None
        _write_pid(fd, path)
        yield path
    finally:
        os.close(fd)  # closing drops the lock; the kernel does the same for a killed process


def _write_pid(fd: int, path: Path) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        raise WriteError(f"cannot write lock file {path}: {exc.strerror or exc}") from None

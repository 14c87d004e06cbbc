"""One atomic file write for every file pv rewrites (registry, cache pack, falsify report):
a reader never sees half a file, and a failed write keeps the old one and leaves no temp."""

from __future__ import annotations

import os
from pathlib import Path


class WriteError(OSError):
    """A write that failed (full disk, file-size limit, I/O error), with the file in its one
    line. An OSError, so callers that treat any OSError as "could not write" still do."""

    def __str__(self) -> str:
        return str(self.strerror)  # the line itself, without "[Errno n]"


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) atomically: see `write_bytes`."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path` (same folder, so the rename cannot cross
    file systems), flush it to disk, then rename it over `path`. On any failure the temp
    file is removed; `path` is either the old file or the new one, never a mix. An OSError
    becomes a WriteError naming `path`, whatever the step that failed."""
    # imported here: tempfile pulls in shutil and random, a cost a warm `pv validate`
    # (which writes nothing) should not pay
    import tempfile

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise

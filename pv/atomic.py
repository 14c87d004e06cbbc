"""One atomic file write for every file pv rewrites (registry, cache pack, falsify report):
a reader never sees half a file, and a failed write keeps the old one and leaves no temp."""

from __future__ import annotations

import os
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write `text` to a temp file beside `path` (same folder, so the rename cannot cross
    file systems), then rename it over `path`. On any failure the temp file is removed and
    the error propagates; `path` is either the old file or the new one, never a mix."""
    # imported here: tempfile pulls in shutil and random, a cost a warm `pv validate`
    # (which writes nothing) should not pay
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

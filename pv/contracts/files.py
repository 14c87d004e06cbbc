"""What a `pv validate` run reads, and nothing more: the files (folders searched, each file
once), the names findings give them, their bytes and one key for the whole run. No YAML, no
rules and no dataclasses here: a warm run, answered from the last run's output, imports only
this and the cache."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pv.contracts.cache import Cache

MAX_BYTES = 1024 * 1024  # a contract larger than this is refused (LOAD-002), not read whole
# The first read: below glibc's mmap threshold (128 KiB), so reading a small file maps and
# unmaps no 1 MiB buffer; contracts are a few KB, the larger ones are read on in blocks.
FIRST_READ = 1 << 16
# A path normpath would leave as it is: no empty, `.` or `..` component, no trailing / (on
# Windows every path takes the slow, exact way).
_NORMAL = re.compile(
    r"^(?=.)/?(?!\.\.?(?:/|$))(?!.*(?://|/\.\.?(?:/|$)|/$))" if os.sep == "/" else r"^(?!)"
)


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[str], list[str]]:
    """Files to check (folders searched recursively for *.yaml / *.yml, sorted; each file once,
    however it was spelt) and the arguments that name nothing. Plain strings, not Paths: at
    1,726 files a warm run spends more on Path objects than on answering from the cache."""
    found: list[str] = []
    missing: list[str] = []
    for arg in paths:
        name = os.fspath(arg)
        try:
            mode = os.stat(name).st_mode  # one stat, not is_dir() then is_file()
        except (OSError, ValueError):
            mode = 0
        if stat.S_ISDIR(mode):
            found += _yaml_files(name)
        elif stat.S_ISREG(mode):
            found.append(name)
        else:
            missing.append(str(arg))
    unique = dict.fromkeys(p if _NORMAL.match(p) else os.path.normpath(p) for p in found)
    return list(unique), missing


def _yaml_files(top: str) -> list[str]:
    """Every *.yaml / *.yml file below `top`, sorted by path components (as sorted Paths
    would be). os.scandir, not Path.rglob: at 1,726 files rglob's Path objects cost more than
    a warm run's validation. Symlinked folders are followed, each real folder once."""
    out: list[str] = []
    stack, seen = [top], set()
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir():
                        st = entry.stat()
                        if (st.st_dev, st.st_ino) not in seen:
                            seen.add((st.st_dev, st.st_ino))
                            stack.append(entry.path)
                    elif os.path.splitext(entry.name)[1] in (".yaml", ".yml") and entry.is_file():
                        out.append(entry.path)
        except OSError:
            continue
    return sorted(out, key=lambda p: p.split(os.sep))


def display_name(path: str | os.PathLike[str], cwd: str | None = None) -> str:
    """The name findings use: relative to `cwd` (default: the current directory) when below
    it. A relative path is read from the current directory, as abspath reads it."""
    name = os.fspath(path)
    if cwd is None and _plain_relative(name):
        return name.replace(os.sep, "/")
    base = (cwd if cwd is not None else os.getcwd()).rstrip(os.sep) + os.sep
    # abspath's normalising is a warm run's cost: a normal absolute path is its own
    absolute = name if name.startswith("/") and _NORMAL.match(name) else os.path.abspath(name)
    if absolute.startswith(base):
        return absolute[len(base) :].replace(os.sep, "/")
    return Path(name).as_posix()


def display_names(files: Sequence[str | os.PathLike[str]]) -> list[str]:
    """`display_name` of each file, the current directory read once."""
    cwd = os.getcwd()
    names = [os.fspath(path) for path in files]
    return [n.replace(os.sep, "/") if _plain_relative(n) else display_name(n, cwd) for n in names]


def _plain_relative(name: str) -> bool:
    """Relative with no `.`, `..` or empty component: below the current directory as it is."""
    return not name.startswith("/") and _NORMAL.match(name) is not None


class Inputs:
    """One run's files as the cache sees them: each file's display name and bytes (None when
    unreadable, or when there is no cache) and the key of the whole run (None then)."""

    __slots__ = ("key", "names", "raws")

    def __init__(self, files: Sequence[str | os.PathLike[str]], cache: Cache | None) -> None:
        self.names = display_names(files)
        self.raws: list[bytes | None] = [None] * len(files)
        self.key: str | None = None
        if cache is not None:
            self.raws = [_read_or_none(path) for path in files]
            readable = [raw for raw in self.raws if raw is not None]
            if len(readable) == len(files):
                self.key = cache.run_key(self.names, readable, neighbours(self.names))


def neighbours(names: list[str]) -> list[str]:
    """What the cross-file rules read beyond the files: the contract stems in each folder."""
    folders = sorted({os.path.dirname(name) for name in names})
    return [f"{folder}:{','.join(sorted(stems_in(folder)))}" for folder in folders]


def _read_or_none(path: str | os.PathLike[str]) -> bytes | None:
    try:
        return read(path)
    except OSError:
        return None


def read(path: str | os.PathLike[str]) -> bytes:
    """At most MAX_BYTES + 1 bytes of a file (one more than allowed tells the loader it is too
    big), with os.read and no buffered file object, which at 1,726 files is a measurable part
    of a warm run. A short read of a regular file is its end (os.read retries on signals)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        first = os.read(fd, FIRST_READ)
        if len(first) < FIRST_READ:
            return first
        parts, size = [first], len(first)
        while size <= MAX_BYTES and (more := os.read(fd, min(MAX_BYTES + 1 - size, 1 << 20))):
            parts.append(more)
            size += len(more)
        return b"".join(parts)
    finally:
        os.close(fd)


def stems_in(folder: str) -> frozenset[str]:
    """Contract stems beside a file: depends_on may name a contract not passed on the
    command line (validating one file of a folder must not report its siblings missing).
    `folder` is read from the current directory, as the file's own name is."""
    return _stems_at(os.path.abspath(folder or "."))


@cache
def _stems_at(folder: str) -> frozenset[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return frozenset()
    return frozenset(n.rsplit(".", 1)[0] for n in names if n.endswith((".yaml", ".yml")))

"""Content-hash result cache: an unchanged file is not parsed again.

Each entry's key covers the file's bytes, its display name, the pv version and the bytes of
pv's own modules and schemas, so any change to one of them misses. All entries live in one JSON
pack, read once and rewritten atomically once per run: creating a file per entry cost more
than parsing. An unreadable pack or a malformed entry is ignored, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pv import __version__
from pv.core import atomic

if TYPE_CHECKING:  # a warm run, answered by get_output, never builds a result
    from pv.contracts.result import FileResult

ENV_VAR = "PV_CACHE_DIR"
DEFAULT_DIR = ".pv-cache"
PACK = "validate-v2.json"
RUN = "last-run-v3.txt"  # the last run's output, served when nothing it read changed
SOURCES = Path(__file__).parents[1]  # pv: the modules and schemas that decide a result
MAX_ENTRIES = 20_000  # oldest entries are dropped first, so the pack cannot grow forever
SEAL = "sha256"  # each entry's digest of its own content


def _seal(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != SEAL}
    return hashlib.sha256(json.JSONEncoder(sort_keys=True).encode(body).encode()).hexdigest()


@functools.cache
def source_digest(folder: Path) -> str:
    """sha256 over the pv modules and schemas under `folder`, by relative path. The version
    alone is not enough: an editable install keeps its version while a rule changes under it.
    Bytes, not mtimes: about 0.5 MB hashed once a run, and a checkout that keeps timestamps
    cannot fool it."""
    digest = hashlib.sha256()
    for path in sorted([*folder.rglob("*.py"), *folder.rglob("*.json")]):
        name = path.relative_to(folder).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pv.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


def mark_cache_dir(root: Path) -> None:
    """Keep the cache out of the user's commits and backups, as pytest, mypy and ruff do with
    theirs: a `.gitignore` of `*` and a CACHEDIR.TAG. Written once, when missing."""
    for name, text in (
        (".gitignore", "# Created by pv automatically.\n*\n"),
        ("CACHEDIR.TAG", CACHEDIR_TAG),
    ):
        if not (root / name).exists():
            atomic.write_text(root / name, text)


def default_dir() -> Path:
    """$PV_CACHE_DIR if set, else .pv-cache/ in the current directory."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


class Cache:
    """Results keyed by content hash, in `<root>/validate-v2.json`."""

    def __init__(self, root: Path, salt: str) -> None:
        self.root = root
        self._salt = salt.encode()
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    @classmethod
    def open(cls, root: Path | None = None) -> Cache:
        """The cache for this pv version and these pv sources (the salt of every key)."""
        return cls(root or default_dir(), f"{__version__}\0{source_digest(SOURCES)}")

    @property
    def path(self) -> Path:
        return self.root / PACK

    def key(self, raw: bytes, display: str) -> str:
        h = hashlib.sha256(self._salt)
        h.update(b"\0" + display.encode() + b"\0")
        h.update(raw)
        return h.hexdigest()

    def _pack(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    loaded = json.load(fh)
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def get(self, raw: bytes, display: str) -> FileResult | None:
        """The cached result, or None on a miss or a malformed entry."""
        entries = self._pack()
        key = self.key(raw, display)
        entry = entries.get(key)
        if entry is None:
            return None
        try:
            if not isinstance(entry, dict) or entry.get(SEAL) != _seal(entry):
                raise ValueError("damaged entry")  # well-formed but altered: never trusted
            from pv.contracts.result import FileResult

            return FileResult.from_dict(display, entry)
        except (ValueError, KeyError, TypeError, AttributeError):
            del entries[key]
            self._dirty = True
            return None

    def put(self, raw: bytes, display: str, result: FileResult) -> None:
        """Remember a result; `flush` writes it."""
        entry = result.to_dict()
        self._pack()[self.key(raw, display)] = {**entry, SEAL: _seal(entry)}
        self._dirty = True

    def run_key(self, names: list[str], raws: list[bytes], extra: list[str]) -> str:
        """One key for a whole run: every file's name and bytes, plus whatever else the
        cross-file rules read (`extra`: the contract stems beside each file). One hash over
        all of it, not a key per file: a warm run never needs the entries' keys."""
        h = hashlib.sha256(self._salt)
        for name, raw in zip(names, raws, strict=True):
            encoded = name.encode()
            h.update(b"%d\0%d\0" % (len(encoded), len(raw)))  # lengths: no two runs alike
            h.update(encoded)
            h.update(raw)
        h.update("\0".join(extra).encode())
        return h.hexdigest()

    def get_output(self, key: str) -> tuple[int, int, str] | None:
        """(errors, warnings, output) of the last run if it had this key (its files, names,
        neighbours, format, pv), else None, also on any damage. The file is `<sha256 of the
        rest>\n<key>\n<errors> <warnings>\n<output>`, checked on its bytes: a warm run
        parses no JSON and builds no report."""
        try:
            with open(self.root / RUN, "rb") as fh:
                seal, _, body = fh.read().partition(b"\n")
            if seal.decode("ascii") != hashlib.sha256(body).hexdigest():
                return None  # altered or cut short: never trusted
            stored, counts, output = body.decode("utf-8").split("\n", 2)
            if stored != key:
                return None  # another run's
            errors, warnings = counts.split(" ")
            return int(errors), int(warnings), output
        except (OSError, ValueError):
            return None

    def put_output(self, key: str, errors: int, warnings: int, output: str) -> None:
        """Remember this run's output (written at once: it is one small file)."""
        body = f"{key}\n{errors} {warnings}\n{output}"
        seal = hashlib.sha256(body.encode()).hexdigest()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self.root / RUN, f"{seal}\n{body}")
        except OSError:
            return

    def flush(self) -> None:
        """Write the pack atomically if anything changed. A cache that cannot be written is
        skipped (it is only an optimisation, and pv must work on a read-only checkout)."""
        if not self._dirty or self._entries is None:
            return
        entries = self._entries
        if len(entries) > MAX_ENTRIES:
            entries = dict(list(entries.items())[-MAX_ENTRIES:])
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            mark_cache_dir(self.root)
            # dumps, not dump: dump streams through the pure-Python encoder
            atomic.write_text(self.path, json.dumps(entries, separators=(",", ":")))
        except OSError:
            return
        self._dirty = False

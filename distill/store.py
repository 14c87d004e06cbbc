"""The token store `distill prepare` writes and every stage reads: one memory-mapped token file
of the narrowest unsigned type (nanoGPT's `train.bin`) plus `manifest.json` (sources with sizes
and sha256, tokenizer, counts, the split, the sha256 of the token file). The corpus is streamed
in and read back by windows, so no stage holds it in memory; the same inputs give the same bytes."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from distill import durable, readers, runlock
from distill.config import DataConfig
from distill.data import Corpus, narrow_uint
from distill.errors import DataError, OutputExistsError
from distill.tokenizer import Tokenizer, TokenizerId, load

FORMAT = "distill-token-store-v1"
MANIFEST = "manifest.json"
TOKENS = "tokens.bin"
BATCH_BYTES = 1 << 20  # text handed to the tokenizer per call: big enough to batch, small to hold


class _Writer:
    """Appends ids to the token file in one dtype, hashing and counting as it goes."""

    def __init__(self, fh: IO[bytes], dtype: np.dtype[Any], eos: int | None) -> None:
        self.fh, self.dtype, self.eos = fh, dtype, eos
        self.digest = hashlib.sha256()
        self.count = 0
        self.max_id = -1
        self.between = False  # a document has ended and the next one has not begun

    def write(self, ids: np.ndarray) -> None:
        if ids.size:
            self.max_id = max(self.max_id, int(ids.max()))
        block = np.ascontiguousarray(ids, dtype=self.dtype).tobytes()
        self.fh.write(block)
        self.digest.update(block)
        self.count += int(ids.size)

    def piece(self, ids: np.ndarray, ends: bool) -> None:
        if self.between:
            if self.eos is None:
                raise DataError("the tokenizer has no EOS token to separate documents with")
            self.write(np.array([self.eos]))
        self.between = False
        self.write(ids)
        self.between = ends


def _stream(
    source: readers.Source, tok: Tokenizer, writer: _Writer, text_field: str
) -> dict[str, int]:
    """Tokenise one source into the writer in batches; its document and token counts."""
    start, documents = writer.count, 0
    batch: list[readers.Piece] = []
    held = 0

    def flush() -> None:
        for ids, (_, ends) in zip(tok.encode([t for t, _ in batch]), batch, strict=True):
            writer.piece(ids, ends)
        batch.clear()

    for text, ends in readers.pieces(source, text_field=text_field):
        batch.append((text, ends))
        documents += ends
        held += len(text)
        if held >= BATCH_BYTES:
            flush()
            held = 0
    flush()
    return {"documents": documents, "tokens": writer.count - start}


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputExistsError(f"--out {out} already exists: choose a new directory for the store")


def prepare(
    paths: Sequence[Path],
    out: Path,
    *,
    tokenizer_dir: Path | None = None,
    text_field: str = "text",
    val_fraction: float = 0.1,
) -> Path:
    """Stream `paths` through the tokenizer into a new store at `out`, published by one rename:
    a reader finds the whole store or none, whenever the writer is stopped."""
    DataConfig(val_fraction=val_fraction)  # the same range every stage accepts
    _check_target(out)
    sources = readers.scan(paths)  # an unreadable file is refused before anything is written
    if not sources:
        raise DataError("no data files given")
    tok = load(tokenizer_dir)
    dtype = narrow_uint(tok.ident.vocab_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    with runlock.hold_file(lock, f"token store {out}"):
        try:
            _check_target(out)  # again under the lock: another writer may have published since
            for stale in out.parent.glob(f".{out.name}.partial-*"):  # a killed writer's leftovers
                shutil.rmtree(stale, ignore_errors=True)
            return _write(sources, out, tok, dtype, text_field, val_fraction)
        finally:
            # Unlike a run directory's, this lock file can go: whoever locks an unlinked copy
            # still checks `out` under it first, and finds the store published or absent.
            lock.unlink(missing_ok=True)


def _write(
    sources: list[readers.Source],
    out: Path,
    tok: Tokenizer,
    dtype: np.dtype[Any],
    text_field: str,
    val_fraction: float,
) -> Path:
    tmp = out.with_name(f".{out.name}{durable.PARTIAL}{os.getpid()}")
    with durable.writing(tmp):
        tmp.mkdir()
    try:
        # a full disk or an I/O error names the file; a bad input is the reader's DataError
        with durable.writing(tmp / TOKENS), (tmp / TOKENS).open("wb") as fh:
            writer = _Writer(fh, dtype, tok.ident.eos_id)
            entries = [{**src.entry(), **_stream(src, tok, writer, text_field)} for src in sources]
            fh.flush()
            os.fsync(fh.fileno())
        manifest = _manifest(tok.ident, dtype, entries, writer, text_field, val_fraction)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        with durable.writing(tmp / MANIFEST):
            (tmp / MANIFEST).write_text(text)
            with (tmp / MANIFEST).open("rb+") as fh:
                os.fsync(fh.fileno())
        with durable.writing(out):
            os.replace(tmp, out)
        durable.fsync_dir(out.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _manifest(
    ident: TokenizerId,
    dtype: np.dtype[Any],
    sources: list[dict[str, Any]],
    writer: _Writer,
    text_field: str,
    val_fraction: float,
) -> dict[str, Any]:
    """Everything a reader checks; free of times, hosts and absolute temporary paths."""
    n_val = int(writer.count * val_fraction)
    return {
        "format": FORMAT,
        "tokenizer": ident.as_dict(),
        "text_field": text_field,
        "sources": sources,
        "dtype": dtype.name,
        "n_tokens": writer.count,
        "max_id": writer.max_id,
        "split": {
            "val_fraction": val_fraction,
            "train_tokens": writer.count - n_val,
            "val_tokens": n_val,
        },
        "files": [
            {
                "name": TOKENS,
                "bytes": writer.count * dtype.itemsize,
                "sha256": writer.digest.hexdigest(),
            }
        ],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Store:
    """A verified store: `tokens` is a read-only view of a memory map, never a copy."""

    root: Path
    manifest: dict[str, Any]
    tokens: np.ndarray

    def release(self) -> None:
        """Unmap the pages read so far from this process; they stay in the page cache, so a
        window read again costs no disk read. Called after every batch, it keeps resident
        memory flat however much of the corpus a stage walks through."""
        mapping = getattr(self.tokens.base, "obj", None)
        if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            mapping.madvise(mmap.MADV_DONTNEED)

    @property
    def tokenizer(self) -> TokenizerId:
        return TokenizerId(**self.manifest["tokenizer"])

    @property
    def val_fraction(self) -> float:
        return float(self.manifest["split"]["val_fraction"])

    def digest(self) -> str:
        """sha256 of the token file, its split and its tokenizer: the data's identity."""
        split = self.manifest["split"]
        text = (
            f"{self.manifest['files'][0]['sha256']}:{split['train_tokens']}:{split['val_tokens']}"
        )
        return hashlib.sha256(f"{text}:{self.tokenizer.fingerprint}".encode()).hexdigest()

    def corpus(self, vocab_size: int, config: DataConfig) -> Corpus:
        """Train and validation views of the memory map, checked against the windows and model."""
        if abs(config.val_fraction - self.val_fraction) > 1e-12:
            raise DataError(
                f"the store {self.root} holds out {self.val_fraction:g} for validation, "
                f"not --val-fraction {config.val_fraction:g}: prepare it again with that split"
            )
        if int(self.manifest["max_id"]) >= vocab_size:
            raise DataError(
                f"token id {self.manifest['max_id']} in {self.root} is outside the "
                f"vocabulary ({vocab_size})"
            )
        n_train = int(self.manifest["split"]["train_tokens"])
        train, val = self.tokens[:n_train], self.tokens[n_train:]
        if min(len(train), len(val)) < config.seq_len + 1:
            raise DataError(
                f"the store {self.root} ({len(train)} train / {len(val)} validation tokens) is "
                f"too small for seq_len {config.seq_len}: each part needs {config.seq_len + 1}"
            )
        return Corpus(
            train=train, val=val, vocab_size=vocab_size, digest=self.digest(), release=self.release
        )


def _map(path: Path, dtype: np.dtype[Any], count: int) -> np.ndarray:
    """The token file as a read-only array backed by the page cache (MADV_RANDOM: training
    reads scattered windows, so read-ahead around each would only waste disk reads)."""
    if count == 0:
        return np.zeros(0, dtype)
    with path.open("rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):  # Linux and the BSDs; elsewhere the default applies
        mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=dtype, count=count)


def is_store(path: Path) -> bool:
    return (path / MANIFEST).is_file() and (path / TOKENS).is_file()


def open_store(path: Path, *, verify: bool = True) -> Store:
    """Open a store, checking the token file's size (and, with `verify`, its sha256)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise DataError(f"{path / MANIFEST} is not a {FORMAT} manifest")
        entry = manifest["files"][0]
        size = (path / TOKENS).stat().st_size
        if size != entry["bytes"]:
            raise DataError(
                f"{path / TOKENS} holds {size} bytes, its manifest says {entry['bytes']}: "
                "prepare the store again"
            )
        if verify and readers.file_sha256(path / TOKENS)[1] != entry["sha256"]:
            raise DataError(f"{path / TOKENS} is corrupt (sha256 differs): prepare it again")
        tokens = _map(path / TOKENS, np.dtype(manifest["dtype"]), int(manifest["n_tokens"]))
        return Store(root=path, manifest=manifest, tokens=tokens)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{path} is not a readable token store ({type(exc).__name__}: {exc})"
        ) from None

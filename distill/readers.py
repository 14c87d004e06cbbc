"""The input formats `distill prepare` streams: text files, `.jsonl` (one JSON document per
line), `.parquet` (pyarrow, the `parquet` extra) and gzip-compressed variants of each; folders
and globs expand to the files they hold, in name order, so the same inputs give the same store."""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from distill.errors import DataError

# A text file is one document, read in blocks cut at a line break, so a tokenizer never sees
# a word split between two blocks and no block is held longer than it takes to encode it.
TEXT_BLOCK = 1 << 22
FORMATS = ("text", "jsonl", "parquet")
Piece = tuple[bytes, bool]  # (utf-8 text, True where a document ends with it)


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One input file: where it is, how it is read, and its size and sha256 as found on disk."""

    path: Path
    format: str
    gzip: bool
    bytes: int
    sha256: str

    def entry(self) -> dict[str, Any]:
        """The manifest record (the path as given, so a store never names a temporary home)."""
        fmt = f"{self.format}.gz" if self.gzip else self.format
        return {
            "path": self.path.as_posix(),
            "format": fmt,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


def format_of(path: Path) -> tuple[str, bool]:
    """(format, gzip) from the file name: `.jsonl`, `.parquet`, anything else is text."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[: -len(".gz")]
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl", compressed
    if name.endswith(".parquet"):
        return "parquet", compressed
    return "text", compressed


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files named, under folders named (recursively, hidden ones skipped) and matching globs."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))
            )
            if not found:
                raise DataError(f"data folder {path} holds no files")
            files += found
        elif not path.exists() and glob.has_magic(str(path)):
            matched = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            if not any(p.is_file() for p in matched):
                raise DataError(f"no data file matches {path}")
            files += [p for p in matched if p.is_file()]
        else:
            files.append(path)
    return files


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def file_sha256(path: Path) -> tuple[int, str]:
    """(size, sha256) of a file, read in blocks rather than mapped (no resident pages kept)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def scan(paths: Sequence[Path]) -> list[Source]:
    """Every input file with its size and sha256; an unreadable one is refused here, first."""
    sources = []
    for path in expand(paths):
        fmt, compressed = format_of(path)
        try:
            size, sha = file_sha256(path)
        except OSError as exc:
            raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None
        sources.append(Source(path=path, format=fmt, gzip=compressed, bytes=size, sha256=sha))
    return sources


def pieces(source: Source, *, text_field: str = "text") -> Iterator[Piece]:
    """The source's text in order; documents end where the flag says so."""
    try:
        with _open(source) as fh:
            if source.format == "jsonl":
                yield from _jsonl(fh, source.path, text_field)
            elif source.format == "parquet":
                yield from _parquet(fh, source.path, text_field)
            else:
                yield from _text(fh)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read data file {source.path}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _open(source: Source) -> IO[bytes]:
    if source.gzip:
        return gzip.GzipFile(source.path, "rb")  # type: ignore[return-value]
    return source.path.open("rb")


def _text(fh: IO[bytes]) -> Iterator[Piece]:
    carry = b""
    while block := fh.read(TEXT_BLOCK):
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if cut == 0 and len(block) < 4 * TEXT_BLOCK:  # a long line: wait for its end a while
            carry = block
            continue
        cut = cut or len(block)  # a line longer than 4 blocks is cut where the block ends
        carry = block[cut:]
        yield block[:cut], False
    yield carry, True


def _jsonl(fh: IO[bytes], path: Path, field: str) -> Iterator[Piece]:
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: malformed JSON: {exc}") from None
        if not isinstance(record, dict) or field not in record:
            raise DataError(f"{path}:{number}: no {field!r} field (choose one with --text-field)")
        text = record[field]
        if not isinstance(text, str):
            raise DataError(f"{path}:{number}: field {field!r} is {type(text).__name__}, not text")
        yield text.encode("utf-8", errors="replace"), True


def _parquet(fh: IO[bytes], path: Path, field: str) -> Iterator[Piece]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"reading {path} needs pyarrow: pip install 'pv-distill[parquet]'"
        ) from None
    try:
        table = pq.ParquetFile(fh)
        if field not in table.schema_arrow.names:
            raise DataError(f"{path}: no column {field!r} (choose one with --text-field)")
        row = 0
        for batch in table.iter_batches(batch_size=1024, columns=[field]):
            for text in batch.column(0).to_pylist():
                row += 1
                if not isinstance(text, str):
                    raise DataError(f"{path}: row {row}: column {field!r} is not text")
                yield text.encode("utf-8", errors="replace"), True
    except pa.ArrowException as exc:  # not an OSError: one line, not a traceback
        raise DataError(f"cannot read data file {path}: {exc}") from None

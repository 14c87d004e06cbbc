"""Every input format prepare reads: text, JSONL, Parquet and their gzip variants; folders and
globs; and the one-line refusals for a malformed line, a missing field and an unreadable file."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from distill import readers
from distill.errors import DataError


def _all(path: Path, **kw: str) -> list[tuple[bytes, bool]]:
    return [p for s in readers.scan([path]) for p in readers.pieces(s, **kw)]


def _jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_format_comes_from_the_name_and_gz_is_peeled_off() -> None:
    assert readers.format_of(Path("a.txt")) == ("text", False)
    assert readers.format_of(Path("a.JSONL.gz")) == ("jsonl", True)
    assert readers.format_of(Path("a.ndjson")) == ("jsonl", False)
    assert readers.format_of(Path("a.parquet.gz")) == ("parquet", True)
    assert readers.format_of(Path("README")) == ("text", False)


def test_a_text_file_is_one_document_cut_at_line_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "TEXT_BLOCK", 8)
    text = b"one two\nthree four five\nsix"
    (tmp_path / "a.txt").write_bytes(text)
    pieces = _all(tmp_path / "a.txt")
    assert b"".join(p for p, _ in pieces) == text
    assert [ends for _, ends in pieces] == [False] * (len(pieces) - 1) + [True]
    assert all(p.endswith(b"\n") for p, _ in pieces[:-1])  # never a word split in two


def test_a_line_longer_than_a_block_is_cut_where_the_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "TEXT_BLOCK", 4)
    (tmp_path / "a.txt").write_bytes(b"abcdefghij")
    assert b"".join(p for p, _ in _all(tmp_path / "a.txt")) == b"abcdefghij"


def test_jsonl_gives_one_document_per_line_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b", "id": 2}\n', encoding="utf-8")
    assert _all(path) == [(b"a", True), (b"b", True)]
    other = _jsonl(tmp_path / "e.jsonl", [{"body": "x"}])
    assert _all(other, text_field="body") == [(b"x", True)]


def test_a_malformed_jsonl_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl:2: malformed JSON"):
        _all(path)


def test_a_missing_or_non_text_field_names_the_file_and_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "a"}, {"body": "b"}])
    with pytest.raises(DataError, match=r"d\.jsonl:2: no 'text' field"):
        _all(path)
    path = _jsonl(tmp_path / "n.jsonl", [{"text": 3}])
    with pytest.raises(DataError, match=r"n\.jsonl:1: field 'text' is int, not text"):
        _all(path)
    path = _jsonl(tmp_path / "l.jsonl", [["text"]])
    with pytest.raises(DataError, match=r"l\.jsonl:1: no 'text' field"):
        _all(path)


def test_gzip_variants_read_like_the_plain_files(tmp_path: Path) -> None:
    plain = _jsonl(tmp_path / "d.jsonl", [{"text": "héllo"}, {"text": "world"}])
    packed = tmp_path / "d.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert _all(packed) == _all(plain)
    (tmp_path / "t.txt.gz").write_bytes(gzip.compress(b"abc\ndef"))
    assert _all(tmp_path / "t.txt.gz") == [(b"abc\n", False), (b"def", True)]


def test_a_broken_gzip_file_is_one_data_error(tmp_path: Path) -> None:
    (tmp_path / "t.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"cannot read data file .*t\.txt\.gz"):
        _all(tmp_path / "t.txt.gz")


def test_parquet_reads_the_text_column_and_refuses_a_missing_one(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "bc"], "n": [1, 2]}), path)
    assert _all(path) == [(b"a", True), (b"bc", True)]
    packed = tmp_path / "d.parquet.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert _all(packed) == _all(path)
    with pytest.raises(DataError, match=r"d\.parquet: no column 'body'"):
        _all(path, text_field="body")
    pq.write_table(pa.table({"text": ["a", None]}), tmp_path / "null.parquet")
    with pytest.raises(DataError, match=r"null\.parquet: row 2: column 'text' is not text"):
        _all(tmp_path / "null.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 but not really")
    with pytest.raises(DataError, match=r"cannot read data file .*bad\.parquet"):
        _all(tmp_path / "bad.parquet")


def test_parquet_without_pyarrow_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    (tmp_path / "d.parquet").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(DataError, match=r"needs pyarrow: pip install 'pv-distill\[parquet\]'"):
        _all(tmp_path / "d.parquet")


def test_folders_and_globs_expand_in_name_order_without_hidden_files(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "sub/c.jsonl", ".git/x", "sub/.hidden"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    names = [p.relative_to(tmp_path).as_posix() for p in readers.expand([tmp_path])]
    assert names == ["a.txt", "b.txt", "sub/c.jsonl"]
    assert readers.expand([tmp_path / "*.txt"]) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    with pytest.raises(DataError, match="no data file matches"):
        readers.expand([tmp_path / "*.parquet"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        readers.expand([tmp_path / "empty"])


def test_a_source_records_its_size_and_sha256_and_an_unreadable_one_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"abc"))
    (source,) = readers.scan([tmp_path / "a.txt.gz"])
    raw = (tmp_path / "a.txt.gz").read_bytes()
    assert source.entry() == {
        "path": (tmp_path / "a.txt.gz").as_posix(),
        "format": "text.gz",
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    with pytest.raises(DataError, match=r"cannot read data file .*missing\.txt: No such file"):
        readers.scan([tmp_path / "missing.txt"])

"""The token store: streamed, deterministic, narrowest dtype, a manifest that states what it
holds, published by one rename, and read back as memory-mapped views (never a copy)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
from pathlib import Path

import numpy as np
import pytest

from distill import data, inputs, readers, store, tokenizer
from distill.config import DataConfig
from distill.distributed import World
from distill.errors import DataError, ModelError, OutputExistsError


def _files(tmp_path: Path) -> list[Path]:
    (tmp_path / "a.txt").write_bytes(b"first document\nline two\n")
    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n{"text": "yz"}\n', encoding="utf-8")
    return [tmp_path / "a.txt", tmp_path / "b.jsonl"]


def test_the_manifest_states_sources_tokenizer_counts_split_and_token_sha(
    tmp_path: Path,
) -> None:
    files = _files(tmp_path)
    out = store.prepare(files, tmp_path / "s", val_fraction=0.25)
    manifest = json.loads((out / store.MANIFEST).read_text(encoding="utf-8"))
    tokens = (out / store.TOKENS).read_bytes()
    # documents joined by the byte tokenizer's separator, none after the last
    assert tokens == b"first document\nline two\n" + b"\0x\0yz"
    assert manifest["tokenizer"] == tokenizer.BYTE_ID.as_dict()
    assert manifest["dtype"] == "uint8"
    assert manifest["n_tokens"] == len(tokens)
    assert manifest["max_id"] == max(tokens)
    n_val = int(len(tokens) * 0.25)
    assert manifest["split"] == {
        "val_fraction": 0.25,
        "train_tokens": len(tokens) - n_val,
        "val_tokens": n_val,
    }
    assert manifest["files"] == [
        {"name": "tokens.bin", "bytes": len(tokens), "sha256": hashlib.sha256(tokens).hexdigest()}
    ]
    assert [s["path"] for s in manifest["sources"]] == [f.as_posix() for f in files]
    assert [s["documents"] for s in manifest["sources"]] == [1, 2]
    assert [s["tokens"] for s in manifest["sources"]] == [24, 5]
    assert manifest["sources"][1]["sha256"] == hashlib.sha256(files[1].read_bytes()).hexdigest()


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    files = _files(tmp_path)
    a = store.prepare(files, tmp_path / "a")
    b = store.prepare(files, tmp_path / "b")
    for name in (store.MANIFEST, store.TOKENS):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_a_failure_mid_stream_leaves_no_store_and_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path)
    real = readers.pieces

    def pieces(source: readers.Source, **kw: str):  # type: ignore[no-untyped-def]
        yield from real(source, **kw)
        if source.format == "jsonl":
            raise DataError("stopped")

    monkeypatch.setattr(readers, "pieces", pieces)
    with pytest.raises(DataError, match="stopped"):
        store.prepare(files, tmp_path / "out" / "s")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_output_is_refused_and_kept(tmp_path: Path) -> None:
    files = _files(tmp_path)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="already exists"):
        store.prepare(files, tmp_path / "s")
    assert (tmp_path / "s" / "keep").read_text(encoding="utf-8") == "mine"


def test_the_corpus_is_a_memory_map_and_windows_are_views(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(bytes(range(200)) * 5)
    found = store.open_store(store.prepare([tmp_path / "a.txt"], tmp_path / "s"))
    corpus = found.corpus(256, DataConfig(seq_len=8))
    assert isinstance(found.tokens.base.obj, mmap.mmap)
    assert not found.tokens.flags.writeable
    assert np.shares_memory(corpus.train, found.tokens)
    assert np.shares_memory(corpus.val, found.tokens)
    wins = data.windows(corpus.train, 8)
    assert np.shares_memory(wins, found.tokens)
    assert wins.shape == ((len(corpus.train) - 1) // 8, 9)
    assert np.array_equal(wins[3], np.asarray(corpus.train[24:33]))
    assert len(corpus.val) == 100
    assert data.fingerprint(corpus, DataConfig(seq_len=8)) != data.fingerprint(
        corpus, DataConfig(seq_len=9)
    )


def test_each_batch_unmaps_the_pages_it_read(tmp_path: Path) -> None:
    from distill.batches import from_corpus

    (tmp_path / "a.txt").write_bytes(bytes(range(256)) * 8)
    found = store.open_store(store.prepare([tmp_path / "a.txt"], tmp_path / "s"))
    calls: list[int] = []
    corpus = found.corpus(256, DataConfig(seq_len=8))
    assert corpus.release is not None
    corpus.release()  # unmapping what was read is harmless: the next read maps it again
    counted = dataclasses.replace(corpus, release=lambda: calls.append(1))
    tokens, *_ = from_corpus(counted, 8).fetch(np.array([2, 0]))
    assert calls == [1]
    assert tokens.tolist() == [list(range(16, 25)), list(range(9))]


def test_a_store_is_checked_against_the_split_windows_and_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xff" + b"a" * 99)
    found = store.open_store(store.prepare([tmp_path / "a.txt"], tmp_path / "s"))
    with pytest.raises(DataError, match=r"holds out 0.1 for validation, not --val-fraction 0.2"):
        found.corpus(256, DataConfig(seq_len=4, val_fraction=0.2))
    with pytest.raises(DataError, match=r"too small for seq_len 16"):
        found.corpus(256, DataConfig(seq_len=16))
    with pytest.raises(DataError, match=r"token id 255 .* outside the vocabulary \(200\)"):
        found.corpus(200, DataConfig(seq_len=4))


def test_a_damaged_store_is_refused(tmp_path: Path) -> None:
    files = _files(tmp_path)
    path = store.prepare(files, tmp_path / "s")
    raw = bytearray((path / store.TOKENS).read_bytes())
    raw[0] ^= 1
    (path / store.TOKENS).write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        store.open_store(path)
    (path / store.TOKENS).write_bytes(bytes(raw[:-1]))
    with pytest.raises(DataError, match="manifest says"):
        store.open_store(path)
    (path / store.MANIFEST).write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable token store"):
        store.open_store(path)
    (path / store.MANIFEST).write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(DataError, match="not a distill-token-store-v1 manifest"):
        store.open_store(path)


def test_raw_files_are_prepared_once_and_reused_only_for_the_same_data(tmp_path: Path) -> None:
    files = _files(tmp_path)
    target = tmp_path / "run" / "data"
    kw = {"tokenizer_dir": None, "val_fraction": 0.1}
    inputs.ensure_store(files, target, **kw)  # type: ignore[arg-type]
    before = (target / store.TOKENS).stat().st_mtime_ns
    assert inputs.ensure_store(files, target, **kw) == target  # type: ignore[arg-type]
    assert (target / store.TOKENS).stat().st_mtime_ns == before
    files[0].write_bytes(b"changed")
    with pytest.raises(DataError, match="already holds a store prepared from other data"):
        inputs.ensure_store(files, target, **kw)  # type: ignore[arg-type]


def test_a_store_must_be_the_only_data_and_must_match_the_models_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path)
    path = store.prepare(files, tmp_path / "s")
    with pytest.raises(DataError, match="must be the only --data"):
        inputs.open_data([path, files[0]], run_dir=tmp_path, tokenizer_dir=None,
                         val_fraction=0.1, world=World())  # fmt: skip
    other = tokenizer.TokenizerId(name="Other", fingerprint="f" * 64, vocab_size=256, eos_id=0)
    monkeypatch.setattr(tokenizer.ByteTokenizer, "ident", other)
    with pytest.raises(ModelError, match=r"tokenizer mismatch: the store .* made with bytes"):
        inputs.load_corpus([path], run_dir=tmp_path, model_dir=None, vocab_size=256,
                           data_cfg=DataConfig(seq_len=2), world=World(), role="model",
                           fresh=False)  # fmt: skip


def test_a_tokenizer_without_eos_cannot_join_documents(tmp_path: Path) -> None:
    writer = store._Writer(open(tmp_path / "t", "wb"), np.dtype(np.uint8), None)  # noqa: SIM115
    writer.piece(np.array([1]), ends=True)
    with pytest.raises(DataError, match="no EOS token"):
        writer.piece(np.array([2]), ends=True)
    writer.fh.close()


def test_no_data_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data files"):
        store.prepare([], tmp_path / "s")


KILLED_MID_STREAM = """
import os, signal, sys
from pathlib import Path
from distill import readers, store

real = readers.pieces
def pieces(source, **kw):
    for n, piece in enumerate(real(source, **kw)):
        if source.format == "jsonl" and n == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # as kill -9 would, between two writes
        yield piece
readers.pieces = pieces
store.prepare([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]))
"""


def test_a_prepare_killed_mid_stream_leaves_nothing_a_reader_would_take(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    files = _files(tmp_path)
    out = tmp_path / "out" / "s"
    args = [sys.executable, "-c", KILLED_MID_STREAM, str(out), *map(str, files)]
    proc = subprocess.run(args, capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists()
    assert not store.is_store(out)
    # the killed writer's own scratch (and its lock file), never `out`
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left[0] == ".s.lock"
    assert [n.startswith(".s.partial-") for n in left[1:]] == [True]
    assert store.prepare(files, out) == out  # a new prepare is not disturbed by it...
    assert store.open_store(out).manifest["n_tokens"] == 29
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["s"]  # ...and removes them


def test_a_second_prepare_of_the_same_store_is_refused_while_the_first_holds_it(
    tmp_path: Path,
) -> None:
    from distill import runlock, store
    from distill.errors import RunLockedError

    text = tmp_path / "a.txt"
    text.write_text("hello world\n" * 50, encoding="utf-8")
    out = tmp_path / "data"
    with (
        runlock.hold_file(tmp_path / ".data.lock", f"token store {out}"),
        pytest.raises(RunLockedError, match=r"token store .*data is in use by pid \d+"),
    ):
        store.prepare([text], out)
    assert not out.exists()


def test_a_killed_prepare_s_partial_store_is_removed_by_the_next(tmp_path: Path) -> None:
    from distill import store

    text = tmp_path / "a.txt"
    text.write_text("hello world\n" * 50, encoding="utf-8")
    stale = tmp_path / ".data.partial-999999"
    stale.mkdir()
    (stale / "tokens.bin").write_bytes(b"\0" * 10)
    store.prepare([text], tmp_path / "data")
    assert not stale.exists()
    assert store.open_store(tmp_path / "data").manifest["n_tokens"] > 0

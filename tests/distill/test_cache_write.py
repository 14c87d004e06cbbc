"""Writing a teacher-logit cache, straight through `cache.write_cache` with a random micro
teacher: each test writes its own cache (a fraction of a second), so a mutation tool that maps
tests to the functions they run sees every test that exercises the writer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from distill import cache
from distill.config import DataConfig, PrecomputeConfig
from distill.data import Corpus, windows
from distill.distributed import World
from distill.errors import CacheMismatchError, OutputExistsError, WriteError

VOCAB, SEQ = 40, 8
DATA = DataConfig(seq_len=SEQ)


class Teacher(nn.Module):
    """Random logits that depend on the token: enough for a cache, nothing to train."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(VOCAB, 12)
        self.head = nn.Linear(12, VOCAB)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x)) * 4.0


def corpus(n_train: int = 5 * SEQ + 1, released: list[int] | None = None) -> Corpus:
    """int64 ids (not the narrow type a reader gets): the cache must narrow them itself."""
    stream = (np.arange(n_train + 3 * SEQ, dtype=np.int64) * 7) % VOCAB
    return Corpus(
        train=stream[:n_train],
        val=stream[n_train:],
        vocab_size=VOCAB,
        release=None if released is None else lambda: released.append(1),
    )


def write(out: Path, *, top_k: int = 5, shard_windows: int = 2, **kwargs: Any) -> Path:
    return cache.write_cache(
        out,
        teacher=Teacher(),
        corpus=kwargs.pop("corpus", None) or corpus(),
        data=DATA,
        precompute=PrecomputeConfig(top_k=top_k, shard_windows=shard_windows, batch_size=2),
        teacher_fingerprint="teacher-sha",
        data_fingerprint="data-sha",
        device=torch.device("cpu"),
        **kwargs,
    )


def test_the_manifest_says_what_a_reader_needs_in_canonical_bytes(tmp_path: Path) -> None:
    root = write(tmp_path / "new" / "out")  # a folder that does not exist yet is made
    text = (root / cache.MANIFEST).read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"  # bytes from content
    facts = {k: manifest[k] for k in ("teacher_fingerprint", "data_fingerprint", "id_dtype")}
    assert facts == {"teacher_fingerprint": "teacher-sha", "data_fingerprint": "data-sha",
                     "id_dtype": "uint8"}  # fmt: skip
    assert (manifest["value_dtype"], manifest["tail_policies"]) == ("float16", ["zero", "bucket"])
    assert manifest["tail_policy"] == "top-k renormalised at temperature T; tail probability 0"
    assert (manifest["vocab_size"], manifest["top_k"], manifest["n_windows"]) == (VOCAB, 5, 5)
    for entry in manifest["files"]:  # every file holds exactly its shape, in its dtype
        size = int(np.prod(entry["shape"])) * np.dtype(entry["dtype"]).itemsize
        assert (root / entry["name"]).stat().st_size == entry["bytes"] == size, entry["name"]
    shapes = {e["name"]: (e["dtype"], e["shape"]) for e in manifest["files"]}
    assert shapes["tokens-00000.bin"] == ("uint8", [2, SEQ + 1])  # shard_windows of them
    assert shapes["tokens-00002.bin"] == ("uint8", [1, SEQ + 1])  # the rest
    assert shapes["ids-00001.bin"] == ("uint8", [2, SEQ, 5])
    assert shapes["lse-00002.bin"] == ("float32", [1, SEQ])
    assert shapes["val_tokens.bin"] == ("uint8", [3 * SEQ])


def test_what_is_written_reads_back_as_the_teacher_and_the_data(tmp_path: Path) -> None:
    source = corpus()
    opened = cache.open_cache(write(tmp_path, corpus=source))
    wins = windows(source.train, SEQ)
    tokens, ids, values = opened.batch(np.arange(5))
    assert np.array_equal(tokens, wins)  # a one-window last shard included
    logits = Teacher()(torch.tensor(wins[:, :-1], dtype=torch.int64))
    want_ids, want_values = cache.top_k(logits.detach(), 5)
    assert ids is not None
    assert np.array_equal(ids, want_ids.numpy())
    np.testing.assert_allclose(values, want_values.numpy(), rtol=1e-3, atol=1e-3)
    lse = opened.batch_lse(np.arange(5))
    np.testing.assert_allclose(lse, torch.logsumexp(logits, -1).detach().numpy(), rtol=1e-6)
    assert np.array_equal(opened.val, source.val)


def test_a_top_k_of_the_whole_vocabulary_is_allowed_and_beyond_it_refused(
    tmp_path: Path,
) -> None:
    opened = cache.open_cache(write(tmp_path / "all", top_k=VOCAB))
    assert opened.batch(np.array([0]))[2].shape == (1, SEQ, VOCAB)
    with pytest.raises(CacheMismatchError, match=f"top_k {VOCAB + 1} > vocabulary {VOCAB}"):
        write(tmp_path / "over", top_k=VOCAB + 1)
    assert not (tmp_path / "over" / cache.CACHE_DIR).exists()


def test_an_existing_cache_is_refused_and_kept(tmp_path: Path) -> None:
    root = write(tmp_path)
    before = sorted((p.name, p.read_bytes()) for p in root.iterdir())
    with pytest.raises(OutputExistsError, match=f"{root} already holds a cache: choose another"):
        write(tmp_path)
    assert sorted((p.name, p.read_bytes()) for p in root.iterdir()) == before


def test_progress_reports_each_shard_and_the_validation_copy_unmaps_its_pages(
    tmp_path: Path,
) -> None:
    shards: list[tuple[int, int, int]] = []
    released: list[int] = []
    write(tmp_path, corpus=corpus(released=released), on_shard=lambda *a: shards.append(a))
    assert shards == [(1, 3, 2 * SEQ), (2, 3, 2 * SEQ), (3, 3, SEQ)]  # done, total, tokens
    assert released  # the validation tokens were written block by block, releasing each


class Rank(World):
    """One rank of a two-process world, without a process group: what it writes alone."""

    def gather(self, value: Any) -> list[Any]:
        return [value]


@pytest.mark.parametrize(("rank", "mine", "total"), [(0, [0, 2], 2), (1, [1], 1)])
def test_each_rank_writes_its_own_shards(
    tmp_path: Path, rank: int, mine: list[int], total: int
) -> None:
    wins = windows(corpus().train, SEQ)
    calls: list[tuple[int, int, int]] = []
    written = cache._write_shards(
        tmp_path, Teacher(), wins, PrecomputeConfig(top_k=5, shard_windows=2),
        np.dtype(np.uint8), torch.device("cpu"), lambda *a: calls.append(a),
        Rank(rank=rank, size=2),
    )  # fmt: skip
    assert sorted(written) == mine
    assert [c[:2] for c in calls] == [(i + 1, total) for i in range(total)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{kind}-{i:05d}.bin" for i in mine for kind in ("tokens", "ids", "values", "lse")
    )


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("numpy.ascontiguousarray", "tokens-00000.bin"),
        ("pathlib.Path.write_text", "manifest.json"),
        ("os.fsync", "ids-00000.bin"),  # the first file flushed, in name order
        ("os.rename", cache.CACHE_DIR),
    ],
)
def test_a_failed_write_names_its_file_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, names: str
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(target, fail)
    with pytest.raises(WriteError, match=f"cannot write .*/{names}: No space left on device"):
        write(tmp_path)
    assert os.listdir(tmp_path) == []  # no partial folder, no cache

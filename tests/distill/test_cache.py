"""The teacher-logit cache: byte determinism, compact dtypes and refusal of damaged files."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from distill import cache, stages
from distill.config import DataConfig, PrecomputeConfig
from distill.errors import CacheMismatchError, OutputExistsError
from tests.distill.conftest import SEQ_LEN, TinyRun


def precompute(run: TinyRun, out: Path, top_k: int = 8) -> Path:
    return stages.precompute(
        teacher_path=run.teacher,
        out_dir=out,
        data_paths=[run.data_file],
        data_cfg=DataConfig(seq_len=SEQ_LEN),
        cfg=PrecomputeConfig(top_k=top_k, shard_windows=256, max_windows=300),
        device="cpu",
        quiet=True,
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_two_precompute_runs_are_byte_identical(tiny_run: TinyRun, tmp_path: Path) -> None:
    first = tree_bytes(precompute(tiny_run, tmp_path / "a"))
    second = tree_bytes(precompute(tiny_run, tmp_path / "b"))
    assert first == second
    assert len([n for n in first if n.startswith("values-")]) == 2  # 300 windows, 256 a shard


def test_manifest_records_fingerprints_and_every_file_hash(tiny_run: TinyRun) -> None:
    manifest = json.loads((tiny_run.cache / "teacher_logits" / "manifest.json").read_text())
    assert manifest["teacher_fingerprint"] == stages.model.fingerprint(tiny_run.teacher)
    assert manifest["precompute"]["top_k"] == 8
    names = {f["name"] for f in manifest["files"]}
    on_disk = {p.name for p in (tiny_run.cache / "teacher_logits").iterdir()}
    assert on_disk == names | {"manifest.json"}


def test_ids_use_the_narrowest_unsigned_type_and_values_fp16(tiny_run: TinyRun) -> None:
    opened = cache.open_cache(tiny_run.cache)
    _, ids, values = opened.batch(np.array([0, 1]))
    assert ids is not None
    assert ids.dtype == np.uint8
    assert values.dtype == np.float16
    assert ids.shape == (2, SEQ_LEN, 8)


def test_cached_top_k_matches_the_teacher_logits(tiny_run: TinyRun) -> None:
    opened = cache.open_cache(tiny_run.cache)
    tokens, ids, values = opened.batch(np.array([3]))
    teacher = stages.model.load_model(tiny_run.teacher).eval()
    with torch.no_grad():
        logits = teacher(torch.from_numpy(tokens[:, :-1].astype(np.int64)))
    want_ids, want_values = cache.top_k(logits, 8)
    assert ids is not None
    assert np.array_equal(ids.astype(np.int64), want_ids.numpy())
    np.testing.assert_allclose(values, want_values.numpy(), rtol=1e-3, atol=1e-3)


def test_top_k_ties_keep_the_lower_id_first() -> None:
    ids, values = cache.top_k(torch.tensor([[1.0, 5.0, 5.0, 0.0, 5.0]]), 2)
    assert ids.tolist() == [[1, 2]]
    assert values.tolist() == [[5.0, 5.0]]


def copy_cache(run: TinyRun, tmp_path: Path) -> Path:
    target = tmp_path / "cache"
    shutil.copytree(run.cache, target)
    return target / "teacher_logits"


def test_a_shard_whose_hash_differs_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    root = copy_cache(tiny_run, tmp_path)
    shard = root / "values-00000.bin"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CacheMismatchError, match=r"values-00000.bin is corrupt: sha256"):
        cache.open_cache(root.parent)


def test_a_truncated_shard_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    root = copy_cache(tiny_run, tmp_path)
    shard = root / "ids-00000.bin"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CacheMismatchError, match="truncated"):
        cache.open_cache(root.parent)


def test_a_missing_cache_names_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(CacheMismatchError, match="no teacher-logit cache"):
        cache.open_cache(tmp_path)


def test_a_manifest_of_another_format_is_refused(tiny_run: TinyRun, tmp_path: Path) -> None:
    root = copy_cache(tiny_run, tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["format"] = "something-else"
    manifest[cache.SEAL] = cache._seal(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheMismatchError, match="not a distill-teacher-logits-v1"):
        cache.open_cache(root)


def test_precompute_refuses_to_overwrite_a_cache(tiny_run: TinyRun, tmp_path: Path) -> None:
    root = copy_cache(tiny_run, tmp_path)
    before = tree_bytes(root)
    with pytest.raises(OutputExistsError, match="already holds a cache"):
        precompute(tiny_run, root.parent)
    assert tree_bytes(root) == before


def test_full_logits_are_cached_when_top_k_is_zero(tiny_run: TinyRun, tmp_path: Path) -> None:
    opened = cache.open_cache(precompute(tiny_run, tmp_path / "full", top_k=0))
    tokens, ids, values = opened.batch(np.array([0]))
    assert ids is None
    assert values.shape == (1, SEQ_LEN, 256)
    assert tokens.shape == (1, SEQ_LEN + 1)


def test_fast_top_k_equals_a_stable_sort_cut_at_k_even_with_many_ties() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        v = int(torch.randint(2, 40, (1,), generator=gen))
        k = int(torch.randint(1, v + 1, (1,), generator=gen))
        logits = torch.randint(-3, 3, (3, 5, v), generator=gen).float()  # ties everywhere
        ids, values = cache.top_k(logits, k)
        want_values, want_ids = torch.sort(logits, dim=-1, descending=True, stable=True)
        assert torch.equal(ids, want_ids[..., :k])
        assert torch.equal(values, want_values[..., :k])


def rewrite_manifest(root: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    edit(manifest)
    manifest[cache.SEAL] = cache._seal(manifest)  # sealed: the edit itself must be refused
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["files"].pop(1), "does not list tokens-00000.bin"),
        (lambda m: m.pop("files"), r"is damaged \(KeyError: 'files'\)"),
        (lambda m: m["files"][0].pop("name"), r"is damaged \(KeyError: 'name'\)"),
        (lambda m: m.pop("n_windows"), r"is damaged \(KeyError: 'n_windows'\)"),
    ],
    ids=["an-unlisted-shard", "no-files-key", "an-entry-without-a-name", "no-window-count"],
)
def test_a_manifest_missing_entries_or_keys_is_refused(
    tiny_run: TinyRun, tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    root = copy_cache(tiny_run, tmp_path)
    rewrite_manifest(root, edit)
    with pytest.raises(CacheMismatchError, match=message):
        cache.open_cache(root)


def test_every_file_the_manifest_must_list_is_expected(tiny_run: TinyRun) -> None:
    manifest = json.loads((tiny_run.cache / "teacher_logits" / "manifest.json").read_text())
    assert cache.expected_files(manifest) == {f["name"] for f in manifest["files"]}
    assert "ids-00000.bin" in cache.expected_files(manifest)
    assert "ids-00000.bin" not in cache.expected_files({**manifest, "top_k": 0})


def test_an_opened_cache_holds_what_its_manifest_and_files_say(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    root = copy_cache(tiny_run, tmp_path)
    opened = cache.open_cache(root.parent)
    manifest = json.loads((root / "manifest.json").read_text())
    facts = (opened.root, opened.vocab_size, opened.seq_len, opened.top_k, opened.shard_windows)
    assert facts == (root, 256, SEQ_LEN, 8, 256)
    assert opened.n_windows == manifest["n_windows"] > 256  # two shards
    assert np.array_equal(opened.val, np.fromfile(root / "val_tokens.bin", dtype=np.uint8))
    assert opened.val.size > 0
    assert opened.sha256 == hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
    opened.tails = ["zero"]  # as a cache without a stored logsumexp: the refusal names it
    with pytest.raises(CacheMismatchError, match=re.escape(f"the cache at {root} stores no")):
        opened.require_tail("bucket")


def test_a_mapped_file_is_read_only_and_an_empty_one_keeps_its_shape_and_dtype(
    tmp_path: Path,
) -> None:
    path = tmp_path / "one-row.bin"
    np.array([[1, 2, 3]], dtype=np.uint16).tofile(path)
    mapped = cache._memmap(path, {"shape": [1, 3], "dtype": "uint16"})
    assert mapped.tolist() == [[1, 2, 3]]  # a one-row array is read, not taken for empty
    assert not mapped.flags.writeable  # training can never write into the teacher's cache
    empty = cache._memmap(tmp_path / "absent.bin", {"shape": [0, 3], "dtype": "uint16"})
    assert (empty.shape, empty.dtype) == ((0, 3), np.dtype(np.uint16))


@pytest.mark.parametrize("damage", ["missing", "truncated", "not-json", "unsealed", "absent"])
def test_each_refusal_names_the_file_and_the_fix(
    tiny_run: TinyRun, tmp_path: Path, damage: str
) -> None:
    root = copy_cache(tiny_run, tmp_path)
    manifest = root / "manifest.json"
    size = (root / "ids-00000.bin").stat().st_size
    path = root.parent
    if damage == "missing":
        (root / "val_tokens.bin").unlink()
        want = f"cache file {root / 'val_tokens.bin'} is missing"
    elif damage == "truncated":
        (root / "ids-00000.bin").write_bytes((root / "ids-00000.bin").read_bytes()[:-10])
        want = f"{size - 10} bytes, manifest says {size}; re-run precompute"
    elif damage == "not-json":
        manifest.write_text("{")
        want = f"unreadable cache manifest {manifest}: Expecting property name"
    elif damage == "unsealed":
        manifest.write_text(manifest.read_text().replace('"top_k": 8', '"top_k": 7'))
        want = f"{manifest} is damaged: its content does not match its {cache.SEAL}; re-run"
    else:
        path = tmp_path / "nowhere"
        want = f"no teacher-logit cache at {path}: run `distill precompute --out {path}` first"
    with pytest.raises(CacheMismatchError, match=re.escape(want)):
        cache.open_cache(path)


def test_top_k_off_the_cpu_is_the_stable_sort_cut_at_k() -> None:
    ids, values = cache.top_k(torch.empty(2, 3, 50, device="meta"), 4)
    assert (ids.shape, values.shape, ids.device.type) == ((2, 3, 4), (2, 3, 4), "meta")


def test_on_the_cpu_a_cut_without_ties_is_answered_by_the_partition_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The partition is the CPU's fast path: the full sort only redoes rows tied at the cut."""
    sorted_rows: list[int] = []
    real = cache._stable_top_k

    def counted(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        sorted_rows.append(logits.shape[0])
        return real(logits, k)

    monkeypatch.setattr(cache, "_stable_top_k", counted)
    logits = torch.randn(64, 500, generator=torch.Generator().manual_seed(1))  # no ties
    ids, values = cache.top_k(logits, 10)
    assert sorted_rows == []
    want_values, want_ids = torch.sort(logits, dim=-1, descending=True, stable=True)
    assert torch.equal(ids, want_ids[:, :10])
    assert torch.equal(values, want_values[:, :10])
    logits[5, want_ids[5, 10]] = want_values[5, 9]  # one row tied across the cut
    ids, _ = cache.top_k(logits, 10)
    assert sorted_rows == [1]
    assert torch.equal(ids, torch.sort(logits, dim=-1, descending=True, stable=True)[1][:, :10])


def test_fast_top_k_equals_a_stable_sort_cut_at_k_over_many_widths() -> None:
    """Distinct values, vocabularies up to 3,000 and any k: the partition's cut must fall
    exactly at the (k+1)-th largest, which a cut one place off gets right only mostly."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        v = int(rng.integers(5, 3000))
        k = int(rng.integers(1, min(v - 2, 200)))
        logits = torch.from_numpy(rng.standard_normal((8, v)).astype(np.float32))
        ids, values = cache.top_k(logits, k)
        want_values, want_ids = torch.sort(logits, dim=-1, descending=True, stable=True)
        assert torch.equal(ids, want_ids[:, :k]), (v, k)
        assert torch.equal(values, want_values[:, :k])

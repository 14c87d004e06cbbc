"""The teacher-logit cache: `OUT/teacher_logits/` = raw shards (memory-mapped when read) +
`manifest.json` with the resolved config, the teacher and data fingerprints and the sha256 of
every file. Byte-deterministic: no timestamps, fixed shard order, top-k ties broken by id.
A top-k cache also stores each token's full logsumexp (fp32, 4 bytes), for the bucket tail."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distill import durable
from distill.config import DataConfig, PrecomputeConfig, as_dict
from distill.data import Corpus, narrow_uint, windows
from distill.distributed import World
from distill.errors import CacheMismatchError, OutputExistsError

CACHE_DIR = "teacher_logits"
MANIFEST = "manifest.json"
WRITE_BLOCK = 16 << 20  # bytes per write of a mapped array
FORMAT = "distill-teacher-logits-v1"
VALUE_DTYPE = np.dtype(np.float16)
LSE_DTYPE = np.dtype(np.float32)
# the top-k tail policies a cache serves: bucket needs the stored logsumexp (a full cache
# has no tail, so both policies are the same there)
TAILS_WITH_LSE = ["zero", "bucket"]
TAILS_WITHOUT_LSE = ["zero"]
FP16_MAX = float(np.finfo(np.float16).max)
SEAL = "manifest_sha256"


def manifest_dict(
    *,
    precompute: PrecomputeConfig,
    data: DataConfig,
    teacher_fingerprint: str,
    data_fingerprint: str,
    vocab_size: int,
    n_windows: int,
    files: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything a reader must check; deliberately free of times, hosts and paths."""
    return {
        "format": FORMAT,
        "precompute": as_dict(precompute),
        "data": as_dict(data),
        "teacher_fingerprint": teacher_fingerprint,
        "data_fingerprint": data_fingerprint,
        "vocab_size": vocab_size,
        "top_k": precompute.top_k,
        "n_windows": n_windows,
        "id_dtype": narrow_uint(vocab_size).name,
        "value_dtype": VALUE_DTYPE.name,
        "tail_policy": "top-k renormalised at temperature T; tail probability 0",
        "tail_policies": TAILS_WITH_LSE,
        "files": files,
    }


def top_k(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest k logits per row; equal logits keep the lower id first.

    Exactly a stable descending sort cut at k. On CPU it costs a partition instead of a
    sort (a full sort of V=256 took ~10% of a teacher forward): the k + 1 largest are
    partitioned out, the k kept are ordered by (value desc, id asc), and rows where the
    (k+1)-th value equals the k-th (a tie across the cut) are redone by the stable sort.
    """
    v = logits.shape[-1]
    if logits.device.type != "cpu" or k >= v:
        return _stable_top_k(logits, k)
    x = logits.detach().numpy()
    part = np.argpartition(x, v - k - 1, axis=-1)[..., v - k - 1 :]
    edge = np.take_along_axis(x, part[..., :1], -1)[..., 0]
    ids = np.sort(part[..., 1:], axis=-1)  # id order first, so the stable value sort keeps it
    order = np.argsort(-np.take_along_axis(x, ids, -1), axis=-1, kind="stable")
    ids = np.take_along_axis(ids, order, -1)
    vals = np.take_along_axis(x, ids, -1)
    out_ids, out_vals = torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(vals)
    straddle = torch.from_numpy(vals[..., -1] == edge)
    if bool(straddle.any()):
        out_ids[straddle], out_vals[straddle] = _stable_top_k(logits[straddle], k)
    return out_ids, out_vals


def _stable_top_k(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    values, ids = torch.sort(logits, dim=-1, descending=True, stable=True)
    return ids[..., :k], values[..., :k]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(
    tmp: Path, name: str, array: np.ndarray, release: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Write `array` (C order, as `tofile` would) and describe it for the manifest. An array
    that is a window of a memory-mapped store is written in blocks, `release` unmapping each
    block's pages after it, so the copy never holds the whole of it in memory."""
    path = tmp / name
    rows = max(1, WRITE_BLOCK // max(1, array[:1].nbytes))
    with durable.writing(path), path.open("wb") as fh:
        for start in range(0, len(array), rows):
            fh.write(np.ascontiguousarray(array[start : start + rows]).tobytes())
            if release is not None:
                release()
    return {
        "name": name,
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "bytes": path.stat().st_size,
        "sha256": _sha256(path),
    }


@torch.no_grad()
def _teacher_shard(
    teacher: nn.Module, inputs: np.ndarray, cfg: PrecomputeConfig, device: torch.device
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(ids, values, lse) for one shard of windows; ids and lse are None for full logits."""
    all_ids, all_vals, all_lse = [], [], []
    for a in range(0, len(inputs), cfg.batch_size):
        x = torch.from_numpy(inputs[a : a + cfg.batch_size].astype(np.int64)).to(device)
        logits = teacher(x).float().clamp_(-FP16_MAX, FP16_MAX)
        if cfg.top_k:
            all_lse.append(torch.logsumexp(logits, dim=-1).cpu().numpy().astype(LSE_DTYPE))
            ids, logits = top_k(logits, cfg.top_k)
            all_ids.append(ids.cpu().numpy())
        all_vals.append(logits.cpu().numpy().astype(VALUE_DTYPE))
    if not all_ids:
        return None, np.concatenate(all_vals), None
    return np.concatenate(all_ids), np.concatenate(all_vals), np.concatenate(all_lse)


def write_cache(
    out_dir: Path,
    *,
    teacher: nn.Module,
    corpus: Corpus,
    data: DataConfig,
    precompute: PrecomputeConfig,
    teacher_fingerprint: str,
    data_fingerprint: str,
    device: torch.device,
    on_shard: Callable[[int, int, int], None] | None = None,
    world: World | None = None,
) -> Path:
    """Run the frozen teacher over the training windows; publish the cache by one rename.

    Under torchrun rank r computes shards r, r + N, ...; rank 0 writes the manifest from
    every rank's file entries in shard order, so the bytes equal one process's.
    """
    world = world or World()
    target = out_dir / CACHE_DIR
    if target.exists():
        raise OutputExistsError(f"{target} already holds a cache: choose another --out")
    if precompute.top_k > corpus.vocab_size:
        raise CacheMismatchError(f"top_k {precompute.top_k} > vocabulary {corpus.vocab_size}")
    wins = windows(corpus.train, data.seq_len)[: precompute.max_windows or None]
    id_dtype = narrow_uint(corpus.vocab_size)
    tmp = out_dir / f".{CACHE_DIR}.partial-{world.broadcast(os.getpid())}"
    if world.main:  # partial caches of killed runs go first (the caller holds the lock)
        durable.sweep(out_dir)
        tmp.mkdir(parents=True)
    world.barrier()
    teacher.eval()
    try:
        n_shards = -(-len(wins) // precompute.shard_windows)
        mine = _write_shards(tmp, teacher, wins, precompute, id_dtype, device, on_shard, world)
        shards = {i: e for part in world.gather(mine) for i, e in part.items()}
        if world.main:
            val = np.asarray(corpus.val, dtype=id_dtype)
            files = [_write(tmp, "val_tokens.bin", val, corpus.release)]
            files += [entry for i in range(n_shards) for entry in shards[i]]
            manifest = manifest_dict(
                precompute=precompute,
                data=data,
                teacher_fingerprint=teacher_fingerprint,
                data_fingerprint=data_fingerprint,
                vocab_size=corpus.vocab_size,
                n_windows=len(wins),
                files=files,
            )
            _publish(tmp, manifest, target)
        world.barrier()
    finally:
        if world.main:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _publish(tmp: Path, manifest: dict[str, Any], target: Path) -> None:
    """Write the manifest (sealed by its own digest) last, flush every file, then make the
    whole cache visible by one rename onto a target that does not exist: no gap, no half."""
    sealed = {**manifest, SEAL: _seal(manifest)}
    text = json.dumps(sealed, indent=2, sort_keys=True) + "\n"
    with durable.writing(tmp / MANIFEST):
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
    for file in sorted(tmp.iterdir()):
        with durable.writing(file), file.open("rb+") as fh:
            os.fsync(fh.fileno())
    with durable.writing(target):
        os.rename(tmp, target)
    durable.fsync_dir(target.parent)


def _seal(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON: a flipped byte that still parses (a digit of
    top_k, a letter of a dtype) must not be read as another valid configuration."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _write_shards(
    tmp: Path,
    teacher: nn.Module,
    wins: np.ndarray,
    precompute: PrecomputeConfig,
    id_dtype: np.dtype[Any],
    device: torch.device,
    on_shard: Callable[[int, int, int], None] | None,
    world: World,
) -> dict[int, list[dict[str, Any]]]:
    """This rank's shards (r, r + N, ...) written into `tmp`: their manifest entries by index."""
    n_shards = -(-len(wins) // precompute.shard_windows)
    mine: dict[int, list[dict[str, Any]]] = {}
    for i in range(world.rank, n_shards, world.size):
        part = wins[i * precompute.shard_windows : (i + 1) * precompute.shard_windows]
        ids, values, lse = _teacher_shard(teacher, part[:, :-1], precompute, device)
        mine[i] = [_write(tmp, f"tokens-{i:05d}.bin", part.astype(id_dtype))]
        if ids is not None:
            mine[i].append(_write(tmp, f"ids-{i:05d}.bin", ids.astype(id_dtype)))
        mine[i].append(_write(tmp, f"values-{i:05d}.bin", values))
        if lse is not None:
            mine[i].append(_write(tmp, f"lse-{i:05d}.bin", lse))
        if on_shard is not None:
            total = -(-(n_shards - world.rank) // world.size)
            on_shard(len(mine), total, part.shape[0] * (part.shape[1] - 1))
    return mine


class TeacherCache:
    """A verified cache, read through memory maps so training never loads it whole."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest
        self.vocab_size = int(manifest["vocab_size"])
        self.seq_len = int(manifest["data"]["seq_len"])
        self.top_k = int(manifest["top_k"])
        self.n_windows = int(manifest["n_windows"])
        self.shard_windows = int(manifest["precompute"]["shard_windows"])
        maps = {f["name"]: _memmap(root / f["name"], f) for f in manifest["files"]}
        self.val = np.asarray(maps.pop("val_tokens.bin"))
        n_shards = -(-self.n_windows // self.shard_windows)
        self.tokens = [maps[f"tokens-{i:05d}.bin"] for i in range(n_shards)]
        self.values = [maps[f"values-{i:05d}.bin"] for i in range(n_shards)]
        self.ids = [maps[f"ids-{i:05d}.bin"] for i in range(n_shards)] if self.top_k else None
        self.tails = tail_policies(manifest)
        has_lse = self.top_k and "bucket" in self.tails
        self.lse = [maps[f"lse-{i:05d}.bin"] for i in range(n_shards)] if has_lse else None

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Windows at `indices`: tokens (B, L+1), ids (B, L, k) or None, values (B, L, k|V)."""
        shard, local = np.divmod(indices, self.shard_windows)
        tokens = np.stack([self.tokens[s][j] for s, j in zip(shard, local, strict=True)])
        values = np.stack([self.values[s][j] for s, j in zip(shard, local, strict=True)])
        if self.ids is None:
            return tokens, None, values
        ids = np.stack([self.ids[s][j] for s, j in zip(shard, local, strict=True)])
        return tokens, ids, values

    def batch_lse(self, indices: np.ndarray) -> np.ndarray | None:
        """The teacher's full logsumexp (B, L) at `indices`, or None if the cache has none."""
        if self.lse is None:
            return None
        shard, local = np.divmod(indices, self.shard_windows)
        return np.stack([self.lse[s][j] for s, j in zip(shard, local, strict=True)])

    def require_tail(self, tail: str) -> None:
        """Refuse a tail policy this cache cannot serve, naming the fix."""
        if tail not in self.tails:
            raise CacheMismatchError(
                f"the cache at {self.root} stores no per-token logsumexp, so it cannot serve "
                f"--tail {tail}: re-run precompute (it stores one now) or use --tail zero"
            )

    @property
    def sha256(self) -> str:
        return _sha256(self.root / MANIFEST)


def _memmap(path: Path, entry: dict[str, Any]) -> np.ndarray:
    shape = tuple(entry["shape"])
    if 0 in shape:
        return np.zeros(shape, dtype=entry["dtype"])
    return np.memmap(path, dtype=entry["dtype"], mode="r", shape=shape)


def tail_policies(manifest: dict[str, Any]) -> list[str]:
    """The tail policies a cache serves: a cache written before the logsumexp was stored
    has no `tail_policies` and serves tail zero only; a full cache serves both."""
    if not int(manifest["top_k"]):
        return list(TAILS_WITH_LSE)
    return list(manifest.get("tail_policies", TAILS_WITHOUT_LSE))


def expected_files(manifest: dict[str, Any]) -> set[str]:
    """Every file a cache with this manifest's window count, shard size and top-k must list."""
    n_shards = -(-int(manifest["n_windows"]) // int(manifest["precompute"]["shard_windows"]))
    kinds: tuple[str, ...] = ("tokens", "values")
    if int(manifest["top_k"]):
        kinds = (
            ("tokens", "ids", "values", "lse")
            if "bucket" in tail_policies(manifest)
            else ("tokens", "ids", "values")
        )
    return {"val_tokens.bin"} | {f"{k}-{i:05d}.bin" for k in kinds for i in range(n_shards)}


def _check_file(root: Path, entry: dict[str, Any], verify: bool) -> None:
    file = root / entry["name"]
    if not file.is_file():
        raise CacheMismatchError(f"cache file {file} is missing")
    size = file.stat().st_size
    if size != entry["bytes"]:
        raise CacheMismatchError(
            f"cache file {file} is truncated or resized: {size} bytes, manifest says "
            f"{entry['bytes']}; re-run precompute"
        )
    if verify and _sha256(file) != entry["sha256"]:
        raise CacheMismatchError(
            f"cache file {file} is corrupt: sha256 differs from the manifest; re-run precompute"
        )


def _read_manifest(path: Path, root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CacheMismatchError(
            f"no teacher-logit cache at {path}: run `distill precompute --out {path}` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise CacheMismatchError(f"unreadable cache manifest {root / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CacheMismatchError(f"{root / MANIFEST} is not a {FORMAT} manifest")
    if manifest.get(SEAL) != _seal(manifest):
        raise CacheMismatchError(
            f"{root / MANIFEST} is damaged: its content does not match its {SEAL}; "
            "re-run precompute"
        )
    return manifest


def open_cache(path: Path, *, verify: bool = True) -> TeacherCache:
    """Open `path` (the cache or a directory holding `teacher_logits/`), checking every file."""
    root = path if (path / MANIFEST).is_file() else path / CACHE_DIR
    manifest = _read_manifest(path, root)
    # A hand-edited or damaged manifest fails here with a refusal, not a KeyError later.
    try:
        listed = [entry["name"] for entry in manifest["files"]]
        unlisted = sorted(expected_files(manifest) - set(listed))
        if unlisted:
            raise CacheMismatchError(
                f"{root / MANIFEST} does not list {unlisted[0]} "
                f"({len(unlisted)} expected file(s) missing); re-run precompute"
            )
        for entry in manifest["files"]:
            _check_file(root, entry, verify)
        return TeacherCache(root, manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise CacheMismatchError(
            f"{root / MANIFEST} is damaged ({type(exc).__name__}: {exc}); re-run precompute"
        ) from None

"""Damaged inputs: truncated and bit-flipped checkpoint.pt, model.safetensors, config.json,
manifest.json and cache shards are each refused with one line naming the file; a resume from
a damaged checkpoint says so and changes nothing in the run directory."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from distill import cache, model
from distill.checkpoint import load_checkpoint, state_digest
from distill.cli import main
from distill.errors import CacheMismatchError, CheckpointMismatchError, ModelError
from tests.distill.conftest import TinyRun

FLIPS = 40  # flipped bits per file in the unit-level sweeps (fixed seed)
TRAIN = ["--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "4", "--lr", "0.01", "--quiet"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path, at: int, bit: int = 0) -> None:
    raw = bytearray(path.read_bytes())
    raw[at % len(raw)] ^= 1 << bit
    path.write_bytes(bytes(raw))


def flips(path: Path, seed: str) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    size = path.stat().st_size
    return [(rng.randrange(size), rng.randrange(8)) for _ in range(FLIPS)]


def one_error(args: list[str]) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = [x for x in result.output.splitlines() if x.startswith("error:")]
    return line


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("damage") / "run"
    args = ["train", "--cache", tiny_run.cache, "--out", out, "--student-size", tiny_run.size_file]
    result = CliRunner().invoke(main, [str(a) for a in [*args, *TRAIN]])
    assert result.exit_code == 0, result.output
    return out


def _resume_args(tiny_run: TinyRun, out: Path) -> list[str]:
    return ["train", "--cache", str(tiny_run.cache), "--out", str(out), "--student-size",
            str(tiny_run.size_file), *TRAIN, "--resume"]  # fmt: skip


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_resume_from_a_damaged_checkpoint_says_so_and_touches_nothing(
    tiny_run: TinyRun, finished: Path, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished, out, symlinks=True)
    ckpt = out / "checkpoint.pt"
    truncate(ckpt) if damage == "truncated" else flip(ckpt, ckpt.stat().st_size // 2, 3)
    before = files(out)
    line = one_error(_resume_args(tiny_run, out))
    assert str(ckpt) in line, line
    assert "damaged" in line, line
    assert files(out) == before


def test_every_flipped_bit_of_a_checkpoint_is_refused_or_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    good = torch.load(finished / "checkpoint.pt", weights_only=False)
    config = good["config"]
    want = state_digest({k: v for k, v in good.items() if k != "sha256"})
    path = tmp_path / "checkpoint.pt"
    refusals = []
    for at, bit in flips(finished / "checkpoint.pt", "checkpoint"):
        shutil.copy(finished / "checkpoint.pt", path)
        flip(path, at, bit)
        try:
            state = load_checkpoint(path, config)
        except CheckpointMismatchError as exc:
            refusals.append(str(exc))
            continue
        assert state_digest(state) == want  # a flip in bytes no reader uses: same content
    assert len(refusals) >= FLIPS // 2
    assert all(str(path) in m for m in refusals), refusals
    assert not any("\n" in m for m in refusals), refusals


def _load_refused_or_same(model_dir: Path, want: dict[str, torch.Tensor]) -> str | None:
    """The refusal, or None when the damaged directory still loads exactly `want`."""
    try:
        loaded = model.load_model(model_dir)
    except ModelError as exc:
        return str(exc)
    got = loaded.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    return None


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_every_flipped_bit_of_a_model_file_is_refused_or_changes_nothing(
    tiny_run: TinyRun, tmp_path: Path, name: str
) -> None:
    source = tiny_run.teacher / "model"
    want = model.load_model(source).state_dict()
    target = tmp_path / "m"
    refusals = []
    for at, bit in flips(source / name, name):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        flip(target / name, at, bit)
        refusal = _load_refused_or_same(target, want)
        refusals += [] if refusal is None else [refusal]
    assert len(refusals) >= FLIPS // 2
    assert all(name in m or "cannot load model" in m for m in refusals), refusals
    assert not any("\n" in m for m in refusals), refusals


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_a_damaged_model_file_is_refused_by_the_cli_naming_it(
    tiny_run: TinyRun, tmp_path: Path, name: str
) -> None:
    target = tmp_path / "m"
    shutil.copytree(tiny_run.teacher / "model", target)
    truncate(target / name)
    line = one_error(["generate", "--model", str(target), "--max-new-tokens", "1"])
    assert str(target / name) in line, line


Damage = Callable[[Path], None]


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("manifest.json", truncate),
        ("manifest.json", lambda p: flip(p, p.read_bytes().index(b'"top_k": 8') + 9, 0)),
        ("manifest.json", lambda p: flip(p, p.read_bytes().index(b'"sha256": "') + 12, 1)),
        ("values-00000.bin", truncate),
        ("values-00000.bin", lambda p: flip(p, 7, 2)),
        ("tokens-00000.bin", lambda p: flip(p, 0, 0)),
        ("val_tokens.bin", truncate),
    ],
    ids=[
        "manifest-truncated",
        "manifest-top-k",
        "manifest-sha",
        "shard-truncated",
        "shard-flipped",
        "tokens-flipped",
        "val-truncated",
    ],
)
def test_a_damaged_cache_file_is_refused_naming_it(
    tiny_run: TinyRun, tmp_path: Path, name: str, damage: Damage
) -> None:
    shutil.copytree(tiny_run.cache, tmp_path / "c")
    damage(tmp_path / "c" / cache.CACHE_DIR / name)
    out = tmp_path / "s"
    line = one_error(["train", "--cache", tmp_path / "c", "--out", out, *TRAIN])
    assert name in line, line
    assert not out.exists()
    with pytest.raises(CacheMismatchError, match=name):
        cache.open_cache(tmp_path / "c")


def test_a_checkpoint_without_its_digest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"config": {}, "w": torch.ones(2)}, path)  # as an older version wrote them
    with pytest.raises(CheckpointMismatchError, match="carries no digest"):
        load_checkpoint(path, {})

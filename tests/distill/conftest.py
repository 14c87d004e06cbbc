"""Shared fixtures: one tiny teacher and its cache, built once per test session (per worker),
so every test that needs a cache reads it instead of re-training."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from distill import stages
from distill.config import DataConfig, PrecomputeConfig, TrainConfig
from distill.data import default_text

SEQ_LEN = 32
MICRO = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64}


@dataclass(frozen=True, slots=True, kw_only=True)
class TinyRun:
    """A pretrained micro teacher, its cache, and the data file both were made from."""

    root: Path
    data_file: Path
    size_file: Path
    teacher: Path
    cache: Path


def write_size(path: Path, **overrides: int) -> Path:
    path.write_text(json.dumps({**MICRO, **overrides}), encoding="utf-8")
    return path


def micro_train(**overrides: object) -> TrainConfig:
    """A few fast steps; tests override what they exercise."""
    fields: dict[str, object] = {
        "epochs": 2,
        "steps_per_epoch": 3,
        "batch_size": 4,
        "lr": 3e-3,
        "warmup_steps": 1,
        "eval_windows": 4,
        "seed": 0,
    }
    fields.update(overrides)
    return TrainConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    root = tmp_path_factory.mktemp("tiny_run")
    data_file = root / "corpus.txt"
    data_file.write_bytes(default_text()[:40_000])
    size_file = write_size(root / "micro.json")
    data_cfg = DataConfig(seq_len=SEQ_LEN)
    teacher = stages.pretrain(
        out_dir=root / "teacher",
        data_paths=[data_file],
        size=str(size_file),
        data_cfg=data_cfg,
        cfg=micro_train(alpha=0.0, epochs=1, steps_per_epoch=20),
        device="cpu",
        resume=False,
        quiet=True,
    )
    stages.precompute(
        teacher_path=teacher.model_dir,
        out_dir=root / "cache",
        data_paths=[data_file],
        data_cfg=data_cfg,
        cfg=PrecomputeConfig(top_k=8, shard_windows=256),
        device="cpu",
        quiet=True,
    )
    return TinyRun(
        root=root,
        data_file=data_file,
        size_file=size_file,
        teacher=root / "teacher",
        cache=root / "cache",
    )


@pytest.fixture(scope="session")
def report_root(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `distill run`-shaped folder: the tiny teacher and cache, a student distilled from it
    and the same student trained from scratch (same shape, seed and steps)."""
    import shutil

    root = tmp_path_factory.mktemp("report_root")
    shutil.copytree(tiny_run.teacher, root / "teacher")
    shutil.copytree(tiny_run.cache, root / "cache")
    stages.distill(
        cache_path=root / "cache",
        out_dir=root / "distill",
        student_path=None,
        size=str(tiny_run.size_file),
        cfg=micro_train(),
        device="cpu",
        resume=False,
        quiet=True,
    )
    stages.pretrain(
        out_dir=root / "scratch",
        data_paths=[tiny_run.data_file],
        size=str(tiny_run.size_file),
        data_cfg=DataConfig(seq_len=SEQ_LEN),
        cfg=micro_train(alpha=0.0),
        device="cpu",
        resume=False,
        quiet=True,
    )
    return root

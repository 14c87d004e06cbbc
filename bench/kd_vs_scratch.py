"""FALSIFY-009 at demo scale: the `distill run` teacher and student sizes and schedules, a
student distilled from the teacher against the same student trained from scratch on the same
windows, steps and seed, over 3 seeds. (The falsify check runs the same comparison on smaller
models so it fits in `make test`.)"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import torch

from bench._common import teacher_cache, write
from distill import stages
from distill.config import (
    STUDENT_SCHEDULE,
    DataConfig,
    TrainConfig,
)

LONG = True  # a 3-seed table: `make bench-seeds`, not `make bench`
SEEDS = (0, 1, 2)


def _pair(root: Path, cache: Path, seed: int) -> dict[str, Any]:
    cfg = TrainConfig(seed=seed, **dataclasses.asdict(STUDENT_SCHEDULE))
    common: dict[str, Any] = {"size": "tiny", "device": "cpu", "resume": False, "quiet": True}
    kd = stages.distill(
        cache_path=cache, out_dir=root / f"kd-{seed}", student_path=None, cfg=cfg, **common
    )
    scratch = stages.pretrain(
        out_dir=root / f"scratch-{seed}", data_paths=(), data_cfg=DataConfig(),
        cfg=dataclasses.replace(cfg, alpha=0.0), **common,
    )  # fmt: skip
    kd_loss = float(kd.metadata["epochs"][-1]["val_loss"])
    scratch_loss = float(scratch.metadata["epochs"][-1]["val_loss"])
    return {"seed": seed, "distilled": kd_loss, "scratch": scratch_loss,
            "margin": scratch_loss - kd_loss}  # fmt: skip


def main() -> int:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cache, teacher_loss = teacher_cache(Path(tmp))
        rows = [_pair(Path(tmp), cache, seed) for seed in SEEDS]
    print(f"  teacher (small) val_loss {teacher_loss:.4f}; student tiny, alpha/T as defaults")
    print(f"  {'seed':>4}  {'distilled':>9}  {'scratch':>9}  {'margin':>7}")
    for row in rows:
        print(f"  {row['seed']:>4}  {row['distilled']:9.4f}  {row['scratch']:9.4f}  "
              f"{row['margin']:+7.4f}")  # fmt: skip
    wins = all(row["margin"] > 0 for row in rows)
    print(f"  distilled beats scratch on every seed: {'met' if wins else 'NOT MET'}")
    write("kd_vs_scratch", {"teacher_val_loss": teacher_loss, "rows": rows, "met": wins})
    return 0 if wins else 1

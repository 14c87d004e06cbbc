"""`distill run`: the whole demo on the embedded corpus with default sizes: pretrain a
teacher, cache its logits, distil a student, sample from it, and say where it all went."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distill import stages
from distill.config import (
    STUDENT_SCHEDULE,
    TEACHER_SCHEDULE,
    DataConfig,
    PrecomputeConfig,
    TrainConfig,
)
from distill.errors import OutputExistsError

PARTS = ("teacher", "cache", "distill")


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What `distill run` trains: model sizes and optimizer steps per epoch of each stage."""

    teacher_size: str = "small"
    student_size: str = "tiny"
    teacher_steps: int = TEACHER_SCHEDULE.steps_per_epoch
    student_steps: int = STUDENT_SCHEDULE.steps_per_epoch


def run_all(
    *,
    out_dir: Path,
    seed: int,
    device: str,
    quiet: bool,
    echo: Callable[[str], None],
    plan: Plan = Plan(),
) -> dict[str, float]:
    """Run every stage into OUT/{teacher,cache,distill}; returns the headline figures."""
    taken = [p for p in PARTS if (out_dir / p).exists()]
    if taken:
        raise OutputExistsError(f"{out_dir / taken[0]} already exists: choose a new --out")
    start = time.perf_counter()
    data_cfg = DataConfig()
    t = stages.pretrain(
        out_dir=out_dir / "teacher",
        data_paths=(),
        size=plan.teacher_size,
        data_cfg=data_cfg,
        cfg=TrainConfig(
            alpha=0.0,
            seed=seed,
            epochs=TEACHER_SCHEDULE.epochs,
            steps_per_epoch=plan.teacher_steps,
            lr=TEACHER_SCHEDULE.lr,
        ),
        device=device,
        resume=False,
        quiet=quiet,
    )
    echo(f"teacher:  {t.model_dir}  val_loss {t.metadata['epochs'][-1]['val_loss']:.4f}")
    cache = stages.precompute(
        teacher_path=t.model_dir,
        out_dir=out_dir / "cache",
        data_paths=(),
        data_cfg=data_cfg,
        cfg=PrecomputeConfig(),
        device=device,
        quiet=quiet,
    )
    echo(f"cache:    {cache}")
    s = stages.distill(
        cache_path=out_dir / "cache",
        out_dir=out_dir / "distill",
        student_path=None,
        size=plan.student_size,
        cfg=TrainConfig(
            seed=seed,
            epochs=STUDENT_SCHEDULE.epochs,
            steps_per_epoch=plan.student_steps,
            lr=STUDENT_SCHEDULE.lr,
        ),
        device=device,
        resume=False,
        quiet=quiet,
    )
    epochs = s.metadata["epochs"]
    losses = " -> ".join(f"{e['train_loss']:.3f}" for e in epochs)
    echo(
        f"student:  {s.model_dir}  val_loss {epochs[-1]['val_loss']:.4f}  "
        f"(train loss by epoch {losses})"
    )
    echo(f"metadata: {out_dir / 'distill' / 'metadata.json'}")
    sample = stages.generate(
        model_path=s.model_dir,
        prompt="The ",
        max_new_tokens=200,
        temperature=0.8,
        seed=seed,
        device=device,
    )
    echo(f"sample:   {sample!r}")
    wall = time.perf_counter() - start
    echo(f"wall:     {wall:.1f} s")
    return {
        "teacher_val_loss": t.metadata["epochs"][-1]["val_loss"],
        "student_val_loss": epochs[-1]["val_loss"],
        "wall_seconds": wall,
    }

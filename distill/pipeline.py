"""`distill run`: the whole demo on the embedded corpus with default sizes: pretrain a
teacher, cache its logits, distil a student, train the same student from scratch as the
baseline, sample, write the report, and say where it all went."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill import inputs, report, runlock, stages, store
from distill.config import (
    STUDENT_SCHEDULE,
    TEACHER_SCHEDULE,
    DataConfig,
    PrecomputeConfig,
    Schedule,
    TrainConfig,
)
from distill.errors import OutputExistsError
from distill.train import METADATA, Outcome

PARTS = ("teacher", "cache", "distill", "scratch", "report.html", "loss.png", inputs.RUN_STORE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What `distill run` trains: model sizes and optimizer steps per epoch of each stage."""

    teacher_size: str = "small"
    student_size: str = "tiny"
    teacher_steps: int = TEACHER_SCHEDULE.steps_per_epoch
    student_steps: int = STUDENT_SCHEDULE.steps_per_epoch
    data: tuple[Path, ...] = ()  # a prepared store or raw files; () = the embedded corpus
    drift_tolerance: float = TrainConfig().drift_tolerance


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
    stages.check_out_dir(out_dir)
    with runlock.hold(out_dir):  # each stage also locks its own sub-directory
        taken = [p for p in PARTS if (out_dir / p).exists()]
        if taken:
            raise OutputExistsError(f"{out_dir / taken[0]} already exists: choose a new --out")
        report.pyplot()  # refuse a missing matplotlib before minutes of training, not after
        return _stages(out_dir, seed, device, quiet, echo, plan)


def _stages(
    out_dir: Path, seed: int, device: str, quiet: bool, echo: Callable[[str], None], plan: Plan
) -> dict[str, float]:
    start = time.perf_counter()
    if plan.data and not (len(plan.data) == 1 and store.is_store(plan.data[0])):
        # raw files are prepared once, for the teacher and its cache alike
        target = out_dir / inputs.RUN_STORE
        prepared = inputs.ensure_store(
            plan.data, target, tokenizer_dir=None, val_fraction=DataConfig().val_fraction
        )
        plan = dataclasses.replace(plan, data=(prepared,))
        echo(f"data:     {prepared}")
    teacher = _pretrain(
        out_dir / "teacher", seed, plan, plan.teacher_size, TEACHER_SCHEDULE, plan.teacher_steps,
        device=device, quiet=quiet,
    )  # fmt: skip
    echo(f"teacher:  {teacher.model_dir}  val_loss {_val_loss(teacher):.4f}")
    cache = _cache(teacher.model_dir, out_dir / "cache", plan.data, device=device, quiet=quiet)
    echo(f"cache:    {cache}")
    student = _student(
        out_dir / "cache", out_dir / "distill", seed, plan, device=device, quiet=quiet
    )
    epochs = student.metadata["epochs"]
    losses = " -> ".join(f"{e['train_loss']:.3f}" for e in epochs)
    echo(
        f"student:  {student.model_dir}  val_loss {_val_loss(student):.4f}  "
        f"(train loss by epoch {losses})"
    )
    scratch = _pretrain(
        out_dir / "scratch", seed, plan, plan.student_size, STUDENT_SCHEDULE, plan.student_steps,
        device=device, quiet=quiet,
    )  # fmt: skip
    echo(f"scratch:  {scratch.model_dir}  val_loss {_val_loss(scratch):.4f}")
    echo(f"metadata: {out_dir / 'distill' / METADATA}")
    echo(f"sample:   {_sample(student.model_dir, seed, device)!r}")
    _report(out_dir, seed, device, echo, (teacher, student, scratch))
    wall = time.perf_counter() - start
    echo(f"wall:     {wall:.1f} s")
    return {
        "teacher_val_loss": _val_loss(teacher),
        "student_val_loss": _val_loss(student),
        "scratch_val_loss": _val_loss(scratch),
        "wall_seconds": wall,
    }


def _report(
    out_dir: Path,
    seed: int,
    device: str,
    echo: Callable[[str], None],
    runs: tuple[Outcome, Outcome, Outcome],
) -> None:
    """Write report.html and loss.png, then print the comparison and where they are."""
    html, chart = report.write_report([out_dir], out_dir, seed=seed, device=device)
    for line in table(*(_val_loss(r) for r in runs)):
        echo(line)
    echo(f"report:   {html}")
    echo(f"chart:    {chart}")


def table(teacher: float, distilled: float, scratch: float) -> list[str]:
    """The three-row comparison; the margin is what distillation bought over the baseline."""
    return [
        "| run          | val loss | vs from scratch |",
        "|--------------|----------|-----------------|",
        f"| teacher      | {teacher:8.4f} | {teacher - scratch:+15.4f} |",
        f"| distilled    | {distilled:8.4f} | {distilled - scratch:+15.4f} |",
        f"| from scratch | {scratch:8.4f} | {0.0:+15.4f} |",
        f"margin: {scratch - distilled:+.4f} nats/token: {_verdict(scratch - distilled)} "
        "(same student, steps and seed)",
    ]


def _verdict(margin: float) -> str:
    if margin > 0:
        return "distillation beats the same student trained from scratch"
    return "distillation did NOT beat the same student trained from scratch"


def _val_loss(outcome: Outcome) -> float:
    return float(outcome.metadata["epochs"][-1]["val_loss"])


def _pretrain(
    out: Path, seed: int, plan: Plan, size: str, schedule: Schedule, steps: int, **run: Any
) -> Outcome:
    """A model trained from scratch with plain CE on the plan's corpus: the teacher, or the
    baseline (the student's size, initial weights, steps and seed, without the teacher)."""
    cfg = TrainConfig(
        alpha=0.0,
        seed=seed,
        epochs=schedule.epochs,
        steps_per_epoch=steps,
        lr=schedule.lr,
        drift_tolerance=plan.drift_tolerance,
    )
    return stages.pretrain(
        out_dir=out, data_paths=plan.data, size=size, data_cfg=DataConfig(), cfg=cfg,
        resume=False, **run,
    )  # fmt: skip


def _cache(teacher: Path, out: Path, data: tuple[Path, ...], *, device: str, quiet: bool) -> Path:
    """Cache the teacher's logits over the same corpus and windows."""
    return stages.precompute(
        teacher_path=teacher,
        out_dir=out,
        data_paths=data,
        data_cfg=DataConfig(),
        cfg=PrecomputeConfig(),
        device=device,
        quiet=quiet,
    )


def _student(cache: Path, out: Path, seed: int, plan: Plan, *, device: str, quiet: bool) -> Outcome:
    """Distil a fresh student from the cache."""
    cfg = TrainConfig(
        seed=seed,
        epochs=STUDENT_SCHEDULE.epochs,
        steps_per_epoch=plan.student_steps,
        lr=STUDENT_SCHEDULE.lr,
        drift_tolerance=plan.drift_tolerance,
    )
    return stages.distill(
        cache_path=cache,
        out_dir=out,
        student_path=None,
        size=plan.student_size,
        cfg=cfg,
        device=device,
        resume=False,
        quiet=quiet,
    )


def _sample(model_dir: Path, seed: int, device: str) -> str:
    return stages.generate(
        model_path=model_dir,
        prompt="The ",
        max_new_tokens=200,
        temperature=report.SAMPLE_TEMPERATURE,
        seed=seed,
        device=device,
    )

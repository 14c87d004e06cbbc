"""`distill run`: the whole demo on the embedded corpus with default sizes: pretrain a
teacher, cache its logits, distil a student, train the same student from scratch as the
baseline, sample, write the report, and say where it all went."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill import inputs, report, runlock, stages, store
from distill.config import (
    ONPOLICY_SCHEDULE,
    STUDENT_SCHEDULE,
    TEACHER_SCHEDULE,
    DataConfig,
    OnPolicyConfig,
    Plan,
    PrecomputeConfig,
    Schedule,
    TrainConfig,
)
from distill.errors import OutputExistsError
from distill.train import METADATA, Outcome

PARTS = (
    "teacher", "cache", "distill", "onpolicy", "scratch", "report.html", "loss.png",
    inputs.RUN_STORE,
)  # fmt: skip
SCORED_SAMPLES = 64  # samples per model the teacher scores for the on-policy table


def run_all(
    *,
    out_dir: Path,
    seed: int,
    device: str,
    quiet: bool,
    echo: Callable[[str], None],
    plan: Plan | None = None,
) -> dict[str, float]:
    """Run every stage into OUT/{teacher,cache,distill}; returns the headline figures."""
    stages.check_out_dir(out_dir)
    with runlock.hold(out_dir):  # each stage also locks its own sub-directory
        taken = [p for p in PARTS if (out_dir / p).exists()]
        if taken:
            raise OutputExistsError(f"{out_dir / taken[0]} already exists: choose a new --out")
        report.pyplot()  # refuse a missing matplotlib before minutes of training, not after
        return _stages(out_dir, seed, device, quiet, echo, plan or Plan())


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
    rows = {"teacher": teacher, "distilled": student}
    if plan.on_policy:
        online = _on_policy(teacher, student, out_dir / "onpolicy", seed, plan, device, quiet)
        echo(f"onpolicy: {online.model_dir}  val_loss {_val_loss(online):.4f}")
        rows["distilled + on-policy"] = online
    rows["from scratch"] = scratch
    echo(f"metadata: {out_dir / 'distill' / METADATA}")
    echo(f"sample:   {_sample(student.model_dir, seed, device)!r}")
    nll = _scored(rows, teacher, seed, plan, device) if plan.on_policy else None
    _report(out_dir, seed, device, echo, rows, nll)
    wall = time.perf_counter() - start
    echo(f"wall:     {wall:.1f} s")
    figures = {
        "teacher_val_loss": _val_loss(teacher),
        "student_val_loss": _val_loss(student),
        "scratch_val_loss": _val_loss(scratch),
        "wall_seconds": wall,
    }
    if plan.on_policy:
        figures["onpolicy_val_loss"] = _val_loss(rows["distilled + on-policy"])
    return figures


def _on_policy(
    teacher: Outcome, student: Outcome, out: Path, seed: int, plan: Plan, device: str,
    quiet: bool,
) -> Outcome:  # fmt: skip
    """Continue the distilled student on its own samples, scored by the teacher."""
    cfg = TrainConfig(
        seed=seed,
        epochs=ONPOLICY_SCHEDULE.epochs,
        steps_per_epoch=plan.onpolicy_steps,
        lr=ONPOLICY_SCHEDULE.lr,
        divergence="reverse_kl",
        drift_tolerance=min(plan.drift_tolerance, ONPOLICY_SCHEDULE.drift_tolerance),
    )
    return stages.on_policy(
        teacher_path=teacher.model_dir, student_path=student.model_dir, out_dir=out,
        data_paths=plan.data, val_fraction=DataConfig().val_fraction, cfg=cfg,
        policy=OnPolicyConfig(), device=device, resume=False, quiet=quiet,
    )  # fmt: skip


def _scored(
    rows: dict[str, Outcome], teacher: Outcome, seed: int, plan: Plan, device: str
) -> dict[str, float]:
    """The teacher's mean NLL per token of each model's own samples (distill eval)."""
    policy, data = OnPolicyConfig(), DataConfig()

    def score(run: Outcome) -> float:
        found = stages.evaluate(
            model_path=run.model_dir, data_paths=plan.data, teacher_path=teacher.model_dir,
            samples=SCORED_SAMPLES, seed=seed, seq_len=data.seq_len, eval_windows=1,
            prompt_len=policy.prompt_len, gen_len=policy.gen_len,
            val_fraction=data.val_fraction, device=device,
        )  # fmt: skip
        return float(found["teacher_nll_of_samples"])

    return {name: score(run) for name, run in rows.items()}


def _report(
    out_dir: Path,
    seed: int,
    device: str,
    echo: Callable[[str], None],
    rows: dict[str, Outcome],
    nll: dict[str, float] | None,
) -> None:
    """Write report.html and loss.png, then print the comparison and where they are."""
    html, chart = report.write_report([out_dir], out_dir, seed=seed, device=device)
    for line in table({name: _val_loss(run) for name, run in rows.items()}, nll):
        echo(line)
    echo(f"report:   {html}")
    echo(f"chart:    {chart}")


def table(val: dict[str, float], nll: dict[str, float] | None = None) -> list[str]:
    """The comparison, one row per model (teacher, distilled, [distilled + on-policy,] from
    scratch); the margin is what distillation bought over the baseline. With `nll`, the
    teacher's NLL of each model's own samples beside its validation loss."""
    scratch = val["from scratch"]
    width = max(len(name) for name in val)
    extra_head, extra_rule = (" teacher NLL of samples |", "------------------------|")
    head = f"| {'run':{width}} | val loss | vs from scratch |" + (extra_head if nll else "")
    rule = f"|{'-' * (width + 2)}|----------|-----------------|" + (extra_rule if nll else "")
    lines = [head, rule]
    for name, loss in val.items():
        cell = f" {nll[name]:22.4f} |" if nll else ""
        lines.append(f"| {name:{width}} | {loss:8.4f} | {loss - scratch:+15.4f} |{cell}")
    margin = scratch - val["distilled"]
    lines.append(
        f"margin: {margin:+.4f} nats/token: {_verdict(margin)} (same student, steps and seed)"
    )
    return lines


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

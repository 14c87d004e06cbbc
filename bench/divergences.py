"""The demo student's validation loss per divergence: the `distill run` teacher (small) and its
top-k cache on the embedded corpus, then the tiny student distilled with each divergence at
the demo schedule and defaults (alpha 0.9, T 1), 3 seeds. reverse KL needs the bucket tail
against a top-k cache (tail zero would make it infinite), so it runs with --tail bucket, as
does a second forward KL row for the tail policy alone. A table, not a test: no target.

DISTILL_BENCH_STEPS and DISTILL_BENCH_TEACHER_STEPS (default: the demo's steps per epoch)
shorten the student's and the teacher's schedules on a busy machine; the table says which ran.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from bench._common import teacher_cache, write
from distill import stages
from distill.config import (
    STUDENT_SCHEDULE,
    TrainConfig,
)

LONG = True  # a 3-seed table: `make bench-seeds`, not `make bench`
SEEDS = (0, 1, 2)
ROWS = (  # (label, TrainConfig fields)
    ("forward_kl", {"divergence": "forward_kl"}),
    ("forward_kl, tail bucket", {"divergence": "forward_kl", "tail": "bucket"}),
    ("reverse_kl, tail bucket", {"divergence": "reverse_kl", "tail": "bucket"}),
    ("jsd beta=0.5", {"divergence": "jsd", "beta": 0.5}),
    ("skew_kl skew=0.1", {"divergence": "skew_kl", "skew": 0.1}),
    ("tvd", {"divergence": "tvd"}),
)


def _student(root: Path, cache: Path, label: str, fields: dict[str, Any], seed: int) -> float:
    schedule = dataclasses.asdict(STUDENT_SCHEDULE)
    steps = os.environ.get("DISTILL_BENCH_STEPS")
    if steps:
        schedule["steps_per_epoch"] = int(steps)
    cfg = TrainConfig(seed=seed, **schedule, **fields)
    out = stages.distill(
        cache_path=cache, out_dir=root / f"{label.replace(' ', '_')}-{seed}", student_path=None,
        size="tiny", cfg=cfg, device="cpu", resume=False, quiet=True,
    )  # fmt: skip
    return float(out.metadata["epochs"][-1]["val_loss"])


def main() -> int:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        steps = os.environ.get("DISTILL_BENCH_TEACHER_STEPS")
        cache, teacher_loss = teacher_cache(Path(tmp), int(steps) if steps else None)
        table = {
            label: [_student(Path(tmp), cache, label, fields, s) for s in SEEDS]
            for label, fields in ROWS
        }
    steps = {k: os.environ.get(f"DISTILL_BENCH_{k}STEPS", "demo") for k in ("TEACHER_", "")}
    print(
        f"  teacher (small, steps/epoch {steps['TEACHER_']}) val_loss {teacher_loss:.4f}; "
        f"student tiny, steps/epoch {steps['']}, alpha 0.9, T 1"
    )
    print(f"  {'divergence':24} " + " ".join(f"seed {s:<3}" for s in SEEDS) + "    mean    sd")
    for label, losses in table.items():
        cells = " ".join(f"{x:8.4f}" for x in losses)
        print(f"  {label:24} {cells}  {statistics.mean(losses):.4f} {statistics.stdev(losses):.4f}")
    write(
        "divergences",
        {"method": __doc__, "teacher_val_loss": teacher_loss, "seeds": SEEDS, "val_loss": table},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

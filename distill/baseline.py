"""FALSIFY-009's measurement: a student distilled from the teacher against the same student
trained from scratch on the same windows, steps and seed. `python -m distill.baseline`."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from distill import stages
from distill.config import STUDENT_SCHEDULE, DataConfig, TrainConfig


def compare(
    *, cache_dir: Path, out_dir: Path, seeds: list[int], size: str, cfg: TrainConfig
) -> list[dict[str, float]]:
    """Per seed: final val_loss distilled vs from scratch (alpha=0, identical otherwise)."""
    rows = []
    for seed in seeds:
        run_cfg = dataclasses.replace(cfg, seed=seed)
        kd = stages.distill(
            cache_path=cache_dir,
            out_dir=out_dir / f"kd-{seed}",
            student_path=None,
            size=size,
            cfg=run_cfg,
            device="cpu",
            resume=False,
            quiet=True,
        )
        scratch = stages.pretrain(
            out_dir=out_dir / f"scratch-{seed}",
            data_paths=(),
            size=size,
            data_cfg=DataConfig(),
            cfg=dataclasses.replace(run_cfg, alpha=0.0),
            device="cpu",
            resume=False,
            quiet=True,
        )
        rows.append(
            {
                "seed": seed,
                "distilled_val_loss": kd.metadata["epochs"][-1]["val_loss"],
                "scratch_val_loss": scratch.metadata["epochs"][-1]["val_loss"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, required=True, help="a cache on the default corpus")
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alpha", type=float, default=TrainConfig().alpha)
    parser.add_argument("--temperature", type=float, default=TrainConfig().temperature)
    args = parser.parse_args()
    cfg = TrainConfig(
        alpha=args.alpha,
        temperature=args.temperature,
        epochs=STUDENT_SCHEDULE.epochs,
        steps_per_epoch=STUDENT_SCHEDULE.steps_per_epoch,
        lr=STUDENT_SCHEDULE.lr,
    )
    rows = compare(cache_dir=args.cache, out_dir=args.out, seeds=args.seeds, size="tiny", cfg=cfg)
    for row in rows:
        print(json.dumps(row))
    print(
        "distilled beats scratch on every seed:",
        all(r["distilled_val_loss"] < r["scratch_val_loss"] for r in rows),
    )


if __name__ == "__main__":
    main()

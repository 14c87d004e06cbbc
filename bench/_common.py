"""Shared by the engine's benches: one table layout (figure, ratio, target, met) and one JSON
file per bench in bench/results/."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def check(name: str, value: float, target: float, *, at_most: bool) -> dict[str, Any]:
    """One ratio against its target; `at_most` says which side of the target passes."""
    met = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    print(f"  {name:58} {value:9.3f}  target {sign} {target:<6g} {'met' if met else 'NOT MET'}")
    return {"name": name, "value": value, "target": target, "at_most": at_most, "met": met}


def write(bench: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"  wrote {path.relative_to(ROOT)}")
    return path


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Run each function in turn, `repeats` rounds; median CPU and wall seconds per call.

    CPU time (process_time) is the judged figure: the benches run torch on one thread, so
    it is the work done, which other jobs on a shared machine disturb far less than wall.
    """
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    wall: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c, w = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    return {
        k: {"cpu_s": statistics.median(cpu[k]), "wall_s": statistics.median(wall[k])} for k in fns
    }


def spawn_worker(module: str, *args: object) -> dict[str, Any]:
    """`python -m MODULE --worker ARGS...` in its own process (so its peak memory is its own);
    the JSON object its last output line prints."""
    cmd = [sys.executable, "-m", module, "--worker", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def worker_or_main(
    worker: Callable[[str, int, int, int], dict[str, Any]], main: Callable[[], int]
) -> None:
    """The other half of `spawn_worker`: `--worker VARIANT V N REPEATS` runs `worker` and
    prints its JSON object; anything else runs the bench's `main`."""
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        variant, v, n, repeats = sys.argv[2:]
        print(json.dumps(worker(variant, int(v), int(n), int(repeats))))
        sys.exit(0)
    sys.exit(main())


def teacher_cache(root: Path, steps_per_epoch: int | None = None) -> tuple[Path, float]:
    """The demo's teacher (small, its schedule; `steps_per_epoch` to shorten it) pretrained
    into root/teacher, and its logit cache in root/cache: (cache dir, teacher val loss)."""
    import dataclasses

    from distill import stages
    from distill.config import TEACHER_SCHEDULE, DataConfig, PrecomputeConfig, TrainConfig

    schedule = dataclasses.asdict(TEACHER_SCHEDULE)
    if steps_per_epoch is not None:
        schedule["steps_per_epoch"] = steps_per_epoch
    teacher = stages.pretrain(
        out_dir=root / "teacher", data_paths=(), size="small", data_cfg=DataConfig(),
        cfg=TrainConfig(alpha=0.0, **schedule), device="cpu", resume=False, quiet=True,
    )  # fmt: skip
    stages.precompute(
        teacher_path=teacher.model_dir, out_dir=root / "cache", data_paths=(),
        data_cfg=DataConfig(), cfg=PrecomputeConfig(), device="cpu", quiet=True,
    )  # fmt: skip
    return root / "cache", float(teacher.metadata["epochs"][-1]["val_loss"])
